//! Shared fixtures and proptest strategies.

use events::{seal, Envelope, Event, Metadata, Role, GENESIS_HASH};
use proptest::prelude::*;

/// Arbitrary text, including non-ASCII and control characters (codecs must not care).
pub fn text() -> impl Strategy<Value = String> {
    "\\PC{0,10}|.{0,6}"
}

/// A small id space, so random events often hit the same build.
pub fn build_id() -> impl Strategy<Value = String> {
    "b[0-2]"
}

fn step() -> impl Strategy<Value = String> {
    prop_oneof![Just("plan"), Just("codegen"), Just("create-db")].prop_map(str::to_owned)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::User), Just(Role::Assistant), Just(Role::System)]
}

/// Every event type, with arbitrary field values.
pub fn event() -> impl Strategy<Value = Event> {
    let o = proptest::option::of;
    prop_oneof![
        (text(), text(), text()).prop_map(|(name, slug, owner)| Event::ProjectCreated {
            name,
            slug,
            owner
        }),
        text().prop_map(|name| Event::ProjectRenamed { name }),
        (text(), role(), text()).prop_map(|(message_id, role, content)| Event::MessagePosted {
            message_id,
            role,
            content
        }),
        (
            build_id(),
            text(),
            o(text()),
            proptest::option::of(build_id()),
            proptest::option::of(step())
        )
            .prop_map(
                |(build_id, prompt, idempotency_key, replay_of, from_step)| Event::BuildRequested {
                    build_id,
                    prompt,
                    idempotency_key,
                    replay_of,
                    from_step,
                }
            ),
        build_id().prop_map(|build_id| Event::BuildStarted { build_id }),
        (build_id(), step(), any::<u32>()).prop_map(|(build_id, step, attempt)| {
            Event::StepStarted {
                build_id,
                step,
                attempt,
            }
        }),
        (build_id(), step(), any::<u32>(), any::<u64>(), o(text())).prop_map(
            |(build_id, step, attempt, duration_ms, output_ref)| Event::StepSucceeded {
                build_id,
                step,
                attempt,
                duration_ms,
                output_ref
            }
        ),
        (build_id(), step(), any::<u32>(), text(), any::<bool>()).prop_map(
            |(build_id, step, attempt, error, retryable)| Event::StepFailed {
                build_id,
                step,
                attempt,
                error,
                retryable
            }
        ),
        (build_id(), text(), text()).prop_map(|(build_id, plan_hash, summary)| {
            Event::PlanProposed {
                build_id,
                plan_hash,
                summary,
            }
        }),
        build_id().prop_map(|build_id| Event::PlanApproved { build_id }),
        (
            build_id(),
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            o(text())
        )
            .prop_map(|(build_id, version, files, bytes, prompt_hash)| {
                Event::CodeGenerated {
                    build_id,
                    version,
                    files,
                    bytes,
                    prompt_hash,
                }
            }),
        (build_id(), prop::collection::vec(text(), 0..3)).prop_map(|(build_id, diagnostics)| {
            Event::ValidationFailed {
                build_id,
                diagnostics,
            }
        }),
        build_id().prop_map(|build_id| Event::ValidationPassed { build_id }),
        (build_id(), any::<u32>())
            .prop_map(|(build_id, attempt)| Event::RepairAttempted { build_id, attempt }),
        (
            build_id(),
            text(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            prop::option::of(text())
        )
            .prop_map(|(build_id, step, input, output, estimated, error)| {
                Event::ModelCalled {
                    build_id,
                    step,
                    provider: "openai".into(),
                    model: "m".into(),
                    template: "plan".into(),
                    template_hash: "0123456789abcdef".into(),
                    input_tokens: u64::from(input),
                    output_tokens: u64::from(output),
                    estimated,
                    cost_nano_usd: u64::from(input) * 60,
                    finish_reason: error.is_none().then(|| "stop".to_string()),
                    retries: 0,
                    error,
                }
            }),
        (build_id(), text()).prop_map(|(build_id, database_id)| Event::DatabaseProvisioned {
            build_id,
            database_id
        }),
        (build_id(), prop::collection::vec(text(), 0..3))
            .prop_map(|(build_id, names)| Event::MigrationApplied { build_id, names }),
        (build_id(), any::<u32>(), any::<u64>()).prop_map(|(build_id, count, bytes)| {
            Event::AssetsUploaded {
                build_id,
                count,
                bytes,
            }
        }),
        (build_id(), any::<u32>())
            .prop_map(|(build_id, version)| Event::Deployed { build_id, version }),
        (build_id(), any::<u32>())
            .prop_map(|(build_id, version)| Event::BuildSucceeded { build_id, version }),
        (build_id(), step(), text()).prop_map(|(build_id, step, reason)| Event::BuildFailed {
            build_id,
            step,
            reason
        }),
        (build_id(), proptest::option::of(step()))
            .prop_map(|(build_id, step)| Event::BuildCancelled { build_id, step }),
        (any::<u32>(), o(text()), proptest::option::of(any::<u32>())).prop_map(
            |(to_version, rollback_id, from_version)| Event::RollbackRequested {
                to_version,
                rollback_id,
                from_version,
            }
        ),
        (any::<u32>(), o(text())).prop_map(|(to_version, rollback_id)| Event::RolledBack {
            to_version,
            rollback_id
        }),
        (text(), any::<u32>(), text()).prop_map(|(rollback_id, to_version, reason)| {
            Event::RollbackFailed {
                rollback_id,
                to_version,
                reason,
            }
        }),
        (text(), any::<u16>())
            .prop_map(|(webhook_id, status)| Event::WebhookDelivered { webhook_id, status }),
        Just(Event::ProjectDeleted {}),
        Just(Event::TeardownCompleted {}),
        (
            any::<u32>(),
            proptest::option::of(any::<u32>()),
            any::<u32>(),
            any::<u64>()
        )
            .prop_map(|(version, parent, files, bytes)| Event::VersionSaved {
                version,
                parent,
                files,
                bytes
            }),
    ]
}

/// Arbitrary envelope metadata.
pub fn metadata() -> impl Strategy<Value = Metadata> {
    (
        any::<i64>(),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(|(time_ms, actor, correlation, causation)| Metadata {
            time_ms,
            actor,
            correlation,
            causation,
        })
}

/// Seals events with metadata into a valid chain of stream `stream`.
pub fn chain(stream: &str, events: Vec<(Event, Metadata)>) -> Vec<Envelope> {
    let mut prev = GENESIS_HASH.to_owned();
    events
        .into_iter()
        .enumerate()
        .map(|(i, (event, meta))| {
            let envelope = seal(stream, i as u64 + 1, &prev, meta, event).unwrap();
            prev.clone_from(&envelope.hash);
            envelope
        })
        .collect()
}

/// One instance of every event type in the catalog (current versions), with realistic values.
/// The stored samples in `tests/samples/` are these events.
pub fn one_of_each() -> Vec<Event> {
    let b = || "b1".to_owned();
    vec![
        Event::ProjectCreated {
            name: "Todo list".into(),
            slug: "todo".into(),
            owner: "u1".into(),
        },
        Event::ProjectRenamed {
            name: "Team todos".into(),
        },
        Event::MessagePosted {
            message_id: "m1".into(),
            role: Role::User,
            content: "A todo app with login ✓".into(),
        },
        Event::BuildRequested {
            build_id: b(),
            prompt: "A todo app with login".into(),
            idempotency_key: Some("req-42".into()),
            replay_of: Some("b0".into()),
            from_step: Some("codegen".into()),
        },
        Event::BuildStarted { build_id: b() },
        Event::StepStarted {
            build_id: b(),
            step: "plan".into(),
            attempt: 1,
        },
        Event::StepSucceeded {
            build_id: b(),
            step: "plan".into(),
            attempt: 1,
            duration_ms: 1234,
            output_ref: Some("sha256:ab12".into()),
        },
        Event::StepFailed {
            build_id: b(),
            step: "codegen".into(),
            attempt: 1,
            error: "workers ai answered 429".into(),
            retryable: true,
        },
        Event::PlanProposed {
            build_id: b(),
            plan_hash: "9f86d081884c7d65".into(),
            summary: "Two pages, a todos table, email login".into(),
        },
        Event::PlanApproved { build_id: b() },
        Event::CodeGenerated {
            build_id: b(),
            version: 1,
            files: 7,
            bytes: 18_432,
            prompt_hash: Some("e3b0c442".into()),
        },
        Event::ValidationFailed {
            build_id: b(),
            diagnostics: vec!["worker.js:3: unknown import 'lodash'".into()],
        },
        Event::ValidationPassed { build_id: b() },
        Event::RepairAttempted {
            build_id: b(),
            attempt: 1,
        },
        Event::ModelCalled {
            build_id: b(),
            step: "codegen".into(),
            provider: "workers-ai".into(),
            model: "@cf/zai-org/glm-4.7-flash".into(),
            template: "codegen".into(),
            template_hash: "3f2a9c01d4e5b6a7".into(),
            input_tokens: 1_850,
            output_tokens: 6_120,
            estimated: false,
            cost_nano_usd: 2_559_000,
            finish_reason: Some("stop".into()),
            retries: 1,
            error: None,
        },
        Event::DatabaseProvisioned {
            build_id: b(),
            database_id: "db-7".into(),
        },
        Event::MigrationApplied {
            build_id: b(),
            names: vec!["0001_init.sql".into(), "0002_todos.sql".into()],
        },
        Event::AssetsUploaded {
            build_id: b(),
            count: 4,
            bytes: 90_112,
        },
        Event::Deployed {
            build_id: b(),
            version: 1,
        },
        Event::BuildSucceeded {
            build_id: b(),
            version: 1,
        },
        Event::BuildFailed {
            build_id: "b2".into(),
            step: "validate".into(),
            reason: "repair attempts exhausted".into(),
        },
        Event::BuildCancelled {
            build_id: "b3".into(),
            step: Some("codegen".into()),
        },
        Event::RollbackRequested {
            to_version: 1,
            rollback_id: Some("r1".into()),
            from_version: Some(2),
        },
        Event::RolledBack {
            to_version: 1,
            rollback_id: Some("r1".into()),
        },
        Event::RollbackFailed {
            rollback_id: "r2".into(),
            to_version: 1,
            reason: "version 1 needs column tasks.title, which migration 0003_rebuild.sql drops"
                .into(),
        },
        Event::WebhookDelivered {
            webhook_id: "wh1".into(),
            status: 204,
        },
        Event::ProjectDeleted {},
        Event::TeardownCompleted {},
        Event::VersionSaved {
            version: 2,
            parent: Some(1),
            files: 10,
            bytes: 4_096,
        },
    ]
}
