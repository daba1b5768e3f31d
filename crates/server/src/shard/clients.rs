//! The clients connected to this shard (id, user, transport, address), for GET_CLIENT and
//! GET_CLIENTS. Each shard knows only its own connections; a listing asks every shard by
//! message (`ClientsQuery`) and merges the answers. Touches no socket and no other shard's state.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One connected client as GET_CLIENT(S) report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub client_id: u32,
    /// The logged-in user, if any.
    pub user_id: Option<u32>,
    pub transport: u8,
    pub address: String,
}

/// This shard's connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    map: RefCell<BTreeMap<u32, ClientInfo>>,
}

impl Clients {
    /// Records a new connection; it is forgotten when the returned guard drops.
    pub fn register(self: &Rc<Self>, info: ClientInfo) -> Registration {
        let client_id = info.client_id;
        self.map.borrow_mut().insert(client_id, info);
        Registration { clients: self.clone(), client_id }
    }

    /// Records who a connection is logged in as (`None` after a logout).
    pub fn set_user(&self, client_id: u32, user_id: Option<u32>) {
        if let Some(info) = self.map.borrow_mut().get_mut(&client_id) {
            info.user_id = user_id;
        }
    }

    /// The clients matching `only` (one id, or all), in id order.
    pub fn list(&self, only: Option<u32>) -> Vec<ClientInfo> {
        let map = self.map.borrow();
        match only {
            Some(id) => map.get(&id).cloned().into_iter().collect(),
            None => map.values().cloned().collect(),
        }
    }
}

/// A connection's entry in its shard's [`Clients`], removed on drop.
#[derive(Debug)]
pub struct Registration {
    clients: Rc<Clients>,
    client_id: u32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.clients.map.borrow_mut().remove(&self.client_id);
    }
}

/// A request to one shard for its clients (one id, or all).
pub struct ClientsQuery {
    pub only: Option<u32>,
    pub reply: flume::Sender<Vec<ClientInfo>>,
}

/// Answers queries from other shards (and this one) until every sender is gone.
pub async fn serve_queries(clients: Rc<Clients>, rx: flume::Receiver<ClientsQuery>) {
    while let Ok(query) = rx.recv_async().await {
        query.reply.send(clients.list(query.only)).ok();
    }
}

/// Asks every shard for its clients matching `only`; merged in id order. A shard that does not
/// answer (stopping) contributes nothing.
pub async fn gather(shards: &[flume::Sender<ClientsQuery>], only: Option<u32>) -> Vec<ClientInfo> {
    let mut replies = Vec::with_capacity(shards.len());
    for shard in shards {
        let (reply, rx) = flume::bounded(1);
        if shard.send_async(ClientsQuery { only, reply }).await.is_ok() {
            replies.push(rx);
        }
    }
    let mut all = Vec::new();
    for rx in replies {
        if let Ok(mut clients) = rx.recv_async().await {
            all.append(&mut clients);
        }
    }
    all.sort_by_key(|c| c.client_id);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(client_id: u32) -> ClientInfo {
        ClientInfo {
            client_id,
            user_id: None,
            transport: 1,
            address: format!("10.0.0.1:{client_id}"),
        }
    }

    #[test]
    fn a_registration_lasts_as_long_as_its_guard_and_logins_are_recorded() {
        let clients = Rc::new(Clients::default());
        let a = clients.register(info(1));
        let b = clients.register(info(2));
        clients.set_user(2, Some(0));
        assert_eq!(clients.list(Some(2))[0].user_id, Some(0));
        assert_eq!(clients.list(None).iter().map(|c| c.client_id).collect::<Vec<_>>(), [1, 2]);
        drop(a);
        assert!(clients.list(Some(1)).is_empty());
        clients.set_user(1, Some(0)); // gone: nothing to update, nothing added
        assert_eq!(clients.list(None).len(), 1);
        drop(b);
        assert!(clients.list(None).is_empty());
    }

    #[compio::test]
    async fn gather_merges_every_shard_in_id_order() {
        let (one, two) = (Rc::new(Clients::default()), Rc::new(Clients::default()));
        let _guards = [one.register(info(3)), two.register(info(1)), one.register(info(2))];
        let mut senders = Vec::new();
        for clients in [one, two] {
            let (tx, rx) = flume::unbounded();
            compio::runtime::spawn(serve_queries(clients, rx)).detach();
            senders.push(tx);
        }
        let all = gather(&senders, None).await;
        assert_eq!(all.iter().map(|c| c.client_id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(gather(&senders, Some(2)).await, vec![info(2)]);
        assert!(gather(&senders, Some(9)).await.is_empty());
    }
}
