//! With TLS on, a person who types the server's address without `https://` gets the page over
//! HTTPS: a browser's navigation to a page over plain HTTP is redirected (308) to the same path
//! on the HTTPS port, because a camera and a microphone are only offered to a page in a secure
//! context. What is not a page navigation stays on HTTP: the transports (front-ends written for
//! the original server connect to `http://…:5000`), `/health`, `/metrics`, the API. So does
//! anything asked of the loopback names, which browsers treat as secure already.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Marks a request that arrived over TLS (set by the accept loop, `serve.rs`).
#[derive(Debug, Clone, Copy)]
pub struct OverTls(pub bool);

/// The HTTPS port to send page navigations to; `None` without TLS.
#[derive(Debug, Clone, Copy)]
pub struct HttpsFirst {
    pub https_port: Option<u16>,
}

/// Paths that are never a page to redirect: the transports and the machine-read routes.
const NOT_PAGES: [&str; 6] = [
    "/socket.io",
    "/ws",
    "/api/",
    "/health",
    "/metrics",
    "/dashboard",
];

/// Where a plain-HTTP request should go instead, if anywhere.
pub fn redirect_to(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    https_port: u16,
) -> Option<String> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = path_and_query.split('?').next().unwrap_or_default();
    if NOT_PAGES.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    // A browser navigating asks for HTML; a script or a front-end's fetch does not.
    let accepts_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !accepts_html {
        return None;
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = match host.strip_prefix('[') {
        Some(rest) => format!("[{}]", rest.split(']').next()?),
        None => host
            .rsplit_once(':')
            .map_or(host, |(name, _)| name)
            .to_owned(),
    };
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare == "localhost"
        || bare.ends_with(".localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return None;
    }
    Some(format!("https://{name}:{https_port}{path_and_query}"))
}

/// axum middleware applying [`redirect_to`] to requests that came over plain HTTP.
pub async fn https_first(
    State(first): State<HttpsFirst>,
    request: Request,
    next: Next,
) -> Response {
    let plain = request.extensions().get::<OverTls>().is_some_and(|t| !t.0);
    if let (true, Some(port)) = (plain, first.https_port) {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        if let Some(location) = redirect_to(request.method(), &path, request.headers(), port) {
            return (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(host: &str, accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        headers
    }

    const PAGE: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

    #[test]
    fn a_page_navigation_goes_to_https_and_nothing_else_does() {
        let to = |method: Method, path: &str, host: &str, accept: &str| {
            redirect_to(&method, path, &headers(host, accept), 5443)
        };
        assert_eq!(
            to(Method::GET, "/r/standup?x=1", "10.0.0.5:5000", PAGE).as_deref(),
            Some("https://10.0.0.5:5443/r/standup?x=1")
        );
        assert_eq!(
            to(Method::GET, "/", "meet.local:5000", PAGE).as_deref(),
            Some("https://meet.local:5443/")
        );
        assert_eq!(
            to(Method::GET, "/", "[fd00::5]:5000", PAGE).as_deref(),
            Some("https://[fd00::5]:5443/")
        );
        assert_eq!(
            to(Method::GET, "/socket.io/?EIO=4", "10.0.0.5:5000", PAGE),
            None
        );
        assert_eq!(to(Method::GET, "/ws", "10.0.0.5:5000", PAGE), None);
        assert_eq!(to(Method::GET, "/health", "10.0.0.5:5000", PAGE), None);
        assert_eq!(
            to(Method::GET, "/r/standup", "10.0.0.5:5000", "*/*"),
            None,
            "a script's fetch"
        );
        assert_eq!(to(Method::POST, "/r/standup", "10.0.0.5:5000", PAGE), None);
        assert_eq!(
            to(Method::GET, "/", "127.0.0.1:5000", PAGE),
            None,
            "loopback is secure"
        );
        assert_eq!(to(Method::GET, "/", "localhost:5000", PAGE), None);
        assert_eq!(to(Method::GET, "/", "[::1]:5000", PAGE), None);
    }
}
