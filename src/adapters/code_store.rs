//! The code version store on R2: `blobs/<project>/<sha256>` (content-addressed within the
//! project, written once; the key is [`blob_key`], which the dispatch Worker reads too) and
//! `versions/<project>/<version:08>.json` (manifests).
//!
//! Both are written create-only (`onlyIf: {etagDoesNotMatch: "*"}`): a blob the project already
//! stored is not rewritten (identical files are stored once across the project's versions, never
//! shared with another project), and two savers racing for the same version number cannot both
//! win.

use codestore::{blob_key, BlobHash, CodeStore, CodeStoreError, Manifest};
use worker::{Bucket, Conditional};

/// [`CodeStore`] over one R2 bucket.
pub struct R2CodeStore {
    bucket: Bucket,
}

fn storage(what: &str, e: impl std::fmt::Display) -> CodeStoreError {
    CodeStoreError::Storage(format!("r2 {what}: {e}"))
}

fn manifest_prefix(project: &str) -> String {
    format!("versions/{project}/")
}

fn manifest_key(project: &str, version: u32) -> String {
    format!("versions/{project}/{version:08}.json")
}

fn create_only() -> Conditional {
    Conditional {
        etag_does_not_match: Some("*".into()),
        ..Default::default()
    }
}

impl R2CodeStore {
    /// Wraps the bucket binding.
    pub fn new(bucket: Bucket) -> Self {
        Self { bucket }
    }

    /// The code store in the platform bucket.
    pub fn of(env: &worker::Env) -> Result<Self, crate::error::ApiError> {
        Ok(Self::new(super::bindings::store_bucket(env)?))
    }

    async fn get_bytes(&self, key: String) -> Result<Option<Vec<u8>>, CodeStoreError> {
        let Some(obj) = self
            .bucket
            .get(key)
            .execute()
            .await
            .map_err(|e| storage("get", e))?
        else {
            return Ok(None);
        };
        match obj.body() {
            Some(b) => Ok(Some(b.bytes().await.map_err(|e| storage("read", e))?)),
            None => Ok(Some(Vec::new())),
        }
    }
}

impl CodeStore for R2CodeStore {
    async fn put_blob(
        &self,
        project: &str,
        hash: &BlobHash,
        bytes: Vec<u8>,
    ) -> Result<bool, CodeStoreError> {
        let written = self
            .bucket
            .put(blob_key(project, hash), bytes)
            .only_if(create_only())
            .execute()
            .await
            .map_err(|e| storage("put blob", e))?;
        Ok(written.is_some())
    }

    async fn get_blob(
        &self,
        project: &str,
        hash: &BlobHash,
    ) -> Result<Option<Vec<u8>>, CodeStoreError> {
        self.get_bytes(blob_key(project, hash)).await
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<bool, CodeStoreError> {
        let written = self
            .bucket
            .put(
                manifest_key(&manifest.project, manifest.version),
                manifest.to_json().into_bytes(),
            )
            .only_if(create_only())
            .execute()
            .await
            .map_err(|e| storage("put manifest", e))?;
        Ok(written.is_some())
    }

    async fn get_manifest(
        &self,
        project: &str,
        version: u32,
    ) -> Result<Option<Manifest>, CodeStoreError> {
        match self.get_bytes(manifest_key(project, version)).await? {
            Some(bytes) => Ok(Some(Manifest::from_json(&bytes)?)),
            None => Ok(None),
        }
    }

    async fn list_versions(&self, project: &str) -> Result<Vec<u32>, CodeStoreError> {
        let prefix = manifest_prefix(project);
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = self.bucket.list().prefix(prefix.clone()).limit(1000);
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = list
                .execute()
                .await
                .map_err(|e| storage("list versions", e))?;
            out.extend(page.objects().iter().filter_map(|o| {
                o.key()
                    .strip_prefix(&prefix)?
                    .strip_suffix(".json")?
                    .parse::<u32>()
                    .ok()
            }));
            match (page.truncated(), page.cursor()) {
                (true, Some(c)) => cursor = Some(c),
                _ => break,
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}
