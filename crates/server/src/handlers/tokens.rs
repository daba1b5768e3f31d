//! Personal access token commands (41–44): the logged-in user's tokens (`auth::tokens`), and
//! logging in with one. Saving the token file runs off the shard's thread.

use bytes::BytesMut;
use eddy_wire::commands::tokens::{
    self, EXPIRY_NEVER, EXPIRY_SERVER_DEFAULT, NO_EXPIRY_AT, encode_info, encode_token,
};

use super::system::{failed_login, logged_in, login_backoff};
use crate::auth::TokenError;
use crate::error::ServerError;
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::partition::now_micros;
use crate::transport::conn::Reply;

/// The logged-in user (the dispatcher lets no other session reach these handlers).
fn user(session: &Session) -> Result<u32, ServerError> {
    session.user_id.ok_or(ServerError::Unauthenticated)
}

/// Runs `f` on the token store off the shard's thread (it may write and sync the file).
pub(super) async fn with_tokens<T: Send + 'static>(
    ctx: &ShardCtx,
    f: impl FnOnce(&mut crate::auth::Tokens) -> Result<T, TokenError> + Send + 'static,
) -> Result<T, ServerError> {
    let shared = ctx.shared.clone();
    let run = move || match shared.tokens.lock() {
        Ok(mut tokens) => f(&mut tokens).map_err(ServerError::from),
        Err(_) => Err(ServerError::Internal("the token store is poisoned")),
    };
    compio::runtime::spawn_blocking(run)
        .await
        .unwrap_or(Err(ServerError::Internal("the token store task failed")))
}

/// GET_PERSONAL_ACCESS_TOKENS: the user's tokens that have not expired.
pub async fn get_all(ctx: &ShardCtx, session: &Session) -> Result<Reply, ServerError> {
    let user = user(session)?;
    let now = now_micros();
    let listed = with_tokens(ctx, move |t| Ok(t.list(user, now))).await?;
    let mut out = BytesMut::new();
    for (name, expiry_at) in listed {
        encode_info(&name, expiry_at.unwrap_or(NO_EXPIRY_AT), &mut out);
    }
    Ok(Reply::ok(out))
}

/// CREATE_PERSONAL_ACCESS_TOKEN: replies with the token, the only time it is sent. An expiry
/// of 0 (the server's default) or u64::MAX: never expires.
pub async fn create(
    ctx: &ShardCtx,
    session: &Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let user = user(session)?;
    let (name, expiry) = tokens::decode_create(payload)?;
    let now = now_micros();
    let expiry_at = match expiry {
        EXPIRY_SERVER_DEFAULT | EXPIRY_NEVER => None,
        us => Some(now.saturating_add(us)),
    };
    let token = with_tokens(ctx, move |t| t.create(user, &name, expiry_at, now)).await?;
    let mut out = BytesMut::with_capacity(1 + token.len());
    encode_token(&token, &mut out);
    Ok(Reply::ok(out))
}

pub async fn delete(
    ctx: &ShardCtx,
    session: &Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let user = user(session)?;
    let name = tokens::decode_name(payload, "token name")?;
    with_tokens(ctx, move |t| t.delete(user, &name)).await?;
    Ok(Reply::default())
}

/// LOGIN_WITH_PERSONAL_ACCESS_TOKEN: as LOGIN_USER, with the same back-off and failure count.
pub async fn login(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let token = tokens::decode_name(payload, "token")?;
    login_backoff(ctx, session).await;
    let now = now_micros();
    let found = with_tokens(ctx, move |t| t.login(&token, now)).await;
    // A deleted user's token is no token; an inactive user's is refused as its password is.
    let found = match found {
        Ok(user) if ctx.snapshot().may_act(user) => Ok(user),
        Ok(user) if ctx.snapshot().users.users.contains_key(&user) => {
            return Err(ServerError::UserInactive);
        }
        Ok(_) => Err(ServerError::Token(TokenError::Invalid)),
        Err(e) => Err(e),
    };
    match found {
        Ok(user) => Ok(logged_in(ctx, session, user)),
        Err(e) => {
            failed_login(ctx, session, "(personal access token)");
            Err(e)
        }
    }
}
