//! Who may see the dashboard: without a token only this machine (by the TCP peer address, never
//! by X-Forwarded-For), with `--dashboard-token` anyone presenting it. Web pages of other
//! origins are refused either way, except the desktop window's own (given by the app: a
//! headless server lets in no such origin).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The dashboard's access policy.
#[derive(Clone)]
pub struct Access {
    token: Option<Arc<str>>,
    window_origins: Arc<[String]>,
    /// What refusals call it, and the option that opens it: ("the dashboard",
    /// "--dashboard-token").
    named: (&'static str, &'static str),
}

impl Default for Access {
    fn default() -> Self {
        Self::new(None, Vec::new())
    }
}

impl Access {
    /// Loopback only, or anyone with `token` when one is given; pages of `window_origins` (the
    /// desktop app's window) are let in beside same-origin ones.
    pub fn new(token: Option<String>, window_origins: Vec<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(Into::into),
            window_origins: window_origins.into(),
            named: ("the dashboard", "--dashboard-token"),
        }
    }

    /// The same rule for `/metrics`, opened by `--metrics-token` and by no page.
    pub fn metrics(token: Option<String>) -> Self {
        Self {
            named: ("/metrics", "--metrics-token"),
            ..Self::new(token, Vec::new())
        }
    }
}

/// axum middleware applying [`Access`].
pub async fn require_access(
    State(access): State<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let window_origin = origin
        .as_deref()
        .filter(|&o| access.window_origins.iter().any(|w| w == o))
        .map(str::to_owned);
    if let Some(origin) = &origin
        && window_origin.is_none()
        && !same_origin(origin, headers)
    {
        return refuse(format!(
            "{} does not answer pages from {origin}",
            access.named.0
        ));
    }
    match &access.token {
        Some(token) => {
            if !presented_token(&request)
                .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
            {
                return refuse(format!(
                    "{} needs its token: add ?token=... to the URL or send Authorization: Bearer",
                    access.named.0
                ));
            }
        }
        None => {
            if !peer.ip().is_loopback() {
                return refuse(format!(
                    "{} answers only on this machine; start the server with {} to open it to the LAN",
                    access.named.0, access.named.1
                ));
            }
            // A loopback request naming another host is a DNS-rebinding page: refuse it.
            if !host_is_loopback(headers) {
                return refuse(format!(
                    "open {} at http://127.0.0.1 or http://localhost",
                    access.named.0
                ));
            }
        }
    }
    let mut response = next.run(request).await;
    if let Some(origin) = window_origin
        && let Ok(value) = HeaderValue::from_str(&origin)
    {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    response
}

fn refuse(message: String) -> Response {
    (StatusCode::FORBIDDEN, format!("{message}\n")).into_response()
}

fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    crate::origin::OriginPolicy::SameOriginOnly.allows(origin, host)
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true; // HTTP/1.0 without Host: not a browser page
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The token from `Authorization: Bearer` or the `token` query parameter.
fn presented_token(request: &Request) -> Option<String> {
    if let Some(bearer) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    let query = request.uri().query()?;
    url_params(query)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// Decoded `key=value` pairs of a query string.
pub(crate) fn url_params(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        Some((percent_decode(key)?, percent_decode(value)?))
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// The status of `GET /api/rooms` from loopback with this `Origin`, under `access`.
    async fn status_from(access: Access, origin: &str) -> (StatusCode, Option<String>) {
        let app = Router::new()
            .route("/api/rooms", get(|| async { "{}" }))
            .layer(axum::middleware::from_fn_with_state(access, require_access));
        let mut request = axum::http::Request::get("/api/rooms")
            .header(header::HOST, "127.0.0.1:5000")
            .header(header::ORIGIN, origin)
            .body(Body::empty())
            .unwrap();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = app.oneshot(request).await.unwrap();
        let allowed = response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), allowed)
    }

    #[tokio::test]
    async fn the_window_origin_is_let_in_only_where_the_app_gives_it() {
        let headless = Access::new(None, Vec::new());
        assert_eq!(
            status_from(headless, "tauri://localhost").await,
            (StatusCode::FORBIDDEN, None)
        );
        let app = Access::new(None, vec!["tauri://localhost".into()]);
        assert_eq!(
            status_from(app.clone(), "tauri://localhost").await,
            (StatusCode::OK, Some("tauri://localhost".into()))
        );
        assert_eq!(
            status_from(app.clone(), "http://127.0.0.1:5000").await,
            (StatusCode::OK, None),
            "same origin"
        );
        assert_eq!(
            status_from(app, "http://evil.example").await.0,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn query_parameters_are_decoded() {
        let params: Vec<_> = url_params("a=1&token=s%20e+c%2Fret&empty").collect();
        assert_eq!(params[1], ("token".into(), "s e c/ret".into()));
        assert_eq!(params[2], ("empty".into(), "".into()));
        assert!(url_params("bad=%zz").next().is_none());
    }

    #[test]
    fn loopback_hosts() {
        let mut headers = HeaderMap::new();
        for (host, ok) in [
            ("127.0.0.1:5000", true),
            ("localhost:5000", true),
            ("[::1]:5000", true),
            ("evil.example:5000", false),
            ("10.0.0.2", false),
        ] {
            headers.insert(header::HOST, HeaderValue::from_static(host));
            assert_eq!(host_is_loopback(&headers), ok, "{host}");
        }
    }
}
