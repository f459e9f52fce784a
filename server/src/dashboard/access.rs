//! Who may see the dashboard: without a token only this machine (by the TCP peer address, never
//! by X-Forwarded-For), with `--dashboard-token` anyone presenting it. Web pages of other
//! origins are refused either way; the desktop window's origin is let in for the API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Origins of the desktop app's own window (Linux/macOS, and Windows).
const APP_ORIGINS: [&str; 2] = ["tauri://localhost", "http://tauri.localhost"];

/// The dashboard's access policy.
#[derive(Clone, Default)]
pub struct Access {
    token: Option<Arc<str>>,
}

impl Access {
    /// Loopback only, or anyone with `token` when one is given.
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(Into::into),
        }
    }
}

/// axum middleware applying [`Access`].
pub async fn guard(
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
    let app_origin = origin
        .as_deref()
        .filter(|o| APP_ORIGINS.contains(o))
        .map(str::to_owned);
    if let Some(origin) = &origin
        && app_origin.is_none()
        && !same_origin(origin, headers)
    {
        return refuse(format!("the dashboard does not answer pages from {origin}"));
    }
    match &access.token {
        Some(token) => {
            if !presented_token(&request)
                .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
            {
                return refuse("this dashboard needs its token: add ?token=... to the URL".into());
            }
        }
        None => {
            if !peer.ip().is_loopback() {
                return refuse(
                    "the dashboard answers only on this machine; start the server with --dashboard-token to open it to the LAN".into(),
                );
            }
            // A loopback request naming another host is a DNS-rebinding page: refuse it.
            if !host_is_loopback(headers) {
                return refuse("open the dashboard at http://127.0.0.1 or http://localhost".into());
            }
        }
    }
    let mut response = next.run(request).await;
    if let Some(origin) = app_origin
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
    crate::transport::origin::OriginPolicy::SameOriginOnly.allows(origin, host)
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
    use super::*;

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
