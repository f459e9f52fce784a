//! In front of everything the server answers: the `Host` check (only the server's own names,
//! see [`crate::own_names`]) and the headers every response carries. A refused name gets 421
//! Misdirected Request, is counted (`refused{reason="host"}`), and is logged with the option
//! that would allow it, once per [`LOG_EVERY`] at most: a hostile page can send many.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::metrics::{Metrics, RefusalKind};
use crate::own_names::OwnNames;

/// The least time between two log lines about refused names.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// What the check needs.
#[derive(Clone)]
pub struct HostCheck {
    pub names: Arc<OwnNames>,
    pub metrics: Arc<Metrics>,
    last_logged: Arc<Mutex<Option<Instant>>>,
}

impl HostCheck {
    pub fn new(names: Arc<OwnNames>, metrics: Arc<Metrics>) -> Self {
        Self {
            names,
            metrics,
            last_logged: Arc::new(Mutex::new(None)),
        }
    }

    fn log_now(&self) -> bool {
        let now = Instant::now();
        let Ok(mut last) = self.last_logged.lock() else {
            return true;
        };
        if last.is_some_and(|at| now.duration_since(at) < LOG_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// axum middleware: refuses a foreign `Host`, and adds the headers every response carries.
pub async fn check_host(State(check): State<HostCheck>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("(not text)"));
    if let Err(refused) = check.names.check(host) {
        check.metrics.refused(RefusalKind::host);
        if check.log_now() {
            tracing::warn!(path = request.uri().path(), "{refused}");
        }
        let mut response =
            (StatusCode::MISDIRECTED_REQUEST, format!("{refused}\n")).into_response();
        secure(&mut response);
        return response;
    }
    let mut response = next.run(request).await;
    secure(&mut response);
    response
}

/// Headers for every response: no content sniffing (an upload or a log served as a page), no
/// `Referer` (a meeting link in it would reach another site), no framing (clickjacking).
fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}
