//! Folds: project and build state rebuilt from events (the "apply" half of cqrs-es).
//!
//! Key decisions:
//! - `apply` only records. It never validates or rejects: stored events are facts, and every
//!   business rule lives in [`crate::ProjectState::handle`]. It is also total: an event that names
//!   a build the state has never seen is ignored instead of panicking, so any stored sequence folds.
//! - One aggregate per stream: the project. Builds are entities inside it, because the rules that
//!   matter span both (one build at a time, versions are numbered per project, the live version
//!   is a project fact).
//! - Ordered collections only (`Vec`, `BTreeMap`), so folding the same events twice yields equal
//!   values and projections derived from state are deterministic.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::codec::{Decoded, Warning};
use crate::envelope::Envelope;
use crate::event::Event;

/// Lifecycle of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BuildStatus {
    /// Recorded, not yet picked up by the workflow.
    #[default]
    Requested,
    /// The workflow is running it.
    Running,
    /// Finished; its version is live.
    Succeeded,
    /// Finished without a new live version.
    Failed,
    /// Cancelled by its owner; finished without a new live version.
    Cancelled,
}

/// Outcome of one step attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptStatus {
    /// Started, no outcome yet.
    Running,
    /// Finished successfully.
    Succeeded {
        /// Wall time of the attempt.
        duration_ms: u64,
        /// Reference to the step output.
        output_ref: Option<String>,
    },
    /// Failed.
    Failed {
        /// What went wrong.
        error: String,
        /// Whether another attempt may follow.
        retryable: bool,
    },
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepAttempt {
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Its outcome so far.
    pub status: AttemptStatus,
}

/// A named step of a build with all its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    /// Step name.
    pub name: String,
    /// Attempts in order.
    pub attempts: Vec<StepAttempt>,
    /// Model calls made by this step, summed over its attempts.
    #[serde(default)]
    pub usage: Usage,
}

/// Model calls summed: tokens and estimated cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Calls made (failed ones included).
    pub calls: u32,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Estimated cost in nano-dollars (10⁻⁹ USD).
    pub cost_nano_usd: u64,
    /// True when any count is an estimate (the provider reported no usage).
    pub estimated: bool,
}

impl Usage {
    /// Adds one call.
    pub fn add(
        &mut self,
        input_tokens: u64,
        output_tokens: u64,
        cost_nano_usd: u64,
        estimated: bool,
    ) {
        self.calls += 1;
        self.input_tokens += input_tokens;
        self.output_tokens += output_tokens;
        self.cost_nano_usd += cost_nano_usd;
        self.estimated |= estimated;
    }
}

impl StepState {
    /// The latest attempt.
    pub fn last(&self) -> Option<&StepAttempt> {
        self.attempts.last()
    }

    /// Whether some attempt succeeded.
    pub fn succeeded(&self) -> bool {
        self.attempts
            .iter()
            .any(|a| matches!(a.status, AttemptStatus::Succeeded { .. }))
    }

    /// Sum of the durations of the attempts that succeeded.
    pub fn duration_ms(&self) -> u64 {
        self.attempts
            .iter()
            .map(|a| match a.status {
                AttemptStatus::Succeeded { duration_ms, .. } => duration_ms,
                _ => 0,
            })
            .sum()
    }
}

/// The plan of a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanState {
    /// sha256 of the plan JSON.
    pub plan_hash: String,
    /// Summary shown to the user.
    pub summary: String,
    /// Whether the user approved it.
    pub approved: bool,
}

/// Latest validation outcome of a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validation {
    /// The generated code passed.
    Passed,
    /// The generated code has problems.
    Failed {
        /// One line per problem.
        diagnostics: Vec<String>,
    },
}

/// Why a build failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildError {
    /// The failing step.
    pub step: String,
    /// Why.
    pub reason: String,
}

/// Everything recorded about one build.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildState {
    /// Build id.
    pub build_id: String,
    /// The prompt.
    pub prompt: String,
    /// Client idempotency key of the request.
    pub idempotency_key: Option<String>,
    /// The build this one replays, if it is a replay.
    #[serde(default)]
    pub replay_of: Option<String>,
    /// The first step of a replay that runs fresh (`None`: every recorded output is reused).
    #[serde(default)]
    pub from_step: Option<String>,
    /// Lifecycle.
    pub status: BuildStatus,
    /// The step most recently started.
    pub current_step: Option<String>,
    /// Steps in the order they were first started.
    pub steps: Vec<StepState>,
    /// The plan, once proposed.
    pub plan: Option<PlanState>,
    /// The code version this build generated.
    pub version: Option<u32>,
    /// Latest validation outcome.
    pub validation: Option<Validation>,
    /// Number of the latest repair attempt (0 = none).
    pub repair_attempts: u32,
    /// Model calls of the whole build.
    #[serde(default)]
    pub usage: Usage,
    /// Migrations this build applied.
    pub migrations: Vec<String>,
    /// Files and bytes uploaded as assets.
    pub assets: Option<(u32, u64)>,
    /// The version this build deployed.
    pub deployed_version: Option<u32>,
    /// Why it failed, when it did.
    pub error: Option<BuildError>,
    /// When cancelled: the step it was in (`None` also when it had not started a step).
    #[serde(default)]
    pub cancelled_in: Option<String>,
}

impl BuildState {
    /// A step by name.
    pub fn step(&self, name: &str) -> Option<&StepState> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Whether this build, a replay, reuses the replayed build's recorded output of `step`
    /// instead of running it. Only `plan` and `codegen` have outputs to reuse (the later steps
    /// check and provision the project as it is now, so they always run); a replay without
    /// `from_step` reuses both.
    pub fn reuses(&self, step: &str) -> bool {
        if self.replay_of.is_none() {
            return false;
        }
        let position = |name: &str| crate::decide::REPLAY_STEPS.iter().position(|s| *s == name);
        let fresh_from = self
            .from_step
            .as_deref()
            .and_then(position)
            .unwrap_or(crate::decide::REPLAY_STEPS.len());
        matches!(position(step), Some(i) if i < 2 && i < fresh_from)
    }

    /// Whether the build has ended: succeeded, failed or cancelled.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            BuildStatus::Succeeded | BuildStatus::Failed | BuildStatus::Cancelled
        )
    }

    fn step_mut(&mut self, name: &str) -> &mut StepState {
        match self.steps.iter().position(|s| s.name == name) {
            Some(i) => &mut self.steps[i],
            None => {
                self.steps.push(StepState {
                    name: name.to_owned(),
                    attempts: Vec::new(),
                    usage: Usage::default(),
                });
                self.steps.last_mut().expect("a step was just pushed")
            }
        }
    }

    fn attempt_mut(&mut self, step: &str, attempt: u32) -> &mut StepAttempt {
        let step = self.step_mut(step);
        match step.attempts.iter().position(|a| a.attempt == attempt) {
            Some(i) => &mut step.attempts[i],
            None => {
                step.attempts.push(StepAttempt {
                    attempt,
                    status: AttemptStatus::Running,
                });
                step.attempts
                    .last_mut()
                    .expect("an attempt was just pushed")
            }
        }
    }

    /// Records a pipeline event of this build. Events of other kinds are ignored.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::BuildRequested {
                build_id,
                prompt,
                idempotency_key,
                replay_of,
                from_step,
            } => {
                self.build_id = build_id.clone();
                self.prompt = prompt.clone();
                self.idempotency_key = idempotency_key.clone();
                self.replay_of = replay_of.clone();
                self.from_step = from_step.clone();
                self.status = BuildStatus::Requested;
            }
            Event::BuildStarted { .. } => self.status = BuildStatus::Running,
            Event::StepStarted { step, attempt, .. } => {
                self.current_step = Some(step.clone());
                self.attempt_mut(step, *attempt).status = AttemptStatus::Running;
            }
            Event::StepSucceeded {
                step,
                attempt,
                duration_ms,
                output_ref,
                ..
            } => {
                self.attempt_mut(step, *attempt).status = AttemptStatus::Succeeded {
                    duration_ms: *duration_ms,
                    output_ref: output_ref.clone(),
                };
            }
            Event::StepFailed {
                step,
                attempt,
                error,
                retryable,
                ..
            } => {
                self.attempt_mut(step, *attempt).status = AttemptStatus::Failed {
                    error: error.clone(),
                    retryable: *retryable,
                };
            }
            Event::PlanProposed {
                plan_hash, summary, ..
            } => {
                self.plan = Some(PlanState {
                    plan_hash: plan_hash.clone(),
                    summary: summary.clone(),
                    approved: false,
                });
            }
            Event::PlanApproved { .. } => {
                if let Some(plan) = &mut self.plan {
                    plan.approved = true;
                }
            }
            Event::CodeGenerated { version, .. } => {
                self.version = Some(*version);
                self.validation = None;
            }
            Event::ValidationFailed { diagnostics, .. } => {
                self.validation = Some(Validation::Failed {
                    diagnostics: diagnostics.clone(),
                });
            }
            Event::ValidationPassed { .. } => self.validation = Some(Validation::Passed),
            Event::RepairAttempted { attempt, .. } => self.repair_attempts = *attempt,
            Event::ModelCalled {
                step,
                input_tokens,
                output_tokens,
                cost_nano_usd,
                estimated,
                ..
            } => {
                self.usage
                    .add(*input_tokens, *output_tokens, *cost_nano_usd, *estimated);
                self.step_mut(step).usage.add(
                    *input_tokens,
                    *output_tokens,
                    *cost_nano_usd,
                    *estimated,
                );
            }
            Event::MigrationApplied { names, .. } => self.migrations.extend(names.iter().cloned()),
            Event::AssetsUploaded { count, bytes, .. } => self.assets = Some((*count, *bytes)),
            Event::Deployed { version, .. } => self.deployed_version = Some(*version),
            Event::BuildSucceeded { version, .. } => {
                self.status = BuildStatus::Succeeded;
                self.version = Some(*version);
                self.current_step = None;
            }
            Event::BuildFailed { step, reason, .. } => {
                self.status = BuildStatus::Failed;
                self.current_step = None;
                self.error = Some(BuildError {
                    step: step.clone(),
                    reason: reason.clone(),
                });
            }
            Event::BuildCancelled { step, .. } => {
                self.status = BuildStatus::Cancelled;
                self.cancelled_in = step.clone();
                self.current_step = None;
            }
            Event::DatabaseProvisioned { .. }
            | Event::ProjectCreated { .. }
            | Event::ProjectRenamed { .. }
            | Event::MessagePosted { .. }
            | Event::RollbackRequested { .. }
            | Event::RolledBack { .. }
            | Event::RollbackFailed { .. }
            | Event::WebhookDelivered { .. }
            | Event::ProjectDeleted {}
            | Event::TeardownCompleted {}
            | Event::VersionSaved { .. } => {}
        }
    }
}

/// How the live version got live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveReason {
    /// A build deployed it.
    #[default]
    Build,
    /// A rollback made it live again.
    Rollback,
}

/// The version currently served, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Live {
    /// The live version.
    pub version: u32,
    /// The build that deployed it (for a rollback: the build that deployed it originally).
    pub build_id: Option<String>,
    /// Time of the event that made it live, ms since the epoch.
    pub since_ms: i64,
    /// What made it live.
    pub reason: LiveReason,
    /// The rollback that made it live, when `reason` is `Rollback` (v1 rollbacks have none).
    pub rollback_id: Option<String>,
}

/// A requested rollback that has not finished yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRollback {
    /// Target version.
    pub to_version: u32,
    /// Its id (`None` for a v1 request).
    pub rollback_id: Option<String>,
}

/// Everything recorded about one project: the aggregate that commands are decided against.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProjectState {
    /// `ProjectCreated` was recorded.
    pub exists: bool,
    /// `ProjectDeleted` was recorded.
    pub deleted: bool,
    /// `TeardownCompleted` was recorded.
    pub torn_down: bool,
    /// Display name.
    pub name: String,
    /// Subdomain label.
    pub slug: String,
    /// Owner user id.
    pub owner: String,
    /// Seq of the last event folded, known or skipped; the `expected_seq` for the next append.
    pub last_seq: u64,
    /// The version currently served.
    pub live_version: Option<u32>,
    /// Versions that went live at some point; the valid rollback targets.
    pub versions: BTreeSet<u32>,
    /// The highest version number generated so far (0 = none).
    pub latest_version: u32,
    /// The app database.
    pub database_id: Option<String>,
    /// Migrations applied to the app database, in order.
    pub migrations: Vec<String>,
    /// Ids of the chat messages posted.
    pub message_ids: BTreeSet<String>,
    /// Builds in the order they were requested.
    pub builds: Vec<BuildState>,
    /// A requested rollback not yet completed.
    pub pending_rollback: Option<u32>,
    /// The pending rollback with its id.
    ///
    /// No `#[serde(default)]` on this field and on `live` on purpose: a snapshot written before
    /// they existed fails to decode, so it is ignored and the stream replayed in full, instead of
    /// reading as "no live info".
    pub rollback: Option<PendingRollback>,
    /// The live version with where it came from; `None` until a build succeeds.
    pub live: Option<Live>,
    /// Last delivery status per webhook id.
    pub webhook_status: BTreeMap<String, u16>,
    /// Build id → index in `builds`, so long histories fold in linear time.
    build_index: BTreeMap<String, usize>,
}

impl ProjectState {
    /// Folds envelopes from the start of a stream.
    pub fn from_envelopes<'a>(envelopes: impl IntoIterator<Item = &'a Envelope>) -> Self {
        let mut state = ProjectState::default();
        for envelope in envelopes {
            state.apply(envelope);
        }
        state
    }

    /// Folds decoded events from the start of a stream, returning the warnings for the
    /// events that were skipped.
    pub fn replay<'a>(decoded: impl IntoIterator<Item = &'a Decoded>) -> (Self, Vec<Warning>) {
        let mut state = ProjectState::default();
        let warnings = decoded
            .into_iter()
            .filter_map(|d| state.apply_decoded(d))
            .collect();
        (state, warnings)
    }

    /// Records a decoded event. A skipped event still advances `last_seq` (it occupies its
    /// position, and the next append must come after it); its warning is returned.
    pub fn apply_decoded(&mut self, decoded: &Decoded) -> Option<Warning> {
        match decoded {
            Decoded::Event(envelope) => {
                self.apply(envelope);
                None
            }
            Decoded::Unknown(unknown) => {
                self.last_seq = unknown.envelope.seq;
                Some(unknown.warning())
            }
        }
    }

    /// The build with this id.
    pub fn build(&self, build_id: &str) -> Option<&BuildState> {
        self.build_index.get(build_id).map(|&i| &self.builds[i])
    }

    /// The build requested with this idempotency key.
    pub fn build_by_idempotency_key(&self, key: &str) -> Option<&BuildState> {
        self.builds
            .iter()
            .find(|b| b.idempotency_key.as_deref() == Some(key))
    }

    /// The build that is requested or running, if any.
    pub fn active_build(&self) -> Option<&BuildState> {
        self.builds.iter().rev().find(|b| !b.is_finished())
    }

    /// The latest build that deployed `version` and succeeded.
    pub fn build_of_version(&self, version: u32) -> Option<&BuildState> {
        self.builds
            .iter()
            .rev()
            .find(|b| b.status == BuildStatus::Succeeded && b.deployed_version == Some(version))
    }

    /// Records one event.
    pub fn apply(&mut self, envelope: &Envelope) {
        self.last_seq = envelope.seq;
        let event = &envelope.data;
        match event {
            Event::ProjectCreated { name, slug, owner } => {
                self.exists = true;
                self.name = name.clone();
                self.slug = slug.clone();
                self.owner = owner.clone();
            }
            Event::ProjectRenamed { name } => self.name = name.clone(),
            Event::MessagePosted { message_id, .. } => {
                self.message_ids.insert(message_id.clone());
            }
            Event::BuildRequested { build_id, .. } => {
                self.build_index.insert(build_id.clone(), self.builds.len());
                let mut build = BuildState::default();
                build.apply(event);
                self.builds.push(build);
            }
            Event::CodeGenerated { version, .. } => {
                self.latest_version = *version;
                self.apply_to_build(event);
            }
            Event::DatabaseProvisioned { database_id, .. } => {
                self.database_id = Some(database_id.clone());
            }
            Event::MigrationApplied { names, .. } => {
                self.migrations.extend(names.iter().cloned());
                self.apply_to_build(event);
            }
            Event::BuildSucceeded { build_id, version } => {
                self.live_version = Some(*version);
                self.versions.insert(*version);
                self.live = Some(Live {
                    version: *version,
                    build_id: Some(build_id.clone()),
                    since_ms: envelope.time_ms,
                    reason: LiveReason::Build,
                    rollback_id: None,
                });
                self.apply_to_build(event);
            }
            Event::RollbackRequested {
                to_version,
                rollback_id,
                ..
            } => {
                self.pending_rollback = Some(*to_version);
                self.rollback = Some(PendingRollback {
                    to_version: *to_version,
                    rollback_id: rollback_id.clone(),
                });
            }
            Event::RolledBack {
                to_version,
                rollback_id,
            } => {
                self.live_version = Some(*to_version);
                self.pending_rollback = None;
                self.rollback = None;
                self.live = Some(Live {
                    version: *to_version,
                    build_id: self
                        .build_of_version(*to_version)
                        .map(|b| b.build_id.clone()),
                    since_ms: envelope.time_ms,
                    reason: LiveReason::Rollback,
                    rollback_id: rollback_id.clone(),
                });
            }
            Event::RollbackFailed { .. } => {
                self.pending_rollback = None;
                self.rollback = None;
            }
            Event::WebhookDelivered { webhook_id, status } => {
                self.webhook_status.insert(webhook_id.clone(), *status);
            }
            Event::ProjectDeleted {} => self.deleted = true,
            Event::TeardownCompleted {} => self.torn_down = true,
            Event::VersionSaved { version, .. } => self.latest_version = *version,
            Event::BuildStarted { .. }
            | Event::StepStarted { .. }
            | Event::StepSucceeded { .. }
            | Event::StepFailed { .. }
            | Event::PlanProposed { .. }
            | Event::PlanApproved { .. }
            | Event::ValidationFailed { .. }
            | Event::ValidationPassed { .. }
            | Event::RepairAttempted { .. }
            | Event::ModelCalled { .. }
            | Event::AssetsUploaded { .. }
            | Event::Deployed { .. }
            | Event::BuildFailed { .. }
            | Event::BuildCancelled { .. } => self.apply_to_build(event),
        }
    }

    fn apply_to_build(&mut self, event: &Event) {
        let index = event
            .build_id()
            .and_then(|id| self.build_index.get(id))
            .copied();
        if let Some(build) = index.and_then(|i| self.builds.get_mut(i)) {
            build.apply(event);
        }
    }
}
