//! [`FilePath`]: a file's place inside an app, parsed once at the edge so that nothing downstream
//! (storage keys, asset uploads, the Worker Loader's module map) ever sees `..`, an absolute path
//! or a hidden file.
//!
//! Key decision: an allow-list, not a deny-list. Paths may only use ASCII letters, digits, `-`,
//! `_`, `.` and `/`, so every path is also a valid R2 key, URL path and module specifier without
//! escaping, and look-alike Unicode or shell metacharacters cannot sneak in. The specific checks
//! before the allow-list exist only to give a precise error message for the common mistakes.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest accepted path, in bytes. Keeps storage keys (prefix + path) well under R2's limit.
pub const MAX_PATH_BYTES: usize = 200;

/// Deepest accepted path, in `/`-separated segments.
pub const MAX_PATH_SEGMENTS: usize = 16;

/// How much of an offending path an error message repeats: enough to recognise it, never a
/// megabyte of garbage in a log line.
const SHOWN_CHARS: usize = 80;

/// A safe, relative, `/`-separated path of a file inside an app, such as `public/app.js`.
///
/// Construct it with [`FilePath::parse`] (or `TryFrom`/`FromStr`); the field is private, so holding
/// a `FilePath` proves the rules below were checked:
/// - not empty, at most [`MAX_PATH_BYTES`] bytes and [`MAX_PATH_SEGMENTS`] segments;
/// - relative (no leading `/`), no empty segments (`a//b`, trailing `/`);
/// - no `.` or `..` segments and no hidden segments (starting with `.`);
/// - only ASCII letters, digits, `-`, `_`, `.` and `/` (so no `\`, spaces or control characters).
///
/// It serialises as a plain string and deserialising re-checks the rules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FilePath(String);

/// Why a string is not a valid [`FilePath`]. The `path` fields hold a display-safe rendering
/// (control characters escaped, long values shortened), not necessarily the raw input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is the empty string.
    #[error("path must not be empty; name a file such as 'index.html'")]
    Empty,
    /// The path is longer than [`MAX_PATH_BYTES`].
    #[error("path '{path}' is {len} bytes, over the limit of {max}; use a shorter path")]
    TooLong {
        /// The offending path.
        path: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The path has more than [`MAX_PATH_SEGMENTS`] segments.
    #[error(
        "path '{path}' has {count} segments, over the limit of {max}; use fewer nested folders"
    )]
    TooDeep {
        /// The offending path.
        path: String,
        /// Its number of segments.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The path contains a control character (NUL, newline, tab, ...).
    #[error("path '{path}' must not contain control characters; remove them")]
    ControlChar {
        /// The offending path, with control characters escaped.
        path: String,
    },
    /// The path contains a backslash.
    #[error("path '{path}' must not contain '\\'; separate folders with '/'")]
    Backslash {
        /// The offending path.
        path: String,
    },
    /// The path starts with `/`.
    #[error("path '{path}' must not start with '/'; use a path relative to the app root")]
    Absolute {
        /// The offending path.
        path: String,
    },
    /// The path has an empty segment (`a//b` or a trailing `/`).
    #[error("path '{path}' has an empty segment; remove the doubled or trailing '/'")]
    EmptySegment {
        /// The offending path.
        path: String,
    },
    /// The path has a `..` segment.
    #[error("path '{path}' must not contain '..'; use a path inside the app")]
    ParentSegment {
        /// The offending path.
        path: String,
    },
    /// The path has a `.` segment.
    #[error("path '{path}' must not contain '.' segments; remove the './'")]
    CurrentSegment {
        /// The offending path.
        path: String,
    },
    /// A segment starts with `.` (a hidden file or folder such as `.env` or `.git/`).
    #[error("path '{path}' has hidden segment '{segment}'; names must not start with '.'")]
    Hidden {
        /// The offending path.
        path: String,
        /// The hidden segment.
        segment: String,
    },
    /// The path contains a character outside the allow-list.
    #[error(
        "path '{path}' contains '{}'; use only ASCII letters, digits, '-', '_', '.' and '/'",
        .ch.escape_debug()
    )]
    InvalidChar {
        /// The offending path.
        path: String,
        /// The first character that is not allowed.
        ch: char,
    },
}

impl FilePath {
    /// Parses `raw` into a path, or says which rule it breaks and how to fix it.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        // Order matters only for the message: the most specific explanation wins.
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        let path = || shown(raw);
        if raw.chars().any(char::is_control) {
            return Err(PathError::ControlChar { path: path() });
        }
        if raw.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong {
                path: path(),
                len: raw.len(),
                max: MAX_PATH_BYTES,
            });
        }
        if raw.contains('\\') {
            return Err(PathError::Backslash { path: path() });
        }
        if raw.starts_with('/') {
            return Err(PathError::Absolute { path: path() });
        }
        if let Some(ch) = raw.chars().find(|&c| !is_allowed(c)) {
            return Err(PathError::InvalidChar { path: path(), ch });
        }
        let mut count = 0;
        for segment in raw.split('/') {
            count += 1;
            match segment {
                "" => return Err(PathError::EmptySegment { path: path() }),
                ".." => return Err(PathError::ParentSegment { path: path() }),
                "." => return Err(PathError::CurrentSegment { path: path() }),
                s if s.starts_with('.') => {
                    return Err(PathError::Hidden {
                        path: path(),
                        segment: s.to_owned(),
                    })
                }
                _ => {}
            }
        }
        if count > MAX_PATH_SEGMENTS {
            return Err(PathError::TooDeep {
                path: path(),
                count,
                max: MAX_PATH_SEGMENTS,
            });
        }
        Ok(FilePath(raw.to_owned()))
    }

    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The extension of the last segment (after its last `.`), if it has a non-empty one.
    pub fn extension(&self) -> Option<&str> {
        let name = self.0.rsplit('/').next().unwrap_or(&self.0);
        // Hidden names are rejected by `parse`, so a dot is never at index 0 here.
        name.rsplit_once('.')
            .map(|(_, ext)| ext)
            .filter(|e| !e.is_empty())
    }
}

fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

/// A rendering of untrusted input that is safe to put in a message: escaped and bounded.
pub(super) fn shown(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(SHOWN_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if raw.chars().nth(SHOWN_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FilePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Lets callers look up `BTreeMap<FilePath, _>` by `&str`; sound because the derived `Ord` on the
// single `String` field orders exactly like `str`.
impl Borrow<str> for FilePath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for FilePath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FilePath::parse(s)
    }
}

impl TryFrom<&str> for FilePath {
    type Error = PathError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        FilePath::parse(value)
    }
}

impl TryFrom<String> for FilePath {
    type Error = PathError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        FilePath::parse(&value)
    }
}

impl From<FilePath> for String {
    fn from(path: FilePath) -> Self {
        path.0
    }
}

/// The `Content-Type` to serve `path` with, chosen by its extension (case-insensitive).
///
/// Text types carry `; charset=utf-8` so browsers never guess an encoding; anything unknown is
/// `application/octet-stream`, which browsers download rather than render (the safe default for
/// a file an app did not mean to serve as a page).
pub fn content_type_for(path: &FilePath) -> &'static str {
    let Some(ext) = path.extension() else {
        return "application/octet-stream";
    };
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "sql" => "application/sql; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Whether `content_type` (as returned by [`content_type_for`]) is a text type.
pub(crate) fn is_text_content_type(content_type: &str) -> bool {
    content_type.ends_with("; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(raw: &str) -> PathError {
        FilePath::parse(raw).expect_err(raw)
    }

    #[test]
    fn path_safety_table() {
        let long = "a/".repeat(100) + "b"; // 201 bytes
        let deep = "a/".repeat(16) + "b"; // 17 segments, short
        type Expect = fn(&PathError) -> bool;
        let cases: Vec<(&str, Expect)> = vec![
            ("", |e| matches!(e, PathError::Empty)),
            ("..", |e| matches!(e, PathError::ParentSegment { .. })),
            ("../x", |e| matches!(e, PathError::ParentSegment { .. })),
            ("a/../../etc/passwd", |e| {
                matches!(e, PathError::ParentSegment { .. })
            }),
            ("a/..", |e| matches!(e, PathError::ParentSegment { .. })),
            ("./a", |e| matches!(e, PathError::CurrentSegment { .. })),
            ("a/./b", |e| matches!(e, PathError::CurrentSegment { .. })),
            ("/etc/passwd", |e| matches!(e, PathError::Absolute { .. })),
            ("/", |e| matches!(e, PathError::Absolute { .. })),
            ("a\\b.js", |e| matches!(e, PathError::Backslash { .. })),
            ("..\\x", |e| matches!(e, PathError::Backslash { .. })),
            ("C:\\x", |e| matches!(e, PathError::Backslash { .. })),
            ("C:/x", |e| {
                matches!(e, PathError::InvalidChar { ch: ':', .. })
            }),
            (".env", |e| matches!(e, PathError::Hidden { .. })),
            (".git/config", |e| matches!(e, PathError::Hidden { .. })),
            ("public/.hidden.js", |e| {
                matches!(e, PathError::Hidden { .. })
            }),
            ("a//b", |e| matches!(e, PathError::EmptySegment { .. })),
            ("a/", |e| matches!(e, PathError::EmptySegment { .. })),
            ("a\0b", |e| matches!(e, PathError::ControlChar { .. })),
            ("a\nb", |e| matches!(e, PathError::ControlChar { .. })),
            ("a b.js", |e| {
                matches!(e, PathError::InvalidChar { ch: ' ', .. })
            }),
            ("café.js", |e| matches!(e, PathError::InvalidChar { .. })),
            ("a?.js", |e| matches!(e, PathError::InvalidChar { .. })),
            ("~/x", |e| matches!(e, PathError::InvalidChar { .. })),
            (&long, |e| matches!(e, PathError::TooLong { len: 201, .. })),
            (&deep, |e| matches!(e, PathError::TooDeep { count: 17, .. })),
        ];
        for (raw, expected) in cases {
            let e = err(raw);
            assert!(expected(&e), "{raw:?} gave {e:?}");
        }

        let max_len = "a".repeat(MAX_PATH_BYTES);
        let max_deep = "a/".repeat(MAX_PATH_SEGMENTS - 1) + "b";
        for good in [
            "index.html",
            "worker.js",
            "migrations/0001_init.sql",
            "public/assets/app.min.js",
            "a-b_c.D9",
            "Makefile",
            "file.",
            "a..b",
            max_len.as_str(),
            max_deep.as_str(),
        ] {
            let path = FilePath::parse(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
            assert_eq!(path.as_str(), good);
        }
    }

    #[test]
    fn errors_are_lowercase_name_the_value_and_suggest_a_fix() {
        let message = err("../x").to_string();
        assert_eq!(
            message,
            "path '../x' must not contain '..'; use a path inside the app"
        );
        for raw in ["/x", "a\\b", ".env", "a//b", "a b", "./a"] {
            let message = err(raw).to_string();
            assert!(message.starts_with("path '"), "{message}");
            assert!(message.contains("; "), "no fix suggested: {message}");
        }
        assert_eq!(
            err(".git/config").to_string(),
            "path '.git/config' has hidden segment '.git'; names must not start with '.'"
        );
    }

    #[test]
    fn error_messages_escape_control_characters_and_bound_long_input() {
        let message = err("a\0b\n").to_string();
        assert!(message.contains("a\\0b\\n"), "{message}");
        assert!(!message.contains('\0'));

        let message = err(&"x".repeat(10_000)).to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("10000 bytes"), "{message}");
    }

    #[test]
    fn deserialising_rechecks_the_rules() {
        let ok: FilePath = serde_json::from_str("\"public/app.js\"").unwrap();
        assert_eq!(ok.as_str(), "public/app.js");
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"public/app.js\"");
        let bad = serde_json::from_str::<FilePath>("\"../secret\"").unwrap_err();
        assert!(bad.to_string().contains("'..'"), "{bad}");
    }

    #[test]
    fn content_types_follow_the_extension() {
        let ct = |p: &str| content_type_for(&FilePath::parse(p).unwrap());
        assert_eq!(ct("index.html"), "text/html; charset=utf-8");
        assert_eq!(ct("worker.js"), "text/javascript; charset=utf-8");
        assert_eq!(ct("lib/runtime.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(ct("app.css"), "text/css; charset=utf-8");
        assert_eq!(ct("data.json"), "application/json; charset=utf-8");
        assert_eq!(ct("app.js.map"), "application/json; charset=utf-8");
        assert_eq!(ct("logo.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(ct("LOGO.PNG"), "image/png");
        assert_eq!(ct("a.jpg"), "image/jpeg");
        assert_eq!(ct("a.jpeg"), "image/jpeg");
        assert_eq!(ct("a.gif"), "image/gif");
        assert_eq!(ct("a.webp"), "image/webp");
        assert_eq!(ct("favicon.ico"), "image/x-icon");
        assert_eq!(ct("notes.txt"), "text/plain; charset=utf-8");
        assert_eq!(ct("README.md"), "text/markdown; charset=utf-8");
        assert_eq!(
            ct("migrations/0001_init.sql"),
            "application/sql; charset=utf-8"
        );
        assert_eq!(ct("app.wasm"), "application/wasm");
        assert_eq!(ct("font.woff2"), "font/woff2");
        assert_eq!(ct("Makefile"), "application/octet-stream");
        assert_eq!(ct("file."), "application/octet-stream");
        assert_eq!(ct("archive.tar.gz"), "application/octet-stream");
        assert_eq!(ct("dir.js/file"), "application/octet-stream");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepted_paths_keep_every_rule(raw in "[a-zA-Z0-9./_\\\\ -]{0,40}") {
            if let Ok(path) = FilePath::parse(&raw) {
                let s = path.as_str();
                prop_assert_eq!(s, raw.as_str());
                prop_assert!(!s.starts_with('/') && !s.contains('\\') && !s.contains("//"));
                prop_assert!(s.split('/').all(|seg| !seg.is_empty() && !seg.starts_with('.')));
                let again: FilePath = serde_json::from_str(&serde_json::to_string(&path).unwrap()).unwrap();
                prop_assert_eq!(again, path);
            }
        }

        #[test]
        fn parse_is_total_on_arbitrary_unicode(raw in "(?s).{0,60}") {
            let _ = FilePath::parse(&raw);
        }
    }
}
