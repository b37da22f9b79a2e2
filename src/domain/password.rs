//! Password policy and the stored password hash format.
//!
//! Hashing is PBKDF2-HMAC-SHA256 with 100,000 iterations (the most WebCrypto allows on Workers)
//! and a random 16-byte salt per user. The key derivation itself is a port ([`Pbkdf2`]): the
//! Worker uses WebCrypto's native implementation (fast, off the wasm heap); tests use a pure Rust
//! one. Everything around it (format, parsing, constant-time comparison) lives here and is tested
//! natively. The stored form is self-describing, `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`,
//! so the iteration count can be raised later without breaking existing accounts.

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;

use crate::error::ApiError;

/// Iterations for new hashes.
pub const ITERATIONS: u32 = 100_000;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Derived key length in bytes.
pub const HASH_LEN: usize = 32;
/// Minimum password length in characters.
pub const MIN_LEN: usize = 8;
/// Maximum password length in bytes (bounds the hashing cost of hostile input).
pub const MAX_LEN: usize = 1024;

/// A password that satisfies the policy. Deliberately not `Debug`/`Display`: it must never be logged.
pub struct Password(String);

impl Password {
    /// Checks the policy; the error names the field.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.chars().count() < MIN_LEN {
            return Err(ApiError::invalid_field(
                "password",
                format!("password must be at least {MIN_LEN} characters"),
            ));
        }
        if raw.len() > MAX_LEN {
            return Err(ApiError::invalid_field(
                "password",
                format!("password must be at most {MAX_LEN} bytes"),
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// The raw bytes, for key derivation only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// PBKDF2-HMAC-SHA256 key derivation: the port the Worker fills with WebCrypto.
#[allow(async_fn_in_trait)]
pub trait Pbkdf2 {
    /// Derives `HASH_LEN` bytes.
    async fn derive(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<Vec<u8>, ApiError>;
}

/// A parsed stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// Hashes a new password with a fresh salt.
    pub async fn create(
        kdf: &impl Pbkdf2,
        password: &Password,
        salt: [u8; SALT_LEN],
    ) -> Result<Self, ApiError> {
        let hash = kdf.derive(password.expose(), &salt, ITERATIONS).await?;
        Ok(Self {
            iterations: ITERATIONS,
            salt: salt.to_vec(),
            hash,
        })
    }

    /// Checks a candidate password in constant time with respect to the stored hash.
    pub async fn verify(&self, kdf: &impl Pbkdf2, candidate: &[u8]) -> Result<bool, ApiError> {
        let derived = kdf.derive(candidate, &self.salt, self.iterations).await?;
        Ok(constant_time_eq(&derived, &self.hash))
    }

    /// The stored text form.
    pub fn encode(&self) -> String {
        format!(
            "pbkdf2-sha256${}${}${}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(&self.hash)
        )
    }

    /// Parses the stored text form.
    pub fn decode(stored: &str) -> Option<Self> {
        let mut parts = stored.split('$');
        if parts.next()? != "pbkdf2-sha256" {
            return None;
        }
        let iterations: u32 = parts.next()?.parse().ok()?;
        let salt = B64.decode(parts.next()?).ok()?;
        let hash = B64.decode(parts.next()?).ok()?;
        if parts.next().is_some() || iterations == 0 || salt.is_empty() || hash.len() != HASH_LEN {
            return None;
        }
        Some(Self {
            iterations,
            salt,
            hash,
        })
    }
}

/// Compares two byte strings without an early exit, so timing does not reveal the matching prefix.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A well-formed hash that matches no password: login verifies against it when the email is
/// unknown, so an unknown email costs the same time as a wrong password.
pub fn decoy_hash() -> PasswordHash {
    PasswordHash {
        iterations: ITERATIONS,
        salt: vec![0x5a; SALT_LEN],
        hash: vec![0; HASH_LEN],
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Pure Rust PBKDF2 used as the test double of WebCrypto (same algorithm, same parameters).
    pub struct RustPbkdf2;

    impl Pbkdf2 for RustPbkdf2 {
        async fn derive(
            &self,
            password: &[u8],
            salt: &[u8],
            iterations: u32,
        ) -> Result<Vec<u8>, ApiError> {
            let mut out = vec![0u8; HASH_LEN];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
            Ok(out)
        }
    }

    pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let pw = Password::parse("correct horse").unwrap();
        let hash = block_on(PasswordHash::create(&RustPbkdf2, &pw, [7; SALT_LEN])).unwrap();
        let stored = hash.encode();
        assert!(stored.starts_with("pbkdf2-sha256$100000$"));
        let parsed = PasswordHash::decode(&stored).unwrap();
        assert_eq!(parsed, hash);
        assert!(block_on(parsed.verify(&RustPbkdf2, b"correct horse")).unwrap());
        assert!(!block_on(parsed.verify(&RustPbkdf2, b"correct horsE")).unwrap());
    }

    #[test]
    fn the_same_password_with_different_salts_gives_different_hashes() {
        let pw = Password::parse("correct horse").unwrap();
        let a = block_on(PasswordHash::create(&RustPbkdf2, &pw, [1; SALT_LEN])).unwrap();
        let b = block_on(PasswordHash::create(&RustPbkdf2, &pw, [2; SALT_LEN])).unwrap();
        assert_ne!(a.encode(), b.encode());
    }

    #[test]
    fn the_derivation_matches_the_published_pbkdf2_sha256_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64); first 32 bytes.
        let out = block_on(RustPbkdf2.derive(b"passwd", b"salt", 1)).unwrap();
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn short_passwords_are_rejected_naming_the_field() {
        let err = Password::parse("1234567").err().unwrap();
        assert_eq!(err.field(), Some("password"));
        assert!(err.message().contains("at least 8"));
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn malformed_stored_hashes_do_not_parse() {
        for bad in [
            "",
            "md5$1$a$b",
            "pbkdf2-sha256$x$AAAA$AAAA",
            "pbkdf2-sha256$0$AAAA$AAAA",
            "pbkdf2-sha256$1$AAAA$AAAA$extra",
        ] {
            assert!(PasswordHash::decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
