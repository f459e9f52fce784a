//! Keeps the load generator from rotting: every scenario runs tiny (a few peers, about a second)
//! against an in-process server on both transports. No timing is asserted, only that the
//! scenarios complete and count what they should.

use std::time::Duration;

use free_meetings::ServerConfig;
use free_meetings_bench::client::Transport;
use free_meetings_bench::scenarios::{self, Placement, Target};

async fn target(transport: Transport) -> (free_meetings::RunningServer, Target) {
    let config = ServerConfig {
        bind: "127.0.0.1".into(),
        port: 0,
        mdns: false,
        // Tests run side by side: none shares the user's private meetings.
        meetings_file: None,
        ..ServerConfig::default()
    };
    let server = free_meetings::start(config).await.expect("server starts");
    let target = Target {
        server: server.local_addr(),
        more_nodes: Vec::new(),
        placement: Placement::Cross,
        pid: Some(std::process::id()),
        transport,
        sources: 2,
    };
    (server, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_on_both_transports() {
    let second = Duration::from_secs(1);
    for transport in [Transport::Sio, Transport::Ws] {
        let (server, target) = target(transport).await;
        let idle = scenarios::idle(&target, 8, second).await.expect("idle");
        assert_eq!(idle["survived"], 8, "{idle}");
        let relay = scenarios::relay(&target, 8, 5.0, 100, second)
            .await
            .expect("relay");
        assert!(relay["delivered"].as_u64() > Some(0), "{relay}");
        assert_eq!(relay["lost"], 0, "{relay}");
        let flood = scenarios::flood(&target, 2, 4, second)
            .await
            .expect("flood");
        assert!(flood["relayed"].as_u64() > Some(0), "{flood}");
        let churn = scenarios::churn(&target, 2, 2, second)
            .await
            .expect("churn");
        assert!(churn["joins"].as_u64() > Some(0), "{churn}");
        assert_eq!(churn["errors"], 0, "{churn}");
        server.shutdown().await;
    }
}
