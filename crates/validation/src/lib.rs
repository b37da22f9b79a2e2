//! Static validation of a generated app's files, before anything is deployed.
//!
//! [`validate_app`] takes the files of an app (layout: `prompts/runtime/README.md`) and returns a
//! [`Report`] of [`Diagnostic`]s, each `path:line: message` with a lowercase message that names
//! the offending value and the fix, short enough to send back to the model in a repair prompt:
//!
//! ```text
//! worker.js:12: import "lodash" is not available; import only ./_kiln/runtime.js or the app's own modules
//! ```
//!
//! # Checks
//!
//! | check | kind | what |
//! |---|---|---|
//! | limits | [`DiagnosticKind::LimitExceeded`] | file count, bytes per file, total bytes ([`Limits`]); over the count or total, nothing else is checked |
//! | paths | [`DiagnosticKind::UnsafePath`], [`DiagnosticKind::DuplicateFile`] | the layout rules of [`check_path`] (also: migrations are `migrations/NNNN_name.sql`); the runtime's own paths are accepted |
//! | syntax | [`DiagnosticKind::SyntaxError`] | every `.js`/`.mjs` module parses (oxc; the first error per file, with its line); JSX is refused with a hint to use htm (files are served as written, there is no build step); modules nesting deeper than the stack allows are refused before parsing (see `depth`) |
//! | contract | [`DiagnosticKind::Contract`] | `worker.js` exists and its `export default` is an object (or class) with `fetch`, read from the AST; every plan table is created by a migration |
//! | imports | [`DiagnosticKind::BadImport`] | worker modules import only the app's worker modules and `cloudflare:workers`; the front end only files under `public/` (see `imports`) |
//! | imported names | [`DiagnosticKind::BadImport`] | every name a static `import { a }`, `import d` or `export { a } from` takes from a module of the app or a shipped runtime file is exported by it (`export *` followed up to four levels); the message names the closest exports (see `exports`) |
//! | routes | [`DiagnosticKind::UnknownRoute`] | every `/api/…` path the front end names is served by some worker route (see `routes`) |
//! | migrations | [`DiagnosticKind::SyntaxError`], [`DiagnosticKind::ForbiddenSql`] | SQLite statements, and only the allowed ones (see `sql`) |
//! | guard | [`DiagnosticKind::Unguarded`] | in the app's worker modules (not `public/`, not the runtime): no names starting with `__kiln` (they would shadow or call the CPU guard of [`crate::sandbox`]), no regular expression that repeats a group containing an unbounded quantifier (`(a+)+`), no `RegExp(x)` with a pattern built at run time (see `guard`) |
//! | internals | [`DiagnosticKind::PlatformInternal`] | model-written modules never name the app secret `JWT_SECRET` (identifiers, properties, strings; not comments) nor import the host's `_kiln_*.js` wrapper modules; model-written worker modules never run SQL on the `DB` binding themselves (`env.DB.prepare/batch/exec/dump`: data goes through the runtime's helpers, which hold every access rule); the runtime's paths are exempt (see `internals`) |
//!
//! Diagnostics come sorted by path, then line, then message (app-wide ones first), without
//! duplicates, so the same files always give the same report. A module with a syntax error is not
//! checked further, and when a worker module does not parse, routes are not checked at all (its
//! routes are unknown); the model fixes syntax first and the next round sees the rest.
//!
//! The shipped runtime files ([`runtime_files`]) are skipped when byte-identical (they are
//! reviewed and tested; skipping them halves the work for a small app) and parsed like any module
//! otherwise. Their paths always count as present for imports, because the host adds them to
//! every app, and their export lists (what `import { json } from "./_kiln/runtime.js"` may take)
//! are parsed once per process and kept (see `exports`).
//!
//! # Limits of the checks
//!
//! - Routes are read from literals only: a worker that strips `/api` and matches the rest, or
//!   splits the path by hand, shows no routes, and then calls are not checked at all (rather than
//!   all reported). A front end that builds paths from a constant (`${api}/${id}`) is checked
//!   where the constant is (`api: "/api/tasks"`).
//! - Imports and API paths inside `index.html` (inline scripts, `<script src>`) are not read.
//! - Imported names are checked for static imports only (not what `import()` returns), and not
//!   through an `export *` chain deeper than four modules, nor into a module that does not parse
//!   (its syntax error is reported instead).
//! - SQL is tokenized and classified, not fully parsed (see `sql`): D1 still refuses what slips
//!   through, when the migration runs.
//!
//! # Why oxc
//!
//! The JavaScript checks need a real parser: substring checks cannot tell an `export default` in
//! a comment from a real one, or a string that looks like an import from an import. oxc is a
//! complete, fast, well-maintained ECMAScript (ESNext) parser written in Rust that compiles to wasm32 with no
//! JavaScript engine (a Worker cannot run a second one, and calling back into its own through
//! wasm-bindgen would tie this crate to the Worker). Only the parser, AST and visitor crates are
//! used, with regular-expression parsing off. Version 0.116.0 is the newest whose rust-version
//! (1.91) fits the workspace's; later releases need a newer Rust.
//!
//! Size, measured on a throwaway wasm32 cdylib (`opt-level = "s"`, LTO, one codegen unit, the
//! platform Worker's profile) that calls [`validate_app`] on a static app, against the same
//! cdylib that only reads the app: +764 KB raw, +271 KB gzipped (`gzip -9`), of which oxc's parser
//! alone is about 535 KB raw, 190 KB gzipped. `sqlparser` 0.64.0 for the migrations would have
//! added another 1.9 MB raw (580 KB gzipped), so SQL is checked by the small tokenizer in `sql`.
//!
//! Speed (`cargo run --release -p validation --example bench_validate`): the
//! offline generator's task manager validates in about 0.6 ms (25 KB checked: worker, front end,
//! migration; the runtime files are identical and skipped), 2.2 ms when every module is parsed
//! (72 KB), 30–45 MB/s. The first call in a process (a Worker isolate) also parses the shipped
//! runtime files for their export lists, about 2 ms once (BENCHMARKS.md).
//!
//! Everything here is pure (no I/O, no clock) and runs unchanged natively and on wasm32. It is
//! its own crate, so crates that never validate (`dispatch`) do not compile oxc.
//!
//! [`sandbox`] holds the run-time half: the CPU and memory guard instrumented into an app's
//! worker modules, for what no static check can bound.
//!
//! [`check_path`]: generation::files::check_path
//! [`runtime_files`]: scaffold::runtime_files

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use generation::files::{check_path, MAX_FILES, MAX_FILE_BYTES};
use generation::{Diagnostic, DiagnosticKind};
use scaffold::runtime_files;

pub mod compat;
pub(crate) mod depth;
mod exports;
mod guard;
mod imports;
mod internals;
mod js;
mod routes;
pub mod sandbox;
mod sql;

#[cfg(test)]
mod tests;

use imports::Side;
use js::DefaultExport;

/// Default most bytes of all files together.
pub const MAX_TOTAL_BYTES: usize = 5 * 1024 * 1024;

/// Size limits of one app. The defaults match what the answer parser accepts per file and file
/// count ([`MAX_FILES`], [`MAX_FILE_BYTES`]) and allow 5 MiB in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Most files.
    pub max_files: usize,
    /// Most bytes of one file.
    pub max_file_bytes: usize,
    /// Most bytes of all files together.
    pub max_total_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_files: MAX_FILES,
            max_file_bytes: MAX_FILE_BYTES,
            max_total_bytes: MAX_TOTAL_BYTES,
        }
    }
}

/// The outcome of [`validate_app`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Every problem found, sorted by path, then line.
    pub diagnostics: Vec<Diagnostic>,
    /// Files given.
    pub files: usize,
    /// Bytes given, all files together.
    pub bytes: usize,
    /// JavaScript modules parsed (identical runtime files are not).
    pub modules_parsed: usize,
    /// Migrations checked.
    pub migrations_checked: usize,
}

impl Report {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The files that need a change, sorted, each once (app-wide problems name no file).
    pub fn affected_paths(&self) -> Vec<String> {
        let paths: BTreeSet<&str> = self
            .diagnostics
            .iter()
            .filter_map(|d| d.path.as_deref())
            .collect();
        paths.into_iter().map(String::from).collect()
    }
}

/// One diagnostic per line, as `path:line: message`: the text for a repair prompt.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.diagnostics {
            writeln!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// Checks an app's files: `(path, content)` pairs, such as `scaffold::generate`'s output
/// plus [`runtime_files`], or the files of a model's answer.
/// `plan_tables` are the tables of the app's plan: each must be created by a migration, and none
/// may be dropped.
///
/// ```
/// use validation::{validate_app, Limits};
///
/// let files = [
///     ("worker.js", "import { json } from \"./lib.js\";\nexport default { fetch() { return json(); } };\n"),
///     ("migrations/0001_init.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY);\nPRAGMA foreign_keys = ON;\n"),
/// ];
/// let report = validate_app(&files, &["notes"], &Limits::default());
/// let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
/// assert_eq!(lines.len(), 2);
/// assert!(lines[0].starts_with("migrations/0001_init.sql:2: PRAGMA is not allowed"));
/// assert!(lines[1].starts_with("worker.js:1: import \"./lib.js\" does not match a file of the app"));
/// ```
pub fn validate_app<P: AsRef<str>, C: AsRef<str>>(
    files: &[(P, C)],
    plan_tables: &[&str],
    limits: &Limits,
) -> Report {
    let mut out = Out::default();
    let mut app: BTreeMap<&str, &str> = BTreeMap::new();
    for (path, content) in files {
        let (path, content) = (path.as_ref(), content.as_ref());
        if app.insert(path, content).is_some() {
            out.push(
                Diagnostic::new(
                    DiagnosticKind::DuplicateFile,
                    "the file is given more than once; the last copy is checked, remove the others",
                )
                .with_path(path),
            );
        }
    }
    let mut report = Report {
        files: files.len(),
        bytes: files.iter().map(|(_, c)| c.as_ref().len()).sum(),
        ..Report::default()
    };
    if !check_limits(&app, &report, limits, &mut out) {
        report.diagnostics = out.finish();
        return report;
    }

    let runtime: BTreeMap<&str, &str> = runtime_files().into_iter().collect();
    // Files whose content is checked: the layout allows them and they are not oversized.
    let mut checked: Vec<(&str, &str)> = Vec::new();
    for (&path, &content) in &app {
        if !runtime.contains_key(path) {
            if let Err(error) = check_path(path) {
                out.push(
                    Diagnostic::new(DiagnosticKind::UnsafePath, error.to_string()).with_path(path),
                );
                continue;
            }
        }
        if content.len() <= limits.max_file_bytes {
            checked.push((path, content));
        }
    }
    let present: BTreeSet<&str> = app.keys().copied().chain(runtime.keys().copied()).collect();

    let mut routes: Vec<routes::Route> = Vec::new();
    let mut routes_known = true;
    let mut calls: Vec<(&str, &str, js::ApiLiteral)> = Vec::new();
    let mut modules = exports::Modules::new(&app, &present, &runtime);
    // Imports that take names, checked against the exports once every module is read.
    let mut named_imports: Vec<(&str, Side, Vec<js::Import>)> = Vec::new();
    for &(path, content) in &checked {
        let Some(side) = imports::side_of(path) else {
            continue;
        };
        if runtime.get(path) == Some(&content) {
            continue;
        }
        let facts = js::analyze(content, exports::goal_of(path, side));
        report.modules_parsed += 1;
        let at = |offset: u32| line_at(content, offset);
        modules.parsed(path, facts.syntax_error.is_none().then_some(facts.exports));
        if let Some(error) = &facts.syntax_error {
            out.push(
                Diagnostic::new(
                    DiagnosticKind::SyntaxError,
                    format!("syntax error: {}", error.message),
                )
                .with_path(path)
                .at_line(at(error.offset)),
            );
            if side == Side::Worker {
                routes_known = false;
            }
            continue;
        }
        let (host, app_imports): (Vec<js::Import>, Vec<js::Import>) =
            facts.imports.into_iter().partition(|i| {
                i.specifier
                    .as_deref()
                    .is_some_and(internals::is_host_module)
            });
        for import in &host {
            let specifier = import.specifier.as_deref().unwrap_or_default();
            out.push(
                Diagnostic::new(
                    DiagnosticKind::PlatformInternal,
                    internals::host_module_message(specifier),
                )
                .with_path(path)
                .at_line(at(import.offset)),
            );
        }
        for (offset, message) in imports::check(path, side, &app_imports, &present) {
            out.push(
                Diagnostic::new(DiagnosticKind::BadImport, message)
                    .with_path(path)
                    .at_line(at(offset)),
            );
        }
        let taking: Vec<js::Import> = app_imports
            .into_iter()
            .filter(|i| !i.names.is_empty())
            .collect();
        if !taking.is_empty() {
            named_imports.push((path, side, taking));
        }
        // The runtime's own paths hold the reviewed runtime (the platform ships its copy there).
        if !runtime.contains_key(path) {
            for &offset in &facts.secret_names {
                out.push(
                    Diagnostic::new(
                        DiagnosticKind::PlatformInternal,
                        internals::secret_message(),
                    )
                    .with_path(path)
                    .at_line(at(offset)),
                );
            }
        }
        let serves_routes = side == Side::Worker && !path.starts_with("_kiln/");
        if serves_routes {
            for &offset in &facts.db_calls {
                out.push(
                    Diagnostic::new(DiagnosticKind::PlatformInternal, internals::db_message())
                        .with_path(path)
                        .at_line(at(offset)),
                );
            }
        }
        // Model-written worker modules run under the CPU guard; the front end runs in the
        // browser and the runtime is Kiln's own.
        if serves_routes {
            for hazard in &facts.hazards {
                out.push(
                    Diagnostic::new(DiagnosticKind::Unguarded, hazard.message.clone())
                        .with_path(path)
                        .at_line(at(hazard.offset)),
                );
            }
        }
        for literal in facts.api_literals {
            if serves_routes {
                routes.extend(routes::routes(&literal));
            } else if side == Side::FrontEnd {
                calls.push((path, content, literal));
            }
        }
        if path == "worker.js" {
            contract(&facts.default_export, content, &mut out);
        }
    }
    for (path, side, taking) in &named_imports {
        for import in taking {
            for finding in modules.check(path, *side, import) {
                let content = app.get(finding.path.as_str()).copied().unwrap_or_default();
                out.push(
                    Diagnostic::new(DiagnosticKind::BadImport, finding.message)
                        .with_path(finding.path)
                        .at_line(line_at(content, finding.offset)),
                );
            }
        }
    }
    if !app.contains_key("worker.js") {
        out.push(
            Diagnostic::new(
                DiagnosticKind::Contract,
                "missing; every app needs a worker.js with export default { fetch(request, env, ctx) { … } }",
            )
            .with_path("worker.js"),
        );
    }

    if routes_known && !routes.is_empty() {
        check_calls(&routes, &calls, &mut out);
    }

    check_migrations(&checked, plan_tables, &mut report, &mut out);
    report.diagnostics = out.finish();
    report
}

/// Collects diagnostics; sorts and deduplicates them at the end.
#[derive(Default)]
struct Out(Vec<Diagnostic>);

impl Out {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.0.sort_by(|a, b| {
            (
                a.path.as_deref().unwrap_or(""),
                a.line.unwrap_or(0),
                &a.message,
            )
                .cmp(&(
                    b.path.as_deref().unwrap_or(""),
                    b.line.unwrap_or(0),
                    &b.message,
                ))
        });
        self.0.dedup();
        self.0
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_at(text: &str, offset: u32) -> usize {
    let end = (offset as usize).min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// Limit diagnostics; false when the app is too large to check further.
fn check_limits(
    app: &BTreeMap<&str, &str>,
    report: &Report,
    limits: &Limits,
    out: &mut Out,
) -> bool {
    let mut go_on = true;
    if report.files > limits.max_files {
        out.push(Diagnostic::new(
            DiagnosticKind::LimitExceeded,
            format!(
                "the app has {} files; at most {} are allowed: remove files it does not need",
                report.files, limits.max_files
            ),
        ));
        go_on = false;
    }
    if report.bytes > limits.max_total_bytes {
        out.push(Diagnostic::new(
            DiagnosticKind::LimitExceeded,
            format!(
                "the app's files add up to {} bytes; at most {} are allowed: shrink or remove files",
                report.bytes, limits.max_total_bytes
            ),
        ));
        go_on = false;
    }
    for (&path, content) in app {
        if content.len() > limits.max_file_bytes {
            out.push(
                Diagnostic::new(
                    DiagnosticKind::LimitExceeded,
                    format!(
                        "the file has {} bytes; at most {} are allowed per file: split it into smaller modules",
                        content.len(),
                        limits.max_file_bytes
                    ),
                )
                .with_path(path),
            );
        }
    }
    go_on
}

/// The worker contract: `export default { fetch }`.
fn contract(default_export: &DefaultExport, content: &str, out: &mut Out) {
    let diagnostic = match default_export {
        DefaultExport::HasFetch | DefaultExport::Unknown => return,
        DefaultExport::Missing => Diagnostic::new(
            DiagnosticKind::Contract,
            "no export default; end worker.js with export default { fetch(request, env, ctx) { … } }",
        ),
        DefaultExport::NoFetch { offset, what } => Diagnostic::new(
            DiagnosticKind::Contract,
            format!(
                "export default is {what}; export an object with a fetch method: export default {{ fetch(request, env, ctx) {{ … }} }}"
            ),
        )
        .at_line(line_at(content, *offset)),
    };
    out.push(diagnostic.with_path("worker.js"));
}

/// Most served routes listed in one message.
const MAX_ROUTES_LISTED: usize = 8;

/// Every front-end `/api/` path must be served by some worker route.
fn check_calls(served: &[routes::Route], calls: &[(&str, &str, js::ApiLiteral)], out: &mut Out) {
    let mut shown: Vec<String> = served.iter().map(|r| r.shown.clone()).collect();
    shown.sort();
    shown.dedup();
    let mut listed = shown
        .iter()
        .take(MAX_ROUTES_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if shown.len() > MAX_ROUTES_LISTED {
        listed.push_str(", …");
    }
    for (path, content, literal) in calls {
        let Some(call) = routes::call(literal) else {
            continue;
        };
        if served.iter().any(|r| routes::serves(r, &call)) {
            continue;
        }
        let hint = routes::closest(&literal.text, &shown)
            .map(|r| format!("did you mean \"{r}\"? "))
            .unwrap_or_default();
        out.push(
            Diagnostic::new(
                DiagnosticKind::UnknownRoute,
                format!(
                    "the front end calls \"{}\" but no worker route serves it; {hint}worker routes: {listed}",
                    routes::show_call(&literal.text)
                ),
            )
            .with_path(*path)
            .at_line(line_at(content, literal.offset)),
        );
    }
}

/// Migrations in file order, then the plan's tables against what they create.
fn check_migrations(
    checked: &[(&str, &str)],
    plan_tables: &[&str],
    report: &mut Report,
    out: &mut Out,
) {
    let migrations: Vec<(&str, &str)> = checked
        .iter()
        .filter(|(p, _)| p.starts_with("migrations/"))
        .copied()
        .collect();
    let mut context = sql::Context {
        protected: plan_tables
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .chain(["users".to_string()])
            .collect(),
        created: BTreeMap::new(),
    };
    let mut broken = false;
    for (path, content) in &migrations {
        report.migrations_checked += 1;
        for finding in sql::check(content, path, &mut context) {
            broken |= finding.kind == DiagnosticKind::SyntaxError;
            out.push(
                Diagnostic::new(finding.kind, finding.message)
                    .with_path(*path)
                    .at_line(finding.line),
            );
        }
    }
    if broken {
        // What the broken statements would have created is unknown.
        return;
    }
    let last = migrations
        .last()
        .map_or("migrations/0001_init.sql", |(p, _)| p);
    for table in plan_tables {
        if !context.created.contains_key(&table.to_ascii_lowercase()) {
            out.push(
                Diagnostic::new(
                    DiagnosticKind::Contract,
                    format!("the plan's table {table} is never created; add CREATE TABLE {table} (…) to a migration"),
                )
                .with_path(last),
            );
        }
    }
}
