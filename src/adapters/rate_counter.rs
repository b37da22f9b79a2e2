//! Fixed-window rate counters in the platform D1 (`rate_counters`, one row per key).
//!
//! A hit is one `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement: SQLite runs it
//! atomically, so concurrent hits on one key are each counted exactly once and each sees its own
//! count, with no read-then-write race. The statement performs [`limits::advance`]: a closed
//! window is replaced by a fresh one holding this hit. Closed windows of other keys are deleted a
//! few at a time in the same batch, so the table holds roughly the keys active in the last
//! window and needs no scheduled clean-up. Why D1 and not the Workers rate-limiting binding or a
//! Durable Object: docs/adr/0012-platform-rate-limits.md.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1Database;

use crate::domain::limits::{RateLimit, Window};
use crate::error::ApiError;

/// Closed windows deleted per hit: more than keys are created per hit (at most one), so the
/// table cannot grow without bound, and few enough to keep every hit cheap.
const PRUNE_PER_HIT: u32 = 16;

const HIT: &str = "INSERT INTO rate_counters (key, count, resets_at) VALUES (?1, 1, ?2 + ?3) \
     ON CONFLICT(key) DO UPDATE SET \
       count = CASE WHEN rate_counters.resets_at > ?2 THEN rate_counters.count + 1 ELSE 1 END, \
       resets_at = CASE WHEN rate_counters.resets_at > ?2 THEN rate_counters.resets_at ELSE ?2 + ?3 END \
     RETURNING count, resets_at";

const PRUNE: &str = "DELETE FROM rate_counters WHERE key IN \
     (SELECT key FROM rate_counters WHERE resets_at <= ?1 LIMIT ?2)";

const REFUND: &str = "UPDATE rate_counters SET count = count - 1 \
     WHERE key = ?1 AND resets_at = ?2 AND count > 0";

#[derive(Deserialize)]
struct Row {
    count: u32,
    resets_at: i64,
}

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn d1_err(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("d1 rate counter {what}: {e}"))
}

/// Counters in the platform database.
pub struct RateCounter {
    db: D1Database,
}

impl RateCounter {
    /// Over the platform database binding.
    pub fn of(env: &worker::Env) -> Result<Self, ApiError> {
        Ok(Self {
            db: super::bindings::platform_db(env)?,
        })
    }

    /// Counts one hit on `key` at `now_ms` and returns the window with this hit in it.
    pub async fn hit(&self, key: &str, limit: RateLimit, now_ms: i64) -> Result<Window, ApiError> {
        let prune = self
            .db
            .prepare(PRUNE)
            .bind(&[num(now_ms), JsValue::from(PRUNE_PER_HIT)])?;
        let hit = self
            .db
            .prepare(HIT)
            .bind(&[key.into(), num(now_ms), num(limit.period_ms())])?;
        let results = self
            .db
            .batch(vec![prune, hit])
            .await
            .map_err(|e| d1_err("hit", e))?;
        let row = results
            .get(1)
            .ok_or_else(|| d1_err("hit", "no result for the counting statement"))?
            .results::<Row>()
            .map_err(|e| d1_err("hit row", e))?
            .into_iter()
            .next()
            .ok_or_else(|| d1_err("hit", "the counting statement returned no row"))?;
        Ok(Window {
            count: row.count,
            resets_at_ms: row.resets_at,
        })
    }

    /// Gives back a hit counted in `window` (for attempts that end up not counting, such as a
    /// successful sign-in against the per-email limit). A window that has since been replaced is
    /// left alone.
    pub async fn refund(&self, key: &str, window: Window) -> Result<(), ApiError> {
        self.db
            .prepare(REFUND)
            .bind(&[key.into(), num(window.resets_at_ms)])?
            .run()
            .await
            .map_err(|e| d1_err("refund", e))?;
        Ok(())
    }
}
