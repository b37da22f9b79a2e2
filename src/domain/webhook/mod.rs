//! Webhooks (Standard Webhooks status callbacks): the pure parts.
//!
//! - [`EventType`]: the callback types a program subscribes to, and which log events they come
//!   from ([`payload_of`] turns a stored event into the JSON body receivers get);
//! - [`target`]: which URLs may receive callbacks (http(s), no private or loopback targets);
//! - [`signature`]: secrets (`whsec_…`), message ids and the `v1` HMAC-SHA256 signature;
//! - [`schedule`]: the retry schedule and how `Retry-After` and the test scale bend it.
//!
//! Key decision: the body of a callback is fixed when the event is fanned out and travels in the
//! Queue message, so every retry (and a manual redelivery) sends the same bytes under the same
//! `webhook-id`; only `webhook-timestamp` and the signature change per attempt.

pub mod schedule;
pub mod signature;
pub mod target;

use events::{Envelope, Event};
use serde_json::{json, Map, Value};

/// Longest description of an endpoint, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Endpoints one project may hold.
pub const MAX_ENDPOINTS_PER_PROJECT: u32 = 20;

/// A callback type, as receivers see it in `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// `build.requested`: a build was asked for (`BuildRequested`).
    BuildRequested,
    /// `build.started`: the workflow picked it up (`BuildStarted`).
    BuildStarted,
    /// `build.step.succeeded`: one step attempt succeeded (`StepSucceeded`).
    StepSucceeded,
    /// `build.step.failed`: one step attempt failed (`StepFailed`).
    StepFailed,
    /// `build.succeeded`: the build's version is live (`BuildSucceeded`).
    BuildSucceeded,
    /// `build.failed`: the build gave up (`BuildFailed`).
    BuildFailed,
    /// `build.cancelled`: the owner cancelled the build (`BuildCancelled`).
    BuildCancelled,
    /// `project.deleted`: the project was deleted (`ProjectDeleted`).
    ProjectDeleted,
}

impl EventType {
    /// Every type, in pipeline order (the default subscription).
    pub const ALL: [EventType; 8] = [
        EventType::BuildRequested,
        EventType::BuildStarted,
        EventType::StepSucceeded,
        EventType::StepFailed,
        EventType::BuildSucceeded,
        EventType::BuildFailed,
        EventType::BuildCancelled,
        EventType::ProjectDeleted,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::BuildRequested => "build.requested",
            EventType::BuildStarted => "build.started",
            EventType::StepSucceeded => "build.step.succeeded",
            EventType::StepFailed => "build.step.failed",
            EventType::BuildSucceeded => "build.succeeded",
            EventType::BuildFailed => "build.failed",
            EventType::BuildCancelled => "build.cancelled",
            EventType::ProjectDeleted => "project.deleted",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The callback type of a log event, if it has one.
    pub fn of(event: &Event) -> Option<EventType> {
        Some(match event {
            Event::BuildRequested { .. } => EventType::BuildRequested,
            Event::BuildStarted { .. } => EventType::BuildStarted,
            Event::StepSucceeded { .. } => EventType::StepSucceeded,
            Event::StepFailed { .. } => EventType::StepFailed,
            Event::BuildSucceeded { .. } => EventType::BuildSucceeded,
            Event::BuildFailed { .. } => EventType::BuildFailed,
            Event::BuildCancelled { .. } => EventType::BuildCancelled,
            Event::ProjectDeleted {} => EventType::ProjectDeleted,
            _ => return None,
        })
    }
}

/// The set of types an endpoint receives (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Vec<EventType>);

impl EventFilter {
    /// Every type.
    pub fn all() -> Self {
        EventFilter(EventType::ALL.to_vec())
    }

    /// Parses the `events` field of a request: absent means all; an unknown name is refused with
    /// a message listing the valid ones; an empty list is refused (disable the endpoint instead).
    pub fn parse(names: Option<&[String]>) -> Result<Self, String> {
        let Some(names) = names else {
            return Ok(Self::all());
        };
        if names.is_empty() {
            return Err(
                "events must name at least one event type; to pause deliveries set enabled to false"
                    .into(),
            );
        }
        let mut types = Vec::new();
        for name in names {
            let t = EventType::parse(name.trim()).ok_or_else(|| {
                format!(
                    "unknown event type '{}'; valid types are {}",
                    crate::domain::email::clip(name),
                    valid_names()
                )
            })?;
            if !types.contains(&t) {
                types.push(t);
            }
        }
        types.sort();
        Ok(EventFilter(types))
    }

    /// The stored form: names separated by spaces.
    pub fn to_stored(&self) -> String {
        self.names().join(" ")
    }

    /// Reads the stored form (unknown names, from a newer version, are skipped).
    pub fn from_stored(stored: &str) -> Self {
        let mut types: Vec<EventType> = stored
            .split_whitespace()
            .filter_map(EventType::parse)
            .collect();
        types.sort();
        types.dedup();
        EventFilter(types)
    }

    /// The wire names, in pipeline order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|t| t.as_str()).collect()
    }

    /// Whether the endpoint receives `t`.
    pub fn contains(&self, t: EventType) -> bool {
        self.0.contains(&t)
    }
}

fn valid_names() -> String {
    EventType::ALL
        .iter()
        .map(|t| format!("'{}'", t.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a description: at most [`MAX_DESCRIPTION_CHARS`] characters, no control characters.
pub fn parse_description(raw: Option<&str>) -> Result<String, String> {
    let d = raw.unwrap_or_default().trim();
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "description must be at most {MAX_DESCRIPTION_CHARS} characters"
        ));
    }
    if d.chars().any(char::is_control) {
        return Err("description must not contain control characters".into());
    }
    Ok(d.to_string())
}

/// The callback body for `envelope`, or `None` when its event has no callback type.
///
/// `{type, timestamp, seq, data: {project_id, build_id, status, step?, attempt?, version?, url?,
/// error?}}`; `timestamp` is when the event was recorded (RFC 3339, UTC), `seq` its position in
/// the project's log (receivers order by it: Queues do not promise order), and `url` the live
/// app's address (`app_url`) on `build.succeeded`.
pub fn payload_of(envelope: &Envelope, app_url: &str) -> Option<(EventType, Value)> {
    let kind = EventType::of(&envelope.data)?;
    let mut data = Map::new();
    data.insert("project_id".into(), json!(envelope.stream));
    data.insert("build_id".into(), json!(envelope.data.build_id()));
    let status = match &envelope.data {
        Event::BuildRequested { .. } => "requested",
        Event::BuildStarted { .. } => "running",
        Event::StepSucceeded { step, attempt, .. } => {
            data.insert("step".into(), json!(step));
            data.insert("attempt".into(), json!(attempt));
            "running"
        }
        Event::StepFailed {
            step,
            attempt,
            error,
            ..
        } => {
            data.insert("step".into(), json!(step));
            data.insert("attempt".into(), json!(attempt));
            data.insert("error".into(), json!(error));
            "running"
        }
        Event::BuildSucceeded { version, .. } => {
            data.insert("version".into(), json!(version));
            data.insert("url".into(), json!(app_url));
            "succeeded"
        }
        Event::BuildFailed { step, reason, .. } => {
            data.insert("step".into(), json!(step));
            data.insert("error".into(), json!(reason));
            "failed"
        }
        Event::BuildCancelled { step, .. } => {
            data.insert("step".into(), json!(step));
            "cancelled"
        }
        Event::ProjectDeleted {} => "deleted",
        _ => return None,
    };
    data.insert("status".into(), json!(status));
    let timestamp = chrono::DateTime::from_timestamp_millis(envelope.time_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    Some((
        kind,
        json!({
            "type": kind.as_str(),
            "timestamp": timestamp,
            "seq": envelope.seq,
            "data": Value::Object(data),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_events_mean_every_type_in_pipeline_order() {
        let f = EventFilter::parse(None).unwrap();
        assert_eq!(
            f.names(),
            vec![
                "build.requested",
                "build.started",
                "build.step.succeeded",
                "build.step.failed",
                "build.succeeded",
                "build.failed",
                "build.cancelled",
                "project.deleted"
            ]
        );
    }

    #[test]
    fn an_unknown_event_type_is_refused_naming_the_valid_ones() {
        let err = EventFilter::parse(Some(&["build.done".into()])).unwrap_err();
        assert!(err.contains("'build.done'"), "{err}");
        assert!(
            err.contains("'build.succeeded'") && err.contains("'project.deleted'"),
            "{err}"
        );
        assert!(EventFilter::parse(Some(&[])).is_err());
    }

    #[test]
    fn filters_round_trip_through_their_stored_form() {
        let f = EventFilter::parse(Some(&[
            "build.failed".into(),
            "build.requested".into(),
            "build.failed".into(),
        ]))
        .unwrap();
        assert_eq!(f.names(), vec!["build.requested", "build.failed"]);
        assert_eq!(EventFilter::from_stored(&f.to_stored()), f);
        assert!(f.contains(EventType::BuildFailed) && !f.contains(EventType::BuildStarted));
    }

    fn envelope(data: Event) -> Envelope {
        Envelope {
            id: "e1".into(),
            stream: "p1".into(),
            seq: 7,
            event_type: data.event_type().into(),
            version: 1,
            time_ms: 1_700_000_000_123,
            actor: "kiln:pipeline".into(),
            correlation: None,
            causation: None,
            data,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_succeeded_build_carries_its_version_and_the_live_url() {
        let (t, body) = payload_of(
            &envelope(Event::BuildSucceeded {
                build_id: "b1".into(),
                version: 3,
            }),
            "http://recipes.localhost:8787",
        )
        .unwrap();
        assert_eq!(t, EventType::BuildSucceeded);
        assert_eq!(
            body,
            json!({"type": "build.succeeded", "timestamp": "2023-11-14T22:13:20.123Z", "seq": 7,
                   "data": {"project_id": "p1", "build_id": "b1", "status": "succeeded", "version": 3,
                            "url": "http://recipes.localhost:8787"}})
        );
    }

    #[test]
    fn a_failed_step_carries_step_attempt_and_error() {
        let (_, body) = payload_of(
            &envelope(Event::StepFailed {
                build_id: "b1".into(),
                step: "plan".into(),
                attempt: 2,
                error: "model timed out".into(),
                retryable: true,
            }),
            "",
        )
        .unwrap();
        assert_eq!(body["data"]["step"], "plan");
        assert_eq!(body["data"]["attempt"], 2);
        assert_eq!(body["data"]["error"], "model timed out");
        assert_eq!(body["data"]["status"], "running");
    }

    #[test]
    fn events_without_a_callback_type_give_no_payload() {
        assert!(payload_of(
            &envelope(Event::StepStarted {
                build_id: "b1".into(),
                step: "plan".into(),
                attempt: 1
            }),
            ""
        )
        .is_none());
        let (t, body) = payload_of(&envelope(Event::ProjectDeleted {}), "").unwrap();
        assert_eq!(t, EventType::ProjectDeleted);
        assert_eq!(body["data"]["build_id"], Value::Null);
    }
}
