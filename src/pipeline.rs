//! The `BuildWorkflow` driver: plugs the build workflow (`workflows::build`) into Cloudflare
//! Workflows and the platform.
//!
//! A Workflow must be a JavaScript class (`src/entry.js`); its `run` hands the payload, a tiny
//! `glue` object and the env to [`BuildRunner::run`]. [`GlueEngine`] is the workflow's durable
//! step port: it calls `glue.step(name, config, body)`, which is `step.do` with the engine's
//! retries and timeouts; `body` is a Rust future returning `{"ok":true,"value":…}` or
//! `{"ok":false,"retryable":…,"error":…}`, and the glue turns a terminal error into Workflows'
//! `NonRetryableError`. [`PlatformHost`] is its host port: the event log through `service` and
//! the step bodies in `crate::steps`. What the build does (order, repairs, how attempts are
//! recorded, how it ends) is `workflows::build::drive`.

use std::rc::Rc;

use events::envelope::{Envelope, Metadata};
use events::{Command, ProjectState};
use js_sys::{Function, Promise, Reflect};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::Env;
use workflows::build::{self, AppendError, BuildIds, Engine, Faults, Host};
use workflows::output::StepOutput;
use workflows::pipeline::{FaultPlan, Step, StepError};

use crate::adapters::webcrypto::now_ms;
use crate::error::ApiError;
use crate::http::Ctx;
use crate::service::{self, ExecError};

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
        let outcome = run(&job, glue, env).await;
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

async fn run(job: &BuildJob, glue: JsValue, env: Env) -> Result<u32, build::Failure> {
    let failure = |reason: String| build::Failure {
        step: "start".into(),
        reason,
    };
    let ctx = Ctx::new(env).map_err(|e| failure(e.message()))?;
    let hooks = crate::adapters::build_store::test_hooks(&ctx.env);
    // Test hooks only: a fault plan and failing `BuildFailed` appends.
    let faults = if hooks {
        Faults {
            plan: FaultPlan::parse(job.faults.as_deref().unwrap_or_default()).map_err(failure)?,
            failed_build_appends: job.fail_append_faults.unwrap_or(0),
        }
    } else {
        Faults::default()
    };
    let ids = BuildIds {
        project_id: job.project_id.clone(),
        build_id: job.build_id.clone(),
    };
    let host = PlatformHost {
        ctx: Rc::new(ctx),
        job: Rc::new(job.clone()),
    };
    build::drive(&GlueEngine { glue }, &host, &ids, &faults).await
}

/// The durable step port over the Workflow's `glue.step` (`step.do`).
pub(crate) struct GlueEngine {
    /// The glue object `src/entry.js` passes in.
    pub glue: JsValue,
}

impl Engine for GlueEngine {
    async fn step<F, Fut>(&self, name: &str, config: &Value, body: F) -> Result<Value, String>
    where
        F: Fn() -> Fut + 'static,
        Fut: std::future::Future<Output = Result<Value, StepError>> + 'static,
    {
        durable_step(&self.glue, name, config, body).await
    }
}

/// The host port: the build's event log through `service` and the step bodies of `crate::steps`.
#[derive(Clone)]
struct PlatformHost {
    ctx: Rc<Ctx>,
    job: Rc<BuildJob>,
}

impl Host for PlatformHost {
    async fn load(&self) -> Result<ProjectState, StepError> {
        let log = service::event_log(&self.ctx).map_err(to_step_error)?;
        service::load(&log, &self.job.project_id, true)
            .await
            .map_err(to_step_error)
    }

    async fn append(&self, commands: Vec<Command>) -> Result<Vec<Envelope>, AppendError> {
        let meta = Metadata::new(now_ms(), ACTOR).correlated(&self.job.build_id);
        service::execute_all(&self.ctx, &self.job.project_id, meta, commands)
            .await
            .map_err(|e| match e {
                ExecError::Rejected(r) => AppendError::Rejected(r),
                ExecError::Contended => AppendError::Failed(StepError::Retryable(e.to_string())),
                ExecError::Unavailable(e) => AppendError::Failed(to_step_error(e)),
            })
    }

    async fn run(
        &self,
        step: Step,
        state: ProjectState,
    ) -> Result<(StepOutput, Vec<Command>), StepError> {
        crate::steps::run(step, &self.job, &self.ctx, state).await
    }

    fn repair_rounds(&self) -> u32 {
        match self.ctx.config.model.provider {
            generation::model::ProviderKind::Offline => 0,
            _ => self.ctx.config.model.repair_attempts,
        }
    }

    fn now_ms(&self) -> i64 {
        now_ms()
    }

    async fn sleep_ms(&self, ms: u64) {
        crate::adapters::webcrypto::sleep_ms(ms).await;
    }

    fn report(&self, message: &str) {
        worker::console_error!("{message}");
    }
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
