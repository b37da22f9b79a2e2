//! Rollback: making an earlier version live again, as its own durable Workflow
//! (`RollbackWorkflow` in `src/entry.js`, one instance per rollback, id = rollback id; ADR 0015).
//!
//! Two durable steps, no model call and no code generation:
//! 1. `check`: the target is still a version that went live, its code runs against the current
//!    database ([`verdict`], the rule in `validation::compat`), and its deploy bundle
//!    exists (a version deployed before bundles existed gets one, written by the deploy step's
//!    bundle writer);
//! 2. `switch`: the live pointer `apps/<slug>.json` names the target, then `RolledBack` is
//!    recorded. The dispatch Worker reads the pointer on every request, so the older version
//!    answers from the next request on.
//!
//! A rollback that cannot be done records `RollbackFailed` (with the reason) in a final step, so
//! the project never stays blocked by a pending rollback. Both steps are safe to run again: the
//! pointer write is idempotent, and a rollback already recorded as done is not recorded twice.

use std::collections::BTreeMap;

use codestore::{CodeStore, Manifest};
use events::envelope::Metadata;
use events::{Command, ProjectState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use validation::compat;
use wasm_bindgen::prelude::*;
use worker::Env;
use workflows::pipeline::StepError;

use crate::adapters::code_store::R2CodeStore;
use crate::adapters::webcrypto::now_ms;
use crate::adapters::workflow_instances::Workflow;
use crate::deploy::{DeployTarget, Target};
use crate::error::ApiError;
use crate::http::Ctx;
use crate::pipeline::durable_step;
use crate::service;

/// The Workflow params of one rollback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackJob {
    /// Project (stream) id.
    pub project_id: String,
    /// Rollback id (= Workflow instance id).
    pub rollback_id: String,
    /// The version to make live.
    pub to_version: u32,
    /// Test-only: the `switch` step stalls [`workflows::pipeline::SLOW_MS`] the first time it
    /// runs (so a restart can interrupt it); accepted only with `KILN_TEST_HOOKS=1`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub slow: bool,
}

/// The system actor recorded on rollback events.
const ACTOR: &str = "kiln:rollback";

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// The migration files (`migrations/<name>` → SQL) of a version.
async fn migrations_of(
    store: &R2CodeStore,
    project: &str,
    m: &Manifest,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (path, entry) in m
        .files
        .iter()
        .filter(|(p, _)| p.as_str().starts_with("migrations/"))
    {
        let sql = store
            .get_blob(project, &entry.hash)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal(format!("{} is missing from the code store", path.as_str())))?;
        let name = path.as_str().trim_start_matches("migrations/").to_string();
        out.insert(name, String::from_utf8_lossy(&sql).into_owned());
    }
    Ok(out)
}

/// The SQL of the migrations applied to the project's database (`name` → SQL) that `known` does
/// not hold already, read from the versions that went live, newest first (each carries every
/// migration it applied). A name found nowhere is left out.
pub async fn applied_migrations(
    ctx: &Ctx,
    project: &str,
    st: &ProjectState,
    known: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut missing: Vec<&String> = st
        .migrations
        .iter()
        .filter(|n| !known.contains_key(*n))
        .collect();
    let mut sources = BTreeMap::new();
    if missing.is_empty() {
        return Ok(sources);
    }
    let store = R2CodeStore::of(&ctx.env)?;
    for v in st.versions.iter().rev().copied() {
        let Some(m) = store.get_manifest(project, v).await.map_err(internal)? else {
            continue;
        };
        for (name, sql) in migrations_of(&store, project, &m).await? {
            if missing.contains(&&name) {
                sources.insert(name, sql);
            }
        }
        missing.retain(|n| !sources.contains_key(*n));
        if missing.is_empty() {
            break;
        }
    }
    Ok(sources)
}

/// Whether `version`'s code runs against the project's database as its migrations left it:
/// `Ok(None)` if it does, `Ok(Some(reason))` if it does not. The migrations applied since are
/// those the log records as applied that the version does not carry; their SQL is read from the
/// versions that went live (newest first), which carry every migration they applied.
pub async fn verdict(
    ctx: &Ctx,
    project: &str,
    st: &ProjectState,
    version: u32,
) -> Result<Option<String>, ApiError> {
    let store = R2CodeStore::of(&ctx.env)?;
    let target = store
        .get_manifest(project, version)
        .await
        .map_err(internal)?
        .ok_or_else(|| internal(format!("version {version} is missing from the code store")))?;
    let own = migrations_of(&store, project, &target).await?;
    if st.migrations.iter().all(|n| own.contains_key(n)) {
        return Ok(None);
    }
    let sources = applied_migrations(ctx, project, st, &own).await?;
    let missing: Vec<&String> = st
        .migrations
        .iter()
        .filter(|n| !own.contains_key(*n) && !sources.contains_key(*n))
        .collect();
    if let Some(name) = missing.first() {
        return Ok(Some(format!(
            "version {version} cannot be checked against the current database: the SQL of migration {name} is in no version that went live"
        )));
    }
    let later: Vec<(&str, &str)> = st
        .migrations
        .iter()
        .filter(|n| !own.contains_key(*n))
        .filter_map(|n| sources.get(n).map(|sql| (n.as_str(), sql.as_str())))
        .collect();
    let found = compat::check(own.values().map(String::as_str), later);
    if found.is_empty() {
        return Ok(None);
    }
    let reasons: Vec<String> = found.iter().map(ToString::to_string).collect();
    Ok(Some(format!(
        "version {version} cannot run on the current database (migrations only go forward, so the schema stays): {}",
        reasons.join("; ")
    )))
}

fn step_err(e: ApiError) -> StepError {
    match e {
        ApiError::Internal(m) => StepError::Retryable(m),
        other => StepError::Terminal(other.message()),
    }
}

async fn record(env: &Env, job: &RollbackJob, command: Command) -> Result<(), StepError> {
    let ctx = Ctx::new(env.clone()).map_err(step_err)?;
    let meta = Metadata::new(now_ms(), ACTOR).correlated(&job.rollback_id);
    service::execute(&ctx, &job.project_id, meta, command)
        .await
        .map(|_| ())
        .map_err(step_err)
}

/// Whether this rollback is already recorded as done (a replayed or repeated instance).
fn done(st: &ProjectState, job: &RollbackJob) -> bool {
    st.live
        .as_ref()
        .is_some_and(|l| l.rollback_id.as_deref() == Some(job.rollback_id.as_str()))
}

/// Whether `job` is the project's pending rollback.
fn pending(st: &ProjectState, job: &RollbackJob) -> bool {
    st.rollback
        .as_ref()
        .is_some_and(|r| r.rollback_id.as_deref() == Some(job.rollback_id.as_str()))
}

/// Why a rollback that was failed from outside stops.
const NO_LONGER_PENDING: &str =
    "the rollback is no longer pending (it was stopped); the live version stays";

async fn load(ctx: &Ctx, job: &RollbackJob) -> Result<ProjectState, StepError> {
    let log = service::event_log(ctx).map_err(step_err)?;
    service::load(&log, &job.project_id, true)
        .await
        .map_err(step_err)
}

/// Step 1: the target is valid and runnable, and its deploy bundle exists.
async fn check(env: Env, job: RollbackJob) -> Result<Value, StepError> {
    let ctx = Ctx::new(env).map_err(step_err)?;
    let st = load(&ctx, &job).await?;
    if done(&st, &job) {
        return Ok(json!({ "done": true }));
    }
    if st.deleted {
        return Err(StepError::Terminal("the project was deleted".into()));
    }
    if !st.versions.contains(&job.to_version) {
        return Err(StepError::Terminal(format!(
            "version {} never went live",
            job.to_version
        )));
    }
    if let Some(reason) = verdict(&ctx, &job.project_id, &st, job.to_version)
        .await
        .map_err(step_err)?
    {
        return Err(StepError::Terminal(reason));
    }
    let m = R2CodeStore::of(&ctx.env)
        .map_err(step_err)?
        .get_manifest(&job.project_id, job.to_version)
        .await
        .map_err(|e| StepError::Retryable(e.to_string()))?
        .ok_or_else(|| {
            StepError::Terminal(format!(
                "version {} is missing from the code store",
                job.to_version
            ))
        })?;
    // The target checks the version can run again (locally it writes a missing bundle).
    Target::of(&ctx)?
        .restore(&m, None, &job.rollback_id)
        .await?;
    Ok(json!({ "done": false }))
}

/// The `slow` test hook: stalls once per rollback (an R2 marker remembers it across restarts).
async fn stall_once(env: &Env, job: &RollbackJob) -> Result<(), StepError> {
    if !(crate::adapters::build_store::test_hooks(env) && job.slow) {
        return Ok(());
    }
    let first = crate::adapters::build_store::put_if_absent(
        env,
        &format!("test/rollback-stall/{}", job.rollback_id),
        Vec::new(),
    )
    .await
    .map_err(step_err)?;
    if first {
        crate::adapters::webcrypto::sleep_ms(workflows::pipeline::SLOW_MS).await;
    }
    Ok(())
}

/// Step 2: the live pointer names the target; `RolledBack` is recorded.
async fn switch(env: Env, job: RollbackJob) -> Result<Value, StepError> {
    stall_once(&env, &job).await?;
    let ctx = Ctx::new(env.clone()).map_err(step_err)?;
    let st = load(&ctx, &job).await?;
    if done(&st, &job) {
        return Ok(json!({ "version": job.to_version }));
    }
    if !pending(&st, &job) {
        // Failed meanwhile (the stall watchdog): the live version stays.
        return Err(StepError::Terminal(NO_LONGER_PENDING.into()));
    }
    let build_id = st
        .build_of_version(job.to_version)
        .map(|b| b.build_id.clone());
    let m = R2CodeStore::of(&ctx.env)
        .map_err(step_err)?
        .get_manifest(&job.project_id, job.to_version)
        .await
        .map_err(|e| StepError::Retryable(e.to_string()))?
        .ok_or_else(|| {
            StepError::Terminal(format!(
                "version {} is missing from the code store",
                job.to_version
            ))
        })?;
    let pointer = Target::of(&ctx)?
        .restore(&m, build_id, &job.rollback_id)
        .await?;
    crate::steps::move_live_pointer(&ctx, &st.slug, &pointer)
        .await
        .map_err(step_err)?;
    let bucket = crate::adapters::build_store::bucket(&ctx.env).map_err(step_err)?;
    // The same race as the deploy step: a deletion seen after the write undoes it, and so does a
    // failure recorded meanwhile (the stall watchdog), which must leave the live version alone.
    let after = load(&ctx, &job).await?;
    if after.deleted {
        crate::teardown::remove_pointer(&bucket, &job.project_id, &st.slug)
            .await
            .map_err(step_err)?;
        return Err(StepError::Terminal("the project was deleted".into()));
    }
    if !pending(&after, &job) && !done(&after, &job) {
        crate::cancel::settle_rollback_pointer(&ctx, &job.project_id, &after, &job.rollback_id)
            .await
            .map_err(step_err)?;
        return Err(StepError::Terminal(NO_LONGER_PENDING.into()));
    }
    record(
        &env,
        &job,
        Command::CompleteRollback {
            to_version: job.to_version,
            rollback_id: job.rollback_id.clone(),
        },
    )
    .await?;
    Ok(json!({ "version": job.to_version }))
}

/// Exposed to JavaScript as `RollbackRunner.run(payloadJson, glue, env)`.
#[wasm_bindgen]
pub struct RollbackRunner;

#[wasm_bindgen]
impl RollbackRunner {
    /// Runs (or, after a restart, replays) one rollback. Resolves with a summary; a refused
    /// rollback is recorded as `RollbackFailed`, not thrown.
    pub async fn run(payload: String, glue: JsValue, env: JsValue) -> Result<JsValue, JsValue> {
        let job: RollbackJob = serde_json::from_str(&payload)
            .map_err(|e| JsValue::from_str(&format!("bad rollback payload: {e}")))?;
        let env: Env = env.unchecked_into();
        let summary = match drive(&job, &glue, &env).await {
            Ok(()) => {
                json!({ "rollback_id": job.rollback_id, "status": "rolled_back", "version": job.to_version })
            }
            Err(reason) => {
                fail(&job, &glue, &env, reason.clone()).await;
                json!({ "rollback_id": job.rollback_id, "status": "failed", "reason": reason })
            }
        };
        Ok(JsValue::from_str(&summary.to_string()))
    }
}

fn config(limit: u32) -> Value {
    json!({ "retries": { "limit": limit, "delay": 200, "backoff": "exponential" }, "timeout": 30_000 })
}

async fn drive(job: &RollbackJob, glue: &JsValue, env: &Env) -> Result<(), String> {
    let (j, e) = (job.clone(), env.clone());
    let checked = durable_step(glue, "check", &config(3), move || {
        check(e.clone(), j.clone())
    })
    .await?;
    if checked["done"] == Value::Bool(true) {
        return Ok(());
    }
    let (j, e) = (job.clone(), env.clone());
    durable_step(glue, "switch", &config(5), move || {
        switch(e.clone(), j.clone())
    })
    .await?;
    Ok(())
}

/// Records `RollbackFailed` in a final durable step (unless the rollback is no longer pending).
async fn fail(job: &RollbackJob, glue: &JsValue, env: &Env, reason: String) {
    let (j, e) = (job.clone(), env.clone());
    let _ = durable_step(glue, "fail", &config(3), move || {
        let (j, e, reason) = (j.clone(), e.clone(), reason.clone());
        async move {
            let ctx = Ctx::new(e.clone()).map_err(step_err)?;
            let st = load(&ctx, &j).await?;
            let pending = st
                .rollback
                .as_ref()
                .is_some_and(|p| p.rollback_id.as_deref() == Some(j.rollback_id.as_str()));
            if pending {
                let reason: String = reason.chars().take(4000).collect();
                record(
                    &e,
                    &j,
                    Command::FailRollback {
                        rollback_id: j.rollback_id.clone(),
                        reason,
                    },
                )
                .await?;
            }
            Ok(json!({}))
        }
    })
    .await;
}

/// Creates the Workflow instance of a recorded rollback (an instance that exists already is left
/// as it is).
pub async fn start(env: &Env, job: &RollbackJob) -> Result<(), ApiError> {
    Workflow::rollbacks(env)?
        .create(&job.rollback_id, job)
        .await
        .map(|_| ())
}
