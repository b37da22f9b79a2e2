//! What several steps share: error conversions, the build's state and stored plan, the code
//! store, the model session, validation, and the one write that makes a version live.

use std::collections::BTreeMap;

use codestore::{save_version, CodeStore, FilePath, Manifest};
use events::envelope::Metadata;
use events::{Command, ProjectState};
use generation::model::{ChatModel, DEFAULT_CALL_RETRY};
use generation::session::{self, CallRecord, GenError, Session};
use plan::{Plan, ValidPlan};
use validation::{validate_app, Limits};
use workflows::pipeline::{Step, StepError};

use crate::adapters::app_admin::AdminError;
use crate::adapters::build_store;
use crate::adapters::code_store::R2CodeStore;
use crate::adapters::model::Provider;
use crate::adapters::webcrypto;
use crate::error::ApiError;
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use crate::service::{self, ExecError};
use workflows::output::{CodeOutput, Verdict};

/// A step body's result: its typed output and the commands recording its domain outcome (appended
/// by the driver with `StepSucceeded`, as one batch).
pub type StepResult = Result<(workflows::output::StepOutput, Vec<Command>), StepError>;

pub(crate) fn retryable(e: impl std::fmt::Display) -> StepError {
    StepError::Retryable(e.to_string())
}

/// A code-store error: retryable when storage may recover, terminal otherwise.
pub(crate) fn store_err(e: codestore::CodeStoreError) -> StepError {
    if e.retryable() {
        retryable(e)
    } else {
        StepError::Terminal(e.to_string())
    }
}

/// A platform error: a failing dependency is retryable, anything else terminal.
pub(crate) fn api_err(e: ApiError) -> StepError {
    match e {
        ApiError::Internal(m) | ApiError::Unavailable(m) => StepError::Retryable(m),
        other => StepError::Terminal(other.message()),
    }
}

/// A command that was not recorded: the log's refusal is terminal, the rest retryable.
pub(crate) fn exec_err(e: ExecError) -> StepError {
    match e {
        ExecError::Rejected(r) => StepError::Terminal(r.to_string()),
        ExecError::Contended => StepError::Retryable(e.to_string()),
        ExecError::Unavailable(e) => api_err(e),
    }
}

/// A failed app database call: refusals are terminal, the rest retryable.
pub fn admin_err(e: AdminError) -> StepError {
    match e {
        AdminError::Refused(m) => StepError::Terminal(m),
        AdminError::Unavailable(m) => StepError::Retryable(m),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The project's state, from its log.
pub(crate) async fn state(ctx: &Ctx, job: &BuildJob) -> Result<ProjectState, StepError> {
    let log = service::event_log(ctx).map_err(api_err)?;
    service::load(&log, &job.project_id, true)
        .await
        .map_err(api_err)
}

/// The build in the log.
pub(crate) fn build_of<'s>(
    st: &'s ProjectState,
    job: &BuildJob,
) -> Result<&'s events::BuildState, StepError> {
    st.build(&job.build_id)
        .ok_or_else(|| StepError::Terminal("build is not in the log".into()))
}

pub(crate) fn plan_key(job: &BuildJob) -> String {
    plan_key_of(&job.project_id, &job.build_id)
}

pub use workflows::output::plan_key as plan_key_of;

pub(crate) async fn get_object(ctx: &Ctx, key: &str) -> Result<Option<Vec<u8>>, StepError> {
    build_store::get(&ctx.env, key).await.map_err(api_err)
}

pub(crate) fn code_store(ctx: &Ctx) -> Result<R2CodeStore, StepError> {
    build_store::code_store(&ctx.env).map_err(api_err)
}

/// The manifest of the build's current version.
pub(crate) async fn current_manifest(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
) -> Result<Manifest, StepError> {
    let version = build_of(st, job)?
        .version
        .ok_or_else(|| StepError::Terminal("no code was generated for this build".into()))?;
    code_store(ctx)?
        .get_manifest(&job.project_id, version)
        .await
        .map_err(store_err)?
        .ok_or_else(|| {
            StepError::Terminal(format!("version {version} is missing from the code store"))
        })
}

/// The configured model provider; `None` = the offline generator.
pub(crate) fn connect(ctx: &Ctx) -> Result<Option<Provider>, StepError> {
    Provider::connect(&ctx.env, &ctx.config.model).map_err(api_err)
}

/// How a generation session waits between retries: the runtime's timer.
pub(crate) type Sleep = fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

pub(crate) fn session<'m>(ctx: &Ctx, provider: &'m Provider) -> Session<'m, Provider, Sleep> {
    let sleep: Sleep = |ms| Box::pin(webcrypto::sleep_ms(ms));
    Session::new(
        provider,
        ctx.config.model.max_tokens,
        ctx.config.model.json_schema,
        DEFAULT_CALL_RETRY,
        sleep,
    )
}

pub(crate) fn gen_error(e: GenError) -> StepError {
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

/// Appends one `ModelCalled` event per call, as one batch (also for calls of a step that then
/// fails: their tokens were spent).
pub(crate) async fn record_calls(
    ctx: &Ctx,
    job: &BuildJob,
    step: Step,
    provider: &Provider,
    calls: &[CallRecord],
) -> Result<(), StepError> {
    if calls.is_empty() {
        return Ok(());
    }
    let pricing = ctx.config.model.pricing;
    let commands = calls
        .iter()
        .map(|c| Command::RecordModelCall {
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
        })
        .collect();
    let meta = Metadata::new(webcrypto::now_ms(), "kiln:pipeline").correlated(&job.build_id);
    service::execute_all(ctx, &job.project_id, meta, commands)
        .await
        .map(|_| ())
        .map_err(exec_err)
}

pub(crate) fn validate_plan(plan: &Plan) -> Result<ValidPlan, StepError> {
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
pub(crate) async fn stored_plan(ctx: &Ctx, job: &BuildJob) -> Result<ValidPlan, StepError> {
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
pub(crate) async fn current_plan(
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
    Ok(
        get_object(ctx, &plan_key_of(&job.project_id, &build.build_id))
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()),
    )
}

/// Saves `files` as the build's version and decides `CodeGenerated` (once).
pub(crate) async fn save_files(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
    files: Vec<(String, String)>,
    prompt_hash: Option<String>,
) -> Result<(CodeOutput, Vec<Command>), StepError> {
    let mut checked = Vec::new();
    for (path, content) in files {
        let path = FilePath::parse(&path)
            .map_err(|e| StepError::Terminal(format!("generated path is unsafe: {e}")))?;
        checked.push((path, content.into_bytes()));
    }
    save_checked(ctx, job, st, checked, prompt_hash).await
}

/// Saves files with checked paths as the build's version and decides `CodeGenerated` (once).
pub(crate) async fn save_checked(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
    checked: Vec<(FilePath, Vec<u8>)>,
    prompt_hash: Option<String>,
) -> Result<(CodeOutput, Vec<Command>), StepError> {
    let store = code_store(ctx)?;
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
    let output = CodeOutput {
        code_ref: format!("versions/{}/{}", job.project_id, m.version),
        version: m.version,
        new_blobs: saved.new_blobs,
        parser_notes: 0,
        reused_version: None,
        model: None,
    };
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
    Ok((output, commands))
}

/// Every file of a version, as text.
pub(crate) async fn load_files(
    ctx: &Ctx,
    m: &Manifest,
) -> Result<BTreeMap<String, String>, StepError> {
    let store = code_store(ctx)?;
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

/// The live version's files, if the project has one.
pub(crate) async fn live_files(
    ctx: &Ctx,
    job: &BuildJob,
    st: &ProjectState,
) -> Result<Option<BTreeMap<String, String>>, StepError> {
    let Some(live) = st.live_version else {
        return Ok(None);
    };
    match code_store(ctx)?
        .get_manifest(&job.project_id, live)
        .await
        .map_err(store_err)?
    {
        Some(m) => Ok(Some(load_files(ctx, &m).await?)),
        None => Ok(None),
    }
}

pub(crate) fn is_runtime(path: &str) -> bool {
    crate::adapters::deploy_local::is_runtime(path)
}

/// Whether a diagnostic line (`path:line: message` or `path: message`) is about `path`.
pub(crate) fn names_path(diagnostic: &str, path: &str) -> bool {
    diagnostic
        .strip_prefix(path)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// The command that records a verdict.
pub(crate) fn verdict_command(verdict: &Verdict, build_id: String) -> Command {
    if verdict.passed {
        Command::PassValidation { build_id }
    } else {
        Command::FailValidation {
            build_id,
            diagnostics: verdict.diagnostics.clone(),
        }
    }
}

/// Static validation of a version: the files the contract needs, then `validation`.
pub(crate) async fn check(ctx: &Ctx, job: &BuildJob, m: &Manifest) -> Result<Verdict, StepError> {
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
    Ok(Verdict {
        passed: diagnostics.is_empty(),
        diagnostics,
        repairs: 0,
    })
}

/// A terminal error if the build has ended (cancelled, or failed by the watchdog) meanwhile.
pub(crate) fn ended(st: &ProjectState, job: &BuildJob) -> Result<(), StepError> {
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
pub(crate) fn deleted(job: &BuildJob) -> StepError {
    StepError::Terminal(format!(
        "project {} was deleted while this build ran; nothing was deployed",
        job.project_id
    ))
}

/// Creates the app's JWT signing secret if it has none. The secret lives only in R2
/// (`secrets/<project>`), never in the event log, and is created once (create-only write).
pub async fn ensure_app_secret(ctx: &Ctx, project: &str) -> Result<(), ApiError> {
    let secret = webcrypto::random_hex::<32>()?;
    build_store::put_if_absent(&ctx.env, &format!("secrets/{project}"), secret.into_bytes())
        .await
        .map(|_| ())
}

/// Points `<slug>.<APPS_DOMAIN>` at the version `pointer` names: the one write that makes a version
/// live, for deploys, rollbacks and a cancelled deploy put back alike (`apps/<slug>.json`, read by
/// the dispatch Worker on every request).
pub async fn move_live_pointer(
    ctx: &Ctx,
    slug: &str,
    pointer: &crate::deploy::LivePointer,
) -> Result<(), ApiError> {
    move_live_pointer_if(ctx, slug, pointer, None)
        .await
        .map(|_| ())
}

/// [`move_live_pointer`], with a precondition: with `Some(etag)` the pointer is written only if it
/// is still the version read (so a deploy or rollback that moved it meanwhile is never undone).
/// Returns whether it was written.
pub async fn move_live_pointer_if(
    ctx: &Ctx,
    slug: &str,
    pointer: &crate::deploy::LivePointer,
    etag: Option<&str>,
) -> Result<bool, ApiError> {
    let key = format!("apps/{slug}.json");
    let bytes = pointer.to_value().to_string().into_bytes();
    match etag {
        None => build_store::put(&ctx.env, &key, bytes).await.map(|_| true),
        Some(etag) => build_store::put_if_match(&ctx.env, &key, bytes, etag).await,
    }
}
