//! Kiln events: the typed facts of the event-sourced platform, and everything needed to store,
//! verify and fold them. Pure Rust, no `worker` dependency: it builds and tests natively and
//! checks for `wasm32-unknown-unknown`.
//!
//! One stream per project. Each event travels in an [`Envelope`] (id, stream, seq, type, schema
//! version, time, actor, correlation, causation, data, prev hash, hash); the hash covers the
//! previous hash and the event's canonical bytes, so a stream is tamper-evident.
//!
//! | module | purpose |
//! |---|---|
//! | [`event`] | the [`Event`] catalog: past-tense facts with type name and schema version |
//! | `canonical` | the exact bytes that are hashed and stored |
//! | `upcast` | bringing older schema versions to the current shape |
//! | [`envelope`] | [`Envelope`], sealing, deterministic [`event_id`]s |
//! | [`chain`] | hash-chain verification ([`verify_chain`]) |
//! | [`codec`] | MessagePack storage / JSON API codecs, unknown-event handling |
//! | [`fold`] | [`ProjectState`] and [`BuildState`] rebuilt from events (`apply`) |
//! | [`decide`] | [`Command`]s, business rules (`handle`) and [`Rejection`]s |
//! | [`store`] | the [`EventStore`] port and the in-memory [`MemStore`] |
//! | [`testing`] | `given / when / then` helpers and a `block_on` for ready futures |
//!
//! Key decision: the crate separates what is *stored* (a schema-agnostic [`RawEnvelope`] whose
//! canonical bytes any reader can recompute) from what is *understood* (a typed [`Envelope`]).
//! That is what lets an older Kiln verify, count and skip events written by a newer one instead
//! of crashing or breaking the chain, and lets upcasting stay invisible to the hashes.
//!
//! ```
//! use events::testing::block_on;
//! use events::{Command, EventStore, MemStore, Metadata, NewEvent, ProjectState};
//!
//! let store = MemStore::new();
//! let state = ProjectState::default();
//! let events = state
//!     .handle(Command::CreateProject {
//!         name: "Todo".into(),
//!         slug: "todo".into(),
//!         owner: "u1".into(),
//!     })
//!     .unwrap();
//! let meta = Metadata::new(1_700_000_000_000, "u1");
//! block_on(store.append("p1", state.last_seq, NewEvent::batch(events, &meta))).unwrap();
//! let (state, warnings) = ProjectState::replay(&block_on(store.read("p1", 0, 100)).unwrap());
//! assert!(state.exists && warnings.is_empty());
//! block_on(store.verify("p1")).unwrap();
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod canonical;
pub mod chain;
pub mod codec;
pub mod decide;
pub mod envelope;
pub mod event;
pub mod fold;
pub mod store;
pub mod testing;
mod upcast;

pub use chain::{verify_chain, ChainError, ChainFault, ChainVerifier, Chained};
pub use codec::{
    decode_json, decode_storage, decode_storage_raw, encode_json, encode_storage, interpret,
    CodecError, Decoded, SkipReason, Unknown, Warning,
};
pub use decide::{Command, Rejection};
pub use envelope::{
    event_id, seal, Envelope, Metadata, NewEvent, Payload, RawEnvelope, GENESIS_HASH,
};
pub use event::{Event, Role, CATALOG};
pub use fold::{
    AttemptStatus, BuildError, BuildState, BuildStatus, Live, LiveReason, PendingRollback,
    PlanState, ProjectState, StepAttempt, StepState, Validation,
};
pub use store::{EventStore, MemStore, StoreError};
