//! Codecs: MessagePack for storage, JSON for the API and webhooks.
//!
//! Key decisions:
//! - Decoding has two stages. First bytes become a [`RawEnvelope`], which needs no knowledge of
//!   event schemas; then the payload is upcast and typed. Whatever a newer Kiln stored (an unknown
//!   type, a newer version, fields this reader lacks) becomes [`Decoded::Unknown`] with a reason the
//!   caller reports as a [`Warning`]. It is skipped, never a crash, and it still takes part in
//!   chain verification and keeps its seq.
//! - A stored blob must be canonical: the decoder re-encodes what it read and compares bytes.
//!   With the hash covering the content, this leaves no byte that can change unnoticed.
//! - Malformed input is an error value ([`CodecError`]); no input makes these functions panic.
//! - JSON uses the same field names, order and canonical payload as storage, so a JSON envelope
//!   can be verified too (hashes are always computed over the MessagePack canonical bytes).

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::canonical::{extra_fields, same_canonical};
use crate::chain::{ChainFault, Chained};
use crate::envelope::{to_msgpack, Envelope, Payload, RawEnvelope};
use crate::event::Event;
use crate::upcast::{upcast, UpcastFailure};

/// The result of decoding one stored or JSON event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// An event this reader understands, upcast to the current schema.
    Event(Envelope),
    /// An event this reader must skip; report [`Unknown::warning`] to the caller.
    Unknown(Unknown),
}

/// An event this reader cannot interpret, kept intact so it can be verified and re-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The envelope with its payload as a generic value.
    pub envelope: RawEnvelope,
    /// Why it cannot be interpreted.
    pub reason: SkipReason,
}

/// Why an event was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The event type is not in [`crate::CATALOG`].
    UnknownType,
    /// The event was written with a schema version newer than this reader supports.
    NewerVersion {
        /// The newest version this reader supports.
        supported: u16,
    },
    /// The payload has fields this reader does not know; reading it as typed would drop them.
    UnknownFields {
        /// The unknown field names.
        fields: Vec<String>,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::UnknownType => {
                f.write_str("the event type is unknown here; a newer kiln probably wrote it")
            }
            SkipReason::NewerVersion { supported } => write!(
                f,
                "this kiln reads up to v{supported}; a newer kiln probably wrote it"
            ),
            SkipReason::UnknownFields { fields } => write!(
                f,
                "it has fields this kiln does not know ({}); a newer kiln probably wrote it",
                fields.join(", ")
            ),
        }
    }
}

/// A skipped event, reported to the caller instead of logged (this crate has no logger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stream of the skipped event.
    pub stream: String,
    /// Its seq.
    pub seq: u64,
    /// Its type name.
    pub event_type: String,
    /// Its schema version.
    pub version: u16,
    /// Why it was skipped.
    pub reason: SkipReason,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipped event {} of stream '{}' ({} v{}): {}",
            self.seq, self.stream, self.event_type, self.version, self.reason
        )
    }
}

impl Unknown {
    /// The warning to surface for this event.
    pub fn warning(&self) -> Warning {
        Warning {
            stream: self.envelope.stream.clone(),
            seq: self.envelope.seq,
            event_type: self.envelope.event_type.clone(),
            version: self.envelope.version,
            reason: self.reason.clone(),
        }
    }
}

impl Decoded {
    /// Stored seq.
    pub fn seq(&self) -> u64 {
        match self {
            Decoded::Event(e) => e.seq,
            Decoded::Unknown(u) => u.envelope.seq,
        }
    }

    /// The typed envelope, if this event is understood.
    pub fn envelope(&self) -> Option<&Envelope> {
        match self {
            Decoded::Event(e) => Some(e),
            Decoded::Unknown(_) => None,
        }
    }

    /// The typed envelope, if this event is understood.
    pub fn into_envelope(self) -> Option<Envelope> {
        match self {
            Decoded::Event(e) => Some(e),
            Decoded::Unknown(_) => None,
        }
    }

    /// The warning to surface if this event is skipped.
    pub fn warning(&self) -> Option<Warning> {
        match self {
            Decoded::Event(_) => None,
            Decoded::Unknown(u) => Some(u.warning()),
        }
    }

    /// Storage bytes; identical to the bytes it was decoded from.
    pub fn encode_storage(&self) -> Vec<u8> {
        match self {
            Decoded::Event(e) => encode_storage(e),
            Decoded::Unknown(u) => encode_storage(&u.envelope),
        }
    }
}

impl Chained for Decoded {
    fn stream(&self) -> &str {
        match self {
            Decoded::Event(e) => &e.stream,
            Decoded::Unknown(u) => &u.envelope.stream,
        }
    }
    fn seq(&self) -> u64 {
        Decoded::seq(self)
    }
    fn prev_hash(&self) -> &str {
        match self {
            Decoded::Event(e) => &e.prev_hash,
            Decoded::Unknown(u) => &u.envelope.prev_hash,
        }
    }
    fn hash(&self) -> &str {
        match self {
            Decoded::Event(e) => &e.hash,
            Decoded::Unknown(u) => &u.envelope.hash,
        }
    }
    fn compute_hash(&self) -> Result<String, ChainFault> {
        match self {
            Decoded::Event(e) => e.compute_hash(),
            Decoded::Unknown(u) => u.envelope.compute_hash(),
        }
    }
}

/// Why bytes or text could not be decoded into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Not a MessagePack envelope (truncated, wrong types, missing or unexpected fields).
    #[error("stored event is not a valid envelope: {detail}")]
    Malformed {
        /// Decoder message.
        detail: String,
    },
    /// Not a JSON envelope.
    #[error("event json is not a valid envelope: {detail}")]
    Json {
        /// Decoder message.
        detail: String,
    },
    /// The blob decodes, but its bytes are not the canonical encoding of its content.
    #[error(
        "stored event {seq} is not in canonical form; it was altered or written by another encoder"
    )]
    NotCanonical {
        /// Stored seq (as read from the altered blob).
        seq: u64,
    },
    /// A known event type at a version no upcaster leads from.
    #[error("event {seq} is {event_type} v{version}, which cannot be upcast; known versions start at v1")]
    UnsupportedVersion {
        /// Stored seq.
        seq: u64,
        /// Event type.
        event_type: String,
        /// Stored version.
        version: u16,
    },
    /// A known event type whose payload does not match its schema.
    #[error("event {seq} ({event_type} v{version}) does not match its schema: {detail}")]
    Schema {
        /// Stored seq.
        seq: u64,
        /// Event type.
        event_type: String,
        /// Stored version.
        version: u16,
        /// What does not match.
        detail: String,
    },
    /// An upcaster changed more than absent optional fields (a bug in this crate).
    #[error("upcasting event {seq} ({event_type} v{version}) changed its content; an upcaster may only add optional fields")]
    LossyUpcast {
        /// Stored seq.
        seq: u64,
        /// Event type.
        event_type: String,
        /// Stored version.
        version: u16,
    },
}

/// What both codecs read before interpretation. Envelope fields are strict (the envelope format is
/// fixed; payloads are where schemas evolve).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOwned {
    id: String,
    stream: String,
    seq: u64,
    #[serde(rename = "type")]
    event_type: String,
    version: u16,
    time_ms: i64,
    actor: String,
    correlation: Option<String>,
    causation: Option<String>,
    data: Value,
    prev_hash: String,
    hash: String,
}

impl From<WireOwned> for RawEnvelope {
    fn from(w: WireOwned) -> Self {
        Envelope {
            id: w.id,
            stream: w.stream,
            seq: w.seq,
            event_type: w.event_type,
            version: w.version,
            time_ms: w.time_ms,
            actor: w.actor,
            correlation: w.correlation,
            causation: w.causation,
            data: w.data,
            prev_hash: w.prev_hash,
            hash: w.hash,
        }
    }
}

/// Storage bytes: MessagePack with named fields, canonical (see the `canonical` module docs).
pub fn encode_storage<D: Payload>(envelope: &Envelope<D>) -> Vec<u8> {
    to_msgpack(envelope)
}

/// Decodes storage bytes without interpreting the payload. Checks that the blob is canonical.
pub fn decode_storage_raw(bytes: &[u8]) -> Result<RawEnvelope, CodecError> {
    let wire: WireOwned = rmp_serde::from_slice(bytes).map_err(|e| CodecError::Malformed {
        detail: e.to_string(),
    })?;
    let raw = RawEnvelope::from(wire);
    if encode_storage(&raw) != bytes {
        return Err(CodecError::NotCanonical { seq: raw.seq });
    }
    Ok(raw)
}

/// Decodes storage bytes into a typed event (upcast as needed) or an [`Unknown`] to skip.
pub fn decode_storage(bytes: &[u8]) -> Result<Decoded, CodecError> {
    interpret(decode_storage_raw(bytes)?)
}

/// API / webhook JSON: the same fields and order as storage, payload in canonical form
/// (sorted keys, `null` fields omitted).
pub fn encode_json<D: Payload>(envelope: &Envelope<D>) -> String {
    serde_json::to_string(envelope).expect("canonical values always encode as JSON")
}

/// Decodes API JSON into a typed event (upcast as needed) or an [`Unknown`] to skip.
/// Unlike storage, JSON need not be byte-canonical (whitespace and key order are free).
pub fn decode_json(text: &str) -> Result<Decoded, CodecError> {
    let wire: WireOwned = serde_json::from_str(text).map_err(|e| CodecError::Json {
        detail: e.to_string(),
    })?;
    interpret(wire.into())
}

/// Upcasts and types a raw envelope, or explains why it must be skipped.
pub fn interpret(raw: RawEnvelope) -> Result<Decoded, CodecError> {
    let skip = |raw, reason| {
        Ok(Decoded::Unknown(Unknown {
            envelope: raw,
            reason,
        }))
    };
    let Some(current) = Event::current_version(&raw.event_type) else {
        return skip(raw, SkipReason::UnknownType);
    };
    if raw.version > current {
        return skip(raw, SkipReason::NewerVersion { supported: current });
    }
    let schema_error = |raw: &RawEnvelope, detail: String| CodecError::Schema {
        seq: raw.seq,
        event_type: raw.event_type.clone(),
        version: raw.version,
        detail,
    };
    let data =
        upcast(&raw.event_type, raw.version, current, raw.data.clone()).map_err(|failure| {
            match failure {
                UpcastFailure::NoPath => CodecError::UnsupportedVersion {
                    seq: raw.seq,
                    event_type: raw.event_type.clone(),
                    version: raw.version,
                },
                UpcastFailure::NotAMap => schema_error(&raw, "payload is not a map".to_owned()),
            }
        })?;
    let event =
        Event::from_data(&raw.event_type, data).map_err(|e| schema_error(&raw, e.to_string()))?;
    // The typed event must reproduce the stored payload exactly, or verification and re-encoding
    // of this envelope would silently differ from what was written.
    let typed = event.to_data();
    if !same_canonical(&typed, &raw.data) {
        let fields = extra_fields(&raw.data, &typed);
        if !fields.is_empty() {
            return skip(raw, SkipReason::UnknownFields { fields });
        }
        if raw.version < current {
            return Err(CodecError::LossyUpcast {
                seq: raw.seq,
                event_type: raw.event_type,
                version: raw.version,
            });
        }
        return Err(schema_error(
            &raw,
            "payload does not round-trip through its typed form".to_owned(),
        ));
    }
    Ok(Decoded::Event(Envelope {
        id: raw.id,
        stream: raw.stream,
        seq: raw.seq,
        event_type: raw.event_type,
        version: raw.version,
        time_ms: raw.time_ms,
        actor: raw.actor,
        correlation: raw.correlation,
        causation: raw.causation,
        data: event,
        prev_hash: raw.prev_hash,
        hash: raw.hash,
    }))
}
