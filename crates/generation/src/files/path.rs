//! Path safety for generated files: which paths a model may write.
//!
//! Key decision: an allow-list, not a deny-list. A generated app is `worker.js`, numbered
//! migrations and files under `public/` (static assets) or `src/` (app modules); anything else is
//! refused, so a model cannot overwrite the vendored runtime, write `wrangler.toml`, or smuggle a
//! `.env`. Paths are checked as text, never resolved against a file system.

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 200;

/// Deepest accepted nesting (number of `/`-separated segments).
pub const MAX_PATH_SEGMENTS: usize = 8;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// No path at all.
    #[error("the file path is empty; name the file, e.g. `=== FILE: worker.js ===`")]
    Empty,
    /// Longer than [`MAX_PATH_BYTES`] or deeper than [`MAX_PATH_SEGMENTS`].
    #[error("file path '{0}' is too long or too deep; keep paths short, e.g. public/app.js")]
    TooLong(String),
    /// Contains a `..` segment.
    #[error("file path '{0}' contains '..'; paths must stay inside the app")]
    ParentSegment(String),
    /// Starts with `/` or a drive letter.
    #[error(
        "file path '{0}' is absolute; use a relative path such as worker.js or public/index.html"
    )]
    Absolute(String),
    /// Contains a backslash.
    #[error("file path '{0}' contains a backslash; separate folders with '/'")]
    Backslash(String),
    /// A segment starts with `.` (`.env`, `.git/config`).
    #[error(
        "file path '{0}' has a hidden segment (starting with '.'); hidden files are not allowed"
    )]
    Hidden(String),
    /// A character outside `A-Z a-z 0-9 . _ -`, or an empty segment (`a//b`).
    #[error("file path '{0}' has a character or empty segment that is not allowed; use letters, digits, '.', '_' and '-'")]
    BadCharacter(String),
    /// A migration not named `migrations/NNNN_name.sql`.
    #[error("migration path '{0}' must look like migrations/0001_create_todos.sql (four digits, '_', lowercase name)")]
    BadMigrationName(String),
    /// Outside `worker.js`, `migrations/`, `public/` and `src/`.
    #[error("file path '{0}' is outside the app layout; allowed are worker.js, migrations/NNNN_name.sql, public/** and src/**")]
    NotAllowed(String),
}

/// Accepts `path` if a generated app may contain it.
///
/// # Errors
///
/// [`PathError`] naming the first rule the path breaks.
///
/// ```
/// use generation::files::check_path;
/// assert!(check_path("public/js/app.js").is_ok());
/// assert!(check_path("../wrangler.toml").is_err());
/// ```
pub fn check_path(path: &str) -> Result<(), PathError> {
    let owned = || shown(path);
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash(owned()));
    }
    let drive =
        path.len() >= 2 && path.as_bytes()[1] == b':' && path.as_bytes()[0].is_ascii_alphabetic();
    if path.starts_with('/') || drive {
        return Err(PathError::Absolute(owned()));
    }
    let segments: Vec<&str> = path.split('/').collect();
    if path.len() > MAX_PATH_BYTES || segments.len() > MAX_PATH_SEGMENTS {
        return Err(PathError::TooLong(owned()));
    }
    if segments.contains(&"..") {
        return Err(PathError::ParentSegment(owned()));
    }
    if segments.iter().any(|s| s.starts_with('.')) {
        return Err(PathError::Hidden(owned()));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if segments
        .iter()
        .any(|s| s.is_empty() || !s.chars().all(allowed))
    {
        return Err(PathError::BadCharacter(owned()));
    }
    match segments.as_slice() {
        ["worker.js"] => Ok(()),
        ["migrations", name] if is_migration_name(name) => Ok(()),
        ["migrations", ..] => Err(PathError::BadMigrationName(owned())),
        ["public" | "src", _, ..] => Ok(()),
        _ => Err(PathError::NotAllowed(owned())),
    }
}

/// At most 80 characters of `path`: enough to recognise it, never a huge line in a log.
pub(crate) fn shown(path: &str) -> String {
    const SHOWN_CHARS: usize = 80;
    match path.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &path[..cut]),
        None => path.to_string(),
    }
}

/// `NNNN_name.sql` with a lowercase snake_case name: the order `wrangler d1 migrations` applies.
fn is_migration_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".sql") else {
        return false;
    };
    let bytes = stem.as_bytes();
    bytes.len() > 5
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'_'
        && bytes[5..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// Cleans the decoration models put around a header path: quotes, backticks, bold, `./`.
pub(crate) fn clean_header_path(raw: &str) -> String {
    let mut path = raw.trim();
    loop {
        let before = path;
        path =
            path.trim_matches(|c: char| matches!(c, '`' | '"' | '\'' | '*') || c.is_whitespace());
        path = path.strip_prefix("./").unwrap_or(path);
        if path == before {
            return path.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_layout_is_allowed() {
        for ok in [
            "worker.js",
            "migrations/0001_init.sql",
            "migrations/0012_add_due_date.sql",
            "public/index.html",
            "public/js/components/TodoList.js",
            "src/routes/todos.js",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_kind_of_unsafe_path_is_refused_with_its_reason() {
        type Reason = fn(String) -> PathError;
        let cases: [(&str, Reason); 10] = [
            ("../worker.js", PathError::ParentSegment),
            ("public/../../etc/passwd", PathError::ParentSegment),
            ("/etc/passwd", PathError::Absolute),
            ("C:/app/worker.js", PathError::Absolute),
            ("public\\index.html", PathError::Backslash),
            (".env", PathError::Hidden),
            ("public/.htaccess", PathError::Hidden),
            ("wrangler.toml", PathError::NotAllowed),
            ("migrations/init.sql", PathError::BadMigrationName),
            ("public/my file.js", PathError::BadCharacter),
        ];
        for (path, expected) in cases {
            assert_eq!(check_path(path), Err(expected(path.to_string())), "{path}");
        }
        assert_eq!(check_path(""), Err(PathError::Empty));
        assert!(matches!(
            check_path("public/"),
            Err(PathError::BadCharacter(_))
        ));
        assert!(matches!(
            check_path("public"),
            Err(PathError::NotAllowed(_))
        ));
        assert!(matches!(
            check_path("migrations/0001_Init.sql"),
            Err(PathError::BadMigrationName(_))
        ));
        assert!(matches!(
            check_path(&"public/a".repeat(40)),
            Err(PathError::TooLong(_))
        ));
    }

    #[test]
    fn a_huge_path_is_shortened_in_the_error() {
        let huge = "x".repeat(10_000);
        let message = check_path(&huge).unwrap_err().to_string();
        assert!(message.len() < 300, "{message}");
    }

    #[test]
    fn header_decoration_is_removed() {
        assert_eq!(clean_header_path(" `./public/app.js` "), "public/app.js");
        assert_eq!(clean_header_path("**worker.js**"), "worker.js");
        assert_eq!(clean_header_path("\"src/db.js\""), "src/db.js");
    }
}
