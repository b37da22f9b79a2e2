//! The build workflow as pure logic: what a build is, independent of where it runs.
//!
//! | module | purpose |
//! |---|---|
//! | [`pipeline`] | the step sequence, retry policies, [`pipeline::StepError`] (retryable or terminal), test fault plans |
//! | [`output`] | one typed output per step ([`output::StepOutput`]), what the Workflows engine caches |
//! | [`deploy`] | the [`deploy::DeployTarget`] port and what crosses it (migrations, pointers, names) |
//!
//! No `worker` dependency: everything here runs natively in tests and compiles for wasm32. The
//! platform Worker (`src/`) drives it: `src/pipeline.rs` runs the sequence as durable Workflow
//! steps, `src/steps/` holds each step's body, and `src/adapters/` implements the ports
//! (docs/adr/0025-workspace-layout.md).
#![forbid(unsafe_code)]

pub mod deploy;
pub mod output;
pub mod pipeline;
