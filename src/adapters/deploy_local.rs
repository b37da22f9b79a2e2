//! The `local` deploy target: apps run in the dispatch Worker (a Worker Loader isolate per app
//! version, a SQLite Durable Object per app database); see [`crate::deploy`].
//!
//! - create-db: `AppAdmin.create` creates and initialises the app's Durable Object database and
//!   answers its stable id (`local:<project>`).
//! - migrate: `AppAdmin.migrate` (the database records the names it applied).
//! - upload-assets: writes the version's assets manifest `deploys/<project>/<version:08>.assets.json`
//!   (its `public/` files, each naming a content-addressed blob that must exist), which the
//!   dispatch Worker serves the app's files from.
//! - deploy: writes the deploy bundle `deploys/<project>/<version:08>.json` (the worker modules with
//!   budget checks, docs/adr/0010) that the Worker Loader runs.

use codestore::{blob_key, CodeStore, Manifest};
use serde_json::{json, Value};
use validation::sandbox;
use worker::{Bucket, Env};

use super::app_admin::{self, AdminError};
use super::code_store::R2CodeStore;
use workflows::deploy::{AssetsUploaded, DeployError, LivePointer, Migration};

/// The dispatch Worker as a deploy target.
pub struct LocalTarget {
    env: Env,
}

fn unavailable(e: impl std::fmt::Display) -> DeployError {
    DeployError::Unavailable(e.to_string())
}

fn admin(e: AdminError) -> DeployError {
    match e {
        AdminError::Refused(m) => DeployError::Refused(m),
        AdminError::Unavailable(m) => DeployError::Unavailable(m),
    }
}

/// Whether `path` is part of the reviewed runtime shipped with every app (not instrumented).
pub fn is_runtime(path: &str) -> bool {
    path.starts_with("_kiln/") || path.starts_with("public/_kiln/")
}

/// Whether `path` is a worker module of the app (what runs in the app's isolate).
pub fn is_worker_module(path: &str) -> bool {
    !path.starts_with("public/")
        && !path.starts_with("migrations/")
        && (path.ends_with(".js") || path.ends_with(".mjs"))
}

/// The version's worker modules (path, source) from the code store, in path order; a missing or
/// non-UTF-8 module refuses the deploy. Both deploy targets ship these.
pub async fn worker_modules(
    store: &R2CodeStore,
    m: &Manifest,
) -> Result<Vec<(String, String)>, DeployError> {
    let mut modules = Vec::new();
    for (path, entry) in m.files.iter().filter(|(p, _)| is_worker_module(p.as_str())) {
        let code = store
            .get_blob(&m.project, &entry.hash)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                DeployError::Refused(format!("{} is missing from the code store", path.as_str()))
            })?;
        let code = String::from_utf8(code)
            .map_err(|_| DeployError::Refused(format!("{} is not UTF-8", path.as_str())))?;
        modules.push((path.as_str().to_string(), code));
    }
    Ok(modules)
}

/// Where the deploy bundle of `version` lives.
pub fn bundle_key(project: &str, version: u32) -> String {
    format!("deploys/{project}/{version:08}.json")
}

/// Where the assets manifest of `version` lives (read by the dispatch Worker).
pub fn assets_key(project: &str, version: u32) -> String {
    format!("deploys/{project}/{version:08}.assets.json")
}

/// The assets manifest of a version: its manifest restricted to `public/` files.
pub fn assets_manifest(m: &Manifest) -> Manifest {
    let mut assets = m.clone();
    assets
        .files
        .retain(|p, _| p.as_str().starts_with("public/"));
    assets
}

impl LocalTarget {
    /// The target over the Worker's bindings.
    pub fn new(env: Env) -> Self {
        Self { env }
    }

    fn bucket(&self) -> Result<Bucket, DeployError> {
        self.env.bucket("STORE").map_err(unavailable)
    }

    pub(crate) async fn create_db(&self, project: &str) -> Result<String, DeployError> {
        let reply = app_admin::create(&self.env, project).await.map_err(admin)?;
        reply["database_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                DeployError::Unavailable("AppAdmin.create answered no database_id".into())
            })
    }

    pub(crate) async fn migrate(
        &self,
        project: &str,
        migrations: &[Migration],
    ) -> Result<Vec<String>, DeployError> {
        let list = serde_json::to_value(migrations).map_err(unavailable)?;
        let reply = app_admin::migrate(&self.env, project, &list)
            .await
            .map_err(admin)?;
        let names = |key: &str| -> Vec<String> {
            reply[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let done: Vec<String> = names("applied")
            .into_iter()
            .chain(names("already"))
            .collect();
        Ok(migrations
            .iter()
            .filter(|m| done.contains(&m.name))
            .map(|m| m.name.clone())
            .collect())
    }

    pub(crate) async fn upload_assets(&self, m: &Manifest) -> Result<AssetsUploaded, DeployError> {
        let bucket = self.bucket()?;
        let assets = assets_manifest(m);
        for (path, entry) in &assets.files {
            if bucket
                .head(blob_key(&m.project, &entry.hash))
                .await
                .map_err(unavailable)?
                .is_none()
            {
                return Err(DeployError::Refused(format!(
                    "asset {} is missing from the code store",
                    path.as_str()
                )));
            }
        }
        // Same version, same bytes: a retry rewrites an identical object.
        bucket
            .put(
                assets_key(&m.project, m.version),
                assets.to_json().into_bytes(),
            )
            .execute()
            .await
            .map_err(unavailable)?;
        Ok(AssetsUploaded {
            count: assets.files.len() as u32,
            bytes: assets.files.values().map(|e| e.size).sum(),
        })
    }

    pub(crate) async fn deploy(
        &self,
        m: &Manifest,
        build_id: &str,
    ) -> Result<LivePointer, DeployError> {
        self.write_bundle(m).await?;
        Ok(pointer(m, Some(build_id.to_string())))
    }

    pub(crate) async fn restore(&self, m: &Manifest) -> Result<LivePointer, DeployError> {
        let bucket = self.bucket()?;
        // A version deployed before bundles (or assets manifests) existed gets them now.
        if bucket
            .head(bundle_key(&m.project, m.version))
            .await
            .map_err(unavailable)?
            .is_none()
        {
            self.write_bundle(m).await?;
        }
        if bucket
            .head(assets_key(&m.project, m.version))
            .await
            .map_err(unavailable)?
            .is_none()
        {
            self.upload_assets(m).await?;
        }
        Ok(pointer(m, None))
    }

    pub(crate) async fn teardown(&self, project: &str) -> Result<(), DeployError> {
        app_admin::destroy(&self.env, project)
            .await
            .map(|_| ())
            .map_err(|e| DeployError::Unavailable(format!("teardown database: {e}")))
    }

    /// Writes the deploy bundle of the version: its worker modules as the app's isolate loads
    /// them. Same input, same bytes, so a retried deploy rewrites an identical object.
    async fn write_bundle(&self, m: &Manifest) -> Result<(), DeployError> {
        let mut modules = serde_json::Map::new();
        for (path, code) in worker_modules(&R2CodeStore::new(self.bucket()?), m).await? {
            // The app's own modules get the budget checks; the reviewed runtime runs as shipped.
            let code = if is_runtime(&path) {
                code
            } else {
                sandbox::instrument(&path, &code)
                    .map_err(|e| DeployError::Refused(e.to_string()))?
            };
            modules.insert(path, Value::String(code));
        }
        let bundle = json!({
            "project": m.project,
            "version": m.version,
            "modules": modules,
            "guard": sandbox::GUARD_MODULE,
        });
        self.bucket()?
            .put(
                bundle_key(&m.project, m.version),
                bundle.to_string().into_bytes(),
            )
            .execute()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn pointer(m: &Manifest, build_id: Option<String>) -> LivePointer {
    LivePointer::local(&m.project, m.version, build_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codestore::FilePath;

    #[test]
    fn the_assets_manifest_holds_the_public_files_only() {
        let files = [
            "public/index.html",
            "public/app.js",
            "worker.js",
            "migrations/0001_init.sql",
        ]
        .into_iter()
        .map(|p| (FilePath::parse(p).unwrap(), p.as_bytes().to_vec()))
        .collect();
        let (m, _) = Manifest::build(
            "0b9d2c1e-6f5a-4c3b-8a7d-1e2f3a4b5c6d",
            3,
            None,
            None,
            0,
            files,
        )
        .unwrap();
        let assets = assets_manifest(&m);
        let paths: Vec<&str> = assets.files.keys().map(|p| p.as_str()).collect();
        assert_eq!(paths, vec!["public/app.js", "public/index.html"]);
        assert_eq!(assets.version, 3);
        // The dispatch Worker reads it back with the code store's checks.
        assert_eq!(
            Manifest::from_json(assets.to_json().as_bytes()).unwrap(),
            assets
        );
        assert_eq!(
            assets_key(&m.project, 3),
            format!("deploys/{}/00000003.assets.json", m.project)
        );
    }

    #[test]
    fn worker_modules_are_the_app_code_outside_public_and_migrations() {
        assert!(is_worker_module("worker.js"));
        assert!(is_worker_module("_kiln/runtime.js"));
        assert!(is_worker_module("src/db.mjs"));
        assert!(!is_worker_module("public/app.js"));
        assert!(!is_worker_module("migrations/0001.sql"));
        assert!(!is_worker_module("README.md"));
        assert!(is_runtime("_kiln/runtime.js") && !is_runtime("worker.js"));
    }
}
