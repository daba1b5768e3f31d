//! The rest of the 0.11 wire with Apache Iggy's Rust SDK 0.11.0, over TCP and WebSocket:
//! users with permissions (a user without them is refused), passwords, personal access tokens
//! (login by token, refused after deletion), consumer groups (two members share a topic's
//! partitions through SYNC_CONSUMER_GROUP and together read every message once), topic
//! updates that patch only the options named, the option catalog, stats, and a refused login
//! that leaves the connection usable.

mod common;

use std::collections::HashSet;

use common::{Server, Transport, anonymous, client, temp_data_dir};
use iggy::prelude::*;

async fn users_and_tokens(server: &Server, transport: Transport) {
    let root = client(server, transport).await;
    let name = format!("ann-{transport:?}").to_lowercase();
    let reader = Permissions {
        global: GlobalPermissions { read_streams: true, ..Default::default() },
        streams: None,
    };
    let created =
        root.create_user(&name, "secret-1", UserStatus::Active, Some(reader)).await.unwrap();
    assert_eq!(created.username, name);
    assert!(created.permissions.as_ref().is_some_and(|p| p.global.read_streams));
    let uid = Identifier::named(&name).unwrap();
    let got = root.get_user(&uid).await.unwrap().unwrap();
    assert_eq!((got.id, got.status), (created.id, UserStatus::Active));
    assert!(root.get_users().await.unwrap().iter().any(|u| u.username == name));

    let ann = anonymous(server, transport).await;
    let me = ann.login_user(&name, "secret-1").await.unwrap();
    assert_eq!(me.user_id, created.id);
    ann.get_streams().await.unwrap();
    let err = ann.create_stream(&format!("by-{name}")).await.unwrap_err();
    assert_eq!(err.as_code(), IggyError::Unauthorized.as_code(), "reading only");

    root.change_password(&uid, "secret-1", "secret-2").await.unwrap();
    root.update_user(&uid, Some(&format!("{name}-2")), None, &UserUpdateOptions::default())
        .await
        .unwrap();
    let renamed = Identifier::named(&format!("{name}-2")).unwrap();
    root.update_permissions(
        &renamed,
        Some(Permissions {
            global: GlobalPermissions {
                manage_streams: true,
                read_streams: true,
                ..Default::default()
            },
            streams: None,
        }),
    )
    .await
    .unwrap();
    let again = anonymous(server, transport).await;
    assert!(again.login_user(&format!("{name}-2"), "secret-1").await.is_err(), "old password");
    again.login_user(&format!("{name}-2"), "secret-2").await.unwrap();
    let stream = format!("by-{name}");
    again.create_stream(&stream).await.unwrap();

    // Tokens: created, listed, logged in with, deleted (then refused).
    let token = again
        .create_personal_access_token("token-1", PersonalAccessTokenExpiry::NeverExpire)
        .await
        .unwrap();
    assert!(again.get_personal_access_tokens().await.unwrap().iter().any(|t| t.name == "token-1"));
    let by_token = anonymous(server, transport).await;
    let who = by_token.login_with_personal_access_token(&token.token).await.unwrap();
    assert_eq!(who.user_id, created.id);
    by_token.get_stream(&Identifier::named(&stream).unwrap()).await.unwrap().unwrap();
    again.delete_personal_access_token("token-1").await.unwrap();
    let late = anonymous(server, transport).await;
    assert!(late.login_with_personal_access_token(&token.token).await.is_err());
    late.login_user("iggy", "iggy").await.unwrap();

    root.delete_stream(&Identifier::named(&stream).unwrap()).await.unwrap();
    root.delete_user(&renamed).await.unwrap();
    assert!(root.get_user(&renamed).await.unwrap().is_none());
}

async fn groups(server: &Server, transport: Transport) {
    let root = client(server, transport).await;
    let stream_name = format!("groups-{transport:?}");
    root.create_stream(&stream_name).await.unwrap();
    let s = Identifier::named(&stream_name).unwrap();
    let t = Identifier::named("work").unwrap();
    let options = TopicCreateOptions { partitions_count: Some(4), ..Default::default() };
    root.create_topic(&s, "work", &options).await.unwrap();
    let g = Identifier::named("workers").unwrap();
    let created = root.create_consumer_group(&s, &t, "workers").await.unwrap();
    assert_eq!(created.name, "workers");
    for p in 0..4u32 {
        let mut batch: Vec<IggyMessage> = (0..50)
            .map(|i| IggyMessage::builder().payload(format!("{p}:{i}").into()).build().unwrap())
            .collect();
        root.send_messages(&s, &t, &Partitioning::partition_id(p), &mut batch).await.unwrap();
    }
    let a = client(server, transport).await;
    let b = client(server, transport).await;
    a.join_consumer_group(&s, &t, &g).await.unwrap();
    b.join_consumer_group(&s, &t, &g).await.unwrap();
    let details = root.get_consumer_group(&s, &t, &g).await.unwrap().unwrap();
    assert_eq!(details.members_count, 2);
    let group = Consumer::group(g.clone());
    let mut seen: [Vec<(u32, String)>; 2] = [Vec::new(), Vec::new()];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen[0].len() + seen[1].len() < 200 && std::time::Instant::now() < deadline {
        for (k, c) in [&a, &b].into_iter().enumerate() {
            let polled = c
                .poll_messages(&s, &t, None, &group, &PollingStrategy::next(), 20, true)
                .await
                .unwrap();
            for m in polled.messages {
                seen[k].push((polled.partition_id, String::from_utf8(m.payload.to_vec()).unwrap()));
            }
        }
    }
    let all: HashSet<&str> = seen.iter().flatten().map(|(_, m)| m.as_str()).collect();
    assert_eq!(all.len(), 200, "every message once");
    assert_eq!(seen[0].len() + seen[1].len(), 200, "none twice");
    let parts: Vec<HashSet<u32>> =
        seen.iter().map(|s| s.iter().map(|(p, _)| *p).collect()).collect();
    assert!(!parts[0].is_empty() && !parts[1].is_empty(), "both members took a share: {parts:?}");
    assert!(parts[0].is_disjoint(&parts[1]), "a partition read by both members: {parts:?}");
    for (p, m) in seen.iter().flatten() {
        assert!(m.starts_with(&format!("{p}:")), "the partition the SDK reports is the message's");
    }
    a.leave_consumer_group(&s, &t, &g).await.unwrap();
    root.delete_consumer_group(&s, &t, &g).await.unwrap();
    assert!(root.get_consumer_groups(&s, &t).await.unwrap().is_empty());

    // A topic update patches what it names and keeps the rest.
    let patch = TopicUpdateOptions {
        max_topic_size: Some(MaxTopicSize::from(5_000_000u64)),
        ..Default::default()
    };
    root.update_topic(&s, &t, "work-2", &patch).await.unwrap();
    let topic = root.get_topic(&s, &Identifier::named("work-2").unwrap()).await.unwrap().unwrap();
    assert_eq!(u64::from(topic.max_topic_size), 5_000_000);
    assert_eq!(topic.partitions_count, 4);
    root.delete_stream(&s).await.unwrap();
}

/// A second member joins while the first is consuming: the partitions it is owed move over
/// (the first member's polls of them answer 5009 and its SDK syncs again), and between them
/// the two read every message exactly once (auto-commit on poll).
async fn join_while_consuming(server: &Server, transport: Transport) {
    let root = client(server, transport).await;
    let stream_name = format!("rebalance-{transport:?}");
    root.create_stream(&stream_name).await.unwrap();
    let s = Identifier::named(&stream_name).unwrap();
    let t = Identifier::named("work").unwrap();
    let options = TopicCreateOptions { partitions_count: Some(4), ..Default::default() };
    root.create_topic(&s, "work", &options).await.unwrap();
    let g = Identifier::named("late").unwrap();
    root.create_consumer_group(&s, &t, "late").await.unwrap();
    for p in 0..4u32 {
        let mut batch: Vec<IggyMessage> = (0..100)
            .map(|i| IggyMessage::builder().payload(format!("{p}:{i}").into()).build().unwrap())
            .collect();
        root.send_messages(&s, &t, &Partitioning::partition_id(p), &mut batch).await.unwrap();
    }
    let group = Consumer::group(g.clone());
    let a = client(server, transport).await;
    a.join_consumer_group(&s, &t, &g).await.unwrap();
    let mut seen: [Vec<(u32, String)>; 2] = [Vec::new(), Vec::new()];
    let poll = async |c: &IggyClient, into: &mut Vec<(u32, String)>| {
        let polled = c
            .poll_messages(&s, &t, None, &group, &PollingStrategy::next(), 10, true)
            .await
            .unwrap();
        for m in polled.messages {
            into.push((polled.partition_id, String::from_utf8(m.payload.to_vec()).unwrap()));
        }
    };
    for _ in 0..8 {
        poll(&a, &mut seen[0]).await;
    }
    let alone: HashSet<u32> = seen[0].iter().map(|(p, _)| *p).collect();
    assert_eq!(alone.len(), 4, "alone, the first member reads every partition");
    let b = client(server, transport).await;
    b.join_consumer_group(&s, &t, &g).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut after_join_b = 0;
    while seen[0].len() + seen[1].len() < 400 && std::time::Instant::now() < deadline {
        poll(&a, &mut seen[0]).await;
        let before = seen[1].len();
        poll(&b, &mut seen[1]).await;
        after_join_b += seen[1].len() - before;
    }
    let all: HashSet<&str> = seen.iter().flatten().map(|(_, m)| m.as_str()).collect();
    assert_eq!(all.len(), 400, "every message");
    assert_eq!(seen[0].len() + seen[1].len(), 400, "none twice");
    assert!(after_join_b > 0, "the member that joined late got partitions");
    root.delete_stream(&s).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_tokens_groups_and_the_rest_work_over_both_transports() {
    let dir = temp_data_dir("v011-resources");
    let server = Server::start(&dir, 2, false);
    for transport in [Transport::Tcp, Transport::WebSocket] {
        users_and_tokens(&server, transport).await;
        groups(&server, transport).await;
        join_while_consuming(&server, transport).await;
        let root = client(&server, transport).await;
        let stats = root.get_stats().await.unwrap();
        assert!(stats.clients_count >= 1);
        let catalog = root.describe_options(OptionsScope::Topic).await.unwrap();
        assert!(catalog.iter().any(|o| o.key == "message_expiry"), "{catalog:?}");
        assert!(root.describe_options(OptionsScope::User).await.unwrap().is_empty());
    }
    std::fs::remove_dir_all(&dir).ok();
}
