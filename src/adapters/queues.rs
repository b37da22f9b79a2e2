//! The platform's Queue producers, one typed send per message kind. The consumers are in
//! `crate::consumer`; the Queue names and their producer bindings are in `wrangler.toml`.

use serde::Serialize;
use worker::Env;

use super::bindings;
use crate::error::ApiError;
use crate::pipeline::BuildJob;
use crate::rebuild::ChunkJob;
use crate::teardown::TeardownJob;
use crate::webhooks::WebhookJob;

/// Producer of `kiln-builds`.
const BUILDS: &str = "BUILD_QUEUE";
/// Producer of `kiln-teardown`.
const TEARDOWN: &str = "TEARDOWN_QUEUE";
/// Producer of `kiln-webhooks`.
const WEBHOOKS: &str = "WEBHOOK_QUEUE";
/// Producer of `kiln-rebuild`.
const REBUILD: &str = "REBUILD_QUEUE";

async fn send<T: Serialize>(
    env: &Env,
    binding: &str,
    what: &str,
    body: &T,
) -> Result<(), ApiError> {
    bindings::queue(env, binding)?
        .send(body)
        .await
        .map_err(|e| ApiError::internal(format!("{what} queue send: {e}")))
}

/// Sends a build request to the build Queue (the consumer starts its Workflow).
pub async fn send_build(env: &Env, job: &BuildJob) -> Result<(), ApiError> {
    send(env, BUILDS, "build", job).await
}

/// Sends a teardown job.
pub async fn send_teardown(env: &Env, job: &TeardownJob) -> Result<(), ApiError> {
    send(env, TEARDOWN, "teardown", job).await
}

/// Sends one chunk of a projection rebuild.
pub async fn send_rebuild_chunk(env: &Env, job: &ChunkJob) -> Result<(), ApiError> {
    send(env, REBUILD, "rebuild", job).await
}

/// Sends one webhook delivery (a redelivery).
pub async fn send_webhook(env: &Env, job: &WebhookJob) -> Result<(), ApiError> {
    send(env, WEBHOOKS, "webhook", job).await
}

/// Sends webhook deliveries as one batch (at most the Queue's batch limit).
pub async fn send_webhooks(env: &Env, jobs: &[WebhookJob]) -> Result<(), ApiError> {
    bindings::queue(env, WEBHOOKS)?
        .send_batch(jobs.to_vec())
        .await
        .map_err(|e| ApiError::internal(format!("webhook queue send: {e}")))
}
