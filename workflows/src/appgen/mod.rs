//! The built-in offline generator: prompt → plan → a complete working app, deterministically.
//!
//! Key decision: generated code is mostly *data*. Every app ships the same reviewed runtime
//! (`prompts/runtime/`: router, auth, user-scoped CRUD, the Preact UI) and gets only a small
//! generated layer: `worker.js` and `public/schema.js` describe its entities, and one migration
//! creates its tables. So any valid plan yields a working app, and model-written apps (which
//! follow the same contract) can lean on the same runtime.

mod codegen;
mod plan;
mod planner;

pub use codegen::{generate, runtime_files};
pub use plan::{Entity, Field, FieldKind, Plan, PlanError, ValidPlan, MAX_ENTITIES, MAX_FIELDS};
pub use planner::{plan_from_prompt, PromptError, MAX_PROMPT_CHARS};
