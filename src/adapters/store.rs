//! Platform D1: users and projects.
//!
//! Ownership is part of every project query (`WHERE id = ? AND owner_id = ?`), so a project that
//! belongs to someone else is indistinguishable from one that does not exist: both are `None`,
//! which the API answers with 404. Uniqueness (emails, slugs) is enforced by the schema and
//! surfaced as [`Inserted::Duplicate`], never by a racy read-then-write.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::D1Database;

use crate::error::ApiError;

/// A user row.
#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Normalised email.
    pub email: String,
    /// Stored PBKDF2 hash.
    pub password_hash: String,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A project row, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectRow {
    /// Project id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// App slug.
    pub slug: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// Status of the newest build (`requested`, `running`, `succeeded`, `failed`), if any.
    #[serde(default)]
    pub build_status: Option<String>,
    /// The version serving at the app's address, if one was ever deployed.
    #[serde(default)]
    pub live_version: Option<i64>,
}

/// The columns of [`ProjectRow`]: the newest build's status and the last deployed version come
/// from the builds and deployments projections, so the dashboard needs one query.
const PROJECT_COLUMNS: &str = "p.id AS id, p.name AS name, p.slug AS slug, p.created_at AS created_at, \
     p.updated_at AS updated_at, \
     (SELECT b.status FROM builds b WHERE b.project_id = p.id ORDER BY b.created_at DESC, b.id LIMIT 1) AS build_status, \
     (SELECT d.version FROM deployments d WHERE d.project_id = p.id ORDER BY d.created_at DESC, d.version DESC LIMIT 1) AS live_version";

/// A build and its project.
#[derive(Debug, Clone, Deserialize)]
pub struct BuildRef {
    /// Build id.
    pub id: String,
    /// Project id.
    pub project_id: String,
}

/// A build with no progress since `last`.
#[derive(Debug, Clone, Deserialize)]
pub struct StalledBuild {
    /// Build id.
    pub id: String,
    /// Project id.
    pub project_id: String,
    /// Its last progress, ms since the epoch.
    pub last: f64,
}

/// A pending rollback with no progress since `last`.
#[derive(Debug, Clone, Deserialize)]
pub struct StalledRollback {
    /// Rollback id (= its Workflow instance id).
    pub id: String,
    /// Project id.
    pub project_id: String,
    /// Its target version.
    pub to_version: u32,
    /// When it was requested (its last progress), ms since the epoch.
    pub last: f64,
}

/// Outcome of an insert guarded by a UNIQUE constraint.
pub enum Inserted {
    /// Stored.
    Ok,
    /// A row with the same unique value exists.
    Duplicate,
}

fn d1_err(what: &str, e: worker::Error) -> ApiError {
    ApiError::internal(format!("d1 {what}: {e}"))
}

/// Outcome of an insert guarded by a UNIQUE constraint and a quota.
pub enum Reserved {
    /// Stored.
    Ok,
    /// A row with the same unique value exists.
    Duplicate,
    /// The quota is used up; nothing was stored.
    OverQuota,
}

/// Typed access to the platform database.
pub struct Store {
    db: D1Database,
}

impl Store {
    /// Over the platform database binding.
    pub fn of(env: &worker::Env) -> Result<Self, ApiError> {
        Ok(Self {
            db: super::bindings::platform_db(env)?,
        })
    }

    /// Inserts a user; `Duplicate` when the email is taken.
    pub async fn insert_user(
        &self,
        id: &str,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Inserted, ApiError> {
        let stmt = self
            .db
            .prepare(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(&[
                id.into(),
                email.into(),
                password_hash.into(),
                JsValue::from_f64(now as f64),
            ])?;
        match stmt.run().await {
            Ok(_) => Ok(Inserted::Ok),
            // Decided by the state, not the error text: the insert failed and the email is taken.
            Err(e) => match self.user_by_email(email).await {
                Ok(Some(_)) => Ok(Inserted::Duplicate),
                _ => Err(d1_err("insert user", e)),
            },
        }
    }

    /// Looks a user up by normalised email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, ApiError> {
        self.db
            .prepare("SELECT id, email, password_hash, created_at FROM users WHERE email = ?1")
            .bind(&[email.into()])?
            .first::<UserRow>(None)
            .await
            .map_err(|e| d1_err("user by email", e))
    }

    /// Looks a user up by id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, ApiError> {
        self.db
            .prepare("SELECT id, email, password_hash, created_at FROM users WHERE id = ?1")
            .bind(&[id.into()])?
            .first::<UserRow>(None)
            .await
            .map_err(|e| d1_err("user by id", e))
    }

    /// Inserts a project unless `owner` already has `quota` projects; `Duplicate` when the slug
    /// is taken. The count and the insert are one statement, so concurrent creations cannot
    /// together pass the quota.
    pub async fn insert_project(
        &self,
        id: &str,
        owner: &str,
        name: &str,
        slug: &str,
        now: i64,
        quota: u32,
    ) -> Result<Reserved, ApiError> {
        let stmt = self
            .db
            .prepare("INSERT INTO projects (id, owner_id, name, slug, created_at, updated_at) \
                      SELECT ?1, ?2, ?3, ?4, ?5, ?5 WHERE (SELECT COUNT(*) FROM projects WHERE owner_id = ?2) < ?6")
            .bind(&[id.into(), owner.into(), name.into(), slug.into(), JsValue::from_f64(now as f64), JsValue::from(quota)])?;
        match stmt.run().await {
            Ok(r) if changes(&r) == 0 => Ok(Reserved::OverQuota),
            Ok(_) => Ok(Reserved::Ok),
            // Decided by the state, not the error text: the insert failed and the slug is taken.
            Err(e) => match self.slug_taken(slug).await {
                Ok(true) => Ok(Reserved::Duplicate),
                _ => Err(d1_err("insert project", e)),
            },
        }
    }

    /// Whether a project row holds `slug`.
    async fn slug_taken(&self, slug: &str) -> Result<bool, ApiError> {
        let n: Option<f64> = self
            .db
            .prepare("SELECT COUNT(*) AS n FROM projects WHERE slug = ?1")
            .bind(&[slug.into()])?
            .first(Some("n"))
            .await
            .map_err(|e| d1_err("slug lookup", e))?;
        Ok(n.unwrap_or(0.0) > 0.0)
    }

    /// How many of the owner's builds are requested or running (from the builds projection).
    pub async fn active_builds_of(&self, owner: &str) -> Result<u32, ApiError> {
        let n: Option<f64> = self
            .db
            .prepare(
                "SELECT COUNT(*) AS n FROM builds b JOIN projects p ON p.id = b.project_id \
                      WHERE p.owner_id = ?1 AND b.status IN ('requested', 'running')",
            )
            .bind(&[owner.into()])?
            .first(Some("n"))
            .await
            .map_err(|e| d1_err("count active builds", e))?;
        Ok(n.unwrap_or(0.0) as u32)
    }

    /// The owner's projects, newest first.
    pub async fn projects_of(&self, owner: &str) -> Result<Vec<ProjectRow>, ApiError> {
        self.db
            .prepare(format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.owner_id = ?1 ORDER BY p.created_at DESC, p.id"))
            .bind(&[owner.into()])?
            .all()
            .await
            .and_then(|r| r.results::<ProjectRow>())
            .map_err(|e| d1_err("list projects", e))
    }

    /// One project if `owner` owns it.
    pub async fn project(&self, id: &str, owner: &str) -> Result<Option<ProjectRow>, ApiError> {
        self.db
            .prepare(format!(
                "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.id = ?1 AND p.owner_id = ?2"
            ))
            .bind(&[id.into(), owner.into()])?
            .first::<ProjectRow>(None)
            .await
            .map_err(|e| d1_err("get project", e))
    }

    /// Deletes a project if `owner` owns it; false when it does not exist for them.
    pub async fn delete_project(&self, id: &str, owner: &str) -> Result<bool, ApiError> {
        let r = self
            .db
            .prepare("DELETE FROM projects WHERE id = ?1 AND owner_id = ?2")
            .bind(&[id.into(), owner.into()])?
            .run()
            .await
            .map_err(|e| d1_err("delete project", e))?;
        Ok(changes(&r) > 0)
    }

    /// A project's chat messages, oldest first.
    pub async fn messages(&self, project: &str) -> Result<Vec<serde_json::Value>, ApiError> {
        self.db
            .prepare("SELECT id, role, content, created_at FROM messages WHERE project_id = ?1 ORDER BY created_at, id")
            .bind(&[project.into()])?
            .all()
            .await
            .and_then(|r| r.results::<serde_json::Value>())
            .map_err(|e| d1_err("list messages", e))
    }

    /// The project of a build, whoever owns it (operator and test routes).
    pub async fn project_of_build(&self, build_id: &str) -> Result<Option<String>, ApiError> {
        self.db
            .prepare("SELECT project_id FROM builds WHERE id = ?1")
            .bind(&[build_id.into()])?
            .first::<String>(Some("project_id"))
            .await
            .map_err(|e| d1_err("build lookup", e))
    }

    /// The project of a build if `owner` owns it (`None` for a missing build and for another
    /// user's).
    pub async fn owned_build_project(
        &self,
        build_id: &str,
        owner: &str,
    ) -> Result<Option<String>, ApiError> {
        self.db
            .prepare("SELECT b.project_id AS project_id FROM builds b JOIN projects p ON p.id = b.project_id WHERE b.id = ?1 AND p.owner_id = ?2")
            .bind(&[build_id.into(), owner.into()])?
            .first::<String>(Some("project_id"))
            .await
            .map_err(|e| d1_err("build lookup", e))
    }

    /// Builds the projections show as requested or running, oldest first.
    pub async fn unfinished_builds(&self) -> Result<Vec<BuildRef>, ApiError> {
        self.db
            .prepare("SELECT id, project_id FROM builds WHERE status IN ('requested', 'running') ORDER BY created_at")
            .all()
            .await
            .and_then(|r| r.results())
            .map_err(|e| d1_err("unfinished builds", e))
    }

    /// Up to 100 requested or running builds whose last progress (the build row's last change,
    /// a step's start or end) is at or before `cutoff` (ms), stalest first.
    pub async fn stalled_builds(&self, cutoff: i64) -> Result<Vec<StalledBuild>, ApiError> {
        self.db
            .prepare(
                "SELECT b.id AS id, b.project_id AS project_id, \
                        MAX(b.updated_at, COALESCE(MAX(s.started_at), 0), COALESCE(MAX(s.finished_at), 0)) AS last \
                 FROM builds b LEFT JOIN build_steps s ON s.build_id = b.id \
                 WHERE b.status IN ('requested', 'running') \
                 GROUP BY b.id HAVING last <= ?1 ORDER BY last LIMIT 100",
            )
            .bind(&[(cutoff as f64).into()])?
            .all()
            .await
            .and_then(|r| r.results())
            .map_err(|e| d1_err("stalled builds", e))
    }

    /// Up to 100 pending rollbacks requested at or before `cutoff` (ms), stalest first. A rollback
    /// records nothing between its request and its outcome, so its request time is its last
    /// progress.
    pub async fn stalled_rollbacks(&self, cutoff: i64) -> Result<Vec<StalledRollback>, ApiError> {
        self.db
            .prepare(
                "SELECT id, project_id, to_version, updated_at AS last FROM rollbacks \
                 WHERE status = 'pending' AND updated_at <= ?1 ORDER BY updated_at LIMIT 100",
            )
            .bind(&[(cutoff as f64).into()])?
            .all()
            .await
            .and_then(|r| r.results())
            .map_err(|e| d1_err("stalled rollbacks", e))
    }

    /// Every project id, oldest first.
    pub async fn project_ids(&self) -> Result<Vec<String>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        let rows: Vec<Row> = self
            .db
            .prepare("SELECT id FROM projects ORDER BY created_at")
            .all()
            .await
            .and_then(|r| r.results())
            .map_err(|e| d1_err("projects", e))?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Readiness probe: the schema is applied.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.db
            .prepare("SELECT COUNT(*) AS n FROM users")
            .first::<serde_json::Value>(None)
            .await
            .map(|_| ())
            .map_err(|e| d1_err("ping (are the migrations applied?)", e))
    }
}

fn changes(r: &worker::D1Result) -> usize {
    r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)
}
