//! MemStore: optimistic concurrency, idempotent retries, reading, verification, unknown events.

use events::testing::block_on;
use events::{
    encode_storage, ChainFault, Command, Decoded, Event, EventStore, MemStore, Metadata, NewEvent,
    ProjectState, RawEnvelope, SkipReason, StoreError, GENESIS_HASH,
};
use serde_json::json;

fn meta() -> Metadata {
    Metadata::new(1_700_000_000_000, "u1")
}

fn created() -> NewEvent {
    NewEvent::new(
        Event::ProjectCreated {
            name: "Todo".into(),
            slug: "todo".into(),
            owner: "u1".into(),
        },
        meta(),
    )
}

fn renamed(name: &str) -> NewEvent {
    NewEvent::new(Event::ProjectRenamed { name: name.into() }, meta())
}

fn read_all(store: &MemStore, stream: &str) -> Vec<Decoded> {
    block_on(store.read(stream, 0, usize::MAX)).unwrap()
}

#[test]
fn appended_events_are_read_back_in_order_and_verify() {
    let store = MemStore::new();
    let appended = block_on(store.append("p1", 0, vec![created(), renamed("A")])).unwrap();
    assert_eq!(appended.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(appended[0].prev_hash, GENESIS_HASH);
    assert_eq!(appended[1].prev_hash, appended[0].hash);

    let read = read_all(&store, "p1");
    let envelopes: Vec<_> = read
        .into_iter()
        .filter_map(Decoded::into_envelope)
        .collect();
    assert_eq!(envelopes, appended);
    block_on(store.verify("p1")).unwrap();
}

#[test]
fn reading_after_a_seq_with_a_limit_returns_that_window() {
    let store = MemStore::new();
    let names = ["A", "B", "C", "D"].map(renamed);
    block_on(store.append("p1", 0, vec![created()])).unwrap();
    block_on(store.append("p1", 1, names.to_vec())).unwrap();
    let window = block_on(store.read("p1", 2, 2)).unwrap();
    assert_eq!(window.iter().map(Decoded::seq).collect::<Vec<_>>(), [3, 4]);
    assert!(block_on(store.read("p1", 5, 10)).unwrap().is_empty());
    assert!(block_on(store.read("nope", 0, 10)).unwrap().is_empty());
}

#[test]
fn a_stale_expected_seq_is_a_conflict() {
    let store = MemStore::new();
    block_on(store.append("p1", 0, vec![created()])).unwrap();
    // Two writers both decided against seq 1.
    block_on(store.append("p1", 1, vec![renamed("A")])).unwrap();
    let error = block_on(store.append("p1", 1, vec![renamed("B")])).unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict {
            expected: 1,
            actual: 2
        }
    );
    assert!(!error.is_retryable());
    assert_eq!(store.head("p1"), 2);
}

#[test]
fn an_expected_seq_ahead_of_the_stream_is_a_conflict() {
    let store = MemStore::new();
    let error = block_on(store.append("p1", 3, vec![created()])).unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict {
            expected: 3,
            actual: 0
        }
    );
}

#[test]
fn a_duplicate_append_is_a_no_op_returning_the_stored_envelopes() {
    let store = MemStore::new();
    let first = block_on(store.append("p1", 0, vec![created(), renamed("A")])).unwrap();
    // A retried step appends the same events again at the same expected seq, with a fresh clock.
    let mut retry = vec![created(), renamed("A")];
    for new in &mut retry {
        new.meta.time_ms += 5_000;
    }
    let second = block_on(store.append("p1", 0, retry)).unwrap();
    assert_eq!(second, first);
    assert_eq!(store.head("p1"), 2);
}

#[test]
fn a_concurrent_duplicate_after_other_appends_is_still_recognised() {
    let store = MemStore::new();
    let first = block_on(store.append("p1", 0, vec![created()])).unwrap();
    block_on(store.append("p1", 1, vec![renamed("A")])).unwrap();
    let again = block_on(store.append("p1", 0, vec![created()])).unwrap();
    assert_eq!(again, first);
    assert_eq!(store.head("p1"), 2);
}

#[test]
fn a_different_event_at_a_taken_position_is_a_conflict_not_a_duplicate() {
    let store = MemStore::new();
    block_on(store.append("p1", 0, vec![created(), renamed("A")])).unwrap();
    let error = block_on(store.append("p1", 1, vec![renamed("B")])).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
    // Same event, different actor: a different logical event.
    let mut other = renamed("A");
    other.meta.actor = "u2".into();
    let error = block_on(store.append("p1", 1, vec![other])).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
}

#[test]
fn an_empty_append_is_a_no_op() {
    let store = MemStore::new();
    assert!(block_on(store.append("p1", 7, vec![])).unwrap().is_empty());
    assert_eq!(store.head("p1"), 0);
}

#[test]
fn verify_reports_the_seq_of_a_tampered_blob() {
    let store = MemStore::new();
    block_on(store.append("p1", 0, vec![created(), renamed("A"), renamed("B")])).unwrap();
    let mut blobs = store.export("p1");
    // Change the stored name "A" to "Z" without re-hashing.
    let at = blobs[1].iter().position(|&b| b == b'A').unwrap();
    blobs[1][at] = b'Z';
    store.import("p1", blobs);
    match block_on(store.verify("p1")).unwrap_err() {
        StoreError::Chain(error) => {
            assert_eq!(error.seq, 2);
            assert!(
                matches!(error.reason, ChainFault::BadHash { .. }),
                "{error}"
            );
        }
        other => panic!("expected a chain error, got {other}"),
    }
}

#[test]
fn verify_reports_an_undecodable_blob_as_corrupt() {
    let store = MemStore::new();
    block_on(store.append("p1", 0, vec![created(), renamed("A")])).unwrap();
    let mut blobs = store.export("p1");
    blobs[1].truncate(10);
    store.import("p1", blobs);
    match block_on(store.verify("p1")).unwrap_err() {
        StoreError::Chain(error) => {
            assert_eq!(error.seq, 2);
            assert!(
                matches!(error.reason, ChainFault::Corrupt { .. }),
                "{error}"
            );
        }
        other => panic!("expected a chain error, got {other}"),
    }
    assert!(matches!(
        block_on(store.read("p1", 0, 10)).unwrap_err(),
        StoreError::Codec { seq: 2, .. }
    ));
}

/// Appends a correctly chained blob of an event type this Kiln does not know, as a newer
/// Kiln would.
fn append_future_event(store: &MemStore, stream: &str) {
    let mut blobs = store.export(stream);
    let last = events::decode_storage_raw(blobs.last().unwrap()).unwrap();
    let mut future = RawEnvelope {
        id: "00000000-0000-8000-8000-000000000001".into(),
        stream: stream.into(),
        seq: last.seq + 1,
        event_type: "ProjectArchived".into(),
        version: 1,
        time_ms: 1_800_000_000_000,
        actor: "u1".into(),
        correlation: None,
        causation: None,
        data: json!({"reason": "inactive"}),
        prev_hash: last.hash,
        hash: String::new(),
    };
    future.hash = future.compute_hash().unwrap();
    blobs.push(encode_storage(&future));
    store.import(stream, blobs);
}

#[test]
fn an_unknown_future_event_is_skipped_with_a_warning_and_still_counts() {
    let store = MemStore::new();
    block_on(store.append("p1", 0, vec![created()])).unwrap();
    append_future_event(&store, "p1");

    let (state, warnings) = ProjectState::replay(&read_all(&store, "p1"));
    assert!(state.exists);
    assert_eq!(state.last_seq, 2);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].reason, SkipReason::UnknownType);
    assert!(
        warnings[0]
            .to_string()
            .starts_with("skipped event 2 of stream 'p1' (ProjectArchived v1)"),
        "{}",
        warnings[0]
    );

    // The chain still verifies across it, and the next append goes after it.
    block_on(store.verify("p1")).unwrap();
    let events = state
        .handle(Command::RenameProject { name: "B".into() })
        .unwrap();
    let appended =
        block_on(store.append("p1", state.last_seq, NewEvent::batch(events, &meta()))).unwrap();
    assert_eq!(appended[0].seq, 3);
    block_on(store.verify("p1")).unwrap();
}

#[test]
fn a_whole_build_through_the_store_rebuilds_to_the_same_state() {
    let store = MemStore::new();
    let mut state = ProjectState::default();
    let commands = vec![
        Command::CreateProject {
            name: "Todo".into(),
            slug: "todo".into(),
            owner: "u1".into(),
        },
        Command::RequestBuild {
            build_id: "b1".into(),
            prompt: "todo app".into(),
            idempotency_key: Some("k1".into()),
            replay_of: None,
            from_step: None,
        },
        Command::StartBuild {
            build_id: "b1".into(),
        },
        Command::StartStep {
            build_id: "b1".into(),
            step: "codegen".into(),
            attempt: 1,
        },
        Command::RecordCode {
            build_id: "b1".into(),
            version: 1,
            files: 3,
            bytes: 100,
            prompt_hash: None,
        },
        Command::SucceedStep {
            build_id: "b1".into(),
            step: "codegen".into(),
            attempt: 1,
            duration_ms: 20,
            output_ref: None,
        },
        Command::PassValidation {
            build_id: "b1".into(),
        },
        Command::RecordDatabase {
            build_id: "b1".into(),
            database_id: "db1".into(),
        },
        Command::RecordDeploy {
            build_id: "b1".into(),
            version: 1,
        },
        Command::SucceedBuild {
            build_id: "b1".into(),
            version: 1,
        },
    ];
    for command in commands {
        let events = state.handle(command).unwrap();
        let appended =
            block_on(store.append("p1", state.last_seq, NewEvent::batch(events, &meta()))).unwrap();
        for envelope in &appended {
            state.apply(envelope);
        }
    }
    let (rebuilt, warnings) = ProjectState::replay(&read_all(&store, "p1"));
    assert!(warnings.is_empty());
    assert_eq!(rebuilt, state);
    assert_eq!(rebuilt.live_version, Some(1));
    assert_eq!(rebuilt.database_id.as_deref(), Some("db1"));
    // Pipeline events are correlated with their build.
    let correlated = read_all(&store, "p1")
        .iter()
        .filter_map(Decoded::envelope)
        .filter(|e| e.correlation.as_deref() == Some("b1"))
        .count();
    assert_eq!(correlated, 9);
    block_on(store.verify("p1")).unwrap();
}
