//! Sessions in KV: `session:<sid>` → user id, expiring with the token.
//!
//! A token is accepted only while its session key exists, which makes logout (and any future
//! "sign out everywhere") immediate even though JWTs themselves cannot be recalled.

use worker::kv::KvStore;
use worker::Env;

use crate::error::ApiError;

fn key(sid: &str) -> String {
    format!("session:{sid}")
}

/// The session store.
pub struct Sessions {
    kv: KvStore,
}

impl Sessions {
    /// Over the `SESSIONS` KV binding.
    pub fn of(env: &Env) -> Result<Self, ApiError> {
        Ok(Self {
            kv: super::bindings::sessions_kv(env)?,
        })
    }

    /// Records a new session.
    pub async fn create(&self, sid: &str, user_id: &str, ttl_seconds: i64) -> Result<(), ApiError> {
        // KV's minimum TTL is 60 seconds.
        self.kv
            .put(&key(sid), user_id)?
            .expiration_ttl(ttl_seconds.max(60) as u64)
            .execute()
            .await?;
        Ok(())
    }

    /// The user id a live session belongs to.
    pub async fn user_of(&self, sid: &str) -> Result<Option<String>, ApiError> {
        Ok(self.kv.get(&key(sid)).text().await?)
    }

    /// Revokes a session.
    pub async fn revoke(&self, sid: &str) -> Result<(), ApiError> {
        self.kv.delete(&key(sid)).await?;
        Ok(())
    }
}
