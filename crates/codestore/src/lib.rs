//! Content-addressed code version store: manifests, the CodeStore port, diffs.
//!
//! Every build's output is saved as an immutable, numbered version of the project's code, and
//! every deploy names one. This module is the pure half of that: parsing file paths, hashing and
//! deduplicating files, building and checking manifests, allocating version numbers, and
//! comparing versions. Storage is behind the [`CodeStore`] port (R2 in the Worker,
//! [`MemCodeStore`] in tests).
//!
//! | module | purpose |
//! |---|---|
//! | `path` | [`FilePath`], the only way a file path enters; [`content_type_for`] |
//! | `manifest` | [`BlobHash`], [`hash_blob`], [`FileEntry`], [`Manifest`] and the size limits |
//! | `diff` | [`diff_manifests`], [`unified_diff`], [`FileDiff`] |
//! | `store` | the [`CodeStore`] port and [`MemCodeStore`] |
//! | `service` | [`save_version`] and [`diff_versions`] over any [`CodeStore`] |
//! | `error` | [`CodeStoreError`] and its retryable / terminal split |
//!
//! Key decision: content addressing within a project. A project's files are stored once, as
//! blobs named by their sha256 under the project's own prefix ([`blob_key`]), and a version is a
//! small JSON manifest mapping paths to hashes. Identical files across a project's versions cost
//! nothing, a rebuild that changes one file writes one blob, and "what changed between v3 and v7"
//! is answered from two manifests without reading any file. Deduplication deliberately stops at
//! the project boundary: two projects storing the same file each write their own copy, so a
//! save's `new_blobs` / `reused_blobs` (and its timing) reveal nothing about other tenants, and a
//! deleted project's blobs are removed by prefix ([`blob_prefix`]) without asking who else uses
//! them. Blobs are always written before the manifest that names them, so a readable version is
//! always complete.
//!
//! ```
//! use events::testing::block_on;
//! use codestore::{diff_versions, save_version, FilePath, MemCodeStore};
//!
//! let store = MemCodeStore::new();
//! let file = |p: &str, body: &str| (FilePath::parse(p).unwrap(), body.as_bytes().to_vec());
//! let v1 = block_on(save_version(&store, "p1", None, Some("b1"), 0, vec![
//!     file("worker.js", "export default {};\n"),
//!     file("index.html", "<h1>Todo</h1>\n"),
//! ]))
//! .unwrap();
//! let v2 = block_on(save_version(&store, "p1", Some(1), Some("b2"), 1, vec![
//!     file("worker.js", "export default {};\n"),
//!     file("index.html", "<h1>Todos</h1>\n"),
//! ]))
//! .unwrap();
//! assert_eq!((v1.manifest.version, v2.manifest.version), (1, 2));
//! assert_eq!((v2.new_blobs, v2.reused_blobs), (1, 1));
//!
//! let diff = block_on(diff_versions(&store, "p1", 1, 2)).unwrap();
//! assert_eq!(diff.len(), 1);
//! assert!(diff[0].unified.as_deref().unwrap().contains("+<h1>Todos</h1>"));
//! ```
#![deny(missing_docs)]

mod diff;
mod error;
mod manifest;
mod path;
mod service;
mod store;

#[cfg(test)]
mod tests;

pub use diff::{
    diff_manifests, unified_diff, FileDiff, FileStatus, ManifestDiff, MAX_DIFF_BYTES,
    MAX_DIFF_LINES,
};
pub use error::CodeStoreError;
pub use manifest::{
    hash_blob, Blob, BlobHash, FileEntry, Manifest, MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES,
};
pub use path::{content_type_for, FilePath, PathError, MAX_PATH_BYTES, MAX_PATH_SEGMENTS};
pub use service::{diff_versions, save_version, SavedVersion, MAX_VERSION_ATTEMPTS};
pub use store::{CodeStore, MemCodeStore};

/// The storage key of a blob of `project`. Blobs are content-addressed *within* a project: two
/// projects that store the same file each get their own copy, so saving a version reveals nothing
/// about what other tenants stored, and a deleted project's blobs can be removed by prefix.
pub fn blob_key(project: &str, hash: &BlobHash) -> String {
    format!("blobs/{project}/{}", hash.as_str())
}

/// The prefix under which all of `project`'s blobs live (see [`blob_key`]).
pub fn blob_prefix(project: &str) -> String {
    format!("blobs/{project}/")
}
