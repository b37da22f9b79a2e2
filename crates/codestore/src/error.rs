//! [`CodeStoreError`]: everything that can go wrong saving, loading or comparing code versions.
//!
//! Key decision: retryability is a property of the variant ([`CodeStoreError::retryable`]), not
//! of the message, so the build pipeline's step runner can pick "retry with backoff" or "fail the
//! build now" without string matching. Bad input is terminal: retrying cannot make a `..` path
//! valid. Only storage failures and version-number contention are worth another attempt.

use super::manifest::BlobHash;
use super::path::{FilePath, PathError};

/// Why a code store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeStoreError {
    /// A file path breaks the path rules.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The project id cannot be used as a storage key.
    #[error(
        "project id '{project}' is not valid; use 1 to {max} ASCII letters, digits, '-' or '_'"
    )]
    InvalidProject {
        /// The offending id (display-safe).
        project: String,
        /// The length limit.
        max: usize,
    },
    /// The build id is empty, too long or contains control characters.
    #[error("build id '{build_id}' is not valid; use 1 to {max} printable characters")]
    InvalidBuildId {
        /// The offending id (display-safe).
        build_id: String,
        /// The length limit.
        max: usize,
    },
    /// A version or parent number is impossible (version 0, or a parent not older than its child).
    #[error("{detail}")]
    InvalidVersion {
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// A string is not a lowercase hex sha256.
    #[error("blob hash '{value}' is not valid; expected 64 lowercase hex characters (sha256)")]
    InvalidHash {
        /// The offending value (display-safe).
        value: String,
    },
    /// The same path appears twice in one version.
    #[error("path '{path}' appears more than once in the version; keep one file per path")]
    DuplicatePath {
        /// The repeated path.
        path: FilePath,
    },
    /// A version has more files than [`super::MAX_FILES`].
    #[error("version has {count} files, over the limit of {max}; remove or merge files")]
    TooManyFiles {
        /// How many files were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A file is larger than [`super::MAX_FILE_BYTES`].
    #[error("file '{path}' is {size} bytes, over the limit of {max} per file; split or shrink it")]
    FileTooLarge {
        /// The file.
        path: FilePath,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A version's files add up to more than [`super::MAX_TOTAL_BYTES`].
    #[error("version totals {total} bytes, over the limit of {max}; remove large files")]
    TotalTooLarge {
        /// The sum of all file sizes.
        total: u64,
        /// The limit.
        max: u64,
    },
    /// The project has no such version (or no such parent version).
    #[error(
        "project '{project}' has no version {version}; list the project's versions and pick one"
    )]
    NotFound {
        /// The project.
        project: String,
        /// The missing version.
        version: u32,
    },
    /// A manifest names a blob that storage does not have. Blobs are written before their
    /// manifest, so this means storage lost data; retrying will not bring it back.
    #[error(
        "file '{path}' of project '{project}' version {version} refers to missing blob {hash}; \
         the stored version is damaged, save the files as a new version"
    )]
    MissingBlob {
        /// The project.
        project: String,
        /// The version whose manifest names the blob.
        version: u32,
        /// The file.
        path: FilePath,
        /// The missing blob.
        hash: BlobHash,
    },
    /// A stored manifest cannot be decoded.
    #[error("stored manifest cannot be read: {detail}; the stored version is damaged")]
    Corrupt {
        /// The decoder's complaint.
        detail: String,
    },
    /// Other saves kept taking the next version number; the whole save may be retried.
    #[error(
        "could not allocate a version number for project '{project}' after {attempts} attempts \
         because other saves kept winning; retry the save"
    )]
    VersionContention {
        /// The project.
        project: String,
        /// How many numbers were tried.
        attempts: u32,
    },
    /// The backing storage failed (network, rate limit, 5xx). Retry with backoff.
    #[error("code storage failed: {0}; retry later")]
    Storage(String),
}

impl CodeStoreError {
    /// Whether retrying the same call may succeed. True for [`CodeStoreError::Storage`] and
    /// [`CodeStoreError::VersionContention`]; every other variant is bad input or damaged data.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            CodeStoreError::Storage(_) | CodeStoreError::VersionContention { .. }
        )
    }
}
