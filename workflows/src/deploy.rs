//! The deploy target port: where an app's database, files and code live
//! (docs/adr/0022-deploy-target-and-rest-client.md).
//!
//! The build steps `create-db`, `migrate`, `upload-assets` and `deploy`, the rollback and the
//! teardown call [`DeployTarget`]; the platform Worker implements it twice (`src/adapters/
//! deploy_local.rs`, `src/adapters/deploy_cloudflare.rs`) and picks one by `DEPLOY_TARGET`:
//!
//! | step | `local` | `cloudflare` |
//! | --- | --- | --- |
//! | create-db | the app's SQLite Durable Object is created and initialised (`AppAdmin.create`) | D1 `kiln-app-<project>` found by name or created; R2 bucket `kiln-app-<project>` |
//! | migrate | `AppAdmin.migrate` (applied names tracked in the database) | D1 query API, applied names tracked in `_kiln_migrations` in the app's D1 |
//! | upload-assets | the version's assets manifest `deploys/<project>/<version>.assets.json`, which the dispatch Worker serves from | assets upload session, uploads, completion token |
//! | deploy | the deploy bundle the Worker Loader runs | script `kiln-<project>-v<version>` uploaded to the dispatch namespace with its bindings |
//! | teardown | the database destroyed | scripts by tag, the D1 database, the bucket and its objects |
//!
//! Every operation is idempotent: a retry finds what an earlier attempt made (by deterministic
//! name, [`resource_name`], [`script_name`]) and never makes a second one. The live pointer is not
//! written here: an implementation returns the [`LivePointer`] and the deploy step's one
//! conditional write makes it live.

use codestore::Manifest;
use serde::Serialize;
use serde_json::{json, Value};

use crate::pipeline::StepError;

/// Why a deploy-target operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployError {
    /// Retrying will not help (a refused migration, a missing namespace, a bad token).
    Refused(String),
    /// Retrying may help (the API or a binding is unavailable, rate limits).
    Unavailable(String),
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployError::Refused(m) | DeployError::Unavailable(m) => f.write_str(m),
        }
    }
}

impl From<DeployError> for StepError {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Refused(m) => StepError::Terminal(m),
            DeployError::Unavailable(m) => StepError::Retryable(m),
        }
    }
}

/// One migration of a version (`migrations/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// File name, e.g. `0001_init.sql`.
    pub name: String,
    /// Its SQL.
    pub sql: String,
}

/// What `upload-assets` put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetsUploaded {
    /// Files.
    pub count: u32,
    /// Their total size.
    pub bytes: u64,
}

/// What `apps/<slug>.json` says: which project and version answer on a slug, and for the
/// `cloudflare` target which script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LivePointer {
    /// Project id.
    pub project: String,
    /// Live version.
    pub version: u32,
    /// The build that deployed it (none for a version restored without one).
    pub build_id: Option<String>,
    /// The rollback that made it live again, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_id: Option<String>,
    /// `"cloudflare"` for a Workers for Platforms script; absent for the local target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'static str>,
    /// The script in the dispatch namespace (`cloudflare` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

impl LivePointer {
    /// The pointer naming `version` of `project` for the `local` target.
    pub fn local(project: &str, version: u32, build_id: Option<String>) -> Self {
        LivePointer {
            project: project.to_string(),
            version,
            build_id,
            rollback_id: None,
            target: None,
            script: None,
        }
    }

    /// The pointer naming `version` of `project` for the `cloudflare` target (its script).
    pub fn cloudflare(project: &str, version: u32, build_id: Option<String>) -> Self {
        LivePointer {
            target: Some("cloudflare"),
            script: Some(script_name(project, version)),
            ..Self::local(project, version, build_id)
        }
    }

    /// The pointer as stored.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// The D1 database and R2 bucket name of a project (`kiln-app-<project>`).
pub fn resource_name(project: &str) -> String {
    format!("kiln-app-{project}")
}

/// The Workers for Platforms script of a version (`kiln-<project>-v<version>`).
pub fn script_name(project: &str, version: u32) -> String {
    format!("kiln-{project}-v{version}")
}

/// The tags of every script of a project; teardown deletes by the second.
pub fn script_tags(project: &str) -> [String; 2] {
    ["kiln".to_string(), project_tag(project)]
}

/// The tag that names a project's scripts.
pub fn project_tag(project: &str) -> String {
    format!("project-{project}")
}

/// The port every deploy target implements. Methods are `async` without a `Send` bound: a
/// Worker is single-threaded, and callers pick the implementation statically (an enum over the
/// configured targets), so the trait is never used as `dyn`.
#[allow(async_fn_in_trait)]
pub trait DeployTarget {
    /// Creates (or finds) the app's database and file storage; returns the database id to
    /// record.
    async fn create_db(&self, project: &str) -> Result<String, DeployError>;

    /// Applies the migrations the database has not applied yet; returns the names of those in
    /// `migrations` that the database has applied now (earlier ones included, so a retry after a
    /// lost answer still reports them).
    async fn migrate(
        &self,
        project: &str,
        database_id: &str,
        migrations: &[Migration],
    ) -> Result<Vec<String>, DeployError>;

    /// Puts the version's public files where the app is served from.
    async fn upload_assets(&self, manifest: &Manifest) -> Result<AssetsUploaded, DeployError>;

    /// Puts the version's code where it runs, with its bindings; returns the pointer that makes
    /// it live (written by the caller, never here).
    async fn deploy(
        &self,
        manifest: &Manifest,
        database_id: &str,
        build_id: &str,
    ) -> Result<LivePointer, DeployError>;

    /// Makes sure an earlier version's code can run again; returns its pointer (without the
    /// build and rollback ids, see [`DeployTarget::restore`]).
    async fn restore_code(&self, manifest: &Manifest) -> Result<LivePointer, DeployError>;

    /// Makes sure an earlier version can run again (a rollback), and returns its pointer naming
    /// the build that made the version and the rollback that restores it.
    async fn restore(
        &self,
        manifest: &Manifest,
        build_id: Option<String>,
        rollback_id: &str,
    ) -> Result<LivePointer, DeployError> {
        let mut pointer = self.restore_code(manifest).await?;
        pointer.build_id = build_id;
        pointer.rollback_id = Some(rollback_id.to_string());
        Ok(pointer)
    }

    /// Removes the app's database, storage and code (idempotent); an error means something is
    /// not gone yet.
    async fn teardown(&self, project: &str) -> Result<(), DeployError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_fit_cloudflare_limits() {
        let p = "0b9d2c1e-6f5a-4c3b-8a7d-1e2f3a4b5c6d";
        assert_eq!(resource_name(p), format!("kiln-app-{p}"));
        assert_eq!(script_name(p, 12), format!("kiln-{p}-v12"));
        // R2 bucket names: 3–63 lowercase letters, digits and '-'; script names ≤ 63.
        assert!(resource_name(p).len() <= 63);
        assert!(script_name(p, u32::MAX).len() <= 63);
        assert!(resource_name(p)
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        assert_eq!(script_tags(p), ["kiln".to_string(), format!("project-{p}")]);
    }

    #[test]
    fn a_local_pointer_keeps_its_shape_and_a_cloudflare_one_names_its_script() {
        let local = LivePointer {
            project: "p".into(),
            version: 2,
            build_id: Some("b".into()),
            rollback_id: None,
            target: None,
            script: None,
        };
        assert_eq!(
            local.to_value(),
            json!({"project": "p", "version": 2, "build_id": "b"})
        );
        let cf = LivePointer {
            target: Some("cloudflare"),
            script: Some(script_name("p", 2)),
            ..local.clone()
        };
        assert_eq!(
            cf.to_value(),
            json!({"project": "p", "version": 2, "build_id": "b", "target": "cloudflare", "script": "kiln-p-v2"})
        );
        assert_eq!(LivePointer::local("p", 2, Some("b".into())), local);
        assert_eq!(LivePointer::cloudflare("p", 2, Some("b".into())), cf);
    }
}
