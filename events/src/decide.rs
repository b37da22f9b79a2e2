//! Commands and business rules (the "handle" half of cqrs-es).
//!
//! Key decisions:
//! - `handle(&state, command)` is a pure function from the folded state to new facts or a
//!   [`Rejection`]; it holds every rule, so rules are tested without any store.
//! - Retries are safe by construction: a repeated `RequestBuild` with the same idempotency key
//!   decides *no* events (and the caller looks the build up), and the same
//!   `RecordDatabase` twice is a no-op. Everything else that must happen once is rejected the second
//!   time with a message saying why.
//! - Sizes are limited here (prompt, message, names), so an oversized input is refused with the
//!   limit in the message before it ever reaches the log.

use crate::envelope::{Envelope, Metadata};
use crate::event::{Event, Role};
use crate::fold::{AttemptStatus, BuildState, BuildStatus, ProjectState, Validation};

/// Longest project name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest prompt, in bytes.
pub const MAX_PROMPT_BYTES: usize = 64 * 1024;
/// Longest chat message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest step output reference, in bytes (outputs are references, not content).
pub const MAX_OUTPUT_REF_BYTES: usize = 1024;
/// Longest error text or failure reason, in bytes.
pub const MAX_ERROR_BYTES: usize = 16 * 1024;
/// Longest step name, in bytes.
pub const MAX_STEP_BYTES: usize = 64;

/// The pipeline steps a replay may start from, in pipeline order (the build workflow's step
/// names; the `workflows` crate checks that they match its step list). Steps before `plan`'s
/// successor reuse the plan, steps after `codegen` reuse plan and code.
pub const REPLAY_STEPS: [&str; 8] = [
    "plan",
    "codegen",
    "validate",
    "create-db",
    "migrate",
    "upload-assets",
    "deploy",
    "record",
];

/// Something a user or the build workflow asks to happen to a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create the project.
    CreateProject {
        /// Display name.
        name: String,
        /// Subdomain label.
        slug: String,
        /// Owner user id.
        owner: String,
    },
    /// Rename the project.
    RenameProject {
        /// New display name.
        name: String,
    },
    /// Delete the project (teardown follows).
    DeleteProject,
    /// Record that every resource of a deleted project is gone.
    CompleteTeardown,
    /// Record a code version the owner saved directly (outside a build).
    SaveVersion {
        /// The version the code store allocated; must be the next one.
        version: u32,
        /// The version it derives from.
        parent: Option<u32>,
        /// Number of files.
        files: u32,
        /// Total bytes.
        bytes: u64,
    },
    /// Add a chat message.
    PostMessage {
        /// Caller-chosen id.
        message_id: String,
        /// Author.
        role: Role,
        /// Text.
        content: String,
    },
    /// Ask for a build.
    RequestBuild {
        /// New build id.
        build_id: String,
        /// What to build.
        prompt: String,
        /// Client key that makes a repeated request a no-op.
        idempotency_key: Option<String>,
        /// The build to replay (its recorded outputs are reused).
        replay_of: Option<String>,
        /// With `replay_of`: the first step that runs fresh (one of [`REPLAY_STEPS`]).
        from_step: Option<String>,
    },
    /// The workflow picked the build up.
    StartBuild {
        /// Build id.
        build_id: String,
    },
    /// Start an attempt of a step.
    StartStep {
        /// Build id.
        build_id: String,
        /// Step name.
        step: String,
        /// Attempt number (the next one).
        attempt: u32,
    },
    /// Finish the running attempt of a step successfully.
    SucceedStep {
        /// Build id.
        build_id: String,
        /// Step name.
        step: String,
        /// The running attempt.
        attempt: u32,
        /// Wall time.
        duration_ms: u64,
        /// Reference to the output.
        output_ref: Option<String>,
    },
    /// Finish the running attempt of a step with an error.
    FailStep {
        /// Build id.
        build_id: String,
        /// Step name.
        step: String,
        /// The running attempt.
        attempt: u32,
        /// What went wrong.
        error: String,
        /// Whether another attempt may follow.
        retryable: bool,
    },
    /// Record the proposed plan.
    ProposePlan {
        /// Build id.
        build_id: String,
        /// sha256 of the plan JSON.
        plan_hash: String,
        /// Summary.
        summary: String,
    },
    /// The user approves the plan.
    ApprovePlan {
        /// Build id.
        build_id: String,
    },
    /// Record generated code as the next version.
    RecordCode {
        /// Build id.
        build_id: String,
        /// Must be the project's next version number.
        version: u32,
        /// Number of files.
        files: u32,
        /// Total bytes.
        bytes: u64,
        /// Prompt template hash.
        prompt_hash: Option<String>,
    },
    /// Validation found problems.
    FailValidation {
        /// Build id.
        build_id: String,
        /// One line per problem.
        diagnostics: Vec<String>,
    },
    /// Validation passed.
    PassValidation {
        /// Build id.
        build_id: String,
    },
    /// Record one model call of a build step.
    RecordModelCall {
        /// Build id.
        build_id: String,
        /// Step name.
        step: String,
        /// Provider.
        provider: String,
        /// Model.
        model: String,
        /// Prompt template.
        template: String,
        /// Template hash.
        template_hash: String,
        /// Input tokens.
        input_tokens: u64,
        /// Output tokens.
        output_tokens: u64,
        /// Counts are estimates.
        estimated: bool,
        /// Estimated cost, nano-dollars.
        cost_nano_usd: u64,
        /// Finish reason.
        finish_reason: Option<String>,
        /// Retried failures.
        retries: u32,
        /// Final error.
        error: Option<String>,
    },
    /// Start the next repair attempt.
    AttemptRepair {
        /// Build id.
        build_id: String,
        /// The next repair attempt number.
        attempt: u32,
    },
    /// Record the app database.
    RecordDatabase {
        /// Build id.
        build_id: String,
        /// Provider database id.
        database_id: String,
    },
    /// Record applied migrations.
    RecordMigrations {
        /// Build id.
        build_id: String,
        /// Migration file names, none applied before.
        names: Vec<String>,
    },
    /// Record uploaded assets.
    RecordAssets {
        /// Build id.
        build_id: String,
        /// Files.
        count: u32,
        /// Bytes.
        bytes: u64,
    },
    /// Record that the build's version is deployed.
    RecordDeploy {
        /// Build id.
        build_id: String,
        /// The version the build generated.
        version: u32,
    },
    /// Finish the build: its deployed version goes live.
    SucceedBuild {
        /// Build id.
        build_id: String,
        /// The deployed version.
        version: u32,
    },
    /// Give up on the build.
    FailBuild {
        /// Build id.
        build_id: String,
        /// Failing step.
        step: String,
        /// Why.
        reason: String,
    },
    /// Cancel the build (its owner asked). Cancelling a cancelled build decides nothing.
    CancelBuild {
        /// Build id.
        build_id: String,
    },
    /// Ask to make an earlier live version live again.
    RequestRollback {
        /// Target version.
        to_version: u32,
        /// New rollback id (the Workflow instance id).
        rollback_id: String,
    },
    /// Record that the requested rollback is done.
    CompleteRollback {
        /// Target version.
        to_version: u32,
        /// The pending rollback's id.
        rollback_id: String,
    },
    /// Give up on the pending rollback; the live version stays.
    FailRollback {
        /// The pending rollback's id.
        rollback_id: String,
        /// Why.
        reason: String,
    },
    /// Record a webhook delivery result.
    RecordWebhookDelivery {
        /// Webhook id.
        webhook_id: String,
        /// HTTP status received.
        status: u16,
    },
}

/// Why a command was refused. Messages are lowercase, name the value and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The project was never created.
    #[error("project does not exist; create it first")]
    ProjectNotFound,
    /// The project exists already.
    #[error("project '{slug}' already exists")]
    ProjectExists {
        /// Its slug.
        slug: String,
    },
    /// The project is deleted.
    #[error("project is deleted")]
    ProjectDeleted,
    /// Teardown before deletion.
    #[error("project is not deleted; delete it before completing teardown")]
    ProjectNotDeleted,
    /// Teardown already recorded.
    #[error("project teardown is already complete")]
    AlreadyTornDown,
    /// A required text is empty.
    #[error("{field} must not be empty")]
    Empty {
        /// Which input.
        field: &'static str,
    },
    /// An input is over its limit.
    #[error("{field} is {size} {unit} long; the limit is {limit}")]
    TooLong {
        /// Which input.
        field: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
        /// Unit of size and limit: `bytes` or `characters`.
        unit: &'static str,
    },
    /// The slug is not a DNS label.
    #[error(
        "slug '{slug}' is invalid; use 1 to 63 lowercase letters, digits or '-', not at either end"
    )]
    InvalidSlug {
        /// The slug.
        slug: String,
    },
    /// The step name is not a plain identifier.
    #[error("step name '{step}' is invalid; use 1 to 64 lowercase letters, digits or '-'")]
    InvalidStep {
        /// The step name.
        step: String,
    },
    /// Renaming to the current name.
    #[error("project is already named '{name}'")]
    SameName {
        /// The name.
        name: String,
    },
    /// A message id is taken.
    #[error("message {message_id} already exists")]
    MessageExists {
        /// The id.
        message_id: String,
    },
    /// A build id is taken.
    #[error("build {build_id} already exists")]
    BuildExists {
        /// The id.
        build_id: String,
    },
    /// Another build is requested or running.
    #[error("build {build_id} is still in progress; wait for it to finish or fail it first")]
    BuildInProgress {
        /// The active build.
        build_id: String,
    },
    /// No such build.
    #[error("build {build_id} does not exist")]
    BuildNotFound {
        /// The id.
        build_id: String,
    },
    /// The build has not been started.
    #[error("build {build_id} has not started; start it first")]
    BuildNotStarted {
        /// The id.
        build_id: String,
    },
    /// The build was started already.
    #[error("build {build_id} has already started")]
    BuildAlreadyStarted {
        /// The id.
        build_id: String,
    },
    /// The build succeeded or failed already.
    #[error("build {build_id} is already finished")]
    BuildFinished {
        /// The id.
        build_id: String,
    },
    /// Cancelling a build that already succeeded or failed.
    #[error("build {build_id} already {outcome}; only a build in progress can be cancelled")]
    NotCancellable {
        /// The id.
        build_id: String,
        /// `succeeded` or `failed`.
        outcome: &'static str,
    },
    /// An attempt number is not the next one.
    #[error("step {step} attempt {attempt} is out of order; the next attempt is {expected}")]
    AttemptOutOfOrder {
        /// Step name.
        step: String,
        /// Requested attempt.
        attempt: u32,
        /// The next attempt number.
        expected: u32,
    },
    /// Restarting a step that succeeded.
    #[error("step {step} already succeeded")]
    StepAlreadySucceeded {
        /// Step name.
        step: String,
    },
    /// Finishing an attempt that is not running.
    #[error("step {step} attempt {attempt} is not running")]
    StepNotRunning {
        /// Step name.
        step: String,
        /// Attempt number.
        attempt: u32,
    },
    /// Approving without a plan.
    #[error("build {build_id} has no proposed plan to approve")]
    NoPlan {
        /// Build id.
        build_id: String,
    },
    /// Approving twice.
    #[error("the plan of build {build_id} is already approved")]
    PlanAlreadyApproved {
        /// Build id.
        build_id: String,
    },
    /// Versions are numbered 1, 2, 3 per project.
    #[error("version {version} is not the next version; use {expected}")]
    VersionNotNext {
        /// Requested version.
        version: u32,
        /// The next version.
        expected: u32,
    },
    /// Validating or deploying before code exists.
    #[error("build {build_id} has not generated code yet")]
    NoCode {
        /// Build id.
        build_id: String,
    },
    /// Deploying unvalidated code.
    #[error("build {build_id} has not passed validation")]
    NotValidated {
        /// Build id.
        build_id: String,
    },
    /// A version that is not this build's.
    #[error("build {build_id} generated version {generated}, not {version}")]
    WrongVersion {
        /// Build id.
        build_id: String,
        /// Requested version.
        version: u32,
        /// The build's version.
        generated: u32,
    },
    /// Finishing a build whose version is not deployed.
    #[error("build {build_id} has not deployed version {version}; deploy it first")]
    NotDeployed {
        /// Build id.
        build_id: String,
        /// The version.
        version: u32,
    },
    /// A repair attempt number is not the next one.
    #[error("repair attempt {attempt} is out of order; the next attempt is {expected}")]
    RepairOutOfOrder {
        /// Requested attempt.
        attempt: u32,
        /// The next attempt number.
        expected: u32,
    },
    /// Repairing code that did not fail validation.
    #[error("build {build_id} has no failed validation to repair")]
    NothingToRepair {
        /// Build id.
        build_id: String,
    },
    /// A different database than the one the project has.
    #[error("project already has database {existing}, not {database_id}")]
    DatabaseMismatch {
        /// The project's database.
        existing: String,
        /// The requested one.
        database_id: String,
    },
    /// Applying a migration twice.
    #[error("migration {name} is already applied")]
    MigrationAlreadyApplied {
        /// Migration name.
        name: String,
    },
    /// Rolling back to a version that never went live.
    #[error("version {version} does not exist")]
    VersionNotFound {
        /// The version.
        version: u32,
    },
    /// Rolling back to the live version.
    #[error("version {version} is already live")]
    VersionAlreadyLive {
        /// The version.
        version: u32,
    },
    /// A rollback is already pending.
    #[error("a rollback to version {to_version} is already in progress")]
    RollbackInProgress {
        /// Its target.
        to_version: u32,
    },
    /// Completing a rollback nobody requested.
    #[error("no rollback to version {to_version} was requested")]
    NoRollbackRequested {
        /// The version.
        to_version: u32,
    },
    /// Finishing a rollback that is not the pending one.
    #[error("rollback {rollback_id} is not in progress")]
    RollbackNotPending {
        /// The id.
        rollback_id: String,
    },
    /// A replay starting from something that is not a pipeline step.
    #[error("from_step '{step}' is not a pipeline step; use one of plan, codegen, validate, create-db, migrate, upload-assets, deploy, record")]
    InvalidFromStep {
        /// The value given.
        step: String,
    },
    /// `from_step` without a build to replay.
    #[error("from_step '{step}' needs a build to replay")]
    FromStepWithoutReplay {
        /// The value given.
        step: String,
    },
    /// The replayed build has no recorded output for a step the replay would reuse.
    #[error("build {build_id} has no recorded {missing} to reuse; replay it from an earlier step")]
    NotReplayable {
        /// The replayed build.
        build_id: String,
        /// What is missing: `plan`, or `code that passed validation`.
        missing: &'static str,
    },
    /// Not an HTTP status.
    #[error("http status {status} is invalid; use 100 to 599")]
    InvalidStatus {
        /// The value.
        status: u16,
    },
}

fn non_empty(field: &'static str, value: &str) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        Err(Rejection::Empty { field })
    } else {
        Ok(())
    }
}

fn at_most(field: &'static str, size: usize, limit: usize) -> Result<(), Rejection> {
    if size > limit {
        Err(Rejection::TooLong {
            field,
            size,
            limit,
            unit: "bytes",
        })
    } else {
        Ok(())
    }
}

fn text(field: &'static str, value: &str, limit: usize) -> Result<(), Rejection> {
    non_empty(field, value)?;
    at_most(field, value.len(), limit)
}

fn valid_name(name: &str) -> Result<(), Rejection> {
    non_empty("project name", name)?;
    let size = name.chars().count();
    if size > MAX_NAME_CHARS {
        return Err(Rejection::TooLong {
            field: "project name",
            size,
            limit: MAX_NAME_CHARS,
            unit: "characters",
        });
    }
    Ok(())
}

fn valid_slug(slug: &str) -> Result<(), Rejection> {
    let ok = (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Rejection::InvalidSlug {
            slug: slug.to_owned(),
        })
    }
}

fn valid_step(step: &str) -> Result<(), Rejection> {
    let ok = (1..=MAX_STEP_BYTES).contains(&step.len())
        && step
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Rejection::InvalidStep {
            step: step.to_owned(),
        })
    }
}

/// The events of `commands`, decided in order against `state` (each against the state the
/// earlier ones leave), so they can be appended as one batch. A command that changes nothing adds
/// no events; a rejected one rejects the whole batch.
pub fn decide_all(
    state: &ProjectState,
    commands: &[Command],
    meta: &Metadata,
) -> Result<Vec<Event>, Rejection> {
    if let [only] = commands {
        // One command: nothing to fold in between, no copy of the state.
        return state.handle(only.clone());
    }
    let mut scratch = state.clone();
    let mut all = Vec::new();
    for command in commands {
        let events = scratch.handle(command.clone())?;
        for event in events {
            // Provisional envelope: only the fold reads it (seq and time), never stored.
            let envelope = Envelope {
                id: String::new(),
                stream: String::new(),
                seq: scratch.last_seq + 1,
                event_type: String::new(),
                version: 0,
                time_ms: meta.time_ms,
                actor: meta.actor.clone(),
                correlation: meta.correlation.clone(),
                causation: meta.causation.clone(),
                data: event.clone(),
                prev_hash: String::new(),
                hash: String::new(),
            };
            scratch.apply(&envelope);
            all.push(event);
        }
    }
    Ok(all)
}

impl ProjectState {
    /// Decides what a command means given the recorded state: the events to append (possibly
    /// none, for an idempotent repeat) or why it is refused.
    pub fn handle(&self, command: Command) -> Result<Vec<Event>, Rejection> {
        match command {
            Command::CreateProject { name, slug, owner } => {
                if self.exists {
                    return Err(Rejection::ProjectExists {
                        slug: self.slug.clone(),
                    });
                }
                valid_name(&name)?;
                valid_slug(&slug)?;
                non_empty("owner", &owner)?;
                Ok(vec![Event::ProjectCreated { name, slug, owner }])
            }
            Command::RenameProject { name } => {
                self.live()?;
                valid_name(&name)?;
                if name == self.name {
                    return Err(Rejection::SameName { name });
                }
                Ok(vec![Event::ProjectRenamed { name }])
            }
            Command::DeleteProject => {
                self.live()?;
                Ok(vec![Event::ProjectDeleted {}])
            }
            Command::CompleteTeardown => {
                if !self.exists {
                    return Err(Rejection::ProjectNotFound);
                }
                if !self.deleted {
                    return Err(Rejection::ProjectNotDeleted);
                }
                if self.torn_down {
                    return Err(Rejection::AlreadyTornDown);
                }
                Ok(vec![Event::TeardownCompleted {}])
            }
            Command::SaveVersion {
                version,
                parent,
                files,
                bytes,
            } => {
                self.live()?;
                let expected = self.latest_version + 1;
                if version != expected {
                    return Err(Rejection::VersionNotNext { version, expected });
                }
                if let Some(p) = parent {
                    if p == 0 || p > self.latest_version {
                        return Err(Rejection::VersionNotFound { version: p });
                    }
                }
                Ok(vec![Event::VersionSaved {
                    version,
                    parent,
                    files,
                    bytes,
                }])
            }
            Command::PostMessage {
                message_id,
                role,
                content,
            } => {
                self.live()?;
                non_empty("message id", &message_id)?;
                text("message", &content, MAX_MESSAGE_BYTES)?;
                if self.message_ids.contains(&message_id) {
                    return Err(Rejection::MessageExists { message_id });
                }
                Ok(vec![Event::MessagePosted {
                    message_id,
                    role,
                    content,
                }])
            }
            Command::RequestBuild {
                build_id,
                prompt,
                idempotency_key,
                replay_of,
                from_step,
            } => {
                self.live()?;
                // A retried request is answered with the build it already created.
                if let Some(key) = &idempotency_key {
                    if self.build_by_idempotency_key(key).is_some() {
                        return Ok(Vec::new());
                    }
                }
                non_empty("build id", &build_id)?;
                text("prompt", &prompt, MAX_PROMPT_BYTES)?;
                if self.build(&build_id).is_some() {
                    return Err(Rejection::BuildExists { build_id });
                }
                // One build at a time: two builds would race for version numbers and the live
                // pointer.
                if let Some(active) = self.active_build() {
                    return Err(Rejection::BuildInProgress {
                        build_id: active.build_id.clone(),
                    });
                }
                // A rollback moves the live pointer; a build started under it would build on a
                // live version that is about to change.
                if let Some(pending) = self.pending_rollback {
                    return Err(Rejection::RollbackInProgress {
                        to_version: pending,
                    });
                }
                self.replayable(replay_of.as_deref(), from_step.as_deref())?;
                Ok(vec![Event::BuildRequested {
                    build_id,
                    prompt,
                    idempotency_key,
                    replay_of,
                    from_step,
                }])
            }
            Command::StartBuild { build_id } => {
                self.live()?;
                let build = self.find_build(&build_id)?;
                match build.status {
                    BuildStatus::Requested => Ok(vec![Event::BuildStarted { build_id }]),
                    BuildStatus::Running => Err(Rejection::BuildAlreadyStarted { build_id }),
                    BuildStatus::Succeeded | BuildStatus::Failed | BuildStatus::Cancelled => {
                        Err(Rejection::BuildFinished { build_id })
                    }
                }
            }
            Command::StartStep {
                build_id,
                step,
                attempt,
            } => {
                let build = self.running_build(&build_id)?;
                valid_step(&step)?;
                let previous = build.step(&step);
                if previous.is_some_and(|s| s.succeeded()) {
                    return Err(Rejection::StepAlreadySucceeded { step });
                }
                // A new attempt may follow a running one: the worker running it may have been
                // evicted, and the workflow engine retries without an outcome being recorded.
                let expected = previous.and_then(|s| s.last()).map_or(1, |a| a.attempt + 1);
                if attempt != expected {
                    return Err(Rejection::AttemptOutOfOrder {
                        step,
                        attempt,
                        expected,
                    });
                }
                Ok(vec![Event::StepStarted {
                    build_id,
                    step,
                    attempt,
                }])
            }
            Command::SucceedStep {
                build_id,
                step,
                attempt,
                duration_ms,
                output_ref,
            } => {
                let build = self.running_build(&build_id)?;
                running_attempt(build, &step, attempt)?;
                if let Some(output) = &output_ref {
                    at_most("output reference", output.len(), MAX_OUTPUT_REF_BYTES)?;
                }
                Ok(vec![Event::StepSucceeded {
                    build_id,
                    step,
                    attempt,
                    duration_ms,
                    output_ref,
                }])
            }
            Command::FailStep {
                build_id,
                step,
                attempt,
                error,
                retryable,
            } => {
                let build = self.running_build(&build_id)?;
                running_attempt(build, &step, attempt)?;
                text("error", &error, MAX_ERROR_BYTES)?;
                Ok(vec![Event::StepFailed {
                    build_id,
                    step,
                    attempt,
                    error,
                    retryable,
                }])
            }
            Command::ProposePlan {
                build_id,
                plan_hash,
                summary,
            } => {
                self.running_build(&build_id)?;
                non_empty("plan hash", &plan_hash)?;
                text("plan summary", &summary, MAX_MESSAGE_BYTES)?;
                Ok(vec![Event::PlanProposed {
                    build_id,
                    plan_hash,
                    summary,
                }])
            }
            Command::ApprovePlan { build_id } => {
                let build = self.running_build(&build_id)?;
                match &build.plan {
                    None => Err(Rejection::NoPlan { build_id }),
                    Some(plan) if plan.approved => Err(Rejection::PlanAlreadyApproved { build_id }),
                    Some(_) => Ok(vec![Event::PlanApproved { build_id }]),
                }
            }
            Command::RecordCode {
                build_id,
                version,
                files,
                bytes,
                prompt_hash,
            } => {
                self.running_build(&build_id)?;
                let expected = self.latest_version + 1;
                if version != expected {
                    return Err(Rejection::VersionNotNext { version, expected });
                }
                Ok(vec![Event::CodeGenerated {
                    build_id,
                    version,
                    files,
                    bytes,
                    prompt_hash,
                }])
            }
            Command::FailValidation {
                build_id,
                diagnostics,
            } => {
                let build = self.running_build(&build_id)?;
                if build.version.is_none() {
                    return Err(Rejection::NoCode { build_id });
                }
                if diagnostics.iter().all(|d| d.trim().is_empty()) {
                    return Err(Rejection::Empty {
                        field: "diagnostics",
                    });
                }
                Ok(vec![Event::ValidationFailed {
                    build_id,
                    diagnostics,
                }])
            }
            Command::PassValidation { build_id } => {
                let build = self.running_build(&build_id)?;
                if build.version.is_none() {
                    return Err(Rejection::NoCode { build_id });
                }
                Ok(vec![Event::ValidationPassed { build_id }])
            }
            Command::RecordModelCall {
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
            } => {
                self.running_build(&build_id)?;
                non_empty("step", &step)?;
                non_empty("provider", &provider)?;
                non_empty("template", &template)?;
                text("model", &model, MAX_MESSAGE_BYTES)?;
                text("template hash", &template_hash, MAX_MESSAGE_BYTES)?;
                if let Some(e) = &error {
                    text("model error", e, MAX_MESSAGE_BYTES)?;
                }
                Ok(vec![Event::ModelCalled {
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
                }])
            }
            Command::AttemptRepair { build_id, attempt } => {
                let build = self.running_build(&build_id)?;
                if !matches!(build.validation, Some(Validation::Failed { .. })) {
                    return Err(Rejection::NothingToRepair { build_id });
                }
                let expected = build.repair_attempts + 1;
                if attempt != expected {
                    return Err(Rejection::RepairOutOfOrder { attempt, expected });
                }
                Ok(vec![Event::RepairAttempted { build_id, attempt }])
            }
            Command::RecordDatabase {
                build_id,
                database_id,
            } => {
                self.running_build(&build_id)?;
                non_empty("database id", &database_id)?;
                match &self.database_id {
                    // The create-db step reuses the project's database; recording it again is
                    // a no-op, so the step can be retried freely.
                    Some(existing) if *existing == database_id => Ok(Vec::new()),
                    Some(existing) => Err(Rejection::DatabaseMismatch {
                        existing: existing.clone(),
                        database_id,
                    }),
                    None => Ok(vec![Event::DatabaseProvisioned {
                        build_id,
                        database_id,
                    }]),
                }
            }
            Command::RecordMigrations { build_id, names } => {
                self.running_build(&build_id)?;
                if names.is_empty() {
                    return Err(Rejection::Empty {
                        field: "migration names",
                    });
                }
                for (i, name) in names.iter().enumerate() {
                    non_empty("migration name", name)?;
                    if self.migrations.contains(name) || names[..i].contains(name) {
                        return Err(Rejection::MigrationAlreadyApplied { name: name.clone() });
                    }
                }
                Ok(vec![Event::MigrationApplied { build_id, names }])
            }
            Command::RecordAssets {
                build_id,
                count,
                bytes,
            } => {
                self.running_build(&build_id)?;
                Ok(vec![Event::AssetsUploaded {
                    build_id,
                    count,
                    bytes,
                }])
            }
            Command::RecordDeploy { build_id, version } => {
                let build = self.running_build(&build_id)?;
                let Some(generated) = build.version else {
                    return Err(Rejection::NoCode { build_id });
                };
                if generated != version {
                    return Err(Rejection::WrongVersion {
                        build_id,
                        version,
                        generated,
                    });
                }
                if build.validation != Some(Validation::Passed) {
                    return Err(Rejection::NotValidated { build_id });
                }
                Ok(vec![Event::Deployed { build_id, version }])
            }
            Command::SucceedBuild { build_id, version } => {
                let build = self.running_build(&build_id)?;
                if build.deployed_version != Some(version) {
                    return Err(Rejection::NotDeployed { build_id, version });
                }
                Ok(vec![Event::BuildSucceeded { build_id, version }])
            }
            Command::FailBuild {
                build_id,
                step,
                reason,
            } => {
                self.live()?;
                let build = self.find_build(&build_id)?;
                if build.is_finished() {
                    return Err(Rejection::BuildFinished { build_id });
                }
                valid_step(&step)?;
                text("reason", &reason, MAX_ERROR_BYTES)?;
                Ok(vec![Event::BuildFailed {
                    build_id,
                    step,
                    reason,
                }])
            }
            Command::CancelBuild { build_id } => {
                // A deleted project's build may still be cancelled, so nothing keeps running.
                if !self.exists {
                    return Err(Rejection::ProjectNotFound);
                }
                let build = self.find_build(&build_id)?;
                match build.status {
                    BuildStatus::Requested | BuildStatus::Running => {
                        Ok(vec![Event::BuildCancelled {
                            step: build.current_step.clone(),
                            build_id,
                        }])
                    }
                    // Cancelling twice is a no-op: the first cancel did it.
                    BuildStatus::Cancelled => Ok(Vec::new()),
                    BuildStatus::Succeeded => Err(Rejection::NotCancellable {
                        build_id,
                        outcome: "succeeded",
                    }),
                    BuildStatus::Failed => Err(Rejection::NotCancellable {
                        build_id,
                        outcome: "failed",
                    }),
                }
            }
            Command::RequestRollback {
                to_version,
                rollback_id,
            } => {
                self.live()?;
                non_empty("rollback id", &rollback_id)?;
                if !self.versions.contains(&to_version) {
                    return Err(Rejection::VersionNotFound {
                        version: to_version,
                    });
                }
                if self.live_version == Some(to_version) {
                    return Err(Rejection::VersionAlreadyLive {
                        version: to_version,
                    });
                }
                if let Some(pending) = self.pending_rollback {
                    return Err(Rejection::RollbackInProgress {
                        to_version: pending,
                    });
                }
                // A build would move the live pointer under the rollback's feet.
                if let Some(active) = self.active_build() {
                    return Err(Rejection::BuildInProgress {
                        build_id: active.build_id.clone(),
                    });
                }
                Ok(vec![Event::RollbackRequested {
                    to_version,
                    rollback_id: Some(rollback_id),
                    from_version: self.live_version,
                }])
            }
            Command::CompleteRollback {
                to_version,
                rollback_id,
            } => {
                self.live()?;
                match &self.rollback {
                    Some(p) if p.to_version == to_version => {}
                    _ => return Err(Rejection::NoRollbackRequested { to_version }),
                }
                self.pending_rollback_id(&rollback_id)?;
                Ok(vec![Event::RolledBack {
                    to_version,
                    rollback_id: Some(rollback_id),
                }])
            }
            Command::FailRollback {
                rollback_id,
                reason,
            } => {
                // A deleted project's rollback may still be failed, so the pending state clears.
                if !self.exists {
                    return Err(Rejection::ProjectNotFound);
                }
                let to_version = self.pending_rollback_id(&rollback_id)?;
                text("reason", &reason, MAX_ERROR_BYTES)?;
                Ok(vec![Event::RollbackFailed {
                    rollback_id,
                    to_version,
                    reason,
                }])
            }
            Command::RecordWebhookDelivery { webhook_id, status } => {
                // Deliveries of the deletion webhook arrive after deletion, so only existence
                // is required.
                if !self.exists {
                    return Err(Rejection::ProjectNotFound);
                }
                non_empty("webhook id", &webhook_id)?;
                if !(100..=599).contains(&status) {
                    return Err(Rejection::InvalidStatus { status });
                }
                Ok(vec![Event::WebhookDelivered { webhook_id, status }])
            }
        }
    }

    /// The project exists and is not deleted.
    fn live(&self) -> Result<(), Rejection> {
        if !self.exists {
            Err(Rejection::ProjectNotFound)
        } else if self.deleted {
            Err(Rejection::ProjectDeleted)
        } else {
            Ok(())
        }
    }

    /// The pending rollback has this id; returns its target.
    fn pending_rollback_id(&self, rollback_id: &str) -> Result<u32, Rejection> {
        match &self.rollback {
            Some(p) if p.rollback_id.as_deref() == Some(rollback_id) => Ok(p.to_version),
            _ => Err(Rejection::RollbackNotPending {
                rollback_id: rollback_id.to_owned(),
            }),
        }
    }

    /// A replay names a recorded build, starts from a pipeline step, and the replayed build has
    /// the outputs the replay reuses: the plan unless it starts at `plan`, and code that passed
    /// validation unless it starts at `plan` or `codegen`.
    fn replayable(
        &self,
        replay_of: Option<&str>,
        from_step: Option<&str>,
    ) -> Result<(), Rejection> {
        let position =
            match from_step {
                None => None,
                Some(step) => Some(REPLAY_STEPS.iter().position(|s| *s == step).ok_or_else(
                    || Rejection::InvalidFromStep {
                        step: step.to_owned(),
                    },
                )?),
            };
        let Some(original) = replay_of else {
            return match from_step {
                Some(step) => Err(Rejection::FromStepWithoutReplay {
                    step: step.to_owned(),
                }),
                None => Ok(()),
            };
        };
        let build = self.find_build(original)?;
        // Without `from_step` everything recorded is reused: plan and code.
        let fresh_from = position.unwrap_or(REPLAY_STEPS.len());
        if fresh_from > 0 && build.plan.is_none() {
            return Err(Rejection::NotReplayable {
                build_id: original.to_owned(),
                missing: "plan",
            });
        }
        if fresh_from > 1
            && (build.version.is_none() || build.validation != Some(Validation::Passed))
        {
            return Err(Rejection::NotReplayable {
                build_id: original.to_owned(),
                missing: "code that passed validation",
            });
        }
        Ok(())
    }

    fn find_build(&self, build_id: &str) -> Result<&BuildState, Rejection> {
        self.build(build_id)
            .ok_or_else(|| Rejection::BuildNotFound {
                build_id: build_id.to_owned(),
            })
    }

    /// The build exists, has started and has not finished, in a live project.
    fn running_build(&self, build_id: &str) -> Result<&BuildState, Rejection> {
        self.live()?;
        let build = self.find_build(build_id)?;
        let build_id = build_id.to_owned();
        match build.status {
            BuildStatus::Running => Ok(build),
            BuildStatus::Requested => Err(Rejection::BuildNotStarted { build_id }),
            BuildStatus::Succeeded | BuildStatus::Failed | BuildStatus::Cancelled => {
                Err(Rejection::BuildFinished { build_id })
            }
        }
    }
}

/// The attempt is the step's latest and has no outcome yet.
fn running_attempt(build: &BuildState, step: &str, attempt: u32) -> Result<(), Rejection> {
    // Only the latest attempt can finish: an earlier one was abandoned when the next started.
    let running = build
        .step(step)
        .and_then(|s| s.last())
        .is_some_and(|a| a.attempt == attempt && a.status == AttemptStatus::Running);
    if running {
        Ok(())
    } else {
        Err(Rejection::StepNotRunning {
            step: step.to_owned(),
            attempt,
        })
    }
}
