//! `/api/tokens`: API tokens for programs (`Authorization: Bearer kiln_…`).
//!
//! A token is shown once, in the answer that creates it; listings show a four-character hint.
//! Creating a token takes a signed-in session (a token cannot mint tokens); listing and revoking
//! work with either. Revocation is immediate: the next request with the token is a 401.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::adapters::api_tokens::{ApiTokens, NewToken, TokenRow};
use crate::adapters::webcrypto;
use crate::domain::api_token::{self, Scopes, MAX_TOKENS_PER_USER};
use crate::error::ApiError;
use crate::http::{authenticate, json, no_content, read_json, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    expires_in: Option<i64>,
}

fn shown(row: &TokenRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "scopes": Scopes::from_stored(&row.scopes).names(),
        "hint": row.hint,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
    })
}

/// `POST /api/tokens {name, scopes?, expires_in?}` → 201 `{id, name, scopes, token, created_at,
/// expires_at}`.
pub async fn create(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    if caller.token_id.is_some() {
        return Err(ApiError::Forbidden(
            "API tokens cannot create tokens; sign in (POST /api/auth/login) and create it with that session".into(),
        ));
    }
    let body: CreateBody = read_json(req, ctx.config.max_body_bytes).await?;
    let name = api_token::parse_name(body.name.as_deref().unwrap_or_default())
        .map_err(|m| ApiError::invalid_field("name", m))?;
    let scopes =
        Scopes::parse(body.scopes.as_deref()).map_err(|m| ApiError::invalid_field("scopes", m))?;
    let expires_in = api_token::parse_expires_in(body.expires_in)
        .map_err(|m| ApiError::invalid_field("expires_in", m))?;
    let token = api_token::token_from_bytes(&webcrypto::random_bytes::<32>()?);
    let id = webcrypto::uuid_v4()?;
    let now = webcrypto::now_ms();
    let expires_at = expires_in.map(|s| now + s * 1000);
    let stored = ApiTokens::of(&ctx.env)?
        .insert(&NewToken {
            id: &id,
            user_id: &caller.user_id,
            name: &name,
            scopes: &scopes.to_stored(),
            token_hash: &api_token::hash(&token),
            hint: &api_token::hint(&token),
            now,
            expires_at,
            quota: MAX_TOKENS_PER_USER,
        })
        .await?;
    if !stored {
        return Err(ApiError::QuotaExceeded(format!(
            "an account may hold at most {MAX_TOKENS_PER_USER} API tokens; revoke one with DELETE /api/tokens/:id"
        )));
    }
    json(
        201,
        &json!({
            "id": id,
            "name": name,
            "scopes": scopes.names(),
            "token": token,
            "created_at": now,
            "expires_at": expires_at,
        }),
    )
}

/// `GET /api/tokens` → 200 `{tokens: [...]}`, newest first, without secrets.
pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let rows = ApiTokens::of(&ctx.env)?.list(&caller.user_id).await?;
    json(
        200,
        &json!({ "tokens": rows.iter().map(shown).collect::<Vec<_>>() }),
    )
}

/// `DELETE /api/tokens/:id` → 204; another user's token is a 404 like a missing one.
pub async fn revoke(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    if ApiTokens::of(&ctx.env)?.revoke(&caller.user_id, id).await? {
        no_content()
    } else {
        Err(ApiError::NotFound(format!(
            "token '{}' not found",
            crate::domain::email::clip(id)
        )))
    }
}
