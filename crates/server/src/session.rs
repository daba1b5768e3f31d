//! One connection's login state and identity, and the permission rule: before login only PING and
//! LOGIN_USER are served. No I/O.

use eddy_wire::codes::command;

use crate::error::ServerError;

/// A client connection's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub client_id: u32,
    /// Set by a successful LOGIN_USER.
    pub user_id: Option<u32>,
    /// `system::TRANSPORT_TCP` or `system::TRANSPORT_WEBSOCKET`.
    pub transport: u8,
    pub address: String,
}

impl Session {
    pub fn new(client_id: u32, transport: u8, address: String) -> Self {
        Self { client_id, user_id: None, transport, address }
    }

    /// Fails with `Unauthenticated` unless `code` may run in this session.
    pub fn authorize(&self, code: u32) -> Result<(), ServerError> {
        match (code, self.user_id) {
            (command::PING | command::LOGIN_USER, _) | (_, Some(_)) => Ok(()),
            (_, None) => Err(ServerError::Unauthenticated),
        }
    }
}
