//! API tokens for programs: `kiln_` followed by 43 base64url characters (32 random bytes).
//!
//! A token is a bearer credential with scopes. Only its sha256 is stored: tokens carry 256 bits
//! of randomness, so a fast hash is enough (a password hash guards against guessing low-entropy
//! secrets, which these are not), and a lookup is one indexed query. The token is shown once.
//!
//! Scopes: `read` allows safe methods (GET, HEAD); `write` allows everything else. A request
//! whose method needs a scope the token lacks is refused with 403 naming the scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Every token starts with this, so it is recognisable in logs and by secret scanners.
pub const PREFIX: &str = "kiln_";
/// Characters after the prefix (32 bytes, base64url without padding).
pub const BODY_LEN: usize = 43;
/// Longest token name.
pub const MAX_NAME_CHARS: usize = 100;
/// Shortest and longest lifetime a token can be created with.
pub const MIN_EXPIRES_IN: i64 = 60;
/// One year.
pub const MAX_EXPIRES_IN: i64 = 366 * 24 * 3600;
/// Most tokens one account may hold.
pub const MAX_TOKENS_PER_USER: usize = 50;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Safe methods: read projects, builds, events, versions.
    Read,
    /// Everything else: create, change, delete, build.
    Write,
}

impl Scope {
    /// The scope's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// The scope a request with `method` needs.
    pub fn needed_for(method: &str) -> Scope {
        match method {
            "GET" | "HEAD" | "OPTIONS" => Scope::Read,
            _ => Scope::Write,
        }
    }
}

/// A token's scopes: non-empty, sorted, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Every scope (what a signed-in session may do).
    pub fn all() -> Self {
        Scopes(vec![Scope::Read, Scope::Write])
    }

    /// Parses the names a client sent (`None` = the default, `["read", "write"]`).
    pub fn parse(names: Option<&[String]>) -> Result<Self, String> {
        let Some(names) = names else {
            return Ok(Self::all());
        };
        if names.is_empty() {
            return Err("scopes must name at least one of \"read\", \"write\"".into());
        }
        let mut out = Vec::new();
        for n in names {
            let s = match n.as_str() {
                "read" => Scope::Read,
                "write" => Scope::Write,
                other => {
                    return Err(format!(
                        "unknown scope '{}'; use \"read\" and/or \"write\"",
                        other.chars().take(40).collect::<String>()
                    ))
                }
            };
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out.sort();
        Ok(Scopes(out))
    }

    /// Reads the stored form (space-separated names); unknown names are dropped.
    pub fn from_stored(text: &str) -> Self {
        let mut out: Vec<Scope> = text
            .split_whitespace()
            .filter_map(|n| match n {
                "read" => Some(Scope::Read),
                "write" => Some(Scope::Write),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        Scopes(out)
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        self.names().join(" ")
    }

    /// The names, for JSON.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }

    /// Whether `scope` is granted.
    pub fn allows(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }
}

/// A token's display name: 1 to 100 characters after trimming, no control characters.
pub fn parse_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("name must not be empty; say what the token is for, e.g. \"ci\"".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("name is longer than {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(name.to_string())
}

/// A lifetime in seconds, if one was asked for.
pub fn parse_expires_in(seconds: Option<i64>) -> Result<Option<i64>, String> {
    match seconds {
        None => Ok(None),
        Some(s) if (MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&s) => Ok(Some(s)),
        Some(s) => Err(format!(
            "expires_in {s} is out of range; use {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN} seconds, or leave it out for a token that does not expire"
        )),
    }
}

/// A new token's text from 32 random bytes.
pub fn token_from_bytes(bytes: &[u8; 32]) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `text` has the shape of an API token (it may still be unknown or revoked).
pub fn looks_like_token(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(|body| {
        body.len() == BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The stored form of a token: hex sha256.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The last four characters, shown in listings to tell tokens apart.
pub fn hint(token: &str) -> String {
    token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_the_prefix_and_32_bytes_of_randomness() {
        let t = token_from_bytes(&[7u8; 32]);
        assert!(t.starts_with("kiln_"));
        assert_eq!(t.len(), PREFIX.len() + BODY_LEN);
        assert!(looks_like_token(&t));
        assert!(!looks_like_token("kiln_short"));
        assert!(!looks_like_token(&t.replace("kiln_", "kilp_")));
        assert!(!looks_like_token("eyJhbGciOiJIUzI1NiJ9.e30.x"));
        assert_eq!(hint(&t).len(), 4);
        assert_eq!(hash(&t).len(), 64);
        assert_ne!(hash(&t), hash(&token_from_bytes(&[8u8; 32])));
    }

    #[test]
    fn scopes_default_to_read_and_write_and_refuse_unknown_names() {
        assert_eq!(Scopes::parse(None).unwrap().names(), ["read", "write"]);
        let read = Scopes::parse(Some(&["read".to_string(), "read".to_string()])).unwrap();
        assert_eq!(read.names(), ["read"]);
        assert!(read.allows(Scope::Read) && !read.allows(Scope::Write));
        assert!(Scopes::parse(Some(&[]))
            .unwrap_err()
            .contains("at least one"));
        assert!(Scopes::parse(Some(&["admin".to_string()]))
            .unwrap_err()
            .contains("unknown scope 'admin'"));
        assert_eq!(Scopes::from_stored("write read").names(), ["read", "write"]);
        assert_eq!(Scopes::from_stored(&read.to_stored()), read);
    }

    #[test]
    fn safe_methods_need_read_and_the_rest_write() {
        assert_eq!(Scope::needed_for("GET"), Scope::Read);
        assert_eq!(Scope::needed_for("HEAD"), Scope::Read);
        for m in ["POST", "PUT", "PATCH", "DELETE"] {
            assert_eq!(Scope::needed_for(m), Scope::Write);
        }
    }

    #[test]
    fn names_and_lifetimes_are_checked() {
        assert_eq!(parse_name("  ci  ").unwrap(), "ci");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(parse_name("a\nb").is_err());
        assert_eq!(parse_expires_in(None).unwrap(), None);
        assert_eq!(parse_expires_in(Some(3600)).unwrap(), Some(3600));
        assert!(parse_expires_in(Some(59)).is_err());
        assert!(parse_expires_in(Some(MAX_EXPIRES_IN + 1)).is_err());
    }
}
