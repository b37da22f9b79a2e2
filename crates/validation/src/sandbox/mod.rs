//! Run-time budgets for generated apps: a CPU guard inserted into the app's own code, and a
//! memory guard over the allocating builtins.
//!
//! A generated app's worker modules run in a Worker Loader isolate. In production the Workers
//! runtime enforces the CPU limit (`limits: { cpuMs }`) and a 128 MB memory cap, but local
//! `wrangler dev` (workerd) enforces neither and runs every isolate on one thread: one
//! `while (true) {}` in one app stops the platform and every other app. So Kiln adds its own
//! budgets, portable to both:
//!
//! - [`instrument`] rewrites a worker module so it calls
//!   `__kiln_tick()` at the start of every loop body and every function body, imported from
//!   [`GUARD_PATH`];
//! - [`GUARD_MODULE`] is that module's text: `tick()` counts, and once a request has spent its
//!   budget (operations or milliseconds, set by `reset(maxOps, maxMs)` at the start of every
//!   request) every further tick throws an `Error` whose message starts with
//!   [`CPU_BUDGET_ERROR`]; `capAllocations(maxBytes, maxRequestBytes)` wraps the allocating
//!   builtins so a single allocation above `maxBytes` throws [`ALLOCATION_ERROR`]`N bytes exceeds
//!   the app's limit of M bytes`;
//! - the validator refuses what the guards cannot bound (see `validate`): names starting with
//!   `__kiln` (they would shadow or call the guard), regular expressions that repeat a group
//!   containing an unbounded quantifier (`(a+)+`: catastrophic backtracking inside one builtin
//!   call, which no tick interrupts), and `RegExp(x)` with a pattern built at run time.
//!
//! What this cannot do: a single builtin call runs to completion between two ticks (a huge
//! `Array.prototype.sort` on an allowed-size array, a long `join`, a slow regex that the
//! pattern check does not recognise, such as overlapping alternatives `(a|a)*`, or one built by
//! `str.match(text)` from a string); allocations other than the wrapped constructors and methods
//! (object literals, `push` in a loop, string concatenation) are counted by nobody; and several
//! requests in one isolate share one budget, so a request that resets it also extends a
//! concurrent one that awaits in a loop. It is defence in depth: in production the runtime's own
//! `cpuMs` limit and 128 MB cap stay the hard limits.
//!
//! Key decision: text insertion at AST spans, not a code generator. Parsing with oxc gives exact
//! spans of loop and function bodies; inserting a few bytes there keeps every other byte of the
//! model's code, so the instrumented module has the same lines as the original (a stack trace
//! still points at the line the model wrote and the validator reported), and no printer is
//! linked: `oxc_codegen` would add to the platform Worker's wasm for nothing the guard needs.

mod instrument;

pub use instrument::{instrument, InstrumentError};

/// The guard module's path in a loaded app, next to `worker.js`. The app itself cannot write or
/// import it: it is outside the generated-app layout (`check_path`), so the validator reports
/// an import of it as a file the app does not have.
pub const GUARD_PATH: &str = "_kiln_guard.js";

/// The text of [`GUARD_PATH`], which the host adds to every loaded app. Exports `tick()`,
/// `reset(maxOps, maxMs)` and `capAllocations(maxBytes, maxRequestBytes)`; without a `reset` the
/// budget is 10,000,000 ticks and 10,000 ms.
pub const GUARD_MODULE: &str = include_str!("guard.js");

/// How the message of the error thrown by an exhausted budget starts; it goes on with
/// `(ops: more than N loop iterations and function calls in one request)` or
/// `(time: more than N ms in one request)`.
pub const CPU_BUDGET_ERROR: &str = "kiln: the app exceeded its CPU budget";

/// How the message of the error thrown by a refused allocation starts; it goes on with
/// `N bytes exceeds the app's limit of M bytes`.
pub const ALLOCATION_ERROR: &str = "kiln: allocation of ";

/// The name instrumented modules call; app code may not use names starting with `__kiln`.
pub const TICK_NAME: &str = "__kiln_tick";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_module_exports_its_functions_and_messages() {
        for export in [
            "export function tick()",
            "export function reset(",
            "export function capAllocations(",
        ] {
            assert!(GUARD_MODULE.contains(export), "{export}");
        }
        assert!(GUARD_MODULE.contains(CPU_BUDGET_ERROR));
        assert!(GUARD_MODULE.contains(&format!("`{ALLOCATION_ERROR}${{bytes}}")));
    }
}

#[cfg(test)]
mod instrument_tests;
