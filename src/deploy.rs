//! The configured deploy target: `DEPLOY_TARGET` picks one of the two adapters of the
//! [`DeployTarget`] port (`workflows::deploy`; docs/adr/0022-deploy-target-and-rest-client.md).
//!
//! - `local` ([`crate::adapters::deploy_local`]): the dispatch Worker, a SQLite Durable Object per
//!   app and a Worker Loader;
//! - `cloudflare` ([`crate::adapters::deploy_cloudflare`]): D1, R2 and Workers for Platforms over
//!   the REST API.
//!
//! [`Target`] is an enum rather than a `dyn DeployTarget` because the port's methods are `async`.

use codestore::Manifest;
pub use workflows::deploy::{AssetsUploaded, DeployError, DeployTarget, LivePointer, Migration};

use crate::adapters::deploy_cloudflare::CloudflareTarget;
use crate::adapters::deploy_local::LocalTarget;
use crate::config::TargetSettings;
use crate::http::Ctx;

/// The deploy target of this Worker.
pub enum Target {
    /// The dispatch Worker.
    Local(LocalTarget),
    /// D1, R2 and Workers for Platforms over the REST API.
    Cloudflare(CloudflareTarget),
}

impl Target {
    /// The configured target.
    pub fn of(ctx: &Ctx) -> Result<Self, DeployError> {
        Ok(match &ctx.config.target {
            TargetSettings::Local => Target::Local(LocalTarget::new(ctx.env.clone())),
            TargetSettings::Cloudflare(s) => {
                Target::Cloudflare(CloudflareTarget::new(ctx.env.clone(), s)?)
            }
        })
    }
}

impl DeployTarget for Target {
    async fn create_db(&self, project: &str) -> Result<String, DeployError> {
        match self {
            Target::Local(t) => t.create_db(project).await,
            Target::Cloudflare(t) => t.create_db(project).await,
        }
    }

    async fn migrate(
        &self,
        project: &str,
        database_id: &str,
        migrations: &[Migration],
    ) -> Result<Vec<String>, DeployError> {
        match self {
            Target::Local(t) => t.migrate(project, migrations).await,
            Target::Cloudflare(t) => t.migrate(database_id, migrations).await,
        }
    }

    async fn upload_assets(&self, manifest: &Manifest) -> Result<AssetsUploaded, DeployError> {
        match self {
            Target::Local(t) => t.upload_assets(manifest).await,
            Target::Cloudflare(t) => t.upload_assets(manifest).await,
        }
    }

    async fn deploy(
        &self,
        manifest: &Manifest,
        database_id: &str,
        build_id: &str,
    ) -> Result<LivePointer, DeployError> {
        match self {
            Target::Local(t) => t.deploy(manifest, build_id).await,
            Target::Cloudflare(t) => t.deploy(manifest, database_id, build_id).await,
        }
    }

    async fn restore_code(&self, manifest: &Manifest) -> Result<LivePointer, DeployError> {
        match self {
            Target::Local(t) => t.restore(manifest).await,
            Target::Cloudflare(t) => t.restore(manifest).await,
        }
    }

    async fn teardown(&self, project: &str) -> Result<(), DeployError> {
        match self {
            Target::Local(t) => t.teardown(project).await,
            Target::Cloudflare(t) => t.teardown(project).await,
        }
    }
}

/// The pointer naming `version` of `project` on the configured target, without asking the
/// target: for a version that was live before (a cancelled deploy puts it back).
pub fn pointer_on(
    target: &TargetSettings,
    project: &str,
    version: u32,
    build_id: Option<String>,
) -> LivePointer {
    match target {
        TargetSettings::Local => LivePointer::local(project, version, build_id),
        TargetSettings::Cloudflare(_) => LivePointer::cloudflare(project, version, build_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_on_the_configured_target_names_a_script_only_on_cloudflare() {
        assert_eq!(
            pointer_on(&TargetSettings::Local, "p", 2, Some("b".into())),
            LivePointer::local("p", 2, Some("b".into()))
        );
        assert_eq!(LivePointer::local("p", 2, None).script, None,);
        assert_eq!(
            LivePointer::cloudflare("p", 2, None).script.as_deref(),
            Some("kiln-p-v2")
        );
    }
}
