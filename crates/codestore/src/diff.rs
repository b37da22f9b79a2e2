//! Comparing versions: which files changed ([`diff_manifests`]) and how ([`unified_diff`]).
//!
//! Key decision: the file-level diff works on manifests alone (hash equality), so listing what
//! changed between two versions never reads a blob; only the text of modified files is loaded,
//! and it is rendered as a standard unified diff (the `similar` crate, Myers, 3 lines of context)
//! that any developer and any patch tool understands. Files that are not UTF-8 text, and files too
//! big to diff within a Worker's CPU budget, get no text diff at all rather than a slow or
//! garbled one.

use serde::{Deserialize, Serialize};
use similar::TextDiff;

use super::manifest::Manifest;
use super::path::FilePath;

/// Largest side (in bytes) that [`unified_diff`] will compare; bounds memory and output size.
pub const MAX_DIFF_BYTES: usize = 1024 * 1024;

/// Most lines per side in the changed region (from the first to the last differing line) that
/// [`unified_diff`] will compare. Myers is O((N+M)·D): a one-line edit in a huge file is cheap,
/// but two unrelated 10 000-line texts take over a second of CPU natively, more than a Worker
/// request can spend. 2 000 lines keeps the worst case in the tens of milliseconds.
pub const MAX_DIFF_LINES: usize = 2_000;

/// Lines of unchanged context around each change, as in `diff -u` and `git diff`.
const CONTEXT_LINES: usize = 3;

/// Which paths differ between two manifests, each list sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDiff {
    /// Paths only in the newer manifest.
    pub added: Vec<FilePath>,
    /// Paths only in the older manifest.
    pub removed: Vec<FilePath>,
    /// Paths in both whose contents differ.
    pub modified: Vec<FilePath>,
    /// How many paths are in both with identical contents.
    pub unchanged: usize,
}

impl ManifestDiff {
    /// Whether the two manifests hold exactly the same files.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }
}

/// Compares the files of `a` (older) and `b` (newer) by path and content hash.
pub fn diff_manifests(a: &Manifest, b: &Manifest) -> ManifestDiff {
    // Both maps are BTreeMaps, so iterating them yields sorted lists with no extra sort.
    let mut diff = ManifestDiff::default();
    for (path, old) in &a.files {
        match b.files.get(path) {
            None => diff.removed.push(path.clone()),
            Some(new) if new.hash != old.hash => diff.modified.push(path.clone()),
            Some(_) => diff.unchanged += 1,
        }
    }
    diff.added = b
        .files
        .keys()
        .filter(|path| !a.files.contains_key(*path))
        .cloned()
        .collect();
    diff
}

/// A unified diff of `old` → `new` with `--- a/<path>` / `+++ b/<path>` headers and three lines of
/// context, or `None` when either side is not text (not UTF-8, or contains NUL bytes, the same
/// test git uses) or the pair is too costly to diff ([`MAX_DIFF_BYTES`], [`MAX_DIFF_LINES`] changed
/// lines). Identical texts give an empty string. A missing final newline is marked `\ No newline at end of file`.
pub fn unified_diff(path: &FilePath, old: &[u8], new: &[u8]) -> Option<String> {
    let old = text_of(old)?;
    let new = text_of(new)?;
    if too_big(old, new) {
        return None;
    }
    let diff = TextDiff::from_lines(old, new);
    let rendered = diff
        .unified_diff()
        .context_radius(CONTEXT_LINES)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    Some(rendered)
}

/// The bytes as text, if they are text.
pub(super) fn text_of(bytes: &[u8]) -> Option<&str> {
    if bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// Whether the pair is too costly to diff: a side over [`MAX_DIFF_BYTES`], or a changed region
/// over [`MAX_DIFF_LINES`]. Common leading and trailing lines are free for Myers (it trims them
/// first), so only the region between them counts; finding it is a linear scan.
fn too_big(old: &str, new: &str) -> bool {
    if old.len() > MAX_DIFF_BYTES || new.len() > MAX_DIFF_BYTES {
        return true;
    }
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let prefix = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old_lines[prefix..]
        .iter()
        .rev()
        .zip(new_lines[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let changed = (old_lines.len() - prefix - suffix).max(new_lines.len() - prefix - suffix);
    changed > MAX_DIFF_LINES
}

/// How a file changed between two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Only in the newer version.
    Added,
    /// Only in the older version.
    Removed,
    /// In both, with different contents.
    Modified,
}

/// One changed file between two versions, as shown to a user (serialises to
/// `{"path", "status": "added"|"removed"|"modified", "unified", "binary"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    /// The file.
    pub path: FilePath,
    /// How it changed.
    pub status: FileStatus,
    /// The unified diff, for modified text files only. `None` with `binary == false` on a
    /// modified file means it was too big to diff ([`MAX_DIFF_BYTES`], [`MAX_DIFF_LINES`]).
    pub unified: Option<String>,
    /// Whether the file is binary: for a modified file, either side is not UTF-8 text; for an
    /// added or removed file (whose bytes are not read), its content type is not a text type.
    pub binary: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> FilePath {
        FilePath::parse(p).unwrap()
    }

    fn manifest(files: &[(&str, &str)]) -> Manifest {
        let files = files
            .iter()
            .map(|(p, body)| (path(p), body.as_bytes().to_vec()))
            .collect();
        Manifest::build("p1", 1, None, None, 0, files).unwrap().0
    }

    #[test]
    fn diff_manifests_sorts_files_into_added_removed_modified_and_unchanged() {
        let a = manifest(&[
            ("a.js", "same"),
            ("b.js", "old"),
            ("gone.css", "x"),
            ("z.html", "same"),
        ]);
        let b = manifest(&[
            ("a.js", "same"),
            ("b.js", "new"),
            ("new/one.js", "1"),
            ("c.js", "2"),
            ("z.html", "same"),
        ]);

        let diff = diff_manifests(&a, &b);

        assert_eq!(diff.added, [path("c.js"), path("new/one.js")]);
        assert_eq!(diff.removed, [path("gone.css")]);
        assert_eq!(diff.modified, [path("b.js")]);
        assert_eq!(diff.unchanged, 2);
        assert!(!diff.is_empty());
        assert!(diff_manifests(&a, &a).is_empty());
        assert_eq!(diff_manifests(&a, &a).unchanged, 4);

        let reverse = diff_manifests(&b, &a);
        assert_eq!(reverse.added, diff.removed);
        assert_eq!(reverse.removed, diff.added);
    }

    #[test]
    fn unified_diff_is_standard_with_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n";

        let diff = unified_diff(&path("src/n.txt"), old.as_bytes(), new.as_bytes()).unwrap();

        assert_eq!(
            diff,
            "--- a/src/n.txt\n\
             +++ b/src/n.txt\n\
             @@ -2,7 +2,7 @@\n \
             2\n \
             3\n \
             4\n\
             -5\n\
             +five\n \
             6\n \
             7\n \
             8\n"
        );
    }

    #[test]
    fn unified_diff_marks_a_missing_final_newline_and_splits_distant_hunks() {
        let diff = unified_diff(&path("a.txt"), b"x", b"y").unwrap();
        assert_eq!(
            diff,
            "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n\
             +y\n\\ No newline at end of file\n"
        );

        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("2\n", "two\n").replace("19\n", "nineteen\n");
        let diff = unified_diff(&path("a.txt"), old.as_bytes(), new.as_bytes()).unwrap();
        assert_eq!(diff.matches("\n@@ ").count(), 2, "{diff}");
    }

    #[test]
    fn unified_diff_of_identical_text_is_empty() {
        assert_eq!(
            unified_diff(&path("a.txt"), b"same\n", b"same\n").as_deref(),
            Some("")
        );
    }

    #[test]
    fn binary_files_get_no_unified_text() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0];
        assert_eq!(unified_diff(&path("a.png"), &png, b"text"), None);
        assert_eq!(unified_diff(&path("a.png"), b"text", &png), None);
        assert_eq!(unified_diff(&path("a.bin"), b"a\0b", b"a\0c"), None);
        assert_eq!(unified_diff(&path("a.bin"), &[0xff, 0xfe], b"x"), None);
    }

    #[test]
    fn files_too_big_to_diff_get_no_unified_text() {
        let many_lines = "x\n".repeat(MAX_DIFF_LINES + 1);
        assert_eq!(
            unified_diff(&path("a.txt"), b"", many_lines.as_bytes()),
            None
        );
        let huge = "y".repeat(MAX_DIFF_BYTES + 1);
        assert_eq!(unified_diff(&path("a.txt"), huge.as_bytes(), b""), None);
        let at_limit = "x\n".repeat(MAX_DIFF_LINES);
        assert!(unified_diff(&path("a.txt"), b"", at_limit.as_bytes()).is_some());
    }

    #[test]
    fn a_small_edit_in_a_long_file_is_still_diffed() {
        let old: String = (0..3 * MAX_DIFF_LINES).map(|i| format!("{i}\n")).collect();
        let new = old.replace("\n4000\n", "\nfour thousand\n");
        let diff = unified_diff(&path("big.txt"), old.as_bytes(), new.as_bytes()).unwrap();
        assert!(diff.contains("@@ -3998,7 +3998,7 @@\n"), "{diff}");
        assert!(diff.contains("\n-4000\n+four thousand\n"), "{diff}");
    }

    #[test]
    fn file_diff_serialises_with_lowercase_status() {
        let diff = FileDiff {
            path: path("a.js"),
            status: FileStatus::Modified,
            unified: Some("--- a/a.js\n".to_owned()),
            binary: false,
        };
        let json = serde_json::to_value(&diff).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "path": "a.js", "status": "modified", "unified": "--- a/a.js\n", "binary": false
            })
        );
        assert_eq!(serde_json::from_value::<FileDiff>(json).unwrap(), diff);
        assert_eq!(
            serde_json::to_value(FileStatus::Added).unwrap(),
            serde_json::json!("added")
        );
        assert_eq!(
            serde_json::to_value(FileStatus::Removed).unwrap(),
            serde_json::json!("removed")
        );
    }
}
