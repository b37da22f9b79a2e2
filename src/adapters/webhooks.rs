//! Webhook endpoints and their delivery log in the platform D1 (`webhooks`,
//! `webhook_deliveries`). Endpoint queries name the project, and handlers check that the caller
//! owns the project first, so another user's endpoint is indistinguishable from a missing one.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1Database;

use crate::error::ApiError;

/// An endpoint as stored. `secret` is read only where a callback is signed or rotated; listings
/// never show it.
#[derive(Debug, Clone, Deserialize)]
pub struct EndpointRow {
    /// Endpoint id.
    pub id: String,
    /// The project whose events it receives.
    pub project_id: String,
    /// Receiver URL.
    pub url: String,
    /// Space-separated callback types.
    pub events: String,
    /// Free text.
    pub description: String,
    /// 1 while deliveries are on.
    pub enabled: i64,
    /// Why deliveries stopped, if they did on their own.
    pub disabled_reason: Option<String>,
    /// `whsec_…`.
    pub secret: String,
    /// Scheme, host and port the endpoint was created through.
    pub origin: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// One attempt in the delivery log.
#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryRow {
    /// Delivery id.
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The `webhook-id` header.
    pub message_id: String,
    /// Callback type.
    pub event_type: String,
    /// Attempt number.
    pub attempt: i64,
    /// 1 for a redelivery asked for through the API.
    pub manual: i64,
    /// `succeeded`, `failed`, `disabled` (a 410) or `dead` (gave up).
    pub outcome: String,
    /// The receiver's status, if it answered.
    pub status: Option<i64>,
    /// What went wrong otherwise.
    pub error: Option<String>,
    /// Wall time of the attempt.
    pub duration_ms: i64,
    /// The signed body.
    pub body: String,
    /// When it happened (ms).
    pub created_at: i64,
}

const ENDPOINT_COLUMNS: &str = "id, project_id, url, events, description, enabled, disabled_reason, secret, origin, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, message_id, event_type, attempt, manual, outcome, status, error, duration_ms, body, created_at";

/// Most deliveries a listing returns.
pub const DELIVERIES_PAGE: u32 = 100;

fn d1_err(what: &str, e: worker::Error) -> ApiError {
    ApiError::internal(format!("d1 {what}: {e}"))
}

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn changed(out: &worker::D1Result) -> bool {
    out.meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
        > 0
}

/// The changes a PATCH asks for (`None` = keep).
#[derive(Debug, Default)]
pub struct EndpointPatch {
    /// New URL.
    pub url: Option<String>,
    /// New stored event list.
    pub events: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// On or off (switching on clears the reason it went off).
    pub enabled: Option<bool>,
}

/// Typed access to the webhook tables.
pub struct Webhooks {
    db: D1Database,
}

impl Webhooks {
    /// Over the platform database binding.
    pub fn of(env: &worker::Env) -> Result<Self, ApiError> {
        Ok(Self {
            db: super::bindings::platform_db(env)?,
        })
    }

    /// Stores a new endpoint unless the project holds `quota` already; `false` when over quota.
    pub async fn insert(&self, e: &EndpointRow, quota: u32) -> Result<bool, ApiError> {
        let out = self
            .db
            .prepare(
                "INSERT INTO webhooks (id, project_id, url, events, description, enabled, secret, origin, created_at, updated_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?8 \
                 WHERE (SELECT COUNT(*) FROM webhooks WHERE project_id = ?2) < ?9",
            )
            .bind(&[
                e.id.as_str().into(),
                e.project_id.as_str().into(),
                e.url.as_str().into(),
                e.events.as_str().into(),
                e.description.as_str().into(),
                e.secret.as_str().into(),
                e.origin.as_str().into(),
                num(e.created_at),
                num(i64::from(quota)),
            ])?
            .run()
            .await
            .map_err(|e| d1_err("insert webhook", e))?;
        Ok(changed(&out))
    }

    /// The project's endpoints, oldest first.
    pub async fn list(&self, project_id: &str) -> Result<Vec<EndpointRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE project_id = ?1 ORDER BY created_at, id"
            ))
            .bind(&[project_id.into()])?
            .all()
            .await
            .and_then(|r| r.results::<EndpointRow>())
            .map_err(|e| d1_err("list webhooks", e))
    }

    /// The project's enabled endpoints (the fan-out's one indexed query per append).
    pub async fn enabled(&self, project_id: &str) -> Result<Vec<EndpointRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE project_id = ?1 AND enabled = 1"
            ))
            .bind(&[project_id.into()])?
            .all()
            .await
            .and_then(|r| r.results::<EndpointRow>())
            .map_err(|e| d1_err("enabled webhooks", e))
    }

    /// Endpoint `id` of `project_id`.
    pub async fn get(&self, project_id: &str, id: &str) -> Result<Option<EndpointRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE id = ?1 AND project_id = ?2"
            ))
            .bind(&[id.into(), project_id.into()])?
            .first::<EndpointRow>(None)
            .await
            .map_err(|e| d1_err("get webhook", e))
    }

    /// Endpoint `id`, whatever its project (the delivery consumer).
    pub async fn by_id(&self, id: &str) -> Result<Option<EndpointRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE id = ?1"
            ))
            .bind(&[id.into()])?
            .first::<EndpointRow>(None)
            .await
            .map_err(|e| d1_err("webhook by id", e))
    }

    /// Applies a PATCH; `false` when there is no such endpoint.
    pub async fn update(
        &self,
        project_id: &str,
        id: &str,
        p: &EndpointPatch,
        now: i64,
    ) -> Result<bool, ApiError> {
        let text = |v: &Option<String>| v.as_deref().map(JsValue::from).unwrap_or(JsValue::NULL);
        let out = self
            .db
            .prepare(
                "UPDATE webhooks SET url = COALESCE(?3, url), events = COALESCE(?4, events), \
                 description = COALESCE(?5, description), enabled = COALESCE(?6, enabled), \
                 disabled_reason = CASE WHEN ?6 = 1 THEN NULL ELSE disabled_reason END, updated_at = ?7 \
                 WHERE id = ?1 AND project_id = ?2",
            )
            .bind(&[
                id.into(),
                project_id.into(),
                text(&p.url),
                text(&p.events),
                text(&p.description),
                p.enabled.map(|b| num(i64::from(b))).unwrap_or(JsValue::NULL),
                num(now),
            ])?
            .run()
            .await
            .map_err(|e| d1_err("update webhook", e))?;
        Ok(changed(&out))
    }

    /// Replaces the secret; `false` when there is no such endpoint.
    pub async fn set_secret(
        &self,
        project_id: &str,
        id: &str,
        secret: &str,
        now: i64,
    ) -> Result<bool, ApiError> {
        let out = self
            .db
            .prepare("UPDATE webhooks SET secret = ?3, updated_at = ?4 WHERE id = ?1 AND project_id = ?2")
            .bind(&[id.into(), project_id.into(), secret.into(), num(now)])?
            .run()
            .await
            .map_err(|e| d1_err("rotate webhook secret", e))?;
        Ok(changed(&out))
    }

    /// Turns deliveries off on the receiver's request (a 410).
    pub async fn disable(&self, id: &str, reason: &str, now: i64) -> Result<(), ApiError> {
        self.db
            .prepare("UPDATE webhooks SET enabled = 0, disabled_reason = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(&[id.into(), reason.into(), num(now)])?
            .run()
            .await
            .map_err(|e| d1_err("disable webhook", e))?;
        Ok(())
    }

    /// Deletes an endpoint and its delivery log; `false` when there is no such endpoint.
    pub async fn delete(&self, project_id: &str, id: &str) -> Result<bool, ApiError> {
        let results = self
            .db
            .batch(vec![
                self.db
                    .prepare("DELETE FROM webhooks WHERE id = ?1 AND project_id = ?2")
                    .bind(&[id.into(), project_id.into()])?,
                self.db
                    .prepare(
                        "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 \
                         AND NOT EXISTS (SELECT 1 FROM webhooks WHERE id = ?1)",
                    )
                    .bind(&[id.into()])?,
            ])
            .await
            .map_err(|e| d1_err("delete webhook", e))?;
        Ok(results.first().is_some_and(changed))
    }

    /// Appends one attempt to the delivery log.
    pub async fn record(&self, d: &DeliveryRow) -> Result<(), ApiError> {
        let opt_num = |v: Option<i64>| v.map(num).unwrap_or(JsValue::NULL);
        self.db
            .prepare(format!(
                "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))
            .bind(&[
                d.id.as_str().into(),
                d.webhook_id.as_str().into(),
                d.message_id.as_str().into(),
                d.event_type.as_str().into(),
                num(d.attempt),
                num(d.manual),
                d.outcome.as_str().into(),
                opt_num(d.status),
                d.error.as_deref().map(JsValue::from).unwrap_or(JsValue::NULL),
                num(d.duration_ms),
                d.body.as_str().into(),
                num(d.created_at),
            ])?
            .run()
            .await
            .map_err(|e| d1_err("record delivery", e))?;
        Ok(())
    }

    /// Attempts logged so far for `message_id` at endpoint `webhook_id` (the next attempt's
    /// number is one more: the Queue's own count is not reachable from workers-rs).
    pub async fn attempts(&self, webhook_id: &str, message_id: &str) -> Result<i64, ApiError> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        Ok(self
            .db
            .prepare(
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ?1 AND message_id = ?2 AND outcome != 'dead'",
            )
            .bind(&[webhook_id.into(), message_id.into()])?
            .first::<Count>(None)
            .await
            .map_err(|e| d1_err("count deliveries", e))?
            .map_or(0, |c| c.n))
    }

    /// The endpoint's delivery log, newest first.
    pub async fn deliveries(&self, webhook_id: &str) -> Result<Vec<DeliveryRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?1 \
                 ORDER BY created_at DESC, attempt DESC LIMIT {DELIVERIES_PAGE}"
            ))
            .bind(&[webhook_id.into()])?
            .all()
            .await
            .and_then(|r| r.results::<DeliveryRow>())
            .map_err(|e| d1_err("list deliveries", e))
    }

    /// One logged attempt of the endpoint.
    pub async fn delivery(
        &self,
        webhook_id: &str,
        id: &str,
    ) -> Result<Option<DeliveryRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1 AND webhook_id = ?2"
            ))
            .bind(&[id.into(), webhook_id.into()])?
            .first::<DeliveryRow>(None)
            .await
            .map_err(|e| d1_err("get delivery", e))
    }
}
