//! Users and permissions driven by Apache Iggy's own Rust SDK (iggy 0.10.0) against
//! eddy-server, over TCP and WebSocket: root creates users with stream- and topic-scoped
//! permissions; each user may do exactly what its permissions grant (Iggy's `Unauthorized` for
//! the rest, and nothing changes); permission, status and password changes apply at once, to
//! sessions already logged in too; deleted users and their tokens stop working; root cannot be
//! deleted or restricted; users survive a kill -9.

mod common;

use std::collections::BTreeMap;

use common::{Server, Transport, anonymous, client, create_topic, temp_data_dir};
use iggy::prelude::*;

/// A connected client whose lost login the test can observe deterministically. The SDK answers
/// `Unauthenticated` by reconnecting (after `reestablish_after`, 5 s by default, since the last
/// connect) while its heartbeat task keeps pinging: a ping landing in that window sees the client
/// "connecting", reconnects on its own and leaves the request `NotConnected` (CI saw it). No
/// reconnect delay and one heartbeat at connect close that race; the server is the same.
async fn steady(server: &Server, transport: Transport) -> IggyClient {
    let hour = IggyDuration::new(std::time::Duration::from_secs(3600));
    let client = match transport {
        Transport::Tcp => {
            let mut config = TcpClientConfig {
                server_address: server.tcp.to_string(),
                heartbeat_interval: hour,
                ..Default::default()
            };
            config.reconnection.reestablish_after = IggyDuration::new(Default::default());
            ClientWrapper::Tcp(TcpClient::create(std::sync::Arc::new(config)).unwrap())
        }
        Transport::WebSocket => {
            let mut config = WebSocketClientConfig {
                server_address: server.ws.to_string(),
                heartbeat_interval: hour,
                ..Default::default()
            };
            config.reconnection.reestablish_after = IggyDuration::new(Default::default());
            ClientWrapper::WebSocket(WebSocketClient::create(std::sync::Arc::new(config)).unwrap())
        }
    };
    let client = IggyClient::new(client);
    client.connect().await.expect("connects");
    client
}

async fn login(server: &Server, transport: Transport, user: &str, password: &str) -> IggyClient {
    let c = steady(server, transport).await;
    c.login_user(user, password).await.unwrap_or_else(|e| panic!("{user} logs in: {e}"));
    c
}

fn unauthorized<T: std::fmt::Debug>(result: Result<T, IggyError>, what: &str) {
    assert!(matches!(result, Err(IggyError::Unauthorized)), "{what}: {result:?}");
}

fn one(payload: &str) -> Vec<IggyMessage> {
    vec![IggyMessage::builder().payload(bytes::Bytes::from(payload.to_owned())).build().unwrap()]
}

/// Read access to stream `s1` (its topics' messages included) and sending to its topic `t1`.
fn reader_of(s1: u32, t1: u32) -> Permissions {
    let mut topics = BTreeMap::new();
    topics.insert(t1 as usize, TopicPermissions { send_messages: true, ..Default::default() });
    let stream =
        StreamPermissions { read_stream: true, topics: Some(topics), ..Default::default() };
    let mut streams = BTreeMap::new();
    streams.insert(s1 as usize, stream);
    Permissions { global: GlobalPermissions::default(), streams: Some(streams) }
}

async fn messages_in(c: &IggyClient, stream: &Identifier, topic: &Identifier) -> u64 {
    c.get_topic(stream, topic).await.unwrap().unwrap().messages_count
}

async fn scenario(transport: Transport) {
    let dir = temp_data_dir(&format!("users-{transport:?}"));
    let server = Server::start(&dir, 2, true);
    let root = client(&server, transport).await;
    let s1 = root.create_stream("users-s1").await.unwrap().id;
    let s2 = root.create_stream("users-s2").await.unwrap().id;
    let (id1, id2) = (Identifier::numeric(s1).unwrap(), Identifier::numeric(s2).unwrap());
    let t1 = create_topic(&root, &id1, "t", 1).await.id;
    let t2 = create_topic(&root, &id2, "t", 1).await.id;
    let (tid1, tid2) = (Identifier::numeric(t1).unwrap(), Identifier::numeric(t2).unwrap());

    // Created with permissions, shown back as given, listed after root.
    let alice = root
        .create_user("alice", "alice-pw", UserStatus::Active, Some(reader_of(s1, t1)))
        .await
        .unwrap();
    assert_eq!(alice.username, "alice");
    let shown = root.get_user(&Identifier::named("alice").unwrap()).await.unwrap().unwrap();
    let perms = shown.permissions.expect("permissions shown");
    let stream = &perms.streams.as_ref().unwrap()[&(s1 as usize)];
    assert!(stream.read_stream && !stream.manage_stream);
    assert!(stream.topics.as_ref().unwrap()[&(t1 as usize)].send_messages);
    assert!(!perms.global.read_streams);
    let bob = root.create_user("bob", "bob-pw", UserStatus::Active, None).await.unwrap();
    let listed = root.get_users().await.unwrap();
    assert_eq!(
        listed.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
        ["iggy", "alice", "bob"]
    );
    assert_eq!(listed[0].id, 0);
    let again = root.create_user("alice", "x-pw-x", UserStatus::Active, None).await;
    assert!(matches!(again, Err(IggyError::UserAlreadyExists)), "{again:?}");
    let short = root.create_user("al", "alice-pw", UserStatus::Active, None).await;
    assert!(matches!(short, Err(IggyError::InvalidUsername)), "{short:?}");
    let weak = root.create_user("carol", "pw", UserStatus::Active, None).await;
    assert!(matches!(weak, Err(IggyError::InvalidPassword)), "{weak:?}");

    // Alice may do what she was given, and nothing else.
    let a = login(&server, transport, "alice", "alice-pw").await;
    assert_eq!(a.get_stream(&id1).await.unwrap().unwrap().id, s1);
    unauthorized(a.get_stream(&id2).await, "another stream");
    unauthorized(a.get_streams().await, "every stream needs a global right");
    assert_eq!(a.get_topics(&id1).await.unwrap().len(), 1);
    a.send_messages(&id1, &tid1, &Partitioning::partition_id(0), &mut one("ok")).await.unwrap();
    let to_s2 = a.send_messages(&id2, &tid2, &Partitioning::partition_id(0), &mut one("no")).await;
    unauthorized(to_s2, "sending to another stream");
    let consumer = Consumer::new(Identifier::numeric(1).unwrap());
    let polled = a
        .poll_messages(&id1, &tid1, Some(0), &consumer, &PollingStrategy::offset(0), 10, false)
        .await
        .unwrap();
    assert_eq!(polled.messages.len(), 1, "reading a stream polls its topics");
    let poll_s2 = a
        .poll_messages(&id2, &tid2, Some(0), &consumer, &PollingStrategy::offset(0), 10, false)
        .await;
    unauthorized(poll_s2, "polling another stream");
    unauthorized(a.store_consumer_offset(&consumer, &id2, &tid2, Some(0), 0).await, "offsets");
    unauthorized(a.create_stream("alices").await, "creating a stream");
    unauthorized(a.delete_stream(&id1).await, "deleting a readable stream");
    unauthorized(a.purge_topic(&id1, &tid1).await, "purging");
    unauthorized(a.create_consumer_group(&id2, &tid2, "g").await, "a group elsewhere");
    unauthorized(a.get_users().await, "listing users");
    unauthorized(a.get_user(&Identifier::named("bob").unwrap()).await, "another user");
    assert_eq!(
        a.get_user(&Identifier::named("alice").unwrap()).await.unwrap().unwrap().id,
        alice.id
    );
    unauthorized(a.create_user("mallory", "mallory-pw", UserStatus::Active, None).await, "users");
    unauthorized(a.delete_user(&Identifier::named("bob").unwrap()).await, "deleting bob");
    unauthorized(a.get_stats().await, "stats");
    unauthorized(a.get_clients().await, "clients");
    a.ping().await.unwrap();
    // Nothing the refusals asked for happened.
    assert_eq!(messages_in(&root, &id1, &tid1).await, 1);
    assert_eq!(messages_in(&root, &id2, &tid2).await, 0);
    assert_eq!(root.get_streams().await.unwrap().len(), 2);
    assert_eq!(root.get_users().await.unwrap().len(), 3);

    // Bob has no permissions at all: logged in, he may only look at himself.
    let b = login(&server, transport, "bob", "bob-pw").await;
    unauthorized(b.get_stream(&id1).await, "bob reads nothing");
    unauthorized(
        b.send_messages(&id1, &tid1, &Partitioning::partition_id(0), &mut one("x")).await,
        "bob sends nothing",
    );
    assert_eq!(b.get_me().await.unwrap().user_id, Some(bob.id));

    // A permission given now applies to the session already logged in.
    let mut perms = reader_of(s1, t1);
    perms.global.manage_streams = true;
    root.update_permissions(&Identifier::named("alice").unwrap(), Some(perms)).await.unwrap();
    a.create_stream("alices").await.unwrap();
    a.get_streams().await.unwrap();

    // Passwords: one's own, knowing it; a wrong one counts as a failed login.
    let me = Identifier::named("alice").unwrap();
    let wrong = a.change_password(&me, "not-it", "alice-pw2").await;
    assert!(matches!(wrong, Err(IggyError::InvalidCredentials)), "{wrong:?}");
    a.change_password(&me, "alice-pw", "alice-pw2").await.unwrap();
    let old = anonymous(&server, transport).await.login_user("alice", "alice-pw").await;
    assert!(matches!(old, Err(IggyError::InvalidCredentials)), "{old:?}");
    let a2 = login(&server, transport, "alice", "alice-pw2").await;
    unauthorized(b.change_password(&me, "alice-pw2", "bobs-now").await, "another's password");

    // Deactivated: the logged-in sessions lose their login, a new login is refused.
    let off = UserStatus::Inactive;
    root.update_user(&Identifier::named("alice").unwrap(), None, Some(off)).await.unwrap();
    let lost = a.get_stream(&id1).await;
    assert!(matches!(lost, Err(IggyError::Unauthenticated)), "{lost:?}");
    let refused = anonymous(&server, transport).await.login_user("alice", "alice-pw2").await;
    assert!(matches!(refused, Err(IggyError::UserInactive)), "{refused:?}");
    root.update_user(&Identifier::named("alice").unwrap(), None, Some(UserStatus::Active))
        .await
        .unwrap();
    a2.login_user("alice", "alice-pw2").await.unwrap();
    let token = a2
        .create_personal_access_token("alice-ci", PersonalAccessTokenExpiry::NeverExpire)
        .await
        .unwrap()
        .token;
    let by_token = anonymous(&server, transport).await;
    assert_eq!(by_token.login_with_personal_access_token(&token).await.unwrap().user_id, alice.id);

    // Root stays root.
    let root_id = Identifier::numeric(0).unwrap();
    let no = root.delete_user(&root_id).await;
    assert!(matches!(no, Err(IggyError::CannotDeleteUser(_))), "{no:?}");
    let no = root.update_permissions(&root_id, None).await;
    assert!(matches!(no, Err(IggyError::CannotChangePermissions(_))), "{no:?}");
    assert!(
        root.get_user(&root_id).await.unwrap().unwrap().permissions.unwrap().global.manage_users
    );

    // Users survive a kill -9, with their passwords and permissions.
    drop((a, a2, b, by_token));
    server.kill();
    let server = Server::start(&dir, 2, true);
    let root = client(&server, transport).await;
    let a = login(&server, transport, "alice", "alice-pw2").await;
    a.create_stream("after-restart").await.unwrap();
    unauthorized(a.get_users().await, "still no user rights");
    let b = login(&server, transport, "bob", "bob-pw").await;

    // Deleted: the session and the token stop working, the name can log in no more.
    root.delete_user(&Identifier::named("alice").unwrap()).await.unwrap();
    let lost = a.get_streams().await;
    assert!(matches!(lost, Err(IggyError::Unauthenticated)), "{lost:?}");
    let gone = anonymous(&server, transport).await.login_user("alice", "alice-pw2").await;
    assert!(matches!(gone, Err(IggyError::InvalidCredentials)), "{gone:?}");
    let gone = anonymous(&server, transport).await.login_with_personal_access_token(&token).await;
    assert!(gone.is_err(), "a deleted user's token: {gone:?}");
    assert!(root.get_user(&Identifier::named("alice").unwrap()).await.unwrap().is_none());
    b.ping().await.unwrap();
    let stored = std::fs::read_to_string(dir.join("users.json")).unwrap();
    assert!(!stored.contains("bob-pw"), "only hashes are stored");
    drop((a, b, root));
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_permissions_over_tcp() {
    scenario(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_permissions_over_websocket() {
    scenario(Transport::WebSocket).await;
}
