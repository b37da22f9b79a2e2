//! The event catalog: every fact Kiln records about a project, as one typed enum.
//!
//! Key decisions:
//! - Events carry plain field types (strings, integers), not the validated newtypes used at the
//!   edge (`Slug`, `Email`, ...). History must stay decodable forever, even after a validation rule
//!   tightens; rules live in [`crate::decide`], and a recorded fact is accepted as recorded.
//! - Every event produced by the build pipeline names its `build_id`. The envelope's `correlation`
//!   carries the build id too, but only for tracing: a fold or a webhook consumer can understand an
//!   event from its payload alone, and [`crate::ProjectState::handle`] returns complete facts.
//! - On the wire an event is split in two: its type name and schema version live in the envelope,
//!   and `data` is the bare payload map (see [`Event::to_data`]). The serde derive below is the
//!   externally tagged form and is used only as a private bridge to and from that payload.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person building the app.
    User,
    /// The model (or the offline generator).
    Assistant,
    /// Kiln itself (status notes, errors shown in the chat).
    System,
}

/// A fact that happened to a project. Variants are named in the past tense.
///
/// Field types: ids are strings, code versions are `u32` (1, 2, ...), step attempts are `u32`
/// starting at 1, sizes are `u64` bytes, durations are `u64` milliseconds.
///
/// The serde derive gives the externally tagged form (`{"StepStarted": {...}}`), which is not a
/// wire format: store and send events inside an [`crate::Envelope`] through [`crate::codec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A project came into existence.
    ProjectCreated {
        /// Display name.
        name: String,
        /// Subdomain label the app is served under.
        slug: String,
        /// User id of the owner.
        owner: String,
    },
    /// The project got a new display name.
    ProjectRenamed {
        /// The new display name.
        name: String,
    },
    /// A chat message was added to the project conversation.
    MessagePosted {
        /// Caller-chosen id; posting the same id twice is rejected, which makes retries safe.
        message_id: String,
        /// Who wrote it.
        role: Role,
        /// The message text.
        content: String,
    },
    /// A build was asked for. Schema v2 added `idempotency_key`; v3 added `replay_of` and
    /// `from_step` (earlier versions had neither).
    BuildRequested {
        /// The build id; also the Workflow instance id.
        build_id: String,
        /// What to build or change.
        prompt: String,
        /// Client-supplied key: a repeated request with the same key does not start a second build.
        idempotency_key: Option<String>,
        /// The build this one replays: its recorded outputs (plan, code) are reused instead of
        /// generated again.
        replay_of: Option<String>,
        /// With `replay_of`: the first step that runs fresh; the steps before it reuse the
        /// replayed build's outputs. `None` = reuse every recorded output (plan and code).
        from_step: Option<String>,
    },
    /// The build workflow picked the build up.
    BuildStarted {
        /// The build.
        build_id: String,
    },
    /// One attempt of a named pipeline step began.
    StepStarted {
        /// The build.
        build_id: String,
        /// Step name, e.g. `plan`, `codegen`, `create-db`.
        step: String,
        /// Attempt number, starting at 1.
        attempt: u32,
    },
    /// One attempt of a step finished successfully.
    StepSucceeded {
        /// The build.
        build_id: String,
        /// Step name.
        step: String,
        /// Attempt number.
        attempt: u32,
        /// Wall time of this attempt.
        duration_ms: u64,
        /// Small reference to the step output (a hash or key), never the output itself.
        output_ref: Option<String>,
    },
    /// One attempt of a step failed.
    StepFailed {
        /// The build.
        build_id: String,
        /// Step name.
        step: String,
        /// Attempt number.
        attempt: u32,
        /// What went wrong, for people.
        error: String,
        /// Whether the workflow may try again (network, 429, 5xx) or must give up.
        retryable: bool,
    },
    /// The planner produced a plan.
    PlanProposed {
        /// The build.
        build_id: String,
        /// sha256 of the plan JSON, which is stored by content address.
        plan_hash: String,
        /// One-paragraph summary shown to the user.
        summary: String,
    },
    /// The user approved the proposed plan.
    PlanApproved {
        /// The build.
        build_id: String,
    },
    /// Code for a new (pending) version was generated and stored.
    CodeGenerated {
        /// The build.
        build_id: String,
        /// The new code version number.
        version: u32,
        /// Number of files in the version.
        files: u32,
        /// Total size of the files.
        bytes: u64,
        /// sha256 of the prompt template used, when a model generated the code.
        prompt_hash: Option<String>,
    },
    /// Static validation of the generated code found problems.
    ValidationFailed {
        /// The build.
        build_id: String,
        /// One line per problem.
        diagnostics: Vec<String>,
    },
    /// Static validation of the generated code passed.
    ValidationPassed {
        /// The build.
        build_id: String,
    },
    /// A language model was called for a build step (one event per call, also for failed calls).
    /// Holds no prompt or answer text: only what accounting and tracing need.
    ModelCalled {
        /// The build.
        build_id: String,
        /// The step that made the call (`plan`, `codegen`, `repair-1`, …).
        step: String,
        /// Provider (`workers-ai`, `openai`).
        provider: String,
        /// Model name.
        model: String,
        /// Prompt template (`plan`, `codegen`, `repair`, `continue`).
        template: String,
        /// First 16 hex digits of the template's sha256.
        template_hash: String,
        /// Input tokens.
        input_tokens: u64,
        /// Output tokens.
        output_tokens: u64,
        /// True when the provider reported no usage and the counts are estimates.
        estimated: bool,
        /// Estimated cost at the configured prices, in nano-dollars (10⁻⁹ USD).
        cost_nano_usd: u64,
        /// The provider's finish reason (`stop`, `length`); `None` if the call failed.
        finish_reason: Option<String>,
        /// Failed attempts (429, 5xx, timeouts) retried inside the step before this outcome.
        retries: u32,
        /// The final error, when the call failed.
        error: Option<String>,
    },
    /// A repair attempt was made after a failed validation.
    RepairAttempted {
        /// The build.
        build_id: String,
        /// Repair attempt number, starting at 1.
        attempt: u32,
    },
    /// The app database exists (created now, or reused).
    DatabaseProvisioned {
        /// The build.
        build_id: String,
        /// Provider id of the database.
        database_id: String,
    },
    /// Migrations were applied to the app database.
    MigrationApplied {
        /// The build.
        build_id: String,
        /// File names of the migrations applied, in order.
        names: Vec<String>,
    },
    /// Static assets were uploaded.
    AssetsUploaded {
        /// The build.
        build_id: String,
        /// Number of files uploaded.
        count: u32,
        /// Total bytes uploaded.
        bytes: u64,
    },
    /// A code version became loadable.
    Deployed {
        /// The build.
        build_id: String,
        /// The deployed version.
        version: u32,
    },
    /// The build finished and its version is live.
    BuildSucceeded {
        /// The build.
        build_id: String,
        /// The version that went live.
        version: u32,
    },
    /// The build gave up; the live version is untouched.
    BuildFailed {
        /// The build.
        build_id: String,
        /// The step that failed.
        step: String,
        /// Why, for people.
        reason: String,
    },
    /// The owner cancelled the build before it ended; the live version is untouched, and any
    /// step still running is refused when it tries to record its outcome.
    BuildCancelled {
        /// The build.
        build_id: String,
        /// The step the build was in when it was cancelled (`None`: it had not started a step).
        step: Option<String>,
    },
    /// The user asked to make an earlier version live again. Schema v2 added `rollback_id` and
    /// `from_version`.
    RollbackRequested {
        /// Target version.
        to_version: u32,
        /// The rollback id; also the Workflow instance id (v1 rollbacks had none).
        rollback_id: Option<String>,
        /// The version that was live when the rollback was asked for.
        from_version: Option<u32>,
    },
    /// An earlier version is live again. Schema v2 added `rollback_id`.
    RolledBack {
        /// The version that is now live.
        to_version: u32,
        /// The rollback that did it.
        rollback_id: Option<String>,
    },
    /// A requested rollback could not be done; the live version is unchanged.
    RollbackFailed {
        /// The rollback.
        rollback_id: String,
        /// Its target.
        to_version: u32,
        /// Why, for people.
        reason: String,
    },
    /// A webhook delivery attempt got an HTTP answer.
    WebhookDelivered {
        /// The webhook.
        webhook_id: String,
        /// HTTP status returned by the receiver.
        status: u16,
    },
    /// The project was deleted; teardown of its resources follows.
    ProjectDeleted {},
    /// Every resource of a deleted project is gone.
    TeardownCompleted {},
    /// The owner saved a code version directly (an upload or a manual edit), outside any build.
    VersionSaved {
        /// The new version number.
        version: u32,
        /// The version it was derived from, if any.
        parent: Option<u32>,
        /// Number of files.
        files: u32,
        /// Total size in bytes.
        bytes: u64,
    },
}

/// Every event type this version of Kiln understands, with its current schema version.
///
/// A type missing here decodes as [`crate::Decoded::Unknown`]; a stored version above the one
/// listed here does too (it was written by a newer Kiln).
pub const CATALOG: &[(&str, u16)] = &[
    ("ProjectCreated", 1),
    ("ProjectRenamed", 1),
    ("MessagePosted", 1),
    ("BuildRequested", 3),
    ("BuildStarted", 1),
    ("StepStarted", 1),
    ("StepSucceeded", 1),
    ("StepFailed", 1),
    ("PlanProposed", 1),
    ("PlanApproved", 1),
    ("CodeGenerated", 1),
    ("ValidationFailed", 1),
    ("ValidationPassed", 1),
    ("ModelCalled", 1),
    ("RepairAttempted", 1),
    ("DatabaseProvisioned", 1),
    ("MigrationApplied", 1),
    ("AssetsUploaded", 1),
    ("Deployed", 1),
    ("BuildSucceeded", 1),
    ("BuildFailed", 1),
    ("BuildCancelled", 1),
    ("RollbackRequested", 2),
    ("RolledBack", 2),
    ("RollbackFailed", 1),
    ("WebhookDelivered", 1),
    ("ProjectDeleted", 1),
    ("TeardownCompleted", 1),
    ("VersionSaved", 1),
];

impl Event {
    /// The stable type name stored in the envelope (the variant name).
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::ProjectCreated { .. } => "ProjectCreated",
            Event::ProjectRenamed { .. } => "ProjectRenamed",
            Event::MessagePosted { .. } => "MessagePosted",
            Event::BuildRequested { .. } => "BuildRequested",
            Event::BuildStarted { .. } => "BuildStarted",
            Event::StepStarted { .. } => "StepStarted",
            Event::StepSucceeded { .. } => "StepSucceeded",
            Event::StepFailed { .. } => "StepFailed",
            Event::PlanProposed { .. } => "PlanProposed",
            Event::PlanApproved { .. } => "PlanApproved",
            Event::CodeGenerated { .. } => "CodeGenerated",
            Event::ValidationFailed { .. } => "ValidationFailed",
            Event::ValidationPassed { .. } => "ValidationPassed",
            Event::ModelCalled { .. } => "ModelCalled",
            Event::RepairAttempted { .. } => "RepairAttempted",
            Event::DatabaseProvisioned { .. } => "DatabaseProvisioned",
            Event::MigrationApplied { .. } => "MigrationApplied",
            Event::AssetsUploaded { .. } => "AssetsUploaded",
            Event::Deployed { .. } => "Deployed",
            Event::BuildSucceeded { .. } => "BuildSucceeded",
            Event::BuildFailed { .. } => "BuildFailed",
            Event::BuildCancelled { .. } => "BuildCancelled",
            Event::RollbackRequested { .. } => "RollbackRequested",
            Event::RolledBack { .. } => "RolledBack",
            Event::RollbackFailed { .. } => "RollbackFailed",
            Event::WebhookDelivered { .. } => "WebhookDelivered",
            Event::ProjectDeleted {} => "ProjectDeleted",
            Event::TeardownCompleted {} => "TeardownCompleted",
            Event::VersionSaved { .. } => "VersionSaved",
        }
    }

    /// The schema version of the payload this value has (always the current one: older stored
    /// versions are upcast while decoding).
    pub fn event_version(&self) -> u16 {
        match self {
            Event::BuildRequested { .. } => 3,
            Event::RollbackRequested { .. } | Event::RolledBack { .. } => 2,
            _ => 1,
        }
    }

    /// The current schema version of `event_type`, or `None` if this Kiln does not know the type.
    pub fn current_version(event_type: &str) -> Option<u16> {
        CATALOG
            .iter()
            .find(|(name, _)| *name == event_type)
            .map(|(_, version)| *version)
    }

    /// The build this event belongs to, for pipeline events.
    pub fn build_id(&self) -> Option<&str> {
        match self {
            Event::BuildRequested { build_id, .. }
            | Event::BuildStarted { build_id }
            | Event::StepStarted { build_id, .. }
            | Event::StepSucceeded { build_id, .. }
            | Event::StepFailed { build_id, .. }
            | Event::PlanProposed { build_id, .. }
            | Event::PlanApproved { build_id }
            | Event::CodeGenerated { build_id, .. }
            | Event::ValidationFailed { build_id, .. }
            | Event::ValidationPassed { build_id }
            | Event::ModelCalled { build_id, .. }
            | Event::RepairAttempted { build_id, .. }
            | Event::DatabaseProvisioned { build_id, .. }
            | Event::MigrationApplied { build_id, .. }
            | Event::AssetsUploaded { build_id, .. }
            | Event::Deployed { build_id, .. }
            | Event::BuildSucceeded { build_id, .. }
            | Event::BuildFailed { build_id, .. }
            | Event::BuildCancelled { build_id, .. } => Some(build_id),
            Event::ProjectCreated { .. }
            | Event::ProjectRenamed { .. }
            | Event::MessagePosted { .. }
            | Event::RollbackRequested { .. }
            | Event::RolledBack { .. }
            | Event::RollbackFailed { .. }
            | Event::WebhookDelivered { .. }
            | Event::ProjectDeleted {}
            | Event::TeardownCompleted {}
            | Event::VersionSaved { .. } => None,
        }
    }

    /// The payload as a JSON object with named fields (what the envelope's `data` holds).
    /// `None` fields appear as `null` here; the canonical encoding drops them.
    pub fn to_data(&self) -> Value {
        // The externally tagged form is `{"<Type>": {payload}}`; unwrap the single entry.
        // Serialising plain strings, integers and options into a `Value` cannot fail.
        match serde_json::to_value(self) {
            Ok(Value::Object(mut tagged)) => tagged
                .remove(self.event_type())
                .unwrap_or_else(|| Value::Object(Map::new())),
            _ => Value::Object(Map::new()),
        }
    }

    /// Builds the typed event from a type name and a payload already at the current schema
    /// version. Missing `Option` fields become `None`; unknown fields are ignored here (the
    /// codec detects them separately, because ignoring them silently would lose data).
    pub fn from_data(event_type: &str, data: Value) -> Result<Event, serde_json::Error> {
        let mut tagged = Map::with_capacity(1);
        tagged.insert(event_type.to_owned(), data);
        serde_json::from_value(Value::Object(tagged))
    }
}
