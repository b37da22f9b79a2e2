//! Scenario tests for `save_version` and `diff_versions` over `MemCodeStore`, plus wrappers that
//! simulate what a real store does to us: lost races, stale listings, failing writes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;

/// Runs a future that never waits (every `MemCodeStore` call is immediately ready).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("test futures must be immediately ready"),
    }
}

fn path(p: &str) -> FilePath {
    FilePath::parse(p).unwrap()
}

fn file(p: &str, body: &str) -> (FilePath, Vec<u8>) {
    (path(p), body.as_bytes().to_vec())
}

fn ten_files() -> Vec<(FilePath, Vec<u8>)> {
    (0..10)
        .map(|i| {
            let body: String = (1..=8)
                .map(|line| format!("file {i} line {line}\n"))
                .collect();
            file(&format!("src/f{i}.js"), &body)
        })
        .collect()
}

fn save(
    store: &impl CodeStore,
    parent: Option<u32>,
    build: &str,
    files: Vec<(FilePath, Vec<u8>)>,
) -> Result<SavedVersion, CodeStoreError> {
    block_on(save_version(store, "p1", parent, Some(build), 1_000, files))
}

/// A store where other writers get in first: each queued rival manifest lands at the very
/// version number our `put_manifest` is about to take.
#[derive(Default)]
struct RacingStore {
    inner: MemCodeStore,
    rivals: RefCell<Vec<Manifest>>,
    /// When set, `list_versions` lags behind and always reports no versions.
    stale_listing: Cell<bool>,
}

impl RacingStore {
    fn rival(&self, build: &str, body: &str) {
        let (manifest, _) =
            Manifest::build("p1", 1, None, Some(build), 5, vec![file("a.js", body)]).unwrap();
        self.rivals.borrow_mut().push(manifest);
    }
}

impl CodeStore for RacingStore {
    async fn put_blob(
        &self,
        project: &str,
        hash: &BlobHash,
        bytes: Vec<u8>,
    ) -> Result<bool, CodeStoreError> {
        self.inner.put_blob(project, hash, bytes).await
    }

    async fn get_blob(
        &self,
        project: &str,
        hash: &BlobHash,
    ) -> Result<Option<Vec<u8>>, CodeStoreError> {
        self.inner.get_blob(project, hash).await
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<bool, CodeStoreError> {
        let rival = self.rivals.borrow_mut().pop();
        if let Some(mut rival) = rival {
            rival.version = manifest.version;
            assert!(self.inner.put_manifest(&rival).await?);
        }
        self.inner.put_manifest(manifest).await
    }

    async fn get_manifest(
        &self,
        project: &str,
        version: u32,
    ) -> Result<Option<Manifest>, CodeStoreError> {
        self.inner.get_manifest(project, version).await
    }

    async fn list_versions(&self, project: &str) -> Result<Vec<u32>, CodeStoreError> {
        if self.stale_listing.get() {
            return Ok(vec![]);
        }
        self.inner.list_versions(project).await
    }
}

/// A store whose blob writes start failing after `ok_writes` successes, like R2 returning 503.
struct FlakyStore {
    inner: MemCodeStore,
    ok_writes: Cell<usize>,
}

impl CodeStore for FlakyStore {
    async fn put_blob(
        &self,
        project: &str,
        hash: &BlobHash,
        bytes: Vec<u8>,
    ) -> Result<bool, CodeStoreError> {
        match self.ok_writes.get() {
            0 => Err(CodeStoreError::Storage(
                "r2 put: 503 service unavailable".into(),
            )),
            n => {
                self.ok_writes.set(n - 1);
                self.inner.put_blob(project, hash, bytes).await
            }
        }
    }

    async fn get_blob(
        &self,
        project: &str,
        hash: &BlobHash,
    ) -> Result<Option<Vec<u8>>, CodeStoreError> {
        self.inner.get_blob(project, hash).await
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<bool, CodeStoreError> {
        self.inner.put_manifest(manifest).await
    }

    async fn get_manifest(
        &self,
        project: &str,
        version: u32,
    ) -> Result<Option<Manifest>, CodeStoreError> {
        self.inner.get_manifest(project, version).await
    }

    async fn list_versions(&self, project: &str) -> Result<Vec<u32>, CodeStoreError> {
        self.inner.list_versions(project).await
    }
}

#[test]
fn two_versions_sharing_nine_of_ten_files_store_eleven_blobs_not_twenty() {
    let store = MemCodeStore::new();
    let mut files = ten_files();

    let v1 = save(&store, None, "b1", files.clone()).unwrap();
    files[3].1 = b"file 3 rewritten\n".to_vec();
    let v2 = save(&store, Some(1), "b2", files).unwrap();

    assert_eq!(
        (v1.manifest.version, v1.new_blobs, v1.reused_blobs),
        (1, 10, 0)
    );
    assert_eq!(
        (v2.manifest.version, v2.new_blobs, v2.reused_blobs),
        (2, 1, 9)
    );
    assert_eq!(v2.manifest.parent, Some(1));
    assert!(!v1.replayed && !v2.replayed);
    assert_eq!(store.blob_count(), 11);
    assert_eq!(block_on(store.list_versions("p1")).unwrap(), [1, 2]);
    assert_eq!(
        block_on(store.get_manifest("p1", 2)).unwrap().unwrap(),
        v2.manifest
    );
}

#[test]
fn the_diff_between_them_lists_exactly_the_one_modified_file_with_a_correct_unified_diff() {
    let store = MemCodeStore::new();
    let mut files = ten_files();
    save(&store, None, "b1", files.clone()).unwrap();
    files[3].1 = replace_line(&files[3].1, "file 3 line 5\n", "file 3 line five\n");
    save(&store, Some(1), "b2", files).unwrap();

    let diff = block_on(diff_versions(&store, "p1", 1, 2)).unwrap();

    assert_eq!(
        diff,
        [FileDiff {
            path: path("src/f3.js"),
            status: FileStatus::Modified,
            unified: Some(
                "--- a/src/f3.js\n\
                 +++ b/src/f3.js\n\
                 @@ -2,7 +2,7 @@\n \
                 file 3 line 2\n \
                 file 3 line 3\n \
                 file 3 line 4\n\
                 -file 3 line 5\n\
                 +file 3 line five\n \
                 file 3 line 6\n \
                 file 3 line 7\n \
                 file 3 line 8\n"
                    .to_owned()
            ),
            binary: false,
        }]
    );
    assert!(block_on(diff_versions(&store, "p1", 2, 2))
        .unwrap()
        .is_empty());
}

fn replace_line(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.contains(from), "{from:?} not in {text:?}");
    text.replace(from, to).into_bytes()
}

#[test]
fn diff_versions_reports_added_and_removed_files_in_path_order() {
    let store = MemCodeStore::new();
    save(
        &store,
        None,
        "b1",
        vec![
            file("index.html", "<p>hi</p>\n"),
            file("old.css", "p{}\n"),
            file("img/old.png", "\u{1}png"),
        ],
    )
    .unwrap();
    save(
        &store,
        Some(1),
        "b2",
        vec![
            file("index.html", "<p>hi</p>\n"),
            file("app.js", "go()\n"),
            file("img/new.webp", "riff"),
        ],
    )
    .unwrap();

    let diff = block_on(diff_versions(&store, "p1", 1, 2)).unwrap();

    let summary: Vec<_> = diff
        .iter()
        .map(|d| (d.path.as_str(), d.status, d.unified.is_some(), d.binary))
        .collect();
    assert_eq!(
        summary,
        [
            ("app.js", FileStatus::Added, false, false),
            ("img/new.webp", FileStatus::Added, false, true),
            ("img/old.png", FileStatus::Removed, false, true),
            ("old.css", FileStatus::Removed, false, false),
        ]
    );

    let back = block_on(diff_versions(&store, "p1", 2, 1)).unwrap();
    let statuses: Vec<_> = back.iter().map(|d| d.status).collect();
    assert_eq!(
        statuses,
        [
            FileStatus::Removed,
            FileStatus::Removed,
            FileStatus::Added,
            FileStatus::Added
        ]
    );
}

#[test]
fn a_modified_binary_file_gets_no_unified_text() {
    let store = MemCodeStore::new();
    let png = |last: u8| (path("logo.png"), vec![0x89, b'P', b'N', b'G', 0, last]);
    save(&store, None, "b1", vec![png(1)]).unwrap();
    save(&store, Some(1), "b2", vec![png(2)]).unwrap();

    let diff = block_on(diff_versions(&store, "p1", 1, 2)).unwrap();

    assert_eq!(diff.len(), 1);
    assert_eq!(diff[0].status, FileStatus::Modified);
    assert_eq!(diff[0].unified, None);
    assert!(diff[0].binary);
}

#[test]
fn diffing_a_missing_version_names_it() {
    let store = MemCodeStore::new();
    save(&store, None, "b1", vec![file("a.js", "1")]).unwrap();

    let err = block_on(diff_versions(&store, "p1", 1, 7)).unwrap_err();

    assert_eq!(
        err,
        CodeStoreError::NotFound {
            project: "p1".into(),
            version: 7
        }
    );
    assert_eq!(
        err.to_string(),
        "project 'p1' has no version 7; list the project's versions and pick one"
    );
    assert!(!err.retryable());
    assert!(matches!(
        block_on(diff_versions(&store, "../p1", 1, 1)).unwrap_err(),
        CodeStoreError::InvalidProject { .. }
    ));
}

#[test]
fn a_parent_that_does_not_exist_is_refused_before_anything_is_written() {
    let store = MemCodeStore::new();

    let err = save(&store, Some(3), "b1", ten_files()).unwrap_err();

    assert_eq!(
        err,
        CodeStoreError::NotFound {
            project: "p1".into(),
            version: 3
        }
    );
    assert_eq!((store.blob_count(), store.manifest_count()), (0, 0));
}

#[test]
fn limits_are_enforced_before_any_storage_call() {
    let store = MemCodeStore::new();
    let too_many: Vec<_> = (0..=MAX_FILES)
        .map(|i| file(&format!("f{i}.txt"), "x"))
        .collect();
    let too_big = vec![(path("big.bin"), vec![0; MAX_FILE_BYTES as usize + 1])];
    let twice = vec![file("a.js", "1"), file("a.js", "2")];

    for files in [too_many, too_big, twice] {
        let err = save(&store, None, "b1", files).unwrap_err();
        assert!(!err.retryable(), "{err}");
    }
    let err = block_on(save_version(&store, "", None, None, 0, vec![])).unwrap_err();
    assert!(matches!(err, CodeStoreError::InvalidProject { .. }));
    assert_eq!((store.blob_count(), store.manifest_count()), (0, 0));
}

#[test]
fn a_save_that_loses_the_race_for_a_version_number_takes_the_next_one() {
    let store = RacingStore::default();
    // Two other builds each land right before our manifest write.
    store.rival("rival-1", "r1");
    store.rival("rival-2", "r2");

    let ours = save(&store, None, "ours", ten_files()).unwrap();

    assert_eq!(ours.manifest.version, 3);
    assert_eq!(ours.manifest.build_id.as_deref(), Some("ours"));
    assert_eq!(block_on(store.list_versions("p1")).unwrap(), [1, 2, 3]);
    let builds: Vec<_> = (1..=3)
        .map(|v| {
            block_on(store.get_manifest("p1", v))
                .unwrap()
                .unwrap()
                .build_id
                .unwrap()
        })
        .collect();
    assert_eq!(builds, ["rival-2", "rival-1", "ours"]);
}

#[test]
fn a_stale_version_listing_still_yields_distinct_numbers() {
    let store = RacingStore::default();
    save(&store, None, "b1", vec![file("a.js", "1")]).unwrap();
    save(&store, None, "b2", vec![file("a.js", "2")]).unwrap();
    store.stale_listing.set(true);

    let third = save(&store, None, "b3", vec![file("a.js", "3")]).unwrap();

    assert_eq!(third.manifest.version, 3);
    store.stale_listing.set(false);
    assert_eq!(block_on(store.list_versions("p1")).unwrap(), [1, 2, 3]);
}

#[test]
fn endless_contention_gives_up_with_a_retryable_error() {
    let store = RacingStore::default();
    for i in 0..MAX_VERSION_ATTEMPTS {
        store.rival(&format!("rival-{i}"), &format!("r{i}"));
    }

    let err = save(&store, None, "ours", vec![file("a.js", "ours")]).unwrap_err();

    assert_eq!(
        err,
        CodeStoreError::VersionContention {
            project: "p1".into(),
            attempts: MAX_VERSION_ATTEMPTS
        }
    );
    assert!(err.retryable());
    // Our blob is stored (harmless, shared by the retry); our manifest is not.
    let retry = save(&store, None, "ours", vec![file("a.js", "ours")]).unwrap();
    assert_eq!(retry.manifest.version, MAX_VERSION_ATTEMPTS + 1);
    assert_eq!((retry.new_blobs, retry.reused_blobs), (0, 1));
}

#[test]
fn a_retried_save_of_the_same_build_returns_the_version_it_already_saved() {
    let store = MemCodeStore::new();
    let first = save(&store, None, "b1", ten_files()).unwrap();

    let retry = save(&store, None, "b1", ten_files()).unwrap();

    assert!(retry.replayed);
    assert_eq!(retry.manifest, first.manifest);
    assert_eq!((retry.new_blobs, retry.reused_blobs), (0, 10));
    assert_eq!(store.manifest_count(), 1);

    // Without a build id, saving the same files again is a deliberate new version.
    let again = block_on(save_version(&store, "p1", None, None, 2, ten_files())).unwrap();
    let and_again = block_on(save_version(&store, "p1", None, None, 3, ten_files())).unwrap();
    assert_eq!((again.manifest.version, and_again.manifest.version), (2, 3));
    assert!(!and_again.replayed);
}

#[test]
fn a_concurrent_duplicate_of_the_same_build_adopts_the_winner() {
    let store = RacingStore::default();
    // The winner is a copy of this very save (same build, same files) that got in first.
    store.rival("same", "body");

    let ours = save(&store, None, "same", vec![file("a.js", "body")]).unwrap();

    assert!(ours.replayed);
    assert_eq!(ours.manifest.version, 1);
    assert_eq!(ours.manifest.created_at_ms, 5, "the winner's manifest");
    assert_eq!(block_on(store.list_versions("p1")).unwrap(), [1]);
}

#[test]
fn a_storage_failure_while_writing_blobs_is_retryable_and_leaves_no_manifest() {
    let store = FlakyStore {
        inner: MemCodeStore::new(),
        ok_writes: Cell::new(4),
    };

    let err = save(&store, None, "b1", ten_files()).unwrap_err();

    assert!(err.retryable(), "{err}");
    assert_eq!(
        err.to_string(),
        "code storage failed: r2 put: 503 service unavailable; retry later"
    );
    assert_eq!(store.inner.manifest_count(), 0);
    assert_eq!(store.inner.blob_count(), 4);

    store.ok_writes.set(usize::MAX);
    let retry = save(&store, None, "b1", ten_files()).unwrap();
    assert_eq!(retry.manifest.version, 1);
    assert_eq!((retry.new_blobs, retry.reused_blobs), (6, 4));
}

#[test]
fn a_manifest_naming_a_lost_blob_is_reported_as_missing_blob() {
    let store = MemCodeStore::new();
    save(&store, None, "b1", vec![file("a.js", "one\n")]).unwrap();
    save(&store, Some(1), "b2", vec![file("a.js", "two\n")]).unwrap();
    let lost = hash_blob(b"two\n");
    store.remove_blob("p1", &lost).unwrap();

    let err = block_on(diff_versions(&store, "p1", 1, 2)).unwrap_err();

    assert_eq!(
        err,
        CodeStoreError::MissingBlob {
            project: "p1".into(),
            version: 2,
            path: path("a.js"),
            hash: lost,
        }
    );
    assert!(!err.retryable());
}

#[test]
fn a_damaged_stored_manifest_is_refused_not_served() {
    let store = MemCodeStore::new();
    save(&store, None, "b1", vec![file("a.js", "1")]).unwrap();
    store.overwrite_manifest_json("p1", 1, br#"{"project":"p1","version":1}"#.to_vec());

    let err = block_on(store.get_manifest("p1", 1)).unwrap_err();

    assert!(matches!(err, CodeStoreError::Corrupt { .. }), "{err}");
    assert!(matches!(
        block_on(diff_versions(&store, "p1", 1, 1)).unwrap_err(),
        CodeStoreError::Corrupt { .. }
    ));
}

#[test]
fn projects_are_numbered_independently() {
    let store = MemCodeStore::new();
    save(&store, None, "b1", ten_files()).unwrap();

    let other = block_on(save_version(&store, "p2", None, Some("b9"), 0, ten_files())).unwrap();

    assert_eq!(other.manifest.version, 1);
    assert_eq!(block_on(store.list_versions("p2")).unwrap(), [1]);
    assert_eq!(
        block_on(store.list_versions("p3")).unwrap(),
        Vec::<u32>::new()
    );
    assert_eq!(block_on(store.get_manifest("p3", 1)).unwrap(), None);
}

#[test]
fn two_projects_saving_identical_files_both_write_every_blob_so_neither_learns_of_the_other() {
    let store = MemCodeStore::new();

    let first = save(&store, None, "b1", ten_files()).unwrap();
    let second = block_on(save_version(&store, "p2", None, Some("b9"), 0, ten_files())).unwrap();

    assert_eq!((first.new_blobs, first.reused_blobs), (10, 0));
    assert_eq!(
        (second.new_blobs, second.reused_blobs),
        (10, 0),
        "another tenant's identical files must not count as reused"
    );
    assert_eq!(store.blob_count(), 20, "each project holds its own copy");
}

#[test]
fn a_project_cannot_read_another_projects_blob_by_hash() {
    let store = MemCodeStore::new();
    save(&store, None, "b1", vec![file("a.js", "secret sauce\n")]).unwrap();
    let hash = hash_blob(b"secret sauce\n");

    assert_eq!(
        block_on(store.get_blob("p1", &hash)).unwrap().as_deref(),
        Some(&b"secret sauce\n"[..])
    );
    assert_eq!(block_on(store.get_blob("p2", &hash)).unwrap(), None);
}

#[test]
fn blob_keys_live_under_the_projects_prefix() {
    let hash = hash_blob(b"x");
    let key = blob_key("p1", &hash);

    assert_eq!(key, format!("blobs/p1/{}", hash.as_str()));
    assert!(key.starts_with(&blob_prefix("p1")));
    assert!(
        !key.starts_with(&blob_prefix("p")),
        "a prefix ends at the separator"
    );
}
