//! The Queue consumer. One Worker consumes two Queues, told apart by the batch's queue name:
//! - `kiln-builds`: each `BuildJob` message becomes a `BuildWorkflow` instance whose id is the
//!   build id (below);
//! - `kiln-builds-dlq`: a build whose message could not start a workflow after every retry is
//!   recorded as failed at `intake`, so the project is free for the next build;
//! - `kiln-teardown`: each [`TeardownJob`] runs [`teardown::process`], and is retried by the Queue
//!   until the teardown is complete (see [`crate::teardown`]);
//! - `kiln-rebuild`: each message is one chunk of the projection rebuild ([`crate::rebuild`]);
//! - `kiln-webhooks` and `kiln-webhooks-dlq`: each [`crate::webhooks::WebhookJob`] is one
//!   delivery attempt, retried on the Standard Webhooks schedule, and logged when it is given up
//!   (see [`crate::webhooks`]).
//!
//! A message can be delivered more than once, and the local Workflows engine does not reject a
//! duplicate instance id (production does), so starting is deduplicated here: a create-only R2
//! marker `workflows/<build id>` elects one starter. A later delivery that finds the marker only
//! creates the instance if the engine has no instance with that id (the first starter crashed
//! between the marker and the create). The workflow's first step (`StartBuild` in the event log)
//! is a second guard: a duplicate run finds the build already started.

use worker::{Env, MessageBatch, MessageExt};

use crate::adapters::build_store;
use crate::adapters::workflow_instances::{Created, Workflow};
use crate::error::ApiError;
use crate::pipeline::BuildJob;
use crate::teardown::{self, TeardownJob};
use crate::webhooks;

/// What handling one message did (the consumer acks either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A workflow instance was created.
    Started,
    /// The build already has an instance; nothing was done.
    Duplicate,
}

/// Starts the workflow for `job` unless it has been started already.
pub async fn start(env: &Env, job: &BuildJob) -> Result<Outcome, ApiError> {
    let elected = build_store::put_if_absent(
        env,
        &format!("workflows/{}", job.build_id),
        job.project_id.clone().into_bytes(),
    )
    .await?;
    let workflows = Workflow::builds(env)?;
    if !elected && workflows.get(&job.build_id).await.is_some() {
        return Ok(Outcome::Duplicate);
    }
    // A create the engine refuses because the instance exists (production rejects a duplicate
    // id: someone else started it) is told apart by the engine's state, not its error text.
    match workflows.create(&job.build_id, job).await? {
        Created::Started => Ok(Outcome::Started),
        Created::Duplicate => Ok(Outcome::Duplicate),
    }
}

/// Handles a batch: each message is acked when handled, retried (then dead-lettered) on failure.
/// The batch type names the build message because the Worker has one queue handler; teardown
/// batches are read raw and decoded here.
pub async fn handle(batch: MessageBatch<BuildJob>, env: Env) -> worker::Result<()> {
    let queue = batch.queue();
    if queue == teardown::QUEUE {
        handle_teardowns(&batch, &env).await;
        return Ok(());
    }
    if queue == webhooks::QUEUE || queue == webhooks::DEAD_LETTER_QUEUE {
        let messages = batch.raw_iter().collect();
        webhooks::handle(messages, &env, queue == webhooks::DEAD_LETTER_QUEUE).await;
        return Ok(());
    }
    if queue == crate::rebuild::QUEUE {
        crate::rebuild::handle(batch.raw_iter().collect(), &env).await;
        return Ok(());
    }
    if queue == BUILDS_DEAD_LETTER_QUEUE {
        for message in batch.messages()? {
            give_up(&env, message.body()).await;
            message.ack();
        }
        return Ok(());
    }
    for message in batch.messages()? {
        let started = if message.body().refuse_start && test_hooks(&env) {
            Err(ApiError::internal(
                "the workflow was not started (test hook)",
            ))
        } else {
            start(&env, message.body()).await
        };
        match started {
            Ok(outcome) => {
                worker::console_log!("build {}: {outcome:?}", message.body().build_id);
                message.ack();
            }
            Err(e) => {
                worker::console_error!("build {}: could not start: {e}", message.body().build_id);
                message.retry();
            }
        }
    }
    Ok(())
}

/// The build Queue's dead-letter queue.
pub const BUILDS_DEAD_LETTER_QUEUE: &str = "kiln-builds-dlq";

fn test_hooks(env: &Env) -> bool {
    build_store::test_hooks(env)
}

/// Records that `job` never started: every delivery of its message failed to create the workflow.
/// A build that did start meanwhile (or already ended) is left alone: the rules refuse to fail a
/// finished build, and a started one has its own steps to fail.
async fn give_up(env: &Env, job: &BuildJob) {
    let outcome = async {
        let ctx = crate::http::Ctx::new(env.clone())?;
        let state = crate::service::load(&crate::service::event_log(&ctx)?, &job.project_id, true).await?;
        match state.build(&job.build_id) {
            Some(b) if !b.is_finished() && b.steps.is_empty() => {
                let meta = events::envelope::Metadata::new(crate::adapters::webcrypto::now_ms(), "kiln:intake")
                    .correlated(&job.build_id);
                crate::service::execute(
                    &ctx,
                    &job.project_id,
                    meta,
                    events::Command::FailBuild {
                        build_id: job.build_id.clone(),
                        step: crate::api::builds::INTAKE_STEP.into(),
                        reason: "the build could not be started after every retry, so nothing was built; request it again".into(),
                    },
                )
                .await?;
                Ok::<_, ApiError>(true)
            }
            _ => Ok(false),
        }
    }
    .await;
    match outcome {
        Ok(true) => worker::console_error!(
            "build {}: never started; recorded as failed at intake",
            job.build_id
        ),
        Ok(false) => worker::console_log!(
            "build {}: dead-lettered but already under way or over",
            job.build_id
        ),
        Err(e) => worker::console_error!(
            "build {}: dead-lettered and could not be recorded: {e}",
            job.build_id
        ),
    }
}

/// Handles a batch of teardown jobs: acked when the teardown is complete, retried otherwise.
async fn handle_teardowns(batch: &MessageBatch<BuildJob>, env: &Env) {
    for message in batch.raw_iter() {
        let body = js_sys::JSON::stringify(&message.body())
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        let job: TeardownJob = match serde_json::from_str(&body) {
            Ok(job) => job,
            Err(e) => {
                // Cannot succeed on any retry: drop it, loudly.
                worker::console_error!("teardown: unreadable message {body}: {e}");
                message.ack();
                continue;
            }
        };
        match teardown::process(env, &job).await {
            Ok(outcome) => {
                worker::console_log!("teardown {}: {outcome:?}", job.project_id);
                message.ack();
            }
            Err(e) => {
                worker::console_error!("teardown {}: will retry: {e}", job.project_id);
                message.retry();
            }
        }
    }
}
