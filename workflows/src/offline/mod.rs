//! The built-in offline generator: prompt → [`Plan`](crate::plan::Plan) → a complete, working
//! full-stack app, deterministically and without a model.
//!
//! - [`plan_from_prompt`] reads the request as noun phrases and plans entities, fields, pages.
//! - [`generate`] turns any [`ValidPlan`](crate::plan::ValidPlan) into the app's own files.
//! - [`runtime_files`] are the files every app ships unchanged (runtime module, vendored Preact
//!   and htm).
//!
//! Together they satisfy the app runtime contract: `worker.js` (`export default { fetch }`),
//! `migrations/0001_init.sql`, static assets under `public/`, bindings `DB`, `ASSETS`,
//! `JWT_SECRET` (and `STORAGE` for plans with file storage). `prompts/runtime/README.md`
//! documents the layout and the API.
//!
//! Key decision: one shared, reviewed runtime carries everything security-sensitive (passwords,
//! tokens, validation, SQL), and generation only writes thin, explicit code on top of it, so any
//! valid plan yields an app that works and is safe by construction, and the same runtime serves
//! model-written apps.

mod codegen;
mod intent;
mod lexicon;
mod planner;
mod runtime;
mod words;

pub use codegen::{generate, upgrade_migration, upgrade_migration_over};
pub use planner::{plan_from_prompt, PromptError, MAX_PROMPT_CHARS};
pub use runtime::runtime_files;
