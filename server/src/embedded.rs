//! Files compiled into the binary (the pages and their scripts), so it works offline and an
//! update replaces them with the binary.

use axum::http::header;
use axum::response::IntoResponse;

/// An embedded file as a response, never cached stale (the binary is what gets updated).
pub fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
