//! Files compiled into the binary (the pages and their scripts), so it works offline and an
//! update replaces them with the binary.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The Content-Security-Policy of the built-in pages: their own scripts, styles and images only,
/// no inline script or `eval`, connections to this server only (`'self'` covers its `ws:` and
/// `wss:`), media from the page's own streams, and no framing by any site.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// An embedded file as a response, never cached stale (the binary is what gets updated); a page
/// (HTML) carries [`PAGE_CSP`].
pub fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    let csp = if content_type.starts_with("text/html") {
        PAGE_CSP
    } else {
        // Not a document: nothing a policy would govern.
        "default-src 'none'; frame-ancestors 'none'"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        body,
    )
}

/// The file `name` of an embedded `table` (name, body) as a response, or 404: how the routes
/// that serve a family of files by name look them up (no request path reaches the disk).
pub fn from_table(
    table: &[(&str, &'static str)],
    name: &str,
    content_type: &'static str,
) -> Response {
    match table.iter().find(|(file, _)| *file == name) {
        Some((_, body)) => asset(body, content_type).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
