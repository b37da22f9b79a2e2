//! Kiln platform Worker.
//!
//! One fetch handler serves two kinds of host: the platform itself (`localhost`, the API under
//! `/api`) and apps (`<slug>.<APPS_DOMAIN>`), which are handed to the dispatch Worker through a
//! service binding so app traffic never runs platform code paths. Pure logic lives in
//! [`domain`] and the `events`/`workflows` crates; [`adapters`] are the only code touching
//! bindings; [`error::ApiError`] is turned into a response in exactly one place.

pub mod adapters;
pub mod api;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod error;
pub mod http;
pub mod pipeline;
pub mod resume;
pub mod service;
pub mod steps;
pub mod teardown;

use worker::{event, Context, Env, MessageBatch, Request, Response, Result};

use crate::domain::slug::slug_from_host;
use crate::error::ApiError;

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    resume::once_per_isolate(&env, &ctx);
    // App hosts first, before the platform's own configuration is read: a platform
    // misconfiguration (say, a bad model setting) must not take generated apps down.
    if is_app_host(&req, &env) {
        return env.service("DISPATCH")?.fetch_request(req).await;
    }
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

/// Whether the request is for `<slug>.<APPS_DOMAIN>` (the dispatch Worker's), not the platform.
fn is_app_host(req: &Request, env: &Env) -> bool {
    let domain = config::apps_domain(env.var("APPS_DOMAIN").ok().map(|v| v.to_string()));
    req.url()
        .ok()
        .and_then(|u| u.host_str().map(|h| slug_from_host(h, &domain).is_some()))
        .unwrap_or(false)
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
    Ok(env.assets("ASSETS")?.fetch_request(req).await?)
}
