//! The Cloudflare REST API (the `cloudflare` deploy target): [`client`] (transport, envelope,
//! retries, typed errors), [`api`] (typed calls), [`multipart`] (form bodies) and [`fetch`] (the
//! Worker's transport). See docs/adr/0022-deploy-target-and-rest-client.md.

pub mod api;
pub mod client;
pub mod fetch;
pub mod multipart;

pub use client::{CfError, Client, Secret};
