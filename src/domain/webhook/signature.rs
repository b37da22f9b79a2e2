//! Standard Webhooks signing: secrets, message ids and the `v1` signature.
//!
//! A secret is `whsec_` followed by the base64 of 32 random bytes; the signing key is those bytes.
//! The signature of one attempt is `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
//! sent in `webhook-signature` beside `webhook-id` and `webhook-timestamp` (Unix seconds).
//! HMAC comes from the pure-Rust `hmac` + `sha2` crates, so it runs the same natively (tests) and
//! in the Worker (wasm32), synchronously.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the standard asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// The secret shown to the owner for `key` bytes.
pub fn secret_from_bytes(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The signing key of a `whsec_…` secret.
pub fn key_of(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| format!("a webhook secret starts with '{SECRET_PREFIX}'"))?;
    STANDARD
        .decode(encoded)
        .map_err(|e| format!("a webhook secret is base64 after '{SECRET_PREFIX}': {e}"))
}

/// The `webhook-id` of `event_id` sent to `endpoint_id`: the same for every attempt and every
/// redelivery of that pair, different for each endpoint, and free of `.` (it is part of the
/// signed content). `msg_` + 32 hex characters of sha256.
pub fn message_id(event_id: &str, endpoint_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(event_id.as_bytes());
    h.update(b"\n");
    h.update(endpoint_id.as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// The `webhook-signature` value for one attempt.
pub fn sign(key: &[u8], message_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the Standard Webhooks reference libraries' signing test (the specification
    /// itself publishes none): secret, id, timestamp and body below give this signature.
    #[test]
    fn signing_matches_the_standard_webhooks_reference_vector() {
        let key = key_of("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                r#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn a_secret_round_trips_to_its_key() {
        let key = [7u8; SECRET_BYTES];
        let secret = secret_from_bytes(&key);
        assert!(secret.starts_with("whsec_"));
        assert_eq!(key_of(&secret).unwrap(), key.to_vec());
        assert!(key_of("sk_abc").is_err());
        assert!(key_of("whsec_not base64!").is_err());
    }

    #[test]
    fn message_ids_are_stable_per_event_and_endpoint() {
        let a = message_id("event-1", "hook-1");
        assert_eq!(a, message_id("event-1", "hook-1"));
        assert_ne!(a, message_id("event-1", "hook-2"));
        assert_ne!(a, message_id("event-2", "hook-1"));
        assert!(a.starts_with("msg_") && a.len() == 36 && !a.contains('.'));
    }

    #[test]
    fn the_signature_covers_id_timestamp_and_body() {
        let key = b"0123456789abcdef0123456789abcdef";
        let s = sign(key, "msg_1", 100, "{}");
        assert_ne!(s, sign(key, "msg_2", 100, "{}"));
        assert_ne!(s, sign(key, "msg_1", 101, "{}"));
        assert_ne!(s, sign(key, "msg_1", 100, "{ }"));
    }
}
