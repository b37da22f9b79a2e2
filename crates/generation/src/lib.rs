//! Generation with a language model: the model port and its providers, the prompts, the
//! sessions that plan, write, edit and repair an app, and tolerant parsers that turn what a
//! model writes into values the pipeline can trust.
//!
//! | module | purpose |
//! |---|---|
//! | [`model`] | the [`model::ChatModel`] port, provider settings, OpenAI-compatible and Workers AI wire formats |
//! | [`prompts`] | the versioned prompt templates (`prompts/*.txt`, compiled in; their hash is recorded) |
//! | [`session`] | one generation: plan, code, continuations, edits and repairs over a [`model::ChatModel`] |
//! | [`plan_diff`] | whether a new plan is an edit of the live app or a structural change |
//! | [`plan_json`] | the plan step's JSON object, dug out of prose and code fences, repaired if needed |
//! | [`files`] | the multi-file answer format and SEARCH/REPLACE edits, parsed as a stream |
//! | [`sse`] | server-sent events of streaming chat completions (OpenAI and Workers AI shapes) |
//!
//! Key decision: every parser is *total*. Whatever a model (or a broken connection) produces, the
//! parsers return a value with [`Diagnostic`]s, or an error that names what is wrong and where; they
//! never panic, and property tests feed them random input to keep it that way. Small models such as
//! GLM-4.7-Flash are sloppy in predictable ways (prose around the answer, code fences, trailing
//! commas, a forgotten end marker, an answer cut off by the token limit), so tolerance is designed in
//! rather than left to retries: a retry costs a whole generation, a repair costs microseconds.
//!
//! All of it is pure (no I/O, no clock) and run unchanged natively and on wasm32.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod files;
pub mod model;
pub mod plan_diff;
pub mod plan_json;
pub mod prompts;
pub mod session;
pub mod sse;

/// Something a parser tolerated, repaired or dropped, reported instead of failing.
///
/// Diagnostics are for logs, build events and repair prompts; none of them stops a parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// What kind of problem this is, for callers that react to some kinds (e.g. unsafe paths).
    pub kind: DiagnosticKind,
    /// The file the problem concerns, when there is one.
    pub path: Option<String>,
    /// The 1-based line of the parsed input where the problem was seen, when known.
    pub line: Option<usize>,
    /// A lowercase sentence naming the offending value and what was done about it.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic of `kind` with a message and no location.
    pub fn new(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            path: None,
            line: None,
            message: message.into(),
        }
    }

    /// The same diagnostic, about `path`.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The same diagnostic, at 1-based `line`.
    #[must_use]
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

/// `path:line: message` (the compiler convention, and what repair prompts quote); `path: message`
/// without a line, `line N: message` without a path.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, "{path}:{line}: ")?,
            (Some(path), None) => write!(f, "{path}: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// The kinds of [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// A file path was unsafe or outside the allowed set; the file or edit was dropped.
    UnsafePath,
    /// A file was emitted more than once; one copy was kept.
    DuplicateFile,
    /// A block had no end marker and was closed by the next header.
    MissingEndMarker,
    /// The answer ended inside a file; a continuation can finish it.
    Unterminated,
    /// Text around a file's code fence was dropped.
    DroppedText,
    /// An edit block was malformed or cut off and was dropped.
    MalformedEdit,
    /// A file or the number of files exceeded a limit; the excess was dropped.
    LimitExceeded,
    /// A server-sent event could not be understood and was skipped.
    MalformedEvent,
    /// Bytes that are not UTF-8 were replaced with U+FFFD.
    InvalidUtf8,
    /// A JavaScript module or a migration does not parse (`validate`).
    SyntaxError,
    /// `worker.js` is missing or does not `export default` an object with `fetch` (`validate`).
    Contract,
    /// An import that is not allowed or does not resolve to a file of the app (`validate`).
    BadImport,
    /// The front end calls an `/api/` path that no worker route serves (`validate`).
    UnknownRoute,
    /// A migration statement that is not allowed (PRAGMA, ATTACH, BEGIN, DROP TABLE of a plan
    /// table, …) (`validate`).
    ForbiddenSql,
    /// Worker code the run-time CPU guard cannot bound: a name starting with `__kiln`, a regular
    /// expression that can backtrack catastrophically, or one built at run time (`validate`).
    Unguarded,
    /// Model-written code names a binding internal: the app secret `JWT_SECRET`, or a module the
    /// host wraps apps with (`_kiln_*.js`) (`validate`).
    PlatformInternal,
}
