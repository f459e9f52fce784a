//! Protects the `free-meetings serve` command line as a user meets it: `--help`, one-line
//! errors with exit code 2, `.env`, `/health`, and a clean exit 0 on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TIMEOUT;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_free-meetings");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("PORT")
        .env_remove("HOST")
        .env_remove("CLIENT_ORIGIN")
        .output()
        .expect("binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

/// Starts `serve` on a free port in `dir`; returns the child and the URL it printed.
fn spawn_server(dir: &PathBuf, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--no-mdns", "--media-port", "0"])
        .args(args)
        .current_dir(dir)
        .env_remove("PORT")
        .env_remove("HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fm-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_explains_every_option() {
    let out = run(&["serve", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--config",
        "--log-format",
        "--port",
        "[env: FREE_MEETINGS_PORT=]",
        "or PORT",
        "--bind",
        "[env: FREE_MEETINGS_BIND=]",
        "or HOST",
        "--allowed-origin",
        "[env: FREE_MEETINGS_ALLOWED_ORIGIN=]",
        "or CLIENT_ORIGIN",
        "--max-peers-per-room",
        "--max-connections",
        "--ping-interval",
        "--ping-timeout",
        "--max-signal-size",
        "--max-message-size",
        "--event-rate",
        "--event-burst",
        "--peer-queue",
        "--no-mdns",
        "--name",
        "--mdns-hostname",
        "--media-threads",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[test]
fn discover_help_explains_its_options() {
    let out = run(&["discover", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--timeout") && help.contains("--json"),
        "{help}"
    );
    let bad = run(&["discover", "--timeout", "-1"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_busy_port_is_a_one_line_error_with_exit_code_2() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&[
        "serve",
        "--no-mdns",
        "--media-port",
        "0",
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("port {port} is already in use")),
        "{err}"
    );
}

#[test]
fn bad_addresses_and_values_are_one_line_errors_with_exit_code_2() {
    let long_name = "x".repeat(64);
    for (args, expected) in [
        (
            vec!["--bind", "192.0.2.1"],
            "does not belong to this machine",
        ),
        (vec!["--port", "70000"], "--port"),
        (vec!["--ping-interval", "5 parsecs"], "--ping-interval"),
        (vec!["--ping-timeout", "0s"], "more than zero"),
        (vec!["--max-signal-size", "lots"], "--max-signal-size"),
        (vec!["--max-peers-per-room", "0"], "--max-peers-per-room"),
        (
            vec!["--allowed-origin", "localhost:3000"],
            "invalid origin 'localhost:3000'",
        ),
        (vec!["--no-such-option"], "--no-such-option"),
        (
            vec!["--mdns-hostname", "meet room"],
            "not a usable .local name",
        ),
        (vec!["--name", &long_name], "(--name)"),
        (vec!["--media-threads", "0"], "--media-threads"),
    ] {
        let mut full = vec!["serve", "--no-mdns", "--port", "0", "--media-port", "0"];
        full.extend(&args);
        let out = run(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn the_env_file_in_the_working_directory_is_read() {
    let dir = temp_dir("dotenv");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.join(".env"), format!("PORT={port}\nHOST=127.0.0.1\n")).unwrap();
    let (mut child, url) = spawn_server(&dir, &[]);
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn sigterm_disconnects_peers_and_exits_0_within_5_seconds() {
    let dir = temp_dir("sigterm");
    let (mut child, url) = spawn_server(&dir, &["--bind", "127.0.0.1", "--port", "0"]);
    let health: serde_json::Value = {
        let addr = url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap()
    };
    assert_eq!(health["status"], "ok");
    assert_eq!(health["peers"], 0);

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/ws", url.replace("http", "ws")))
        .await
        .unwrap();
    ws.next().await.unwrap().unwrap(); // the welcome: the peer is registered
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let closed = tokio::time::timeout(TIMEOUT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the peer was not disconnected");
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(code, Some(0));
}
