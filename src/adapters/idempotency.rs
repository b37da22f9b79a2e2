//! Idempotency-Key records in the platform D1 (`idempotency_keys`).
//!
//! Claiming a key is one `INSERT … ON CONFLICT DO NOTHING`: of two concurrent requests with one
//! key exactly one claims it. Records older than [`TTL_MS`] count as absent and are pruned a few
//! at a time by later claims, so the table needs no scheduled clean-up.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1Database;

use crate::error::ApiError;

/// How long a key is remembered: 24 hours.
pub const TTL_MS: i64 = 24 * 3600 * 1000;
const PRUNE_PER_CLAIM: u32 = 16;

/// A stored record.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// sha256 of method, path and body of the first request.
    pub fingerprint: String,
    /// The first answer's status; `None` while it is still being made.
    pub status: Option<u16>,
    /// The first answer's body.
    pub body: Option<String>,
}

/// What claiming a key found.
pub enum Claim {
    /// The key is new (or expired): this request runs and its answer is recorded.
    Claimed,
    /// The key was used before (or is in use now).
    Existing(Record),
}

fn d1_err(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("d1 idempotency {what}: {e}"))
}

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// Typed access to `idempotency_keys`.
pub struct IdempotencyKeys {
    db: D1Database,
}

impl IdempotencyKeys {
    /// Over the platform database binding.
    pub fn of(env: &worker::Env) -> Result<Self, ApiError> {
        Ok(Self {
            db: super::bindings::platform_db(env)?,
        })
    }

    /// Claims `key` for a request with `fingerprint`, or returns what is recorded for it.
    pub async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Claim, ApiError> {
        let expired = now - TTL_MS;
        let prune = self
            .db
            .prepare(
                "DELETE FROM idempotency_keys WHERE rowid IN \
                 (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
            )
            .bind(&[num(expired), JsValue::from(PRUNE_PER_CLAIM)])?;
        let insert = self
            .db
            .prepare(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope, key) DO NOTHING RETURNING key",
            )
            .bind(&[scope.into(), key.into(), fingerprint.into(), num(now)])?;
        let results = self
            .db
            .batch(vec![prune, insert])
            .await
            .map_err(|e| d1_err("claim", e))?;
        let inserted = results
            .get(1)
            .map(|r| r.results::<serde_json::Value>().map(|v| !v.is_empty()))
            .transpose()
            .map_err(|e| d1_err("claim row", e))?
            .unwrap_or(false);
        if inserted {
            return Ok(Claim::Claimed);
        }
        let record = self
            .db
            .prepare(
                "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
            )
            .bind(&[scope.into(), key.into()])?
            .first::<Record>(None)
            .await
            .map_err(|e| d1_err("read", e))?;
        match record {
            Some(r) => Ok(Claim::Existing(r)),
            // Pruned between the two statements (it had expired): a later retry claims it.
            None => Err(ApiError::Conflict(
                "this Idempotency-Key expired just now; send the request again".into(),
            )),
        }
    }

    /// Records the answer of the request that claimed `key`.
    pub async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), ApiError> {
        self.db
            .prepare(
                "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE scope = ?1 AND key = ?2",
            )
            .bind(&[scope.into(), key.into(), JsValue::from(status), body.into()])?
            .run()
            .await
            .map_err(|e| d1_err("complete", e))?;
        Ok(())
    }

    /// Forgets `key` (the request failed on the server's side, so a retry should run again).
    pub async fn release(&self, scope: &str, key: &str) -> Result<(), ApiError> {
        self.db
            .prepare("DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2")
            .bind(&[scope.into(), key.into()])?
            .run()
            .await
            .map_err(|e| d1_err("release", e))?;
        Ok(())
    }
}
