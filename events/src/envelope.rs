//! The envelope: an event plus what places it in its stream and links it into the hash chain.
//!
//! Key decisions:
//! - `Envelope<D>` is generic over its payload. `Envelope` (= `Envelope<Event>`) holds a typed
//!   event; [`RawEnvelope`] (= `Envelope<serde_json::Value>`) holds a payload this reader does not
//!   understand. Both share one canonical encoding and one hash function, so an unknown future
//!   event is still verified and re-encoded byte for byte instead of breaking the chain.
//! - `version` is the schema version the event was *written* with, because it is part of the
//!   hashed bytes. After an upcast it can be lower than `data.event_version()`.
//! - Event ids are deterministic (see [`event_id`]): a blind retry of the same append produces the
//!   same ids, which is how a store recognises it as a duplicate rather than a conflict.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::{chain_hash, parse_hash, CanonicalData};
use crate::chain::{ChainError, ChainFault};
use crate::event::Event;

/// `prev_hash` of the first event of every stream: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event in its stream: identity, position, metadata, payload and chain links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<D = Event> {
    /// Deterministic id (a UUID string), see [`event_id`].
    pub id: String,
    /// Stream name; one stream per project.
    pub stream: String,
    /// Position in the stream: 1, 2, 3, ... without gaps.
    pub seq: u64,
    /// Event type name as written.
    pub event_type: String,
    /// Schema version as written (hashed); may be older than `data`'s after an upcast.
    pub version: u16,
    /// When the event was recorded, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Who caused it: a user id, or a system actor such as `workflow`.
    pub actor: String,
    /// Groups the events of one operation; the build id for pipeline events.
    pub correlation: Option<String>,
    /// Id of the event or request that directly caused this one.
    pub causation: Option<String>,
    /// The payload.
    pub data: D,
    /// Hash of the previous event in the stream, lowercase hex; [`GENESIS_HASH`] for seq 1.
    pub prev_hash: String,
    /// `sha256(prev_hash bytes ‖ canonical bytes)`, lowercase hex.
    pub hash: String,
}

/// An envelope whose payload is kept as a generic value: how unknown events are held.
pub type RawEnvelope = Envelope<Value>;

/// A payload that can be put in canonical form.
pub trait Payload {
    /// The payload as a JSON-like value (borrowed when it already is one).
    fn data_value(&self) -> Cow<'_, Value>;
}

impl Payload for Event {
    fn data_value(&self) -> Cow<'_, Value> {
        Cow::Owned(self.to_data())
    }
}

impl Payload for Value {
    fn data_value(&self) -> Cow<'_, Value> {
        Cow::Borrowed(self)
    }
}

/// The fixed-order map that is hashed (without `hash`) and stored (with `hash`).
/// Field order here *is* the canonical key order; do not reorder.
#[derive(Serialize)]
struct Wire<'a> {
    id: &'a str,
    stream: &'a str,
    seq: u64,
    #[serde(rename = "type")]
    event_type: &'a str,
    version: u16,
    time_ms: i64,
    actor: &'a str,
    correlation: Option<&'a str>,
    causation: Option<&'a str>,
    data: CanonicalData<'a>,
    prev_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
}

impl<D: Payload> Envelope<D> {
    fn with_wire<R>(&self, include_hash: bool, f: impl FnOnce(&Wire<'_>) -> R) -> R {
        let data = self.data.data_value();
        f(&Wire {
            id: &self.id,
            stream: &self.stream,
            seq: self.seq,
            event_type: &self.event_type,
            version: self.version,
            time_ms: self.time_ms,
            actor: &self.actor,
            correlation: self.correlation.as_deref(),
            causation: self.causation.as_deref(),
            data: CanonicalData(&data),
            prev_hash: &self.prev_hash,
            hash: include_hash.then_some(self.hash.as_str()),
        })
    }

    /// The canonical bytes that are hashed: every field except `hash` (see the `canonical`
    /// module docs for the exact definition).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        self.with_wire(false, |wire| to_msgpack(wire))
    }

    /// Recomputes the hash from the content; fails if `prev_hash` is not a well-formed hash.
    pub fn compute_hash(&self) -> Result<String, ChainFault> {
        let prev = parse_hash(&self.prev_hash).ok_or_else(|| ChainFault::MalformedHash {
            value: self.prev_hash.clone(),
        })?;
        Ok(chain_hash(&prev, &self.canonical_bytes()))
    }
}

/// Serialises the stored form: the canonical map plus `hash`. With `rmp-serde`'s named
/// serializer this *is* the storage blob; with `serde_json` it is the API form.
impl<D: Payload> Serialize for Envelope<D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_wire(true, |wire| wire.serialize(serializer))
    }
}

/// MessagePack with named fields. Writing strings, integers and maps with string keys into a
/// `Vec` cannot fail, so an error here is a bug in this crate, not bad input.
pub(crate) fn to_msgpack<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("canonical values always encode as MessagePack")
}

/// Envelope metadata supplied by whoever appends an event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    /// When, in milliseconds since the Unix epoch (from the caller's clock, so replays agree).
    pub time_ms: i64,
    /// Who: a user id or a system actor.
    pub actor: String,
    /// The operation this belongs to (the build id for pipeline events).
    pub correlation: Option<String>,
    /// What directly caused it (an event id or request id).
    pub causation: Option<String>,
}

impl Metadata {
    /// Metadata with no correlation or causation.
    pub fn new(time_ms: i64, actor: impl Into<String>) -> Self {
        Metadata {
            time_ms,
            actor: actor.into(),
            correlation: None,
            causation: None,
        }
    }

    /// Sets the correlation id.
    pub fn correlated(mut self, correlation: impl Into<String>) -> Self {
        self.correlation = Some(correlation.into());
        self
    }

    /// Sets the causation id.
    pub fn caused_by(mut self, causation: impl Into<String>) -> Self {
        self.causation = Some(causation.into());
        self
    }
}

/// An event waiting to be appended: the store assigns seq, id and hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The fact.
    pub event: Event,
    /// Who, when, and why.
    pub meta: Metadata,
}

impl NewEvent {
    /// Pairs an event with its metadata.
    pub fn new(event: Event, meta: Metadata) -> Self {
        NewEvent { event, meta }
    }

    /// Wraps the events of one decision with shared metadata. When `meta` has no correlation,
    /// each pipeline event is correlated with its own build id, so a trace never loses it.
    pub fn batch(events: Vec<Event>, meta: &Metadata) -> Vec<NewEvent> {
        events
            .into_iter()
            .map(|event| {
                let mut meta = meta.clone();
                if meta.correlation.is_none() {
                    meta.correlation = event.build_id().map(str::to_owned);
                }
                NewEvent { event, meta }
            })
            .collect()
    }
}

/// The deterministic id of the event at `seq` in `stream`: a UUID (version 8, RFC 9562) made
/// from the first 16 bytes of a sha256 over the stream, seq, event type and version, actor,
/// correlation, causation and the canonical payload, each length-prefixed.
///
/// Why these inputs: a retried append of the same logical event (same position, same content)
/// gets the same id, so a store returns the stored envelope instead of a conflict. Including the
/// content means a *different* event attempted at the same position by a stale writer gets a
/// different id and is a real conflict. `time_ms` is excluded on purpose: a retry reads the clock
/// again, and must still be recognised.
pub fn event_id(stream: &str, seq: u64, meta: &Metadata, event: &Event) -> String {
    id_from_parts(
        stream,
        seq,
        meta,
        event.event_type(),
        event.event_version(),
        &event.to_data(),
    )
}

fn id_from_parts(
    stream: &str,
    seq: u64,
    meta: &Metadata,
    event_type: &str,
    version: u16,
    data: &Value,
) -> String {
    fn field(hasher: &mut Sha256, bytes: &[u8]) {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    fn optional(hasher: &mut Sha256, value: Option<&str>) {
        match value {
            None => hasher.update([0u8]),
            Some(v) => {
                hasher.update([1u8]);
                field(hasher, v.as_bytes());
            }
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(b"kiln/event-id/v1\0");
    field(&mut hasher, stream.as_bytes());
    hasher.update(seq.to_be_bytes());
    field(&mut hasher, event_type.as_bytes());
    hasher.update(version.to_be_bytes());
    field(&mut hasher, meta.actor.as_bytes());
    optional(&mut hasher, meta.correlation.as_deref());
    optional(&mut hasher, meta.causation.as_deref());
    field(&mut hasher, &to_msgpack(&CanonicalData(data)));
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Seals `event` as the `seq`-th event of `stream`, linked to `prev_hash` (use [`GENESIS_HASH`]
/// for seq 1). Fails if `seq` is 0 or `prev_hash` is not 64 lowercase hex digits.
pub fn seal(
    stream: &str,
    seq: u64,
    prev_hash: &str,
    meta: Metadata,
    event: Event,
) -> Result<Envelope, ChainError> {
    if seq == 0 {
        return Err(ChainError {
            seq,
            reason: ChainFault::SeqGap {
                expected: 1,
                found: 0,
            },
        });
    }
    let data = event.to_data();
    let mut envelope = Envelope {
        id: id_from_parts(
            stream,
            seq,
            &meta,
            event.event_type(),
            event.event_version(),
            &data,
        ),
        stream: stream.to_owned(),
        seq,
        event_type: event.event_type().to_owned(),
        version: event.event_version(),
        time_ms: meta.time_ms,
        actor: meta.actor,
        correlation: meta.correlation,
        causation: meta.causation,
        data: event,
        prev_hash: prev_hash.to_owned(),
        hash: String::new(),
    };
    envelope.hash = envelope
        .compute_hash()
        .map_err(|reason| ChainError { seq, reason })?;
    Ok(envelope)
}
