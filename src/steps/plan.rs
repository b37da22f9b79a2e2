//! `plan`: the prompt becomes a validated plan, stored at `plans/<project>/<build>.json`
//! (`PlanProposed`). A replay reuses the replayed build's plan byte for byte.

use events::Command;
use plan::Plan;
use sha2::{Digest, Sha256};
use workflows::pipeline::{Step, StepError};

use super::shared::{
    api_err, build_of, connect, current_plan, gen_error, get_object, hex, plan_key, record_calls,
    retryable, session, validate_plan, StepResult,
};
use crate::adapters::build_store;
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{PlanOutput, StepOutput};

/// Runs the plan step.
pub async fn run(ctx: &Ctx, job: &BuildJob, st: &events::ProjectState) -> StepResult {
    let build = build_of(st, job)?;
    if build.reuses(Step::Plan.name()) {
        return reuse(ctx, job, build).await;
    }
    let hooks = build_store::test_hooks(&ctx.env);
    let valid = match (job.plan.as_deref().filter(|_| hooks), connect(ctx)?) {
        (Some(raw), _) => {
            let plan = serde_json::from_str::<Plan>(raw).map_err(|e| {
                StepError::Terminal(format!("the plan does not match the plan schema: {e}"))
            })?;
            validate_plan(&plan)?
        }
        (None, None) => validate_plan(
            &planner::plan_from_prompt(&build.prompt)
                .map_err(|e| StepError::Terminal(e.to_string()))?,
        )?,
        (None, Some(provider)) => {
            let current = current_plan(ctx, job, st).await?;
            let mut session = session(ctx, &provider);
            let result = session.plan(&build.prompt, current.as_ref()).await;
            record_calls(ctx, job, Step::Plan, &provider, &session.calls).await?;
            result.map_err(gen_error)?
        }
    };
    let text = serde_json::to_string(valid.plan()).map_err(retryable)?;
    let plan_hash = hex(&Sha256::digest(text.as_bytes()));
    let key = plan_key(job);
    build_store::put(&ctx.env, &key, text.into_bytes())
        .await
        .map_err(api_err)?;
    Ok((
        StepOutput::Plan(PlanOutput {
            plan_ref: key,
            plan_hash: plan_hash.clone(),
            reused_from: None,
        }),
        vec![Command::ProposePlan {
            build_id: job.build_id.clone(),
            plan_hash,
            summary: valid.plan().summary.clone(),
        }],
    ))
}

/// The plan step of a replay: the replayed build's stored plan, byte for byte, becomes this
/// build's plan (validated again: the schema may have tightened since).
async fn reuse(ctx: &Ctx, job: &BuildJob, build: &events::BuildState) -> StepResult {
    let original = build.replay_of.clone().unwrap_or_default();
    let bytes = get_object(ctx, &super::shared::plan_key_of(&job.project_id, &original))
        .await?
        .ok_or_else(|| StepError::Terminal(format!("the plan of build {original} is missing")))?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| {
        StepError::Terminal(format!("the plan of build {original} is unreadable: {e}"))
    })?;
    let valid = validate_plan(&plan)?;
    let plan_hash = hex(&Sha256::digest(&bytes));
    let key = plan_key(job);
    build_store::put(&ctx.env, &key, bytes)
        .await
        .map_err(api_err)?;
    Ok((
        StepOutput::Plan(PlanOutput {
            plan_ref: key,
            plan_hash: plan_hash.clone(),
            reused_from: Some(original),
        }),
        vec![Command::ProposePlan {
            build_id: job.build_id.clone(),
            plan_hash,
            summary: valid.plan().summary.clone(),
        }],
    ))
}
