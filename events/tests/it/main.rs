//! Integration tests for the `events` crate, in one binary so the workspace links it once.

mod build;
mod common;
mod project;
mod props;
mod samples;
mod store;
