//! Which network interfaces the server announces itself on, and the addresses people can use.

use std::net::{IpAddr, SocketAddr};

/// Name prefixes of virtual interfaces that other machines on the LAN cannot reach us through
/// (containers, VMs, VPNs). Announcing on them is useless at best; some also upset mDNS stacks.
const VIRTUAL_PREFIXES: [&str; 16] = [
    "docker",
    "br-",
    "veth",
    "virbr",
    "vboxnet",
    "vmnet",
    "tun",
    "tap",
    "wg",
    "tailscale",
    "zt",
    "utun",
    "lxc",
    "lxd",
    "cni",
    "podman",
];

/// Whether an interface is a LAN interface worth announcing on.
pub fn usable(intf: &if_addrs::Interface) -> bool {
    skip_reason(intf).is_none()
}

fn skip_reason(intf: &if_addrs::Interface) -> Option<&'static str> {
    if intf.is_loopback() {
        Some("loopback")
    } else if intf.is_link_local() {
        Some("link-local address only")
    } else if VIRTUAL_PREFIXES.iter().any(|p| intf.name.starts_with(p)) {
        Some("virtual (container, VM or VPN) interface")
    } else {
        None
    }
}

/// The addresses other machines can use for a server listening on `listen`: `listen` itself, or
/// every LAN address with its port when it listens on all interfaces.
pub fn lan_addrs(listen: SocketAddr) -> Vec<SocketAddr> {
    if !listen.ip().is_unspecified() {
        return vec![listen];
    }
    // 0.0.0.0 is IPv4 only; [::] usually takes both families.
    let v4_only = listen.is_ipv4();
    lan_addresses()
        .0
        .into_iter()
        .filter(|ip| !(v4_only && ip.is_ipv6()))
        .map(|ip| SocketAddr::new(ip, listen.port()))
        .collect()
}

/// `scheme://addr` with the port replaced by `port` (IPv6 in brackets, its scope kept).
pub fn url(scheme: &str, mut addr: SocketAddr, port: u16) -> String {
    addr.set_port(port);
    format!("{scheme}://{addr}")
}

/// The addresses other machines can use, and the interfaces skipped with why.
pub fn lan_addresses() -> (Vec<IpAddr>, Vec<(String, &'static str)>) {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    let mut usable = Vec::new();
    let mut skipped = Vec::new();
    for intf in interfaces {
        match skip_reason(&intf) {
            None => usable.push(intf.ip()),
            Some(reason) => skipped.push((format!("{} ({})", intf.name, intf.ip()), reason)),
        }
    }
    // IPv4 first: it is what people type.
    usable.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    usable.dedup();
    (usable, skipped)
}
