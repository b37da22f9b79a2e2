//! `/api/projects`: create, list, read, rename, delete, always scoped to the caller.
//!
//! Another user's project answers exactly like a missing one (404), so ids cannot be probed.
//! A project keeps its slug when renamed: the app's address must not change under its users.

use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use events::envelope::Metadata;
use events::{Command, Role};

use crate::adapters::store::{ProjectRow, Reserved, Store};
use crate::adapters::webcrypto;
use crate::api::limits;
use crate::domain::{ProjectName, Slug};
use crate::error::ApiError;
use crate::http::{authenticate, json, no_content, read_json, Ctx};
use crate::service;
use crate::teardown::TeardownJob;

#[derive(Deserialize)]
struct NameBody {
    #[serde(default)]
    name: Option<String>,
}

/// How many suffixed slugs to try after a collision before giving up.
const SLUG_ATTEMPTS: usize = 8;

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "project '{}' not found",
        crate::domain::email::clip(id)
    ))
}

/// The app's public address, on the same scheme and port the platform was reached on.
fn app_url(req: &Request, ctx: &Ctx, slug: &str) -> String {
    let url = req.url().ok();
    let scheme = url
        .as_ref()
        .map(|u| u.scheme().to_string())
        .unwrap_or_else(|| "https".into());
    let port = url
        .as_ref()
        .and_then(|u| u.port())
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!("{scheme}://{slug}.{}{port}", ctx.config.apps_domain)
}

fn project_json(req: &Request, ctx: &Ctx, p: &ProjectRow) -> serde_json::Value {
    json!({
        "id": p.id,
        "name": p.name,
        "slug": p.slug,
        "url": app_url(req, ctx, &p.slug),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "build_status": p.build_status,
        "live_version": p.live_version,
    })
}

fn suffix() -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    Ok(webcrypto::random_bytes::<4>()?
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// `POST /api/projects {name}` → 201 project.
pub async fn create(req: &mut Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let body: NameBody = read_json(req, ctx.config.max_body_bytes).await?;
    let name = ProjectName::parse(body.name.as_deref().unwrap_or(""))?;
    let base = Slug::from_name(name.as_str())?;
    let store = Store::of(&ctx.env)?;
    let id = webcrypto::uuid_v4()?;
    let now = webcrypto::now_ms();
    let mut slug = base.clone();
    for _ in 0..SLUG_ATTEMPTS {
        // The row reserves the slug (UNIQUE) within the owner's project quota; the
        // ProjectCreated event then makes it real.
        let quota = ctx.config.limits.projects_per_user;
        let reserved = store
            .insert_project(
                &id,
                &caller.user_id,
                name.as_str(),
                slug.as_str(),
                now,
                quota,
            )
            .await?;
        if let Reserved::OverQuota = reserved {
            return Err(limits::projects_quota(&ctx.config.limits));
        }
        if let Reserved::Ok = reserved {
            let command = Command::CreateProject {
                name: name.as_str().into(),
                slug: slug.as_str().into(),
                owner: caller.user_id.clone(),
            };
            if let Err(e) =
                service::execute(ctx, &id, Metadata::new(now, &caller.user_id), command).await
            {
                store.delete_project(&id, &caller.user_id).await?;
                return Err(e);
            }
            crate::steps::ensure_app_secret(ctx, &id).await?;
            let row = ProjectRow {
                id,
                name: name.as_str().into(),
                slug: slug.as_str().into(),
                created_at: now,
                updated_at: now,
                build_status: None,
                live_version: None,
            };
            return json(201, &json!({ "project": project_json(req, ctx, &row) }));
        }
        slug = base.with_suffix(&suffix()?);
    }
    Err(ApiError::Conflict(format!(
        "could not find a free address for '{}'; try another name",
        name.as_str()
    )))
}

/// `GET /api/projects` → the caller's projects.
pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let rows = Store::of(&ctx.env)?.projects_of(&caller.user_id).await?;
    let items: Vec<_> = rows.iter().map(|p| project_json(req, ctx, p)).collect();
    json(200, &json!({ "projects": items }))
}

/// `GET /api/projects/:id`, with the live version and why it is live (a build or a rollback),
/// and a rollback in progress, from the event log.
pub async fn get(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let row = Store::of(&ctx.env)?
        .project(id, &caller.user_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let state = service::load(&service::event_log(ctx)?, id, true).await?;
    let mut project = project_json(req, ctx, &row);
    project["live"] = crate::api::rollback::live_json(state.live.as_ref());
    project["rollback"] = crate::api::rollback::pending_json(&state);
    json(200, &json!({ "project": project }))
}

/// `PATCH /api/projects/:id {name}` (recorded as `ProjectRenamed`).
pub async fn rename(req: &mut Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let body: NameBody = read_json(req, ctx.config.max_body_bytes).await?;
    let name = ProjectName::parse(body.name.as_deref().unwrap_or(""))?;
    let store = Store::of(&ctx.env)?;
    store
        .project(id, &caller.user_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let meta = Metadata::new(webcrypto::now_ms(), &caller.user_id);
    service::execute(
        ctx,
        id,
        meta,
        Command::RenameProject {
            name: name.as_str().into(),
        },
    )
    .await?;
    let row = store
        .project(id, &caller.user_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    json(200, &json!({ "project": project_json(req, ctx, &row) }))
}

/// `DELETE /api/projects/:id` → 204 (recorded as `ProjectDeleted`; the log itself is kept).
///
/// The teardown is a durable job on the teardown Queue ([`crate::teardown`]): the answer does not
/// wait for it and does not depend on it. The job is sent before the deletion is recorded, so a
/// recorded deletion always has one; the app's pointer is also removed here, best effort, so the
/// slug stops answering before the job runs.
pub async fn delete(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let row = Store::of(&ctx.env)?
        .project(id, &caller.user_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let hooks = ctx
        .env
        .var("KILN_TEST_HOOKS")
        .is_ok_and(|v| v.to_string() == "1");
    let fail_attempts = match req.headers().get("x-kiln-faults")? {
        Some(plan) if hooks => Some(parse_teardown_faults(&plan)?),
        _ => None,
    };
    let job = TeardownJob {
        project_id: id.to_string(),
        fail_attempts,
    };
    crate::teardown::request(ctx, &job).await?;
    let meta = Metadata::new(webcrypto::now_ms(), &caller.user_id);
    service::execute(ctx, id, meta, Command::DeleteProject).await?;
    let removed = match crate::adapters::build_store::bucket(&ctx.env) {
        Ok(bucket) => crate::teardown::remove_pointer(&bucket, id, &row.slug).await,
        Err(e) => Err(e),
    };
    if let Err(e) = removed {
        // Not an error for the caller: the queued teardown removes it too.
        worker::console_warn!("delete {id}: live pointer not removed yet: {e}");
    }
    no_content()
}

/// The test-only `x-kiln-faults` header of a delete: `teardown:N` fails the first N attempts.
fn parse_teardown_faults(plan: &str) -> Result<u32, ApiError> {
    plan.trim()
        .strip_prefix("teardown:")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=5).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "x-kiln-faults on a delete must be 'teardown:N' with N from 1 to 5, got '{}'",
                crate::domain::email::clip(plan)
            ))
        })
}

#[derive(Deserialize)]
struct MessageBody {
    #[serde(default)]
    content: Option<String>,
}

/// Longest chat message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;

/// `POST /api/projects/:id/messages {content}` → 201 message (recorded as `MessagePosted`).
pub async fn post_message(req: &mut Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let body: MessageBody = read_json(req, ctx.config.max_body_bytes).await?;
    let content = body.content.unwrap_or_default();
    let content = content.trim();
    if content.is_empty() {
        return Err(ApiError::invalid_field(
            "content",
            "content is required; describe what you want",
        ));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid_field(
            "content",
            format!("content must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Store::of(&ctx.env)?
        .project(id, &caller.user_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let message_id = webcrypto::uuid_v4()?;
    let now = webcrypto::now_ms();
    let command = Command::PostMessage {
        message_id: message_id.clone(),
        role: Role::User,
        content: content.into(),
    };
    let stored = service::execute(ctx, id, Metadata::new(now, &caller.user_id), command).await?;
    let seq = stored.first().map(|e| e.seq).unwrap_or_default();
    json(
        201,
        &json!({ "message": { "id": message_id, "role": "user", "content": content, "created_at": now, "seq": seq } }),
    )
}

/// `GET /api/projects/:id/messages` → the project's chat, oldest first.
pub async fn messages(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let caller = authenticate(req, ctx).await?;
    let store = Store::of(&ctx.env)?;
    store
        .project(id, &caller.user_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    json(200, &json!({ "messages": store.messages(id).await? }))
}
