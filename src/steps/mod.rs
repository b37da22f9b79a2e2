//! The build steps, one file each, run inside durable Workflow steps by [`crate::pipeline`].
//!
//! Each step returns its typed output ([`StepOutput`]: references, never whole files,
//! never credentials) and the commands recording its domain outcome (`PlanProposed`,
//! `CodeGenerated`, …), which the driver appends together with `StepSucceeded` as one batch.
//! Every step is safe to run again: storage writes are content-addressed or create-only, the
//! deploy target finds what an earlier attempt made by name, and the live pointer write is
//! idempotent. Steps reach bindings only through `crate::adapters` and the deploy target
//! ([`crate::deploy`]).

pub mod codegen;
pub mod create_db;
pub mod deploy;
pub mod migrate;
pub mod plan;
pub mod record;
pub mod repair;
mod shared;
pub mod upload_assets;
pub mod validate;

use events::ProjectState;
use workflows::pipeline::Step;

pub use shared::{
    admin_err, ensure_app_secret, move_live_pointer, move_live_pointer_if, plan_key_of, StepResult,
};
pub use workflows::output::StepOutput;

use crate::http::Ctx;
use crate::pipeline::BuildJob;

/// Runs one step's body against the project's state as the driver folded it right after the
/// step's `StartStep` (so the body does not read the log again).
pub async fn run(step: Step, job: &BuildJob, ctx: &Ctx, st: ProjectState) -> StepResult {
    match step {
        Step::Plan => plan::run(ctx, job, &st).await,
        Step::Codegen => codegen::run(ctx, job, &st).await,
        Step::Validate => validate::run(ctx, job, &st).await,
        Step::Repair(n) => repair::run(ctx, job, &st, n).await,
        Step::CreateDb => create_db::run(ctx, job, &st).await,
        Step::Migrate => migrate::run(ctx, job, &st).await,
        Step::UploadAssets => upload_assets::run(ctx, job, &st).await,
        Step::Deploy => deploy::run(ctx, job, &st).await,
        Step::Record => record::run(ctx, job, &st).await,
    }
}
