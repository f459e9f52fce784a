//! Decoding a Socket.IO `signal` packet, the relay hot path: the one-pass reader against the
//! two-pass one it replaced. Run with `cargo bench -p free-meetings --bench decode`; it prints
//! nanoseconds per packet and asserts nothing about time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use free_meetings::wire::socketio_packet;

fn packet(pad: usize) -> String {
    let sdp = "a=candidate:1 1 udp 2122260223 192.0.2.10 54321 typ host\\r\\n".repeat(pad / 60 + 1);
    format!(r#"["signal",{{"to":"AAAAAAAAAAAAAAAA","signal":{{"type":"offer","sdp":"{sdp}"}}}}]"#)
}

fn time(label: &str, text: &str, decode: fn(&str) -> bool) {
    let budget = Duration::from_secs(2);
    let start = Instant::now();
    let mut rounds = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            assert!(decode(black_box(text)));
        }
        rounds += 1_000;
    }
    let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
    println!("{label:<10} {:>6} bytes  {ns:>8.0} ns/packet", text.len());
}

fn main() {
    for pad in [100, 3_000] {
        let text = packet(pad);
        time("two-pass", &text, |t| {
            matches!(socketio_packet::decode_in_two_passes(t), Ok(Some(_)))
        });
        time("one-pass", &text, |t| {
            matches!(socketio_packet::decode(t), Ok(Some(_)))
        });
    }
}
