//! `migrate`: the version's migrations the database has not applied yet run through the deploy
//! target (`MigrationsApplied` for the names this project had not recorded).

use codestore::CodeStore;
use events::{Command, ProjectState};
use workflows::pipeline::StepError;

use super::shared::{code_store, current_manifest, retryable, StepResult};
use crate::deploy::{DeployTarget, Migration, Target};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{MigrateOutput, StepOutput};

/// Runs the migrate step.
pub async fn run(ctx: &Ctx, job: &BuildJob, st: &ProjectState) -> StepResult {
    let m = current_manifest(ctx, job, st).await?;
    let database_id = st.database_id.clone().ok_or_else(|| {
        StepError::Terminal("the project has no database (create-db did not run)".into())
    })?;
    let store = code_store(ctx)?;
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
            .ok_or_else(|| {
                StepError::Terminal(format!("{} is missing from the code store", path.as_str()))
            })?;
        migrations.push(Migration {
            name: path.as_str().trim_start_matches("migrations/").to_string(),
            sql: String::from_utf8_lossy(&sql).into_owned(),
        });
    }
    let applied = Target::of(ctx)?
        .migrate(&job.project_id, &database_id, &migrations)
        .await?;
    let fresh: Vec<String> = applied
        .into_iter()
        .filter(|n| !st.migrations.contains(n))
        .collect();
    let commands = if fresh.is_empty() {
        Vec::new()
    } else {
        vec![Command::RecordMigrations {
            build_id: job.build_id.clone(),
            names: fresh.clone(),
        }]
    };
    Ok((
        StepOutput::Migrate(MigrateOutput { applied: fresh }),
        commands,
    ))
}
