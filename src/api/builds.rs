//! Builds: `POST /api/projects/:id/builds {prompt}`, `POST /api/projects/:id/chat {message}`,
//! `GET /api/projects/:id/builds`, `GET /api/builds/:id`, `POST /api/builds/:id/replay
//! {from_step?, prompt?}`, `POST /api/builds/:id/cancel`.
//!
//! A build request becomes a `BuildRequested` event and a message on the build Queue, and is
//! answered at once with `202 {build_id, events_url}`; the Queue consumer starts the Workflow. An
//! `Idempotency-Key` header makes a repeated request return the build it created the first time.
//! New builds are held to the caller's build limits (builds in progress, builds per hour) before
//! anything is recorded; a repeated request is answered without counting.

use events::envelope::Metadata;
use events::fold::{AttemptStatus, StepAttempt, Usage, Validation};
use events::{BuildState, Command, Role};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::adapters::store::Store;
use crate::adapters::{build_store, queues, webcrypto};
use crate::api::events::owned;
use crate::api::limits;
use crate::domain::email::clip;
use crate::error::ApiError;
use crate::http::{json, read_json, Ctx};
use crate::pipeline::BuildJob;
use crate::service;

/// Longest prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 10_000;

#[derive(Deserialize)]
struct PromptBody {
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn parse_prompt(raw: Option<String>, field: &'static str) -> Result<String, ApiError> {
    let text = raw.unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} is required; describe the app you want"),
        ));
    }
    let n = text.chars().count();
    if n > MAX_PROMPT_CHARS {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} is {n} characters; the limit is {MAX_PROMPT_CHARS}, so shorten it"),
        ));
    }
    Ok(text.to_string())
}

/// Model usage: tokens and the estimated cost in US dollars (exact sums are kept in
/// nano-dollars; `cost_usd` is rounded to 6 decimals for display).
fn usage_json(u: &Usage) -> Value {
    json!({
        "calls": u.calls,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "cost_usd": (u.cost_nano_usd as f64 / 1e9 * 1e6).round() / 1e6,
        "cost_nano_usd": u.cost_nano_usd,
        "estimated": u.estimated,
    })
}

/// The API view of a build, from the folded log.
pub fn build_json(project_id: &str, b: &BuildState) -> Value {
    let attempt_json = |a: &StepAttempt| match &a.status {
        AttemptStatus::Running => json!({ "attempt": a.attempt, "status": "running" }),
        AttemptStatus::Succeeded {
            duration_ms,
            output_ref,
        } => {
            json!({ "attempt": a.attempt, "status": "succeeded", "duration_ms": duration_ms, "output_ref": output_ref })
        }
        AttemptStatus::Failed { error, retryable } => {
            json!({ "attempt": a.attempt, "status": "failed", "error": error, "retryable": retryable })
        }
    };
    let steps: Vec<Value> = b
        .steps
        .iter()
        .map(|s| {
            let last = s.last().map(attempt_json);
            json!({
                "name": s.name,
                "status": last.as_ref().map(|l| l["status"].clone()),
                "attempts": s.attempts.iter().map(attempt_json).collect::<Vec<_>>(),
                "duration_ms": s.duration_ms(),
                "usage": usage_json(&s.usage),
            })
        })
        .collect();
    let reused: Vec<&str> = ["plan", "codegen"]
        .into_iter()
        .filter(|s| b.reuses(s))
        .collect();
    json!({
        "id": b.build_id,
        "project_id": project_id,
        "status": serde_json::to_value(b.status).ok().and_then(|v| v.as_str().map(str::to_lowercase)).unwrap_or_else(|| format!("{:?}", b.status).to_lowercase()),
        "prompt": b.prompt,
        "replay_of": b.replay_of,
        "from_step": b.from_step,
        "reused_steps": reused,
        "current_step": b.current_step,
        "version": b.version,
        "deployed_version": b.deployed_version,
        "steps": steps,
        "usage": usage_json(&b.usage),
        "validation": match &b.validation {
            None => Value::Null,
            Some(Validation::Passed) => json!({ "passed": true }),
            Some(Validation::Failed { diagnostics }) => json!({ "passed": false, "diagnostics": diagnostics }),
        },
        "repairs": b.repair_attempts,
        "error": b.error.as_ref().map(|e| json!({ "step": e.step, "reason": e.reason })),
        "cancelled_in": b.cancelled_in,
    })
}

/// A replay request: the build replayed and the first step that runs fresh.
#[derive(Debug, Clone, Default)]
struct Replay {
    of: Option<String>,
    from_step: Option<String>,
}

async fn request_build(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    user: &str,
    prompt: String,
    chat: bool,
) -> Result<Response, ApiError> {
    request(req, ctx, id, user, prompt, chat, Replay::default()).await
}

async fn request(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    user: &str,
    prompt: String,
    chat: bool,
    replay: Replay,
) -> Result<Response, ApiError> {
    let key = crate::api::idempotency::key_of(req)?;
    let log = service::event_log(ctx)?;
    if let Some(k) = &key {
        let state = service::load(&log, id, true).await?;
        if let Some(existing) = state.build_by_idempotency_key(k) {
            return accepted(id, &existing.build_id, false);
        }
    }
    let counted = limits::build_request(ctx, user).await?;
    let outcome = new_build(req, ctx, id, user, (prompt, chat), key, replay).await;
    if !matches!(outcome, Ok((_, true))) {
        // No build was created (refused, lost an idempotency race, or failed): it does not count.
        counted.refund(ctx).await;
    }
    let (build_id, created) = outcome?;
    accepted(id, &build_id, created)
}

/// Records the request (and the chat message) and queues the build; returns the build id and
/// whether this call created it.
async fn new_build(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    user: &str,
    (prompt, chat): (String, bool),
    key: Option<String>,
    replay: Replay,
) -> Result<(String, bool), ApiError> {
    let log = service::event_log(ctx)?;
    let now = webcrypto::now_ms();
    if chat {
        let message_id = webcrypto::uuid_v4()?;
        let post = Command::PostMessage {
            message_id,
            role: Role::User,
            content: prompt.clone(),
        };
        service::execute(ctx, id, Metadata::new(now, user), post).await?;
    }
    let build_id = webcrypto::uuid_v4()?;
    let command = Command::RequestBuild {
        build_id: build_id.clone(),
        prompt,
        idempotency_key: key.clone(),
        replay_of: replay.of,
        from_step: replay.from_step,
    };
    let stored = service::execute(
        ctx,
        id,
        Metadata::new(now, user).correlated(&build_id),
        command,
    )
    .await?;
    if stored.is_empty() {
        // The same key won a concurrent race: answer with that build.
        let state = service::load(&log, id, true).await?;
        let existing = key
            .as_deref()
            .and_then(|k| state.build_by_idempotency_key(k))
            .ok_or_else(|| ApiError::internal("idempotent build vanished"))?;
        return Ok((existing.build_id.clone(), false));
    }
    // Fault injection for tests: only when the session runs with test hooks.
    let hooks = ctx
        .env
        .var("KILN_TEST_HOOKS")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false);
    let faults = if hooks {
        req.headers().get("x-kiln-faults")?
    } else {
        None
    };
    let job = BuildJob {
        project_id: id.to_string(),
        build_id: build_id.clone(),
        faults,
        plan: if hooks {
            req.headers().get("x-kiln-plan")?
        } else {
            None
        },
        refuse_start: hooks
            && req.headers().get("x-kiln-intake-fault")?.as_deref() == Some("start"),
        fail_append_faults: if hooks {
            append_faults(req.headers().get("x-kiln-append-fault")?.as_deref())?
        } else {
            None
        },
    };
    // Test hook: the Queue refuses every send of this request.
    let refuse = hooks && req.headers().get("x-kiln-intake-fault")?.as_deref() == Some("queue");
    let mut sent = Err(String::from("the queue refused the message (test hook)"));
    // One immediate retry: a send that fails is most often a passing hiccup.
    for _ in 0..2 {
        if refuse {
            break;
        }
        sent = queues::send_build(&ctx.env, &job)
            .await
            .map_err(|e| e.to_string());
        if sent.is_ok() {
            break;
        }
    }
    if let Err(e) = sent {
        // The request is in the log but will never start: record that it failed at intake, so
        // the project is free for the next build instead of holding one that never ends.
        worker::console_error!("build {build_id}: queue send failed: {e}");
        service::execute(
            ctx,
            id,
            Metadata::new(webcrypto::now_ms(), user).correlated(&build_id),
            Command::FailBuild {
                build_id: build_id.clone(),
                step: INTAKE_STEP.into(),
                reason: "the build could not be queued, so nothing was built; request it again"
                    .into(),
            },
        )
        .await?;
        return Err(ApiError::Unavailable(
            "the build could not be queued and was recorded as failed; request it again".into(),
        ));
    }
    Ok((build_id, true))
}

/// The test hook `x-kiln-append-fault: BuildFailed:N`: the first `N` attempts to record the
/// build's `BuildFailed` fail.
fn append_faults(raw: Option<&str>) -> Result<Option<u32>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    raw.trim()
        .strip_prefix("BuildFailed:")
        .and_then(|n| n.parse::<u32>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "x-kiln-append-fault",
                "x-kiln-append-fault must look like 'BuildFailed:N'",
            )
        })
}

/// The step a build fails at when it never reached the pipeline (its Queue message was not sent).
pub const INTAKE_STEP: &str = "intake";

fn accepted(project: &str, build_id: &str, created: bool) -> Result<Response, ApiError> {
    json(
        202,
        &json!({
            "build_id": build_id,
            "created": created,
            "build_url": format!("/api/builds/{build_id}"),
            "events_url": format!("/api/projects/{project}/events"),
        }),
    )
}

/// `POST /api/projects/:id/builds {prompt}` → 202.
pub async fn create(req: &mut Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let user = owned(req, ctx, id).await?;
    let body: PromptBody = read_json(req, ctx.config.max_body_bytes).await?;
    let prompt = parse_prompt(body.prompt, "prompt")?;
    request_build(req, ctx, id, &user, prompt, false).await
}

/// `POST /api/projects/:id/chat {message}` → records the message, then 202 like a build request.
pub async fn chat(req: &mut Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let user = owned(req, ctx, id).await?;
    let body: PromptBody = read_json(req, ctx.config.max_body_bytes).await?;
    let message = parse_prompt(body.message, "message")?;
    request_build(req, ctx, id, &user, message, true).await
}

/// `GET /api/projects/:id/builds` → newest first.
pub async fn list(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let state = service::load(&service::event_log(ctx)?, id, true).await?;
    let builds: Vec<Value> = state
        .builds
        .iter()
        .rev()
        .map(|b| build_json(id, b))
        .collect();
    json(200, &json!({ "builds": builds }))
}

/// The project of a build the caller owns; another user's build is a 404 like a missing one.
async fn project_of_build(ctx: &Ctx, user: &str, build_id: &str) -> Result<String, ApiError> {
    let project = Store::of(&ctx.env)?
        .owned_build_project(build_id, user)
        .await?;
    project.ok_or_else(|| ApiError::NotFound(format!("build '{}' not found", clip(build_id))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    #[serde(default)]
    from_step: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
}

/// `POST /api/builds/:id/replay {from_step?, prompt?}` → 202: a new build of the same project
/// that reuses the build's recorded outputs (plan and code, from the log and the code store; no
/// model call) before `from_step`, and runs `from_step` onwards fresh, with `prompt` if given.
pub async fn replay(req: &mut Request, ctx: &Ctx, build_id: &str) -> Result<Response, ApiError> {
    let caller = crate::http::authenticate(req, ctx).await?;
    let project = project_of_build(ctx, &caller.user_id, build_id).await?;
    let body: ReplayBody = crate::http::read_optional_json(req, ctx.config.max_body_bytes)
        .await?
        .unwrap_or(ReplayBody {
            from_step: None,
            prompt: None,
        });
    let from_step = match body.from_step.as_deref().map(str::trim) {
        None => None,
        Some(step) if events::decide::REPLAY_STEPS.contains(&step) => Some(step.to_string()),
        Some(step) => {
            return Err(ApiError::invalid_field(
                "from_step",
                format!(
                    "from_step '{}' is not a pipeline step; use one of {}",
                    clip(step),
                    events::decide::REPLAY_STEPS.join(", ")
                ),
            ))
        }
    };
    let state = service::load(&service::event_log(ctx)?, &project, true).await?;
    let original = state
        .build(build_id)
        .ok_or_else(|| ApiError::NotFound(format!("build '{}' not found", clip(build_id))))?;
    let prompt = match body.prompt {
        Some(_) if from_step.is_none() => {
            return Err(ApiError::invalid_field(
                "prompt",
                "a prompt needs from_step: a replay without from_step reuses the recorded plan and code, so a new prompt would change nothing; add \"from_step\": \"plan\" or \"codegen\"",
            ))
        }
        Some(p) => parse_prompt(Some(p), "prompt")?,
        None => original.prompt.clone(),
    };
    let replay = Replay {
        of: Some(build_id.to_string()),
        from_step,
    };
    // Reused code is older code in front of the current database: the rollback rule applies.
    let mut probe = events::BuildState {
        replay_of: replay.of.clone(),
        from_step: replay.from_step.clone(),
        ..Default::default()
    };
    probe.build_id = build_id.to_string();
    if probe.reuses("codegen") {
        if let Some(version) = original.version {
            if let Some(reason) = crate::rollback::verdict(ctx, &project, &state, version).await? {
                return Err(ApiError::Conflict(reason));
            }
        }
    }
    request(req, ctx, &project, &caller.user_id, prompt, false, replay).await
}

/// The project of a build the caller owns (404 for a missing build and for another user's).
async fn owned_build(req: &Request, ctx: &Ctx, build_id: &str) -> Result<String, ApiError> {
    let caller = crate::http::authenticate(req, ctx).await?;
    project_of_build(ctx, &caller.user_id, build_id).await
}

/// `GET /api/builds/:id`: status, per-step timeline with attempts and durations, error.
pub async fn get(req: &Request, ctx: &Ctx, build_id: &str) -> Result<Response, ApiError> {
    let project = owned_build(req, ctx, build_id).await?;
    let state = service::load(&service::event_log(ctx)?, &project, true).await?;
    let build = state
        .build(build_id)
        .ok_or_else(|| ApiError::NotFound(format!("build '{}' not found", clip(build_id))))?;
    json(200, &json!({ "build": build_json(&project, build) }))
}

/// `GET /api/builds/:id/plan`: the full plan the build's plan step stored (app name, summary,
/// entities with their fields, pages, features, auth, file storage). 404 until the plan step
/// has succeeded, and for a build that is not the caller's.
pub async fn plan(req: &Request, ctx: &Ctx, build_id: &str) -> Result<Response, ApiError> {
    let project = owned_build(req, ctx, build_id).await?;
    let key = crate::steps::plan_key_of(&project, build_id);
    let bytes = match build_store::get(&ctx.env, &key).await? {
        Some(bytes) => bytes,
        None => {
            return Err(ApiError::NotFound(format!(
                "build '{}' has no plan yet; it is stored when the plan step succeeds",
                clip(build_id)
            )))
        }
    };
    let plan: plan::Plan = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::internal(format!("stored plan {key} is unreadable: {e}")))?;
    json(200, &json!({ "build_id": build_id, "plan": plan }))
}

/// `POST /api/builds/:id/cancel` → 202 `{build_id, status: "cancelled", step}`: records
/// `BuildCancelled`, terminates the workflow and keeps the previous live version live
/// ([`crate::cancel`]). Cancelling a cancelled build is answered the same way (nothing new is
/// recorded); a build that already succeeded or failed is a 409 saying so.
pub async fn cancel(req: &Request, ctx: &Ctx, build_id: &str) -> Result<Response, ApiError> {
    let caller = crate::http::authenticate(req, ctx).await?;
    let project = project_of_build(ctx, &caller.user_id, build_id).await?;
    // Test hook: leave the workflow running, as if the terminate had not reached a step that
    // was mid-flight, so the step's own guard is what stops it.
    let hooks = ctx
        .env
        .var("KILN_TEST_HOOKS")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false);
    let terminate =
        !(hooks && req.headers().get("x-kiln-cancel-fault")?.as_deref() == Some("keep-workflow"));
    let done = crate::cancel::cancel(ctx, &project, build_id, &caller.user_id, terminate).await?;
    let step = match done.step {
        Some(step) => Some(step),
        None => service::load(&service::event_log(ctx)?, &project, true)
            .await?
            .build(build_id)
            .and_then(|b| b.cancelled_in.clone()),
    };
    json(
        202,
        &json!({
            "build_id": build_id,
            "status": "cancelled",
            "step": step,
            "cancelled_now": done.recorded,
            "build_url": format!("/api/builds/{build_id}"),
        }),
    )
}
