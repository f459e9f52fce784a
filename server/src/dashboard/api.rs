//! The read-only dashboard API: status, rooms, a server-sent event stream, and a QR code.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior, interval};

use super::DashboardState;
use super::view::Snapshot;
use crate::discovery::{FoundServer, MdnsState, MdnsStatus, lan_addrs, url};
use crate::hub::Hub;
use crate::meeting::{MeetingConfig, invitation_link, new_room_name};
use crate::rooms::InviteError;

/// `/api/status`: how to reach this server and whether it is announced.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    version: &'static str,
    port: u16,
    /// LAN URLs by address.
    urls: Vec<String>,
    /// URLs by `.local` name, when announced.
    local_names: Vec<String>,
    /// The meeting page over HTTPS, by `.local` name and by address, when TLS is on.
    https_urls: Vec<String>,
    /// The certificate's SHA-256 fingerprint, when TLS is on.
    fingerprint: Option<String>,
    /// The link to share: HTTPS when on (other machines need it for the camera), by `.local`
    /// name if any, else the first LAN URL, else loopback.
    pub meeting_link: String,
    mdns: MdnsStatus,
    /// Other Free Meetings servers seen on the LAN.
    others: Vec<FoundServer>,
}

fn status_of(state: &DashboardState) -> Status {
    collect_status(state.listen, &state.mdns, &state.meeting)
}

/// How a server listening on `listen` can be reached right now.
pub fn collect_status(
    listen: SocketAddr,
    mdns_state: &MdnsState,
    meeting: &MeetingConfig,
) -> Status {
    let port = listen.port();
    let addrs = lan_addrs(listen);
    let mdns = mdns_state.get();
    let names: &[String] = if mdns.enabled { &mdns.hostnames } else { &[] };
    let by_name = |scheme: &str, port: u16| -> Vec<String> {
        names
            .iter()
            .map(|h| format!("{scheme}://{h}:{port}"))
            .collect()
    };
    let by_address = |scheme: &str, port: u16| -> Vec<String> {
        addrs.iter().map(|&a| url(scheme, a, port)).collect()
    };
    let urls = by_address("http", port);
    let local_names = by_name("http", port);
    let https_urls: Vec<String> = match meeting.https_port {
        Some(tls_port) => [by_name("https", tls_port), by_address("https", tls_port)].concat(),
        None => Vec::new(),
    };
    // One rule under either scheme: the `.local` name given last (the alias, if any), else the
    // first address; HTTPS first when on, since other machines need it for the camera.
    let link = |scheme: &str, port: u16| {
        let by_name = names.last().map(|h| format!("{scheme}://{h}:{port}"));
        by_name.or_else(|| addrs.first().map(|&a| url(scheme, a, port)))
    };
    let meeting_link = meeting
        .https_port
        .and_then(|tls_port| link("https", tls_port))
        .or_else(|| link("http", port))
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    Status {
        version: env!("CARGO_PKG_VERSION"),
        port,
        urls,
        local_names,
        https_urls,
        fingerprint: meeting.fingerprint.as_ref().map(|c| c.get().fingerprint),
        meeting_link,
        others: mdns_state.others(),
        mdns,
    }
}

/// `GET /api/status`.
pub async fn status(State(state): State<DashboardState>) -> Json<Status> {
    Json(status_of(&state))
}

/// `GET /api/rooms`.
pub async fn rooms(State(state): State<DashboardState>) -> Json<Snapshot> {
    let link_base = status_of(&state).meeting_link;
    Json(Snapshot::of(&state.hub, &link_base, state.media.as_ref()))
}

/// A room nobody uses yet, and its link.
/// A private meeting just made: its guest link (to share) and its host link (to keep).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMeeting {
    pub room: String,
    /// The link to invite people with: it opens the meeting as a guest.
    pub link: String,
    /// The link that opens it as its host; not to be shared.
    pub host_link: String,
}

impl NewMeeting {
    /// A fresh private meeting on `hub`, with links on the server reached at `link_base`.
    pub async fn create(hub: &Hub, link_base: &str) -> Result<Self, InviteError> {
        let (room, keys) = hub.make_meeting(new_room_name).await?;
        let link = invitation_link(link_base, &room, &keys.guest, None);
        let host_link = invitation_link(link_base, &room, &keys.guest, Some(&keys.host));
        Ok(Self {
            room: room.as_str().to_owned(),
            link,
            host_link,
        })
    }
}

/// `GET /api/new-meeting`: a fresh private meeting and its links, for the window's New meeting.
pub async fn new_meeting(State(state): State<DashboardState>) -> Response {
    match NewMeeting::create(&state.hub, &status_of(&state).meeting_link).await {
        Ok(meeting) => Json(meeting).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": error.to_string() })),
        )
            .into_response(),
    }
}

/// `GET /api/events`: `snapshot` on every change of who is where, `rate` every second
/// (signals relayed per second), `status` whenever the reachability status changes.
pub async fn events(
    State(state): State<DashboardState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut ticks = interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let link_base = status_of(&state).meeting_link;
    let feed = Feed {
        closing: state.closing.clone(),
        roster: state.hub.roster_changes(),
        relayed: state.hub.metrics().relayed_total(),
        last_status: None,
        pending: VecDeque::from([snapshot_event(&state, &link_base)]),
        link_base,
        ticks,
        state,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

struct Feed {
    state: DashboardState,
    closing: watch::Receiver<bool>,
    roster: watch::Receiver<u64>,
    relayed: u64,
    last_status: Option<Status>,
    /// The meeting link rooms' links start with, as of the last status.
    link_base: String,
    pending: VecDeque<Event>,
    ticks: Interval,
}

impl Feed {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if *self.closing.borrow() {
                return None;
            }
            tokio::select! {
                _ = self.closing.changed() => return None,
                changed = self.roster.changed() => {
                    changed.ok()?;
                    self.pending.push_back(snapshot_event(&self.state, &self.link_base));
                }
                _ = self.ticks.tick() => {
                    let relayed = self.state.hub.metrics().relayed_total();
                    let rate = Rate { per_second: relayed.saturating_sub(self.relayed), relayed };
                    self.relayed = relayed;
                    self.pending.push_back(json_event("rate", &rate));
                    let status = status_of(&self.state);
                    if self.last_status.as_ref() != Some(&status) {
                        self.link_base.clone_from(&status.meeting_link);
                        self.pending.push_back(json_event("status", &status));
                        self.last_status = Some(status);
                    }
                }
            }
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rate {
    per_second: u64,
    relayed: u64,
}

fn snapshot_event(state: &DashboardState, link_base: &str) -> Event {
    let snapshot = Snapshot::of(&state.hub, link_base, state.media.as_ref());
    json_event("snapshot", &snapshot)
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_else(|_| "null".into()))
}

/// Query of `/api/qr.svg`.
#[derive(Deserialize)]
pub struct QrQuery {
    text: String,
}

/// `GET /api/qr.svg?text=...`: a QR code, so phones can open the meeting link.
pub async fn qr(Query(query): Query<QrQuery>) -> Response {
    if query.text.len() > 512 {
        return (StatusCode::BAD_REQUEST, "text is limited to 512 bytes\n").into_response();
    }
    match qrcode::QrCode::new(query.text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(180, 180)
                .quiet_zone(true)
                .build();
            ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
        }
        Err(error) => {
            (StatusCode::BAD_REQUEST, format!("cannot encode: {error}\n")).into_response()
        }
    }
}
