//! The `cloudflare` deploy target: D1, R2 and Workers for Platforms through the REST API
//! ([`super::cloudflare`]); see [`crate::deploy`] and docs/adr/0022, 0023.
//!
//! - create-db: D1 database and R2 bucket `kiln-app-<project>`, found by name or created (never a
//!   second one).
//! - migrate: through the D1 query API; each migration and the row naming it in
//!   `_kiln_migrations` go in one query, so a retry never runs one twice.
//! - upload-assets: an assets upload session for the version's script, the buckets it asks for,
//!   and the completion token, kept (a credential: never in an event) in the platform's private
//!   bucket at `deploys/<project>/<version:08>.assets-token` until the deploy step uses it.
//! - deploy: the script `kiln-<project>-v<version>` with its bindings (`DB` D1, `STORAGE` R2,
//!   `JWT_SECRET` secret text, `ASSETS`) and tags `kiln`, `project-<project>`.
//! - teardown: scripts by tag (then one by one for any left), the D1 database, the bucket's
//!   objects and the bucket.

use std::collections::BTreeMap;

use codestore::{CodeStore, Manifest};
use serde_json::{json, Value};
use worker::{Bucket, Env};

use super::cloudflare::api::{AssetEntry, AssetFile, Module};
use super::cloudflare::client::Transport;
use super::cloudflare::fetch::FetchTransport;
use super::cloudflare::{CfError, Client, Secret};
use super::code_store::R2CodeStore;
use super::deploy_local::worker_modules;
use crate::config::CloudflareSettings;
use workflows::deploy::{
    project_tag, resource_name, script_name, script_tags, AssetsUploaded, DeployError, LivePointer,
    Migration,
};

/// The compatibility date of uploaded app scripts (the platform's own).
pub const APP_COMPATIBILITY_DATE: &str = "2026-04-01";
/// The app's entry module, as generated.
pub const MAIN_MODULE: &str = "worker.js";

/// Workers for Platforms, D1 and R2 over REST.
pub struct CloudflareTarget {
    env: Env,
    client: Client<FetchTransport>,
    namespace: String,
}

fn cf(e: CfError) -> DeployError {
    if e.retryable() {
        DeployError::Unavailable(e.to_string())
    } else {
        DeployError::Refused(e.to_string())
    }
}

fn unavailable(e: impl std::fmt::Display) -> DeployError {
    DeployError::Unavailable(e.to_string())
}

/// Where the completion token of a version's assets waits for the deploy step.
pub fn assets_token_key(project: &str, version: u32) -> String {
    format!("deploys/{project}/{version:08}.assets-token")
}

/// The assets manifest of a version for an upload session: `/path` (without `public`) → the first
/// 32 hex characters of the file's SHA-256 (its code-store hash) and its size.
pub fn upload_manifest(m: &Manifest) -> BTreeMap<String, AssetEntry> {
    m.files
        .iter()
        .filter_map(|(p, e)| {
            let path = p.as_str().strip_prefix("public")?;
            path.starts_with('/').then(|| {
                (
                    path.to_string(),
                    AssetEntry {
                        hash: e.hash.as_str()[..32].to_string(),
                        size: e.size,
                    },
                )
            })
        })
        .collect()
}

/// The SQL of one migration followed by the row that records it, as one query.
pub fn migration_query(m: &Migration, now_ms: i64) -> Result<String, DeployError> {
    if m.name.is_empty()
        || !m
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(DeployError::Refused(format!(
            "migration name '{}' must be letters, digits, '_', '-' and '.' only",
            m.name.chars().take(64).collect::<String>()
        )));
    }
    let sql = m.sql.trim_end();
    // A last line that is a comment, or a statement without its ';', must not swallow the insert.
    let sep = if sql.ends_with(';') { "\n" } else { "\n;\n" };
    Ok(format!(
        "{sql}{sep}INSERT INTO _kiln_migrations (name, applied_at) VALUES ('{}', {now_ms});",
        m.name
    ))
}

/// What a script upload says about the script's static assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetsRef<'a> {
    /// The version has none.
    None,
    /// The completion token of this version's assets upload session (redeemed once).
    Token(&'a str),
    /// `keep_assets`: the assets the script already has (a retried upload whose first attempt
    /// already redeemed the token; docs/adr/0022).
    Keep,
}

/// The `metadata` part of a script upload.
pub fn script_metadata(
    project: &str,
    database_id: &str,
    jwt_secret: &str,
    assets: AssetsRef<'_>,
) -> Value {
    let mut bindings = vec![
        json!({ "type": "d1", "name": "DB", "id": database_id }),
        json!({ "type": "r2_bucket", "name": "STORAGE", "bucket_name": resource_name(project) }),
        json!({ "type": "secret_text", "name": "JWT_SECRET", "text": jwt_secret }),
    ];
    let mut metadata = json!({
        "main_module": MAIN_MODULE,
        "compatibility_date": APP_COMPATIBILITY_DATE,
        "tags": script_tags(project),
    });
    let config = json!({
        "not_found_handling": "single-page-application",
        "run_worker_first": ["/api/*"],
    });
    match assets {
        AssetsRef::None => {}
        AssetsRef::Token(jwt) => {
            bindings.push(json!({ "type": "assets", "name": "ASSETS" }));
            metadata["assets"] = json!({ "jwt": jwt, "config": config });
        }
        AssetsRef::Keep => {
            bindings.push(json!({ "type": "assets", "name": "ASSETS" }));
            metadata["keep_assets"] = json!(true);
            metadata["assets"] = json!({ "config": config });
        }
    }
    metadata["bindings"] = Value::Array(bindings);
    metadata
}

/// deploy's upload: the script `script` of `project` with its bindings. When the namespace
/// already holds `script` (an earlier attempt of this step uploaded it and its answer was lost),
/// the completion token has been redeemed: the upload is sent again with `keep_assets` instead,
/// so the retry succeeds and the namespace still holds one script of that name.
#[allow(clippy::too_many_arguments)]
pub async fn upload_script<T: Transport>(
    client: &Client<T>,
    namespace: &str,
    project: &str,
    script: &str,
    database_id: &str,
    jwt_secret: &str,
    assets_token: Option<&str>,
    modules: &[Module],
) -> Result<(), DeployError> {
    let assets = match assets_token {
        None => AssetsRef::None,
        Some(token) => {
            let there = match client
                .scripts_with_tag(namespace, &project_tag(project))
                .await
            {
                Ok(list) => list.iter().any(|s| s.id == script),
                Err(CfError::NamespaceMissing(_)) => false,
                Err(e) => return Err(cf(e)),
            };
            if there {
                AssetsRef::Keep
            } else {
                AssetsRef::Token(token)
            }
        }
    };
    let metadata = script_metadata(project, database_id, jwt_secret, assets);
    client
        .script_upload(namespace, script, &metadata, modules)
        .await
        .map_err(cf)?;
    Ok(())
}

async fn read(bucket: &Bucket, key: &str) -> Result<Option<Vec<u8>>, DeployError> {
    let Some(obj) = bucket.get(key).execute().await.map_err(unavailable)? else {
        return Ok(None);
    };
    match obj.body() {
        Some(b) => Ok(Some(b.bytes().await.map_err(unavailable)?)),
        None => Ok(Some(Vec::new())),
    }
}

impl CloudflareTarget {
    /// The target with the account's token (the `CLOUDFLARE_API_TOKEN` secret).
    pub fn new(env: Env, settings: &CloudflareSettings) -> Result<Self, DeployError> {
        let token = env
            .secret("CLOUDFLARE_API_TOKEN")
            .map(|s| s.to_string())
            .map_err(|_| DeployError::Refused("setting CLOUDFLARE_API_TOKEN is missing".into()))?;
        Ok(Self {
            env,
            client: Client::new(
                FetchTransport,
                &settings.api_base,
                &settings.account_id,
                Secret::new(token),
            ),
            namespace: settings.namespace.clone(),
        })
    }

    fn bucket(&self) -> Result<Bucket, DeployError> {
        self.env.bucket("STORE").map_err(unavailable)
    }

    pub(crate) async fn create_db(&self, project: &str) -> Result<String, DeployError> {
        provision(&self.client, project).await
    }

    pub(crate) async fn migrate(
        &self,
        database_id: &str,
        migrations: &[Migration],
    ) -> Result<Vec<String>, DeployError> {
        apply_migrations(
            &self.client,
            database_id,
            migrations,
            crate::adapters::webcrypto::now_ms(),
        )
        .await
    }

    pub(crate) async fn upload_assets(&self, m: &Manifest) -> Result<AssetsUploaded, DeployError> {
        let manifest = upload_manifest(m);
        let uploaded = AssetsUploaded {
            count: manifest.len() as u32,
            bytes: manifest.values().map(|e| e.size).sum(),
        };
        if manifest.is_empty() {
            return Ok(uploaded);
        }
        let script = script_name(&m.project, m.version);
        let session = self
            .client
            .assets_upload_session(&self.namespace, &script, &manifest)
            .await
            .map_err(cf)?;
        let completion = if session.buckets.is_empty() {
            session.jwt.clone()
        } else {
            let store = R2CodeStore::new(self.bucket()?);
            let by_short: BTreeMap<&str, &codestore::FileEntry> = m
                .files
                .iter()
                .filter(|(p, _)| p.as_str().starts_with("public/"))
                .map(|(_, e)| (&e.hash.as_str()[..32], e))
                .collect();
            let mut completion = None;
            for bucket in &session.buckets {
                let mut files = Vec::with_capacity(bucket.len());
                for hash in bucket {
                    let entry = by_short.get(hash.as_str()).ok_or_else(|| {
                        DeployError::Refused(format!(
                            "the upload session asked for {hash}, which is not in the manifest"
                        ))
                    })?;
                    let bytes = store
                        .get_blob(&m.project, &entry.hash)
                        .await
                        .map_err(unavailable)?
                        .ok_or_else(|| {
                            DeployError::Refused(format!(
                                "asset blob {hash} is missing from the code store"
                            ))
                        })?;
                    files.push(AssetFile {
                        hash: hash.clone(),
                        content_type: entry.content_type.clone(),
                        bytes,
                    });
                }
                if let Some(jwt) = self
                    .client
                    .assets_upload(&session.jwt, &files)
                    .await
                    .map_err(cf)?
                {
                    completion = Some(jwt);
                }
            }
            completion.ok_or_else(|| {
                DeployError::Unavailable(
                    "the last assets upload answered no completion token".into(),
                )
            })?
        };
        self.bucket()?
            .put(
                assets_token_key(&m.project, m.version),
                completion.expose().as_bytes().to_vec(),
            )
            .execute()
            .await
            .map_err(unavailable)?;
        Ok(uploaded)
    }

    pub(crate) async fn deploy(
        &self,
        m: &Manifest,
        database_id: &str,
        build_id: &str,
    ) -> Result<LivePointer, DeployError> {
        let bucket = self.bucket()?;
        let store = R2CodeStore::new(bucket.clone());
        let modules: Vec<Module> = worker_modules(&store, m)
            .await?
            .into_iter()
            .map(|(name, code)| Module { name, code })
            .collect();
        if !modules.iter().any(|md| md.name == MAIN_MODULE) {
            return Err(DeployError::Refused(format!(
                "version {} has no {MAIN_MODULE}",
                m.version
            )));
        }
        let secret = read(&bucket, &format!("secrets/{}", m.project))
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                DeployError::Unavailable("the app's JWT secret is not stored yet".into())
            })?;
        let has_assets = !upload_manifest(m).is_empty();
        let token = if has_assets {
            let t = read(&bucket, &assets_token_key(&m.project, m.version))
                .await?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| {
                    DeployError::Refused(format!(
                        "version {} has no uploaded assets (the upload-assets step did not run)",
                        m.version
                    ))
                })?;
            Some(t)
        } else {
            None
        };
        let script = script_name(&m.project, m.version);
        upload_script(
            &self.client,
            &self.namespace,
            &m.project,
            &script,
            database_id,
            &secret,
            token.as_deref(),
            &modules,
        )
        .await?;
        Ok(pointer(m, Some(build_id.to_string())))
    }

    pub(crate) async fn restore(&self, m: &Manifest) -> Result<LivePointer, DeployError> {
        let script = script_name(&m.project, m.version);
        let scripts = self
            .client
            .scripts_with_tag(&self.namespace, &project_tag(&m.project))
            .await
            .map_err(cf)?;
        if !scripts.iter().any(|s| s.id == script) {
            return Err(DeployError::Refused(format!(
                "version {} has no script in the dispatch namespace; build it again instead",
                m.version
            )));
        }
        Ok(pointer(m, None))
    }

    pub(crate) async fn teardown(&self, project: &str) -> Result<(), DeployError> {
        remove_project(&self.client, &self.namespace, project).await
    }
}

/// create-db: the D1 database and the R2 bucket `kiln-app-<project>`, found by name or created;
/// the database id.
pub async fn provision<T: Transport>(
    client: &Client<T>,
    project: &str,
) -> Result<String, DeployError> {
    let name = resource_name(project);
    let db = client.d1_find_or_create(&name).await.map_err(cf)?;
    // The app's file storage: a bucket of its own (docs/adr/0023).
    client.r2_create_bucket(&name).await.map_err(cf)?;
    Ok(db.uuid)
}

/// migrate: applies the migrations `_kiln_migrations` does not list, each with its row in one
/// query; the names of `migrations` the database has applied now.
pub async fn apply_migrations<T: Transport>(
    client: &Client<T>,
    database_id: &str,
    migrations: &[Migration],
    now_ms: i64,
) -> Result<Vec<String>, DeployError> {
    client
        .d1_query(
            database_id,
            "CREATE TABLE IF NOT EXISTS _kiln_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
            &[],
        )
        .await
        .map_err(cf)?;
    let rows = client
        .d1_query(database_id, "SELECT name FROM _kiln_migrations", &[])
        .await
        .map_err(cf)?;
    let mut done: Vec<String> = rows
        .iter()
        .flat_map(|r| r.results.iter())
        .filter_map(|row| row["name"].as_str().map(str::to_string))
        .collect();
    for m in migrations {
        if done.contains(&m.name) {
            continue;
        }
        let sql = migration_query(m, now_ms)?;
        match client.d1_query(database_id, &sql, &[]).await {
            Ok(_) => done.push(m.name.clone()),
            Err(CfError::Rejected { message, .. }) => {
                return Err(DeployError::Refused(format!(
                    "migration {} failed: {message}",
                    m.name
                )))
            }
            Err(e) => return Err(cf(e)),
        }
    }
    Ok(migrations
        .iter()
        .filter(|m| done.contains(&m.name))
        .map(|m| m.name.clone())
        .collect())
}

/// teardown: the project's scripts (by tag, then any left one by one), its D1 database, its
/// bucket's objects and the bucket; then checks nothing is listed any more.
pub async fn remove_project<T: Transport>(
    client: &Client<T>,
    namespace: &str,
    project: &str,
) -> Result<(), DeployError> {
    let tag = project_tag(project);
    let scripts = || async {
        match client.scripts_with_tag(namespace, &tag).await {
            Ok(l) => Ok(l),
            Err(CfError::NamespaceMissing(_)) => Ok(Vec::new()),
            Err(e) => Err(cf(e)),
        }
    };
    match client.scripts_delete_by_tag(namespace, &tag).await {
        Ok(()) | Err(CfError::NamespaceMissing(_)) => {}
        Err(e) => return Err(cf(e)),
    }
    for s in scripts().await? {
        client.script_delete(namespace, &s.id).await.map_err(cf)?;
    }
    let name = resource_name(project);
    if let Some(db) = client.d1_find(&name).await.map_err(cf)? {
        client.d1_delete(&db.uuid).await.map_err(cf)?;
    }
    loop {
        let keys = client.r2_list_keys(&name).await.map_err(cf)?;
        if keys.is_empty() {
            break;
        }
        for k in &keys {
            client.r2_delete_object(&name, k).await.map_err(cf)?;
        }
    }
    client.r2_delete_bucket(&name).await.map_err(cf)?;
    // Verification: nothing of the project is left.
    let left = scripts().await?;
    if !left.is_empty() || client.d1_find(&name).await.map_err(cf)?.is_some() {
        return Err(DeployError::Unavailable(format!(
            "teardown of {project}: {} script(s) or the database are still there",
            left.len()
        )));
    }
    Ok(())
}

fn pointer(m: &Manifest, build_id: Option<String>) -> LivePointer {
    LivePointer::cloudflare(&m.project, m.version, build_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_metadata_has_the_bindings_assets_and_tags_of_the_interface() {
        let m = script_metadata("p1", "uuid-1", "s3cret", AssetsRef::Token("completion"));
        assert_eq!(m["main_module"], "worker.js");
        assert_eq!(m["tags"], json!(["kiln", "project-p1"]));
        assert_eq!(
            m["bindings"],
            json!([
                {"type": "d1", "name": "DB", "id": "uuid-1"},
                {"type": "r2_bucket", "name": "STORAGE", "bucket_name": "kiln-app-p1"},
                {"type": "secret_text", "name": "JWT_SECRET", "text": "s3cret"},
                {"type": "assets", "name": "ASSETS"}
            ])
        );
        assert_eq!(m["assets"]["jwt"], "completion");
        assert_eq!(m["assets"]["config"]["run_worker_first"], json!(["/api/*"]));
        assert_eq!(
            m["assets"]["config"]["not_found_handling"],
            "single-page-application"
        );
        assert!(m.get("keep_assets").is_none());
        let bare = script_metadata("p1", "uuid-1", "s3cret", AssetsRef::None);
        assert!(bare.get("assets").is_none());
        assert_eq!(bare["bindings"].as_array().unwrap().len(), 3);
        let keep = script_metadata("p1", "uuid-1", "s3cret", AssetsRef::Keep);
        assert_eq!(keep["keep_assets"], true);
        assert!(keep["assets"].get("jwt").is_none(), "{keep:#}");
        assert_eq!(keep["assets"]["config"], m["assets"]["config"]);
        assert_eq!(keep["bindings"], m["bindings"]);
    }

    #[test]
    fn a_migration_and_its_record_are_one_query() {
        let m = Migration {
            name: "0001_init.sql".into(),
            sql: "CREATE TABLE a (x INTEGER);\n-- done\n".into(),
        };
        assert_eq!(
            migration_query(&m, 7).unwrap(),
            "CREATE TABLE a (x INTEGER);\n-- done\n;\nINSERT INTO _kiln_migrations (name, applied_at) VALUES ('0001_init.sql', 7);"
        );
        let m = Migration {
            name: "0002_x.sql".into(),
            sql: "CREATE TABLE b (y TEXT);  ".into(),
        };
        assert!(migration_query(&m, 7)
            .unwrap()
            .starts_with("CREATE TABLE b (y TEXT);\nINSERT"));
        let bad = Migration {
            name: "x'); DROP TABLE users; --".into(),
            sql: String::new(),
        };
        assert!(matches!(
            migration_query(&bad, 7),
            Err(DeployError::Refused(_))
        ));
    }

    #[test]
    fn the_upload_manifest_lists_public_files_without_the_prefix() {
        let files = vec![
            (
                codestore::FilePath::parse("public/index.html").unwrap(),
                b"<h1>x</h1>".to_vec(),
            ),
            (
                codestore::FilePath::parse("worker.js").unwrap(),
                b"export default {}".to_vec(),
            ),
        ];
        let (m, _) = Manifest::build(
            "0b9d2c1e-6f5a-4c3b-8a7d-1e2f3a4b5c6d",
            1,
            None,
            None,
            0,
            files,
        )
        .unwrap();
        let up = upload_manifest(&m);
        assert_eq!(up.keys().collect::<Vec<_>>(), vec!["/index.html"]);
        assert_eq!(
            up["/index.html"].hash,
            super::super::cloudflare::api::asset_hash(b"<h1>x</h1>")
        );
        assert_eq!(up["/index.html"].size, 10);
    }

    use crate::adapters::cloudflare::client::tests::{block, client, fail, ok};

    fn paths(c: &Client<crate::adapters::cloudflare::client::tests::Script>) -> Vec<String> {
        c.transport()
            .sent
            .borrow()
            .iter()
            .map(|r| {
                let path = r.url.split("/accounts/acc123").nth(1).unwrap_or(&r.url);
                format!("{} {path}", r.method.as_str())
            })
            .collect()
    }

    fn migrations() -> Vec<Migration> {
        vec![
            Migration {
                name: "0001_init.sql".into(),
                sql: "CREATE TABLE a (x INTEGER);".into(),
            },
            Migration {
                name: "0002_update.sql".into(),
                sql: "ALTER TABLE a ADD COLUMN y TEXT;".into(),
            },
        ]
    }

    fn rows(names: &[&str]) -> serde_json::Value {
        let results: Vec<Value> = names.iter().map(|n| json!({ "name": n })).collect();
        json!([{ "results": results, "success": true, "meta": {} }])
    }

    #[test]
    fn provisioning_finds_the_database_by_name_and_keeps_an_existing_bucket() {
        let c = client(vec![
            ok(json!([{ "uuid": "u1", "name": "kiln-app-p1" }])),
            fail(409, 10004, "bucket exists"),
        ]);
        assert_eq!(block(provision(&c, "p1")).unwrap(), "u1");
        assert_eq!(
            paths(&c),
            vec![
                "GET /d1/database?name=kiln-app-p1&per_page=100",
                "POST /r2/buckets"
            ]
        );
    }

    #[test]
    fn migrations_run_once_even_when_a_retry_follows_a_lost_answer() {
        // First run: nothing applied, both run.
        let c = client(vec![
            ok(rows(&[])),
            ok(rows(&[])),
            ok(rows(&[])),
            ok(rows(&[])),
        ]);
        let applied = block(apply_migrations(&c, "u1", &migrations(), 5)).unwrap();
        assert_eq!(applied, vec!["0001_init.sql", "0002_update.sql"]);
        let sent = c.transport().sent.borrow();
        assert_eq!(sent.len(), 4);
        let body: Value = serde_json::from_slice(&sent[2].body).unwrap();
        assert!(body["sql"].as_str().unwrap().contains(
            "INSERT INTO _kiln_migrations (name, applied_at) VALUES ('0001_init.sql', 5)"
        ));
        drop(sent);
        // A retry after the first migration's answer was lost: the table lists it, so only the
        // second runs, and both are reported as applied.
        let c = client(vec![
            ok(rows(&[])),
            ok(rows(&["0001_init.sql"])),
            ok(rows(&[])),
        ]);
        let applied = block(apply_migrations(&c, "u1", &migrations(), 5)).unwrap();
        assert_eq!(applied, vec!["0001_init.sql", "0002_update.sql"]);
        let sent = c.transport().sent.borrow();
        assert_eq!(sent.len(), 3);
        assert!(String::from_utf8_lossy(&sent[2].body).contains("ALTER TABLE a"));
    }

    #[test]
    fn a_refused_migration_is_terminal_and_names_itself() {
        let c = client(vec![
            ok(rows(&[])),
            ok(rows(&[])),
            fail(400, 7500, "near \"CREAT\": syntax error"),
        ]);
        let e = block(apply_migrations(&c, "u1", &migrations(), 5)).unwrap_err();
        assert!(
            matches!(&e, DeployError::Refused(m) if m.contains("0001_init.sql") && m.contains("syntax error")),
            "{e:?}"
        );
        let c = client(vec![
            ok(rows(&[])),
            ok(rows(&[])),
            fail(503, 0, "busy"),
            fail(503, 0, "busy"),
            fail(503, 0, "busy"),
            fail(503, 0, "busy"),
            fail(503, 0, "busy"),
        ]);
        let e = block(apply_migrations(&c, "u1", &migrations(), 5)).unwrap_err();
        assert!(matches!(e, DeployError::Unavailable(_)), "{e:?}");
    }

    #[test]
    fn teardown_removes_scripts_database_objects_and_bucket_then_verifies() {
        let c = client(vec![
            ok(json!(null)),                                       // delete by tag
            ok(json!([{ "id": "kiln-p1-v2" }])),                   // one left
            ok(json!(null)),                                       // delete it
            ok(json!([{ "uuid": "u1", "name": "kiln-app-p1" }])),  // find database
            ok(json!(null)),                                       // delete it
            ok(json!([{ "key": "a.txt" }, { "key": "b/c.txt" }])), // objects
            ok(json!(null)),
            ok(json!(null)),
            ok(json!([])),   // bucket empty
            ok(json!(null)), // delete bucket
            ok(json!([])),   // verify: no scripts
            ok(json!([])),   // verify: no database
        ]);
        block(remove_project(&c, "kiln-apps", "p1")).unwrap();
        assert_eq!(
            paths(&c),
            vec![
                "DELETE /workers/dispatch/namespaces/kiln-apps/scripts?tags=project-p1%3Ayes",
                "GET /workers/dispatch/namespaces/kiln-apps/scripts?tags=project-p1%3Ayes",
                "DELETE /workers/dispatch/namespaces/kiln-apps/scripts/kiln-p1-v2?force=true",
                "GET /d1/database?name=kiln-app-p1&per_page=100",
                "DELETE /d1/database/u1",
                "GET /r2/buckets/kiln-app-p1/objects?per_page=1000",
                "DELETE /r2/buckets/kiln-app-p1/objects/a.txt",
                "DELETE /r2/buckets/kiln-app-p1/objects/b%2Fc.txt",
                "GET /r2/buckets/kiln-app-p1/objects?per_page=1000",
                "DELETE /r2/buckets/kiln-app-p1",
                "GET /workers/dispatch/namespaces/kiln-apps/scripts?tags=project-p1%3Ayes",
                "GET /d1/database?name=kiln-app-p1&per_page=100",
            ]
        );
    }

    fn modules() -> Vec<Module> {
        vec![Module {
            name: "worker.js".into(),
            code: "export default {}".into(),
        }]
    }

    #[test]
    fn a_first_upload_redeems_the_completion_token() {
        let c = client(vec![ok(json!([])), ok(json!({ "id": "kiln-p1-v1" }))]);
        block(upload_script(
            &c,
            "kiln-apps",
            "p1",
            "kiln-p1-v1",
            "u1",
            "s",
            Some("tok-1"),
            &modules(),
        ))
        .unwrap();
        assert_eq!(
            paths(&c),
            vec![
                "GET /workers/dispatch/namespaces/kiln-apps/scripts?tags=project-p1%3Ayes",
                "PUT /workers/dispatch/namespaces/kiln-apps/scripts/kiln-p1-v1",
            ]
        );
        let body = String::from_utf8_lossy(&c.transport().sent.borrow()[1].body).into_owned();
        assert!(body.contains(r#""jwt":"tok-1""#), "{body}");
        assert!(!body.contains("keep_assets"), "{body}");
    }

    #[test]
    fn a_retried_upload_of_an_existing_script_keeps_its_assets_instead_of_reusing_the_token() {
        let c = client(vec![
            ok(json!([{ "id": "kiln-p1-v1" }, { "id": "kiln-p1-v0" }])),
            ok(json!({ "id": "kiln-p1-v1" })),
        ]);
        block(upload_script(
            &c,
            "kiln-apps",
            "p1",
            "kiln-p1-v1",
            "u1",
            "s",
            Some("tok-1"),
            &modules(),
        ))
        .unwrap();
        let body = String::from_utf8_lossy(&c.transport().sent.borrow()[1].body).into_owned();
        assert!(body.contains(r#""keep_assets":true"#), "{body}");
        assert!(
            !body.contains("tok-1"),
            "the redeemed token is not sent again: {body}"
        );
        // Another version's script does not count as this one.
        let c = client(vec![
            ok(json!([{ "id": "kiln-p1-v0" }])),
            ok(json!({ "id": "kiln-p1-v1" })),
        ]);
        block(upload_script(
            &c,
            "kiln-apps",
            "p1",
            "kiln-p1-v1",
            "u1",
            "s",
            Some("tok-1"),
            &modules(),
        ))
        .unwrap();
        let body = String::from_utf8_lossy(&c.transport().sent.borrow()[1].body).into_owned();
        assert!(
            body.contains("tok-1") && !body.contains("keep_assets"),
            "{body}"
        );
        // Without assets there is no token to protect and no lookup.
        let c = client(vec![ok(json!({ "id": "kiln-p1-v1" }))]);
        block(upload_script(
            &c,
            "kiln-apps",
            "p1",
            "kiln-p1-v1",
            "u1",
            "s",
            None,
            &modules(),
        ))
        .unwrap();
        assert_eq!(paths(&c).len(), 1);
    }

    #[test]
    fn a_second_teardown_of_a_gone_project_is_a_no_op() {
        let c = client(vec![
            fail(404, 100119, "namespace not found"),
            fail(404, 100119, "namespace not found"),
            ok(json!([])),
            fail(404, 10006, "no such bucket"),
            fail(404, 10006, "no such bucket"),
            fail(404, 100119, "namespace not found"),
            ok(json!([])),
        ]);
        block(remove_project(&c, "kiln-apps", "p1")).unwrap();
    }
}
