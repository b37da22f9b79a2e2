//! `repair-N`: the model fixes the files the last validation named; the repaired version is saved
//! and validated in the same step, so its verdict is this step's output (`RepairAttempted`,
//! `CodeGenerated`, then `ValidationPassed` or `ValidationFailed`, in one batch).

use std::collections::BTreeMap;

use codestore::CodeStore;
use events::{Command, ProjectState, Validation};
use generation::prompts;
use generation::session;
use workflows::pipeline::{Step, StepError};

use super::shared::{
    build_of, check, code_store, connect, current_manifest, gen_error, is_runtime, load_files,
    names_path, record_calls, save_files, session, store_err, stored_plan, verdict_command,
    StepResult,
};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{RepairOutput, StepOutput};

/// Runs repair round `n`.
pub async fn run(ctx: &Ctx, job: &BuildJob, st: &ProjectState, n: u8) -> StepResult {
    let step = Step::Repair(n);
    let provider = connect(ctx)?.ok_or_else(|| {
        StepError::Terminal("repairs need a model provider; the offline generator has none".into())
    })?;
    let build = build_of(st, job)?;
    let diagnostics = match &build.validation {
        Some(Validation::Failed { diagnostics }) => diagnostics.clone(),
        _ => {
            return Err(StepError::Terminal(
                "there is no failed validation to repair".into(),
            ))
        }
    };
    let mut commands = Vec::new();
    if build.repair_attempts < u32::from(n) {
        commands.push(Command::AttemptRepair {
            build_id: job.build_id.clone(),
            attempt: u32::from(n),
        });
    }
    let valid = stored_plan(ctx, job).await?;
    let current = load_files(ctx, &current_manifest(ctx, job, st).await?).await?;
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
    let (code, saved) = save_files(ctx, job, st, files, Some(prompts::REPAIR.hash())).await?;
    commands.extend(saved);
    // Validate the repaired version in the same step, so its outcome is this step's output.
    let manifest = code_store(ctx)?
        .get_manifest(&job.project_id, code.version)
        .await
        .map_err(store_err)?
        .ok_or_else(|| {
            StepError::Retryable(format!("version {} is not readable yet", code.version))
        })?;
    let verdict = check(ctx, job, &manifest).await?;
    commands.push(verdict_command(&verdict, job.build_id.clone()));
    Ok((StepOutput::Repair(RepairOutput { code, verdict }), commands))
}
