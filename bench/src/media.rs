//! The media scenario: N synthetic participants in one room whose media goes through a server,
//! Free Meetings' forwarder or, for comparison, Janus's videoroom plugin. Each participant is a
//! str0m client that publishes one VP8-framed video at a set bitrate, paced at 30 frames a
//! second; every frame carries its publisher, a sequence number and its send time, so each
//! receiver accounts for every frame of every other publisher (loss) and for the time it took
//! through the server (delay; both ends are this process, so the clocks agree). The server's CPU
//! is read from /proc over the measured window.
//!
//! With Free Meetings a participant has one connection for both directions, negotiated over
//! `/ws` (`sfu-offer`/`sfu-answer`, the server offering again as others' tracks arrive). With
//! Janus it has two, as Janus's own clients do: a publisher connection, and once everyone
//! publishes, one subscriber connection carrying everyone else's video.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::client::{self, Receiver, Sender, Transport};
use crate::janus::Janus;
use crate::proc::{cpu_time, thread_cpu_times};
use crate::stats::{Percentiles, percentiles};

/// Frames a second each publisher sends.
const FPS: u64 = 30;
/// Every publisher sends a keyframe this often, besides when asked.
const KEYFRAME_EVERY: Duration = Duration::from_secs(2);
/// The room the participants meet in (Janus rooms are numbered).
const ROOM: &str = "media-bench";
const JANUS_ROOM: u64 = 4242;

/// Which server the media goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Server {
    /// Free Meetings, started with `--media sfu` (signaling on its `/ws`).
    FreeMeetings,
    /// Janus's videoroom plugin (its WebSocket API, `janus-protocol`).
    Janus,
    /// No server: two participants connected to each other, the baseline that shows what the
    /// generator itself adds to the delay (`--participants 2`).
    Direct,
}

/// One WebRTC connection of a participant, on its own UDP socket.
struct Connection {
    rtc: Rtc,
    socket: UdpSocket,
    addr: SocketAddr,
}

impl Connection {
    /// A connection on a new socket on `ip`.
    async fn new(ip: IpAddr) -> Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let addr = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .build(Instant::now());
        rtc.add_local_candidate(
            Candidate::host(addr, "udp").map_err(|e| anyhow!("candidate: {e}"))?,
        );
        Ok(Self { rtc, socket, addr })
    }

    fn receive(&mut self, contents: &[u8], source: SocketAddr) {
        if let Ok(contents) = contents.try_into() {
            let input = Input::Receive(
                Instant::now(),
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: self.addr,
                    contents,
                },
            );
            let _ = self.rtc.handle_input(input);
        }
    }
}

/// One synthetic participant.
struct Participant {
    index: u32,
    /// Sends our video (and, with Free Meetings, receives everyone else's).
    publisher: Connection,
    video: Mid,
    /// Receives everyone else's video (Janus only).
    subscriber: Option<Connection>,
    /// Free Meetings' signaling, for its renegotiations while the scenario runs.
    signaling: Option<(Sender, Receiver)>,
    /// With `--shown`, the publishers whose videos this participant shows; it asks for every
    /// other one "off" (`sfu-want`) after each renegotiation.
    shows: Option<Vec<u32>>,
    pending: Option<SdpPendingOffer>,
    seq: u32,
    keyframe_wanted: bool,
    last_keyframe: Instant,
}

impl Participant {
    /// A participant whose publishing connection is made; the rest is filled in by how it joins.
    fn new(index: u32, publisher: Connection, video: Mid) -> Self {
        Self {
            index,
            publisher,
            video,
            subscriber: None,
            signaling: None,
            shows: None,
            pending: None,
            seq: 0,
            keyframe_wanted: true,
            last_keyframe: Instant::now(),
        }
    }
}

/// What one participant saw over the measured window.
#[derive(Default)]
struct Tally {
    sent: u64,
    /// Per publisher: (first sequence received, highest received, frames received).
    received: HashMap<u32, (u32, u32, u64)>,
    delays: Vec<Duration>,
    bytes: u64,
}

/// The scenario's clock: one start shared by every participant, so send times written into
/// frames by one task are read by another; the measured window is set once everyone has joined
/// (participants run from their join on, so that their connections stay alive meanwhile).
#[derive(Clone)]
struct Clock {
    start: Instant,
    window: Arc<OnceLock<(Instant, Instant)>>,
    frame_bytes: usize,
}

impl Clock {
    /// When measuring starts and when the scenario ends: far off until everyone has joined.
    fn window(&self) -> (Instant, Instant) {
        self.window.get().copied().unwrap_or_else(|| {
            let far = Instant::now() + Duration::from_secs(86_400);
            (far, far)
        })
    }
}

/// What the scenario measured.
#[derive(Debug, serde::Serialize)]
pub struct MediaResult {
    pub scenario: &'static str,
    pub server: Server,
    pub participants: usize,
    /// Rooms the participants were spread over (participant i in room i mod rooms).
    pub rooms: usize,
    /// Videos each participant shows (receives); the rest it asks not to get. None: all.
    pub shown: Option<usize>,
    pub bitrate_per_publisher: u64,
    pub duration_s: f64,
    pub frames_sent: u64,
    pub frames_received: u64,
    /// Frames that should have arrived (from each receiver's first frame of each publisher on).
    pub frames_expected: u64,
    pub loss: f64,
    /// Send to receive, through the server (and this generator's own handling).
    pub delay: Percentiles,
    pub forwarded_mbps: f64,
    pub server_cpu_percent: f64,
    /// The server's CPU (percent of one core) by thread name, over the measured window.
    pub server_threads_cpu_percent: std::collections::BTreeMap<String, f64>,
    /// Server CPU (percent of one core) per forwarded Mbit/s.
    pub server_cpu_percent_per_mbps: f64,
    pub generator_cpu_percent: f64,
}

/// Runs `participants` publishers at `bitrate` bits/s each, spread over `rooms` rooms, for
/// `duration` after a warm-up.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    server: Server,
    addr: SocketAddr,
    pid: Option<u32>,
    participants: usize,
    rooms: usize,
    shown: Option<usize>,
    bitrate: u64,
    warmup: Duration,
    duration: Duration,
) -> Result<MediaResult> {
    let start = Instant::now();
    let ip = local_ip_towards(addr)?;
    let rooms = rooms.clamp(1, participants.max(1));
    let members = |room: usize| -> Vec<u32> {
        (0..participants as u32)
            .filter(|i| *i as usize % rooms == room)
            .collect()
    };
    let clock = Clock {
        start,
        window: Arc::new(OnceLock::new()),
        frame_bytes: (bitrate / 8 / FPS).max(32) as usize,
    };
    let mut tasks = Vec::new();
    let mut janus = None;
    let all = match server {
        Server::FreeMeetings => {
            for i in 0..participants {
                let room = format!("{ROOM}-{}", i % rooms);
                let mut p = join_free_meetings(addr, ip, &room, i as u32)
                    .await
                    .with_context(|| format!("participant {i}"))?;
                if shown.is_some() {
                    p.shows = Some(shown_by(i as u32, &members(i % rooms), shown));
                }
                tasks.push(tokio::spawn(participate(p, clock.clone())));
            }
            Vec::new()
        }
        Server::Direct => join_directly(ip, participants).await?,
        Server::Janus => {
            let session = Janus::connect(addr).await?;
            let mut all = Vec::new();
            for room in 0..rooms {
                all.extend(
                    join_janus(
                        &session,
                        ip,
                        &members(room),
                        JANUS_ROOM + room as u64,
                        shown,
                    )
                    .await?,
                );
            }
            janus = Some(session); // kept alive (and the session with it) until the end
            all
        }
    };
    let measure_from = Instant::now() + warmup;
    let _ = clock.window.set((measure_from, measure_from + duration));
    tasks.extend(
        all.into_iter()
            .map(|p| tokio::spawn(participate(p, clock.clone()))),
    );
    tokio::time::sleep_until(tokio::time::Instant::from_std(measure_from)).await;
    let server_cpu_start = cpu_time(pid);
    let threads_start = thread_cpu_times(pid);
    let own_cpu_start = cpu_time(Some(std::process::id()));
    let (mut sent, mut bytes, mut delays) = (0u64, 0u64, Vec::new());
    let (mut received, mut expected) = (0u64, 0u64);
    for task in tasks {
        let one = task.await??;
        sent += one.sent;
        bytes += one.bytes;
        delays.extend(one.delays);
        for &(first, last, count) in one.received.values() {
            received += count;
            expected += u64::from(last - first) + 1;
        }
    }
    drop(janus);
    let seconds = duration.as_secs_f64();
    let server_cpu = cpu_time(pid).saturating_sub(server_cpu_start).as_secs_f64() / seconds * 100.0;
    let server_threads_cpu_percent = thread_cpu_times(pid)
        .into_iter()
        .map(|(name, used)| {
            let before = threads_start.get(&name).copied().unwrap_or_default();
            (
                name,
                used.saturating_sub(before).as_secs_f64() / seconds * 100.0,
            )
        })
        .filter(|(_, percent)| *percent >= 0.5)
        .collect();
    let own_cpu = cpu_time(Some(std::process::id()))
        .saturating_sub(own_cpu_start)
        .as_secs_f64()
        / seconds
        * 100.0;
    let forwarded_mbps = bytes as f64 * 8.0 / seconds / 1e6;
    Ok(MediaResult {
        scenario: "media",
        server,
        participants,
        rooms,
        shown,
        bitrate_per_publisher: bitrate,
        duration_s: seconds,
        frames_sent: sent,
        frames_received: received,
        frames_expected: expected,
        loss: if expected == 0 {
            1.0
        } else {
            1.0 - received as f64 / expected as f64
        },
        delay: percentiles(&mut delays),
        forwarded_mbps,
        server_cpu_percent: server_cpu,
        server_threads_cpu_percent,
        server_cpu_percent_per_mbps: if forwarded_mbps > 0.0 {
            server_cpu / forwarded_mbps
        } else {
            0.0
        },
        generator_cpu_percent: own_cpu,
    })
}

/// This machine's address on the way to `server`: where the participants' sockets are, so that
/// the server (which may be in a network namespace, as Janus must be: it offers no loopback
/// candidates) can reach them.
fn local_ip_towards(server: SocketAddr) -> Result<IpAddr> {
    let probe = std::net::UdpSocket::bind(SocketAddr::new(
        if server.is_ipv4() {
            IpAddr::from([0, 0, 0, 0])
        } else {
            IpAddr::from([0u16; 8])
        },
        0,
    ))?;
    probe.connect(server)?;
    Ok(probe.local_addr()?.ip())
}

/// A publisher connection with its video track, and its offer.
async fn publisher(ip: IpAddr, index: u32) -> Result<(Connection, Mid, SdpOffer, SdpPendingOffer)> {
    let mut publisher = Connection::new(ip).await?;
    let mut change = publisher.rtc.sdp_api();
    let video = change.add_media(
        MediaKind::Video,
        Direction::SendOnly,
        Some(format!("bench{index}")),
        None,
        None,
    );
    let (offer, pending) = change.apply().ok_or_else(|| anyhow!("no offer"))?;
    Ok((publisher, video, offer, pending))
}

/// Connects one participant to Free Meetings, joins the room and sends its first offer.
async fn join_free_meetings(
    server: SocketAddr,
    ip: IpAddr,
    room: &str,
    index: u32,
) -> Result<Participant> {
    let (signaling, mut events, _id) = client::connect(server, ip, Transport::Ws).await?;
    signaling.emit(
        "join-room",
        &json!({"roomId": room, "userName": format!("p{index}"), "sfu": true}),
    )?;
    let mode = events.expect("media-mode").await?;
    if mode["mode"] != "sfu" {
        bail!("the room is not going through the server (start it with --media sfu): {mode}");
    }
    let (publisher, video, offer, pending) = publisher(ip, index).await?;
    signaling.emit("sfu-offer", &json!({"sdp": offer.to_sdp_string()}))?;
    Ok(Participant {
        signaling: Some((signaling, events)),
        pending: Some(pending),
        ..Participant::new(index, publisher, video)
    })
}

/// The participants `indices` publish in a new Janus videoroom `room`, then each subscribes
/// to everyone else there.
async fn join_janus(
    janus: &Janus,
    ip: IpAddr,
    indices: &[u32],
    room: u64,
    shown: Option<usize>,
) -> Result<Vec<Participant>> {
    let participants = indices.len();
    let admin = janus.attach().await?;
    let _ = janus
        .message(admin, json!({"request": "destroy", "room": room}), None)
        .await;
    janus
        .message(
            admin,
            json!({
                "request": "create", "room": room, "publishers": participants + 1,
                "bitrate": 0, "fir_freq": 0, "videocodec": "vp8", "audiocodec": "opus",
            }),
            None,
        )
        .await?;
    let mut all = Vec::new();
    let mut feeds = Vec::new();
    for &index in indices {
        let handle = janus.attach().await?;
        let (joined, _) = janus
            .message(
                handle,
                json!({"request": "join", "ptype": "publisher", "room": room,
                       "display": format!("p{index}")}),
                None,
            )
            .await?;
        let feed = joined["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("no publisher id in {joined}"))?;
        let (mut publisher, video, offer, pending) = publisher(ip, index).await?;
        let (_, answer) = janus
            .message(
                handle,
                json!({"request": "publish"}),
                Some(("offer", offer.to_sdp_string())),
            )
            .await?;
        janus.candidates_done(handle);
        let answer = answer.ok_or_else(|| anyhow!("Janus did not answer publisher {index}"))?;
        publisher
            .rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer)?)?;
        feeds.push((index, feed));
        all.push(Participant::new(index, publisher, video));
    }
    // Janus offers a feed to subscribers once its publisher's connection is up.
    let mut publishers: Vec<&mut Connection> = all.iter_mut().map(|p| &mut p.publisher).collect();
    handshake(&mut publishers).await?;
    for p in &mut all {
        let handle = janus.attach().await?;
        let seen = shown_by(p.index, indices, shown);
        let streams: Vec<Value> = feeds
            .iter()
            .filter(|(other, _)| seen.contains(other))
            .map(|(_, feed)| json!({"feed": feed}))
            .collect();
        let (_, offer) = janus
            .message(
                handle,
                json!({"request": "join", "ptype": "subscriber", "room": room,
                       "streams": streams}),
                None,
            )
            .await?;
        let offer = offer.ok_or_else(|| anyhow!("Janus offered nothing to subscriber"))?;
        let mut subscriber = Connection::new(ip).await?;
        let answer = subscriber
            .rtc
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(&offer)?)?;
        janus
            .message(
                handle,
                json!({"request": "start"}),
                Some(("answer", answer.to_sdp_string())),
            )
            .await?;
        janus.candidates_done(handle);
        p.subscriber = Some(subscriber);
    }
    Ok(all)
}

/// Two participants, each publishing straight to the other's receiving connection.
async fn join_directly(ip: IpAddr, participants: usize) -> Result<Vec<Participant>> {
    if participants != 2 {
        bail!("--through direct connects exactly two participants (--participants 2)");
    }
    let mut all = Vec::new();
    let mut offers = Vec::new();
    for index in 0..2 {
        let (publisher, video, offer, pending) = publisher(ip, index).await?;
        offers.push(offer);
        all.push(Participant {
            pending: Some(pending),
            ..Participant::new(index, publisher, video)
        });
    }
    for (index, offer) in offers.into_iter().enumerate() {
        let mut subscriber = Connection::new(ip).await?;
        let answer = subscriber.rtc.sdp_api().accept_offer(offer)?;
        let other = &mut all[1 - index];
        other.subscriber = Some(subscriber);
        let publisher = &mut all[index];
        let pending = publisher
            .pending
            .take()
            .ok_or_else(|| anyhow!("no pending offer"))?;
        publisher
            .publisher
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)?;
    }
    Ok(all)
}

/// Drives connections until each is connected (at most ten seconds), before any media.
async fn handshake(conns: &mut [&mut Connection]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 2048];
    while !conns.iter().all(|c| c.rtc.is_connected()) {
        if Instant::now() >= deadline {
            bail!("the connections to Janus did not come up within ten seconds");
        }
        for conn in conns.iter_mut() {
            while let Ok((len, source)) = conn.socket.try_recv_from(&mut buf) {
                conn.receive(&buf[..len], source);
            }
            let _ = conn.rtc.handle_input(Input::Timeout(Instant::now()));
            loop {
                match conn.rtc.poll_output()? {
                    Output::Transmit(t) => {
                        let _ = conn.socket.try_send_to(&t.contents, t.destination);
                    }
                    Output::Timeout(_) => break,
                    Output::Event(_) => {}
                }
            }
        }
        // Setup only, bounded above: a short poll keeps this simple for a handful of sockets.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// One participant's life: publish paced frames, account for everyone else's, until the end.
async fn participate(mut p: Participant, clock: Clock) -> Result<Tally> {
    let frame_gap = Duration::from_micros(1_000_000 / FPS);
    // Spread publishers over the frame interval, as real cameras are not in phase.
    let mut next_frame = Instant::now() + frame_gap * (p.index % 16) / 16;
    let (mut buf, mut buf2) = (vec![0u8; 2048], vec![0u8; 2048]);
    let mut tally = Tally::default();
    let mut measuring = false;
    loop {
        let now = Instant::now();
        let (measure_from, until) = clock.window();
        if now >= until {
            break;
        }
        if !measuring && now >= measure_from {
            measuring = true;
            tally = Tally::default();
        }
        let mut next = drain(
            &mut p.publisher,
            p.index,
            &clock,
            &mut tally,
            &mut p.keyframe_wanted,
        )?;
        if let Some(subscriber) = &mut p.subscriber {
            let mut ignored = false;
            next = next.min(drain(
                subscriber,
                p.index,
                &clock,
                &mut tally,
                &mut ignored,
            )?);
        }
        if now >= next_frame {
            next_frame += frame_gap;
            if p.publisher.rtc.is_connected() {
                publish(&mut p, &clock, now, &mut tally);
            }
            continue;
        }
        let wake = next.min(next_frame);
        let subscriber_datagram = async {
            match &p.subscriber {
                Some(s) => s.socket.recv_from(&mut buf2).await,
                None => std::future::pending().await,
            }
        };
        let event = async {
            match &mut p.signaling {
                Some((_, events)) => events.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = event => {
                let Some((name, data)) = event else { bail!("signaling closed") };
                signaling(&mut p, &name, &data)?;
            }
            received = p.publisher.socket.recv_from(&mut buf) => {
                if let Ok((len, source)) = received {
                    p.publisher.receive(&buf[..len], source);
                }
            }
            received = subscriber_datagram => {
                if let (Ok((len, source)), Some(s)) = (received, &mut p.subscriber) {
                    s.receive(&buf2[..len], source);
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                let now = Instant::now();
                let _ = p.publisher.rtc.handle_input(Input::Timeout(now));
                if let Some(s) = &mut p.subscriber {
                    let _ = s.rtc.handle_input(Input::Timeout(now));
                }
            }
        }
    }
    if let Some((signaling, _)) = &p.signaling {
        signaling.close();
    }
    Ok(tally)
}

/// Sends what a connection sends and accounts for the frames it received; returns when it
/// next needs time.
fn drain(
    conn: &mut Connection,
    index: u32,
    clock: &Clock,
    tally: &mut Tally,
    keyframe_wanted: &mut bool,
) -> Result<Instant> {
    loop {
        match conn.rtc.poll_output() {
            Ok(Output::Timeout(at)) => return Ok(at),
            Ok(Output::Transmit(t)) => {
                let _ = conn.socket.try_send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(Event::MediaData(data))) => {
                let Some((origin, seq, sent_at)) = read_frame(&data.data) else {
                    continue;
                };
                if origin == index {
                    continue;
                }
                let entry = tally.received.entry(origin).or_insert((seq, seq, 0));
                entry.0 = entry.0.min(seq);
                entry.1 = entry.1.max(seq);
                entry.2 += 1;
                tally.bytes += data.data.len() as u64;
                tally
                    .delays
                    .push(clock.start.elapsed().saturating_sub(sent_at));
            }
            Ok(Output::Event(Event::KeyframeRequest(_))) => *keyframe_wanted = true,
            Ok(Output::Event(_)) => {}
            Err(error) => bail!("participant {index}: {error}"),
        }
    }
}

/// Writes this participant's next frame.
fn publish(p: &mut Participant, clock: &Clock, now: Instant, tally: &mut Tally) {
    let keyframe = p.keyframe_wanted || p.last_keyframe.elapsed() >= KEYFRAME_EVERY;
    let frame = make_frame(
        p.index,
        p.seq,
        clock.start.elapsed(),
        keyframe,
        clock.frame_bytes,
    );
    let Some(writer) = p.publisher.rtc.writer(p.video) else {
        return;
    };
    let Some(pt) = writer
        .payload_params()
        .find(|param| param.spec().codec == Codec::Vp8)
        .map(|param| param.pt())
    else {
        return;
    };
    let time = MediaTime::from_90khz(u64::from(p.seq) * 90_000 / FPS);
    if writer.write(pt, now, time, frame).is_ok() {
        if keyframe {
            p.keyframe_wanted = false;
            p.last_keyframe = now;
        }
        p.seq += 1;
        tally.sent += 1;
    }
}

/// Free Meetings' offers and answers.
fn signaling(p: &mut Participant, name: &str, data: &Value) -> Result<()> {
    let sdp = data["sdp"].as_str().unwrap_or_default();
    match name {
        "sfu-answer" => {
            if let Some(pending) = p.pending.take() {
                let answer = SdpAnswer::from_sdp_string(sdp)?;
                p.publisher.rtc.sdp_api().accept_answer(pending, answer)?;
            }
        }
        "sfu-offer" => {
            let offer = SdpOffer::from_sdp_string(sdp)?;
            let answer = p.publisher.rtc.sdp_api().accept_offer(offer)?;
            if let Some((signaling, _)) = &p.signaling {
                signaling.emit("sfu-answer", &json!({"sdp": answer.to_sdp_string()}))?;
                // Wants count only for streams the page receives: said again as they arrive.
                // The server names each stream it forwards `<sender's id><sender's stream id>`.
                if let Some(shows) = &p.shows {
                    let streams: serde_json::Map<String, Value> = sdp
                        .lines()
                        .filter_map(|l| l.strip_prefix("a=msid:")?.split_whitespace().next())
                        .filter_map(|stream| {
                            let index: u32 = stream.rsplit_once("bench")?.1.parse().ok()?;
                            let want = if shows.contains(&index) {
                                "high"
                            } else {
                                "off"
                            };
                            Some((stream.to_owned(), json!(want)))
                        })
                        .collect();
                    signaling.emit("sfu-want", &json!({ "streams": streams }))?;
                }
            }
        }
        "sfu-failed" | "error" => bail!("server said {name}: {data}"),
        _ => {}
    }
    Ok(())
}

/// The publishers `index` shows among `members` of its room: the `shown` next ones after it
/// (all others when None), so that every publisher is shown by as many receivers.
fn shown_by(index: u32, members: &[u32], shown: Option<usize>) -> Vec<u32> {
    let others = members.len().saturating_sub(1);
    let count = shown.unwrap_or(others).min(others);
    let at = members.iter().position(|m| *m == index).unwrap_or(0);
    (1..=count)
        .map(|step| members[(at + step) % members.len()])
        .collect()
}

/// A frame: a VP8 frame tag (bit 0 clear on a keyframe), then publisher, sequence and send time,
/// then padding to the size that makes the bitrate.
fn make_frame(origin: u32, seq: u32, sent_at: Duration, keyframe: bool, size: usize) -> Vec<u8> {
    let mut frame = Vec::with_capacity(size);
    frame.push(if keyframe { 0x10 } else { 0x11 });
    frame.extend_from_slice(&[0x2a, 0x00, 0x9d, 0x01, 0x2a]);
    frame.extend_from_slice(&origin.to_be_bytes());
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.extend_from_slice(&(sent_at.as_nanos() as u64).to_be_bytes());
    frame.resize(size, 0x55);
    frame
}

fn read_frame(data: &[u8]) -> Option<(u32, u32, Duration)> {
    let origin = u32::from_be_bytes(data.get(6..10)?.try_into().ok()?);
    let seq = u32::from_be_bytes(data.get(10..14)?.try_into().ok()?);
    let nanos = u64::from_be_bytes(data.get(14..22)?.try_into().ok()?);
    Some((origin, seq, Duration::from_nanos(nanos)))
}
