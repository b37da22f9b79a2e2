//! Blobs and manifests: what one version of an app's code is made of.
//!
//! Key decision: content addressing. A file's bytes are stored once under their sha256
//! ([`BlobHash`]); a version is only a small [`Manifest`] mapping paths to hashes. Rebuilding an
//! app after a one-line edit therefore writes one blob and one manifest, not the whole app, and
//! two versions can be compared by hash without reading any file. JSON is the stored form of a
//! manifest because it is small, diffable by hand and readable from any tool.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::CodeStoreError;
use super::path::{content_type_for, shown, FilePath};

/// Most files one version may hold. Generated apps have tens; the cap bounds manifest size and
/// the number of blob writes per save.
pub const MAX_FILES: usize = 500;

/// Largest single file, in bytes (5 MiB). Generated code is far smaller; this leaves room for
/// images and fonts while keeping any one blob cheap to hash, store and diff.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// Largest total size of one version's files, in bytes (25 MiB).
pub const MAX_TOTAL_BYTES: u64 = 25 * 1024 * 1024;

/// Longest accepted project id. Project ids are UUIDs (36 bytes) today.
const MAX_PROJECT_BYTES: usize = 64;

/// Longest accepted build id.
const MAX_BUILD_ID_BYTES: usize = 128;

/// The lowercase hex sha256 of a blob's bytes: its name in storage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobHash(String);

impl BlobHash {
    /// Parses a hash as stored: exactly 64 lowercase hex characters. Uppercase is refused rather
    /// than normalised so that one blob can never have two spellings (two storage keys).
    pub fn parse(value: &str) -> Result<Self, CodeStoreError> {
        if value.len() == 64
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            Ok(BlobHash(value.to_owned()))
        } else {
            Err(CodeStoreError::InvalidHash {
                value: shown(value),
            })
        }
    }

    /// The hash as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BlobHash {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BlobHash {
    type Error = CodeStoreError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        BlobHash::parse(&value)
    }
}

impl From<BlobHash> for String {
    fn from(hash: BlobHash) -> Self {
        hash.0
    }
}

/// The sha256 of `bytes`, as a [`BlobHash`].
pub fn hash_blob(bytes: &[u8]) -> BlobHash {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    BlobHash(hex)
}

/// One file of a version: which blob holds it, how big it is and how to serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The blob with the file's bytes.
    pub hash: BlobHash,
    /// The file's size in bytes.
    pub size: u64,
    /// The `Content-Type` to serve it with (from [`content_type_for`]).
    pub content_type: String,
}

/// One version of a project's code: its number, lineage and files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The project the version belongs to.
    pub project: String,
    /// The version number, from 1, unique within the project.
    pub version: u32,
    /// The version this one was derived from (an edit's base), if any; always older.
    pub parent: Option<u32>,
    /// The build that produced this version, if any.
    pub build_id: Option<String>,
    /// When the version was saved, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Every file of the version by path, in path order.
    pub files: BTreeMap<FilePath, FileEntry>,
}

/// A blob to store: its hash and its bytes.
pub type Blob = (BlobHash, Vec<u8>);

/// A version's file entries and the distinct blobs they need, before a version number is known.
pub(super) type Prepared = (BTreeMap<FilePath, FileEntry>, Vec<Blob>);

impl Manifest {
    /// Checks and hashes `files` and returns the manifest of version `version` together with the
    /// distinct blobs to store, sorted by hash (files with identical bytes share one blob).
    ///
    /// Fails on an invalid project or build id, version 0, a parent that is not older than
    /// `version`, a path given twice, or a file-count or size limit ([`MAX_FILES`],
    /// [`MAX_FILE_BYTES`], [`MAX_TOTAL_BYTES`]).
    pub fn build(
        project: &str,
        version: u32,
        parent: Option<u32>,
        build_id: Option<&str>,
        created_at_ms: i64,
        files: Vec<(FilePath, Vec<u8>)>,
    ) -> Result<(Manifest, Vec<Blob>), CodeStoreError> {
        check_project(project)?;
        check_build_id(build_id)?;
        check_version(version, parent)?;
        let (files, blobs) = prepare_files(files)?;
        let manifest = Manifest {
            project: project.to_owned(),
            version,
            parent,
            build_id: build_id.map(str::to_owned),
            created_at_ms,
            files,
        };
        Ok((manifest, blobs))
    }

    /// The stored form: compact JSON.
    pub fn to_json(&self) -> String {
        // Cannot fail: every key is a string and every value a plain string or number.
        serde_json::to_string(self).expect("a manifest always serialises to JSON")
    }

    /// Reads the stored form back, re-checking paths, hashes, project id and version numbers, so a
    /// manifest that was tampered with or written by a buggy adapter is refused as
    /// [`CodeStoreError::Corrupt`] instead of being served.
    pub fn from_json(json: &[u8]) -> Result<Manifest, CodeStoreError> {
        let manifest: Manifest =
            serde_json::from_slice(json).map_err(|e| CodeStoreError::Corrupt {
                detail: e.to_string(),
            })?;
        check_project(&manifest.project)
            .and_then(|()| check_build_id(manifest.build_id.as_deref()))
            .and_then(|()| check_version(manifest.version, manifest.parent))
            .map_err(|e| CodeStoreError::Corrupt {
                detail: e.to_string(),
            })?;
        Ok(manifest)
    }

    /// The sum of all file sizes, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }

    /// Whether `other` describes the same save: same project, parent, build and files. The
    /// version number and time are ignored; this is how a retried save recognises its own
    /// earlier write.
    pub(super) fn same_content(&self, other: &Manifest) -> bool {
        self.project == other.project
            && self.parent == other.parent
            && self.build_id == other.build_id
            && self.files == other.files
    }
}

/// Checks that `project` is safe to use inside storage keys.
pub(super) fn check_project(project: &str) -> Result<(), CodeStoreError> {
    let ok = !project.is_empty()
        && project.len() <= MAX_PROJECT_BYTES
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CodeStoreError::InvalidProject {
            project: shown(project),
            max: MAX_PROJECT_BYTES,
        })
    }
}

fn check_build_id(build_id: Option<&str>) -> Result<(), CodeStoreError> {
    match build_id {
        Some(id)
            if id.is_empty()
                || id.len() > MAX_BUILD_ID_BYTES
                || id.chars().any(char::is_control) =>
        {
            Err(CodeStoreError::InvalidBuildId {
                build_id: shown(id),
                max: MAX_BUILD_ID_BYTES,
            })
        }
        _ => Ok(()),
    }
}

fn check_version(version: u32, parent: Option<u32>) -> Result<(), CodeStoreError> {
    if version == 0 {
        return Err(CodeStoreError::InvalidVersion {
            detail: "version 0 is not valid; version numbers start at 1".to_owned(),
        });
    }
    match parent {
        Some(parent) if parent == 0 || parent >= version => Err(CodeStoreError::InvalidVersion {
            detail: format!(
                "parent {parent} of version {version} is not an earlier version; \
                 name a parent between 1 and {}",
                version - 1
            ),
        }),
        _ => Ok(()),
    }
}

/// Checks the limits, rejects repeated paths, hashes every file and keeps one copy of each
/// distinct blob. Limits that need no hashing are checked first, so oversized input is refused
/// before any CPU is spent on it.
pub(super) fn prepare_files(files: Vec<(FilePath, Vec<u8>)>) -> Result<Prepared, CodeStoreError> {
    if files.len() > MAX_FILES {
        return Err(CodeStoreError::TooManyFiles {
            count: files.len(),
            max: MAX_FILES,
        });
    }
    let mut total: u64 = 0;
    for (path, bytes) in &files {
        let size = bytes.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(CodeStoreError::FileTooLarge {
                path: path.clone(),
                size,
                max: MAX_FILE_BYTES,
            });
        }
        total += size;
    }
    if total > MAX_TOTAL_BYTES {
        return Err(CodeStoreError::TotalTooLarge {
            total,
            max: MAX_TOTAL_BYTES,
        });
    }

    let mut entries = BTreeMap::new();
    let mut blobs: BTreeMap<BlobHash, Vec<u8>> = BTreeMap::new();
    for (path, bytes) in files {
        let hash = hash_blob(&bytes);
        let entry = FileEntry {
            hash: hash.clone(),
            size: bytes.len() as u64,
            content_type: content_type_for(&path).to_owned(),
        };
        if entries.contains_key(&path) {
            return Err(CodeStoreError::DuplicatePath { path });
        }
        entries.insert(path, entry);
        blobs.entry(hash).or_insert(bytes);
    }
    Ok((entries, blobs.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> FilePath {
        FilePath::parse(p).unwrap()
    }

    #[test]
    fn hash_blob_is_lowercase_hex_sha256() {
        assert_eq!(
            hash_blob(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hash_blob(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn blob_hash_parse_refuses_anything_but_64_lowercase_hex() {
        let good = hash_blob(b"x");
        assert_eq!(BlobHash::parse(good.as_str()).unwrap(), good);
        for bad in [
            "",
            "abc",
            &good.as_str().to_uppercase(),
            &format!("{}0", good.as_str()),
            &format!("{}g", &good.as_str()[..63]),
        ] {
            let err = BlobHash::parse(bad).unwrap_err();
            assert!(!err.retryable());
            assert!(err.to_string().contains("64 lowercase hex"), "{err}");
        }
    }

    #[test]
    fn build_shares_one_blob_between_identical_files_and_records_sizes_and_types() {
        let (manifest, blobs) = Manifest::build(
            "p1",
            1,
            None,
            Some("b1"),
            42,
            vec![
                (path("index.html"), b"<h1>hi</h1>".to_vec()),
                (path("copy.html"), b"<h1>hi</h1>".to_vec()),
                (path("logo.png"), vec![0x89, b'P', b'N', b'G']),
            ],
        )
        .unwrap();

        assert_eq!(blobs.len(), 2);
        assert!(blobs.windows(2).all(|w| w[0].0 < w[1].0), "sorted by hash");
        assert_eq!(manifest.files.len(), 3);
        let index = &manifest.files["index.html"];
        assert_eq!(index.hash, hash_blob(b"<h1>hi</h1>"));
        assert_eq!(index.size, 11);
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert_eq!(manifest.files["copy.html"].hash, index.hash);
        assert_eq!(manifest.files["logo.png"].content_type, "image/png");
        assert_eq!(manifest.total_bytes(), 26);
        assert_eq!(manifest.build_id.as_deref(), Some("b1"));
    }

    #[test]
    fn build_rejects_a_path_given_twice() {
        let err = Manifest::build(
            "p1",
            1,
            None,
            None,
            0,
            vec![(path("a.js"), b"1".to_vec()), (path("a.js"), b"2".to_vec())],
        )
        .unwrap_err();
        assert_eq!(err, CodeStoreError::DuplicatePath { path: path("a.js") });
        assert_eq!(
            err.to_string(),
            "path 'a.js' appears more than once in the version; keep one file per path"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let build = |files| Manifest::build("p1", 1, None, None, 0, files);

        let at_limit: Vec<_> = (0..MAX_FILES)
            .map(|i| (path(&format!("f{i}.txt")), vec![]))
            .collect();
        assert!(build(at_limit).is_ok());
        let too_many: Vec<_> = (0..=MAX_FILES)
            .map(|i| (path(&format!("f{i}.txt")), vec![]))
            .collect();
        assert_eq!(
            build(too_many).unwrap_err(),
            CodeStoreError::TooManyFiles {
                count: MAX_FILES + 1,
                max: MAX_FILES
            }
        );

        let max = MAX_FILE_BYTES as usize;
        assert!(build(vec![(path("big.bin"), vec![0; max])]).is_ok());
        assert_eq!(
            build(vec![(path("big.bin"), vec![0; max + 1])]).unwrap_err(),
            CodeStoreError::FileTooLarge {
                path: path("big.bin"),
                size: MAX_FILE_BYTES + 1,
                max: MAX_FILE_BYTES
            }
        );

        // Six files of 5 MiB each are fine one by one but exceed 25 MiB together.
        let six: Vec<_> = (0..6)
            .map(|i| (path(&format!("f{i}.bin")), vec![i as u8; max]))
            .collect();
        let err = build(six).unwrap_err();
        assert_eq!(
            err,
            CodeStoreError::TotalTooLarge {
                total: 6 * MAX_FILE_BYTES,
                max: MAX_TOTAL_BYTES
            }
        );
        assert!(!err.retryable());
    }

    #[test]
    fn build_checks_project_build_id_and_version_numbers() {
        let build = |project: &str, version, parent, build_id| {
            Manifest::build(project, version, parent, build_id, 0, vec![])
        };
        assert!(build("3f2a-b_9", 1, None, None).is_ok());
        assert!(build("p", 5, Some(4), Some("build-1")).is_ok());
        for bad in ["", "a/b", "a b", "..", &"p".repeat(65)] {
            let err = build(bad, 1, None, None).unwrap_err();
            assert!(
                matches!(err, CodeStoreError::InvalidProject { .. }),
                "{bad:?}: {err}"
            );
        }
        assert!(matches!(
            build("p", 1, None, Some("")).unwrap_err(),
            CodeStoreError::InvalidBuildId { .. }
        ));
        assert!(matches!(
            build("p", 1, None, Some("a\nb")).unwrap_err(),
            CodeStoreError::InvalidBuildId { .. }
        ));
        assert_eq!(
            build("p", 0, None, None).unwrap_err().to_string(),
            "version 0 is not valid; version numbers start at 1"
        );
        assert_eq!(
            build("p", 3, Some(3), None).unwrap_err().to_string(),
            "parent 3 of version 3 is not an earlier version; name a parent between 1 and 2"
        );
        assert!(build("p", 3, Some(0), None).is_err());
    }

    #[test]
    fn manifest_json_round_trips_and_uses_plain_strings() {
        let (manifest, _) = Manifest::build(
            "p1",
            2,
            Some(1),
            Some("b7"),
            1_700_000_000_000,
            vec![
                (path("worker.js"), b"export default {}".to_vec()),
                (
                    path("migrations/0001_init.sql"),
                    b"create table t(id);".to_vec(),
                ),
            ],
        )
        .unwrap();

        let json = manifest.to_json();
        assert_eq!(Manifest::from_json(json.as_bytes()).unwrap(), manifest);

        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["project"], "p1");
        assert_eq!(value["version"], 2);
        assert_eq!(value["parent"], 1);
        assert_eq!(value["build_id"], "b7");
        assert_eq!(value["created_at_ms"], 1_700_000_000_000_i64);
        let worker = &value["files"]["worker.js"];
        assert_eq!(worker["hash"], hash_blob(b"export default {}").as_str());
        assert_eq!(worker["size"], 17);
        assert_eq!(worker["content_type"], "text/javascript; charset=utf-8");
        let keys: Vec<_> = value["files"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["migrations/0001_init.sql", "worker.js"]);
    }

    #[test]
    fn from_json_refuses_damaged_manifests() {
        let (manifest, _) =
            Manifest::build("p1", 2, Some(1), None, 0, vec![(path("a.js"), vec![1])]).unwrap();
        let json = manifest.to_json();
        let hash = manifest.files["a.js"].hash.as_str().to_owned();
        for damaged in [
            json.replace("\"a.js\"", "\"../a.js\""),
            json.replace(&hash, "not-a-hash"),
            json.replace("\"version\":2", "\"version\":0"),
            json.replace("\"parent\":1", "\"parent\":9"),
            json.replace("\"p1\"", "\"p/1\""),
            "{".to_owned(),
        ] {
            let err = Manifest::from_json(damaged.as_bytes()).unwrap_err();
            assert!(
                matches!(err, CodeStoreError::Corrupt { .. }),
                "{damaged}: {err}"
            );
            assert!(!err.retryable());
        }
    }
}
