//! Which `Host` the server answers: only its own names. A browser sends the name it was given in
//! the URL; a page on `http://evil.example` whose name an attacker re-points at this server's
//! LAN address (DNS rebinding) arrives with `Host: evil.example`, and its `Origin` matches that
//! `Host`, so the origin check alone lets it in. Refusing every `Host` that is not one of ours
//! closes that door for the pages, the transports and the dashboard alike.
//!
//! Ours are: any IP address literal (a page can only name an address it was loaded from, so an
//! address cannot be rebound), `localhost` and its subdomains, this machine's host name plain and
//! `.local`, the mDNS alias `.local`, and each `--public-name` (the name a load balancer or a DNS
//! record gives the server). A request without `Host` (an HTTP/1.0 tool) is let through: every
//! browser sends one.

use std::net::IpAddr;

use axum::http::uri::Authority;

/// The names this server answers on (lowercase, no port, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnNames {
    names: Vec<String>,
}

/// A request for a name that is not ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused a request for the name '{0}', which is not one of this server's names; if people reach the server by that name, start it with --public-name {0}"
)]
pub struct ForeignHost(pub String);

/// A `--public-name` that is not a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid public name '{0}': expected a host name such as meet.example.org (no scheme, port or path)"
)]
pub struct BadPublicName(pub String);

impl OwnNames {
    /// This machine's names: `hostname` (plain and `.local`), the mDNS `alias` (`.local`), and
    /// the `public` names, which are checked.
    pub fn new(
        hostname: &str,
        alias: Option<&str>,
        public: &[String],
    ) -> Result<Self, BadPublicName> {
        let mut names = vec![hostname.to_owned(), format!("{hostname}.local")];
        if let Some(alias) = alias {
            names.push(format!("{alias}.local"));
        }
        for name in public {
            names.push(public_name(name)?);
        }
        let mut names: Vec<String> = names.into_iter().map(|n| normalise(&n)).collect();
        names.sort();
        names.dedup();
        Ok(Self { names })
    }

    /// Every name, normalised (lower case, no trailing dot): the generated certificate names
    /// them all.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether a request whose `Host` header is `host` is for us.
    pub fn check(&self, host: Option<&str>) -> Result<(), ForeignHost> {
        let Some(host) = host else {
            return Ok(());
        };
        let name = match host.parse::<Authority>() {
            Ok(authority) => authority.host().to_owned(),
            Err(_) => return Err(ForeignHost(printable(host))),
        };
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(());
        }
        let name = normalise(&name);
        if name == "localhost" || name.ends_with(".localhost") || self.names.contains(&name) {
            Ok(())
        } else {
            Err(ForeignHost(printable(&name)))
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// A `--public-name` value: a DNS name, letters, digits, hyphens and dots only.
fn public_name(text: &str) -> Result<String, BadPublicName> {
    let name = normalise(text);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(name)
    } else {
        Err(BadPublicName(text.to_owned()))
    }
}

/// At most 100 visible characters of a header, for a log line.
fn printable(text: &str) -> String {
    text.chars()
        .take(100)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> OwnNames {
        OwnNames::new("office-pc", Some("meet"), &["meet.example.org".to_owned()]).unwrap()
    }

    #[test]
    fn our_names_and_any_address_are_answered() {
        let names = office();
        for host in [
            "office-pc:5000",
            "OFFICE-PC.local:5443",
            "meet.local",
            "meet.example.org.",
            "localhost:5000",
            "app.localhost",
            "10.0.0.5:5000",
            "127.0.0.1",
            "[::1]:5000",
            "[fe80::1]",
        ] {
            assert_eq!(names.check(Some(host)), Ok(()), "{host}");
        }
        assert_eq!(names.check(None), Ok(()));
    }

    #[test]
    fn other_names_are_refused_with_the_option_to_use() {
        let names = office();
        for host in [
            "evil.example:5000",
            "office-pc.evil.example",
            "meet",
            "localhost.evil",
            "a b",
        ] {
            let error = names.check(Some(host)).unwrap_err();
            assert!(error.to_string().contains("--public-name"), "{error}");
        }
        assert_eq!(
            names.check(Some("evil.example:5000")),
            Err(ForeignHost("evil.example".into()))
        );
    }

    #[test]
    fn public_names_must_be_host_names() {
        for bad in [
            "",
            "http://meet.example",
            "meet.example:443",
            "meet/x",
            "-a.example",
            "a..b",
        ] {
            assert!(
                OwnNames::new("pc", None, &[bad.to_owned()]).is_err(),
                "{bad}"
            );
        }
    }
}
