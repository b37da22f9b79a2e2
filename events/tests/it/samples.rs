//! Stored samples: one JSON envelope per event type and schema version, plus events from a
//! "newer Kiln". They pin the wire format: if a change breaks decoding of what is already stored,
//! these tests fail. Regenerate (only for *new* types or versions, never to paper over a break):
//! `cargo test -p events --test it -- --ignored write_samples`.

use std::fs;
use std::path::{Path, PathBuf};

use events::{
    decode_json, decode_storage, encode_json, encode_storage, seal, verify_chain, Decoded, Event,
    Metadata, RawEnvelope, SkipReason, CATALOG, GENESIS_HASH,
};
use serde_json::{json, Value};

use crate::common::one_of_each;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples")
}

fn meta(event: &Event) -> Metadata {
    let meta = Metadata::new(1_700_000_000_000, "u1");
    match event.build_id() {
        Some(build) => meta.correlated(build),
        None => meta,
    }
}

/// Hand-built envelopes for shapes this Kiln no longer writes or does not know.
fn raw_samples() -> Vec<(&'static str, RawEnvelope)> {
    let raw = |event_type: &str, version: u16, data: Value| {
        let mut envelope = RawEnvelope {
            id: "00000000-0000-8000-8000-000000000000".into(),
            stream: "sample".into(),
            seq: 1,
            event_type: event_type.into(),
            version,
            time_ms: 1_650_000_000_000,
            actor: "u1".into(),
            correlation: None,
            causation: None,
            data,
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        envelope.hash = envelope.compute_hash().unwrap();
        envelope
    };
    vec![
        (
            "BuildRequested.v1.json",
            raw(
                "BuildRequested",
                1,
                json!({"build_id": "b0", "prompt": "A notes app"}),
            ),
        ),
        (
            "BuildRequested.v4.future.json",
            raw(
                "BuildRequested",
                4,
                json!({"build_id": "b0", "prompt": "A notes app", "budget_ms": 60000}),
            ),
        ),
        (
            "ProjectArchived.v1.future.json",
            raw("ProjectArchived", 1, json!({"reason": "inactive"})),
        ),
        (
            "StepSucceeded.v1.extra-field.json",
            raw(
                "StepSucceeded",
                1,
                json!({"build_id": "b0", "step": "plan", "attempt": 1, "duration_ms": 5, "cache_hit": true}),
            ),
        ),
    ]
}

/// Samples written by `write_samples` when their version was current, kept as stored: each must
/// still decode, with the current event it upcasts to.
fn historic_samples() -> Vec<(&'static str, Event)> {
    vec![
        (
            "BuildRequested.v2.json",
            Event::BuildRequested {
                build_id: "b1".into(),
                prompt: "A todo app with login".into(),
                idempotency_key: Some("req-42".into()),
                replay_of: None,
                from_step: None,
            },
        ),
        (
            "RollbackRequested.v1.json",
            Event::RollbackRequested {
                to_version: 1,
                rollback_id: None,
                from_version: None,
            },
        ),
        (
            "RolledBack.v1.json",
            Event::RolledBack {
                to_version: 1,
                rollback_id: None,
            },
        ),
    ]
}

#[test]
fn stored_samples_of_earlier_versions_are_upcast_to_the_current_shape() {
    for (name, want) in historic_samples() {
        let (text, decoded) = load(name);
        check_round_trips(name, &text, &decoded);
        let envelope = decoded
            .into_envelope()
            .unwrap_or_else(|| panic!("{name} is not understood"));
        assert!(envelope.version < envelope.data.event_version(), "{name}");
        assert_eq!(envelope.data, want, "{name}");
    }
}

#[test]
#[ignore = "writes tests/samples; run on purpose when adding an event type or version"]
fn write_samples() {
    fs::create_dir_all(dir()).unwrap();
    for event in one_of_each() {
        let name = format!("{}.v{}.json", event.event_type(), event.event_version());
        // A stored sample is history: never rewritten, only added.
        if dir().join(&name).exists() {
            continue;
        }
        let envelope = seal("sample", 1, GENESIS_HASH, meta(&event), event).unwrap();
        let text = serde_json::to_string_pretty(&envelope).unwrap() + "\n";
        let hex = to_hex(&encode_storage(&envelope)) + "\n";
        fs::write(dir().join(name.replace(".json", ".msgpack.hex")), hex).unwrap();
        fs::write(dir().join(name), text).unwrap();
    }
    for (name, envelope) in raw_samples() {
        let text = serde_json::to_string_pretty(&envelope).unwrap() + "\n";
        let hex = to_hex(&encode_storage(&envelope)) + "\n";
        fs::write(dir().join(name.replace(".json", ".msgpack.hex")), hex).unwrap();
        fs::write(dir().join(name), text).unwrap();
    }
}

fn load(name: &str) -> (String, Decoded) {
    let text = fs::read_to_string(dir().join(name))
        .unwrap_or_else(|e| panic!("sample {name} is missing ({e}); see the module docs"));
    let decoded = decode_json(&text).unwrap_or_else(|e| panic!("sample {name}: {e}"));
    (text, decoded)
}

/// Checks what every sample must satisfy: hash verifies, JSON and storage round trips are exact.
fn check_round_trips(name: &str, text: &str, decoded: &Decoded) {
    verify_chain(std::slice::from_ref(decoded)).unwrap_or_else(|e| panic!("sample {name}: {e}"));
    let reencoded = match decoded {
        Decoded::Event(e) => encode_json(e),
        Decoded::Unknown(u) => encode_json(&u.envelope),
    };
    let as_value = |t: &str| serde_json::from_str::<Value>(t).unwrap();
    assert_eq!(
        as_value(&reencoded),
        as_value(text),
        "sample {name} re-encodes differently"
    );
    let bytes = decoded.encode_storage();
    assert_eq!(&decode_storage(&bytes).unwrap(), decoded, "sample {name}");
}

#[test]
fn every_current_event_type_has_a_sample_that_decodes_to_the_expected_event() {
    let expected = one_of_each();
    assert_eq!(
        expected.len(),
        CATALOG.len(),
        "one_of_each must cover the catalog"
    );
    for (event_type, version) in CATALOG {
        let name = format!("{event_type}.v{version}.json");
        let (text, decoded) = load(&name);
        check_round_trips(&name, &text, &decoded);
        let Decoded::Event(envelope) = decoded else {
            panic!("sample {name} was skipped: {:?}", decoded.warning());
        };
        assert_eq!(envelope.version, *version);
        let want = expected
            .iter()
            .find(|e| e.event_type() == *event_type)
            .unwrap();
        assert_eq!(&envelope.data, want, "sample {name}");
        assert_eq!(envelope.data.event_version(), *version);
    }
}

#[test]
fn a_stored_v1_build_request_is_upcast_to_the_current_version() {
    let (text, decoded) = load("BuildRequested.v1.json");
    check_round_trips("BuildRequested.v1.json", &text, &decoded);
    let envelope = decoded.into_envelope().expect("v1 is understood");
    assert_eq!(
        envelope.version, 1,
        "the written version is kept, it is hashed"
    );
    assert_eq!(envelope.data.event_version(), 3);
    assert_eq!(
        envelope.data,
        Event::BuildRequested {
            build_id: "b0".into(),
            prompt: "A notes app".into(),
            idempotency_key: None,
            replay_of: None,
            from_step: None,
        }
    );
}

#[test]
fn events_from_a_newer_kiln_are_skipped_with_a_warning() {
    let cases = [
        ("ProjectArchived.v1.future.json", SkipReason::UnknownType),
        (
            "BuildRequested.v4.future.json",
            SkipReason::NewerVersion { supported: 3 },
        ),
        (
            "StepSucceeded.v1.extra-field.json",
            SkipReason::UnknownFields {
                fields: vec!["cache_hit".into()],
            },
        ),
    ];
    for (name, reason) in cases {
        let (text, decoded) = load(name);
        check_round_trips(name, &text, &decoded);
        let warning = decoded
            .warning()
            .unwrap_or_else(|| panic!("{name} was not skipped"));
        assert_eq!(warning.reason, reason, "{name}");
        assert_eq!(warning.seq, 1);
    }
}

/// Names of the JSON samples this suite expects.
fn sample_names() -> Vec<String> {
    CATALOG
        .iter()
        .map(|(t, v)| format!("{t}.v{v}.json"))
        .chain(raw_samples().into_iter().map(|(name, _)| name.to_owned()))
        .chain(
            historic_samples()
                .into_iter()
                .map(|(name, _)| name.to_owned()),
        )
        .collect()
}

#[test]
fn every_sample_file_is_checked() {
    let mut known: Vec<String> = sample_names()
        .into_iter()
        .flat_map(|name| [name.replace(".json", ".msgpack.hex"), name])
        .collect();
    known.sort();
    let mut files: Vec<String> = fs::read_dir(dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, known);
}

#[test]
fn every_sample_has_a_messagepack_twin_with_the_same_content() {
    // Storage bytes pinned as hex, so a change to the MessagePack layout (key order, integer
    // widths, nil handling) cannot slip through while the JSON stays the same.
    for json_name in sample_names() {
        let (_, from_json) = load(&json_name);
        let hex_name = json_name.replace(".json", ".msgpack.hex");
        let hex = fs::read_to_string(dir().join(&hex_name))
            .unwrap_or_else(|e| panic!("sample {hex_name} is missing ({e})"));
        let bytes = from_hex(hex.trim());
        assert_eq!(
            decode_storage(&bytes).unwrap_or_else(|e| panic!("sample {hex_name}: {e}")),
            from_json,
            "sample {hex_name}"
        );
        assert_eq!(from_json.encode_storage(), bytes, "sample {hex_name}");
    }
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
