//! The stall watchdog: a cron trigger (`[triggers] crons` in wrangler.toml) fails every build and
//! every rollback that has made no progress for `BUILD_STALL_MINUTES` (default 15), so neither can
//! hold its project for ever, whatever happened to its workflow (it vanished, its final
//! `BuildFailed` could not be recorded, the engine lost it). A pending rollback blocks new builds,
//! so a stuck one would otherwise freeze the project.
//!
//! Progress is any change the projections saw: the build's request, start or end, or a step
//! attempt starting or finishing (`builds.updated_at`, `build_steps.started_at` and
//! `finished_at`, all event times). A stalled build is recorded as `BuildFailed` at step
//! `watchdog` with the minutes and the step it was in, then its workflow is terminated and the
//! live pointer settled, exactly as a cancel does ([`crate::cancel`]). A rollback records nothing
//! between its request and its outcome, so one still pending that long after its request is
//! recorded as `RollbackFailed` (the live version stays), its workflow is terminated, and a live
//! pointer its `switch` step had already written is put back. The rules decide against the log, so
//! a build or rollback that ended meanwhile is left alone.

use events::envelope::Metadata;
use events::{Command, Rejection};
use serde::Serialize;
use worker::Env;

use crate::adapters::store::{StalledBuild, StalledRollback, Store};
use crate::adapters::webcrypto::now_ms;
use crate::adapters::workflow_instances::Workflow;
use crate::error::ApiError;
use crate::http::Ctx;
use crate::service::{self, ExecError};

/// The default stall threshold, in minutes.
pub const DEFAULT_STALL_MINUTES: f64 = 15.0;

/// The step a stalled build is failed at.
pub const WATCHDOG_STEP: &str = "watchdog";

/// The largest threshold accepted: one week.
const MAX_STALL_MINUTES: f64 = 7.0 * 24.0 * 60.0;

/// Parses `BUILD_STALL_MINUTES` (unset or blank: the default) into milliseconds. Fractions are
/// allowed (`0.5` = 30 s) and `0` means every unfinished build counts as stalled (tests only).
pub fn stall_ms(raw: Option<&str>) -> Result<i64, String> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty());
    let minutes = match raw {
        None => DEFAULT_STALL_MINUTES,
        Some(r) => r
            .parse::<f64>()
            .ok()
            .filter(|m| m.is_finite() && (0.0..=MAX_STALL_MINUTES).contains(m))
            .ok_or_else(|| {
                format!(
                    "BUILD_STALL_MINUTES must be a number of minutes from 0 to {MAX_STALL_MINUTES}, not '{}'",
                    crate::domain::email::clip(r)
                )
            })?,
    };
    Ok((minutes * 60_000.0).round() as i64)
}

/// How a stall is described to people: "15 minutes", "1 minute", "30 seconds".
pub fn describe(ms: i64) -> String {
    if ms % 60_000 == 0 {
        match ms / 60_000 {
            1 => "1 minute".into(),
            n => format!("{n} minutes"),
        }
    } else {
        format!("{} seconds", ms / 1000)
    }
}

/// What one pass did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Unfinished builds with no progress within the threshold.
    pub stalled: usize,
    /// Builds this pass recorded as failed.
    pub failed: Vec<String>,
    /// Rollbacks this pass recorded as failed.
    pub failed_rollbacks: Vec<String>,
}

/// One watchdog pass: fails every stalled build and rollback. Errors on one are logged and the
/// pass goes on with the next.
pub async fn run(env: &Env) -> Result<Report, ApiError> {
    let ctx = Ctx::new(env.clone())?;
    let threshold = stall_ms(
        env.var("BUILD_STALL_MINUTES")
            .ok()
            .map(|v| v.to_string())
            .as_deref(),
    )
    .map_err(ApiError::internal)?;
    let now = now_ms();
    let cutoff = now - threshold;
    let candidates = Store::of(&ctx.env)?.stalled_builds(cutoff).await?;
    let rollbacks = Store::of(&ctx.env)?.stalled_rollbacks(cutoff).await?;
    let mut report = Report {
        stalled: candidates.len() + rollbacks.len(),
        ..Report::default()
    };
    for c in candidates {
        match fail_stalled(&ctx, &c, now, threshold).await {
            Ok(true) => report.failed.push(c.id),
            Ok(false) => {}
            Err(e) => worker::console_error!("watchdog: build {}: {e}", c.id),
        }
    }
    for r in rollbacks {
        match fail_stalled_rollback(&ctx, &r, now, threshold).await {
            Ok(true) => report.failed_rollbacks.push(r.id),
            Ok(false) => {}
            Err(e) => worker::console_error!("watchdog: rollback {}: {e}", r.id),
        }
    }
    Ok(report)
}

/// Records the stall of one rollback (unless it ended meanwhile), terminates its workflow and puts
/// back a live pointer it had written.
async fn fail_stalled_rollback(
    ctx: &Ctx,
    r: &StalledRollback,
    now: i64,
    threshold: i64,
) -> Result<bool, ApiError> {
    let idle = (now - r.last as i64).max(threshold);
    let live = service::load(&service::event_log(ctx)?, &r.project_id, true)
        .await?
        .live
        .map(|l| l.version);
    let stays = live.map_or_else(
        || "nothing was live and nothing is".to_string(),
        |v| format!("version {v} stays live"),
    );
    let reason = format!(
        "no progress for {} (BUILD_STALL_MINUTES is {}); the rollback to version {} was stopped and {stays}; ask for it again",
        describe(idle - idle % 1000),
        describe(threshold),
        r.to_version,
    );
    let meta = Metadata::new(now_ms(), "kiln:watchdog").correlated(&r.id);
    let fail = Command::FailRollback {
        rollback_id: r.id.clone(),
        reason,
    };
    match service::execute_all(ctx, &r.project_id, meta, vec![fail]).await {
        Ok(_) => {}
        // It finished (or failed) between the read and the append.
        Err(ExecError::Rejected(Rejection::RollbackNotPending { .. })) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    worker::console_warn!("watchdog: rollback {} failed after no progress", r.id);
    if let Some(instance) = Workflow::rollbacks(&ctx.env)?.get(&r.id).await {
        if let Err(e) = instance.terminate().await {
            worker::console_error!("watchdog: rollback {}: {e}", r.id);
        }
    }
    let st = service::load(&service::event_log(ctx)?, &r.project_id, true).await?;
    if crate::cancel::settle_rollback_pointer(ctx, &r.project_id, &st, &r.id).await? {
        worker::console_log!("rollback {}: live pointer put back", r.id);
    }
    Ok(true)
}

/// Records the stall of one build (unless it ended meanwhile), then ends it outside its workflow.
async fn fail_stalled(
    ctx: &Ctx,
    c: &StalledBuild,
    now: i64,
    threshold: i64,
) -> Result<bool, ApiError> {
    let state = service::load(&service::event_log(ctx)?, &c.project_id, true).await?;
    let Some(build) = state.build(&c.id) else {
        return Ok(false);
    };
    if build.is_finished() {
        return Ok(false);
    }
    let idle = (now - c.last as i64).max(threshold);
    let at = build.current_step.as_deref().map_or_else(
        || "before its first step".to_string(),
        |s| format!("in step {s}"),
    );
    let reason = format!(
        "no progress for {} {at} (BUILD_STALL_MINUTES is {}); the build was stopped and nothing was deployed; request it again",
        describe(idle - idle % 1000),
        describe(threshold)
    );
    let meta = Metadata::new(now_ms(), "kiln:watchdog").correlated(&c.id);
    let fail = Command::FailBuild {
        build_id: c.id.clone(),
        step: WATCHDOG_STEP.into(),
        reason,
    };
    match service::execute_all(ctx, &c.project_id, meta, vec![fail]).await {
        Ok(_) => {}
        // It ended between the read and the append (the rules refuse to fail a finished build).
        Err(ExecError::Rejected(Rejection::BuildFinished { .. })) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    worker::console_warn!("watchdog: build {} failed after no progress", c.id);
    crate::cancel::end_outside(ctx, &c.project_id, &c.id).await;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_defaults_to_fifteen_minutes_and_takes_fractions() {
        assert_eq!(stall_ms(None), Ok(15 * 60_000));
        assert_eq!(stall_ms(Some("  ")), Ok(15 * 60_000));
        assert_eq!(stall_ms(Some("5")), Ok(5 * 60_000));
        assert_eq!(stall_ms(Some("0.5")), Ok(30_000));
        assert_eq!(stall_ms(Some("0")), Ok(0));
    }

    #[test]
    fn a_bad_threshold_names_the_setting_and_the_value() {
        for bad in ["-1", "soon", "NaN", "inf", "20000"] {
            let e = stall_ms(Some(bad)).unwrap_err();
            assert!(e.contains("BUILD_STALL_MINUTES") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn stalls_are_described_in_minutes_or_seconds() {
        assert_eq!(describe(15 * 60_000), "15 minutes");
        assert_eq!(describe(60_000), "1 minute");
        assert_eq!(describe(30_000), "30 seconds");
    }
}
