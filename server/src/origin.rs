//! Which web origins may open a connection. Browsers send `Origin` on every WebSocket and
//! cross-origin request; CORS alone does not stop a cross-origin WebSocket, so the handshake
//! guard checks it here. Native clients send no `Origin` and are always let in.

use axum::http::uri::{Authority, Scheme, Uri};

/// An origin as `scheme://host:port`, lowercased, with the default port made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

/// An origin that is not `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid origin '{0}': expected scheme://host[:port] (for example http://localhost:3000) or *"
)]
pub struct BadOrigin(pub String);

impl Origin {
    /// Parses an `Origin` header value or an allow-list entry.
    pub fn parse(text: &str) -> Result<Self, BadOrigin> {
        let text = text.trim().trim_end_matches('/');
        let bad = || BadOrigin(text.to_owned());
        let uri: Uri = text.parse().map_err(|_| bad())?;
        let scheme = uri.scheme().ok_or_else(bad)?;
        let authority = uri.authority().ok_or_else(bad)?;
        if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
            return Err(bad());
        }
        let port = authority
            .port_u16()
            .or_else(|| default_port(scheme))
            .ok_or_else(bad)?;
        Ok(Self {
            scheme: scheme.as_str().to_ascii_lowercase(),
            host: authority.host().to_ascii_lowercase(),
            port,
        })
    }

    /// Whether the request's `Host` names this same host and port.
    fn matches_host(&self, host: &str) -> bool {
        let Ok(authority) = host.parse::<Authority>() else {
            return false;
        };
        let port = authority
            .port_u16()
            .or_else(|| default_port(&self.scheme.parse().ok()?));
        authority.host().eq_ignore_ascii_case(&self.host) && port == Some(self.port)
    }

    fn same_as(&self, other: &Origin) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }
}

fn default_port(scheme: &Scheme) -> Option<u16> {
    match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// The origins allowed besides the server's own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OriginPolicy {
    /// `*`: any origin (the original server's default; not recommended on a shared LAN).
    Any,
    /// Only the server's own origin.
    #[default]
    SameOriginOnly,
    /// Same-origin plus these.
    List(Vec<Origin>),
}

impl OriginPolicy {
    /// Builds the policy from `--allowed-origin` values; `*` anywhere means any.
    pub fn from_args<S: AsRef<str>>(values: &[S]) -> Result<Self, BadOrigin> {
        let values: Vec<&str> = values
            .iter()
            .map(|v| v.as_ref().trim())
            .filter(|v| !v.is_empty())
            .collect();
        if values.contains(&"*") {
            return Ok(Self::Any);
        }
        if values.is_empty() {
            return Ok(Self::SameOriginOnly);
        }
        values
            .into_iter()
            .map(Origin::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::List)
    }

    /// Whether a request with this `Origin` header and `Host` header may proceed.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        if *self == Self::Any {
            return true;
        }
        let Ok(origin) = Origin::parse(origin) else {
            return false;
        };
        if host.is_some_and(|host| origin.matches_host(host)) {
            return true;
        }
        match self {
            Self::List(list) => list.iter().any(|allowed| allowed.same_as(&origin)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_is_always_allowed() {
        let policy = OriginPolicy::SameOriginOnly;
        assert!(policy.allows("http://10.0.0.5:5000", Some("10.0.0.5:5000")));
        assert!(policy.allows("http://Meet.local", Some("meet.local:80")));
        assert!(!policy.allows("http://evil.example", Some("10.0.0.5:5000")));
        assert!(!policy.allows("http://10.0.0.5:5001", Some("10.0.0.5:5000")));
        assert!(!policy.allows("null", Some("10.0.0.5:5000")));
    }

    #[test]
    fn listed_origins_match_with_default_ports() {
        let policy =
            OriginPolicy::from_args(&["https://app.example/", "http://localhost:3000"]).unwrap();
        assert!(policy.allows("https://app.example:443", Some("x:5000")));
        assert!(policy.allows("http://localhost:3000", None));
        assert!(!policy.allows("http://app.example", None));
        assert!(!policy.allows("http://localhost:3001", None));
    }

    #[test]
    fn star_allows_anything_and_bad_entries_are_refused() {
        assert_eq!(
            OriginPolicy::from_args(&["http://a", "*"]).unwrap(),
            OriginPolicy::Any
        );
        assert!(OriginPolicy::Any.allows("null", None));
        assert!(OriginPolicy::from_args(&["localhost:3000"]).is_err());
        assert!(OriginPolicy::from_args(&["http://a/path"]).is_err());
        assert_eq!(
            OriginPolicy::from_args::<&str>(&[]).unwrap(),
            OriginPolicy::SameOriginOnly
        );
    }
}
