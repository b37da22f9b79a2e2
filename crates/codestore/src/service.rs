//! The two operations the pipeline and the API need: [`save_version`] and [`diff_versions`].
//!
//! Key decisions:
//! - Blobs are written before the manifest, so a manifest that can be read never names a
//!   missing blob. A save that dies half-way leaves only unreferenced blobs, which are harmless
//!   (and reused by the retry, which finds them already stored).
//! - Blobs are deduplicated within the project only (see [`super::blob_key`]): `new_blobs` and
//!   `reused_blobs` count against the project's own earlier saves, never another tenant's.
//! - Version numbers are allocated optimistically: `max + 1`, written with create-if-absent. A
//!   save that loses the race re-lists and tries the next number, a bounded number of times.
//! - A save with a build id is idempotent: if the version it would create already exists as the
//!   newest version (a retried step whose first attempt landed) or as the winner of the race (a
//!   concurrent duplicate), that version is returned instead of writing a copy.

use serde::{Deserialize, Serialize};

use super::diff::{diff_manifests, text_of, unified_diff, FileDiff, FileStatus};
use super::error::CodeStoreError;
use super::manifest::{check_project, Manifest};
use super::path::{is_text_content_type, FilePath};
use super::store::CodeStore;

/// How many version numbers [`save_version`] tries before giving up with
/// [`CodeStoreError::VersionContention`] (retryable). Saves to one project are rare and short, so
/// losing this many races in a row means something is badly wrong, not merely busy.
pub const MAX_VERSION_ATTEMPTS: u32 = 8;

/// What [`save_version`] stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedVersion {
    /// The version's manifest, with its allocated number.
    pub manifest: Manifest,
    /// Distinct blobs this call newly wrote.
    pub new_blobs: usize,
    /// Distinct blobs that were already stored by earlier versions of the same project.
    pub reused_blobs: usize,
    /// True if an identical save of the same build already existed and was returned instead of
    /// creating a new version.
    pub replayed: bool,
}

/// Saves `files` as the next version of `project` and returns what was stored.
///
/// Checks every input before any I/O (paths are already parsed; here: project id, build id,
/// limits, duplicate paths), fails with [`CodeStoreError::NotFound`] if `parent` is not an
/// existing version, writes the blobs, then allocates the version number (highest existing + 1)
/// and writes the manifest. See the module docs for the retry and idempotency rules.
pub async fn save_version<S: CodeStore + ?Sized>(
    store: &S,
    project: &str,
    parent: Option<u32>,
    build_id: Option<&str>,
    now_ms: i64,
    files: Vec<(FilePath, Vec<u8>)>,
) -> Result<SavedVersion, CodeStoreError> {
    // The real number is only known after listing; any number above `parent` passes the checks
    // now, so bad input is refused before storage is touched.
    let provisional_version = parent.map_or(1, |p| p.saturating_add(1));
    let (mut manifest, blobs) = Manifest::build(
        project,
        provisional_version,
        parent,
        build_id,
        now_ms,
        files,
    )?;

    let mut versions = store.list_versions(project).await?;
    if let Some(parent) = parent {
        if !versions.contains(&parent) {
            return Err(CodeStoreError::NotFound {
                project: project.to_owned(),
                version: parent,
            });
        }
    }

    // A retried step whose first attempt already landed: hand back that version.
    if manifest.build_id.is_some() {
        if let Some(&newest) = versions.iter().max() {
            if let Some(existing) = store.get_manifest(project, newest).await? {
                if existing.same_content(&manifest) {
                    return Ok(SavedVersion {
                        manifest: existing,
                        new_blobs: 0,
                        reused_blobs: blobs.len(),
                        replayed: true,
                    });
                }
            }
        }
    }

    let (mut new_blobs, mut reused_blobs) = (0, 0);
    for (hash, bytes) in blobs {
        if store.put_blob(project, &hash, bytes).await? {
            new_blobs += 1;
        } else {
            reused_blobs += 1;
        }
    }

    // Highest number known to be taken, even if a stale listing does not show it yet; without it
    // a lagging list could make every attempt retry the same number.
    let mut taken = 0;
    for _ in 0..MAX_VERSION_ATTEMPTS {
        taken = versions.iter().copied().max().unwrap_or(0).max(taken);
        let version = taken
            .checked_add(1)
            .ok_or_else(|| CodeStoreError::InvalidVersion {
                detail: format!(
                    "project '{project}' has used every version number; create a new project"
                ),
            })?;
        manifest.version = version;
        if store.put_manifest(&manifest).await? {
            return Ok(SavedVersion {
                manifest,
                new_blobs,
                reused_blobs,
                replayed: false,
            });
        }
        // Lost the race for `version`. If the winner is this same build with the same files (a
        // concurrent duplicate), it already holds what we meant to save.
        if manifest.build_id.is_some() {
            if let Some(winner) = store.get_manifest(project, version).await? {
                if winner.same_content(&manifest) {
                    return Ok(SavedVersion {
                        manifest: winner,
                        new_blobs,
                        reused_blobs,
                        replayed: true,
                    });
                }
            }
        }
        taken = version;
        versions = store.list_versions(project).await?;
    }
    Err(CodeStoreError::VersionContention {
        project: project.to_owned(),
        attempts: MAX_VERSION_ATTEMPTS,
    })
}

/// The files that differ from version `a` (older) to version `b` (newer) of `project`, sorted by
/// path, with a unified diff for each modified text file.
///
/// Only the blobs of modified files are read; added and removed files are reported from their
/// manifests alone. Fails with [`CodeStoreError::NotFound`] naming a missing version, and with
/// [`CodeStoreError::MissingBlob`] if storage lost a blob that a manifest names.
pub async fn diff_versions<S: CodeStore + ?Sized>(
    store: &S,
    project: &str,
    a: u32,
    b: u32,
) -> Result<Vec<FileDiff>, CodeStoreError> {
    check_project(project)?;
    let old = load_manifest(store, project, a).await?;
    let new = load_manifest(store, project, b).await?;
    let changes = diff_manifests(&old, &new);

    let mut out =
        Vec::with_capacity(changes.added.len() + changes.removed.len() + changes.modified.len());
    for (paths, manifest, status) in [
        (changes.added, &new, FileStatus::Added),
        (changes.removed, &old, FileStatus::Removed),
    ] {
        for path in paths {
            let binary = !is_text_content_type(&manifest.files[&path].content_type);
            out.push(FileDiff {
                path,
                status,
                unified: None,
                binary,
            });
        }
    }
    for path in changes.modified {
        let old_bytes = load_blob(store, &old, &path).await?;
        let new_bytes = load_blob(store, &new, &path).await?;
        let binary = text_of(&old_bytes).is_none() || text_of(&new_bytes).is_none();
        let unified = if binary {
            None
        } else {
            unified_diff(&path, &old_bytes, &new_bytes)
        };
        out.push(FileDiff {
            path,
            status: FileStatus::Modified,
            unified,
            binary,
        });
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    Ok(out)
}

async fn load_manifest<S: CodeStore + ?Sized>(
    store: &S,
    project: &str,
    version: u32,
) -> Result<Manifest, CodeStoreError> {
    store
        .get_manifest(project, version)
        .await?
        .ok_or_else(|| CodeStoreError::NotFound {
            project: project.to_owned(),
            version,
        })
}

async fn load_blob<S: CodeStore + ?Sized>(
    store: &S,
    manifest: &Manifest,
    path: &FilePath,
) -> Result<Vec<u8>, CodeStoreError> {
    let hash = &manifest.files[path].hash;
    store
        .get_blob(&manifest.project, hash)
        .await?
        .ok_or_else(|| CodeStoreError::MissingBlob {
            project: manifest.project.clone(),
            version: manifest.version,
            path: path.clone(),
            hash: hash.clone(),
        })
}
