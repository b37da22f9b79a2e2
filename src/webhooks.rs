//! Webhook delivery: fan-out after events are appended, one Queue message per (endpoint, event),
//! and the Queue consumer that signs, sends, logs and retries (docs/adr/0017-webhook-delivery.md).
//!
//! - [`fan_out`] runs in [`crate::service::execute`] after an append: when the batch holds an
//!   event with a callback type, one indexed D1 query finds the project's enabled endpoints, and
//!   each matching (endpoint, event) becomes a [`WebhookJob`] on `kiln-webhooks`. It never sends
//!   HTTP itself, so a slow receiver cannot slow a build step or an API request down; a failed
//!   fan-out is logged and does not fail the command that was already recorded.
//! - [`handle`] consumes `kiln-webhooks`: each attempt is signed afresh (new `webhook-timestamp`,
//!   same `webhook-id` and body), sent with a 15 s timeout, and logged in `webhook_deliveries`. A
//!   2xx acks; a 410 disables the endpoint and acks; anything else is retried by the Queue after
//!   the Standard Webhooks delay ([`crate::domain::webhook::schedule`]); after the eighth attempt
//!   the Queue moves the message to `kiln-webhooks-dlq`, whose consumer logs that it gave up.
//! - A redelivery asked for through the API is one more attempt of the same message (same
//!   `webhook-id`, same body), not retried on failure.

use std::collections::BTreeMap;

use events::Envelope;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use worker::{Env, MessageExt, QueueRetryOptionsBuilder, RawMessage};

use crate::adapters::webcrypto;
use crate::adapters::webhooks::{DeliveryRow, EndpointRow, Webhooks};
use crate::adapters::{queues, webhook_http};
use crate::domain::webhook::schedule::{self, Next};
use crate::domain::webhook::{payload_of, signature, EventFilter, EventType};
use crate::error::ApiError;
use crate::http::Ctx;

/// The Queue of deliveries.
pub const QUEUE: &str = "kiln-webhooks";
/// Where the Queue puts a message after its last attempt.
pub const DEAD_LETTER_QUEUE: &str = "kiln-webhooks-dlq";
/// Longest wait for a receiver's answer, per attempt.
pub const TIMEOUT_MS: u32 = 15_000;
/// Sent as `user-agent`.
const USER_AGENT: &str = "Kiln-Webhooks/1";
/// Most messages per Queue `sendBatch`.
const SEND_BATCH: usize = 100;

/// One callback for one endpoint: the Queue message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookJob {
    /// The endpoint.
    pub webhook_id: String,
    /// `webhook-id`: the same on every attempt of this message.
    pub message_id: String,
    /// Callback type.
    pub event_type: String,
    /// The JSON body, fixed at fan-out.
    pub body: String,
    /// A redelivery asked for through the API (one attempt, no retries).
    #[serde(default)]
    pub manual: bool,
}

/// The live app's address for an endpoint created through `origin`, like the API's project URL.
fn app_url(origin: &str, slug: &str, apps_domain: &str) -> String {
    let parsed = url::Url::parse(origin).ok();
    let scheme = parsed.as_ref().map_or("https", |u| u.scheme());
    let port = parsed
        .as_ref()
        .and_then(|u| u.port())
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!("{scheme}://{slug}.{apps_domain}{port}")
}

/// The messages for `stored` events of one project to `endpoints`, in log order.
pub fn jobs_for(
    stored: &[Envelope],
    endpoints: &[EndpointRow],
    slug: &str,
    apps_domain: &str,
) -> Vec<WebhookJob> {
    let mut jobs = Vec::new();
    for envelope in stored {
        for endpoint in endpoints {
            let url = app_url(&endpoint.origin, slug, apps_domain);
            let Some((kind, body)) = payload_of(envelope, &url) else {
                break;
            };
            if !EventFilter::from_stored(&endpoint.events).contains(kind) {
                continue;
            }
            jobs.push(WebhookJob {
                webhook_id: endpoint.id.clone(),
                message_id: signature::message_id(&envelope.id, &endpoint.id),
                event_type: kind.as_str().into(),
                body: body.to_string(),
                manual: false,
            });
        }
    }
    jobs
}

/// Enqueues the callbacks of freshly appended events. Never fails the caller: the events are
/// recorded already, and a lost callback is logged (docs/adr/0017 on this trade-off).
pub async fn fan_out(ctx: &Ctx, slug: &str, stored: &[Envelope]) {
    let Some(first) = stored.first() else {
        return;
    };
    if !stored.iter().any(|e| EventType::of(&e.data).is_some()) {
        return;
    }
    if let Err(e) = try_fan_out(ctx, slug, stored).await {
        worker::console_error!(
            "webhooks: callbacks of {} (seq {}..) not enqueued: {e}",
            first.stream,
            first.seq
        );
    }
}

async fn try_fan_out(ctx: &Ctx, slug: &str, stored: &[Envelope]) -> Result<(), ApiError> {
    let project = &stored[0].stream;
    let endpoints = Webhooks::of(&ctx.env)?.enabled(project).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let jobs = jobs_for(stored, &endpoints, slug, &ctx.config.apps_domain);
    for chunk in jobs.chunks(SEND_BATCH) {
        queues::send_webhooks(&ctx.env, chunk).await?;
    }
    Ok(())
}

/// Enqueues a redelivery of a logged message.
pub async fn redeliver(ctx: &Ctx, job: &WebhookJob) -> Result<(), ApiError> {
    queues::send_webhook(&ctx.env, job).await
}

/// What to do with a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// The endpoint is gone or switched off: nothing to send.
    Dropped,
    /// The receiver answered 410: the endpoint is now disabled.
    Disabled,
    /// A redelivery failed: logged, not retried.
    FailedOnce,
    /// Retry after this many seconds.
    Retry(u32),
    /// The last attempt failed: let the Queue dead-letter it.
    GiveUp,
}

/// Makes one attempt of `job` and logs it.
pub async fn attempt(ctx: &Ctx, job: &WebhookJob) -> Result<Outcome, ApiError> {
    let store = Webhooks::of(&ctx.env)?;
    let Some(endpoint) = store.by_id(&job.webhook_id).await? else {
        return Ok(Outcome::Dropped);
    };
    if endpoint.enabled != 1 {
        return Ok(Outcome::Dropped);
    }
    let number = store.attempts(&endpoint.id, &job.message_id).await? + 1;
    let key = signature::key_of(&endpoint.secret).map_err(ApiError::internal)?;
    let started = webcrypto::now_ms();
    let timestamp = started / 1000;
    let signed = signature::sign(&key, &job.message_id, timestamp, &job.body);
    let timestamp = timestamp.to_string();
    let headers = [
        ("content-type", "application/json"),
        ("user-agent", USER_AGENT),
        ("webhook-id", job.message_id.as_str()),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", signed.as_str()),
    ];
    let answer = webhook_http::post(&endpoint.url, &headers, &job.body, TIMEOUT_MS).await;
    let finished = webcrypto::now_ms();
    let (status, error, retry_after) = match &answer {
        Ok(a) => (
            Some(a.status),
            None,
            a.retry_after
                .as_deref()
                .and_then(schedule::parse_retry_after),
        ),
        Err(e) => (None, Some(e.clone()), None),
    };
    let outcome = match status {
        Some(200..=299) => Outcome::Delivered,
        Some(410) => Outcome::Disabled,
        _ if job.manual => Outcome::FailedOnce,
        _ => match schedule::after_failure(
            u32::try_from(number).unwrap_or(u32::MAX),
            retry_after,
            ctx.config.webhooks.retry_scale,
        ) {
            Next::RetryIn(secs) => Outcome::Retry(secs),
            Next::GiveUp => Outcome::GiveUp,
        },
    };
    let error = error.or_else(|| match status {
        Some(200..=299) | None => None,
        Some(410) => Some("the receiver answered 410 Gone: endpoint disabled".into()),
        Some(s) => Some(format!("the receiver answered {s}")),
    });
    if outcome == Outcome::Disabled {
        store
            .disable(&endpoint.id, "the receiver answered 410 Gone", finished)
            .await?;
    }
    store
        .record(&DeliveryRow {
            id: webcrypto::uuid_v4()?,
            webhook_id: endpoint.id.clone(),
            message_id: job.message_id.clone(),
            event_type: job.event_type.clone(),
            attempt: number,
            manual: i64::from(job.manual),
            outcome: match outcome {
                Outcome::Delivered => "succeeded",
                Outcome::Disabled => "disabled",
                _ => "failed",
            }
            .into(),
            status: status.map(i64::from),
            error,
            duration_ms: finished - started,
            body: job.body.clone(),
            created_at: finished,
        })
        .await?;
    Ok(outcome)
}

/// Logs that the Queue gave up on `job` (its message reached the dead-letter queue).
pub async fn dead(ctx: &Ctx, job: &WebhookJob) -> Result<(), ApiError> {
    let store = Webhooks::of(&ctx.env)?;
    if store.by_id(&job.webhook_id).await?.is_none() {
        return Ok(());
    }
    let attempts = store.attempts(&job.webhook_id, &job.message_id).await?;
    let now = webcrypto::now_ms();
    store
        .record(&DeliveryRow {
            id: webcrypto::uuid_v4()?,
            webhook_id: job.webhook_id.clone(),
            message_id: job.message_id.clone(),
            event_type: job.event_type.clone(),
            attempt: attempts,
            manual: 0,
            outcome: "dead".into(),
            status: None,
            error: Some(format!(
                "gave up after {attempts} attempts; redeliver it with POST …/deliveries/:id/redeliver"
            )),
            duration_ms: 0,
            body: job.body.clone(),
            created_at: now,
        })
        .await
}

fn decode(message: &RawMessage) -> Option<WebhookJob> {
    let body = js_sys::JSON::stringify(&message.body())
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    match serde_json::from_str(&body) {
        Ok(job) => Some(job),
        Err(e) => {
            // Cannot succeed on any retry: drop it, loudly (never log the body's secrets: it has none,
            // but keep the line short).
            worker::console_error!("webhooks: unreadable message: {e}");
            None
        }
    }
}

/// Handles a batch of `kiln-webhooks` (or, with `dead_letters`, `kiln-webhooks-dlq`) messages.
/// Endpoints are served concurrently and each endpoint's messages in order, so one slow receiver
/// delays only its own callbacks.
pub async fn handle(messages: Vec<RawMessage>, env: &Env, dead_letters: bool) {
    let ctx = match Ctx::new(env.clone()) {
        Ok(ctx) => ctx,
        Err(e) => {
            worker::console_error!("webhooks: cannot run: {e}");
            for m in &messages {
                m.retry();
            }
            return;
        }
    };
    let mut by_endpoint: BTreeMap<String, Vec<(RawMessage, WebhookJob)>> = BTreeMap::new();
    for message in messages {
        match decode(&message) {
            Some(job) => by_endpoint
                .entry(job.webhook_id.clone())
                .or_default()
                .push((message, job)),
            None => message.ack(),
        }
    }
    let ctx = &ctx;
    join_all(by_endpoint.into_values().map(|queue| async move {
        for (message, job) in queue {
            if dead_letters {
                match dead(ctx, &job).await {
                    Ok(()) => message.ack(),
                    Err(e) => {
                        worker::console_error!("webhooks: dead letter {}: {e}", job.message_id);
                        message.retry();
                    }
                }
                continue;
            }
            match attempt(ctx, &job).await {
                Ok(Outcome::Retry(secs)) => message.retry_with_options(
                    &QueueRetryOptionsBuilder::new()
                        .with_delay_seconds(secs)
                        .build(),
                ),
                Ok(Outcome::GiveUp) => message.retry(),
                Ok(_) => message.ack(),
                Err(e) => {
                    worker::console_error!(
                        "webhooks: {} to {}: {e}",
                        job.message_id,
                        job.webhook_id
                    );
                    message.retry();
                }
            }
        }
    }))
    .await;
}
