//! App slugs: the DNS label under which a project's app is served (`<slug>.<apps domain>`).
//!
//! A slug is derived from the project name (lowercase ASCII letters, digits and single hyphens,
//! at most 40 characters so a suffix still fits in the 63-character DNS label limit). Names with
//! no letters or digits cannot form a slug and are rejected. Uniqueness is global because slugs
//! share one URL namespace; the database enforces it and a collision gets a short suffix.

use crate::error::ApiError;

/// Longest base slug taken from a name; leaves room for a `-xxxx` suffix.
pub const MAX_BASE_LEN: usize = 40;

/// Labels that would shadow the platform or confuse people.
const RESERVED: &[&str] = &[
    "www",
    "api",
    "app",
    "apps",
    "admin",
    "kiln",
    "localhost",
    "static",
    "assets",
    "mail",
    "dashboard",
    "status",
];

/// A valid DNS label that names an app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    /// Derives the base slug from a project name.
    pub fn from_name(name: &str) -> Result<Self, ApiError> {
        let mut out = String::new();
        for c in name.chars().flat_map(fold_char) {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        if out.len() > MAX_BASE_LEN {
            out.truncate(MAX_BASE_LEN);
        }
        let out = out.trim_matches('-').to_string();
        if out.is_empty() {
            return Err(ApiError::invalid_field(
                "name",
                format!(
                    "name '{}' cannot form an app address; use at least one letter or digit (a-z, 0-9)",
                    super::email::clip(name)
                ),
            ));
        }
        if RESERVED.contains(&out.as_str()) {
            return Ok(Self(format!("{out}-app")));
        }
        Ok(Self(out))
    }

    /// Parses an existing slug (e.g. from a host name) without deriving.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 63
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| Self(raw.to_string()))
    }

    /// This slug with a disambiguating suffix, used after a collision.
    pub fn with_suffix(&self, suffix: &str) -> Self {
        Self(format!("{}-{}", self.0, suffix))
    }

    /// The label text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Maps common Latin letters with diacritics to ASCII so "Café Menü" becomes "cafe-menu".
fn fold_char(c: char) -> impl Iterator<Item = char> {
    let mapped: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => "",
    };
    let keep = mapped.is_empty();
    mapped.chars().chain(keep.then_some(c))
}

/// Extracts the app slug from a request host when it is `<slug>.<apps domain>[:port]`.
pub fn slug_from_host(host: &str, apps_domain: &str) -> Option<Slug> {
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    let label = host.strip_suffix(apps_domain)?.strip_suffix('.')?;
    if label.contains('.') {
        return None;
    }
    Slug::parse(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_lowercase_hyphenated_labels() {
        assert_eq!(
            Slug::from_name("My Todo App").unwrap().as_str(),
            "my-todo-app"
        );
        assert_eq!(
            Slug::from_name("  --Recipes!!  & Ratings--")
                .unwrap()
                .as_str(),
            "recipes-ratings"
        );
        assert_eq!(Slug::from_name("Café Menü").unwrap().as_str(), "cafe-menu");
        assert_eq!(Slug::from_name("2048").unwrap().as_str(), "2048");
    }

    #[test]
    fn long_names_are_cut_to_the_base_length_without_a_trailing_hyphen() {
        let s = Slug::from_name(&"word ".repeat(30)).unwrap();
        assert!(s.as_str().len() <= MAX_BASE_LEN);
        assert!(!s.as_str().ends_with('-'));
        assert!(Slug::parse(s.with_suffix("abcd").as_str()).is_some());
    }

    #[test]
    fn names_without_letters_or_digits_are_rejected() {
        for bad in ["", "   ", "!!!", "日本語", "🔥🔥"] {
            let err = Slug::from_name(bad).unwrap_err();
            assert_eq!(err.field(), Some("name"), "{bad}");
        }
    }

    #[test]
    fn reserved_labels_are_not_handed_out() {
        assert_eq!(Slug::from_name("API").unwrap().as_str(), "api-app");
    }

    #[test]
    fn app_hosts_yield_their_slug_and_other_hosts_none() {
        assert_eq!(
            slug_from_host("todo.localhost:8787", "localhost")
                .unwrap()
                .as_str(),
            "todo"
        );
        assert_eq!(
            slug_from_host("Todo.LOCALHOST", "localhost")
                .unwrap()
                .as_str(),
            "todo"
        );
        assert!(slug_from_host("localhost:8787", "localhost").is_none());
        assert!(slug_from_host("a.b.localhost", "localhost").is_none());
        assert!(slug_from_host("evil_.localhost", "localhost").is_none());
        assert_eq!(
            slug_from_host("shop.apps.example.com", "apps.example.com")
                .unwrap()
                .as_str(),
            "shop"
        );
    }
}
