//! `/api/auth/*`: register, login, logout, me.
//!
//! Login answers the same 401 for an unknown email and a wrong password, and spends the same
//! PBKDF2 work in both cases (against a decoy hash), so neither the message nor the timing tells
//! an attacker which emails have accounts.
//!
//! Both register and login are rate limited before any password work: per client address (every
//! attempt) and per email (attempts that do not succeed; a success gives its hit back), see
//! [`crate::api::limits`].

use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::adapters::sessions::Sessions;
use crate::adapters::store::{Inserted, Store, UserRow};
use crate::adapters::webcrypto;
use crate::api::limits;
use crate::domain::password::{decoy_hash, Password, PasswordHash, SALT_LEN};
use crate::domain::token::SessionClaims;
use crate::domain::Email;
use crate::error::ApiError;
use crate::http::{authenticate, json, no_content, read_json, Ctx};

/// Register and login body.
#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn user_json(u: &UserRow) -> serde_json::Value {
    json!({ "id": u.id, "email": u.email, "created_at": u.created_at })
}

async fn start_session(ctx: &Ctx, user: &UserRow, status: u16) -> Result<Response, ApiError> {
    let sid = webcrypto::random_hex::<16>()?;
    let ttl = ctx.config.session_ttl_seconds;
    Sessions::of(&ctx.env)?.create(&sid, &user.id, ttl).await?;
    let token = ctx.tokens().issue(
        SessionClaims {
            sub: user.id.clone(),
            sid,
        },
        webcrypto::now_ms(),
        Duration::seconds(ttl),
    );
    json(
        status,
        &json!({ "token": token, "expires_in": ttl, "user": user_json(user) }),
    )
}

/// `POST /api/auth/register {email, password}` → 201 `{token, user}`.
pub async fn register(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    limits::auth_from_address(req, ctx).await?;
    let body: Credentials = read_json(req, ctx.config.max_body_bytes).await?;
    let email = Email::parse(body.email.as_deref().unwrap_or(""))?;
    let password = Password::parse(body.password.as_deref().unwrap_or(""))?;
    let attempt = limits::auth_for_email(ctx, &email).await?;
    let hash = PasswordHash::create(
        &webcrypto::WebCryptoPbkdf2,
        &password,
        webcrypto::random_bytes::<SALT_LEN>()?,
    )
    .await?;
    let user = UserRow {
        id: webcrypto::uuid_v4()?,
        email: email.as_str().to_string(),
        password_hash: hash.encode(),
        created_at: webcrypto::now_ms(),
    };
    let store = Store::of(&ctx.env)?;
    match store
        .insert_user(&user.id, &user.email, &user.password_hash, user.created_at)
        .await?
    {
        Inserted::Ok => {
            attempt.refund(ctx).await;
            start_session(ctx, &user, 201).await
        }
        Inserted::Duplicate => Err(ApiError::Conflict(format!(
            "an account with email '{}' already exists; sign in instead",
            user.email
        ))),
    }
}

/// `POST /api/auth/login {email, password}` → 200 `{token, user}`.
pub async fn login(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    const WRONG: &str = "email or password is incorrect";
    limits::auth_from_address(req, ctx).await?;
    let body: Credentials = read_json(req, ctx.config.max_body_bytes).await?;
    let (Some(email), Some(password)) = (body.email, body.password) else {
        return Err(ApiError::BadRequest(
            "email and password are required".into(),
        ));
    };
    // An address that does not parse has no account to guess at; the per-address limit covers it.
    let (found, attempt) = match Email::parse(&email) {
        Ok(email) => {
            let attempt = limits::auth_for_email(ctx, &email).await?;
            let found = Store::of(&ctx.env)?.user_by_email(email.as_str()).await?;
            (found, Some(attempt))
        }
        Err(_) => (None, None),
    };
    let stored = found
        .as_ref()
        .and_then(|u| PasswordHash::decode(&u.password_hash));
    let hash = stored.clone().unwrap_or_else(decoy_hash);
    let matches = hash
        .verify(&webcrypto::WebCryptoPbkdf2, password.as_bytes())
        .await?;
    match found {
        Some(user) if matches && stored.is_some() => {
            if let Some(attempt) = attempt {
                attempt.refund(ctx).await;
            }
            start_session(ctx, &user, 200).await
        }
        _ => Err(ApiError::Unauthorized(WRONG.into())),
    }
}

/// `POST /api/auth/logout` → 204; the token stops working at once.
pub async fn logout(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    if caller.token_id.is_some() {
        return Err(ApiError::BadRequest(
            "sign-out ends a session; an API token is revoked with DELETE /api/tokens/:id".into(),
        ));
    }
    Sessions::of(&ctx.env)?.revoke(&caller.session_id).await?;
    no_content()
}

/// `GET /api/auth/me` → `{user}`.
pub async fn me(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let user = Store::of(&ctx.env)?
        .user_by_id(&caller.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("this account no longer exists".into()))?;
    json(200, &json!({ "user": user_json(&user) }))
}
