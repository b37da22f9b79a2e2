//! Platform access tokens: HS256 JWTs (jwt-compact) that carry a session id.
//!
//! The token alone is not enough: the session id must still exist in KV, so logout revokes a
//! token before it expires. Time is passed in (from the JS clock in the Worker, fixed in tests)
//! because wasm32-unknown-unknown has no system clock. jwt-compact checks the header's `alg`
//! against HS256, so `alg: none` and algorithm-confusion tokens fail integrity validation.

use chrono::{DateTime, Duration, TimeZone, Utc};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken};
use serde::{Deserialize, Serialize};

/// Custom claims Kiln puts in a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user id.
    pub sub: String,
    /// The session id (KV key suffix).
    pub sid: String,
}

/// Why a token was refused. Every variant maps to 401 with the same public message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT, wrong algorithm, bad signature or bad claims.
    Invalid(String),
    /// Past its expiry.
    Expired,
}

/// Signs and verifies tokens with one secret.
pub struct TokenKeys {
    key: Hs256Key,
}

impl TokenKeys {
    /// Builds the key from the secret binding's text.
    pub fn new(secret: &str) -> Self {
        Self {
            key: Hs256Key::new(secret.as_bytes()),
        }
    }

    /// Issues a token valid for `ttl` from `now_ms`.
    pub fn issue(&self, claims: SessionClaims, now_ms: i64, ttl: Duration) -> String {
        let now = at(now_ms);
        let opts = TimeOptions::new(Duration::seconds(0), move || now);
        let claims = Claims::new(claims).set_duration_and_issuance(&opts, ttl);
        Hs256
            .token(&Header::empty().with_token_type("JWT"), &claims, &self.key)
            .expect("serialising string claims cannot fail")
    }

    /// Verifies signature, algorithm and expiry at `now_ms` (60 s leeway for clock skew).
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<SessionClaims, TokenError> {
        let untrusted =
            UntrustedToken::new(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let token = Hs256
            .validator::<SessionClaims>(&self.key)
            .validate(&untrusted)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let now = at(now_ms);
        let opts = TimeOptions::new(Duration::seconds(60), move || now);
        let claims = token.claims();
        if claims.expiration.is_none() {
            return Err(TokenError::Invalid("token has no expiry".into()));
        }
        claims
            .validate_expiration(&opts)
            .map_err(|_| TokenError::Expired)?;
        Ok(claims.custom.clone())
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
    use base64::Engine;

    const NOW: i64 = 1_790_000_000_000;

    fn claims() -> SessionClaims {
        SessionClaims {
            sub: "user-1".into(),
            sid: "session-1".into(),
        }
    }

    #[test]
    fn an_issued_token_verifies_and_carries_its_claims() {
        let keys = TokenKeys::new("test-secret-0123456789abcdef0123456789");
        let t = keys.issue(claims(), NOW, Duration::hours(1));
        assert_eq!(keys.verify(&t, NOW + 1000).unwrap(), claims());
        let payload: serde_json::Value =
            serde_json::from_slice(&B64U.decode(t.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(payload["exp"], (NOW / 1000) + 3600);
        assert_eq!(payload["iat"], NOW / 1000);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::new("k");
        let t = keys.issue(claims(), NOW, Duration::seconds(10));
        assert_eq!(keys.verify(&t, NOW + 71_000), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let t = TokenKeys::new("a").issue(claims(), NOW, Duration::hours(1));
        assert!(matches!(
            TokenKeys::new("b").verify(&t, NOW),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let keys = TokenKeys::new("k");
        let t = keys.issue(claims(), NOW, Duration::hours(1));
        let parts: Vec<&str> = t.split('.').collect();
        let forged = B64U.encode(br#"{"sub":"user-2","sid":"session-1","exp":9999999999}"#);
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert!(matches!(
            keys.verify(&tampered, NOW),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn an_alg_none_token_is_refused() {
        let header = B64U.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = B64U.encode(br#"{"sub":"user-1","sid":"session-1","exp":9999999999}"#);
        let keys = TokenKeys::new("k");
        assert!(keys.verify(&format!("{header}.{body}."), NOW).is_err());
        assert!(keys.verify(&format!("{header}.{body}"), NOW).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        let keys = TokenKeys::new("k");
        for bad in ["", "abc", "a.b.c", "....."] {
            assert!(keys.verify(bad, NOW).is_err(), "{bad}");
        }
    }
}
