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
//! Run a subset with `cargo test -p kiln --test e2e -- <substring>`.

mod auth;
mod builds;
mod client;
mod dispatch;
mod events;
mod harness;
mod projects;
mod versions;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

pub use client::{Api, Reply};
pub use harness::Kiln;

/// A named end-to-end check.
pub struct Scenario {
    /// `module::function`, a sentence in snake case.
    pub name: &'static str,
    /// The check; panics on failure.
    pub run: fn(&Kiln),
}

/// Lists scenario functions with their names.
#[macro_export]
macro_rules! scenarios {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::Scenario { name: concat!(module_path!(), "::", stringify!($f)), run: $f }),*]
    };
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all: Vec<Scenario> = [
        auth::scenarios(),
        projects::scenarios(),
        events::scenarios(),
        versions::scenarios(),
        builds::scenarios(),
        dispatch::scenarios(),
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

    let started = Instant::now();
    let kiln = Kiln::start();
    println!(
        "e2e: wrangler dev ready at {} in {:.1}s; running {} scenarios",
        kiln.base,
        started.elapsed().as_secs_f64(),
        selected.len()
    );

    let (mut passed, mut failed) = (0usize, Vec::new());
    for s in &selected {
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (s.run)(&kiln)));
        let ms = t.elapsed().as_millis();
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {} ... ok ({ms} ms)", s.name);
            }
            Err(_) => {
                failed.push(s.name);
                println!("test {} ... FAILED ({ms} ms)", s.name);
            }
        }
    }
    if !failed.is_empty() {
        kiln.print_log_tail(60);
        println!("\nfailures:");
        for f in &failed {
            println!("    {f}");
        }
    }
    drop(kiln);
    println!("\n{passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
