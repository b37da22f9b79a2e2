//! What belongs to a version, cached in this isolate.
//!
//! Manifests and blobs never change once written (a version is immutable and a blob is named by
//! its hash), so they can be kept for as long as the isolate lives without any invalidation: a
//! deploy moves the live pointer to another version, which simply has other keys. Only the live
//! pointer is read on every request. Both caches are bounded (entry count for manifests, bytes for
//! blobs) and drop everything when full: simple, and a rebuild of the working set costs a few
//! reads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use codestore::{BlobHash, Manifest};

/// Most manifests kept.
pub const MAX_MANIFESTS: usize = 256;
/// Most blob bytes kept (32 MiB: well inside an isolate's 128 MB).
pub const MAX_BLOB_BYTES: usize = 32 * 1024 * 1024;
/// Blobs larger than this are never cached.
pub const MAX_CACHED_BLOB: usize = 2 * 1024 * 1024;

/// A project's version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionKey(String, u32);

impl VersionKey {
    /// The key of `version` of `project`.
    pub fn new(project: &str, version: u32) -> Self {
        Self(project.to_string(), version)
    }
}

#[derive(Default)]
struct Caches {
    manifests: HashMap<VersionKey, Rc<Manifest>>,
    blobs: HashMap<(String, String), Rc<Vec<u8>>>,
    blob_bytes: usize,
}

thread_local! {
    static CACHES: RefCell<Caches> = RefCell::new(Caches::default());
}

/// A cached manifest.
pub fn manifest(key: &VersionKey) -> Option<Rc<Manifest>> {
    CACHES.with(|c| c.borrow().manifests.get(key).cloned())
}

/// Caches a manifest.
pub fn put_manifest(key: VersionKey, m: Rc<Manifest>) {
    CACHES.with(|c| {
        let mut c = c.borrow_mut();
        if c.manifests.len() >= MAX_MANIFESTS {
            c.manifests.clear();
        }
        c.manifests.insert(key, m);
    })
}

/// A cached blob of `project`.
pub fn blob(project: &str, hash: &BlobHash) -> Option<Rc<Vec<u8>>> {
    CACHES.with(|c| {
        c.borrow()
            .blobs
            .get(&(project.to_string(), hash.as_str().to_string()))
            .cloned()
    })
}

/// Caches a blob of `project` (unless it is large).
pub fn put_blob(project: &str, hash: &BlobHash, bytes: Rc<Vec<u8>>) {
    if bytes.len() > MAX_CACHED_BLOB {
        return;
    }
    CACHES.with(|c| {
        let mut c = c.borrow_mut();
        if c.blob_bytes + bytes.len() > MAX_BLOB_BYTES {
            c.blobs.clear();
            c.blob_bytes = 0;
        }
        c.blob_bytes += bytes.len();
        c.blobs
            .insert((project.to_string(), hash.as_str().to_string()), bytes);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use codestore::hash_blob;

    #[test]
    fn blobs_are_cached_per_project_and_bounded() {
        let h = hash_blob(b"hello");
        put_blob("p1", &h, Rc::new(b"hello".to_vec()));
        assert!(blob("p1", &h).is_some());
        assert!(
            blob("p2", &h).is_none(),
            "another project's copy is its own"
        );
        let big = Rc::new(vec![0u8; MAX_CACHED_BLOB + 1]);
        let hb = hash_blob(&big);
        put_blob("p1", &hb, big);
        assert!(blob("p1", &hb).is_none(), "large blobs are not kept");
    }
}
