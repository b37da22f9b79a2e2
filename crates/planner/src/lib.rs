//! The offline planner: a prompt → a [`Plan`](plan::Plan), deterministically and without a model.
//!
//! [`plan_from_prompt`] reads the request as noun phrases and plans entities, fields, pages,
//! visibility and a theme; the scaffold (`scaffold::generate`) turns the plan into a complete app.
//! Together they are Kiln's built-in offline generator, the default model provider.
//!
//! | module | purpose |
//! |---|---|
//! | `planner` | entities, fields, references, choices and pages from the prompt's noun phrases |
//! | `lexicon` | field kinds and default fields from words ("due date" → date, "recipes" → title, …) |
//! | `words` | tokens, stop words, case (inflection is `plan::inflect`, shared with the scaffold) |
//! | `intent` | visibility, roles, theme and tagline read from the prompt |
//! | [`fidelity`] | how closely a plan matches a corpus entry's expected entities and fields |
//!
//! Its fidelity is measured on a committed corpus (`tests/fixtures/planner/`, `cargo run -p
//! planner --release --example bench_planner`) and held to goals by `tests/planner_corpus.rs`.

pub mod fidelity;
mod intent;
mod lexicon;
mod planner;
mod words;

pub use planner::{plan_from_prompt, PromptError, MAX_PROMPT_CHARS};
