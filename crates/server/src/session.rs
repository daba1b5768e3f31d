//! One connection's login state and identity, the permission rule (before login only PING,
//! LOGIN_USER and LOGIN_WITH_PERSONAL_ACCESS_TOKEN are served), and the deadlines its reads run
//! under. No I/O.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eddy_wire::codes::command;

use crate::error::ServerError;

/// Which of Iggy's wires a connection speaks; every request of a connection comes on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// No whole request header seen yet.
    Unknown,
    /// Iggy 0.8 (SDK 0.10): `[length u32][code u32]` requests.
    V08,
    /// Iggy 0.9 (protocol 0.11, SDK 0.11): 256-byte headers; `session` is the id its
    /// registration (LOGIN_REGISTER) handed out, 0 before.
    V011 { session: u64 },
}

/// A client connection's session.
#[derive(Debug)]
pub struct Session {
    pub client_id: u32,
    /// Set by a successful LOGIN_USER.
    pub user_id: Option<u32>,
    /// `system::TRANSPORT_TCP` or `system::TRANSPORT_WEBSOCKET`.
    pub transport: u8,
    pub peer: SocketAddr,
    pub address: String,
    /// Failed LOGIN_USER attempts on this connection.
    pub failed_logins: u32,
    /// Set by a handler when the connection must close after its reply.
    pub close: Option<&'static str>,
    /// Set by a deferred poll's handler: the transport waits for its reply.
    pub pending_poll: Option<crate::shard::message::PendingPoll>,
    /// The transport can watch the socket while it waits (not over TLS): push subscriptions
    /// need it.
    pub watchable: bool,
    /// Push subscriptions (none until the first SUBSCRIBE: a connection at rest pays nothing).
    pub subscriptions: Option<Box<crate::push::Subscriptions>>,
    /// Consumer groups joined (none until the first JOIN_CONSUMER_GROUP).
    pub groups: Option<Box<crate::groups::Memberships>>,
    /// The wire the client speaks, told from its first bytes (`transport::wire`).
    pub wire: Wire,
    /// Until when the connection may stay without logging in.
    login_deadline: Instant,
    login_timeout: Duration,
}

impl Session {
    pub fn new(client_id: u32, transport: u8, peer: SocketAddr, login_timeout: Duration) -> Self {
        Self {
            client_id,
            user_id: None,
            transport,
            peer,
            address: peer.to_string(),
            failed_logins: 0,
            close: None,
            pending_poll: None,
            subscriptions: None,
            groups: None,
            watchable: true,
            wire: Wire::Unknown,
            login_deadline: Instant::now() + login_timeout,
            login_timeout,
        }
    }

    /// What GET_CLIENT(S) report of this connection.
    pub fn client_info(&self) -> crate::shard::clients::ClientInfo {
        crate::shard::clients::ClientInfo {
            client_id: self.client_id,
            user_id: self.user_id,
            transport: self.transport,
            address: self.address.clone(),
        }
    }

    /// Logs out: the connection must log in again within the login timeout.
    pub fn logout(&mut self) {
        self.user_id = None;
        self.login_deadline = Instant::now() + self.login_timeout;
    }

    /// When the next read must have completed: the login deadline before login, and
    /// `request_timeout` from now while a request is partly received; none for an idle
    /// logged-in connection.
    pub fn read_deadline(&self, partial: bool, request_timeout: Duration) -> Option<Instant> {
        let request = partial.then(|| Instant::now() + request_timeout);
        match (self.user_id, request) {
            (None, Some(r)) => Some(r.min(self.login_deadline)),
            (None, None) => Some(self.login_deadline),
            (Some(_), r) => r,
        }
    }

    /// Fails with `Unauthenticated` unless `code` may run in this session.
    pub fn authorize(&self, code: u32) -> Result<(), ServerError> {
        match (code, self.user_id) {
            (
                command::PING | command::LOGIN_USER | command::LOGIN_WITH_PERSONAL_ACCESS_TOKEN,
                _,
            )
            | (_, Some(_)) => Ok(()),
            (_, None) => Err(ServerError::Unauthenticated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_bound_unauthenticated_and_half_sent_connections_only() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let mut s = Session::new(1, 1, peer, Duration::from_secs(10));
        let long = Duration::from_secs(3600);
        let d = s.read_deadline(false, long).unwrap();
        assert!(d <= Instant::now() + Duration::from_secs(10));
        assert_eq!(s.read_deadline(true, long), Some(d), "the login deadline is the earlier one");
        s.user_id = Some(0);
        assert_eq!(s.read_deadline(false, long), None, "idle and logged in: no deadline");
        assert!(s.read_deadline(true, Duration::from_secs(1)).is_some());
        s.logout();
        assert!(s.read_deadline(false, long).is_some());
        assert!(s.authorize(command::GET_STREAMS).is_err());
    }
}
