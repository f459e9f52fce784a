//! `/trust`: how to trust this server's HTTPS certificate, for the people about to meet on it.
//! The page shows the certificate's SHA-256 fingerprint (to compare with what the server
//! prints and its window shows), offers the certificate itself at `/trust/certificate.crt`, and
//! gives short steps for Windows, macOS, Linux, Android and iOS. Both are public: a certificate
//! is sent to every client that connects anyway. Only with TLS on; 404 otherwise.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::embedded::{PAGE_CSP, asset};
use crate::tls::ServedCertificate;

const PAGE: &str = include_str!("../../ui/trust.html");
const CSS: &str = include_str!("../../ui/trust.css");

/// `/trust`, `/trust/trust.css` and `/trust/certificate.crt`, when there is a certificate.
pub fn routes(certificate: Option<ServedCertificate>) -> Router {
    let Some(certificate) = certificate else {
        return Router::new();
    };
    Router::new()
        .route("/trust", get(page))
        .route(
            "/trust/trust.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route("/trust/certificate.crt", get(download))
        .with_state(certificate)
}

async fn page(State(certificate): State<ServedCertificate>) -> Response {
    let certificate = certificate.get();
    // The fingerprint is hex pairs and colons (see tls::fingerprint): nothing to escape.
    let body = PAGE.replace("{{fingerprint}}", &certificate.fingerprint);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        body,
    )
        .into_response()
}

/// The certificate in PEM, as the type operating systems open with their certificate installer.
async fn download(State(certificate): State<ServedCertificate>) -> Response {
    let certificate = certificate.get();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"free-meetings.crt\"",
            ),
        ],
        certificate.pem,
    )
        .into_response()
}
