//! The built-in meeting page at `/` (and `/r/<room>` links), its config at `/api/meeting`, or
//! another front-end build from `--static-dir`. Every asset is embedded: no CDN, works offline.

use std::path::PathBuf;
use std::sync::Arc;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::embedded::{asset, from_table};
use crate::hub::Hub;
use crate::origin::OriginPolicy;
use crate::rooms::{RateLimit, TokenBucket};
use crate::tls::ServedCertificate;
use crate::wire::{RoomId, RoomKey};

const INDEX_HTML: &str = include_str!("../../ui/meet/index.html");
/// The meeting page's ES modules (ui/meet/*.js), loaded by the browser from `/meet/<file>`
/// without a build step; `main.js` is the entry point.
const MEET_MODULES: [(&str, &str); 15] = [
    ("main.js", include_str!("../../ui/meet/main.js")),
    ("state.js", include_str!("../../ui/meet/state.js")),
    ("notice.js", include_str!("../../ui/meet/notice.js")),
    ("links.js", include_str!("../../ui/meet/links.js")),
    ("devices.js", include_str!("../../ui/meet/devices.js")),
    ("controls.js", include_str!("../../ui/meet/controls.js")),
    ("tiles.js", include_str!("../../ui/meet/tiles.js")),
    ("host.js", include_str!("../../ui/meet/host.js")),
    ("speaking.js", include_str!("../../ui/meet/speaking.js")),
    (
        "link-quality.js",
        include_str!("../../ui/meet/link-quality.js"),
    ),
    ("mesh.js", include_str!("../../ui/meet/mesh.js")),
    ("sfu.js", include_str!("../../ui/meet/sfu.js")),
    ("chat.js", include_str!("../../ui/meet/chat.js")),
    ("signaling.js", include_str!("../../ui/meet/signaling.js")),
    ("test-hook.js", include_str!("../../ui/meet/test-hook.js")),
];

/// `/meet/<module>.js`: one of the page's modules, or 404.
async fn meet_module(Path(file): Path<String>) -> Response {
    from_table(&MEET_MODULES, &file, "text/javascript; charset=utf-8")
}
const MEET_CSS: &str = include_str!("../../ui/meet/meet.css");
/// socket.io-client's browser bundle, vendored from npm (MIT; version in its header).
const SOCKET_IO_JS: &str = include_str!("../../ui/meet/vendor/socket.io.min.js");
const I18N_JS: &str = include_str!("../../ui/i18n/i18n.js");

/// `/i18n/<code>.json` and `/i18n/i18n.js`, for the meeting page and the dashboard alike.
async fn i18n_file(Path(file): Path<String>) -> Response {
    if file == "i18n.js" {
        return asset(I18N_JS, "text/javascript; charset=utf-8").into_response();
    }
    let code = file.strip_suffix(".json").unwrap_or_default();
    from_table(&crate::catalogue::CATALOGUES, code, "application/json")
}

/// A STUN or TURN server handed to the page, as `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`...
    pub urls: String,
    /// TURN user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// An `--ice-server` value that is not a STUN or TURN URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid ICE server '{0}': expected stun:HOST[:PORT], turn:HOST[:PORT] or turn:USER:PASSWORD@HOST[:PORT] (also stuns:, turns:)"
)]
pub struct BadIceServer(pub String);

impl IceServer {
    /// Parses `stun:host[:port]`, `turn[s]:[user:password@]host[:port][?transport=...]`.
    pub fn parse(text: &str) -> Result<Self, BadIceServer> {
        let bad = || BadIceServer(text.to_owned());
        let (scheme, rest) = text.split_once(':').ok_or_else(bad)?;
        if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") || rest.is_empty() {
            return Err(bad());
        }
        let (credentials, host) = match rest.rsplit_once('@') {
            Some((credentials, host)) => (Some(credentials), host),
            None => (None, rest),
        };
        if host.is_empty() || host.contains('/') || host.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (username, credential) = match credentials {
            None => (None, None),
            Some(_) if scheme.starts_with("stun") => return Err(bad()),
            Some(credentials) => {
                let (user, password) = credentials.split_once(':').ok_or_else(bad)?;
                (Some(user.to_owned()), Some(password.to_owned()))
            }
        };
        Ok(Self {
            urls: format!("{scheme}:{host}"),
            username,
            credential,
        })
    }
}

/// Characters a room id keeps in a link; everything else is percent-encoded.
const ROOM_IN_LINK: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The meeting page's link for `room` on a server reached at `base` (`https://meet.local:5443`).
pub fn room_link(base: &str, room: &str) -> String {
    let room = percent_encoding::utf8_percent_encode(room, ROOM_IN_LINK);
    format!("{}/r/{room}", base.trim_end_matches('/'))
}

/// A private meeting's link: the room's link with its keys in the fragment, which browsers never
/// send to a server nor put in a `Referer` (`#k=GUEST`, and `&h=HOST` on the host's own link).
pub fn invitation_link(
    base: &str,
    room: &RoomId,
    guest: &RoomKey,
    host: Option<&RoomKey>,
) -> String {
    let mut link = format!("{}#k={}", room_link(base, room.as_str()), guest.expose());
    if let Some(host) = host {
        link.push_str("&h=");
        link.push_str(host.expose());
    }
    link
}

/// A fresh room name people can read out loud: `calm-otter-42`. About 100,000 of them, so two
/// new meetings on one server practically never meet by chance.
pub fn new_room_name() -> String {
    use rand::RngExt;
    const ADJECTIVES: [&str; 32] = [
        "amber", "brave", "bright", "calm", "clever", "cosy", "crisp", "eager", "fair", "gentle",
        "golden", "happy", "jolly", "kind", "lively", "lucky", "merry", "mild", "neat", "noble",
        "plain", "proud", "quick", "quiet", "rapid", "sunny", "swift", "tidy", "warm", "wise",
        "witty", "young",
    ];
    const NOUNS: [&str; 32] = [
        "badger", "beaver", "cedar", "comet", "crane", "delta", "falcon", "fern", "finch", "fox",
        "harbor", "heron", "island", "lark", "maple", "meadow", "otter", "owl", "panda", "pine",
        "pond", "raven", "river", "robin", "sparrow", "spruce", "stone", "swan", "tiger", "valley",
        "willow", "wren",
    ];
    let mut rng = rand::rng();
    let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let noun = NOUNS[rng.random_range(0..NOUNS.len())];
    format!("{adjective}-{noun}-{}", rng.random_range(10..100))
}

/// What the page needs to know: ICE servers, and where HTTPS is for the "use HTTPS" hint.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingConfig {
    /// Handed to every `RTCPeerConnection`; empty by default (host candidates work on a LAN).
    pub ice_servers: Vec<IceServer>,
    /// The HTTPS port, when TLS is on.
    pub https_port: Option<u16>,
    /// The certificate's SHA-256 fingerprint, when TLS is on (the one served now: it changes
    /// when the certificate is renewed).
    pub fingerprint: Option<ServedCertificate>,
}

/// What `POST /api/meetings` needs: the hub to register meetings in, the origins whose pages
/// may ask, and each address's allowance.
#[derive(Clone)]
pub struct MeetingMaker {
    pub hub: Hub,
    pub origins: Arc<OriginPolicy>,
    allowance: Arc<Mutex<HashMap<IpAddr, TokenBucket>>>,
}

/// New meetings one address may make: 10 at once, then one a minute.
const MAKING: RateLimit = RateLimit {
    per_second: 1.0 / 60.0,
    burst: 10.0,
};

/// Addresses remembered for their allowance; past it the oldest allowances start over, which
/// lets nobody make more than the registry's own cap holds.
const MAKERS_REMEMBERED: usize = 4096;

impl MeetingMaker {
    pub fn new(hub: Hub, origins: Arc<OriginPolicy>) -> Self {
        Self {
            hub,
            origins,
            allowance: Arc::default(),
        }
    }

    fn allow(&self, addr: IpAddr) -> bool {
        let now = Instant::now();
        let mut allowance = self.allowance.lock().unwrap_or_else(|p| p.into_inner());
        if allowance.len() >= MAKERS_REMEMBERED && !allowance.contains_key(&addr) {
            allowance.clear();
        }
        allowance
            .entry(addr)
            .or_insert_with(|| TokenBucket::new(MAKING, now))
            .try_take(MAKING, now)
    }
}

/// `POST /api/meetings`'s answer: the new private meeting and its two keys, which the page
/// puts in the links it shows (the server keeps only their digests).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MadeMeeting {
    room: String,
    key: String,
    host_key: String,
}

/// `POST /api/meetings`: the meeting page's New meeting. Anyone who can open the page may make
/// a meeting (as anyone may name a room); only a page of this server's own origin (or an
/// allowed one) may ask, and each address only so often.
async fn make_meeting(
    State(maker): State<MeetingMaker>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let refuse = |status: StatusCode, error: String| {
        (status, Json(serde_json::json!({ "error": error }))).into_response()
    };
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let from_allowed_page = header(header::ORIGIN)
        .is_some_and(|origin| maker.origins.allows(origin, header(header::HOST)));
    if !from_allowed_page {
        return refuse(
            StatusCode::FORBIDDEN,
            "a meeting is made from this server's meeting page (the request had no allowed Origin)"
                .into(),
        );
    }
    if !maker.allow(peer.ip()) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many new meetings from this address: try again in a minute".into(),
        );
    }
    match maker.hub.make_meeting(new_room_name).await {
        Ok((room, keys)) => Json(MadeMeeting {
            room: room.as_str().to_owned(),
            key: keys.guest.expose().to_owned(),
            host_key: keys.host.expose().to_owned(),
        })
        .into_response(),
        Err(error) => refuse(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
    }
}

/// Routes for the meeting page; with `static_dir`, that build is served at `/` instead (any
/// unknown path gets its `index.html`, as single-page apps expect). `POST /api/meetings` makes
/// private meetings for either.
pub fn routes(
    config: Arc<MeetingConfig>,
    maker: MeetingMaker,
    static_dir: Option<PathBuf>,
    static_csp: Option<HeaderValue>,
) -> Router {
    let router = Router::new()
        .route("/api/meeting", get(meeting_config).with_state(config))
        .route("/api/meetings", post(make_meeting).with_state(maker))
        .route(
            "/meet/meet.css",
            get(|| async { asset(MEET_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/meet/socket.io.min.js",
            get(|| async { asset(SOCKET_IO_JS, "text/javascript; charset=utf-8") }),
        )
        .route("/i18n/{file}", get(i18n_file))
        .route("/meet/{file}", get(meet_module));
    match static_dir {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            let files = ServeDir::new(dir).fallback(index);
            // Its own policy only where one was given (--static-csp): the server cannot know
            // what another front-end loads.
            match static_csp {
                Some(csp) => router.fallback_service(
                    ServiceBuilder::new()
                        .layer(SetResponseHeaderLayer::overriding(
                            header::CONTENT_SECURITY_POLICY,
                            csp,
                        ))
                        .service(files),
                ),
                None => router.fallback_service(files),
            }
        }
        None => router.route("/", get(page)).route("/r/{*room}", get(page)),
    }
}

async fn page() -> impl IntoResponse {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

async fn meeting_config(State(config): State<Arc<MeetingConfig>>) -> Json<MeetingConfig> {
    Json(config.as_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogues_have_a_text_for_every_error_code_a_page_may_be_sent() {
        let english = crate::catalogue::Catalogue::for_language("en");
        for code in crate::wire::ErrorCode::ALL {
            let key = format!("error.{}", code.as_str());
            assert_ne!(english.text(&key, &[]), key, "en.json lacks {key}");
        }
    }

    #[test]
    fn room_links_encode_the_room_and_new_names_are_readable() {
        assert_eq!(
            room_link("https://meet.local:5443", "standup"),
            "https://meet.local:5443/r/standup"
        );
        assert_eq!(
            room_link("https://10.0.0.5:5443/", "Café 2/3"),
            "https://10.0.0.5:5443/r/Caf%C3%A9%202%2F3"
        );
        let name = new_room_name();
        let parts: Vec<&str> = name.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(
            parts[2].parse::<u8>().is_ok_and(|n| (10..100).contains(&n)),
            "{name}"
        );
        assert!(crate::wire::RoomId::parse(&name).is_ok());
    }

    #[test]
    fn ice_servers_parse_with_and_without_credentials() {
        assert_eq!(
            IceServer::parse("stun:stun.lan:3478").unwrap(),
            IceServer {
                urls: "stun:stun.lan:3478".into(),
                username: None,
                credential: None
            }
        );
        let turn = IceServer::parse("turn:ann:s3cret@10.0.0.9:3478?transport=udp").unwrap();
        assert_eq!(turn.urls, "turn:10.0.0.9:3478?transport=udp");
        assert_eq!(turn.username.as_deref(), Some("ann"));
        assert_eq!(turn.credential.as_deref(), Some("s3cret"));
        for bad in ["http://x", "stun:", "turn:user@host", "stun:u:p@host", "x"] {
            assert!(IceServer::parse(bad).is_err(), "{bad}");
        }
    }
}
