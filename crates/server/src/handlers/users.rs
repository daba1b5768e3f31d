//! User commands (31–37): reads come from the snapshot, changes go through the metadata owner
//! (`auth::users` holds the rules); passwords are hashed and checked off the shard's thread.
//! The root user is listed like the others but keeps its configured name, every permission, and
//! its password (`auth.root_password` or the generated hash).

use bytes::BytesMut;
use eddy_wire::commands::users::{
    self, ChangePassword, CreateUser, Permissions, USER_STATUS_ACTIVE, UpdateUser, UserSummary,
    encode_user_details,
};

use super::system::failed_login;
use super::tokens::with_tokens;
use crate::auth::access::Need;
use crate::auth::password;
use crate::auth::users::{
    NewUser, ROOT_USER_ID, UserError, check_password, check_username, parse_status,
};
use crate::error::ServerError;
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::message::{MetaOp, Snapshot};
use crate::shard::partition::now_micros;
use crate::transport::conn::Reply;

/// The user `id` names, with its permissions (root: all of them; none: a user given none).
fn described(
    ctx: &ShardCtx,
    snapshot: &Snapshot,
    id: u32,
) -> Option<(UserSummary, Option<Permissions>)> {
    if id == ROOT_USER_ID {
        let root = UserSummary {
            id,
            created_at: ctx.shared.started_at,
            status: USER_STATUS_ACTIVE,
            username: ctx.config.auth.root_username.clone(),
        };
        return Some((root, Some(Permissions::all())));
    }
    let u = snapshot.users.users.get(&id)?;
    let summary = UserSummary {
        id: u.id,
        created_at: u.created_at,
        status: u.status(),
        username: u.username.clone(),
    };
    Some((summary, u.permissions.clone()))
}

fn details_reply(ctx: &ShardCtx, snapshot: &Snapshot, id: u32) -> Reply {
    let mut out = BytesMut::new();
    if let Some((summary, permissions)) = described(ctx, snapshot, id) {
        encode_user_details(&summary, permissions.as_ref(), &mut out);
    }
    Reply::ok(out)
}

/// The id `user` names in the current snapshot.
fn resolve(ctx: &ShardCtx, user: &eddy_wire::Identifier) -> Result<u32, ServerError> {
    let root = &ctx.config.auth.root_username;
    Ok(ctx.snapshot().users.resolve(user, root)?)
}

/// GET_USER: anyone may read themselves; others need `read_users`. An unknown user is an empty
/// reply (the SDK's `None`).
pub fn get(ctx: &ShardCtx, session: &Session, payload: &[u8]) -> Result<Reply, ServerError> {
    let wanted = users::decode_user_id(payload)?;
    let snapshot = ctx.snapshot();
    match snapshot.users.resolve(&wanted, &ctx.config.auth.root_username) {
        Ok(id) if Some(id) == session.user_id => Ok(details_reply(ctx, &snapshot, id)),
        Ok(id) => {
            snapshot.require(session.user_id, Need::ReadUsers)?;
            Ok(details_reply(ctx, &snapshot, id))
        }
        Err(_) => {
            snapshot.require(session.user_id, Need::ReadUsers)?;
            Ok(Reply::default())
        }
    }
}

/// GET_USERS: root first, then every user in id order.
pub fn get_all(ctx: &ShardCtx, session: &Session) -> Result<Reply, ServerError> {
    let snapshot = ctx.snapshot();
    snapshot.require(session.user_id, Need::ReadUsers)?;
    let mut out = BytesMut::new();
    let ids = std::iter::once(ROOT_USER_ID).chain(snapshot.users.users.keys().copied());
    for id in ids {
        if let Some((summary, _)) = described(ctx, &snapshot, id) {
            summary.encode(&mut out);
        }
    }
    Ok(Reply::ok(out))
}

/// Runs `f` (hashing or verifying a password) off the shard's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServerError> {
    compio::runtime::spawn_blocking(f)
        .await
        .map_err(|_| ServerError::Internal("the password task failed"))
}

async fn hash(secret: String) -> Result<String, ServerError> {
    blocking(move || password::hash(&secret))
        .await?
        .map_err(|_| ServerError::Internal("hashing a password failed"))
}

/// CREATE_USER: replies with the new user's details.
pub async fn create(
    ctx: &ShardCtx,
    session: &Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    ctx.snapshot().require(session.user_id, Need::ManageUsers)?;
    let req = CreateUser::decode(payload)?;
    check_username(&req.username)?;
    check_password(&req.password)?;
    let active = parse_status(req.status)?;
    let password_hash = hash(req.password).await?;
    let new = NewUser {
        username: req.username,
        password_hash,
        active,
        created_at: now_micros(),
        permissions: req.permissions,
    };
    let created = ctx.change(MetaOp::CreateUser(new)).await?;
    let id = created.map_or(ROOT_USER_ID, |(id, _)| id);
    Ok(details_reply(ctx, &ctx.snapshot(), id))
}

/// DELETE_USER: the user's tokens go with it; its connections lose their login at their next
/// request.
pub async fn delete(
    ctx: &ShardCtx,
    session: &Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    ctx.snapshot().require(session.user_id, Need::ManageUsers)?;
    let user = resolve(ctx, &users::decode_user_id(payload)?)?;
    ctx.change(MetaOp::DeleteUser { user }).await?;
    if let Err(e) = with_tokens(ctx, move |t| t.forget_user(user)).await {
        // They can no longer log in (their user is gone); the file is cleaned at the next try.
        tracing::warn!(user, error = %e, "a deleted user's tokens stay in the file");
    }
    Ok(Reply::default())
}

/// UPDATE_USER: a new name and/or status (not root's).
pub async fn update(
    ctx: &ShardCtx,
    session: &Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    ctx.snapshot().require(session.user_id, Need::ManageUsers)?;
    let req = UpdateUser::decode(payload)?;
    let user = resolve(ctx, &req.user)?;
    let active = req.status.map(parse_status).transpose()?;
    ctx.change(MetaOp::UpdateUser { user, username: req.username, active }).await?;
    Ok(Reply::default())
}

/// UPDATE_PERMISSIONS: replaces them (not root's).
pub async fn update_permissions(
    ctx: &ShardCtx,
    session: &Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    ctx.snapshot().require(session.user_id, Need::ManageUsers)?;
    let (user, permissions) = users::decode_update_permissions(payload)?;
    let user = resolve(ctx, &user)?;
    ctx.change(MetaOp::UpdatePermissions { user, permissions }).await?;
    Ok(Reply::default())
}

/// CHANGE_PASSWORD: anyone may change their own (knowing it); another user's needs
/// `manage_users` and that user's current password too, as in Iggy. A wrong current password
/// counts as a failed login. Root's password is the configuration's (or the generated hash's).
pub async fn change_password(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let req = ChangePassword::decode(payload)?;
    let user = resolve(ctx, &req.user)?;
    if Some(user) != session.user_id {
        ctx.snapshot().require(session.user_id, Need::ManageUsers)?;
    }
    check_password(&req.current)?;
    check_password(&req.new)?;
    if user == ROOT_USER_ID {
        return Err(UserError::CannotChangeRoot.into());
    }
    let expected = match ctx.snapshot().users.users.get(&user) {
        Some(u) => u.password_hash.clone(),
        None => return Err(UserError::NotFound(req.user).into()),
    };
    let (phc, current) = (expected.clone(), req.current);
    if !blocking(move || password::verify(&phc, &current)).await? {
        failed_login(ctx, session, "(change password)");
        return Err(ServerError::InvalidCredentials);
    }
    let hash = hash(req.new).await?;
    ctx.change(MetaOp::ChangePassword { user, expected, hash }).await?;
    Ok(Reply::default())
}
