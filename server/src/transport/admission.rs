//! Admission at the HTTP handshake: a slot per transport connection, held by a [`Ticket`] for
//! the session's whole life, under a total cap and a per-address cap, so one host on the LAN
//! cannot starve the rest. This is the only place the connection caps are enforced: a peer
//! that reaches the hub has its slot. The address is the TCP peer's: forwarding headers such as
//! `X-Forwarded-For` are never read, so a client cannot claim to be somebody else.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// Every connection slot is taken.
    #[error("the server is full ({0} connections)")]
    ServerFull(usize),
    /// This address already holds its share.
    #[error("too many connections from {addr} (at most {limit} per address)")]
    AddressFull { addr: IpAddr, limit: usize },
}

/// Counts live transport connections, in total and per address.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

struct Inner {
    max_total: usize,
    max_per_address: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
    /// Whether the "full" episode has been logged (one line per episode, not per refusal).
    full_logged: bool,
    /// Addresses whose "too many" episode has been logged.
    crowded_logged: HashSet<IpAddr>,
}

/// One admitted connection's slot; dropping it frees the slot.
pub struct Ticket {
    inner: Arc<Inner>,
    addr: IpAddr,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ticket({})", self.addr)
    }
}

impl Admission {
    /// Admission under these caps.
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_total: max_total.max(1),
                max_per_address: max_per_address.max(1),
                counts: Mutex::new(Counts::default()),
            }),
        }
    }

    /// The total cap.
    pub fn max_total(&self) -> usize {
        self.inner.max_total
    }

    /// Connections admitted and not yet ended.
    pub fn live(&self) -> usize {
        self.inner.lock().total
    }

    /// Takes a slot for a connection from `addr`, or says why not.
    pub fn admit(&self, addr: IpAddr) -> Result<Ticket, AdmissionError> {
        let addr = addr.to_canonical();
        let inner = &self.inner;
        let mut counts = inner.lock();
        if counts.total >= inner.max_total {
            if !counts.full_logged {
                counts.full_logged = true;
                tracing::warn!(
                    limit = inner.max_total,
                    "the server is full: new connections get HTTP 503 until some leave (see --max-connections and the open-file limit)"
                );
            }
            return Err(AdmissionError::ServerFull(inner.max_total));
        }
        let mine = counts.per_address.get(&addr).copied().unwrap_or(0);
        if mine >= inner.max_per_address {
            if counts.crowded_logged.insert(addr) {
                tracing::warn!(
                    %addr,
                    limit = inner.max_per_address,
                    "too many connections from one address: it gets HTTP 503 until some of its connections end (see --max-connections-per-address)"
                );
            }
            return Err(AdmissionError::AddressFull {
                addr,
                limit: inner.max_per_address,
            });
        }
        counts.total += 1;
        *counts.per_address.entry(addr).or_default() += 1;
        Ok(Ticket {
            inner: inner.clone(),
            addr,
        })
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let inner = &self.inner;
        let mut counts = inner.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_address.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                counts.per_address.remove(&self.addr);
            }
        }
        let mine = counts.per_address.get(&self.addr).copied().unwrap_or(0);
        if mine < inner.max_per_address && counts.crowded_logged.remove(&self.addr) {
            tracing::info!(addr = %self.addr, "accepting connections from this address again");
        }
        if counts.full_logged && counts.total < inner.max_total {
            counts.full_logged = false;
            tracing::info!("accepting connections again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn caps_hold_and_slots_come_back() {
        let admission = Admission::new(3, 2);
        let a1 = admission.admit(ip(1)).unwrap();
        let _a2 = admission.admit(ip(1)).unwrap();
        assert_eq!(
            admission.admit(ip(1)).unwrap_err(),
            AdmissionError::AddressFull {
                addr: ip(1),
                limit: 2
            }
        );
        let _b1 = admission.admit(ip(2)).unwrap();
        assert_eq!(
            admission.admit(ip(3)).unwrap_err(),
            AdmissionError::ServerFull(3)
        );
        drop(a1);
        assert_eq!(admission.live(), 2);
        assert!(admission.admit(ip(3)).is_ok());
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_the_ipv4_one() {
        let admission = Admission::new(10, 1);
        let _t = admission.admit(ip(1)).unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(admission.admit(mapped).is_err());
    }
}
