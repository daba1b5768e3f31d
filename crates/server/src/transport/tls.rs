//! TLS for the listeners (rustls with ring, through eddy-ws's compio-tls support): builds the
//! acceptors `[tcp.tls]` and `[websocket.tls]` ask for from their PEM files, once at start. The
//! TCP acceptor offers no ALPN (Iggy's TCP clients send none); the WebSocket one offers
//! `http/1.1`. No sockets.

use std::sync::Arc;

use eddy_ws::tls::{TlsAcceptor, TlsError, server_config};

use crate::config::{Config, TlsConfig};

/// The listeners' acceptors, for those that enable TLS.
#[derive(Clone, Default)]
pub struct Acceptors {
    pub tcp: Option<TlsAcceptor>,
    pub websocket: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Acceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptors")
            .field("tcp", &self.tcp.is_some())
            .field("websocket", &self.websocket.is_some())
            .finish()
    }
}

impl Acceptors {
    /// Reads the certificates and keys the configuration names.
    pub fn from_config(config: &Config) -> Result<Self, TlsError> {
        let build = |tls: &TlsConfig, alpn: bool| -> Result<Option<TlsAcceptor>, TlsError> {
            if !tls.enabled {
                return Ok(None);
            }
            let mut server = server_config(&tls.cert_file, &tls.key_file)?;
            if !alpn {
                Arc::make_mut(&mut server).alpn_protocols.clear();
            }
            Ok(Some(TlsAcceptor::from(server)))
        };
        Ok(Self {
            tcp: build(&config.tcp.tls, false)?,
            websocket: build(&config.websocket.tls, true)?,
        })
    }
}
