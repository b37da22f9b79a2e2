//! The `BuildWorkflow` driver: Rust orchestration of durable steps.
//!
//! A Workflow must be a JavaScript class (`src/entry.js`); its `run` hands the payload, a tiny
//! `glue` object and the env to [`BuildRunner::run`]. Rust calls `glue.step(name, config, body)`,
//! which is `step.do` with the engine's retries and timeouts; `body` is a Rust future returning
//! `{"ok":true,"value":…}` or `{"ok":false,"retryable":…,"error":…}`, and the glue turns a
//! terminal error into Workflows' `NonRetryableError`.
//!
//! Every attempt is recorded in the event log: `StepStarted`, then `StepSucceeded` plus the step's
//! domain event, or `StepFailed` (attempt, error, retryable). The attempt number comes from the log
//! itself, so a retry after an eviction is numbered correctly. A build that cannot continue records
//! `BuildFailed` (step, reason) in a final durable step and leaves the live version untouched.

use events::envelope::Metadata;
use events::{Command, Rejection};
use js_sys::{Function, Promise, Reflect};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::Env;
use workflows::pipeline::{FaultPlan, Step, StepError, MAX_REPAIRS};

use crate::adapters::webcrypto::now_ms;
use crate::error::ApiError;
use crate::http::Ctx;
use crate::service::{self, ExecError};
use workflows::output::{self, RecordOutput, Verdict};

/// The Queue message and Workflow params of one build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildJob {
    /// Project (stream) id.
    pub project_id: String,
    /// Build id (= Workflow instance id).
    pub build_id: String,
    /// Test-only fault plan (`step:count:retryable|terminal|slow|lost,…`), accepted only when the
    /// `KILN_TEST_HOOKS=1` var is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<String>,
    /// Test-only plan (JSON) used instead of the planner's, to exercise plan validation;
    /// accepted only with `KILN_TEST_HOOKS=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Test-only: the consumer refuses to start this build, so its message ends in the
    /// dead-letter queue; accepted only with `KILN_TEST_HOOKS=1`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refuse_start: bool,
    /// Test-only: the first `n` attempts to record `BuildFailed` fail as if the append had (an
    /// unreachable log); accepted only with `KILN_TEST_HOOKS=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_append_faults: Option<u32>,
}

/// The system actor recorded on pipeline events.
const ACTOR: &str = "kiln:pipeline";

fn meta(job: &BuildJob) -> Metadata {
    Metadata::new(now_ms(), ACTOR).correlated(&job.build_id)
}

/// Exposed to JavaScript as `BuildRunner.run(payloadJson, glue, env)`.
#[wasm_bindgen]
pub struct BuildRunner;

#[wasm_bindgen]
impl BuildRunner {
    /// Runs (or, after a restart, replays) one build. Resolves with a summary; never rejects for
    /// a failed build (that is recorded as `BuildFailed`), only for broken plumbing.
    pub async fn run(payload: String, glue: JsValue, env: JsValue) -> Result<JsValue, JsValue> {
        let job: BuildJob = serde_json::from_str(&payload)
            .map_err(|e| JsValue::from_str(&format!("bad build payload: {e}")))?;
        let env: Env = env.unchecked_into();
        let outcome = drive(&job, &glue, env).await;
        let summary = match outcome {
            Ok(version) => {
                json!({ "build_id": job.build_id, "status": "succeeded", "version": version })
            }
            Err(failure) => {
                json!({ "build_id": job.build_id, "status": "failed", "step": failure.step, "reason": failure.reason })
            }
        };
        Ok(JsValue::from_str(&summary.to_string()))
    }
}

/// Why a build stopped.
struct Failure {
    step: String,
    reason: String,
}

/// Calls `glue.step(name, config, body)` and awaits the step's (cached or fresh) output.
pub(crate) async fn durable_step<F, Fut>(
    glue: &JsValue,
    name: &str,
    config: &Value,
    body: F,
) -> Result<Value, String>
where
    F: Fn() -> Fut + 'static,
    Fut: std::future::Future<Output = Result<Value, StepError>> + 'static,
{
    let body = std::rc::Rc::new(body);
    let closure = Closure::<dyn FnMut() -> Promise>::new(move || {
        let body = body.clone();
        future_to_promise(async move {
            let reply = match body().await {
                Ok(value) => json!({ "ok": true, "value": value }),
                Err(e) => json!({ "ok": false, "retryable": e.retryable(), "error": e.message() }),
            };
            Ok(JsValue::from_str(&reply.to_string()))
        })
    });
    let step_fn: Function = Reflect::get(glue, &"step".into())
        .and_then(|f| f.dyn_into())
        .map_err(|_| "glue.step is missing".to_string())?;
    let config =
        js_sys::JSON::parse(&config.to_string()).map_err(|_| "bad step config".to_string())?;
    let promise: Promise = step_fn
        .call3(
            glue,
            &JsValue::from_str(name),
            &config,
            closure.as_ref().unchecked_ref(),
        )
        .map_err(|e| format!("step {name} could not start: {e:?}"))?
        .unchecked_into();
    // The closure must outlive every attempt the engine makes; it is dropped after the step settles.
    let result = JsFuture::from(promise).await;
    drop(closure);
    match result {
        Ok(v) => {
            // The engine hands back the value the body returned (a plain object), cached or fresh.
            let text = match v.as_string() {
                Some(s) => s,
                None => js_sys::JSON::stringify(&v)
                    .ok()
                    .and_then(|s| s.as_string())
                    .unwrap_or_default(),
            };
            Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => Err(js_error_message(&e)),
    }
}

fn js_error_message(e: &JsValue) -> String {
    let raw = js_error_text(e);
    // The engine reports errors as "<Class>: <message>"; keep only the message.
    for prefix in ["NonRetryableError: ", "Error: "] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    raw
}

/// The message of a thrown JavaScript value (an `Error`'s `message`, or the value as text).
pub(crate) fn js_error_text(e: &JsValue) -> String {
    Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

fn to_step_error(e: ApiError) -> StepError {
    match e {
        ApiError::Internal(m) => StepError::Retryable(m),
        other => StepError::Terminal(other.message()),
    }
}

/// Appends the events of `commands` as one batch; a rejection is terminal (the log says no).
async fn record(env: &Env, job: &BuildJob, commands: Vec<Command>) -> Result<(), ExecError> {
    let ctx = Ctx::new(env.clone())?;
    service::execute_all(&ctx, &job.project_id, meta(job), commands)
        .await
        .map(|_| ())
}

/// A command the log did not record, as a step error: its refusal is terminal.
fn exec_to_step_error(e: ExecError) -> StepError {
    match e {
        ExecError::Rejected(r) => StepError::Terminal(r.to_string()),
        ExecError::Contended => StepError::Retryable(e.to_string()),
        ExecError::Unavailable(e) => to_step_error(e),
    }
}

async fn drive(job: &BuildJob, glue: &JsValue, env: Env) -> Result<u32, Failure> {
    let hooks = crate::adapters::build_store::test_hooks(&env);
    let faults = if hooks {
        job.faults.clone().unwrap_or_default()
    } else {
        String::new()
    };
    let faults = FaultPlan::parse(&faults).map_err(|reason| Failure {
        step: "start".into(),
        reason,
    })?;

    // Start: idempotent (a replayed or duplicate instance finds the build already running).
    let start_cfg = json!({ "retries": { "limit": 3, "delay": 200, "backoff": "exponential" }, "timeout": 30_000 });
    let (j, e) = (job.clone(), env.clone());
    durable_step(glue, "start", &start_cfg, move || {
        let (j, e) = (j.clone(), e.clone());
        async move {
            let start = Command::StartBuild {
                build_id: j.build_id.clone(),
            };
            match record(&e, &j, vec![start]).await {
                Ok(()) => Ok(json!({ "started": true })),
                // A build that ended before it started (cancelled, or failed by the watchdog) is
                // not started: the refusal ends this workflow (docs/adr/0018).
                Err(ExecError::Rejected(Rejection::BuildAlreadyStarted { .. })) => {
                    Ok(json!({ "started": false }))
                }
                Err(err) => Err(exec_to_step_error(err)),
            }
        }
    })
    .await
    .map_err(|reason| Failure {
        step: "start".into(),
        reason,
    })?;

    let mut outputs = serde_json::Map::new();
    for step in Step::ALL {
        let out = match run_step(glue, step, job, &env, &faults, &outputs).await {
            Ok(out) => out,
            Err(reason) => return Err(fail(glue, job, &env, step.name(), reason).await),
        };
        let verdict = match step {
            Step::Validate => match output::read::<Verdict>(step.name(), &out) {
                Ok(v) => Some(v),
                Err(reason) => return Err(fail(glue, job, &env, step.name(), reason).await),
            },
            _ => None,
        };
        if let Some(verdict) = verdict.filter(|v| !v.passed) {
            // Repair rounds: each its own durable step; the last outcome decides.
            let repairs = verdict.repairs.min(u32::from(MAX_REPAIRS)) as u8;
            let mut last = verdict;
            for n in 1..=repairs {
                let repair = Step::Repair(n);
                let out = match run_step(glue, repair, job, &env, &faults, &outputs).await {
                    Ok(o) => o,
                    Err(reason) => return Err(fail(glue, job, &env, repair.name(), reason).await),
                };
                last = match output::read::<Verdict>(repair.name(), &out) {
                    Ok(v) => v,
                    Err(reason) => return Err(fail(glue, job, &env, repair.name(), reason).await),
                };
                outputs.insert(repair.name().into(), out);
                if last.passed {
                    break;
                }
            }
            if !last.passed {
                let diagnostics = last.diagnostics;
                let rounds = match repairs {
                    0 => String::new(),
                    1 => " after 1 repair".to_string(),
                    n => format!(" after {n} repairs"),
                };
                let reason = format!("validation failed{rounds}: {}", diagnostics.join("; "));
                return Err(fail(glue, job, &env, step.name(), reason).await);
            }
        }
        outputs.insert(step.name().into(), out);
    }
    let record = outputs
        .get(Step::Record.name())
        .cloned()
        .unwrap_or_default();
    match output::read::<RecordOutput>(Step::Record.name(), &record) {
        Ok(r) => Ok(r.version),
        Err(reason) => Err(fail(glue, job, &env, Step::Record.name(), reason).await),
    }
}

/// Runs one step durably (the engine retries it by its policy) and returns its output.
async fn run_step(
    glue: &JsValue,
    step: Step,
    job: &BuildJob,
    env: &Env,
    faults: &FaultPlan,
    outputs: &serde_json::Map<String, Value>,
) -> Result<Value, String> {
    let policy = step.policy();
    let (j, e, f) = (job.clone(), env.clone(), faults.clone());
    let prior = Value::Object(outputs.clone());
    durable_step(glue, step.name(), &policy.workflow_config(), move || {
        let (j, e, f, prior) = (j.clone(), e.clone(), f.clone(), prior.clone());
        async move { attempt(step, &j, &e, &f, &prior).await }
    })
    .await
}

/// Records `BuildFailed` in a final durable step and returns the failure.
async fn fail(glue: &JsValue, job: &BuildJob, env: &Env, step: &str, reason: String) -> Failure {
    let cfg = json!({ "retries": { "limit": 3, "delay": 200, "backoff": "exponential" }, "timeout": 30_000 });
    let (j, e) = (job.clone(), env.clone());
    let step_name = step.to_string();
    let reason_for_log = reason.clone();
    let hooks = crate::adapters::build_store::test_hooks(env);
    let injected = if hooks {
        job.fail_append_faults.unwrap_or(0)
    } else {
        0
    };
    let attempts = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let recorded = durable_step(glue, "fail", &cfg, move || {
        let (j, e, s, r) = (
            j.clone(),
            e.clone(),
            step_name.clone(),
            reason_for_log.clone(),
        );
        let attempts = attempts.clone();
        async move {
            attempts.set(attempts.get() + 1);
            if attempts.get() <= injected {
                return Err(StepError::Retryable(format!(
                    "injected fault: recording BuildFailed failed (attempt {})",
                    attempts.get()
                )));
            }
            let failed = Command::FailBuild {
                build_id: j.build_id.clone(),
                step: s,
                reason: r,
            };
            record(&e, &j, vec![failed])
                .await
                .map(|_| json!({}))
                .map_err(exec_to_step_error)
        }
    })
    .await;
    if let Err(e) = recorded {
        // The build stays unfinished in the log; the stall watchdog ends it (docs/adr/0018).
        worker::console_error!(
            "build {}: BuildFailed could not be recorded: {e}",
            job.build_id
        );
    }
    Failure {
        step: step.into(),
        reason,
    }
}

/// One attempt of one step: record the start, run the body, record the outcome.
async fn attempt(
    step: Step,
    job: &BuildJob,
    env: &Env,
    faults: &FaultPlan,
    _prior: &Value,
) -> Result<Value, StepError> {
    let ctx = Ctx::new(env.clone()).map_err(to_step_error)?;
    let log = service::event_log(&ctx).map_err(to_step_error)?;
    let state = service::load(&log, &job.project_id, true)
        .await
        .map_err(to_step_error)?;
    let build = state
        .build(&job.build_id)
        .ok_or_else(|| StepError::Terminal(format!("build {} is not in the log", job.build_id)))?;
    let number = build
        .step(step.name())
        .and_then(|s| s.last())
        .map_or(1, |a| a.attempt + 1);
    let started = now_ms();
    let start = Command::StartStep {
        build_id: job.build_id.clone(),
        step: step.name().into(),
        attempt: number,
    };
    // The state after StartStep, handed to the step body so it need not read the log again.
    let mut after_start = state.clone();
    match service::execute_all(&ctx, &job.project_id, meta(job), vec![start]).await {
        Ok(stored) => {
            if stored.first().map(|e| e.seq) == Some(state.last_seq + 1) {
                for e in &stored {
                    after_start.apply(e);
                }
            } else {
                // Someone else appended in between: read the log again.
                after_start = service::load(&log, &job.project_id, true)
                    .await
                    .map_err(to_step_error)?;
            }
        }
        Err(ExecError::Rejected(Rejection::StepAlreadySucceeded { .. })) => {
            // The step finished but the engine did not record it (eviction): its output is
            // derived from the log again.
            let repairs = match ctx.config.model.provider {
                generation::model::ProviderKind::Offline => 0,
                _ => ctx.config.model.repair_attempts,
            };
            return crate::steps::output_from_log(step, &state, job, repairs).map(|o| o.to_value());
        }
        Err(e) => return Err(exec_to_step_error(e)),
    }
    if let Some(ms) = faults.stall_ms(step, number) {
        crate::adapters::webcrypto::sleep_ms(ms).await;
    }
    let outcome = match faults.failure(step, number) {
        Some(injected) => Err(injected),
        None => crate::steps::run(step, job, &ctx, after_start).await,
    };
    // A `lost` fault: the body did its work, its answer is dropped (the retry meets the effects).
    let outcome = match (outcome, faults.lost(step, number)) {
        (Ok(_), Some(lost)) => Err(lost),
        (outcome, _) => outcome,
    };
    let duration_ms = (now_ms() - started).max(0) as u64;
    match outcome {
        Ok((output, commands)) => {
            let succeeded = Command::SucceedStep {
                build_id: job.build_id.clone(),
                step: step.name().into(),
                attempt: number,
                duration_ms,
                output_ref: output.output_ref(),
            };
            // One atomic batch: the step's domain events, then StepSucceeded; except for
            // `record`, whose BuildSucceeded finishes the build and must therefore come last.
            let ordered: Vec<Command> = if step == Step::Record {
                std::iter::once(succeeded).chain(commands).collect()
            } else {
                commands
                    .into_iter()
                    .chain(std::iter::once(succeeded))
                    .collect()
            };
            service::execute_all(&ctx, &job.project_id, meta(job), ordered)
                .await
                .map_err(exec_to_step_error)?;
            Ok(output.to_value())
        }
        Err(err) => {
            let last = number >= step.policy().attempts();
            let failed = Command::FailStep {
                build_id: job.build_id.clone(),
                step: step.name().into(),
                attempt: number,
                error: err.message().to_string(),
                retryable: err.retryable() && !last,
            };
            record(env, job, vec![failed])
                .await
                .map_err(exec_to_step_error)?;
            Err(err)
        }
    }
}
