//! `/api/projects/:id/webhooks`: status callbacks for programs (Standard Webhooks).
//!
//! Only the project's owner sees or changes its endpoints; another user's project or endpoint
//! answers 404 like a missing one. The signing secret is shown once, when the endpoint is created
//! and when it is rotated; listings never carry it. Delivery itself is in [`crate::webhooks`].

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::adapters::store::Store;
use crate::adapters::webcrypto;
use crate::adapters::webhooks::{DeliveryRow, EndpointPatch, EndpointRow, Webhooks};
use crate::domain::email::clip;
use crate::domain::webhook::signature::{self, SECRET_BYTES};
use crate::domain::webhook::target::WebhookUrl;
use crate::domain::webhook::{parse_description, EventFilter, MAX_ENDPOINTS_PER_PROJECT};
use crate::error::ApiError;
use crate::http::{authenticate, json, no_content, read_json, Ctx};
use crate::webhooks::WebhookJob;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    enabled: Option<bool>,
    description: Option<String>,
}

fn shown(row: &EndpointRow) -> Value {
    json!({
        "id": row.id,
        "url": row.url,
        "events": EventFilter::from_stored(&row.events).names(),
        "description": row.description,
        "enabled": row.enabled == 1,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
}

fn shown_delivery(row: &DeliveryRow) -> Value {
    json!({
        "id": row.id,
        "webhook_id": row.message_id,
        "event_type": row.event_type,
        "attempt": row.attempt,
        "redelivery": row.manual == 1,
        "outcome": row.outcome,
        "status": row.status,
        "error": row.error,
        "duration_ms": row.duration_ms,
        "created_at": row.created_at,
    })
}

fn endpoint_not_found(wid: &str) -> ApiError {
    ApiError::NotFound(format!("webhook '{}' not found", clip(wid)))
}

/// Checks that the caller owns project `id`.
async fn owned(req: &Request, ctx: &Ctx, id: &str) -> Result<(), ApiError> {
    let caller = authenticate(req, ctx).await?;
    Store::of(&ctx.env)?
        .project(id, &caller.user_id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("project '{}' not found", clip(id))))
}

async fn endpoint(ctx: &Ctx, id: &str, wid: &str) -> Result<EndpointRow, ApiError> {
    Webhooks::of(&ctx.env)?
        .get(id, wid)
        .await?
        .ok_or_else(|| endpoint_not_found(wid))
}

fn new_secret() -> Result<String, ApiError> {
    Ok(signature::secret_from_bytes(&webcrypto::random_bytes::<
        SECRET_BYTES,
    >()?))
}

/// The scheme, host and port this request reached the platform on.
fn origin_of(req: &Request) -> String {
    req.url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "https://localhost".into())
}

/// `POST /api/projects/:id/webhooks {url, events?, description?}` → 201 with the secret.
pub async fn create(req: &mut Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let body: CreateBody = read_json(req, ctx.config.max_body_bytes).await?;
    let url = WebhookUrl::parse(
        body.url.as_deref().unwrap_or_default(),
        ctx.config.webhooks.allow_private,
    )
    .map_err(|m| ApiError::invalid_field("url", m))?;
    let events = EventFilter::parse(body.events.as_deref())
        .map_err(|m| ApiError::invalid_field("events", m))?;
    let description = parse_description(body.description.as_deref())
        .map_err(|m| ApiError::invalid_field("description", m))?;
    let now = webcrypto::now_ms();
    let row = EndpointRow {
        id: webcrypto::uuid_v4()?,
        project_id: id.into(),
        url: url.as_str().into(),
        events: events.to_stored(),
        description,
        enabled: 1,
        disabled_reason: None,
        secret: new_secret()?,
        origin: origin_of(req),
        created_at: now,
        updated_at: now,
    };
    if !Webhooks::of(&ctx.env)?
        .insert(&row, MAX_ENDPOINTS_PER_PROJECT)
        .await?
    {
        return Err(ApiError::QuotaExceeded(format!(
            "a project may hold at most {MAX_ENDPOINTS_PER_PROJECT} webhooks; delete one with DELETE /api/projects/:id/webhooks/:wid"
        )));
    }
    json(
        201,
        &json!({
            "id": row.id,
            "url": row.url,
            "events": events.names(),
            "description": row.description,
            "enabled": true,
            "secret": row.secret,
            "created_at": now,
        }),
    )
}

/// `GET /api/projects/:id/webhooks` → `{webhooks: [...]}`, without secrets.
pub async fn list(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let rows = Webhooks::of(&ctx.env)?.list(id).await?;
    json(
        200,
        &json!({ "webhooks": rows.iter().map(shown).collect::<Vec<_>>() }),
    )
}

/// `GET /api/projects/:id/webhooks/:wid`.
pub async fn get(req: &Request, ctx: &Ctx, id: &str, wid: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    json(200, &shown(&endpoint(ctx, id, wid).await?))
}

/// `PATCH /api/projects/:id/webhooks/:wid {url?, events?, enabled?, description?}`.
pub async fn update(
    req: &mut Request,
    ctx: &Ctx,
    id: &str,
    wid: &str,
) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let body: PatchBody = read_json(req, ctx.config.max_body_bytes).await?;
    if body.url.is_none()
        && body.events.is_none()
        && body.enabled.is_none()
        && body.description.is_none()
    {
        return Err(ApiError::BadRequest(
            "nothing to change; send at least one of url, events, enabled, description".into(),
        ));
    }
    let patch = EndpointPatch {
        url: body
            .url
            .as_deref()
            .map(|u| WebhookUrl::parse(u, ctx.config.webhooks.allow_private))
            .transpose()
            .map_err(|m| ApiError::invalid_field("url", m))?
            .map(|u| u.as_str().to_string()),
        events: body
            .events
            .as_deref()
            .map(|e| EventFilter::parse(Some(e)))
            .transpose()
            .map_err(|m| ApiError::invalid_field("events", m))?
            .map(|f| f.to_stored()),
        description: body
            .description
            .as_deref()
            .map(|d| parse_description(Some(d)))
            .transpose()
            .map_err(|m| ApiError::invalid_field("description", m))?,
        enabled: body.enabled,
    };
    let store = Webhooks::of(&ctx.env)?;
    if !store.update(id, wid, &patch, webcrypto::now_ms()).await? {
        return Err(endpoint_not_found(wid));
    }
    json(200, &shown(&endpoint(ctx, id, wid).await?))
}

/// `DELETE /api/projects/:id/webhooks/:wid` → 204; callbacks still queued for it are dropped.
pub async fn delete(req: &Request, ctx: &Ctx, id: &str, wid: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    if Webhooks::of(&ctx.env)?.delete(id, wid).await? {
        no_content()
    } else {
        Err(endpoint_not_found(wid))
    }
}

/// `POST /api/projects/:id/webhooks/:wid/rotate-secret` → 200 `{secret}`; the old secret stops
/// signing at once.
pub async fn rotate_secret(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    wid: &str,
) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let secret = new_secret()?;
    if !Webhooks::of(&ctx.env)?
        .set_secret(id, wid, &secret, webcrypto::now_ms())
        .await?
    {
        return Err(endpoint_not_found(wid));
    }
    json(200, &json!({ "secret": secret }))
}

/// `GET /api/projects/:id/webhooks/:wid/deliveries` → the latest attempts, newest first.
pub async fn deliveries(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    wid: &str,
) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    endpoint(ctx, id, wid).await?;
    let rows = Webhooks::of(&ctx.env)?.deliveries(wid).await?;
    json(
        200,
        &json!({ "deliveries": rows.iter().map(shown_delivery).collect::<Vec<_>>() }),
    )
}

/// `POST /api/projects/:id/webhooks/:wid/deliveries/:did/redeliver` → 202: the logged message is
/// sent again (same `webhook-id`, same body, a fresh timestamp and signature) as one more attempt.
pub async fn redeliver(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    wid: &str,
    did: &str,
) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let hook = endpoint(ctx, id, wid).await?;
    let row = Webhooks::of(&ctx.env)?
        .delivery(wid, did)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("delivery '{}' not found", clip(did))))?;
    if hook.enabled != 1 {
        return Err(ApiError::Conflict(
            "this webhook is disabled; enable it with PATCH {\"enabled\": true} first".into(),
        ));
    }
    crate::webhooks::redeliver(
        ctx,
        &WebhookJob {
            webhook_id: hook.id,
            message_id: row.message_id.clone(),
            event_type: row.event_type,
            body: row.body,
            manual: true,
        },
    )
    .await?;
    json(
        202,
        &json!({ "webhook_id": row.message_id, "queued": true }),
    )
}
