//! The hash chain: each event's hash covers the previous hash, so any edit, removal, insertion or
//! reordering in a stream is detected.
//!
//! A chain proves integrity relative to its head: whoever can rewrite a whole stream can also
//! recompute every hash. So keep the latest hash somewhere else as well (a projection row, a
//! webhook receiver) and resume verification from it with [`ChainVerifier::resume`].
//!
//! Key decision: verification is written against the small [`Chained`] trait rather than one
//! concrete type, so the same checks run over typed envelopes, raw envelopes of unknown events
//! and mixed [`crate::Decoded`] sequences. [`ChainVerifier`] checks one event at a time, so an
//! adapter can verify a long stream page by page without holding it in memory.

use crate::envelope::{Envelope, Payload, GENESIS_HASH};

/// Why a chain is invalid at some seq.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    /// The content does not match the stored hash.
    #[error(
        "hash {found} does not match the content (expected {expected}); the event was altered"
    )]
    BadHash {
        /// Hash recomputed from the content.
        expected: String,
        /// Hash stored in the envelope.
        found: String,
    },
    /// `prev_hash` does not equal the previous event's hash.
    #[error("prev_hash {found} does not link to the previous hash {expected}; an event was removed, inserted or altered")]
    BrokenLink {
        /// Hash of the previous event.
        expected: String,
        /// `prev_hash` stored in this envelope.
        found: String,
    },
    /// The seq is not the next one.
    #[error("seq {found} is out of place; expected seq {expected}")]
    SeqGap {
        /// The seq this position must have.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// The event belongs to another stream.
    #[error("event belongs to stream '{found}', not '{expected}'")]
    StreamMismatch {
        /// Stream of the first event verified.
        expected: String,
        /// Stream of this event.
        found: String,
    },
    /// A hash field is not 64 lowercase hex digits.
    #[error("'{value}' is not a hash; expected 64 lowercase hex digits")]
    MalformedHash {
        /// The offending value.
        value: String,
    },
    /// The stored blob could not be decoded at all.
    #[error("stored event is corrupt: {detail}")]
    Corrupt {
        /// The decoder's message.
        detail: String,
    },
}

/// The first invalid position in a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event chain is broken at seq {seq}: {reason}")]
pub struct ChainError {
    /// The seq of the first bad event (the position, when the stored seq itself is wrong).
    pub seq: u64,
    /// What is wrong there.
    pub reason: ChainFault,
}

/// Something that sits in a hash chain.
pub trait Chained {
    /// Stream name.
    fn stream(&self) -> &str;
    /// Stored seq.
    fn seq(&self) -> u64;
    /// Stored `prev_hash`.
    fn prev_hash(&self) -> &str;
    /// Stored `hash`.
    fn hash(&self) -> &str;
    /// The hash recomputed from the content.
    fn compute_hash(&self) -> Result<String, ChainFault>;
}

impl<D: Payload> Chained for Envelope<D> {
    fn stream(&self) -> &str {
        &self.stream
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev_hash(&self) -> &str {
        &self.prev_hash
    }
    fn hash(&self) -> &str {
        &self.hash
    }
    fn compute_hash(&self) -> Result<String, ChainFault> {
        Envelope::compute_hash(self)
    }
}

/// Checks a stream one event at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerifier {
    stream: Option<String>,
    next_seq: u64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// Starts at the beginning of a stream: seq 1, genesis `prev_hash`.
    pub fn new() -> Self {
        ChainVerifier {
            stream: None,
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Continues after an already verified event `seq` whose hash is `hash`.
    pub fn resume(seq: u64, hash: impl Into<String>) -> Self {
        ChainVerifier {
            stream: None,
            next_seq: seq.saturating_add(1),
            prev_hash: hash.into(),
        }
    }

    /// The seq the next event must have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Checks the next event: position, stream, link to the previous hash, and its own hash.
    pub fn check<T: Chained + ?Sized>(&mut self, item: &T) -> Result<(), ChainError> {
        let seq = self.next_seq;
        let fail = |reason| Err(ChainError { seq, reason });
        if item.seq() != seq {
            return fail(ChainFault::SeqGap {
                expected: seq,
                found: item.seq(),
            });
        }
        match &self.stream {
            Some(stream) if stream != item.stream() => {
                return fail(ChainFault::StreamMismatch {
                    expected: stream.clone(),
                    found: item.stream().to_owned(),
                })
            }
            Some(_) => {}
            None => self.stream = Some(item.stream().to_owned()),
        }
        if item.prev_hash() != self.prev_hash {
            return fail(ChainFault::BrokenLink {
                expected: self.prev_hash.clone(),
                found: item.prev_hash().to_owned(),
            });
        }
        let expected = match item.compute_hash() {
            Ok(hash) => hash,
            Err(reason) => return fail(reason),
        };
        if expected != item.hash() {
            return fail(ChainFault::BadHash {
                expected,
                found: item.hash().to_owned(),
            });
        }
        self.next_seq = self.next_seq.saturating_add(1);
        self.prev_hash = expected;
        Ok(())
    }
}

/// Verifies a whole stream from seq 1: consecutive seqs, one stream, each `prev_hash` equal to
/// the previous hash (genesis first), each hash matching its content. Reports the first bad seq.
pub fn verify_chain<T: Chained>(items: &[T]) -> Result<(), ChainError> {
    let mut verifier = ChainVerifier::new();
    items.iter().try_for_each(|item| verifier.check(item))
}
