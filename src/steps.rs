//! The bodies of the build steps, run inside durable Workflow steps by [`crate::pipeline`].
//!
//! Each body returns a small JSON output (references, never whole files) and the commands whose
//! events record its domain outcome (`PlanProposed`, `CodeGenerated`, …). Every body is safe to
//! run again: storage writes are content-addressed or create-only, and the live pointer write is
//! idempotent.

use events::envelope::Metadata;
use events::{Command, ProjectState};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{Conditional, Method, Request, RequestInit};
use workflows::codestore::{save_version, CodeStore, FilePath, Manifest};
use workflows::pipeline::{Step, StepError};

use crate::adapters::code_store::R2CodeStore;
use crate::adapters::webcrypto;
use crate::error::ApiError;
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use crate::service;

type StepResult = Result<(Value, Vec<Command>), StepError>;

fn retryable(e: impl std::fmt::Display) -> StepError {
    StepError::Retryable(e.to_string())
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
    format!("plans/{}/{}.json", job.project_id, job.build_id)
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
        .map_err(|e| {
            if e.retryable() {
                retryable(e)
            } else {
                StepError::Terminal(e.to_string())
            }
        })?
        .ok_or_else(|| {
            StepError::Terminal(format!("version {version} is missing from the code store"))
        })
}

/// Runs one step's body.
pub async fn run(step: Step, job: &BuildJob, ctx: &Ctx, _prior: &Value) -> StepResult {
    let st = state(ctx, job).await?;
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
            let plan = match job.plan.as_deref().filter(|_| hooks) {
                Some(raw) => serde_json::from_str::<workflows::plan::Plan>(raw).map_err(|e| {
                    StepError::Terminal(format!("the plan does not match the plan schema: {e}"))
                })?,
                None => workflows::offline::plan_from_prompt(&build.prompt)
                    .map_err(|e| StepError::Terminal(e.to_string()))?,
            };
            let valid = plan.validate().map_err(|errors| {
                StepError::Terminal(format!(
                    "the plan is invalid: {}",
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            })?;
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
            let bytes = get_object(ctx, &plan_key(job))
                .await?
                .ok_or_else(|| StepError::Terminal("the plan of this build is missing".into()))?;
            let plan: workflows::plan::Plan = serde_json::from_slice(&bytes)
                .map_err(|e| StepError::Terminal(format!("stored plan is unreadable: {e}")))?;
            let valid = plan
                .validate()
                .map_err(|_| StepError::Terminal("stored plan no longer validates".into()))?;
            let mut files = Vec::new();
            for (path, content) in workflows::offline::generate(&valid).into_iter().chain(
                workflows::offline::runtime_files()
                    .into_iter()
                    .map(|(p, c)| (p.to_string(), c.to_string())),
            ) {
                let path = FilePath::parse(&path)
                    .map_err(|e| StepError::Terminal(format!("generated path is unsafe: {e}")))?;
                files.push((path, content.into_bytes()));
            }
            let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
            let parent = st.live_version;
            let saved = save_version(
                &store,
                &job.project_id,
                parent,
                Some(&job.build_id),
                webcrypto::now_ms(),
                files,
            )
            .await
            .map_err(|e| {
                if e.retryable() {
                    retryable(e)
                } else {
                    StepError::Terminal(e.to_string())
                }
            })?;
            let m = &saved.manifest;
            let value = json!({ "ref": format!("versions/{}/{}", job.project_id, m.version), "version": m.version, "new_blobs": saved.new_blobs });
            let already = st.build(&job.build_id).and_then(|b| b.version) == Some(m.version);
            let commands = if already {
                Vec::new()
            } else {
                vec![Command::RecordCode {
                    build_id,
                    version: m.version,
                    files: m.files.len() as u32,
                    bytes: m.total_bytes(),
                    prompt_hash: None,
                }]
            };
            Ok((value, commands))
        }
        Step::Validate => {
            let m = current_manifest(ctx, job, &st).await?;
            let mut diagnostics = Vec::new();
            let Some(worker) = m.files.keys().find(|p| p.as_str() == "worker.js") else {
                diagnostics.push("worker.js: missing; every app needs a worker.js with `export default { fetch }`".to_string());
                return fail_validation(ctx, job, diagnostics).await;
            };
            let store = R2CodeStore::new(ctx.env.bucket("STORE").map_err(retryable)?);
            let code = store
                .get_blob(&m.files[worker].hash)
                .await
                .map_err(retryable)?
                .unwrap_or_default();
            let code = String::from_utf8_lossy(&code);
            if !code.contains("export default") {
                diagnostics.push("worker.js:1: no `export default`; the app contract needs `export default { fetch }`".into());
            }
            for path in m.files.keys() {
                let p = path.as_str();
                if p.starts_with("migrations/") && !p.ends_with(".sql") {
                    diagnostics.push(format!("{p}: migrations must be .sql files"));
                }
            }
            if !diagnostics.is_empty() {
                return fail_validation(ctx, job, diagnostics).await;
            }
            Ok((
                json!({ "files": m.files.len() }),
                vec![Command::PassValidation { build_id }],
            ))
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
                    .get_blob(&entry.hash)
                    .await
                    .map_err(retryable)?
                    .unwrap_or_default();
                let name = path.as_str().trim_start_matches("migrations/").to_string();
                migrations.push(json!({ "name": name, "sql": String::from_utf8_lossy(&sql) }));
            }
            let reply = internal(
                ctx,
                &format!("/apps/{}/db/migrate", job.project_id),
                &Value::Array(migrations),
            )
            .await?;
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
                    .head(format!("blobs/{}", entry.hash.as_str()))
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
            let m = current_manifest(ctx, job, &st).await?;
            let pointer = json!({ "project": job.project_id, "version": m.version, "build_id": job.build_id });
            ctx.env
                .bucket("STORE")
                .map_err(retryable)?
                .put(
                    format!("apps/{}.json", st.slug),
                    pointer.to_string().into_bytes(),
                )
                .execute()
                .await
                .map_err(retryable)?;
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

async fn fail_validation(ctx: &Ctx, job: &BuildJob, diagnostics: Vec<String>) -> StepResult {
    let meta = Metadata::new(webcrypto::now_ms(), "kiln:pipeline").correlated(&job.build_id);
    let command = Command::FailValidation {
        build_id: job.build_id.clone(),
        diagnostics: diagnostics.clone(),
    };
    service::execute(ctx, &job.project_id, meta, command)
        .await
        .map_err(api_err)?;
    Err(StepError::Terminal(format!(
        "validation failed: {}",
        diagnostics.join("; ")
    )))
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

/// Calls the dispatch Worker's internal API over the service binding.
pub async fn internal(ctx: &Ctx, path: &str, body: &Value) -> Result<Value, StepError> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(wasm_bindgen::JsValue::from_str(&body.to_string())));
    let req = Request::new_with_init(&format!("http://{}{path}", "internal.kiln"), &init)
        .map_err(retryable)?;
    let mut resp = ctx
        .env
        .service("DISPATCH")
        .map_err(retryable)?
        .fetch_request(req)
        .await
        .map_err(retryable)?;
    let status = resp.status_code();
    let text = resp.text().await.map_err(retryable)?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match status {
        200..=299 => Ok(value),
        400..=499 => Err(StepError::Terminal(
            value["error"]["message"]
                .as_str()
                .unwrap_or("database rejected the request")
                .to_string(),
        )),
        _ => Err(StepError::Retryable(format!(
            "dispatch answered {status}: {}",
            text.chars().take(300).collect::<String>()
        ))),
    }
}

/// The output of a step that already succeeded, derived from the log (after an eviction the
/// engine may run a finished step again).
pub fn output_from_log(step: Step, st: &ProjectState, job: &BuildJob) -> Result<Value, StepError> {
    let build = st
        .build(&job.build_id)
        .ok_or_else(|| StepError::Terminal("build is not in the log".into()))?;
    Ok(match step {
        Step::Codegen => json!({ "version": build.version }),
        Step::Deploy | Step::Record => json!({ "version": build.deployed_version }),
        _ => json!({ "recovered": true }),
    })
}
