//! The desktop app. Until the tray shell lands it runs the embedded server with defaults,
//! headless; all signaling lives in the `free-meetings` library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = free_meetings::start(free_meetings::ServerConfig::default()).await?;
    println!("Free Meetings listening on http://{}", server.local_addr());
    server
        .run_until(async { tokio::signal::ctrl_c().await.unwrap_or(()) })
        .await;
    Ok(())
}
