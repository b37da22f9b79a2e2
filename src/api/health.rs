//! `GET /api/health`: readiness. Answers 200 only when the database schema is in place, so
//! scripts and tests can poll it instead of sleeping.

use serde_json::json;
use worker::Response;

use crate::adapters::store::Store;
use crate::error::ApiError;
use crate::http::{json, Ctx};

/// Readiness check.
pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    Store::of(&ctx.env)?.ping().await?;
    json(
        200,
        &json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }),
    )
}
