//! LAN discovery with mDNS / DNS-SD: the server announces itself, and `discover` finds servers.
//!
//! Records carry only how to connect (port, paths, versions, TLS); never rooms or people.

mod advertise;
mod browse;
mod interfaces;
mod names;

pub use advertise::{AdvertiseConfig, Advertiser, MdnsState, MdnsStatus};
pub use browse::{FoundServer, discover};
pub use interfaces::{lan_addresses, lan_addrs, url, usable};
pub use names::{BadName, host_label, instance_name, machine_hostname};

/// DNS-SD service type of Free Meetings servers.
pub const SERVICE_TYPE: &str = "_free-meetings._tcp.local.";
/// DNS-SD type for the web page, registered for the extra `.local` name people type.
pub const WEB_SERVICE_TYPE: &str = "_http._tcp.local.";
/// Version of the signaling protocol, in the TXT record `proto`.
pub const PROTOCOL_VERSION: &str = "1";

/// Why discovery could not run.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The mDNS daemon could not start (no usable interface, port 5353 refused, ...).
    #[error("mDNS is unavailable: {0}")]
    Daemon(#[from] mdns_sd::Error),
}
