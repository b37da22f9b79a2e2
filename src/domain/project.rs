//! Project names as people type them.

use crate::error::ApiError;

/// Longest accepted project name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// A trimmed, non-empty project name without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
    /// Validates a name; the error names the field.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ApiError::invalid_field("name", "name is required"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::invalid_field(
                "name",
                format!("name must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "name",
                "name must not contain control characters",
            ));
        }
        Ok(Self(name.to_string()))
    }

    /// The name text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ProjectName::parse("  Shop ").unwrap().as_str(), "Shop");
        assert!(ProjectName::parse("   ").is_err());
        assert!(ProjectName::parse(&"a".repeat(81)).is_err());
        assert!(ProjectName::parse("a\u{0}b").is_err());
    }
}
