//! The platform API. The route table below mirrors the URL tree; each subtree is a module.
//!
//! Routing is a `match` on the method and the path segments rather than a router crate: the
//! table is small, every arm is visible at once, unknown paths give 404 and known paths with the
//! wrong method give 405 with an `Allow` header.

pub mod admin;
pub mod auth;
pub mod builds;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod limits;
pub mod openapi;
pub mod projects;
pub mod rollback;
pub mod tokens;
pub mod versions;
pub mod webhooks;

use worker::{Method, Request, Response};

use crate::error::ApiError;
use crate::http::Ctx;

/// Answers one `/api/...` request, honouring `Idempotency-Key` on POSTs that create something.
pub async fn route(req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    match idempotency::begin(req, ctx).await? {
        idempotency::Begun::Plain(req) => dispatch(req, ctx).await,
        idempotency::Begun::Replay(resp) => Ok(resp),
        idempotency::Begun::Run(req, pending) => {
            pending.finish(ctx, dispatch(req, ctx).await).await
        }
    }
}

/// Dispatches one `/api/...` request to its handler.
async fn dispatch(mut req: Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    let not_allowed = |allowed: &'static str| ApiError::MethodNotAllowed {
        method: method.to_string(),
        allowed,
    };
    match segments.as_slice() {
        ["api", "health"] => match method {
            Method::Get | Method::Head => health::get(ctx).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "openapi.json"] => match method {
            Method::Get => openapi::get(),
            _ => Err(not_allowed("GET")),
        },
        ["api", "auth", action] => match (*action, &method) {
            ("register", Method::Post) => auth::register(&mut req, ctx).await,
            ("login", Method::Post) => auth::login(&mut req, ctx).await,
            ("logout", Method::Post) => auth::logout(&req, ctx).await,
            ("me", Method::Get) => auth::me(&req, ctx).await,
            ("register" | "login" | "logout", _) => Err(not_allowed("POST")),
            ("me", _) => Err(not_allowed("GET")),
            _ => Err(ApiError::NoRoute(path.clone())),
        },
        ["api", "tokens"] => match method {
            Method::Get => tokens::list(&req, ctx).await,
            Method::Post => tokens::create(&mut req, ctx).await,
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "tokens", id] => match method {
            Method::Delete => tokens::revoke(&req, ctx, id).await,
            _ => Err(not_allowed("DELETE")),
        },
        ["api", "projects"] => match method {
            Method::Get => projects::list(&req, ctx).await,
            Method::Post => projects::create(&mut req, ctx).await,
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "projects", id, "events"] => match method {
            Method::Get => events::list(&req, ctx, id).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "projects", id, "events", "verify"] => match method {
            Method::Get => events::verify(&req, ctx, id).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "projects", id, "messages"] => match method {
            Method::Get => projects::messages(&req, ctx, id).await,
            Method::Post => projects::post_message(&mut req, ctx, id).await,
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "projects", id, "builds"] => match method {
            Method::Get => builds::list(&req, ctx, id).await,
            Method::Post => builds::create(&mut req, ctx, id).await,
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "projects", id, "chat"] => match method {
            Method::Post => builds::chat(&mut req, ctx, id).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "projects", id, "rollback"] => match method {
            Method::Post => rollback::create(&mut req, ctx, id).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "projects", id, "webhooks"] => match method {
            Method::Get => webhooks::list(&req, ctx, id).await,
            Method::Post => webhooks::create(&mut req, ctx, id).await,
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "projects", id, "webhooks", wid] => match method {
            Method::Get => webhooks::get(&req, ctx, id, wid).await,
            Method::Patch => webhooks::update(&mut req, ctx, id, wid).await,
            Method::Delete => webhooks::delete(&req, ctx, id, wid).await,
            _ => Err(not_allowed("GET, PATCH, DELETE")),
        },
        ["api", "projects", id, "webhooks", wid, "rotate-secret"] => match method {
            Method::Post => webhooks::rotate_secret(&req, ctx, id, wid).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "projects", id, "webhooks", wid, "deliveries"] => match method {
            Method::Get => webhooks::deliveries(&req, ctx, id, wid).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "projects", id, "webhooks", wid, "deliveries", did, "redeliver"] => match method {
            Method::Post => webhooks::redeliver(&req, ctx, id, wid, did).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "builds", build_id] => match method {
            Method::Get => builds::get(&req, ctx, build_id).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "builds", build_id, "plan"] => match method {
            Method::Get => builds::plan(&req, ctx, build_id).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "builds", build_id, "cancel"] => match method {
            Method::Post => builds::cancel(&req, ctx, build_id).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "builds", build_id, "replay"] => match method {
            Method::Post => builds::replay(&mut req, ctx, build_id).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "projects", id, "versions"] => match method {
            Method::Get => versions::list(&req, ctx, id).await,
            Method::Post => versions::save(&mut req, ctx, id).await,
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "projects", id, "versions", n] => match method {
            Method::Get => versions::get(&req, ctx, id, n).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "projects", id, "versions", n, "files", path @ ..] => match method {
            Method::Get => versions::file(&req, ctx, id, n, &path.join("/")).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "projects", id, "versions", a, "diff", b] => match method {
            Method::Get => versions::diff(&req, ctx, id, a, b).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "admin", "projections"] => match method {
            Method::Get => admin::dump(&req, ctx).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "admin", "projections", "rebuild"] => match method {
            Method::Get => admin::rebuild_progress(&req, ctx).await,
            Method::Post => admin::rebuild(&req, ctx).await,
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "admin", "projects", id, "events"] => match method {
            Method::Get => admin::events(&req, ctx, id).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "_test", "r2"] => match method {
            Method::Get => admin::count_objects(&req, ctx).await,
            _ => Err(not_allowed("GET")),
        },
        ["api", "_test", "builds", build_id, "redeliver"] => match method {
            Method::Post => admin::redeliver(&req, ctx, build_id).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "_test", "builds", build_id, "workflow"] => match method {
            Method::Get => admin::workflow_status(&req, ctx, build_id).await,
            Method::Delete => admin::terminate_workflow(&req, ctx, build_id).await,
            _ => Err(not_allowed("GET, DELETE")),
        },
        ["api", "_test", "projects", project, "seed"] => match method {
            Method::Post => admin::seed(&mut req, ctx, project).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "_test", "apps", project, "query"] => match method {
            Method::Post => admin::app_query(&mut req, ctx, project).await,
            _ => Err(not_allowed("POST")),
        },
        ["api", "_test", "r2", key @ ..] if !key.is_empty() => match method {
            Method::Put => admin::put_object(&mut req, ctx, &key.join("/")).await,
            _ => Err(not_allowed("PUT")),
        },
        ["api", "projects", id] => match method {
            Method::Get => projects::get(&req, ctx, id).await,
            Method::Patch => projects::rename(&mut req, ctx, id).await,
            Method::Delete => projects::delete(&req, ctx, id).await,
            _ => Err(not_allowed("GET, PATCH, DELETE")),
        },
        _ => Err(ApiError::NoRoute(path.clone())),
    }
}
