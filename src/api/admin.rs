//! `/api/admin/*`: operator tools, authorised by the `OPERATOR_TOKEN` secret (not a user token:
//! operators act across all projects). Without the secret configured, these routes are 404.
//!
//! Also the test hooks (`/api/_test/*`), which exist only when `KILN_TEST_HOOKS=1` (set by the
//! end-to-end harness, never in `wrangler.toml`) and let tests inject faults such as a corrupted
//! log object.

use serde_json::json;
use worker::{Request, Response};

use crate::adapters::build_store;
use crate::adapters::projections::Projections;
use crate::adapters::store::Store;
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

/// `POST /api/admin/projections/rebuild[?chunk=N]` → 202: starts a chunked rebuild of the
/// projections from the log, or resumes the unfinished one from its cursor (docs/adr/0018).
/// `chunk` (1 to 5,000, default 1,000) is the number of events per chunk of a new rebuild. With test
/// hooks, `stop_after=N` pauses a new rebuild after `N` chunks (a POST resumes it).
pub async fn rebuild(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    operator(req, ctx)?;
    let url = req.url()?;
    let number = |name: &str| -> Result<Option<u32>, ApiError> {
        match url.query_pairs().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) => v.parse().map(Some).map_err(|_| {
                ApiError::BadRequest(format!("query parameter '{name}' must be a whole number"))
            }),
        }
    };
    let chunk = number("chunk")?.unwrap_or(crate::rebuild::DEFAULT_CHUNK_EVENTS);
    if !(1..=crate::rebuild::MAX_CHUNK_EVENTS).contains(&chunk) {
        return Err(ApiError::BadRequest(format!(
            "query parameter 'chunk' must be from 1 to {} events",
            crate::rebuild::MAX_CHUNK_EVENTS
        )));
    }
    let stop_after = match number("stop_after")? {
        Some(n) => {
            test_hooks(req, ctx)?;
            Some(n.max(1))
        }
        None => None,
    };
    let (job, created) = crate::rebuild::start_or_resume(ctx, chunk, stop_after).await?;
    json(
        202,
        &json!({ "rebuild": job.to_json(), "resumed": !created, "progress_url": "/api/admin/projections/rebuild" }),
    )
}

/// `GET /api/admin/projections/rebuild`: the newest rebuild's progress (404 if none ran).
pub async fn rebuild_progress(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    operator(req, ctx)?;
    match crate::rebuild::latest(ctx).await? {
        Some(job) => json(200, &json!({ "rebuild": job.to_json() })),
        None => Err(ApiError::NotFound(
            "no projection rebuild has run yet".into(),
        )),
    }
}

/// `GET /api/admin/projections`: every projected row, in a stable order.
pub async fn dump(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    operator(req, ctx)?;
    json(200, &Projections::of(&ctx.env)?.dump().await?)
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
    build_store::put(&ctx.env, key, body).await?;
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
    let count = build_store::count(&ctx.env, &prefix).await?;
    json(200, &json!({ "prefix": prefix, "count": count }))
}

/// `POST /api/_test/builds/:id/redeliver`: hands the build's Queue message to the consumer again,
/// as an at-least-once queue may, and answers what the consumer did (test hooks only). Running the
/// consumer inline makes the outcome observable without waiting for the queue.
pub async fn redeliver(req: &Request, ctx: &Ctx, build_id: &str) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let project = Store::of(&ctx.env)?.project_of_build(build_id).await?;
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

/// `POST /api/_test/projects/:id/seed {events}`: appends `events` synthetic chat messages (at most
/// 20,000 per call) to a project's log in commits of 1,000, to benchmark rebuilds without 100,000
/// HTTP appends (test hooks only). The projections get the messages like any append's.
pub async fn seed(req: &mut Request, ctx: &Ctx, project: &str) -> Result<Response, ApiError> {
    test_hooks(req, ctx)?;
    let body: serde_json::Value = crate::http::read_json(req, 1024).await?;
    let n = body["events"]
        .as_u64()
        .filter(|n| (1..=20_000).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_field("events", "events must be a whole number from 1 to 20000")
        })?;
    let log = event_log(ctx)?;
    let projections = Projections::of(&ctx.env)?;
    let mut seq = log
        .head(project)
        .await
        .map_err(crate::service::store_error)?
        .seq;
    if seq == 0 {
        return Err(ApiError::NotFound(format!(
            "project '{}' not found",
            crate::domain::email::clip(project)
        )));
    }
    let meta = events::envelope::Metadata::new(crate::adapters::webcrypto::now_ms(), "kiln:seed");
    let mut left = n;
    while left > 0 {
        let take = left.min(1000);
        let batch: Vec<events::Event> = (0..take)
            .map(|i| events::Event::MessagePosted {
                message_id: format!("seed-{}-{}", seq, i),
                role: events::Role::User,
                content: format!("synthetic message {} for a rebuild benchmark", seq + i + 1),
            })
            .collect();
        use events::EventStore;
        let stored = log
            .append(
                project,
                seq,
                events::envelope::NewEvent::batch(batch, &meta),
            )
            .await
            .map_err(crate::service::store_error)?;
        for part in stored.chunks(50) {
            projections.apply(part).await?;
        }
        seq += stored.len() as u64;
        left -= take;
    }
    json(200, &json!({ "appended": n, "last_seq": seq }))
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
