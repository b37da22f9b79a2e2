//! Upcasters: bring a payload stored at an older schema version to the current shape.
//!
//! Key decision: upcasters run on the generic payload value *before* typed decoding, one version
//! step at a time, and they may only **add optional fields** (that start out absent). The
//! canonical form drops absent and `nil` fields (see [`crate::canonical`]), so an upcast event
//! re-encodes to exactly the canonical bytes that were hashed when it was written. That keeps every
//! decoded [`crate::Envelope`] verifiable on its own, with no downcasters and no copy of the
//! original bytes. A change that cannot follow this rule (renaming, splitting, changing meaning)
//! becomes a new event type, not a new version. The codec enforces the rule: an upcast whose result
//! would not reproduce the stored bytes is a [`crate::CodecError::LossyUpcast`], caught by the
//! stored-sample tests before it ships.
//!
//! History of schema changes:
//! - `BuildRequested` v1 → v2: added `idempotency_key: Option<String>` (v1 events have none).
//! - `BuildRequested` v2 → v3: added `replay_of` and `from_step` (`Option<String>`; no build
//!   before v3 was a replay).
//! - `RollbackRequested` v1 → v2: added `rollback_id: Option<String>` and
//!   `from_version: Option<u32>` (v1 rollbacks had no id and did not record the version left).
//! - `RolledBack` v1 → v2: added `rollback_id: Option<String>`.

use serde_json::{Map, Value};

/// One upcast step: turns the payload of `(type, from_version)` into `from_version + 1`.
type Step = fn(&mut Map<String, Value>);

/// Registered steps, keyed by event type and the version they upgrade *from*.
const STEPS: &[(&str, u16, Step)] = &[
    ("BuildRequested", 1, build_requested_v1_to_v2),
    ("BuildRequested", 2, build_requested_v2_to_v3),
    ("RollbackRequested", 1, rollback_requested_v1_to_v2),
    ("RolledBack", 1, rolled_back_v1_to_v2),
];

/// v2 lets clients retry a build request safely; v1 requests had no key.
fn build_requested_v1_to_v2(data: &mut Map<String, Value>) {
    data.entry("idempotency_key").or_insert(Value::Null);
}

/// v3 links a replay to the build it replays; earlier builds were never replays.
fn build_requested_v2_to_v3(data: &mut Map<String, Value>) {
    data.entry("replay_of").or_insert(Value::Null);
    data.entry("from_step").or_insert(Value::Null);
}

/// v2 rollbacks run as workflows with an id; v1 ones had none.
fn rollback_requested_v1_to_v2(data: &mut Map<String, Value>) {
    data.entry("rollback_id").or_insert(Value::Null);
    data.entry("from_version").or_insert(Value::Null);
}

/// v2 names the rollback that finished.
fn rolled_back_v1_to_v2(data: &mut Map<String, Value>) {
    data.entry("rollback_id").or_insert(Value::Null);
}

/// Why a stored payload could not be brought to the current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpcastFailure {
    /// No step upgrades this version (version 0, or a gap in [`STEPS`]).
    NoPath,
    /// The payload is not a map, so no field can be added.
    NotAMap,
}

/// Upgrades `data` from `version` to `current`, step by step.
pub(crate) fn upcast(
    event_type: &str,
    mut version: u16,
    current: u16,
    mut data: Value,
) -> Result<Value, UpcastFailure> {
    while version < current {
        let step = STEPS
            .iter()
            .find(|(name, from, _)| *name == event_type && *from == version)
            .map(|(_, _, step)| *step)
            .ok_or(UpcastFailure::NoPath)?;
        step(data.as_object_mut().ok_or(UpcastFailure::NotAMap)?);
        version += 1;
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn build_requested_v1_gains_an_empty_idempotency_key() {
        let v1 = json!({"build_id": "b1", "prompt": "todo app"});
        let v2 = upcast("BuildRequested", 1, 2, v1).unwrap();
        assert_eq!(
            v2,
            json!({"build_id": "b1", "prompt": "todo app", "idempotency_key": null})
        );
    }

    #[test]
    fn build_requested_v1_is_upcast_through_v2_to_v3() {
        let v1 = json!({"build_id": "b1", "prompt": "todo app"});
        let v3 = upcast("BuildRequested", 1, 3, v1).unwrap();
        assert_eq!(
            v3,
            json!({"build_id": "b1", "prompt": "todo app", "idempotency_key": null, "replay_of": null, "from_step": null})
        );
    }

    #[test]
    fn rollback_events_v1_gain_an_empty_rollback_id() {
        let requested = upcast("RollbackRequested", 1, 2, json!({"to_version": 1})).unwrap();
        assert_eq!(
            requested,
            json!({"to_version": 1, "rollback_id": null, "from_version": null})
        );
        let done = upcast("RolledBack", 1, 2, json!({"to_version": 1})).unwrap();
        assert_eq!(done, json!({"to_version": 1, "rollback_id": null}));
    }

    #[test]
    fn a_version_without_an_upcaster_is_reported() {
        assert_eq!(
            upcast("BuildRequested", 0, 3, json!({})),
            Err(UpcastFailure::NoPath)
        );
        assert_eq!(
            upcast("BuildRequested", 1, 3, json!([])),
            Err(UpcastFailure::NotAMap)
        );
    }
}
