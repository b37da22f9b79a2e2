//! End-to-end tests: one real `wrangler dev` session (platform + dispatch Workers, local D1/KV)
//! on a free port with a fresh state directory, driven over HTTP like a user would.
//!
//! This is a custom test harness (`harness = false`) so the server is started once for all
//! scenarios and stopped exactly once, also when a scenario panics. Each scenario uses its own
//! users and projects, so scenarios do not depend on each other's data.
//!
//! Adding a scenario: write `fn a_sentence_saying_what_must_hold(k: &Kiln)` in a module below and
//! list it in that module's `scenarios()` with the `scenarios!` macro.
//!
//! Scenarios that build through a language model take `(k: &Kiln, m: &ModelServer)` and are listed
//! with `model_scenarios!` (see `model.rs`). They run after the others, on a second session whose
//! Worker is configured for the `openai` provider at a local scripted [`ModelServer`]; the model
//! session is started only when such a scenario is selected.
//!
//! Scenarios that exercise the rate limits and quotas take `(k: &Kiln)` and are listed with
//! `limits_scenarios!` (see `limits.rs`). They run on a session of their own whose limits are set
//! low ([`limits::SETTINGS`]), so they are reached in a few requests, while the default session
//! keeps the defaults.
//!
//! Scenarios that build through the `workers-ai` provider take `(k: &Kiln, m: &ModelServer)` and
//! are listed with `workers_ai_scenarios!` (see `workers_ai.rs`). Their session binds the Workers
//! AI binding stand-in (`tests/ai-binding/`) to the platform as `AI`; the stand-in answers from a
//! scripted [`ModelServer`] of its own.
//! Scenarios listed in `cloudflare.rs` run on a session whose deploy target is `cloudflare`: it
//! starts the local Cloudflare API double (its own `wrangler dev`, own process group) and points
//! the platform and the dispatch Worker at it. The build scenarios listed there run under both
//! targets: once on the default session (`builds::…`) and once there (`cloudflare::builds::…`).
//!
//! Run a subset with `cargo test -p kiln --test e2e -- <substring>`.

mod apps;
mod auth;
mod builds;
mod cli;
mod client;
mod cloudflare;
mod cloudflare_double;
mod devserver;
mod dispatch;
mod events;
mod harness;
mod hostile;
mod idempotency;
mod limits;
mod model;
mod model_server;
mod openapi;
mod projects;
mod rollback;
mod stuck;
mod teardown;
mod tokens;
mod ui;
mod versions;
mod webhook_receiver;
mod webhooks;
mod workers_ai;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

pub use client::{Api, Reply};
pub use harness::{Kiln, Target};
pub use model_server::ModelServer;

/// A named end-to-end check.
pub struct Scenario {
    /// `module::function`, a sentence in snake case.
    pub name: &'static str,
    /// The check; panics on failure.
    pub run: Run,
}

/// A scenario's check, by the session it needs.
#[derive(Clone, Copy)]
pub enum Run {
    /// Runs on the default session (offline generator).
    Plain(fn(&Kiln)),
    /// Runs on the limits session (low rate limits and quotas).
    Limits(fn(&Kiln)),
    /// Runs on the model session, with the scripted model server its Worker calls.
    Model(fn(&Kiln, &ModelServer)),
    /// Runs on the webhooks session (private targets allowed, retry delays shrunk).
    Webhooks(fn(&Kiln)),
    /// Runs on the watchdog session (every unfinished build counts as stalled; see `stuck.rs`).
    Stuck(fn(&Kiln)),
    /// Runs on the Workers AI session (provider `workers-ai`, the binding stand-in bound as
    /// `AI`, answering from the scripted model server).
    WorkersAi(fn(&Kiln, &ModelServer)),
    /// Runs on the cloudflare session (`DEPLOY_TARGET=cloudflare` against the Cloudflare API
    /// double, which the session starts and stops).
    Cloudflare(fn(&Kiln)),
}

/// Lists scenario functions `fn(&Kiln)` with their names.
#[macro_export]
macro_rules! scenarios {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::Scenario {
            name: concat!(module_path!(), "::", stringify!($f)),
            run: $crate::Run::Plain($f),
        }),*]
    };
}

/// Lists limits scenario functions `fn(&Kiln)` with their names.
#[macro_export]
macro_rules! limits_scenarios {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::Scenario {
            name: concat!(module_path!(), "::", stringify!($f)),
            run: $crate::Run::Limits($f),
        }),*]
    };
}

/// Lists webhook-session scenario functions `fn(&Kiln)` with their names.
#[macro_export]
macro_rules! webhook_scenarios {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::Scenario {
            name: concat!(module_path!(), "::", stringify!($f)),
            run: $crate::Run::Webhooks($f),
        }),*]
    };
}

/// Lists model scenario functions `fn(&Kiln, &ModelServer)` with their names.
#[macro_export]
macro_rules! model_scenarios {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::Scenario {
            name: concat!(module_path!(), "::", stringify!($f)),
            run: $crate::Run::Model($f),
        }),*]
    };
}

/// Lists Workers AI session scenario functions `fn(&Kiln, &ModelServer)` with their names.
#[macro_export]
macro_rules! workers_ai_scenarios {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::Scenario {
            name: concat!(module_path!(), "::", stringify!($f)),
            run: $crate::Run::WorkersAi($f),
        }),*]
    };
}

/// Runs `scenarios` with `run`, printing one line each; returns the names of those that failed.
fn run_all(scenarios: &[&Scenario], run: impl Fn(&Scenario)) -> Vec<&'static str> {
    let mut failed = Vec::new();
    for s in scenarios {
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| run(s)));
        let ms = t.elapsed().as_millis();
        match outcome {
            Ok(()) => println!("test {} ... ok ({ms} ms)", s.name),
            Err(_) => {
                failed.push(s.name);
                println!("test {} ... FAILED ({ms} ms)", s.name);
            }
        }
    }
    failed
}

/// Starts a session with `start` unless `scenarios` is empty, runs them on it with `run`, and
/// prints the session's log tail when some fail; returns the failures and the running session.
fn session(
    scenarios: &[&Scenario],
    start: impl FnOnce() -> Kiln,
    label: impl Fn(&Kiln) -> String,
    run: impl Fn(&Scenario, &Kiln),
) -> (Vec<&'static str>, Option<Kiln>) {
    if scenarios.is_empty() {
        return (Vec::new(), None);
    }
    let started = Instant::now();
    let k = start();
    println!(
        "e2e: {} ready at {} in {:.1}s; running {} scenarios",
        label(&k),
        k.base,
        started.elapsed().as_secs_f64(),
        scenarios.len()
    );
    let failed = run_all(scenarios, |s| run(s, &k));
    if !failed.is_empty() {
        k.print_log_tail(60);
    }
    (failed, Some(k))
}

/// The default session's settings. Many scenarios (the browser walk-through, the CLI, the auth
/// scenarios) sign in from the loopback address, and on a fast machine they all fall within one
/// minute, past the production default of 30 sign-ins per address: the per-address limit is lifted
/// here and tested on the limits session instead.
const PLAIN_SESSION: &[(&str, &str)] = &[("AUTH_IP_LIMIT", "1000000")];

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all: Vec<Scenario> = [
        auth::scenarios(),
        projects::scenarios(),
        tokens::scenarios(),
        idempotency::scenarios(),
        openapi::scenarios(),
        events::scenarios(),
        versions::scenarios(),
        builds::scenarios(),
        cli::scenarios(),
        teardown::scenarios(),
        dispatch::scenarios(),
        limits::scenarios(),
        webhooks::scenarios(),
        model::scenarios(),
        workers_ai::scenarios(),
        rollback::scenarios(),
        stuck::scenarios(),
        hostile::scenarios(),
        ui::scenarios(),
        apps::scenarios(),
        cloudflare::scenarios(),
        devserver::scenarios(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let selected: Vec<&Scenario> = all
        .iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        println!("0 passed, 0 failed");
        return;
    }

    let on = |pick: fn(&Run) -> bool| -> Vec<&Scenario> {
        selected.iter().copied().filter(|s| pick(&s.run)).collect()
    };
    let plain = on(|r| matches!(r, Run::Plain(_)));
    let limited = on(|r| matches!(r, Run::Limits(_)));
    let model = on(|r| matches!(r, Run::Model(_)));
    let hooked = on(|r| matches!(r, Run::Webhooks(_)));
    let stalled = on(|r| matches!(r, Run::Stuck(_)));
    let workers_ai = on(|r| matches!(r, Run::WorkersAi(_)));
    let on_cloudflare = on(|r| matches!(r, Run::Cloudflare(_)));

    let mut failed = Vec::new();
    // The default session is kept running until the end: the model session runs beside it.
    let (f, kiln) = session(
        &plain,
        || Kiln::start_with(PLAIN_SESSION),
        |_| "wrangler dev".into(),
        |s, k| match s.run {
            Run::Plain(run) => run(k),
            _ => unreachable!("only plain scenarios run on the default session"),
        },
    );
    failed.extend(f);
    let (f, _) = session(
        &limited,
        || Kiln::start_with(limits::SETTINGS),
        |_| "limits session".into(),
        |s, k| match s.run {
            Run::Limits(run) => run(k),
            _ => unreachable!("only limits scenarios run on the limits session"),
        },
    );
    failed.extend(f);
    let (f, _) = session(
        &hooked,
        || Kiln::start_with(webhooks::SETTINGS),
        |_| "webhooks session".into(),
        |s, k| match s.run {
            Run::Webhooks(run) => run(k),
            _ => unreachable!("only webhook scenarios run on the webhooks session"),
        },
    );
    failed.extend(f);
    let (f, _) = session(
        &stalled,
        || Kiln::start_with(stuck::SETTINGS),
        |_| "watchdog session".into(),
        |s, k| match s.run {
            Run::Stuck(run) => run(k),
            _ => unreachable!("only watchdog scenarios run on the watchdog session"),
        },
    );
    failed.extend(f);
    let (f, _) = session(
        &on_cloudflare,
        // The watchdog session's settings: its scenarios run here too.
        || Kiln::start_on(Target::Cloudflare, stuck::SETTINGS),
        |k| {
            format!(
                "cloudflare session (Cloudflare API double {})",
                k.double().url
            )
        },
        |s, k| match s.run {
            Run::Cloudflare(run) => run(k),
            _ => unreachable!("only cloudflare scenarios run on the cloudflare session"),
        },
    );
    failed.extend(f);

    if !model.is_empty() {
        let server = ModelServer::start();
        let base_url = server.base_url();
        let (f, k) = session(
            &model,
            || {
                Kiln::start_with(&[
                    ("KILN_MODEL_PROVIDER", "openai"),
                    ("KILN_MODEL_BASE_URL", &base_url),
                    ("KILN_MODEL_API_KEY", model_server::DEFAULT_KEY),
                    ("KILN_MODEL_NAME", model_server::MODEL_ID),
                    // Short enough for a stalled-provider scenario; every scripted answer takes
                    // well under a second.
                    ("KILN_MODEL_TIMEOUT_SECONDS", "5"),
                ])
            },
            |_| format!("model session (model server {base_url})"),
            |s, k| match s.run {
                Run::Model(run) => run(k, &server),
                _ => unreachable!("only model scenarios run on the model session"),
            },
        );
        if !f.is_empty() {
            println!("---- model server requests (method path kind status) ----");
            print!("{}", server.summary());
        }
        failed.extend(f);
        drop(k);
        drop(server);
    }
    if !workers_ai.is_empty() {
        let server = ModelServer::start();
        let (f, k) = session(
            &workers_ai,
            || {
                Kiln::start_with_ai_binding(
                    &[("KILN_MODEL_PROVIDER", "workers-ai")],
                    &server.base_url(),
                    model_server::DEFAULT_KEY,
                )
            },
            |_| {
                format!(
                    "Workers AI session (binding stand-in over model server {})",
                    server.base_url()
                )
            },
            |s, k| match s.run {
                Run::WorkersAi(run) => run(k, &server),
                _ => unreachable!("only Workers AI scenarios run on the Workers AI session"),
            },
        );
        if !f.is_empty() {
            println!("---- model server requests (method path kind status) ----");
            print!("{}", server.summary());
        }
        failed.extend(f);
        drop(k);
        drop(server);
    }
    drop(kiln);

    let passed = selected.len() - failed.len();
    if !failed.is_empty() {
        println!("\nfailures:");
        for f in &failed {
            println!("    {f}");
        }
    }
    println!("\n{passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
