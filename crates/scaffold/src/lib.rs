//! The app scaffold: any [`ValidPlan`](plan::ValidPlan) → a complete, working full-stack app, and
//! the runtime every app ships.
//!
//! - [`generate`] writes the app's own files: `worker.js` (one `crud()` line per entity on the
//!   shared runtime), `migrations/0001_init.sql`, and the front end under `public/`.
//! - [`upgrade_migration`] / [`upgrade_migration_over`] write the next migration when a plan grows.
//! - [`runtime_files`] are the files every app ships unchanged (runtime module, vendored Preact
//!   and htm), compiled in from `prompts/runtime/`.
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
mod runtime;

pub use codegen::{generate, upgrade_migration, upgrade_migration_over};
pub use runtime::runtime_files;
