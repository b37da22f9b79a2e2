//! The `EventStore` port and `MemStore`, its in-memory implementation for tests.
//!
//! Key decisions:
//! - The port's futures are not `Send`: the production adapter awaits JavaScript promises (R2),
//!   which are `!Send`. `async fn` in the trait gives exactly that.
//! - Appends use optimistic concurrency on the stream's seq. A blind retry of an append that
//!   already happened (same `expected_seq`, same events, so the same deterministic ids) returns
//!   the stored envelopes instead of a conflict; a different writer at a stale seq gets
//!   [`StoreError::Conflict`] and must re-read, re-decide and try again.
//! - `read` returns [`Decoded`], not only envelopes: an event written by a newer Kiln is handed to
//!   the caller as `Unknown` so its seq is still counted (otherwise the caller's next
//!   `expected_seq` would be stale forever) and its warning can be reported.
//! - `MemStore` keeps the exact MessagePack blobs and goes through the real codec, so tests
//!   exercise what the R2 adapter stores, and can corrupt or inject blobs.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::chain::{ChainError, ChainFault, ChainVerifier};
use crate::codec::{decode_storage, decode_storage_raw, encode_storage, CodecError, Decoded};
use crate::envelope::{event_id, seal, Envelope, NewEvent, GENESIS_HASH};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The stream is not at `expected` (someone else appended): re-read, decide again, retry.
    #[error("stream is at seq {actual}, not {expected}; reload the stream and decide again")]
    Conflict {
        /// The seq the caller expected the stream to be at.
        expected: u64,
        /// The seq the stream is at.
        actual: u64,
    },
    /// A stored event cannot be decoded.
    #[error("stored event {seq} cannot be read: {source}")]
    Codec {
        /// Its position.
        seq: u64,
        /// The decoder's error.
        source: CodecError,
    },
    /// The stream's hash chain is broken.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The backing storage failed; the operation may be retried.
    #[error("event storage is unavailable: {detail}")]
    Unavailable {
        /// What failed.
        detail: String,
    },
}

impl StoreError {
    /// Whether retrying the same call may succeed (a conflict needs a new decision instead).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Append-only event streams with optimistic concurrency.
#[allow(async_fn_in_trait)] // on purpose: adapters await `!Send` JS futures
pub trait EventStore {
    /// Appends `events` after seq `expected_seq` (0 for a new stream) and returns their sealed
    /// envelopes. Fails with [`StoreError::Conflict`] if the stream is not at `expected_seq`,
    /// unless exactly these events are already stored right after it (a retried append), in
    /// which case the stored envelopes are returned. An empty batch is a no-op.
    async fn append(
        &self,
        stream: &str,
        expected_seq: u64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Envelope>, StoreError>;

    /// Up to `limit` events with seq greater than `after_seq`, in order.
    async fn read(
        &self,
        stream: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Decoded>, StoreError>;

    /// Verifies the whole stream's hash chain from seq 1; an unreadable event counts as a break
    /// ([`ChainFault::Corrupt`]) at its seq.
    async fn verify(&self, stream: &str) -> Result<(), StoreError>;
}

/// In-memory [`EventStore`]: one vector of MessagePack blobs per stream. Single-threaded
/// (`RefCell`), like a Worker isolate.
#[derive(Debug, Default)]
pub struct MemStore {
    streams: RefCell<BTreeMap<String, Vec<Vec<u8>>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The seq of the last event in `stream` (0 if empty).
    pub fn head(&self, stream: &str) -> u64 {
        self.streams
            .borrow()
            .get(stream)
            .map_or(0, |s| s.len() as u64)
    }

    /// The stored blobs of `stream`, in order (for backups and tests).
    pub fn export(&self, stream: &str) -> Vec<Vec<u8>> {
        self.streams
            .borrow()
            .get(stream)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces the blobs of `stream` without any checks: restores a backup, or lets a test
    /// simulate corruption or a newer writer.
    pub fn import(&self, stream: &str, blobs: Vec<Vec<u8>>) {
        self.streams.borrow_mut().insert(stream.to_owned(), blobs);
    }
}

fn codec_error(seq: u64) -> impl FnOnce(CodecError) -> StoreError {
    move |source| StoreError::Codec { seq, source }
}

impl EventStore for MemStore {
    async fn append(
        &self,
        stream: &str,
        expected_seq: u64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Envelope>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut streams = self.streams.borrow_mut();
        let blobs = streams.entry(stream.to_owned()).or_default();
        let head = blobs.len() as u64;
        let conflict = StoreError::Conflict {
            expected: expected_seq,
            actual: head,
        };
        if expected_seq > head {
            return Err(conflict);
        }
        if expected_seq < head {
            // Maybe a retry of an append that already landed: same ids at the same positions.
            let start = expected_seq as usize;
            let Some(stored) = blobs.get(start..start + events.len()) else {
                return Err(conflict);
            };
            let mut existing = Vec::with_capacity(events.len());
            for (offset, (blob, new)) in stored.iter().zip(&events).enumerate() {
                let seq = expected_seq + 1 + offset as u64;
                let id = event_id(stream, seq, &new.meta, &new.event);
                match decode_storage(blob).map_err(codec_error(seq))? {
                    Decoded::Event(envelope) if envelope.id == id => existing.push(envelope),
                    _ => return Err(conflict),
                }
            }
            return Ok(existing);
        }
        let mut prev_hash = match blobs.last() {
            Some(blob) => decode_storage_raw(blob).map_err(codec_error(head))?.hash,
            None => GENESIS_HASH.to_owned(),
        };
        // Seal the whole batch before storing any of it, so a batch lands entirely or not at all.
        let mut sealed = Vec::with_capacity(events.len());
        for (offset, new) in events.into_iter().enumerate() {
            let seq = head + 1 + offset as u64;
            let envelope = seal(stream, seq, &prev_hash, new.meta, new.event)?;
            prev_hash.clone_from(&envelope.hash);
            sealed.push(envelope);
        }
        blobs.extend(sealed.iter().map(encode_storage));
        Ok(sealed)
    }

    async fn read(
        &self,
        stream: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Decoded>, StoreError> {
        let streams = self.streams.borrow();
        let Some(blobs) = streams.get(stream) else {
            return Ok(Vec::new());
        };
        blobs
            .iter()
            .enumerate()
            .skip(usize::try_from(after_seq).unwrap_or(usize::MAX))
            .take(limit)
            .map(|(i, blob)| decode_storage(blob).map_err(codec_error(i as u64 + 1)))
            .collect()
    }

    async fn verify(&self, stream: &str) -> Result<(), StoreError> {
        let streams = self.streams.borrow();
        let mut verifier = ChainVerifier::new();
        for blob in streams.get(stream).into_iter().flatten() {
            let seq = verifier.next_seq();
            let decoded = decode_storage(blob).map_err(|e| ChainError {
                seq,
                reason: ChainFault::Corrupt {
                    detail: e.to_string(),
                },
            })?;
            verifier.check(&decoded)?;
        }
        Ok(())
    }
}
