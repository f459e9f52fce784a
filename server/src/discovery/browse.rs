//! Finding Free Meetings servers on the LAN (`free-meetings discover`, and the desktop app).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceEvent};
use serde::Serialize;

use super::{DiscoveryError, SERVICE_TYPE};

/// One server that answered.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoundServer {
    /// Its human instance name.
    pub instance: String,
    /// Its `.local` host name.
    pub hostname: String,
    /// Its addresses, IPv4 first.
    pub addresses: Vec<IpAddr>,
    /// Its HTTP port.
    pub port: u16,
    /// Its app version (TXT `version`).
    pub version: Option<String>,
    /// Its protocol version (TXT `proto`).
    pub protocol: Option<String>,
    /// Whether it serves TLS (TXT `tls`).
    pub tls: bool,
    /// Its HTTPS port (TXT `tls_port`).
    pub tls_port: Option<u16>,
    /// Its certificate's SHA-256 fingerprint (TXT `fp`), to compare with the browser's.
    pub fingerprint: Option<String>,
    /// A ready-to-use URL, by address.
    pub url: String,
}

/// Browses for `timeout` and returns every server seen (and not said goodbye) by then.
pub async fn discover(timeout: Duration) -> Result<Vec<FoundServer>, DiscoveryError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let mut found = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv_async()).await {
        match event {
            ServiceEvent::ServiceResolved(service) => {
                if let Some(server) = to_found(&service) {
                    found.insert(service.fullname.clone(), server);
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                found.remove(&fullname);
            }
            _ => {}
        }
    }
    let _ = daemon.shutdown();
    Ok(found.into_values().collect())
}

pub(super) fn to_found(service: &mdns_sd::ResolvedService) -> Option<FoundServer> {
    let mut addresses: Vec<IpAddr> = service
        .addresses
        .iter()
        .map(|scoped| scoped.to_ip_addr())
        .collect();
    addresses.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    let first = *addresses.first()?;
    let txt = |key: &str| {
        service
            .txt_properties
            .get_property_val_str(key)
            .map(str::to_owned)
    };
    let tls = txt("tls").as_deref() == Some("1");
    let tls_port = txt("tls_port").and_then(|p| p.parse::<u16>().ok());
    // The meeting page needs HTTPS on other machines, so that is the URL to hand out.
    let (scheme, url_port) = match tls_port {
        Some(port) if tls => ("https", port),
        _ => ("http", service.port),
    };
    let host = match first {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let suffix = format!(".{SERVICE_TYPE}");
    let instance = service
        .fullname
        .strip_suffix(&suffix)
        .unwrap_or(&service.fullname);
    Some(FoundServer {
        instance: instance.replace("\\.", ".").replace("\\\\", "\\"),
        hostname: service.host.trim_end_matches('.').to_owned(),
        addresses,
        port: service.port,
        version: txt("version"),
        protocol: txt("proto"),
        tls,
        tls_port,
        fingerprint: txt("fp"),
        url: format!("{scheme}://{host}:{url_port}"),
    })
}
