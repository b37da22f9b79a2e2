//! Email addresses as account identifiers.
//!
//! Kiln does not send mail, so the check is structural (one `@`, a dotted domain, no spaces,
//! RFC 5321 length limits) rather than a full RFC 5322 grammar. Addresses are lowercased so
//! `Ada@Example.com` and `ada@example.com` are one account.

use crate::error::ApiError;

/// A syntactically valid, lowercased email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address; the error names the field and the fix.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let value = raw.trim().to_lowercase();
        let invalid = |why: &str| {
            ApiError::invalid_field(
                "email",
                format!("email '{}' is not valid: {why}", clip(raw)),
            )
        };
        if value.is_empty() {
            return Err(ApiError::invalid_field("email", "email is required"));
        }
        if value.len() > 254 {
            return Err(invalid("it is longer than 254 characters"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains spaces or control characters"));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(invalid("it has no '@'"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before '@' must be 1 to 64 characters"));
        }
        if domain.contains('@') {
            return Err(invalid("it has more than one '@'"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
            return Err(invalid("the domain must look like 'example.com'"));
        }
        if labels.iter().any(|l| {
            l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        }) {
            return Err(invalid(
                "the domain may contain only letters, digits, '-' and '.'",
            ));
        }
        Ok(Self(value))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shortens user input before it is echoed back in an error message.
pub(crate) fn clip(raw: &str) -> String {
    const MAX: usize = 64;
    if raw.chars().count() <= MAX {
        raw.to_string()
    } else {
        let mut s: String = raw.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lowercased_and_trimmed() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_addresses_are_rejected_with_the_field_named() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@-x.com",
            "ada@example..com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("email"), "{bad}");
            assert!(err.message().contains("email"), "{bad}: {}", err.message());
        }
    }

    #[test]
    fn an_overlong_address_is_rejected() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
