//! The [`CodeStore`] port and [`MemCodeStore`], its in-memory implementation for tests.
//!
//! Key decisions:
//! - The port's futures are not `Send`: the production adapter awaits JavaScript promises (R2),
//!   which are `!Send`. `async fn` in the trait gives exactly that.
//! - The port is deliberately dumb (put/get by key, create-if-absent for manifests). Version
//!   allocation, blob-before-manifest ordering and retries live once, in
//!   [`super::save_version`], instead of in every adapter.
//! - Blobs belong to one project: every blob call names the project, and an adapter stores the
//!   blob under [`super::blob_key`]. Deduplication therefore stops at the project boundary, so
//!   whether a write was new says nothing about what other tenants stored.
//! - `MemCodeStore` keeps manifests in their stored JSON form and goes through
//!   [`Manifest::to_json`] / [`Manifest::from_json`], and keys blobs by [`super::blob_key`], so
//!   tests exercise what a real adapter stores.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::blob_key;
use super::error::CodeStoreError;
use super::manifest::{BlobHash, Manifest};

/// Storage for blobs (by project and hash) and manifests (by project and version).
///
/// Errors an adapter cannot attribute to bad input must be reported as
/// [`CodeStoreError::Storage`], which callers retry.
#[allow(async_fn_in_trait)] // on purpose: adapters await `!Send` JS futures
pub trait CodeStore {
    /// Stores `bytes` under `hash` for `project` (the caller guarantees
    /// `hash == hash_blob(&bytes)` and that `project` passed the manifest's project check).
    /// Returns `true` if the blob was newly written, `false` if `project` already stored it;
    /// another project's copy never counts. Storing the same blob twice is harmless, which is
    /// what makes retries safe.
    async fn put_blob(
        &self,
        project: &str,
        hash: &BlobHash,
        bytes: Vec<u8>,
    ) -> Result<bool, CodeStoreError>;

    /// The bytes `project` stored under `hash`, or `None` if it has no such blob.
    async fn get_blob(
        &self,
        project: &str,
        hash: &BlobHash,
    ) -> Result<Option<Vec<u8>>, CodeStoreError>;

    /// Stores `manifest` as version `manifest.version` of `manifest.project` only if that version
    /// does not exist yet, atomically (R2: a conditional put that fails if the key exists; SQL: a
    /// primary key). Returns `false`, changing nothing, if the version already exists: versions
    /// are immutable and the number was taken by another save.
    async fn put_manifest(&self, manifest: &Manifest) -> Result<bool, CodeStoreError>;

    /// The manifest of `version` of `project`, or `None` if there is no such version.
    async fn get_manifest(
        &self,
        project: &str,
        version: u32,
    ) -> Result<Option<Manifest>, CodeStoreError>;

    /// Every version number of `project`, ascending (empty for a project with no versions).
    async fn list_versions(&self, project: &str) -> Result<Vec<u32>, CodeStoreError>;
}

/// An in-memory [`CodeStore`] for tests and local tools. Single-threaded (`RefCell`), like the
/// Worker it stands in for.
#[derive(Debug, Default)]
pub struct MemCodeStore {
    /// Blobs by their storage key ([`blob_key`]).
    blobs: RefCell<BTreeMap<String, Vec<u8>>>,
    /// Manifests as stored: JSON bytes by (project, version).
    manifests: RefCell<BTreeMap<(String, u32), Vec<u8>>>,
}

impl MemCodeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many blobs are stored, across all projects (a file two projects store counts twice).
    pub fn blob_count(&self) -> usize {
        self.blobs.borrow().len()
    }

    /// How many manifests are stored, across all projects.
    pub fn manifest_count(&self) -> usize {
        self.manifests.borrow().len()
    }

    /// Replaces the stored bytes of a manifest, to test how damaged storage is handled.
    pub fn overwrite_manifest_json(&self, project: &str, version: u32, json: Vec<u8>) {
        self.manifests
            .borrow_mut()
            .insert((project.to_owned(), version), json);
    }

    /// Deletes a blob of `project`, to test how a manifest naming a missing blob is handled.
    pub fn remove_blob(&self, project: &str, hash: &BlobHash) -> Option<Vec<u8>> {
        self.blobs.borrow_mut().remove(&blob_key(project, hash))
    }
}

impl CodeStore for MemCodeStore {
    async fn put_blob(
        &self,
        project: &str,
        hash: &BlobHash,
        bytes: Vec<u8>,
    ) -> Result<bool, CodeStoreError> {
        let mut blobs = self.blobs.borrow_mut();
        let key = blob_key(project, hash);
        if blobs.contains_key(&key) {
            return Ok(false);
        }
        blobs.insert(key, bytes);
        Ok(true)
    }

    async fn get_blob(
        &self,
        project: &str,
        hash: &BlobHash,
    ) -> Result<Option<Vec<u8>>, CodeStoreError> {
        Ok(self.blobs.borrow().get(&blob_key(project, hash)).cloned())
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<bool, CodeStoreError> {
        let key = (manifest.project.clone(), manifest.version);
        let mut manifests = self.manifests.borrow_mut();
        if manifests.contains_key(&key) {
            return Ok(false);
        }
        manifests.insert(key, manifest.to_json().into_bytes());
        Ok(true)
    }

    async fn get_manifest(
        &self,
        project: &str,
        version: u32,
    ) -> Result<Option<Manifest>, CodeStoreError> {
        let manifests = self.manifests.borrow();
        manifests
            .get(&(project.to_owned(), version))
            .map(|json| Manifest::from_json(json))
            .transpose()
    }

    async fn list_versions(&self, project: &str) -> Result<Vec<u32>, CodeStoreError> {
        let range = (project.to_owned(), 0)..=(project.to_owned(), u32::MAX);
        Ok(self
            .manifests
            .borrow()
            .range(range)
            .map(|((_, version), _)| *version)
            .collect())
    }
}
