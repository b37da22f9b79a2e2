//! `POST /api/projects/:id/rollback {version}` or `{build_id}` → 202: make an earlier live
//! version live again (the `RollbackWorkflow`, [`crate::rollback`]).
//!
//! Everything that can be known up front is answered here, before anything is recorded: an
//! unknown version or build is a 404, the live version itself is a 200 that changes nothing, a
//! version whose code cannot run against the current database is a 409 with the reason (the rule
//! of `validation::compat`), a build in progress or another rollback is a 409. The
//! workflow checks again, because the project may change between this answer and its first step.

use events::envelope::Metadata;
use events::{Command, Live, LiveReason, ProjectState};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::adapters::webcrypto;
use crate::api::events::owned;
use crate::domain::email::clip;
use crate::error::ApiError;
use crate::http::{json, read_json, Ctx};
use crate::rollback::{self, RollbackJob};
use crate::service;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    build_id: Option<String>,
}

/// The API view of the live version: which, since when, and why.
pub fn live_json(live: Option<&Live>) -> Value {
    match live {
        None => Value::Null,
        Some(l) => json!({
            "version": l.version,
            "build_id": l.build_id,
            "since": l.since_ms,
            "reason": match l.reason {
                LiveReason::Build => "build",
                LiveReason::Rollback => "rollback",
            },
            "rollback_id": l.rollback_id,
        }),
    }
}

/// The pending rollback, if any.
pub fn pending_json(st: &ProjectState) -> Value {
    match &st.rollback {
        None => Value::Null,
        Some(p) => json!({ "rollback_id": p.rollback_id, "to_version": p.to_version }),
    }
}

/// The version `body` names, checked against the project's history.
fn target(st: &ProjectState, body: RollbackBody) -> Result<u32, ApiError> {
    match (body.version, body.build_id) {
        (Some(_), Some(_)) => Err(ApiError::BadRequest(
            "give either version or build_id, not both".into(),
        )),
        (None, None) => Err(ApiError::invalid_field(
            "version",
            "version is required: send {\"version\": N} or {\"build_id\": \"…\"}",
        )),
        (Some(version), None) => {
            if st.versions.contains(&version) {
                Ok(version)
            } else {
                Err(ApiError::NotFound(format!(
                    "version {version} not found: no build of this project made it live"
                )))
            }
        }
        (None, Some(build_id)) => {
            let build = st.build(&build_id).ok_or_else(|| {
                ApiError::NotFound(format!("build '{}' not found", clip(&build_id)))
            })?;
            match build.deployed_version {
                Some(v) if build.status == events::BuildStatus::Succeeded => Ok(v),
                _ => Err(ApiError::Conflict(format!(
                    "build {} did not go live, so it has no version to roll back to",
                    clip(&build_id)
                ))),
            }
        }
    }
}

/// `POST /api/projects/:id/rollback`.
pub async fn create(req: &mut Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let user = owned(req, ctx, id).await?;
    let body: RollbackBody = read_json(req, ctx.config.max_body_bytes).await?;
    let st = service::load(&service::event_log(ctx)?, id, true).await?;
    let version = target(&st, body)?;
    if st.live_version == Some(version) {
        return json(
            200,
            &json!({
                "status": "unchanged",
                "message": format!("version {version} is already live; nothing to do"),
                "live": live_json(st.live.as_ref()),
            }),
        );
    }
    if let Some(reason) = rollback::verdict(ctx, id, &st, version).await? {
        return Err(ApiError::Conflict(format!(
            "{reason}; roll forward or build a new version instead"
        )));
    }
    let rollback_id = webcrypto::uuid_v4()?;
    let meta = Metadata::new(webcrypto::now_ms(), &user).correlated(&rollback_id);
    let command = Command::RequestRollback {
        to_version: version,
        rollback_id: rollback_id.clone(),
    };
    service::execute(ctx, id, meta, command).await?;
    let job = RollbackJob {
        project_id: id.to_string(),
        rollback_id: rollback_id.clone(),
        to_version: version,
        slow: ctx
            .env
            .var("KILN_TEST_HOOKS")
            .map(|v| v.to_string() == "1")
            .unwrap_or(false)
            && req.headers().get("x-kiln-rollback-fault")?.as_deref() == Some("slow"),
    };
    if let Err(e) = rollback::start(&ctx.env, &job).await {
        // Nothing will finish it: record why, so the project is not left with a pending rollback.
        let meta = Metadata::new(webcrypto::now_ms(), "kiln:rollback").correlated(&rollback_id);
        let fail = Command::FailRollback {
            rollback_id: rollback_id.clone(),
            reason: "the rollback workflow could not be started; try again".into(),
        };
        if let Err(f) = service::execute(ctx, id, meta, fail).await {
            worker::console_error!("rollback {rollback_id}: could not record the failure: {f}");
        }
        return Err(e);
    }
    json(
        202,
        &json!({
            "rollback_id": rollback_id,
            "status": "requested",
            "to_version": version,
            "from_version": st.live_version,
            "project_url": format!("/api/projects/{id}"),
            "events_url": format!("/api/projects/{id}/events"),
        }),
    )
}
