//! Connection caps shared by every shard and both transports: at most `max_connections` open
//! client connections per server and `max_connections_per_ip` per peer address. A connection
//! holds a [`Permit`] for its lifetime; dropping it gives the slot back. Touched at accept and
//! close only, never on the message path. No sockets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the server holds its maximum of {0} connections")]
    ServerFull(u32),
    #[error("this address holds its maximum of {0} connections")]
    AddressFull(u32),
}

/// The shared counts.
#[derive(Debug)]
pub struct Admission {
    max_total: u32,
    max_per_ip: u32,
    total: AtomicU32,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
}

/// One admitted connection's slot.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    pub fn new(max_total: u32, max_per_ip: u32) -> Self {
        Self { max_total, max_per_ip, total: AtomicU32::new(0), per_ip: Mutex::new(HashMap::new()) }
    }

    /// Connections open now.
    pub fn open(&self) -> u32 {
        self.total.load(Ordering::Relaxed)
    }

    /// Admits a connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if self.total.load(Ordering::Relaxed) >= self.max_total {
            return Err(Refusal::ServerFull(self.max_total));
        }
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::AddressFull(self.max_per_ip));
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(Permit { admission: self.clone(), ip })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut per_ip = self.admission.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.admission.total.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_per_server_and_slots_come_back() {
        let a = Arc::new(Admission::new(3, 2));
        let (x, y): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let p1 = a.admit(x).unwrap();
        let p2 = a.admit(x).unwrap();
        assert_eq!(a.admit(x).unwrap_err(), Refusal::AddressFull(2));
        let p3 = a.admit(y).unwrap();
        assert_eq!(a.admit(y).unwrap_err(), Refusal::ServerFull(3));
        assert_eq!(a.open(), 3);
        drop(p1);
        let p4 = a.admit(x).unwrap();
        drop((p2, p3, p4));
        assert_eq!(a.open(), 0);
        assert!(a.per_ip.lock().unwrap().is_empty(), "no entry left behind");
    }
}
