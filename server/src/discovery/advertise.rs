//! Announcing this server on the LAN while it runs, and saying goodbye when it stops.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use mdns_sd::{DaemonEvent, IfKind, IfPredicate, ServiceDaemon, ServiceInfo};
use serde::Serialize;
use tokio::sync::watch;

use super::browse::{FoundServer, to_found};
use super::{DiscoveryError, PROTOCOL_VERSION, SERVICE_TYPE, WEB_SERVICE_TYPE, usable};

/// What to announce.
#[derive(Debug, Clone)]
pub struct AdvertiseConfig {
    /// Human instance name, e.g. "Free Meetings on reception".
    pub instance: String,
    /// This machine's host label (`<label>.local`).
    pub hostname: String,
    /// An extra `.local` label people can type (`--mdns-hostname`).
    pub alias: Option<String>,
    /// The HTTP port.
    pub port: u16,
    /// The HTTPS port, when TLS is on.
    pub tls_port: Option<u16>,
    /// The certificate's SHA-256 fingerprint, when TLS is on; announced again when it changes
    /// (a renewed certificate).
    pub fingerprint: Option<watch::Receiver<String>>,
    /// When the server listens on one address only, announce on that interface only.
    pub only_ip: Option<std::net::IpAddr>,
}

/// What `/health` and the dashboard show about LAN announcement.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MdnsStatus {
    /// Whether the server is being announced right now.
    pub enabled: bool,
    /// The instance name in use (after any conflict renaming).
    pub instance: Option<String>,
    /// The `.local` host names in use.
    pub hostnames: Vec<String>,
    /// Why announcing is not working, if it is not.
    pub error: Option<String>,
}

/// Shared [`MdnsStatus`], plus the other servers seen on the LAN.
#[derive(Debug, Clone, Default)]
pub struct MdnsState {
    status: Arc<RwLock<MdnsStatus>>,
    others: Arc<RwLock<Vec<FoundServer>>>,
}

impl MdnsState {
    /// The current status.
    pub fn get(&self) -> MdnsStatus {
        self.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Other Free Meetings servers currently announced on the LAN.
    pub fn others(&self) -> Vec<FoundServer> {
        self.others.read().map(|o| o.clone()).unwrap_or_default()
    }

    /// Replaces the status.
    pub fn set(&self, status: MdnsStatus) {
        self.update(|s| *s = status);
    }

    fn update(&self, change: impl FnOnce(&mut MdnsStatus)) {
        if let Ok(mut status) = self.status.write() {
            change(&mut status);
        }
    }
}

/// A running announcement.
pub struct Advertiser {
    daemon: ServiceDaemon,
    /// Rebuilt when the certificate's fingerprint changes.
    services: Arc<std::sync::Mutex<Vec<ServiceInfo>>>,
    state: MdnsState,
}

/// How often interfaces are re-read, so address changes are re-announced within seconds.
const IP_CHECK_SECS: u32 = 2;
/// How long shutdown waits for the goodbye packets to go out.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

impl Advertiser {
    /// Starts the mDNS responder and registers the service (plus `_http._tcp` for the alias).
    pub fn start(config: AdvertiseConfig, state: MdnsState) -> Result<Self, DiscoveryError> {
        let daemon = ServiceDaemon::new()?;
        daemon.disable_interface(IfKind::Predicate(IfPredicate::new(|intf| !usable(intf))))?;
        daemon.set_ip_check_interval(IP_CHECK_SECS)?;
        let events = daemon.monitor()?;

        let fingerprint = config.fingerprint.as_ref().map(|f| f.borrow().clone());
        let services = services(&config, fingerprint.as_deref())?;
        for service in &services {
            daemon.register(service.clone())?;
        }
        let mut hostnames = vec![format!("{}.local", config.hostname)];
        if let Some(alias) = &config.alias {
            hostnames.push(format!("{alias}.local"));
        }
        state.update(|s| {
            *s = MdnsStatus {
                enabled: true,
                instance: Some(config.instance.clone()),
                hostnames: hostnames.clone(),
                error: None,
            }
        });
        tracing::info!(instance = %config.instance, hostnames = ?hostnames, "announcing on the LAN (mDNS)");
        let skipped: Vec<String> = super::lan_addresses()
            .1
            .into_iter()
            .map(|(interface, why)| format!("{interface}: {why}"))
            .collect();
        if !skipped.is_empty() {
            tracing::info!(
                skipped = skipped.join("; "),
                "not announcing on these interfaces"
            );
        }
        tokio::spawn(watch(events, state.clone()));
        let services = Arc::new(std::sync::Mutex::new(services));
        if let Some(fingerprints) = config.fingerprint.clone() {
            tokio::spawn(follow_fingerprint(
                fingerprints,
                config,
                daemon.clone(),
                services.clone(),
                state.clone(),
            ));
        }
        if let Ok(browse) = daemon.browse(SERVICE_TYPE) {
            tokio::spawn(follow_others(browse, state.clone()));
        }
        Ok(Self {
            daemon,
            services,
            state,
        })
    }

    /// Stops announcing for now (goodbye sent); [`Advertiser::resume`] announces again.
    pub async fn pause(&self) {
        self.withdraw().await;
        self.state.update(|s| s.enabled = false);
        tracing::info!("LAN announcement paused");
    }

    /// Announces again after [`Advertiser::pause`].
    pub fn resume(&self) -> Result<(), DiscoveryError> {
        for service in self.services() {
            self.daemon.register(service.clone())?;
        }
        self.state.update(|s| s.enabled = true);
        tracing::info!("LAN announcement resumed");
        Ok(())
    }

    /// Withdraws the announcement with a goodbye (TTL 0) and stops the responder.
    pub async fn stop(self) {
        self.withdraw().await;
        if let Ok(done) = self.daemon.shutdown() {
            let _ = tokio::time::timeout(GOODBYE_WAIT, done.recv_async()).await;
        }
        self.state.update(|s| s.enabled = false);
        tracing::info!("LAN announcement withdrawn");
    }

    fn services(&self) -> Vec<ServiceInfo> {
        self.services.lock().map(|s| s.clone()).unwrap_or_default()
    }

    async fn withdraw(&self) {
        for service in self.services() {
            if let Ok(done) = self.daemon.unregister(service.get_fullname()) {
                let _ = tokio::time::timeout(GOODBYE_WAIT, done.recv_async()).await;
            }
        }
    }
}

/// The services to register: this server's, with its TXT records, and `_http._tcp` at the
/// alias, if there is one.
fn services(
    config: &AdvertiseConfig,
    fingerprint: Option<&str>,
) -> Result<Vec<ServiceInfo>, DiscoveryError> {
    let tls = if config.tls_port.is_some() { "1" } else { "0" };
    let tls_port = config.tls_port.map(|p| p.to_string());
    let mut txt = vec![
        ("proto", PROTOCOL_VERSION),
        ("version", env!("CARGO_PKG_VERSION")),
        ("sio", "/socket.io"),
        ("ws", "/ws"),
        ("tls", tls),
    ];
    if let (Some(port), Some(fingerprint)) = (&tls_port, fingerprint) {
        txt.push(("tls_port", port.as_str()));
        txt.push(("fp", fingerprint));
    }
    let host = format!("{}.local.", config.hostname);
    let mut services = vec![
        ServiceInfo::new(
            SERVICE_TYPE,
            &config.instance,
            &host,
            (),
            config.port,
            &txt[..],
        )?
        .enable_addr_auto(),
    ];
    if let Some(alias) = &config.alias {
        // A host name is answered for as long as a service points at it; the web page is
        // what people open at the alias, so it gets the `_http._tcp` service.
        let web_txt = [("path", "/")];
        let alias_host = format!("{alias}.local.");
        services.push(
            ServiceInfo::new(
                WEB_SERVICE_TYPE,
                &config.instance,
                &alias_host,
                (),
                config.port,
                &web_txt[..],
            )?
            .enable_addr_auto(),
        );
    }
    for service in &mut services {
        if let Some(ip) = config.only_ip {
            service.set_interfaces(vec![IfKind::Addr(ip)]);
        }
    }
    Ok(services)
}

/// Announces the new fingerprint when the certificate is renewed (registering a service again
/// updates it), or keeps it for [`Advertiser::resume`] while paused.
async fn follow_fingerprint(
    mut fingerprints: watch::Receiver<String>,
    config: AdvertiseConfig,
    daemon: ServiceDaemon,
    services: Arc<std::sync::Mutex<Vec<ServiceInfo>>>,
    state: MdnsState,
) {
    while fingerprints.changed().await.is_ok() {
        let fingerprint = fingerprints.borrow_and_update().clone();
        let Ok(renewed) = self::services(&config, Some(&fingerprint)) else {
            continue;
        };
        if let Ok(mut kept) = services.lock() {
            kept.clone_from(&renewed);
        }
        if state.get().enabled {
            for service in renewed {
                if let Err(error) = daemon.register(service) {
                    tracing::warn!(%error, "cannot announce the renewed certificate's fingerprint");
                }
            }
            tracing::info!("announcing the renewed certificate's fingerprint on the LAN");
        }
    }
}

/// Follows the responder's events: renames after a name conflict, and errors (logged once each).
async fn watch(events: mdns_sd::Receiver<DaemonEvent>, state: MdnsState) {
    let mut reported = std::collections::HashSet::new();
    while let Ok(event) = events.recv_async().await {
        match event {
            DaemonEvent::NameChange(change) => {
                let original = change.original.trim_end_matches('.').to_owned();
                let renamed = change.new_name.trim_end_matches('.').to_owned();
                if !reported.insert(format!("{original}->{renamed}")) {
                    continue;
                }
                tracing::warn!(
                    original,
                    renamed,
                    interface = change.intf_name,
                    "another machine on the LAN already uses this name; announcing under a free variant instead"
                );
                state.update(|s| {
                    let base = |full: &str| full.split("._").next().unwrap_or(full).to_owned();
                    if s.instance.as_deref() == Some(base(&original).as_str()) {
                        s.instance = Some(base(&renamed));
                    }
                    for host in &mut s.hostnames {
                        if *host == original {
                            *host = renamed.clone();
                        }
                    }
                });
            }
            DaemonEvent::IpAdd(ip) => tracing::info!(%ip, "new LAN address: re-announcing"),
            DaemonEvent::IpDel(ip) => tracing::info!(%ip, "LAN address gone: re-announcing"),
            DaemonEvent::Error(error) if reported.insert(error.to_string()) => {
                tracing::warn!(%error, "mDNS responder error");
            }
            _ => {}
        }
    }
}

/// Keeps the list of other servers on the LAN (this one excluded) up to date.
async fn follow_others(events: mdns_sd::Receiver<mdns_sd::ServiceEvent>, state: MdnsState) {
    let mut seen = std::collections::BTreeMap::new();
    while let Ok(event) = events.recv_async().await {
        match event {
            mdns_sd::ServiceEvent::ServiceResolved(service) => {
                if let Some(found) = to_found(&service) {
                    seen.insert(service.fullname.clone(), found);
                }
            }
            mdns_sd::ServiceEvent::ServiceRemoved(_, fullname) => {
                seen.remove(&fullname);
            }
            _ => continue,
        }
        let own = state.get().instance;
        let others = seen
            .values()
            .filter(|s| Some(&s.instance) != own.as_ref())
            .cloned()
            .collect();
        if let Ok(mut list) = state.others.write() {
            *list = others;
        }
    }
}
