//! The build workflow: the order of the steps, the repair rounds after a failed validation, how
//! every step attempt is recorded, and how a build ends.
//!
//! [`drive`] is written against two ports, so the same code runs in the Worker and in native tests:
//!
//! - [`Engine`]: a durable step runner, Cloudflare Workflows' `step.do` in production: it runs a
//!   body with the step's retry policy and, after a restart, hands back a finished step's cached
//!   output instead of running it again;
//! - [`Host`]: the build's event log and step bodies (the platform's adapters).
//!
//! Every attempt is recorded in the event log: `StepStarted`, then the step's domain events and
//! `StepSucceeded` as one atomic batch, or `StepFailed` (attempt, error, retryable). The attempt
//! number comes from the log itself, so a retry after an eviction is numbered correctly. A build
//! that cannot continue records `BuildFailed` (step, reason) in a final durable step and leaves the
//! live version untouched.

use std::future::Future;

use events::envelope::Envelope;
use events::{Command, ProjectState, Rejection};
use serde_json::{json, Value};

use crate::output::{self, RecordOutput, StepOutput, Verdict};
use crate::pipeline::{FaultPlan, Step, StepError, MAX_REPAIRS};

/// A durable step runner (Cloudflare Workflows' `step.do`).
#[allow(async_fn_in_trait)]
pub trait Engine {
    /// Runs `body` as the durable step `name` with `config` (`RetryPolicy::workflow_config`):
    /// retried while it fails with a retryable error and attempts remain, its output cached under
    /// `name`. The error is the last attempt's message.
    async fn step<F, Fut>(&self, name: &str, config: &Value, body: F) -> Result<Value, String>
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<Value, StepError>> + 'static;
}

/// Why an append was not made.
#[derive(Debug, Clone, PartialEq)]
pub enum AppendError {
    /// The log's rules refused a command (terminal).
    Rejected(Rejection),
    /// The log could not be reached or written; whether retrying helps is in the error.
    Failed(StepError),
}

impl From<AppendError> for StepError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Rejected(r) => StepError::Terminal(r.to_string()),
            AppendError::Failed(e) => e,
        }
    }
}

/// What a build needs from the platform: its log and its step bodies. Cloned into every durable
/// step's body, so it should be a cheap handle.
#[allow(async_fn_in_trait)]
pub trait Host: Clone + 'static {
    /// The project's state, folded from its log.
    async fn load(&self) -> Result<ProjectState, StepError>;
    /// Decides `commands` against the current state and appends their events as one atomic
    /// batch; returns the stored envelopes (empty when nothing changed).
    async fn append(&self, commands: Vec<Command>) -> Result<Vec<Envelope>, AppendError>;
    /// Runs `step`'s body against `state` (the state right after the attempt's `StepStarted`);
    /// returns its output and the commands recording its domain outcome.
    async fn run(
        &self,
        step: Step,
        state: ProjectState,
    ) -> Result<(StepOutput, Vec<Command>), StepError>;
    /// How many repair rounds a failed validation gets (reported by an output read from the log).
    fn repair_rounds(&self) -> u32;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Waits `ms` milliseconds (a test fault plan's stalls).
    async fn sleep_ms(&self, ms: u64);
    /// Reports what the log cannot hold (a `BuildFailed` that could not be recorded).
    fn report(&self, message: &str);
}

/// The build's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildIds {
    /// Project (stream) id.
    pub project_id: String,
    /// Build id (= Workflow instance id).
    pub build_id: String,
}

/// Test-only fault injection, honoured only where test hooks are on.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Failures, stalls and lost answers per step attempt.
    pub plan: FaultPlan,
    /// The first `n` attempts to record `BuildFailed` fail as if the log were unreachable.
    pub failed_build_appends: u32,
}

/// Why a build stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step that failed (`start` before the first step).
    pub step: String,
    /// What went wrong.
    pub reason: String,
}

/// The policy of the bookkeeping steps (`start`, `fail`): a few quick retries.
fn bookkeeping_config() -> Value {
    json!({ "retries": { "limit": 3, "delay": 200, "backoff": "exponential" }, "timeout": 30_000 })
}

/// Runs (or, after a restart, replays) one build; returns the version it made live, or why it
/// failed (recorded as `BuildFailed` when the log allows).
pub async fn drive<E: Engine, H: Host>(
    engine: &E,
    host: &H,
    ids: &BuildIds,
    faults: &Faults,
) -> Result<u32, Failure> {
    // Start: idempotent (a replayed or duplicate instance finds the build already running).
    let (h, build_id) = (host.clone(), ids.build_id.clone());
    engine
        .step("start", &bookkeeping_config(), move || {
            let (h, build_id) = (h.clone(), build_id.clone());
            async move {
                match h.append(vec![Command::StartBuild { build_id }]).await {
                    Ok(_) => Ok(json!({ "started": true })),
                    // A build that ended before it started (cancelled, or failed by the
                    // watchdog) is not started: the refusal ends this workflow (docs/adr/0018).
                    Err(AppendError::Rejected(Rejection::BuildAlreadyStarted { .. })) => {
                        Ok(json!({ "started": false }))
                    }
                    Err(err) => Err(err.into()),
                }
            }
        })
        .await
        .map_err(|reason| Failure {
            step: "start".into(),
            reason,
        })?;

    let fail = |step: Step, reason: String| fail(engine, host, ids, faults, step.name(), reason);
    let mut record = None;
    for step in Step::ALL {
        let out = match run_step(engine, host, ids, faults, step).await {
            Ok(out) => out,
            Err(reason) => return Err(fail(step, reason).await),
        };
        match step {
            Step::Validate => {
                let verdict = match output::read::<Verdict>(step.name(), &out) {
                    Ok(v) => v,
                    Err(reason) => return Err(fail(step, reason).await),
                };
                if !verdict.passed {
                    if let Err(reason) = repair(engine, host, ids, faults, verdict).await {
                        let (step, reason) = reason;
                        return Err(fail(step, reason).await);
                    }
                }
            }
            Step::Record => record = Some(out),
            _ => {}
        }
    }
    let record = record.unwrap_or_default();
    match output::read::<RecordOutput>(Step::Record.name(), &record) {
        Ok(r) => Ok(r.version),
        Err(reason) => Err(fail(Step::Record, reason).await),
    }
}

/// Repair rounds after a failed validation, each its own durable step; the last verdict decides.
/// On failure: the step to blame and the reason.
async fn repair<E: Engine, H: Host>(
    engine: &E,
    host: &H,
    ids: &BuildIds,
    faults: &Faults,
    verdict: Verdict,
) -> Result<(), (Step, String)> {
    let rounds = verdict.repairs.min(u32::from(MAX_REPAIRS)) as u8;
    let mut last = verdict;
    for n in 1..=rounds {
        let step = Step::Repair(n);
        let out = run_step(engine, host, ids, faults, step)
            .await
            .map_err(|reason| (step, reason))?;
        last = output::read::<Verdict>(step.name(), &out).map_err(|reason| (step, reason))?;
        if last.passed {
            return Ok(());
        }
    }
    if last.passed {
        return Ok(());
    }
    let after = match rounds {
        0 => String::new(),
        1 => " after 1 repair".to_string(),
        n => format!(" after {n} repairs"),
    };
    Err((
        Step::Validate,
        format!("validation failed{after}: {}", last.diagnostics.join("; ")),
    ))
}

/// Runs one step durably (the engine retries it by its policy) and returns its output.
async fn run_step<E: Engine, H: Host>(
    engine: &E,
    host: &H,
    ids: &BuildIds,
    faults: &Faults,
    step: Step,
) -> Result<Value, String> {
    let (h, i, f) = (host.clone(), ids.clone(), faults.plan.clone());
    engine
        .step(step.name(), &step.policy().workflow_config(), move || {
            let (h, i, f) = (h.clone(), i.clone(), f.clone());
            async move { attempt(step, &h, &i, &f).await }
        })
        .await
}

/// Records `BuildFailed` in a final durable step and returns the failure. If even that cannot be
/// recorded, the build stays unfinished in the log and the stall watchdog ends it (ADR 0018).
async fn fail<E: Engine, H: Host>(
    engine: &E,
    host: &H,
    ids: &BuildIds,
    faults: &Faults,
    step: &str,
    reason: String,
) -> Failure {
    let (h, build_id) = (host.clone(), ids.build_id.clone());
    let (step_name, why) = (step.to_string(), reason.clone());
    let injected = faults.failed_build_appends;
    let attempts = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let recorded = engine
        .step("fail", &bookkeeping_config(), move || {
            let (h, build_id, step, reason) =
                (h.clone(), build_id.clone(), step_name.clone(), why.clone());
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
                    build_id,
                    step,
                    reason,
                };
                h.append(vec![failed])
                    .await
                    .map(|_| json!({}))
                    .map_err(StepError::from)
            }
        })
        .await;
    if let Err(e) = recorded {
        host.report(&format!(
            "build {}: BuildFailed could not be recorded: {e}",
            ids.build_id
        ));
    }
    Failure {
        step: step.into(),
        reason,
    }
}

/// One attempt of one step: record the start, run the body, record the outcome.
async fn attempt<H: Host>(
    step: Step,
    host: &H,
    ids: &BuildIds,
    faults: &FaultPlan,
) -> Result<Value, StepError> {
    let state = host.load().await?;
    let build = state
        .build(&ids.build_id)
        .ok_or_else(|| StepError::Terminal(format!("build {} is not in the log", ids.build_id)))?;
    let number = build
        .step(step.name())
        .and_then(|s| s.last())
        .map_or(1, |a| a.attempt + 1);
    let started = host.now_ms();
    let start = Command::StartStep {
        build_id: ids.build_id.clone(),
        step: step.name().into(),
        attempt: number,
    };
    // The state after StartStep, handed to the step body so it need not read the log again.
    let mut after_start = state.clone();
    match host.append(vec![start]).await {
        Ok(stored) => {
            if stored.first().map(|e| e.seq) == Some(state.last_seq + 1) {
                for e in &stored {
                    after_start.apply(e);
                }
            } else {
                // Someone else appended in between: read the log again.
                after_start = host.load().await?;
            }
        }
        // The step finished but the engine did not record it (eviction), also after the whole
        // build finished (the engine lost `deploy` or `record` after `BuildSucceeded`): its
        // output is derived from the log again, so the workflow's result agrees with the log.
        Err(AppendError::Rejected(r))
            if matches!(r, Rejection::StepAlreadySucceeded { .. })
                || (matches!(r, Rejection::BuildFinished { .. })
                    && build.step(step.name()).is_some_and(|s| s.succeeded())) =>
        {
            return output::from_log(
                step,
                &state,
                &ids.project_id,
                &ids.build_id,
                host.repair_rounds(),
            )
            .map(|o| o.to_value());
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(ms) = faults.stall_ms(step, number) {
        host.sleep_ms(ms).await;
    }
    let outcome = match faults.failure(step, number) {
        Some(injected) => Err(injected),
        None => host.run(step, after_start).await,
    };
    // A `lost` fault: the body did its work, its answer is dropped (the retry meets the effects).
    let outcome = match (outcome, faults.lost(step, number)) {
        (Ok(_), Some(lost)) => Err(lost),
        (outcome, _) => outcome,
    };
    let duration_ms = (host.now_ms() - started).max(0) as u64;
    match outcome {
        Ok((output, commands)) => {
            let succeeded = Command::SucceedStep {
                build_id: ids.build_id.clone(),
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
            host.append(ordered).await?;
            Ok(output.to_value())
        }
        Err(err) => {
            let last = number >= step.policy().attempts();
            let failed = Command::FailStep {
                build_id: ids.build_id.clone(),
                step: step.name().into(),
                attempt: number,
                error: err.message().to_string(),
                retryable: err.retryable() && !last,
            };
            host.append(vec![failed]).await?;
            Err(err)
        }
    }
}
