//! Given / when / then: build commands inside the project aggregate, and the build fold.

use events::testing::given;
use events::{AttemptStatus, BuildError, BuildStatus, Command, Event, Rejection, Validation};

fn created() -> Vec<Event> {
    vec![Event::ProjectCreated {
        name: "Todo".into(),
        slug: "todo".into(),
        owner: "u1".into(),
    }]
}

/// `build` was requested (with idempotency key `k1`).
pub fn requested(build: &str) -> Vec<Event> {
    vec![Event::BuildRequested {
        build_id: build.into(),
        prompt: "a todo app".into(),
        idempotency_key: Some("k1".into()).filter(|_| build == "b1"),
        replay_of: None,
        from_step: None,
    }]
}

/// `build` was requested and started.
pub fn started(build: &str) -> Vec<Event> {
    let mut events = requested(build);
    events.push(Event::BuildStarted {
        build_id: build.into(),
    });
    events
}

/// `build` generated `version`, validated it and deployed it (not yet succeeded).
pub fn deployed_build(build: &str, version: u32) -> Vec<Event> {
    let mut events = started(build);
    events.extend([
        Event::CodeGenerated {
            build_id: build.into(),
            version,
            files: 3,
            bytes: 1000,
            prompt_hash: None,
        },
        Event::ValidationPassed {
            build_id: build.into(),
        },
        Event::Deployed {
            build_id: build.into(),
            version,
        },
    ]);
    events
}

/// Project history plus `more`.
fn history(more: impl IntoIterator<Item = Event>) -> Vec<Event> {
    let mut events = created();
    events.extend(more);
    events
}

fn running() -> Vec<Event> {
    history(started("b1"))
}

fn and(mut base: Vec<Event>, more: impl IntoIterator<Item = Event>) -> Vec<Event> {
    base.extend(more);
    base
}

fn b1() -> String {
    "b1".into()
}

fn step_started(step: &str, attempt: u32) -> Event {
    Event::StepStarted {
        build_id: b1(),
        step: step.into(),
        attempt,
    }
}

fn step_failed(step: &str, attempt: u32) -> Event {
    Event::StepFailed {
        build_id: b1(),
        step: step.into(),
        attempt,
        error: "http 503".into(),
        retryable: true,
    }
}

fn code(version: u32) -> Event {
    Event::CodeGenerated {
        build_id: b1(),
        version,
        files: 3,
        bytes: 1000,
        prompt_hash: None,
    }
}

#[test]
fn starting_a_requested_build_records_it() {
    given(history(requested("b1")))
        .when(Command::StartBuild { build_id: b1() })
        .then_expect(vec![Event::BuildStarted { build_id: b1() }]);
}

#[test]
fn starting_a_build_twice_is_rejected() {
    given(running())
        .when(Command::StartBuild { build_id: b1() })
        .then_reject(Rejection::BuildAlreadyStarted { build_id: b1() });
}

#[test]
fn starting_an_unknown_build_is_rejected() {
    given(created())
        .when(Command::StartBuild {
            build_id: "b404".into(),
        })
        .then_reject(Rejection::BuildNotFound {
            build_id: "b404".into(),
        });
}

#[test]
fn starting_the_first_attempt_of_a_step_records_it() {
    given(running())
        .when(Command::StartStep {
            build_id: b1(),
            step: "plan".into(),
            attempt: 1,
        })
        .then_expect(vec![step_started("plan", 1)]);
}

#[test]
fn starting_a_retry_after_a_failed_attempt_records_it() {
    given(and(
        running(),
        [step_started("plan", 1), step_failed("plan", 1)],
    ))
    .when(Command::StartStep {
        build_id: b1(),
        step: "plan".into(),
        attempt: 2,
    })
    .then_expect(vec![step_started("plan", 2)]);
}

#[test]
fn starting_an_attempt_out_of_order_is_rejected() {
    given(running())
        .when(Command::StartStep {
            build_id: b1(),
            step: "plan".into(),
            attempt: 3,
        })
        .then_reject(Rejection::AttemptOutOfOrder {
            step: "plan".into(),
            attempt: 3,
            expected: 1,
        });
}

#[test]
fn starting_a_step_of_a_build_that_has_not_started_is_rejected() {
    given(history(requested("b1")))
        .when(Command::StartStep {
            build_id: b1(),
            step: "plan".into(),
            attempt: 1,
        })
        .then_reject(Rejection::BuildNotStarted { build_id: b1() });
}

#[test]
fn starting_a_step_with_an_invalid_name_is_rejected() {
    given(running())
        .when(Command::StartStep {
            build_id: b1(),
            step: "Plan!".into(),
            attempt: 1,
        })
        .then_reject(Rejection::InvalidStep {
            step: "Plan!".into(),
        });
}

fn succeed(attempt: u32) -> Command {
    Command::SucceedStep {
        build_id: b1(),
        step: "plan".into(),
        attempt,
        duration_ms: 850,
        output_ref: Some("sha256:aa".into()),
    }
}

#[test]
fn succeeding_the_running_attempt_records_it() {
    given(and(running(), [step_started("plan", 1)]))
        .when(succeed(1))
        .then_expect(vec![Event::StepSucceeded {
            build_id: b1(),
            step: "plan".into(),
            attempt: 1,
            duration_ms: 850,
            output_ref: Some("sha256:aa".into()),
        }]);
}

#[test]
fn succeeding_an_attempt_that_is_not_running_is_rejected() {
    given(and(
        running(),
        [step_started("plan", 1), step_failed("plan", 1)],
    ))
    .when(succeed(1))
    .then_reject(Rejection::StepNotRunning {
        step: "plan".into(),
        attempt: 1,
    });
}

#[test]
fn succeeding_a_step_of_a_finished_build_is_rejected() {
    let failed = Event::BuildFailed {
        build_id: b1(),
        step: "plan".into(),
        reason: "gave up".into(),
    };
    given(and(running(), [step_started("plan", 1), failed]))
        .when(succeed(1))
        .then_reject(Rejection::BuildFinished { build_id: b1() });
}

#[test]
fn starting_a_step_that_already_succeeded_is_rejected() {
    let succeeded = Event::StepSucceeded {
        build_id: b1(),
        step: "plan".into(),
        attempt: 1,
        duration_ms: 1,
        output_ref: None,
    };
    given(and(running(), [step_started("plan", 1), succeeded]))
        .when(Command::StartStep {
            build_id: b1(),
            step: "plan".into(),
            attempt: 2,
        })
        .then_reject(Rejection::StepAlreadySucceeded {
            step: "plan".into(),
        });
}

fn fail(attempt: u32) -> Command {
    Command::FailStep {
        build_id: b1(),
        step: "plan".into(),
        attempt,
        error: "http 503".into(),
        retryable: true,
    }
}

#[test]
fn failing_the_running_attempt_records_it() {
    given(and(running(), [step_started("plan", 1)]))
        .when(fail(1))
        .then_expect(vec![step_failed("plan", 1)]);
}

#[test]
fn failing_an_abandoned_attempt_is_rejected() {
    given(and(
        running(),
        [step_started("plan", 1), step_started("plan", 2)],
    ))
    .when(fail(1))
    .then_reject(Rejection::StepNotRunning {
        step: "plan".into(),
        attempt: 1,
    });
}

#[test]
fn proposing_a_plan_records_it() {
    given(running())
        .when(Command::ProposePlan {
            build_id: b1(),
            plan_hash: "ab12".into(),
            summary: "two pages".into(),
        })
        .then_expect(vec![Event::PlanProposed {
            build_id: b1(),
            plan_hash: "ab12".into(),
            summary: "two pages".into(),
        }]);
}

#[test]
fn proposing_a_plan_without_a_hash_is_rejected() {
    given(running())
        .when(Command::ProposePlan {
            build_id: b1(),
            plan_hash: "".into(),
            summary: "two pages".into(),
        })
        .then_reject(Rejection::Empty { field: "plan hash" });
}

fn proposed() -> Event {
    Event::PlanProposed {
        build_id: b1(),
        plan_hash: "ab12".into(),
        summary: "two pages".into(),
    }
}

#[test]
fn approving_a_proposed_plan_records_it() {
    given(and(running(), [proposed()]))
        .when(Command::ApprovePlan { build_id: b1() })
        .then_expect(vec![Event::PlanApproved { build_id: b1() }]);
}

#[test]
fn approving_without_a_plan_is_rejected() {
    given(running())
        .when(Command::ApprovePlan { build_id: b1() })
        .then_reject(Rejection::NoPlan { build_id: b1() });
}

#[test]
fn approving_a_plan_twice_is_rejected() {
    given(and(
        running(),
        [proposed(), Event::PlanApproved { build_id: b1() }],
    ))
    .when(Command::ApprovePlan { build_id: b1() })
    .then_reject(Rejection::PlanAlreadyApproved { build_id: b1() });
}

fn record_code(version: u32) -> Command {
    Command::RecordCode {
        build_id: b1(),
        version,
        files: 3,
        bytes: 1000,
        prompt_hash: None,
    }
}

#[test]
fn recording_code_as_the_next_version_records_it() {
    given(running())
        .when(record_code(1))
        .then_expect(vec![code(1)]);
}

#[test]
fn recording_code_with_a_skipped_version_number_is_rejected() {
    given(and(running(), [code(1)]))
        .when(record_code(3))
        .then_reject(Rejection::VersionNotNext {
            version: 3,
            expected: 2,
        });
}

#[test]
fn failing_validation_records_the_diagnostics() {
    given(and(running(), [code(1)]))
        .when(Command::FailValidation {
            build_id: b1(),
            diagnostics: vec!["bad import".into()],
        })
        .then_expect(vec![Event::ValidationFailed {
            build_id: b1(),
            diagnostics: vec!["bad import".into()],
        }]);
}

#[test]
fn failing_validation_without_diagnostics_is_rejected() {
    given(and(running(), [code(1)]))
        .when(Command::FailValidation {
            build_id: b1(),
            diagnostics: vec![],
        })
        .then_reject(Rejection::Empty {
            field: "diagnostics",
        });
}

#[test]
fn passing_validation_records_it() {
    given(and(running(), [code(1)]))
        .when(Command::PassValidation { build_id: b1() })
        .then_expect(vec![Event::ValidationPassed { build_id: b1() }]);
}

#[test]
fn passing_validation_before_any_code_is_rejected() {
    given(running())
        .when(Command::PassValidation { build_id: b1() })
        .then_reject(Rejection::NoCode { build_id: b1() });
}

fn validation_failed() -> Event {
    Event::ValidationFailed {
        build_id: b1(),
        diagnostics: vec!["bad import".into()],
    }
}

#[test]
fn attempting_a_repair_after_a_failed_validation_records_it() {
    given(and(running(), [code(1), validation_failed()]))
        .when(Command::AttemptRepair {
            build_id: b1(),
            attempt: 1,
        })
        .then_expect(vec![Event::RepairAttempted {
            build_id: b1(),
            attempt: 1,
        }]);
}

#[test]
fn attempting_a_repair_out_of_order_is_rejected() {
    given(and(running(), [code(1), validation_failed()]))
        .when(Command::AttemptRepair {
            build_id: b1(),
            attempt: 2,
        })
        .then_reject(Rejection::RepairOutOfOrder {
            attempt: 2,
            expected: 1,
        });
}

#[test]
fn attempting_a_repair_of_valid_code_is_rejected() {
    given(and(
        running(),
        [code(1), Event::ValidationPassed { build_id: b1() }],
    ))
    .when(Command::AttemptRepair {
        build_id: b1(),
        attempt: 1,
    })
    .then_reject(Rejection::NothingToRepair { build_id: b1() });
}

fn record_db(id: &str) -> Command {
    Command::RecordDatabase {
        build_id: b1(),
        database_id: id.into(),
    }
}

fn provisioned(id: &str) -> Event {
    Event::DatabaseProvisioned {
        build_id: b1(),
        database_id: id.into(),
    }
}

#[test]
fn recording_the_first_database_records_it() {
    given(running())
        .when(record_db("db-1"))
        .then_expect(vec![provisioned("db-1")]);
}

#[test]
fn recording_the_same_database_again_decides_nothing() {
    given(and(running(), [provisioned("db-1")]))
        .when(record_db("db-1"))
        .then_expect(vec![]);
}

#[test]
fn recording_a_different_database_is_rejected() {
    given(and(running(), [provisioned("db-1")]))
        .when(record_db("db-2"))
        .then_reject(Rejection::DatabaseMismatch {
            existing: "db-1".into(),
            database_id: "db-2".into(),
        });
}

fn migrate(names: &[&str]) -> Command {
    Command::RecordMigrations {
        build_id: b1(),
        names: names.iter().map(|n| n.to_string()).collect(),
    }
}

#[test]
fn recording_new_migrations_records_them() {
    given(running())
        .when(migrate(&["0001_init.sql"]))
        .then_expect(vec![Event::MigrationApplied {
            build_id: b1(),
            names: vec!["0001_init.sql".into()],
        }]);
}

#[test]
fn recording_an_applied_migration_again_is_rejected() {
    let applied = Event::MigrationApplied {
        build_id: b1(),
        names: vec!["0001_init.sql".into()],
    };
    given(and(running(), [applied]))
        .when(migrate(&["0001_init.sql", "0002_todos.sql"]))
        .then_reject(Rejection::MigrationAlreadyApplied {
            name: "0001_init.sql".into(),
        });
}

#[test]
fn recording_assets_records_them() {
    given(running())
        .when(Command::RecordAssets {
            build_id: b1(),
            count: 4,
            bytes: 4096,
        })
        .then_expect(vec![Event::AssetsUploaded {
            build_id: b1(),
            count: 4,
            bytes: 4096,
        }]);
}

#[test]
fn recording_assets_for_an_unknown_build_is_rejected() {
    given(running())
        .when(Command::RecordAssets {
            build_id: "b2".into(),
            count: 4,
            bytes: 4096,
        })
        .then_reject(Rejection::BuildNotFound {
            build_id: "b2".into(),
        });
}

#[test]
fn recording_a_deploy_of_validated_code_records_it() {
    given(and(
        running(),
        [code(1), Event::ValidationPassed { build_id: b1() }],
    ))
    .when(Command::RecordDeploy {
        build_id: b1(),
        version: 1,
    })
    .then_expect(vec![Event::Deployed {
        build_id: b1(),
        version: 1,
    }]);
}

#[test]
fn recording_a_deploy_of_unvalidated_code_is_rejected() {
    given(and(running(), [code(1), validation_failed()]))
        .when(Command::RecordDeploy {
            build_id: b1(),
            version: 1,
        })
        .then_reject(Rejection::NotValidated { build_id: b1() });
}

#[test]
fn recording_a_deploy_of_another_version_is_rejected() {
    given(and(
        running(),
        [code(1), Event::ValidationPassed { build_id: b1() }],
    ))
    .when(Command::RecordDeploy {
        build_id: b1(),
        version: 2,
    })
    .then_reject(Rejection::WrongVersion {
        build_id: b1(),
        version: 2,
        generated: 1,
    });
}

#[test]
fn recording_a_deploy_after_the_project_was_deleted_is_rejected() {
    // A build in flight when its project is deleted must not bring the app back.
    given(and(
        running(),
        [
            code(1),
            Event::ValidationPassed { build_id: b1() },
            Event::ProjectDeleted {},
        ],
    ))
    .when(Command::RecordDeploy {
        build_id: b1(),
        version: 1,
    })
    .then_reject(Rejection::ProjectDeleted);
}

#[test]
fn starting_a_step_after_the_project_was_deleted_is_rejected() {
    given(and(running(), [code(1), Event::ProjectDeleted {}]))
        .when(Command::StartStep {
            build_id: b1(),
            step: "deploy".into(),
            attempt: 1,
        })
        .then_reject(Rejection::ProjectDeleted);
}

#[test]
fn succeeding_a_deployed_build_records_it() {
    given(history(deployed_build("b1", 1)))
        .when(Command::SucceedBuild {
            build_id: b1(),
            version: 1,
        })
        .then_expect(vec![Event::BuildSucceeded {
            build_id: b1(),
            version: 1,
        }]);
}

#[test]
fn succeeding_a_build_that_did_not_deploy_is_rejected() {
    given(and(running(), [code(1)]))
        .when(Command::SucceedBuild {
            build_id: b1(),
            version: 1,
        })
        .then_reject(Rejection::NotDeployed {
            build_id: b1(),
            version: 1,
        });
}

#[test]
fn succeeding_a_finished_build_is_rejected() {
    let events = and(
        history(deployed_build("b1", 1)),
        [Event::BuildSucceeded {
            build_id: b1(),
            version: 1,
        }],
    );
    let rejection = given(events)
        .when(Command::SucceedBuild {
            build_id: b1(),
            version: 1,
        })
        .result
        .unwrap_err();
    assert_eq!(rejection, Rejection::BuildFinished { build_id: b1() });
    assert_eq!(rejection.to_string(), "build b1 is already finished");
}

fn fail_build() -> Command {
    Command::FailBuild {
        build_id: b1(),
        step: "validate".into(),
        reason: "repair attempts exhausted".into(),
    }
}

#[test]
fn failing_a_build_records_step_and_reason() {
    given(running())
        .when(fail_build())
        .then_expect(vec![Event::BuildFailed {
            build_id: b1(),
            step: "validate".into(),
            reason: "repair attempts exhausted".into(),
        }]);
}

#[test]
fn failing_a_requested_build_is_allowed() {
    // The workflow may fail to start at all; the build must still be closed.
    given(history(requested("b1")))
        .when(fail_build())
        .then_expect(vec![Event::BuildFailed {
            build_id: b1(),
            step: "validate".into(),
            reason: "repair attempts exhausted".into(),
        }]);
}

#[test]
fn failing_a_finished_build_is_rejected() {
    given(and(
        history(deployed_build("b1", 1)),
        [Event::BuildSucceeded {
            build_id: b1(),
            version: 1,
        }],
    ))
    .when(fail_build())
    .then_reject(Rejection::BuildFinished { build_id: b1() });
}

#[test]
fn the_build_fold_records_steps_attempts_durations_and_errors() {
    let events = and(
        running(),
        [
            step_started("plan", 1),
            step_failed("plan", 1),
            step_started("plan", 2),
            Event::StepSucceeded {
                build_id: b1(),
                step: "plan".into(),
                attempt: 2,
                duration_ms: 700,
                output_ref: None,
            },
            step_started("codegen", 1),
            code(1),
            validation_failed(),
            Event::BuildFailed {
                build_id: b1(),
                step: "validate".into(),
                reason: "invalid code".into(),
            },
        ],
    );
    let state = given(events).state;
    let build = state.build("b1").unwrap();
    assert_eq!(build.status, BuildStatus::Failed);
    assert_eq!(build.current_step, None);
    assert_eq!(build.version, Some(1));
    assert_eq!(state.latest_version, 1);
    assert_eq!(
        build.error,
        Some(BuildError {
            step: "validate".into(),
            reason: "invalid code".into()
        })
    );
    assert!(matches!(build.validation, Some(Validation::Failed { .. })));
    let plan = build.step("plan").unwrap();
    assert_eq!(plan.attempts.len(), 2);
    assert!(plan.succeeded());
    assert_eq!(plan.duration_ms(), 700);
    assert!(matches!(
        plan.attempts[0].status,
        AttemptStatus::Failed {
            retryable: true,
            ..
        }
    ));
    let codegen = build.step("codegen").unwrap();
    assert_eq!(codegen.last().unwrap().status, AttemptStatus::Running);
    // The live version is untouched by a failed build.
    assert_eq!(state.live_version, None);
}

fn model_call(step: &str, input: u64, output: u64) -> Command {
    Command::RecordModelCall {
        build_id: b1(),
        step: step.into(),
        provider: "openai".into(),
        model: "glm-4.7-flash".into(),
        template: "codegen".into(),
        template_hash: "0123456789abcdef".into(),
        input_tokens: input,
        output_tokens: output,
        estimated: false,
        cost_nano_usd: input * 60 + output * 400,
        finish_reason: Some("stop".into()),
        retries: 0,
        error: None,
    }
}

#[test]
fn recording_a_model_call_records_it_and_the_fold_sums_usage_per_step_and_build() {
    let events = given(running())
        .when(model_call("codegen", 1000, 2000))
        .result
        .unwrap();
    assert!(matches!(
        &events[..],
        [Event::ModelCalled {
            input_tokens: 1000,
            output_tokens: 2000,
            ..
        }]
    ));
    let mut build = events::BuildState::default();
    for e in [
        Event::StepStarted {
            build_id: b1(),
            step: "plan".into(),
            attempt: 1,
        },
        Event::StepStarted {
            build_id: b1(),
            step: "codegen".into(),
            attempt: 1,
        },
    ] {
        build.apply(&e);
    }
    for c in [
        model_call("plan", 10, 20),
        model_call("codegen", 1000, 2000),
        model_call("codegen", 5, 5),
    ] {
        let Command::RecordModelCall {
            build_id,
            step,
            provider,
            model,
            template,
            template_hash,
            input_tokens,
            output_tokens,
            estimated,
            cost_nano_usd,
            finish_reason,
            retries,
            error,
        } = c
        else {
            unreachable!()
        };
        build.apply(&Event::ModelCalled {
            build_id,
            step,
            provider,
            model,
            template,
            template_hash,
            input_tokens,
            output_tokens,
            estimated,
            cost_nano_usd,
            finish_reason,
            retries,
            error,
        });
    }
    assert_eq!(build.usage.calls, 3);
    assert_eq!(build.usage.input_tokens, 1015);
    assert_eq!(build.usage.output_tokens, 2025);
    assert_eq!(build.step("codegen").unwrap().usage.calls, 2);
    assert_eq!(build.step("plan").unwrap().usage.output_tokens, 20);
    assert_eq!(build.usage.cost_nano_usd, 1015 * 60 + 2025 * 400);
}

#[test]
fn recording_a_model_call_needs_a_running_build_and_a_step() {
    assert!(given(created())
        .when(model_call("codegen", 1, 1))
        .result
        .is_err());
    given(running())
        .when(model_call("", 1, 1))
        .then_reject(Rejection::Empty { field: "step" });
}

#[test]
fn a_replay_reuses_plan_and_code_before_its_from_step_and_nothing_after_codegen() {
    let replay = |from_step: Option<&str>| {
        let mut b = events::BuildState::default();
        b.apply(&Event::BuildRequested {
            build_id: "b2".into(),
            prompt: "a todo app".into(),
            idempotency_key: None,
            replay_of: Some("b1".into()),
            from_step: from_step.map(str::to_owned),
        });
        ["plan", "codegen", "validate", "deploy"]
            .into_iter()
            .filter(|s| b.reuses(s))
            .collect::<Vec<_>>()
    };
    assert_eq!(replay(None), ["plan", "codegen"]);
    assert_eq!(replay(Some("validate")), ["plan", "codegen"]);
    assert_eq!(replay(Some("codegen")), ["plan"]);
    assert!(replay(Some("plan")).is_empty());
    assert!(
        !events::BuildState::default().reuses("plan"),
        "not a replay"
    );
}

fn cancel() -> Command {
    Command::CancelBuild { build_id: b1() }
}

#[test]
fn cancelling_a_running_build_records_the_step_it_was_in() {
    given(and(running(), [step_started("codegen", 1)]))
        .when(cancel())
        .then_expect(vec![Event::BuildCancelled {
            build_id: b1(),
            step: Some("codegen".into()),
        }]);
}

#[test]
fn cancelling_a_requested_build_records_it_without_a_step() {
    given(history(requested("b1")))
        .when(cancel())
        .then_expect(vec![Event::BuildCancelled {
            build_id: b1(),
            step: None,
        }]);
}

fn cancelled() -> Vec<Event> {
    and(
        running(),
        [
            step_started("deploy", 1),
            Event::BuildCancelled {
                build_id: b1(),
                step: Some("deploy".into()),
            },
        ],
    )
}

#[test]
fn cancelling_twice_decides_nothing() {
    given(cancelled()).when(cancel()).then_expect(vec![]);
}

#[test]
fn cancelling_a_build_that_ended_is_rejected_with_its_outcome() {
    let succeeded = and(
        history(deployed_build("b1", 1)),
        [Event::BuildSucceeded {
            build_id: b1(),
            version: 1,
        }],
    );
    let rejection = given(succeeded).when(cancel()).result.unwrap_err();
    assert_eq!(
        rejection.to_string(),
        "build b1 already succeeded; only a build in progress can be cancelled"
    );
    given(and(
        running(),
        [Event::BuildFailed {
            build_id: b1(),
            step: "plan".into(),
            reason: "no".into(),
        }],
    ))
    .when(cancel())
    .then_reject(Rejection::NotCancellable {
        build_id: b1(),
        outcome: "failed",
    });
}

#[test]
fn cancelling_an_unknown_build_is_rejected() {
    given(running())
        .when(Command::CancelBuild {
            build_id: "nope".into(),
        })
        .then_reject(Rejection::BuildNotFound {
            build_id: "nope".into(),
        });
}

#[test]
fn a_cancelled_build_cannot_record_a_step_outcome_deploy_or_success() {
    // A step that was running when the build was cancelled is refused whatever it tries next.
    let commands = [
        Command::SucceedStep {
            build_id: b1(),
            step: "deploy".into(),
            attempt: 1,
            duration_ms: 5,
            output_ref: None,
        },
        Command::FailStep {
            build_id: b1(),
            step: "deploy".into(),
            attempt: 1,
            error: "late".into(),
            retryable: true,
        },
        Command::StartStep {
            build_id: b1(),
            step: "record".into(),
            attempt: 1,
        },
        Command::RecordDeploy {
            build_id: b1(),
            version: 1,
        },
        Command::SucceedBuild {
            build_id: b1(),
            version: 1,
        },
        Command::StartBuild { build_id: b1() },
        fail_build(),
    ];
    for command in commands {
        given(cancelled())
            .when(command)
            .then_reject(Rejection::BuildFinished { build_id: b1() });
    }
}

#[test]
fn a_cancelled_build_frees_the_project_and_keeps_the_live_version() {
    let events = and(
        history(deployed_build("b0", 1)),
        [Event::BuildSucceeded {
            build_id: "b0".into(),
            version: 1,
        }],
    );
    let events = and(events, started("b1"));
    let events = and(
        events,
        [
            code(2),
            Event::BuildCancelled {
                build_id: b1(),
                step: Some("validate".into()),
            },
        ],
    );
    let state = given(events.clone()).state;
    let build = state.build("b1").unwrap();
    assert_eq!(build.status, BuildStatus::Cancelled);
    assert_eq!(build.current_step, None);
    assert!(build.is_finished());
    assert!(state.active_build().is_none());
    assert_eq!(state.live_version, Some(1));
    given(events)
        .when(Command::RequestBuild {
            build_id: "b2".into(),
            prompt: "again".into(),
            idempotency_key: None,
            replay_of: None,
            from_step: None,
        })
        .then_expect(vec![Event::BuildRequested {
            build_id: "b2".into(),
            prompt: "again".into(),
            idempotency_key: None,
            replay_of: None,
            from_step: None,
        }]);
}
