//! Personal access tokens driven by Apache Iggy's own Rust SDK (iggy 0.10.0) against
//! eddy-server, over TCP and WebSocket: created (shown once) and listed, used to log in on a
//! new connection, refused when wrong, expired or deleted (with Iggy's error codes), kept across
//! a restart; a wrong token counts as a failed login.

mod common;

use std::time::Duration;

use common::{Server, Transport, anonymous, client, temp_data_dir};
use iggy::prelude::*;

async fn scenario(transport: Transport) {
    let dir = temp_data_dir(&format!("tokens-{transport:?}"));
    let server = Server::start(&dir, 2, true);
    let admin = client(&server, transport).await;
    let forever = admin
        .create_personal_access_token("ci-forever", PersonalAccessTokenExpiry::NeverExpire)
        .await
        .unwrap()
        .token;
    let brief = admin
        .create_personal_access_token(
            "ci-brief",
            PersonalAccessTokenExpiry::ExpireDuration(Duration::from_millis(1500).into()),
        )
        .await
        .unwrap()
        .token;
    assert_ne!(forever, brief);
    let again = admin
        .create_personal_access_token("ci-forever", PersonalAccessTokenExpiry::NeverExpire)
        .await;
    assert!(matches!(again, Err(IggyError::PersonalAccessTokenAlreadyExists(..))), "{again:?}");
    let mut listed = admin.get_personal_access_tokens().await.unwrap();
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["ci-brief", "ci-forever"]
    );
    assert!(listed[0].expiry_at.is_some() && listed[1].expiry_at.is_none());

    // A new connection logs in with either token and works as the user.
    let by_token = anonymous(&server, transport).await;
    assert!(by_token.get_streams().await.is_err(), "not logged in yet");
    let me = by_token.login_with_personal_access_token(&forever).await.unwrap();
    assert_eq!(me.user_id, 0, "the root user's token");
    by_token.create_stream("made-with-a-token").await.unwrap();
    anonymous(&server, transport).await.login_with_personal_access_token(&brief).await.unwrap();
    let wrong = anonymous(&server, transport).await;
    let refused = wrong.login_with_personal_access_token("not-a-token").await;
    assert!(matches!(refused, Err(IggyError::InvalidPersonalAccessToken)), "{refused:?}");
    wrong.ping().await.unwrap();

    // The brief one expires; a deleted one stops working.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let expired =
        anonymous(&server, transport).await.login_with_personal_access_token(&brief).await;
    assert!(matches!(expired, Err(IggyError::PersonalAccessTokenExpired(..))), "{expired:?}");
    assert_eq!(admin.get_personal_access_tokens().await.unwrap().len(), 1, "expired: not listed");
    drop((by_token, wrong, admin));

    // Kept across a restart, then deleted.
    server.kill();
    let server = Server::start(&dir, 2, true);
    let c = anonymous(&server, transport).await;
    c.login_with_personal_access_token(&forever).await.unwrap();
    c.delete_personal_access_token("ci-forever").await.unwrap();
    let gone = anonymous(&server, transport).await.login_with_personal_access_token(&forever).await;
    assert!(gone.is_err(), "deleted: {gone:?}");
    let stored = std::fs::read_to_string(dir.join("personal_access_tokens.json")).unwrap();
    assert!(!stored.contains(&forever) && !stored.contains(&brief), "only digests are stored");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_access_tokens_over_tcp() {
    scenario(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_access_tokens_over_websocket() {
    scenario(Transport::WebSocket).await;
}
