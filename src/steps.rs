//! The bodies of the build steps, run inside durable Workflow steps by [`crate::pipeline`].
//!
//! Each body returns a small JSON output (references, never whole files) and the commands whose
//! events record its domain outcome (`PlanProposed`, `CodeGenerated`, …). Every body is safe to
//! run again: storage writes are content-addressed or create-only, and the live pointer write is
//! idempotent.

use std::collections::BTreeMap;

use events::envelope::Metadata;
use events::{Command, ProjectState, Validation};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::Conditional;
use workflows::codestore::{blob_key, save_version, CodeStore, FilePath, Manifest};
use workflows::generate::session::{self, CallRecord, GenError, Session};
use workflows::model::{ChatModel, DEFAULT_CALL_RETRY};
use workflows::pipeline::{Step, StepError};
use workflows::plan::{Plan, ValidPlan};
use workflows::prompts;
use workflows::sandbox;
use workflows::validate::{compat, validate_app, Limits};

use crate::adapters::app_admin::{self, AdminError};
use crate::adapters::code_store::R2CodeStore;
use crate::adapters::model::Provider;
use crate::adapters::webcrypto;
use crate::error::ApiError;
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use crate::service;

type StepResult = Result<(Value, Vec<Command>), StepError>;

fn retryable(e: impl std::fmt::Display) -> StepError {
    StepError::Retryable(e.to_string())
}

/// A code-store error: retryable when storage may recover, terminal otherwise.
fn store_err(e: workflows::codestore::CodeStoreError) -> StepError {
    if e.retryable() {
        retryable(e)
    } else {
        StepError::Terminal(e.to_string())
    }
}

fn api_err(e: ApiError) -> StepError {
    match e {
        ApiError::Internal(m) => StepError::Retryable(m),
        other => StepError::Terminal(other.message()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn state(ctx: &Ctx, job: &BuildJob) -> Result<ProjectState, StepError> {
    let log = service::event_log(ctx).map_err(api_err)?;
    service::load(&log, &job.project_id, true)
        .await
        .map_err(api_err)
}

fn plan_key(job: &BuildJob) -> String {
    plan_key_of(&job.project_id, &job.build_id)
}

/// Where a build's validated plan is stored in R2.
pub fn plan_key_of(project: &str, build: &str) -> String {
    format!("plans/{project}/{build}.json")
}

async fn get_object(ctx: &Ctx, key: &str) -> Result<Option<Vec<u8>>, StepError> {
    let bucket = ctx.env.bucket("STORE").map_err(retryable)?;
    let Some(obj) = bucket.get(key).execute().await.map_err(retryable)? else {
        return Ok(None);
    };
    match obj.body() {
        Some(b) => Ok(Some(b.bytes().await.map_err(retryable)?)),
        None => Ok(Some(Vec::new())),
    }
}

async fn current_manifest(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
) -> Result<Manifest, StepError> {
    let build = st
        .build(&job.build_id)
        .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
    let version = build
        .version
        .ok_or_else(|| StepError::Terminal("no code was generated for this build".into()))?;
    let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
    store
        .get_manifest(&job.project_id, version)
        .await
        .map_err(store_err)?
        .ok_or_else(|| {
            StepError::Terminal(format!("version {version} is missing from the code store"))
        })
}

/// The configured model provider; `None` = the offline generator.
fn connect(ctx: &Ctx) -> Result<Option<Provider>, StepError> {
    Provider::connect(&ctx.env, &ctx.config.model).map_err(api_err)
}

async fn sleep_ms(ms: u64) {
    worker::Delay::from(std::time::Duration::from_millis(ms)).await;
}

/// How a generation session waits between retries: `worker::Delay`.
type Sleep = fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

fn session<'m>(ctx: &Ctx, provider: &'m Provider) -> Session<'m, Provider, Sleep> {
    let sleep: Sleep = |ms| Box::pin(sleep_ms(ms));
    Session::new(
        provider,
        ctx.config.model.max_tokens,
        ctx.config.model.json_schema,
        DEFAULT_CALL_RETRY,
        sleep,
    )
}

fn gen_error(e: GenError) -> StepError {
    if e.retryable {
        StepError::Retryable(e.message)
    } else {
        StepError::Terminal(e.message)
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max).collect::<String>() + "…"
    }
}

/// Appends one `ModelCalled` event per call (also for calls of a step that then fails: their
/// tokens were spent).
async fn record_calls(
    ctx: &Ctx,
    job: &BuildJob,
    step: Step,
    provider: &Provider,
    calls: &[CallRecord],
) -> Result<(), StepError> {
    let pricing = ctx.config.model.pricing;
    for c in calls {
        let meta = Metadata::new(webcrypto::now_ms(), "kiln:pipeline").correlated(&job.build_id);
        let command = Command::RecordModelCall {
            build_id: job.build_id.clone(),
            step: step.name().into(),
            provider: provider.provider().into(),
            model: provider.model().into(),
            template: c.template.clone(),
            template_hash: c.template_hash.clone(),
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            estimated: c.estimated,
            cost_nano_usd: pricing.cost_nano_usd(c.input_tokens, c.output_tokens),
            finish_reason: c.finish_reason.clone(),
            retries: c.retries,
            error: c.error.as_deref().map(|e| shorten(e, 500)),
        };
        service::execute(ctx, &job.project_id, meta, command)
            .await
            .map_err(api_err)?;
    }
    Ok(())
}

fn validate_plan(plan: &Plan) -> Result<ValidPlan, StepError> {
    plan.validate().map_err(|errors| {
        StepError::Terminal(format!(
            "the plan is invalid: {}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// The validated plan stored by this build's plan step.
async fn stored_plan(ctx: &Ctx, job: &BuildJob) -> Result<ValidPlan, StepError> {
    let bytes = get_object(ctx, &plan_key(job))
        .await?
        .ok_or_else(|| StepError::Terminal("the plan of this build is missing".into()))?;
    let plan: Plan = serde_json::from_slice(&bytes)
        .map_err(|e| StepError::Terminal(format!("stored plan is unreadable: {e}")))?;
    plan.validate()
        .map_err(|_| StepError::Terminal("stored plan no longer validates".into()))
}

/// The plan of the build that deployed the live version, so a chat message changes the app
/// instead of starting over.
async fn current_plan(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
) -> Result<Option<Plan>, StepError> {
    let Some(live) = st.live_version else {
        return Ok(None);
    };
    let Some(build) = st
        .builds
        .iter()
        .rev()
        .find(|b| b.deployed_version == Some(live) && b.build_id != job.build_id)
    else {
        return Ok(None);
    };
    let key = format!("plans/{}/{}.json", job.project_id, build.build_id);
    Ok(get_object(ctx, &key)
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Saves `files` as the build's version and decides `CodeGenerated` (once).
async fn save_files(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
    files: Vec<(String, String)>,
    prompt_hash: Option<String>,
) -> StepResult {
    let mut checked = Vec::new();
    for (path, content) in files {
        let path = FilePath::parse(&path)
            .map_err(|e| StepError::Terminal(format!("generated path is unsafe: {e}")))?;
        checked.push((path, content.into_bytes()));
    }
    save_checked(ctx, job, st, checked, prompt_hash).await
}

/// Saves files with checked paths as the build's version and decides `CodeGenerated` (once).
async fn save_checked(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
    checked: Vec<(FilePath, Vec<u8>)>,
    prompt_hash: Option<String>,
) -> StepResult {
    let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
    let build = st.build(&job.build_id);
    // A repair builds on the build's own last version; codegen on the live one.
    let parent = build.and_then(|b| b.version).or(st.live_version);
    let saved = save_version(
        &store,
        &job.project_id,
        parent,
        Some(&job.build_id),
        webcrypto::now_ms(),
        checked,
    )
    .await
    .map_err(store_err)?;
    let m = &saved.manifest;
    let value = json!({ "ref": format!("versions/{}/{}", job.project_id, m.version), "version": m.version, "new_blobs": saved.new_blobs });
    let already = build.and_then(|b| b.version) == Some(m.version);
    let commands = if already {
        Vec::new()
    } else {
        vec![Command::RecordCode {
            build_id: job.build_id.clone(),
            version: m.version,
            files: m.files.len() as u32,
            bytes: m.total_bytes(),
            prompt_hash,
        }]
    };
    Ok((value, commands))
}

/// On a project with a live version, migrations already applied are kept exactly as they are
/// (a generator rewriting `0001_init.sql` must not change what the database went through), and a
/// changed plan adds one upgrade migration (`NNNN_update.sql`: new tables and columns) computed
/// from the live plan. A first build keeps the generated migrations.
///
/// `applied` are the migrations the database went through (path → SQL), which after a rollback
/// are more than the live version's: they are all carried, numbering continues after them, and
/// the upgrade leaves out tables and columns they already created.
fn carry_migrations(
    plan: &ValidPlan,
    files: Vec<(String, String)>,
    live_plan: Option<&Plan>,
    applied: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let applied: Vec<(String, String)> = applied
        .iter()
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect();
    if applied.is_empty() {
        return files;
    }
    let mut out: Vec<(String, String)> = files
        .into_iter()
        .filter(|(p, _)| !p.starts_with("migrations/"))
        .collect();
    let next = applied.len() + 1;
    let existing = compat::schema(applied.iter().map(|(_, sql)| sql.as_str()));
    out.extend(applied);
    if let Some(sql) =
        live_plan.and_then(|old| workflows::offline::upgrade_migration_over(old, plan, &existing))
    {
        out.push((format!("migrations/{next:04}_update.sql"), sql));
    }
    out
}

/// Every migration the app's database went through (`migrations/<name>` → SQL): the live
/// version's, plus those a later version applied before a rollback made an older one live.
async fn applied_migration_files(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
    live: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, StepError> {
    let mut applied: BTreeMap<String, String> = live
        .into_iter()
        .flatten()
        .filter(|(p, _)| p.starts_with("migrations/"))
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect();
    let known: BTreeMap<String, String> = applied
        .iter()
        .map(|(p, c)| (p.trim_start_matches("migrations/").to_string(), c.clone()))
        .collect();
    let more = crate::rollback::applied_migrations(ctx, &job.project_id, st, &known)
        .await
        .map_err(api_err)?;
    applied.extend(
        more.into_iter()
            .map(|(n, sql)| (format!("migrations/{n}"), sql)),
    );
    Ok(applied)
}

/// The live version's files, if the project has one.
async fn live_files(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
) -> Result<Option<BTreeMap<String, String>>, StepError> {
    let Some(live) = st.live_version else {
        return Ok(None);
    };
    let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
    match store
        .get_manifest(&job.project_id, live)
        .await
        .map_err(store_err)?
    {
        Some(m) => Ok(Some(load_files(ctx, &m).await?)),
        None => Ok(None),
    }
}

/// Every file of a version, as text.
async fn load_files(ctx: &Ctx, m: &Manifest) -> Result<BTreeMap<String, String>, StepError> {
    let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
    let mut files = BTreeMap::new();
    for (path, entry) in &m.files {
        let bytes = store
            .get_blob(&m.project, &entry.hash)
            .await
            .map_err(retryable)?
            .ok_or_else(|| {
                StepError::Terminal(format!("{} is missing from the code store", path.as_str()))
            })?;
        files.insert(
            path.as_str().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        );
    }
    Ok(files)
}

fn is_runtime(path: &str) -> bool {
    path.starts_with("_kiln/") || path.starts_with("public/_kiln/")
}

/// Whether a diagnostic line (`path:line: message` or `path: message`) is about `path`.
fn names_path(diagnostic: &str, path: &str) -> bool {
    diagnostic
        .strip_prefix(path)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// The outcome of validating one version.
struct Checked {
    diagnostics: Vec<String>,
}

impl Checked {
    fn value(&self) -> Value {
        json!({ "passed": self.diagnostics.is_empty(), "diagnostics": self.diagnostics })
    }

    fn command(&self, build_id: String) -> Command {
        if self.diagnostics.is_empty() {
            Command::PassValidation { build_id }
        } else {
            Command::FailValidation {
                build_id,
                diagnostics: self.diagnostics.clone(),
            }
        }
    }
}

/// Static validation of a version: the files the contract needs, then `workflows::validate`.
async fn check(ctx: &Ctx, job: &BuildJob, m: &Manifest) -> Result<Checked, StepError> {
    let files = load_files(ctx, m).await?;
    let plan = stored_plan(ctx, job).await?;
    let tables: Vec<&str> = plan
        .plan()
        .entities
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let mut diagnostics = session::missing_model_files(&files);
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let report = validate_app(&pairs, &tables, &Limits::default());
    diagnostics.extend(report.diagnostics.iter().map(ToString::to_string));
    // Diagnostics travel in events and prompts: keep them bounded.
    diagnostics.truncate(50);
    Ok(Checked { diagnostics })
}

async fn check_current(ctx: &Ctx, job: &BuildJob, st: &ProjectState) -> Result<Checked, StepError> {
    let m = current_manifest(ctx, job, st).await?;
    check(ctx, job, &m).await
}

/// Runs one step's body.
pub async fn run(
    step: Step,
    job: &BuildJob,
    ctx: &Ctx,
    st: ProjectState,
    _prior: &Value,
) -> StepResult {
    let build_id = job.build_id.clone();
    match step {
        Step::Plan => {
            let build = st
                .build(&job.build_id)
                .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
            let hooks = ctx
                .env
                .var("KILN_TEST_HOOKS")
                .map(|v| v.to_string() == "1")
                .unwrap_or(false);
            if build.reuses(step.name()) {
                return reuse_plan(ctx, job, build).await;
            }
            let valid = match (job.plan.as_deref().filter(|_| hooks), connect(ctx)?) {
                (Some(raw), _) => {
                    let plan = serde_json::from_str::<workflows::plan::Plan>(raw).map_err(|e| {
                        StepError::Terminal(format!("the plan does not match the plan schema: {e}"))
                    })?;
                    validate_plan(&plan)?
                }
                (None, None) => validate_plan(
                    &workflows::offline::plan_from_prompt(&build.prompt)
                        .map_err(|e| StepError::Terminal(e.to_string()))?,
                )?,
                (None, Some(provider)) => {
                    let current = current_plan(ctx, job, &st).await?;
                    let mut session = session(ctx, &provider);
                    let result = session.plan(&build.prompt, current.as_ref()).await;
                    record_calls(ctx, job, step, &provider, &session.calls).await?;
                    result.map_err(gen_error)?
                }
            };
            let text = serde_json::to_string(valid.plan()).map_err(retryable)?;
            let plan_hash = hex(&Sha256::digest(text.as_bytes()));
            let key = plan_key(job);
            ctx.env
                .bucket("STORE")
                .map_err(retryable)?
                .put(&key, text.into_bytes())
                .execute()
                .await
                .map_err(retryable)?;
            let summary = valid.plan().summary.clone();
            Ok((
                json!({ "ref": key, "plan_hash": plan_hash }),
                vec![Command::ProposePlan {
                    build_id,
                    plan_hash,
                    summary,
                }],
            ))
        }
        Step::Codegen => {
            let build = st
                .build(&job.build_id)
                .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
            if build.reuses(step.name()) {
                return reuse_code(ctx, job, &st, build).await;
            }
            let valid = stored_plan(ctx, job).await?;
            // The live app (plan and files), read once: edit mode and migrations both need it.
            let live_plan = current_plan(ctx, job, &st).await?;
            let live = live_files(ctx, job, &st).await?;
            let (files, prompt_hash, parser_notes) = match connect(ctx)? {
                None => {
                    let files: Vec<(String, String)> = workflows::offline::generate(&valid)
                        .into_iter()
                        .chain(
                            workflows::offline::runtime_files()
                                .into_iter()
                                .map(|(p, c)| (p.to_string(), c.to_string())),
                        )
                        .collect();
                    (files, None, 0)
                }
                Some(provider) => {
                    // A request that leaves the live app's plan as it is changes its code in
                    // place (edit mode); otherwise the app's files are written from the plan.
                    let editing = live
                        .as_ref()
                        .filter(|_| live_plan.as_ref() == Some(valid.plan()));
                    let mut session = session(ctx, &provider);
                    let (result, template) = match editing {
                        Some(files) => {
                            let build = st.build(&job.build_id).ok_or_else(|| {
                                StepError::Terminal("build is not in the log".into())
                            })?;
                            (session.edit(&build.prompt, files).await, prompts::EDIT)
                        }
                        None => (session.code(&valid).await, prompts::CODEGEN),
                    };
                    record_calls(ctx, job, step, &provider, &session.calls).await?;
                    let generated = result.map_err(gen_error)?;
                    let mut app_files: BTreeMap<String, String> = editing
                        .into_iter()
                        .flatten()
                        .filter(|(p, _)| !is_runtime(p))
                        .map(|(p, c)| (p.clone(), c.clone()))
                        .collect();
                    app_files.extend(generated.files);
                    (
                        session::assemble(&valid, &app_files),
                        Some(template.hash()),
                        generated.diagnostics.len(),
                    )
                }
            };
            let applied = applied_migration_files(ctx, job, &st, live.as_ref()).await?;
            let files = carry_migrations(&valid, files, live_plan.as_ref(), &applied);
            let (value, commands) = save_files(ctx, job, &st, files, prompt_hash).await?;
            let mut value = value;
            value["parser_notes"] = json!(parser_notes);
            Ok((value, commands))
        }
        Step::Validate => {
            let outcome = check_current(ctx, job, &st).await?;
            // Reused code is not repaired: a replay makes no model call.
            let reused = st.build(&job.build_id).is_some_and(|b| b.reuses("codegen"));
            let repairs = match connect(ctx)? {
                Some(_) if !reused => ctx.config.model.repair_attempts,
                _ => 0,
            };
            let mut value = outcome.value();
            value["repairs"] = json!(repairs);
            Ok((value, vec![outcome.command(build_id)]))
        }
        Step::Repair(n) => {
            let provider = connect(ctx)?.ok_or_else(|| {
                StepError::Terminal(
                    "repairs need a model provider; the offline generator has none".into(),
                )
            })?;
            let build = st
                .build(&job.build_id)
                .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
            let diagnostics = match &build.validation {
                Some(Validation::Failed { diagnostics }) => diagnostics.clone(),
                _ => {
                    return Err(StepError::Terminal(
                        "there is no failed validation to repair".into(),
                    ))
                }
            };
            if build.repair_attempts < u32::from(n) {
                let meta =
                    Metadata::new(webcrypto::now_ms(), "kiln:pipeline").correlated(&job.build_id);
                service::execute(
                    ctx,
                    &job.project_id,
                    meta,
                    Command::AttemptRepair {
                        build_id: build_id.clone(),
                        attempt: u32::from(n),
                    },
                )
                .await
                .map_err(api_err)?;
            }
            let valid = stored_plan(ctx, job).await?;
            let current = load_files(ctx, &current_manifest(ctx, job, &st).await?).await?;
            let affected: BTreeMap<String, String> = current
                .iter()
                .filter(|(p, _)| !is_runtime(p))
                .filter(|(p, _)| diagnostics.iter().any(|d| names_path(d, p)))
                .map(|(p, c)| (p.clone(), c.clone()))
                .collect();
            let mut session = session(ctx, &provider);
            let result = session.repair(&affected, &diagnostics).await;
            record_calls(ctx, job, step, &provider, &session.calls).await?;
            let fixed = result.map_err(gen_error)?;
            let mut app_files: BTreeMap<String, String> = current
                .into_iter()
                .filter(|(p, _)| !is_runtime(p))
                .collect();
            app_files.extend(fixed.files);
            let files = session::assemble(&valid, &app_files);
            let (mut value, mut commands) =
                save_files(ctx, job, &st, files, Some(prompts::REPAIR.hash())).await?;
            // Validate the repaired version in the same step, so its outcome is this step's output.
            let version = value["version"].as_u64().unwrap_or_default() as u32;
            let manifest = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?)
                .get_manifest(&job.project_id, version)
                .await
                .map_err(store_err)?
                .ok_or_else(|| {
                    StepError::Retryable(format!("version {version} is not readable yet"))
                })?;
            let outcome = check(ctx, job, &manifest).await?;
            let checked = outcome.value();
            value["passed"] = checked["passed"].clone();
            value["diagnostics"] = checked["diagnostics"].clone();
            commands.push(outcome.command(build_id));
            Ok((value, commands))
        }
        Step::CreateDb => {
            // Normally created with the project; a project from before that gets one here.
            ensure_app_secret(ctx, &job.project_id)
                .await
                .map_err(api_err)?;
            let database_id = format!("local:{}", job.project_id);
            Ok((
                json!({ "database_id": database_id }),
                vec![Command::RecordDatabase {
                    build_id,
                    database_id,
                }],
            ))
        }
        Step::Migrate => {
            let m = current_manifest(ctx, job, &st).await?;
            let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
            let mut migrations = Vec::new();
            for (path, entry) in m
                .files
                .iter()
                .filter(|(p, _)| p.as_str().starts_with("migrations/"))
            {
                let sql = store
                    .get_blob(&job.project_id, &entry.hash)
                    .await
                    .map_err(retryable)?
                    .unwrap_or_default();
                let name = path.as_str().trim_start_matches("migrations/").to_string();
                migrations.push(json!({ "name": name, "sql": String::from_utf8_lossy(&sql) }));
            }
            let reply = app_admin::migrate(&ctx.env, &job.project_id, &Value::Array(migrations))
                .await
                .map_err(admin_err)?;
            let applied: Vec<String> = reply["applied"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let fresh: Vec<String> = applied
                .into_iter()
                .filter(|n| !st.migrations.contains(n))
                .collect();
            let commands = if fresh.is_empty() {
                Vec::new()
            } else {
                vec![Command::RecordMigrations {
                    build_id,
                    names: fresh.clone(),
                }]
            };
            Ok((json!({ "applied": fresh }), commands))
        }
        Step::UploadAssets => {
            let m = current_manifest(ctx, job, &st).await?;
            let assets: Vec<_> = m
                .files
                .iter()
                .filter(|(p, _)| p.as_str().starts_with("public/"))
                .collect();
            let bucket = ctx.env.bucket("STORE").map_err(retryable)?;
            for (path, entry) in &assets {
                if bucket
                    .head(blob_key(&job.project_id, &entry.hash))
                    .await
                    .map_err(retryable)?
                    .is_none()
                {
                    return Err(StepError::Terminal(format!(
                        "asset {} is missing from the code store",
                        path.as_str()
                    )));
                }
            }
            let bytes: u64 = assets.iter().map(|(_, e)| e.size).sum();
            let count = assets.len() as u32;
            Ok((
                json!({ "count": count, "bytes": bytes }),
                vec![Command::RecordAssets {
                    build_id,
                    count,
                    bytes,
                }],
            ))
        }
        Step::Deploy => {
            if st.deleted {
                return Err(deleted(job));
            }
            let m = current_manifest(ctx, job, &st).await?;
            write_bundle(ctx, &job.project_id, &m).await?;
            // A cancel (or the watchdog) may have ended the build while this step ran: the
            // pointer is not touched for a build that is over.
            ended(&state(ctx, job).await?, job)?;
            let pointer = json!({ "project": job.project_id, "version": m.version, "build_id": job.build_id });
            let bucket = ctx.env.bucket("STORE").map_err(retryable)?;
            move_live_pointer(&bucket, &st.slug, &pointer)
                .await
                .map_err(retryable)?;
            // A delete may have landed since `st` was read. Checking again after the write closes
            // the race: either the deletion came later, and its teardown (which removes the
            // pointer first) runs after this write, or it is seen here and the pointer undone.
            // The same holds for a cancel: it settles the pointer after recording the end, and
            // an end seen here puts the pointer back (docs/adr/0018).
            let now = state(ctx, job).await?;
            if now.deleted {
                crate::teardown::remove_pointer(&bucket, &job.project_id, &st.slug)
                    .await
                    .map_err(api_err)?;
                return Err(deleted(job));
            }
            if let Err(e) = ended(&now, job) {
                crate::cancel::settle_pointer(&bucket, &job.project_id, &now, &job.build_id)
                    .await
                    .map_err(api_err)?;
                return Err(e);
            }
            Ok((
                json!({ "version": m.version, "slug": st.slug }),
                vec![Command::RecordDeploy {
                    build_id,
                    version: m.version,
                }],
            ))
        }
        Step::Record => {
            let build = st
                .build(&job.build_id)
                .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
            let version = build
                .deployed_version
                .ok_or_else(|| StepError::Terminal("nothing was deployed".into()))?;
            Ok((
                json!({ "version": version }),
                vec![Command::SucceedBuild { build_id, version }],
            ))
        }
    }
}

/// The plan step of a replay: the replayed build's stored plan, byte for byte, becomes this
/// build's plan (validated again: the schema may have tightened since).
async fn reuse_plan(ctx: &Ctx, job: &BuildJob, build: &events::BuildState) -> StepResult {
    let original = build.replay_of.clone().unwrap_or_default();
    let bytes = get_object(ctx, &format!("plans/{}/{original}.json", job.project_id))
        .await?
        .ok_or_else(|| StepError::Terminal(format!("the plan of build {original} is missing")))?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| {
        StepError::Terminal(format!("the plan of build {original} is unreadable: {e}"))
    })?;
    let valid = validate_plan(&plan)?;
    let plan_hash = hex(&Sha256::digest(&bytes));
    let key = plan_key(job);
    ctx.env
        .bucket("STORE")
        .map_err(retryable)?
        .put(&key, bytes)
        .execute()
        .await
        .map_err(retryable)?;
    Ok((
        json!({ "ref": key, "plan_hash": plan_hash, "reused_from": original }),
        vec![Command::ProposePlan {
            build_id: job.build_id.clone(),
            plan_hash,
            summary: valid.plan().summary.clone(),
        }],
    ))
}

/// The codegen step of a replay: the replayed build's final code (after its repairs) is saved as
/// this build's version. Blobs are content-addressed, so the new manifest names the same hashes.
async fn reuse_code(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
    build: &events::BuildState,
) -> StepResult {
    let original = build.replay_of.clone().unwrap_or_default();
    let version = st
        .build(&original)
        .and_then(|b| b.version)
        .ok_or_else(|| StepError::Terminal(format!("build {original} has no code to reuse")))?;
    let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
    let m = store
        .get_manifest(&job.project_id, version)
        .await
        .map_err(store_err)?
        .ok_or_else(|| {
            StepError::Terminal(format!("version {version} is missing from the code store"))
        })?;
    let mut files = Vec::with_capacity(m.files.len());
    for (path, entry) in &m.files {
        let bytes = store
            .get_blob(&job.project_id, &entry.hash)
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                StepError::Terminal(format!("{} is missing from the code store", path.as_str()))
            })?;
        files.push((path.clone(), bytes));
    }
    let (mut value, commands) = save_checked(ctx, job, st, files, None).await?;
    value["reused_version"] = json!(version);
    Ok((value, commands))
}

/// A terminal error if the build has ended (cancelled, or failed by the watchdog) meanwhile.
fn ended(st: &ProjectState, job: &BuildJob) -> Result<(), StepError> {
    match st.build(&job.build_id) {
        Some(b) if !b.is_finished() => Ok(()),
        Some(b) => Err(StepError::Terminal(format!(
            "build {} ended ({}) while this step ran; nothing was deployed",
            job.build_id,
            format!("{:?}", b.status).to_lowercase()
        ))),
        None => Err(StepError::Terminal(format!(
            "build {} is not in the log",
            job.build_id
        ))),
    }
}

/// The terminal error of a step whose project was deleted while the build ran.
fn deleted(job: &BuildJob) -> StepError {
    StepError::Terminal(format!(
        "project {} was deleted while this build ran; nothing was deployed",
        job.project_id
    ))
}

/// Creates the app's JWT signing secret if it has none. The secret lives only in R2
/// (`secrets/<project>`), never in the event log, and is created once (create-only write).
pub async fn ensure_app_secret(ctx: &Ctx, project: &str) -> Result<(), ApiError> {
    let secret = webcrypto::random_hex::<32>()?;
    ctx.env
        .bucket("STORE")?
        .put(format!("secrets/{project}"), secret.into_bytes())
        .only_if(Conditional {
            etag_does_not_match: Some("*".into()),
            ..Default::default()
        })
        .execute()
        .await?;
    Ok(())
}

/// Points `<slug>.<APPS_DOMAIN>` at the version `pointer` names: the one write that makes a version
/// live, for deploys and rollbacks alike (`apps/<slug>.json`, read by the dispatch Worker on
/// every request).
pub async fn move_live_pointer(
    bucket: &worker::Bucket,
    slug: &str,
    pointer: &Value,
) -> worker::Result<()> {
    bucket
        .put(
            format!("apps/{slug}.json"),
            pointer.to_string().into_bytes(),
        )
        .execute()
        .await
        .map(|_| ())
}

/// A failed app database call: refusals are terminal, the rest retryable.
pub fn admin_err(e: AdminError) -> StepError {
    match e {
        AdminError::Refused(m) => StepError::Terminal(m),
        AdminError::Unavailable(m) => StepError::Retryable(m),
    }
}

/// Whether `path` is a worker module of the app (what runs in the app's isolate).
fn is_worker_module(path: &str) -> bool {
    !path.starts_with("public/")
        && !path.starts_with("migrations/")
        && (path.ends_with(".js") || path.ends_with(".mjs"))
}

/// Where the deploy bundle of `version` lives.
pub(crate) fn bundle_key(project: &str, version: u32) -> String {
    format!("deploys/{project}/{version:08}.json")
}

/// Writes the deploy bundle of the version: its worker modules as the app's isolate loads them
/// (`deploys/<project>/<version:08>.json`, read once per version by the dispatch Worker). Same
/// input, same bytes, so a retried deploy rewrites an identical object.
pub(crate) async fn write_bundle(ctx: &Ctx, project: &str, m: &Manifest) -> Result<(), StepError> {
    let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
    let mut modules = serde_json::Map::new();
    for (path, entry) in m.files.iter().filter(|(p, _)| is_worker_module(p.as_str())) {
        let code = store
            .get_blob(project, &entry.hash)
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                StepError::Terminal(format!("{} is missing from the code store", path.as_str()))
            })?;
        let code = String::from_utf8(code)
            .map_err(|_| StepError::Terminal(format!("{} is not UTF-8", path.as_str())))?;
        // The app's own modules get the budget checks; the reviewed runtime runs as shipped.
        let code = if is_runtime(path.as_str()) {
            code
        } else {
            sandbox::instrument(path.as_str(), &code)
                .map_err(|e| StepError::Terminal(e.to_string()))?
        };
        modules.insert(path.as_str().to_string(), Value::String(code));
    }
    let bundle = json!({
        "project": project,
        "version": m.version,
        "modules": modules,
        "guard": sandbox::GUARD_MODULE,
    });
    ctx.env
        .bucket("STORE")
        .map_err(retryable)?
        .put(
            bundle_key(project, m.version),
            bundle.to_string().into_bytes(),
        )
        .execute()
        .await
        .map_err(retryable)?;
    Ok(())
}

/// The output of a step that already succeeded, derived from the log (after an eviction the
/// engine may run a finished step again).
pub fn output_from_log(
    step: Step,
    st: &ProjectState,
    job: &BuildJob,
    repairs: u32,
) -> Result<Value, StepError> {
    let build = st
        .build(&job.build_id)
        .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
    Ok(match step {
        Step::Codegen => json!({ "version": build.version }),
        Step::Deploy | Step::Record => json!({ "version": build.deployed_version }),
        Step::Validate | Step::Repair(_) => {
            let diagnostics = match &build.validation {
                Some(Validation::Failed { diagnostics }) => diagnostics.clone(),
                _ => Vec::new(),
            };
            json!({ "passed": matches!(build.validation, Some(Validation::Passed)), "diagnostics": diagnostics, "repairs": repairs })
        }
        _ => json!({ "recovered": true }),
    })
}
