//! `/api/admin/*`: operator tools, authorised by the `OPERATOR_TOKEN` secret (not a user token:
//! operators act across all projects). Without the secret configured, these routes are 404.
//!
//! Also the test hooks (`/api/_test/*`), which exist only when `KILN_TEST_HOOKS=1` (set by the
//! end-to-end harness, never in `wrangler.toml`) and let tests inject faults such as a corrupted
//! log object.

use serde_json::json;
use worker::{Request, Response};

use crate::adapters::projections;
use crate::domain::password::constant_time_eq;
use crate::error::ApiError;
use crate::http::{json, Ctx};
use crate::service::event_log;

fn operator(req: &Request, ctx: &Ctx) -> Result<(), ApiError> {
    let Some(expected) = ctx
        .env
        .secret("OPERATOR_TOKEN")
        .ok()
        .map(|s| s.to_string())
        .filter(|s| s.len() >= 16)
    else {
        return Err(ApiError::NoRoute(req.path()));
    };
    let given = req.headers().get("authorization")?.unwrap_or_default();
    let given = given.strip_prefix("Bearer ").unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "operator routes need 'Authorization: Bearer <OPERATOR_TOKEN>'".into(),
        ))
    }
}

/// `POST /api/admin/projections/rebuild`: drop the projections and replay every stream.
pub async fn rebuild(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    operator(req, ctx)?;
    let started = crate::adapters::webcrypto::now_ms();
    let report = projections::rebuild(&ctx.db()?, &event_log(ctx)?).await?;
    let took = crate::adapters::webcrypto::now_ms() - started;
    json(200, &json!({ "report": report, "duration_ms": took }))
}

/// `GET /api/admin/projections`: every projected row, in a stable order.
pub async fn dump(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    operator(req, ctx)?;
    json(200, &projections::dump(&ctx.db()?).await?)
}

/// `GET /api/admin/projects/:id/events[?after=SEQ&limit=N]`: any project's event log, deleted
/// ones included (their owner's routes answer 404 once the deletion is recorded, but the log is
/// kept, and it is where an operator sees whether the teardown completed).
pub async fn events(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    operator(req, ctx)?;
    if !crate::adapters::event_log::valid_stream(id) {
        return Err(ApiError::NotFound(format!(
            "project '{}' not found",
            crate::domain::email::clip(id)
        )));
    }
    let url = req.url()?;
    let number = |name: &str| -> Result<Option<u64>, ApiError> {
        match url.query_pairs().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) => v.parse().map(Some).map_err(|_| {
                ApiError::BadRequest(format!("query parameter '{name}' must be a whole number"))
            }),
        }
    };
    let after = number("after")?.unwrap_or(0);
    let limit = number("limit")?.unwrap_or(100).clamp(1, 1000) as usize;
    super::events::page(ctx, id, after, limit).await
}

fn test_hooks(req: &Request, ctx: &Ctx) -> Result<(), ApiError> {
    match ctx.env.var("KILN_TEST_HOOKS").map(|v| v.to_string()) {
        Ok(v) if v == "1" => Ok(()),
        _ => Err(ApiError::NoRoute(req.path())),
    }
}

/// `PUT /api/_test/r2/<key>`: overwrite a raw R2 object (test fault injection only).
pub async fn put_object(req: &mut Request, ctx: &Ctx, key: &str) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let body = req.bytes().await?;
    ctx.env.bucket("STORE")?.put(key, body).execute().await?;
    json(200, &json!({ "key": key }))
}

/// `GET /api/_test/r2?prefix=P`: how many R2 keys start with `P` (test hooks only), so tests can
/// see what a teardown left behind.
pub async fn count_objects(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let prefix = req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "prefix")
        .map(|(_, v)| v.into_owned())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::BadRequest("query parameter 'prefix' is required".into()))?;
    let bucket = ctx.env.bucket("STORE")?;
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut list = bucket.list().prefix(prefix.clone()).limit(1000);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        count += page.objects().len();
        match (page.truncated(), page.cursor()) {
            (true, Some(c)) => cursor = Some(c),
            _ => break,
        }
    }
    json(200, &json!({ "prefix": prefix, "count": count }))
}

/// `POST /api/_test/builds/:id/redeliver`: hands the build's Queue message to the consumer again,
/// as an at-least-once queue may, and answers what the consumer did (test hooks only). Running the
/// consumer inline makes the outcome observable without waiting for the queue.
pub async fn redeliver(req: &Request, ctx: &Ctx, build_id: &str) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let project: Option<String> = ctx
        .db()?
        .prepare("SELECT project_id FROM builds WHERE id = ?1")
        .bind(&[build_id.into()])?
        .first::<String>(Some("project_id"))
        .await
        .map_err(|e| ApiError::internal(format!("d1: {e}")))?;
    let project_id =
        project.ok_or_else(|| ApiError::NotFound(format!("build '{build_id}' not found")))?;
    let job = crate::pipeline::BuildJob {
        project_id,
        build_id: build_id.to_string(),
        faults: None,
        plan: None,
        refuse_start: false,
        fail_append_faults: None,
    };
    let outcome = crate::consumer::start(&ctx.env, &job).await?;
    json(
        200,
        &json!({ "outcome": format!("{outcome:?}").to_lowercase() }),
    )
}

/// `GET /api/_test/builds/:id/workflow`: the engine's status of the build's Workflow instance
/// (`{"status": "running" | "complete" | … | null}`, null when there is none; test hooks only), so
/// a test can wait for a workflow to end instead of sleeping.
pub async fn workflow_status(
    req: &Request,
    ctx: &Ctx,
    build_id: &str,
) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let status = crate::cancel::instance_status(&ctx.env, build_id).await?;
    json(200, &json!({ "build_id": build_id, "status": status }))
}

/// `DELETE /api/_test/builds/:id/workflow`: terminates the build's Workflow instance behind
/// Kiln's back, recording nothing, as an engine that loses an instance would (test hooks only).
pub async fn terminate_workflow(
    req: &Request,
    ctx: &Ctx,
    build_id: &str,
) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let outcome = crate::cancel::terminate(&ctx.env, build_id).await?;
    json(
        200,
        &json!({ "build_id": build_id, "outcome": format!("{outcome:?}").to_lowercase() }),
    )
}

/// `POST /api/_test/apps/:project/query {sql, params}`: runs SQL in an app's database, so tests can
/// observe isolation and teardown from outside the app (test hooks only).
pub async fn app_query(req: &mut Request, ctx: &Ctx, project: &str) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let body: serde_json::Value = crate::http::read_json(req, 64 * 1024).await?;
    let sql = body["sql"].as_str().unwrap_or_default();
    let params = body.get("params").cloned().unwrap_or_else(|| json!([]));
    match crate::adapters::app_admin::query(&ctx.env, project, sql, &params).await {
        Ok(v) => json(200, &v),
        Err(e) => json(
            400,
            &json!({ "error": { "code": "sql_error", "message": e.to_string() } }),
        ),
    }
}
