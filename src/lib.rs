//! Kiln platform Worker.
//!
//! The fetch handler serves the platform itself (`localhost`, the API under `/api`). Requests for
//! apps (`<slug>.<APPS_DOMAIN>`) are handed to the dispatch Worker by the JS entry module
//! (`src/entry.js`) before this code runs, so app traffic never runs platform code paths. Pure logic lives in
//! [`domain`] and the `events`/`workflows` crates; [`adapters`] are the only code touching
//! bindings; [`error::ApiError`] is turned into a response in exactly one place.

pub mod adapters;
pub mod api;
pub mod cancel;
pub mod config;
pub mod consumer;
pub mod deploy;
pub mod domain;
pub mod error;
pub mod http;
pub mod pipeline;
pub mod rebuild;
pub mod resume;
pub mod rollback;
pub mod service;
pub mod steps;
pub mod teardown;
pub mod watchdog;
pub mod webhooks;

use worker::{
    event, Context, Env, MessageBatch, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

use crate::error::ApiError;

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    resume::once_per_isolate(&env, &ctx);
    // App hosts never get here: `src/entry.js` hands them to the dispatch Worker first, before
    // the platform's configuration is read, so a platform misconfiguration (say, a bad model
    // setting) cannot take generated apps down.
    let method = req.method().to_string();
    let path = req.path();
    let domain = config::apps_domain(env.var("APPS_DOMAIN").ok().map(|v| v.to_string()));
    let apps_origin = http::apps_origin(&req.url()?, &domain);
    let resp = match serve(req, env).await {
        Ok(resp) => resp,
        Err(err) => http::error_response(&err, &method, &path),
    };
    http::secure(resp, &apps_origin)
}

#[event(queue)]
async fn queue(batch: MessageBatch<pipeline::BuildJob>, env: Env, _ctx: Context) -> Result<()> {
    consumer::handle(batch, env).await
}

/// The cron trigger (wrangler.toml `[triggers]`): the stall watchdog ([`watchdog`]).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match watchdog::run(&env).await {
        Ok(report) if report.failed.is_empty() && report.failed_rollbacks.is_empty() => {}
        Ok(report) => worker::console_warn!(
            "watchdog: failed {} stalled build(s) and {} stalled rollback(s): {}",
            report.failed.len(),
            report.failed_rollbacks.len(),
            report
                .failed
                .iter()
                .chain(&report.failed_rollbacks)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => worker::console_error!("watchdog: {e}"),
    }
}

async fn serve(req: Request, env: Env) -> std::result::Result<Response, ApiError> {
    let path = req.path();
    if path == "/api" || path.starts_with("/api/") {
        let ctx = http::Ctx::new(env)?;
        return api::route(req, &ctx).await;
    }
    // Everything else is the builder (web/dist, Workers Static Assets): files by path, and
    // index.html for page paths (`not_found_handling = "single-page-application"`). It needs no
    // configuration, so a misconfigured platform still shows its pages (and their API errors).
    adapters::assets::serve(&env, req).await
}
