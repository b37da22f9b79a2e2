//! Given / when / then: project-level commands. One success and at least one rejection each.

use events::testing::given;
use events::{Command, Event, Rejection, Role};

fn created() -> Vec<Event> {
    vec![Event::ProjectCreated {
        name: "Todo".into(),
        slug: "todo".into(),
        owner: "u1".into(),
    }]
}

fn deleted() -> Vec<Event> {
    let mut events = created();
    events.push(Event::ProjectDeleted {});
    events
}

fn with(mut base: Vec<Event>, more: impl IntoIterator<Item = Event>) -> Vec<Event> {
    base.extend(more);
    base
}

/// A project whose builds b1 (version 1) and b2 (version 2) both went live.
fn two_live_versions() -> Vec<Event> {
    let mut events = created();
    for (build, version) in [("b1", 1), ("b2", 2)] {
        events.extend(crate::build::deployed_build(build, version));
        events.push(Event::BuildSucceeded {
            build_id: build.into(),
            version,
        });
    }
    events
}

fn create(name: &str, slug: &str) -> Command {
    Command::CreateProject {
        name: name.into(),
        slug: slug.into(),
        owner: "u1".into(),
    }
}

#[test]
fn creating_a_project_records_it() {
    given([])
        .when(create("Todo", "todo"))
        .then_expect(created());
}

#[test]
fn creating_a_project_twice_is_rejected() {
    given(created())
        .when(create("Todo", "todo"))
        .then_reject(Rejection::ProjectExists {
            slug: "todo".into(),
        });
}

#[test]
fn creating_a_project_with_an_invalid_slug_is_rejected() {
    given([])
        .when(create("Todo", "-Todo"))
        .then_reject(Rejection::InvalidSlug {
            slug: "-Todo".into(),
        });
}

#[test]
fn creating_a_project_with_a_blank_name_is_rejected() {
    given([])
        .when(create("  ", "todo"))
        .then_reject(Rejection::Empty {
            field: "project name",
        });
}

#[test]
fn creating_a_project_with_an_overlong_name_is_rejected() {
    given([])
        .when(create(&"é".repeat(101), "todo"))
        .then_reject(Rejection::TooLong {
            field: "project name",
            size: 101,
            limit: 100,
            unit: "characters",
        });
}

#[test]
fn renaming_a_project_records_the_new_name() {
    given(created())
        .when(Command::RenameProject {
            name: "Team todos".into(),
        })
        .then_expect(vec![Event::ProjectRenamed {
            name: "Team todos".into(),
        }]);
}

#[test]
fn renaming_to_the_same_name_is_rejected() {
    given(created())
        .when(Command::RenameProject {
            name: "Todo".into(),
        })
        .then_reject(Rejection::SameName {
            name: "Todo".into(),
        });
}

#[test]
fn renaming_a_deleted_project_is_rejected() {
    given(deleted())
        .when(Command::RenameProject { name: "New".into() })
        .then_reject(Rejection::ProjectDeleted);
}

#[test]
fn renaming_a_missing_project_is_rejected() {
    given([])
        .when(Command::RenameProject { name: "New".into() })
        .then_reject(Rejection::ProjectNotFound);
}

#[test]
fn deleting_a_project_records_it() {
    given(created())
        .when(Command::DeleteProject)
        .then_expect(vec![Event::ProjectDeleted {}]);
}

#[test]
fn deleting_a_project_twice_is_rejected() {
    given(deleted())
        .when(Command::DeleteProject)
        .then_reject(Rejection::ProjectDeleted);
}

#[test]
fn completing_teardown_of_a_deleted_project_records_it() {
    given(deleted())
        .when(Command::CompleteTeardown)
        .then_expect(vec![Event::TeardownCompleted {}]);
}

#[test]
fn completing_teardown_of_a_live_project_is_rejected() {
    given(created())
        .when(Command::CompleteTeardown)
        .then_reject(Rejection::ProjectNotDeleted);
}

#[test]
fn completing_teardown_twice_is_rejected() {
    given(with(deleted(), [Event::TeardownCompleted {}]))
        .when(Command::CompleteTeardown)
        .then_reject(Rejection::AlreadyTornDown);
}

fn post(id: &str, content: &str) -> Command {
    Command::PostMessage {
        message_id: id.into(),
        role: Role::User,
        content: content.into(),
    }
}

#[test]
fn posting_a_message_records_it() {
    given(created())
        .when(post("m1", "hello"))
        .then_expect(vec![Event::MessagePosted {
            message_id: "m1".into(),
            role: Role::User,
            content: "hello".into(),
        }]);
}

#[test]
fn posting_a_message_id_twice_is_rejected() {
    let posted = Event::MessagePosted {
        message_id: "m1".into(),
        role: Role::User,
        content: "hello".into(),
    };
    given(with(created(), [posted]))
        .when(post("m1", "hello again"))
        .then_reject(Rejection::MessageExists {
            message_id: "m1".into(),
        });
}

#[test]
fn posting_an_oversized_message_is_rejected() {
    given(created())
        .when(post(
            "m1",
            &"x".repeat(events::decide::MAX_MESSAGE_BYTES + 1),
        ))
        .then_reject(Rejection::TooLong {
            field: "message",
            size: events::decide::MAX_MESSAGE_BYTES + 1,
            limit: events::decide::MAX_MESSAGE_BYTES,
            unit: "bytes",
        });
}

fn request(build: &str, key: Option<&str>) -> Command {
    Command::RequestBuild {
        build_id: build.into(),
        prompt: "a todo app".into(),
        idempotency_key: key.map(str::to_owned),
        replay_of: None,
        from_step: None,
    }
}

#[test]
fn requesting_a_build_records_it() {
    given(created())
        .when(request("b1", Some("k1")))
        .then_expect(vec![Event::BuildRequested {
            build_id: "b1".into(),
            prompt: "a todo app".into(),
            idempotency_key: Some("k1".into()),
            replay_of: None,
            from_step: None,
        }]);
}

#[test]
fn requesting_a_build_again_with_the_same_key_decides_nothing() {
    given(with(created(), crate::build::requested("b1")))
        .when(request("b9", Some("k1")))
        .then_expect(vec![]);
}

#[test]
fn requesting_a_second_build_while_one_runs_is_rejected() {
    given(with(created(), crate::build::requested("b1")))
        .when(request("b2", Some("k2")))
        .then_reject(Rejection::BuildInProgress {
            build_id: "b1".into(),
        });
}

#[test]
fn requesting_a_build_with_a_used_id_is_rejected() {
    given(two_live_versions())
        .when(request("b1", None))
        .then_reject(Rejection::BuildExists {
            build_id: "b1".into(),
        });
}

#[test]
fn requesting_a_build_on_a_deleted_project_is_rejected() {
    given(deleted())
        .when(request("b1", None))
        .then_reject(Rejection::ProjectDeleted);
}

fn rollback(to_version: u32) -> Command {
    Command::RequestRollback {
        to_version,
        rollback_id: "r1".into(),
    }
}

fn requested(to_version: u32) -> Event {
    Event::RollbackRequested {
        to_version,
        rollback_id: Some("r1".into()),
        from_version: Some(2),
    }
}

#[test]
fn requesting_a_rollback_to_an_earlier_live_version_records_it() {
    given(two_live_versions())
        .when(rollback(1))
        .then_expect(vec![requested(1)]);
}

#[test]
fn requesting_a_rollback_to_a_missing_version_is_rejected() {
    let rejection = given(two_live_versions())
        .when(rollback(7))
        .result
        .unwrap_err();
    assert_eq!(rejection, Rejection::VersionNotFound { version: 7 });
    assert_eq!(rejection.to_string(), "version 7 does not exist");
}

#[test]
fn requesting_a_rollback_to_the_live_version_is_rejected() {
    given(two_live_versions())
        .when(rollback(2))
        .then_reject(Rejection::VersionAlreadyLive { version: 2 });
}

#[test]
fn requesting_a_rollback_without_an_id_is_rejected() {
    given(two_live_versions())
        .when(Command::RequestRollback {
            to_version: 1,
            rollback_id: " ".into(),
        })
        .then_reject(Rejection::Empty {
            field: "rollback id",
        });
}

#[test]
fn requesting_a_second_rollback_while_one_is_pending_is_rejected() {
    given(with(two_live_versions(), [requested(1)]))
        .when(Command::RequestRollback {
            to_version: 1,
            rollback_id: "r2".into(),
        })
        .then_reject(Rejection::RollbackInProgress { to_version: 1 });
}

#[test]
fn requesting_a_build_while_a_rollback_is_pending_is_rejected() {
    given(with(two_live_versions(), [requested(1)]))
        .when(request("b9", None))
        .then_reject(Rejection::RollbackInProgress { to_version: 1 });
}

#[test]
fn completing_a_requested_rollback_records_it() {
    given(with(two_live_versions(), [requested(1)]))
        .when(Command::CompleteRollback {
            to_version: 1,
            rollback_id: "r1".into(),
        })
        .then_expect(vec![Event::RolledBack {
            to_version: 1,
            rollback_id: Some("r1".into()),
        }]);
}

#[test]
fn completing_a_rollback_nobody_requested_is_rejected() {
    given(two_live_versions())
        .when(Command::CompleteRollback {
            to_version: 1,
            rollback_id: "r1".into(),
        })
        .then_reject(Rejection::NoRollbackRequested { to_version: 1 });
}

#[test]
fn completing_another_rollback_than_the_pending_one_is_rejected() {
    given(with(two_live_versions(), [requested(1)]))
        .when(Command::CompleteRollback {
            to_version: 1,
            rollback_id: "r0".into(),
        })
        .then_reject(Rejection::RollbackNotPending {
            rollback_id: "r0".into(),
        });
}

#[test]
fn failing_the_pending_rollback_records_why_and_clears_it() {
    let failed = Event::RollbackFailed {
        rollback_id: "r1".into(),
        to_version: 1,
        reason: "version 1 needs column tasks.title".into(),
    };
    let outcome = given(with(two_live_versions(), [requested(1)])).when(Command::FailRollback {
        rollback_id: "r1".into(),
        reason: "version 1 needs column tasks.title".into(),
    });
    assert_eq!(outcome.result, Ok(vec![failed.clone()]));
    let state = given(with(two_live_versions(), [requested(1), failed])).state;
    assert_eq!(state.pending_rollback, None);
    assert_eq!(state.live_version, Some(2));
    assert_eq!(state.live.unwrap().reason, events::LiveReason::Build);
}

#[test]
fn failing_a_rollback_that_is_not_pending_is_rejected() {
    given(two_live_versions())
        .when(Command::FailRollback {
            rollback_id: "r1".into(),
            reason: "no".into(),
        })
        .then_reject(Rejection::RollbackNotPending {
            rollback_id: "r1".into(),
        });
}

#[test]
fn recording_a_webhook_delivery_works_even_after_deletion() {
    given(deleted())
        .when(Command::RecordWebhookDelivery {
            webhook_id: "wh1".into(),
            status: 200,
        })
        .then_expect(vec![Event::WebhookDelivered {
            webhook_id: "wh1".into(),
            status: 200,
        }]);
}

#[test]
fn recording_a_webhook_delivery_with_an_impossible_status_is_rejected() {
    given(created())
        .when(Command::RecordWebhookDelivery {
            webhook_id: "wh1".into(),
            status: 42,
        })
        .then_reject(Rejection::InvalidStatus { status: 42 });
}

#[test]
fn a_rollback_moves_the_live_version_and_keeps_history() {
    let state = given(with(
        two_live_versions(),
        [
            requested(1),
            Event::RolledBack {
                to_version: 1,
                rollback_id: Some("r1".into()),
            },
        ],
    ))
    .state;
    assert_eq!(state.live_version, Some(1));
    assert_eq!(state.versions.iter().copied().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(state.pending_rollback, None);
    assert_eq!(state.builds.len(), 2);
    let live = state.live.expect("a live version");
    assert_eq!(live.version, 1);
    assert_eq!(live.reason, events::LiveReason::Rollback);
    assert_eq!(live.rollback_id.as_deref(), Some("r1"));
    assert_eq!(
        live.build_id.as_deref(),
        state.builds[0].build_id.as_str().into(),
        "the build that deployed version 1 originally"
    );
}

#[test]
fn saving_the_next_version_records_it() {
    given(created())
        .when(Command::SaveVersion {
            version: 1,
            parent: None,
            files: 3,
            bytes: 120,
        })
        .then_expect(vec![Event::VersionSaved {
            version: 1,
            parent: None,
            files: 3,
            bytes: 120,
        }]);
}

#[test]
fn saving_a_version_out_of_order_or_from_an_unknown_parent_is_rejected() {
    given(created())
        .when(Command::SaveVersion {
            version: 2,
            parent: None,
            files: 1,
            bytes: 1,
        })
        .then_reject(Rejection::VersionNotNext {
            version: 2,
            expected: 1,
        });
    given(with(
        created(),
        [Event::VersionSaved {
            version: 1,
            parent: None,
            files: 1,
            bytes: 1,
        }],
    ))
    .when(Command::SaveVersion {
        version: 2,
        parent: Some(5),
        files: 1,
        bytes: 1,
    })
    .then_reject(Rejection::VersionNotFound { version: 5 });
}

fn replay(replay_of: &str, from_step: Option<&str>) -> Command {
    Command::RequestBuild {
        build_id: "b9".into(),
        prompt: "a todo app".into(),
        idempotency_key: None,
        replay_of: Some(replay_of.into()),
        from_step: from_step.map(str::to_owned),
    }
}

/// Two live versions, and build `b1`'s plan on record.
fn planned_history() -> Vec<Event> {
    let mut events = two_live_versions();
    events.push(Event::PlanProposed {
        build_id: "b1".into(),
        plan_hash: "ab12".into(),
        summary: "A todo app".into(),
    });
    events
}

#[test]
fn requesting_a_replay_of_a_recorded_build_links_it() {
    given(planned_history())
        .when(replay("b1", None))
        .then_expect(vec![Event::BuildRequested {
            build_id: "b9".into(),
            prompt: "a todo app".into(),
            idempotency_key: None,
            replay_of: Some("b1".into()),
            from_step: None,
        }]);
}

#[test]
fn requesting_a_fork_from_codegen_records_the_step() {
    let state = given(planned_history()).state;
    let events = state.handle(replay("b1", Some("codegen"))).unwrap();
    assert!(matches!(
        &events[0],
        Event::BuildRequested { from_step: Some(s), .. } if s == "codegen"
    ));
}

#[test]
fn requesting_a_replay_of_an_unknown_build_is_rejected() {
    given(planned_history())
        .when(replay("b7", None))
        .then_reject(Rejection::BuildNotFound {
            build_id: "b7".into(),
        });
}

#[test]
fn requesting_a_replay_from_a_step_that_does_not_exist_is_rejected() {
    let rejection = given(planned_history())
        .when(replay("b1", Some("polish")))
        .result
        .unwrap_err();
    assert_eq!(
        rejection,
        Rejection::InvalidFromStep {
            step: "polish".into()
        }
    );
    assert!(rejection.to_string().contains("plan, codegen, validate"));
}

#[test]
fn a_from_step_without_a_build_to_replay_is_rejected() {
    given(planned_history())
        .when(Command::RequestBuild {
            build_id: "b9".into(),
            prompt: "a todo app".into(),
            idempotency_key: None,
            replay_of: None,
            from_step: Some("codegen".into()),
        })
        .then_reject(Rejection::FromStepWithoutReplay {
            step: "codegen".into(),
        });
}

#[test]
fn a_replay_reusing_a_plan_that_was_never_recorded_is_rejected() {
    // b2 has code but no recorded plan.
    given(planned_history())
        .when(replay("b2", Some("codegen")))
        .then_reject(Rejection::NotReplayable {
            build_id: "b2".into(),
            missing: "plan",
        });
}

#[test]
fn a_replay_reusing_code_that_never_passed_validation_is_rejected() {
    let mut events = planned_history();
    events.extend([
        Event::BuildRequested {
            build_id: "b3".into(),
            prompt: "a todo app".into(),
            idempotency_key: None,
            replay_of: None,
            from_step: None,
        },
        Event::BuildStarted {
            build_id: "b3".into(),
        },
        Event::PlanProposed {
            build_id: "b3".into(),
            plan_hash: "cd34".into(),
            summary: "A todo app".into(),
        },
        Event::BuildFailed {
            build_id: "b3".into(),
            step: "codegen".into(),
            reason: "the model gave up".into(),
        },
    ]);
    given(events.clone())
        .when(replay("b3", None))
        .then_reject(Rejection::NotReplayable {
            build_id: "b3".into(),
            missing: "code that passed validation",
        });
    // From codegen on, only the plan is reused: that works.
    assert!(given(events)
        .when(replay("b3", Some("codegen")))
        .result
        .is_ok());
}
