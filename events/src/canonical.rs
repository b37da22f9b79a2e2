//! Canonical encoding: the exact bytes that are hashed, and the exact bytes that are stored.
//!
//! Key decision: canonical bytes are defined over a *schema-agnostic* value, not over Rust types,
//! so any reader can re-derive them for any event, including types and versions it does not know.
//!
//! Canonical bytes of an envelope = MessagePack (as written by `rmp-serde` with named fields) of
//! a map with exactly these keys, in this order:
//!
//! `id`, `stream`, `seq`, `type`, `version`, `time_ms`, `actor`, `correlation`, `causation`,
//! `data`, `prev_hash`
//!
//! - strings are MessagePack `str`; integers use the smallest MessagePack integer encoding;
//!   `correlation` / `causation` are `nil` when absent (the keys are always present);
//! - `data` is the payload value with every map's keys sorted by their UTF-8 bytes, map entries
//!   whose value is `nil` removed (recursively; array elements are kept as they are), and
//!   floating-point numbers (Kiln events have none) written as float64.
//!
//! The stored blob is the same map with a twelfth key, `hash`, appended last. So
//! `hash = lowercase_hex(sha256(raw 32 bytes of prev_hash ‖ canonical bytes))`, and the first
//! event of a stream has `prev_hash` = [`crate::GENESIS_HASH`] (64 zeros).
//!
//! Dropping `nil` entries is what makes additive schema changes free: a payload written before an
//! optional field existed has the same canonical bytes as the current payload with that field
//! `None`, so upcast events stay verifiable (see [`crate::upcast`]). Because stored blobs must be
//! canonical (the decoder re-encodes and compares), every stored byte is covered by the hash or
//! by that comparison: no stored byte can change unnoticed (the tests flip every one of them).

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serialises a payload value in canonical form (sorted keys, no `nil` map entries).
pub(crate) struct CanonicalData<'a>(pub(crate) &'a Value);

impl Serialize for CanonicalData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    serializer.serialize_u64(u)
                } else if let Some(i) = n.as_i64() {
                    serializer.serialize_i64(i)
                } else {
                    serializer.serialize_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&CanonicalData(item))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                // Sort explicitly: serde_json's map order depends on a cargo feature
                // (`preserve_order`) that another crate in the build could switch on.
                let mut entries: Vec<(&String, &Value)> =
                    map.iter().filter(|(_, v)| !v.is_null()).collect();
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &CanonicalData(value))?;
                }
                out.end()
            }
        }
    }
}

/// Whether two payloads have the same canonical form (ignoring key order and `nil` entries).
pub(crate) fn same_canonical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let x_len = x.values().filter(|v| !v.is_null()).count();
            let y_len = y.values().filter(|v| !v.is_null()).count();
            x_len == y_len
                && x.iter()
                    .filter(|(_, v)| !v.is_null())
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_canonical(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_canonical(v, w))
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(p), Some(q)) => p == q,
            _ => x.as_i64().zip(y.as_i64()).map_or(x == y, |(p, q)| p == q),
        },
        _ => a == b,
    }
}

/// Top-level payload fields present (non-`nil`) in `stored` but absent from `typed`.
pub(crate) fn extra_fields(stored: &Value, typed: &Value) -> Vec<String> {
    match (stored, typed) {
        (Value::Object(s), Value::Object(t)) => s
            .iter()
            .filter(|(k, v)| !v.is_null() && t.get(*k).is_none_or(Value::is_null))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Parses a 64-digit lowercase hex hash. Uppercase is rejected on purpose: a hash has exactly
/// one spelling, so string comparison of hashes is sound.
pub(crate) fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// `lowercase_hex(sha256(prev ‖ canonical))`.
pub(crate) fn chain_hash(prev: &[u8; 32], canonical: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical);
    to_hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_data_sorts_keys_and_drops_nulls() {
        let a = json!({"b": 1, "a": {"z": null, "y": [null, 2]}, "c": null});
        let b = json!({"a": {"y": [null, 2]}, "b": 1});
        let ea = rmp_serde::to_vec_named(&CanonicalData(&a)).unwrap();
        let eb = rmp_serde::to_vec_named(&CanonicalData(&b)).unwrap();
        assert_eq!(ea, eb);
        assert!(same_canonical(&a, &b));
        assert!(!same_canonical(&a, &json!({"b": 2, "a": {"y": [null, 2]}})));
    }

    #[test]
    fn hex_round_trips_and_rejects_uppercase() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let hex = to_hex(&bytes);
        assert_eq!(parse_hash(&hex).unwrap().to_vec(), bytes);
        assert!(parse_hash(&hex.to_uppercase()).is_none());
        assert!(parse_hash("00").is_none());
    }
}
