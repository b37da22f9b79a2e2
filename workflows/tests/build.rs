//! The build workflow (`workflows::build::drive`) natively, against the real event rules and an
//! in-memory event store: the order of the steps, how attempts are numbered and recorded, retries,
//! repair rounds, failures, a replay after a restart and an eviction after a step finished.
//!
//! The engine here stands in for Cloudflare Workflows' `step.do` as documented: a body is retried
//! while it fails with a retryable error and `retries.limit` allows, a terminal error stops it at
//! once, and a step that finished hands back its cached output when the workflow runs again.
//! Step bodies are scripted: each records the domain commands a real body records.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::rc::Rc;

use events::decide::decide_all;
use events::envelope::{Envelope, Metadata, NewEvent};
use events::testing::block_on;
use events::{AttemptStatus, BuildStatus, Command, EventStore, MemStore, ProjectState};
use serde_json::Value;
use workflows::build::{drive, AppendError, BuildIds, Engine, Failure, Faults, Host};
use workflows::output::{
    AssetsOutput, CodeOutput, CreateDbOutput, DeployOutput, MigrateOutput, PlanOutput,
    RecordOutput, RepairOutput, StepOutput, Verdict,
};
use workflows::pipeline::{FaultPlan, Step, StepError};

const PROJECT: &str = "p1";
const BUILD: &str = "b1";

/// `step.do` as documented: retries by `config.retries.limit`, outputs cached by step name.
#[derive(Default)]
struct DurableSteps {
    cache: RefCell<BTreeMap<String, Value>>,
    /// Bodies run, by step name (cached steps do not run).
    runs: RefCell<Vec<String>>,
}

impl Engine for DurableSteps {
    async fn step<F, Fut>(&self, name: &str, config: &Value, body: F) -> Result<Value, String>
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<Value, StepError>> + 'static,
    {
        if let Some(cached) = self.cache.borrow().get(name) {
            return Ok(cached.clone());
        }
        let limit = config["retries"]["limit"].as_u64().expect("a retry limit");
        let mut tries = 0;
        loop {
            tries += 1;
            self.runs.borrow_mut().push(name.to_string());
            match body().await {
                Ok(value) => {
                    self.cache.borrow_mut().insert(name.into(), value.clone());
                    return Ok(value);
                }
                Err(e) if e.retryable() && tries <= limit => continue,
                Err(e) => return Err(e.message().to_string()),
            }
        }
    }
}

/// What a scripted step body does on one attempt.
#[derive(Debug, Clone)]
enum Script {
    /// Succeeds (validation passes).
    Ok,
    /// Validation (or a repair's validation) fails with this diagnostic.
    Invalid(&'static str),
    /// Fails; retryable or not.
    Fail(&'static str, bool),
}

#[derive(Clone)]
struct Scripted {
    store: Rc<MemStore>,
    state: Rc<RefCell<ProjectState>>,
    scripts: Rc<RefCell<BTreeMap<String, VecDeque<Script>>>>,
    repair_rounds: u32,
    clock: Rc<RefCell<i64>>,
    reports: Rc<RefCell<Vec<String>>>,
    /// Step bodies run, by step name.
    bodies: Rc<RefCell<Vec<String>>>,
}

impl Scripted {
    /// A project with one requested build.
    fn new(repair_rounds: u32) -> Self {
        let host = Scripted {
            store: Rc::new(MemStore::new()),
            state: Rc::new(RefCell::new(ProjectState::default())),
            scripts: Rc::default(),
            repair_rounds,
            clock: Rc::new(RefCell::new(1_000)),
            reports: Rc::default(),
            bodies: Rc::default(),
        };
        block_on(host.append(vec![
            Command::CreateProject {
                name: "Tasks".into(),
                slug: "tasks".into(),
                owner: "u1".into(),
            },
            Command::RequestBuild {
                build_id: BUILD.into(),
                prompt: "a task manager".into(),
                idempotency_key: None,
                replay_of: None,
                from_step: None,
            },
        ]))
        .expect("the project and its build are recorded");
        host
    }

    /// Scripts the next attempts of `step`; unscripted attempts succeed.
    fn script(self, step: &str, attempts: &[Script]) -> Self {
        self.scripts
            .borrow_mut()
            .entry(step.into())
            .or_default()
            .extend(attempts.iter().cloned());
        self
    }

    fn event_types(&self) -> Vec<String> {
        block_on(self.store.read(PROJECT, 0, usize::MAX))
            .unwrap()
            .into_iter()
            .map(|d| d.envelope().expect("readable").event_type.clone())
            .collect()
    }

    fn build(&self) -> events::BuildState {
        self.state.borrow().build(BUILD).unwrap().clone()
    }
}

fn code(version: u32) -> CodeOutput {
    CodeOutput {
        code_ref: format!("versions/{PROJECT}/{version}"),
        version,
        new_blobs: 1,
        parser_notes: 0,
        reused_version: None,
        model: None,
    }
}

fn validation(b: &str, script: &Script, repairs: u32) -> (Verdict, Command) {
    match script {
        Script::Invalid(d) => (
            Verdict {
                passed: false,
                diagnostics: vec![d.to_string()],
                repairs,
            },
            Command::FailValidation {
                build_id: b.into(),
                diagnostics: vec![d.to_string()],
            },
        ),
        _ => (
            Verdict {
                passed: true,
                diagnostics: vec![],
                repairs,
            },
            Command::PassValidation { build_id: b.into() },
        ),
    }
}

impl Host for Scripted {
    async fn load(&self) -> Result<ProjectState, StepError> {
        Ok(self.state.borrow().clone())
    }

    async fn append(&self, commands: Vec<Command>) -> Result<Vec<Envelope>, AppendError> {
        let state = self.state.borrow().clone();
        let meta = Metadata::new(*self.clock.borrow(), "test");
        let events = decide_all(&state, &commands, &meta).map_err(AppendError::Rejected)?;
        let stored = self
            .store
            .append(PROJECT, state.last_seq, NewEvent::batch(events, &meta))
            .await
            .map_err(|e| AppendError::Failed(StepError::Retryable(e.to_string())))?;
        let mut next = state;
        for e in &stored {
            next.apply(e);
        }
        *self.state.borrow_mut() = next;
        Ok(stored)
    }

    async fn run(
        &self,
        step: Step,
        state: ProjectState,
    ) -> Result<(StepOutput, Vec<Command>), StepError> {
        *self.clock.borrow_mut() += 7;
        self.bodies.borrow_mut().push(step.name().into());
        let script = self
            .scripts
            .borrow_mut()
            .get_mut(step.name())
            .and_then(|q| q.pop_front())
            .unwrap_or(Script::Ok);
        if let Script::Fail(why, retryable) = script {
            return Err(if retryable {
                StepError::Retryable(why.into())
            } else {
                StepError::Terminal(why.into())
            });
        }
        let b = BUILD.to_string();
        let next_version = state.latest_version + 1;
        let record_code = |version| Command::RecordCode {
            build_id: b.clone(),
            version,
            files: 3,
            bytes: 100,
            prompt_hash: None,
        };
        let built = state.build(BUILD).and_then(|b| b.version).unwrap_or(1);
        Ok(match step {
            Step::Plan => (
                StepOutput::Plan(PlanOutput {
                    plan_ref: workflows::output::plan_key(PROJECT, BUILD),
                    plan_hash: "h".into(),
                    reused_from: None,
                }),
                vec![Command::ProposePlan {
                    build_id: b.clone(),
                    plan_hash: "h".into(),
                    summary: "tasks".into(),
                }],
            ),
            Step::Codegen => (
                StepOutput::Codegen(code(next_version)),
                vec![record_code(next_version)],
            ),
            Step::Validate => {
                let (verdict, command) = validation(&b, &script, self.repair_rounds);
                (StepOutput::Validate(verdict), vec![command])
            }
            Step::Repair(n) => {
                let (verdict, command) = validation(&b, &script, self.repair_rounds);
                (
                    StepOutput::Repair(RepairOutput {
                        code: code(next_version),
                        verdict,
                    }),
                    vec![
                        Command::AttemptRepair {
                            build_id: b.clone(),
                            attempt: u32::from(n),
                        },
                        record_code(next_version),
                        command,
                    ],
                )
            }
            Step::CreateDb => (
                StepOutput::CreateDb(CreateDbOutput {
                    database_id: "db1".into(),
                }),
                vec![Command::RecordDatabase {
                    build_id: b.clone(),
                    database_id: "db1".into(),
                }],
            ),
            Step::Migrate => (
                StepOutput::Migrate(MigrateOutput {
                    applied: vec!["0001_init.sql".into()],
                }),
                vec![Command::RecordMigrations {
                    build_id: b.clone(),
                    names: vec!["0001_init.sql".into()],
                }],
            ),
            Step::UploadAssets => (
                StepOutput::UploadAssets(AssetsOutput {
                    count: 2,
                    bytes: 40,
                }),
                vec![Command::RecordAssets {
                    build_id: b.clone(),
                    count: 2,
                    bytes: 40,
                }],
            ),
            Step::Deploy => (
                StepOutput::Deploy(DeployOutput {
                    version: built,
                    slug: "tasks".into(),
                }),
                vec![Command::RecordDeploy {
                    build_id: b.clone(),
                    version: built,
                }],
            ),
            Step::Record => (
                StepOutput::Record(RecordOutput { version: built }),
                vec![Command::SucceedBuild {
                    build_id: b.clone(),
                    version: built,
                }],
            ),
        })
    }

    fn repair_rounds(&self) -> u32 {
        self.repair_rounds
    }

    fn now_ms(&self) -> i64 {
        *self.clock.borrow()
    }

    async fn sleep_ms(&self, ms: u64) {
        *self.clock.borrow_mut() += ms as i64;
    }

    fn report(&self, message: &str) {
        self.reports.borrow_mut().push(message.into());
    }
}

fn ids() -> BuildIds {
    BuildIds {
        project_id: PROJECT.into(),
        build_id: BUILD.into(),
    }
}

fn run(engine: &DurableSteps, host: &Scripted, faults: &Faults) -> Result<u32, Failure> {
    block_on(drive(engine, host, &ids(), faults))
}

/// The attempts of `step` in the log: (attempt, status) pairs.
fn attempts(host: &Scripted, step: &str) -> Vec<(u32, String)> {
    host.build()
        .step(step)
        .map(|s| {
            s.attempts
                .iter()
                .map(|a| {
                    let status = match a.status {
                        AttemptStatus::Running => "Running",
                        AttemptStatus::Succeeded { .. } => "Succeeded",
                        AttemptStatus::Failed { .. } => "Failed",
                    };
                    (a.attempt, status.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_build_runs_every_step_in_order_and_records_each_outcome_as_one_batch() {
    let host = Scripted::new(0);
    let engine = DurableSteps::default();
    assert_eq!(run(&engine, &host, &Faults::default()), Ok(1));
    assert_eq!(
        *engine.runs.borrow(),
        [
            "start",
            "plan",
            "codegen",
            "validate",
            "create-db",
            "migrate",
            "upload-assets",
            "deploy",
            "record"
        ]
    );
    let types = host.event_types();
    // Each step: StepStarted, then its domain events and StepSucceeded in one batch (record's
    // BuildSucceeded comes last because it ends the build).
    let plan = types.iter().position(|t| t == "PlanProposed").unwrap();
    assert_eq!(types[plan - 1], "StepStarted");
    assert_eq!(types[plan + 1], "StepSucceeded");
    assert_eq!(types.last().map(String::as_str), Some("BuildSucceeded"));
    assert_eq!(types[types.len() - 2], "StepSucceeded");
    assert_eq!(host.build().status, BuildStatus::Succeeded);
    assert_eq!(types.iter().filter(|t| *t == "StepStarted").count(), 8);
}

#[test]
fn a_retryable_failure_is_recorded_and_the_next_attempt_is_numbered_from_the_log() {
    let host = Scripted::new(0).script("migrate", &[Script::Fail("database busy", true)]);
    let engine = DurableSteps::default();
    assert_eq!(run(&engine, &host, &Faults::default()), Ok(1));
    assert_eq!(
        attempts(&host, "migrate"),
        [(1, "Failed".into()), (2, "Succeeded".into())]
    );
    let failed = host
        .event_types()
        .iter()
        .filter(|t| *t == "StepFailed")
        .count();
    assert_eq!(failed, 1);
}

#[test]
fn a_terminal_failure_ends_the_build_with_the_step_and_its_reason() {
    let host = Scripted::new(0).script("deploy", &[Script::Fail("namespace missing", false)]);
    let engine = DurableSteps::default();
    let failure = run(&engine, &host, &Faults::default()).unwrap_err();
    assert_eq!(
        failure,
        Failure {
            step: "deploy".into(),
            reason: "namespace missing".into()
        }
    );
    assert_eq!(attempts(&host, "deploy"), [(1, "Failed".into())]);
    assert_eq!(host.build().status, BuildStatus::Failed);
    assert!(!engine.runs.borrow().contains(&"record".to_string()));
}

#[test]
fn retries_stop_at_the_steps_policy() {
    let limit = Step::Migrate.policy().attempts() as usize;
    let host = Scripted::new(0).script("migrate", &vec![Script::Fail("down", true); limit + 2]);
    let engine = DurableSteps::default();
    let failure = run(&engine, &host, &Faults::default()).unwrap_err();
    assert_eq!(failure.step, "migrate");
    let recorded = attempts(&host, "migrate");
    assert_eq!(recorded.len(), limit);
    // The last attempt is recorded as not retryable: nothing will try again.
    let last = host
        .build()
        .step("migrate")
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(matches!(
        last.status,
        AttemptStatus::Failed {
            retryable: false,
            ..
        }
    ));
}

#[test]
fn a_failed_validation_gets_repair_rounds_and_the_first_passing_one_continues_the_build() {
    let host = Scripted::new(2)
        .script("validate", &[Script::Invalid("worker.js:1: bad import")])
        .script("repair-1", &[Script::Invalid("worker.js:2: still bad")])
        .script("repair-2", &[Script::Ok]);
    let engine = DurableSteps::default();
    assert_eq!(run(&engine, &host, &Faults::default()), Ok(3));
    let runs = engine.runs.borrow();
    let at = |s: &str| runs.iter().position(|r| r == s).unwrap();
    assert!(at("validate") < at("repair-1") && at("repair-1") < at("repair-2"));
    assert!(at("repair-2") < at("create-db"));
}

#[test]
fn validation_that_still_fails_after_the_last_repair_fails_the_build_at_validate() {
    let host = Scripted::new(1)
        .script("validate", &[Script::Invalid("a")])
        .script(
            "repair-1",
            &[Script::Invalid("worker.js:3: no default export")],
        );
    let engine = DurableSteps::default();
    let failure = run(&engine, &host, &Faults::default()).unwrap_err();
    assert_eq!(failure.step, "validate");
    assert_eq!(
        failure.reason,
        "validation failed after 1 repair: worker.js:3: no default export"
    );
    assert_eq!(host.build().status, BuildStatus::Failed);
}

#[test]
fn without_repair_rounds_a_failed_validation_fails_at_once() {
    let host = Scripted::new(0).script("validate", &[Script::Invalid("x.js:1: bad")]);
    let failure = run(&DurableSteps::default(), &host, &Faults::default()).unwrap_err();
    assert_eq!(failure.reason, "validation failed: x.js:1: bad");
}

#[test]
fn a_restarted_workflow_that_lost_finished_steps_outputs_derives_them_from_the_log() {
    let host = Scripted::new(0);
    let first = DurableSteps::default();
    assert_eq!(run(&first, &host, &Faults::default()), Ok(1));
    assert_eq!(host.bodies.borrow().len(), 8);
    // The engine restarts having kept only the outputs up to `upload-assets`: `deploy` and
    // `record` run again, meet StepAlreadySucceeded, and are read from the log; no body runs
    // twice and nothing new is recorded.
    let restarted = DurableSteps::default();
    for (name, value) in first.cache.borrow().iter() {
        if name != "deploy" && name != "record" {
            restarted
                .cache
                .borrow_mut()
                .insert(name.clone(), value.clone());
        }
    }
    let events_before = host.event_types().len();
    assert_eq!(run(&restarted, &host, &Faults::default()), Ok(1));
    assert_eq!(*restarted.runs.borrow(), ["deploy", "record"]);
    assert_eq!(host.bodies.borrow().len(), 8);
    assert_eq!(host.event_types().len(), events_before);
    assert_eq!(
        restarted.cache.borrow()["deploy"]["slug"],
        Value::from("tasks")
    );
}

#[test]
fn a_step_that_finished_but_whose_answer_was_lost_is_derived_from_the_log() {
    // `lost`: the body does its work and records it, then its answer is dropped; the retry meets
    // StepAlreadySucceeded and reads the output from the log instead of running again.
    let faults = Faults {
        plan: FaultPlan::parse("create-db:1:lost").unwrap(),
        failed_build_appends: 0,
    };
    let host = Scripted::new(0);
    let engine = DurableSteps::default();
    assert_eq!(run(&engine, &host, &faults), Ok(1));
    assert_eq!(
        engine.cache.borrow()["create-db"]["database_id"],
        Value::from("db1")
    );
}

#[test]
fn a_build_failed_that_cannot_be_recorded_is_reported_and_the_failure_still_returned() {
    let host = Scripted::new(0).script("plan", &[Script::Fail("no plan", false)]);
    let faults = Faults {
        plan: FaultPlan::default(),
        failed_build_appends: 10,
    };
    let failure = run(&DurableSteps::default(), &host, &faults).unwrap_err();
    assert_eq!(failure.step, "plan");
    assert_eq!(host.build().status, BuildStatus::Running);
    assert_eq!(host.reports.borrow().len(), 1);
    assert!(host.reports.borrow()[0].contains("BuildFailed could not be recorded"));
}

#[test]
fn a_build_cancelled_before_it_started_runs_no_step() {
    let host = Scripted::new(0);
    block_on(host.append(vec![Command::CancelBuild {
        build_id: BUILD.into(),
    }]))
    .unwrap();
    let engine = DurableSteps::default();
    assert!(run(&engine, &host, &Faults::default()).is_err());
    assert_eq!(
        engine.runs.borrow().first().map(String::as_str),
        Some("start")
    );
    assert!(!engine.runs.borrow().iter().any(|s| s == "plan"));
}
