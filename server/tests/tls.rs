//! Protects HTTPS as a user meets it on the command line: the generated certificate is made
//! once and reused (same fingerprint across restarts, key readable by its owner only), a
//! corrupt certificate file is a one-line error naming the file with exit code 2, and bad
//! TLS, ICE and static-dir options are refused up front.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_free-meetings");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fm-tls-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn serve(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--no-mdns",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--media-port",
            "0",
        ])
        .args(args)
        .env_remove("PORT")
        .env_remove("HOST");
    command
}

/// Starts with TLS in `dir`, reads the fingerprint it prints, and stops it.
fn fingerprint_of_a_run(dir: &Path) -> String {
    let mut child = serve(&["--tls-port", "0", "--tls-dir", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let https = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.starts_with("HTTPS on https://"))
        .expect("an HTTPS line");
    child.kill().unwrap();
    let _ = child.wait();
    let fingerprint = https
        .split("certificate SHA-256 ")
        .nth(1)
        .expect("a fingerprint")
        .trim_end_matches(')')
        .to_owned();
    assert_eq!(fingerprint.len(), 95, "{https}");
    fingerprint
}

#[test]
fn the_generated_certificate_is_made_once_and_reused() {
    let dir = temp_dir("reuse");
    let first = fingerprint_of_a_run(&dir);
    let second = fingerprint_of_a_run(&dir);
    assert_eq!(first, second, "a restart keeps the certificate");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is the owner's only");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_certificate_is_a_clear_error_with_exit_code_2() {
    let dir = temp_dir("corrupt");
    fingerprint_of_a_run(&dir);
    std::fs::write(dir.join("cert.pem"), "not a certificate at all\n").unwrap();
    let out = serve(&[
        "--tls",
        "--tls-port",
        "0",
        "--tls-dir",
        dir.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains("cert.pem is corrupt"), "{err}");
    assert!(last.contains("delete it"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_tls_ice_and_static_options_are_refused_with_exit_code_2() {
    let dir = temp_dir("options");
    let missing = dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    for (args, expected) in [
        (vec!["--tls-cert", missing], "--tls-key"),
        (
            vec!["--tls-cert", missing, "--tls-key", missing],
            "missing.pem",
        ),
        (vec!["--ice-server", "http://example"], "invalid ICE server"),
        (vec!["--static-dir", dir.to_str().unwrap()], "no index.html"),
    ] {
        let out = serve(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
