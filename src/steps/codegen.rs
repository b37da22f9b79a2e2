//! `codegen`: the plan becomes the app's files, saved as a new version (`CodeGenerated`). The
//! offline generator or the model writes them; migrations the database already went through are
//! carried unchanged, and a changed plan adds one upgrade migration. A replay reuses the replayed
//! build's final code.

use std::collections::BTreeMap;

use codestore::CodeStore;
use events::ProjectState;
use generation::prompts;
use generation::{plan_diff, session};
use plan::{Plan, ValidPlan};
use validation::compat;
use workflows::pipeline::{Step, StepError};

use super::shared::{
    api_err, build_of, code_store, connect, current_plan, gen_error, is_runtime, live_files,
    record_calls, save_checked, save_files, session, store_err, stored_plan, StepResult,
};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{CodeMode, CodeOutput, ModelAnswer, StepOutput};

/// Runs the codegen step.
pub async fn run(ctx: &Ctx, job: &BuildJob, st: &ProjectState) -> StepResult {
    let build = build_of(st, job)?;
    if build.reuses(Step::Codegen.name()) {
        return reuse(ctx, job, st, build).await;
    }
    let valid = stored_plan(ctx, job).await?;
    // The live app (plan and files), read once: edit mode and migrations both need it.
    let live_plan = current_plan(ctx, job, st).await?;
    let live = live_files(ctx, job, st).await?;
    let mut model_answer: Option<ModelAnswer> = None;
    let (files, prompt_hash, parser_notes) = match connect(ctx)? {
        None => {
            let files: Vec<(String, String)> = scaffold::generate(&valid)
                .into_iter()
                .chain(
                    scaffold::runtime_files()
                        .into_iter()
                        .map(|(p, c)| (p.to_string(), c.to_string())),
                )
                .collect();
            (files, None, 0)
        }
        Some(provider) => {
            // A live app's code is changed, never started over: a request that keeps the plan's
            // structure is sent alone (edit mode); one that changes it is sent with the plan
            // changes (revise mode). Either way the model answers with edits of the live files,
            // so earlier changes survive. Only an app without a live version is written from
            // the plan.
            let editing = live.as_ref().zip(live_plan.as_ref());
            let mode = match editing {
                None => CodeMode::Generate,
                Some((_, old)) if plan_diff::same_structure(old, valid.plan()) => CodeMode::Edit,
                Some(_) => CodeMode::Revise,
            };
            let mut session = session(ctx, &provider);
            let (result, template) = match editing {
                Some((files, old)) => {
                    let result = if mode == CodeMode::Edit {
                        session.edit(&build.prompt, files).await
                    } else {
                        session.revise(&build.prompt, files, old, &valid).await
                    };
                    (result, prompts::EDIT)
                }
                None => (session.code(&valid).await, prompts::CODEGEN),
            };
            record_calls(ctx, job, Step::Codegen, &provider, &session.calls).await?;
            let generated = result.map_err(gen_error)?;
            model_answer = Some(ModelAnswer {
                mode,
                no_change: generated.no_change,
                plan_changes: editing
                    .map(|(_, old)| plan_diff::changes(old, valid.plan()))
                    .unwrap_or_default(),
            });
            let mut app_files: BTreeMap<String, String> = editing
                .map(|(files, _)| files)
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
    let applied = applied_migration_files(ctx, job, st, live.as_ref()).await?;
    let files = carry_migrations(&valid, files, live_plan.as_ref(), &applied);
    let (mut output, commands) = save_files(ctx, job, st, files, prompt_hash).await?;
    output.parser_notes = parser_notes;
    output.model = model_answer;
    Ok((StepOutput::Codegen(output), commands))
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
        live_plan.and_then(|old| scaffold::upgrade_migration_over(old, plan, &existing))
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

/// The codegen step of a replay: the replayed build's final code (after its repairs) is saved as
/// this build's version. Blobs are content-addressed, so the new manifest names the same hashes.
async fn reuse(
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
    let store = code_store(ctx)?;
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
    let (output, commands) = save_checked(ctx, job, st, files, None).await?;
    Ok((
        StepOutput::Codegen(CodeOutput {
            reused_version: Some(version),
            ..output
        }),
        commands,
    ))
}
