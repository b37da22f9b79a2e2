//! Kiln build pipeline as pure logic. No `worker` dependency: everything here runs natively in tests
//! and compiles for wasm32 to run inside the platform Worker.
#![forbid(unsafe_code)]

pub mod codestore;
pub mod generate;
pub mod model;
pub mod offline;
pub mod pipeline;
pub mod plan;
pub mod prompts;
pub mod sandbox;
#[cfg(feature = "validate")]
pub mod validate;
