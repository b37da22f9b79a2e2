//! API tokens in the platform D1 (`api_tokens`): only hashes are stored (see
//! [`crate::domain::api_token`]). Every query names the owner, so another user's token id is
//! indistinguishable from one that does not exist.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1Database;

use crate::error::ApiError;

/// A token as stored (no secret: the hash stays in the database).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenRow {
    /// Token id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// Last four characters of the token.
    pub hint: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Expiry (ms), if any.
    pub expires_at: Option<i64>,
    /// When it was last used (ms), if ever.
    pub last_used_at: Option<i64>,
}

/// What a new token row holds.
pub struct NewToken<'a> {
    /// Token id.
    pub id: &'a str,
    /// Owner.
    pub user_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Stored scopes.
    pub scopes: &'a str,
    /// Hex sha256 of the token.
    pub token_hash: &'a str,
    /// Last four characters.
    pub hint: &'a str,
    /// Creation time (ms).
    pub now: i64,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
    /// Most tokens the owner may hold.
    pub quota: usize,
}

const COLUMNS: &str = "id, user_id, name, scopes, hint, created_at, expires_at, last_used_at";

/// Last-used times are written at most this often per token, so a busy program does not turn
/// every read into a write.
pub const TOUCH_EVERY_MS: i64 = 60_000;

fn d1_err(what: &str, e: worker::Error) -> ApiError {
    ApiError::internal(format!("d1 {what}: {e}"))
}

fn opt(v: Option<i64>) -> JsValue {
    v.map(|n| JsValue::from_f64(n as f64))
        .unwrap_or(JsValue::NULL)
}

/// Whether a statement changed a row.
fn changed(out: &worker::D1Result) -> bool {
    out.meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
        > 0
}

/// Typed access to `api_tokens`.
pub struct ApiTokens {
    db: D1Database,
}

impl ApiTokens {
    /// Over the platform database binding.
    pub fn of(env: &worker::Env) -> Result<Self, ApiError> {
        Ok(Self {
            db: super::bindings::platform_db(env)?,
        })
    }

    /// Stores a token unless its owner already holds `quota` tokens; `false` when over quota.
    /// The count and the insert are one statement.
    pub async fn insert(&self, t: &NewToken<'_>) -> Result<bool, ApiError> {
        let out = self
            .db
            .prepare(
                "INSERT INTO api_tokens (id, user_id, name, scopes, token_hash, hint, created_at, expires_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 \
                 WHERE (SELECT COUNT(*) FROM api_tokens WHERE user_id = ?2) < ?9",
            )
            .bind(&[
                t.id.into(),
                t.user_id.into(),
                t.name.into(),
                t.scopes.into(),
                t.token_hash.into(),
                t.hint.into(),
                JsValue::from_f64(t.now as f64),
                opt(t.expires_at),
                JsValue::from_f64(t.quota as f64),
            ])?
            .run()
            .await
            .map_err(|e| d1_err("insert token", e))?;
        Ok(changed(&out))
    }

    /// The owner's tokens, newest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<TokenRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE user_id = ?1 ORDER BY created_at DESC, id"
            ))
            .bind(&[user_id.into()])?
            .all()
            .await
            .and_then(|r| r.results::<TokenRow>())
            .map_err(|e| d1_err("list tokens", e))
    }

    /// The token with this hash, if it exists.
    pub async fn by_hash(&self, token_hash: &str) -> Result<Option<TokenRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = ?1"
            ))
            .bind(&[token_hash.into()])?
            .first::<TokenRow>(None)
            .await
            .map_err(|e| d1_err("token by hash", e))
    }

    /// Deletes the owner's token `id`; `false` when there is no such token of theirs.
    pub async fn revoke(&self, user_id: &str, id: &str) -> Result<bool, ApiError> {
        let out = self
            .db
            .prepare("DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2")
            .bind(&[id.into(), user_id.into()])?
            .run()
            .await
            .map_err(|e| d1_err("revoke token", e))?;
        Ok(changed(&out))
    }

    /// Records a use, unless one was recorded in the last [`TOUCH_EVERY_MS`].
    pub async fn touch(&self, id: &str, now: i64) -> Result<(), ApiError> {
        self.db
            .prepare(
                "UPDATE api_tokens SET last_used_at = ?2 \
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)",
            )
            .bind(&[
                id.into(),
                JsValue::from_f64(now as f64),
                JsValue::from_f64((now - TOUCH_EVERY_MS) as f64),
            ])?
            .run()
            .await
            .map_err(|e| d1_err("touch token", e))?;
        Ok(())
    }
}
