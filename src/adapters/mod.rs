//! Adapters: the only code that talks to bindings (D1, KV, R2, Queues, Workflows, assets, service
//! bindings, WebCrypto, the JS clock). `tests/adapter_boundary.rs` fails when code outside this
//! folder reaches a binding.
//!
//! Each adapter turns binding errors into [`crate::error::ApiError::Internal`] with enough detail
//! for the log; handlers above them see domain types only.

pub mod api_tokens;
pub mod app_admin;
pub mod assets;
pub mod bindings;
pub mod build_store;
pub mod cloudflare;
pub mod code_store;
pub mod deploy_cloudflare;
pub mod deploy_local;
pub mod event_log;
pub mod idempotency;
pub mod model;
pub mod projection_rebuilds;
pub mod projections;
pub mod queues;
pub mod rate_counter;
pub mod sessions;
pub mod store;
pub mod webcrypto;
pub mod webhook_http;
pub mod webhooks;
pub mod workflow_instances;
