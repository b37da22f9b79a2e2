//! The build workflow as pure logic: what a build is, independent of where it runs.
//!
//! | module | purpose |
//! |---|---|
//! | [`build`] | the build itself: [`build::drive`] runs the steps in order, the repair rounds after a failed validation, records every attempt and ends the build, over two ports ([`build::Engine`]: durable steps; [`build::Host`]: the log and the step bodies) |
//! | [`pipeline`] | the step sequence, retry policies, [`pipeline::StepError`] (retryable or terminal), test fault plans |
//! | [`output`] | one typed output per step ([`output::StepOutput`]), what the Workflows engine caches |
//! | [`deploy`] | the [`deploy::DeployTarget`] port and what crosses it (migrations, pointers, names) |
//!
//! No `worker` dependency: everything here runs natively in tests and compiles for wasm32. The
//! platform Worker (`src/`) plugs it in: `src/pipeline.rs` implements [`build::Engine`] over
//! Cloudflare Workflows' `step.do` and [`build::Host`] over the event log, `src/steps/` holds each
//! step's body, and `src/adapters/` implements the ports (docs/adr/0025-workspace-layout.md).
#![forbid(unsafe_code)]

pub mod build;
pub mod deploy;
pub mod output;
pub mod pipeline;
