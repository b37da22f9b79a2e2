//! Inserts `__kiln_tick()` calls into a worker module by text insertion at oxc's AST spans.
//!
//! Where (every insertion stays on the line it belongs to; no newline is ever added):
//!
//! | construct | becomes |
//! |---|---|
//! | loop with a block body | `while (c) {__kiln_tick(); …}` |
//! | loop with any other body | `for (;;){__kiln_tick();;}`, `while (c) {__kiln_tick();x();}` |
//! | function, method, getter, setter, constructor, arrow with a block | `{__kiln_tick(); …}`, after a `"use strict"` prologue |
//! | arrow with an expression body | `() => (__kiln_tick(), ({ a: 1 }))` |
//! | the module | `import { tick as __kiln_tick } from "./_kiln_guard.js";` prepended to its first line |
//!
//! The import is prepended to the first line rather than put on a line of its own so that every
//! line keeps its number (only line 1's columns shift); imports are hoisted, so the binding exists
//! before any code of the module runs. After a hashbang it goes at the start of the second line.
//!
//! Insertions at one offset are ordered by kind and nesting, so the result does not depend on
//! visiting order: closing `}`/`)` first, innermost first (`a => b => c` ends in `c))`), then
//! ticks, then opening wrappers, outermost first.

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    ArrowFunctionExpression, BindingIdentifier, DoWhileStatement, ForInStatement, ForOfStatement,
    ForStatement, FunctionBody, IdentifierReference, SourceType, Statement, WhileStatement,
};
use oxc_ast_visit::{walk, Visit};
use oxc_parser::Parser;
use oxc_span::GetSpan;

use super::{GUARD_PATH, TICK_NAME};
use crate::{depth, line_at};

/// Why a module could not be instrumented. Each displays as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    /// The module does not parse (or nests too deeply to parse safely); validation reports the
    /// same problem.
    #[error("{path}:{line}: syntax error: {message}; fix it before the module can be deployed")]
    Syntax {
        /// The module's path.
        path: String,
        /// 1-based line of the error.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// The module uses a name starting with `__kiln`, which could shadow or call the guard.
    #[error("{path}:{line}: the name {name} is reserved for Kiln's CPU guard; rename it")]
    Reserved {
        /// The module's path.
        path: String,
        /// 1-based line of the name.
        line: usize,
        /// The name.
        name: String,
    },
    /// A body did not start where its span says (an oxc change this code does not know):
    /// refused rather than deployed unguarded.
    #[error("{path}:{line}: cannot instrument this {what}; its body is not where the parser says")]
    Unexpected {
        /// The module's path.
        path: String,
        /// 1-based line.
        line: usize,
        /// The construct.
        what: &'static str,
    },
}

/// Returns `source` (the worker module at `path`, relative to the app root) with budget checks
/// inserted: `__kiln_tick();` at the start of every loop body and function body, and the import
/// of `__kiln_tick` from [`GUARD_PATH`] (relative to `path`) on the first line. Every other byte
/// is kept and no line is added.
///
/// # Errors
///
/// [`InstrumentError`] when the module does not parse or uses a reserved `__kiln` name.
///
/// ```
/// let out = validation::sandbox::instrument("worker.js", "while (true) {}\n").unwrap();
/// assert_eq!(
///     out,
///     "import { tick as __kiln_tick } from \"./_kiln_guard.js\";while (true) {__kiln_tick();}\n"
/// );
/// ```
pub fn instrument(path: &str, source: &str) -> Result<String, InstrumentError> {
    let syntax = |offset: usize, message: String| InstrumentError::Syntax {
        path: path.to_string(),
        line: line_at(source, u32::try_from(offset).unwrap_or(u32::MAX)),
        message,
    };
    if let Some(line) = depth::too_deep(source, depth::MAX_NESTING) {
        return Err(InstrumentError::Syntax {
            path: path.to_string(),
            line,
            message: "the code nests too deeply".to_string(),
        });
    }
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::mjs()).parse();
    if let Some(first) = parsed.errors.first() {
        let offset = first
            .labels
            .as_ref()
            .and_then(|labels| labels.first())
            .map_or(0, |label| label.offset());
        return Err(syntax(offset, first.message.to_string()));
    }
    let mut inserter = Inserter {
        source,
        insertions: Vec::new(),
        seq: 0,
        problem: None,
    };
    inserter.visit_program(&parsed.program);
    if let Some(problem) = inserter.problem {
        let line = line_at(source, problem.offset());
        return Err(match problem {
            Problem::Reserved { name, .. } => InstrumentError::Reserved {
                path: path.to_string(),
                line,
                name,
            },
            Problem::Unexpected { what, .. } => InstrumentError::Unexpected {
                path: path.to_string(),
                line,
                what,
            },
        });
    }

    let import = format!(
        "import {{ tick as {TICK_NAME} }} from \"{}\";",
        guard_specifier(path)
    );
    let import_at = match &parsed.program.hashbang {
        Some(hashbang) => source[hashbang.span.end as usize..]
            .find('\n')
            .map_or(source.len(), |i| hashbang.span.end as usize + i + 1),
        None => 0,
    };
    let mut insertions = inserter.insertions;
    insertions.sort_by_key(|i| (i.offset, i.rank, i.order));
    let added: usize = insertions.iter().map(|i| i.text.len()).sum();
    let mut out = String::with_capacity(source.len() + import.len() + added + 1);
    out.push_str(&source[..import_at]);
    if import_at == source.len() && import_at > 0 && !source.ends_with('\n') {
        // A module that is only a hashbang line, without a newline.
        out.push('\n');
    }
    out.push_str(&import);
    // Every insertion is at or after `import_at`: a hashbang is a comment before any code.
    let mut copied = import_at;
    for insertion in &insertions {
        let offset = insertion.offset as usize;
        out.push_str(&source[copied..offset]);
        copied = offset;
        out.push_str(insertion.text);
    }
    out.push_str(&source[copied..]);
    Ok(out)
}

/// The import specifier of [`GUARD_PATH`] from the module at `path`: `./_kiln_guard.js` from
/// `worker.js`, `../_kiln_guard.js` from `src/db.js`.
fn guard_specifier(path: &str) -> String {
    match path.matches('/').count() {
        0 => format!("./{GUARD_PATH}"),
        depth => format!("{}{GUARD_PATH}", "../".repeat(depth)),
    }
}

const TICK: &str = "__kiln_tick();";
const TICK_AFTER_DIRECTIVE: &str = ";__kiln_tick();";
const OPEN_BLOCK: &str = "{__kiln_tick();";
const CLOSE_BLOCK: &str = "}";
const OPEN_SEQUENCE: &str = "(__kiln_tick(), ";
const CLOSE_SEQUENCE: &str = ")";

/// Ranks of insertions at one offset: what closes a construct comes before a tick, which comes
/// before what opens one.
const CLOSE: u8 = 0;
const TICK_RANK: u8 = 1;
const OPEN: u8 = 2;

struct Insertion {
    offset: u32,
    rank: u8,
    /// Visiting order (a parent before its children); negated for closings, so that among
    /// closings at one offset the innermost comes first.
    order: i64,
    text: &'static str,
}

enum Problem {
    Reserved { offset: u32, name: String },
    Unexpected { offset: u32, what: &'static str },
}

impl Problem {
    fn offset(&self) -> u32 {
        match self {
            Problem::Reserved { offset, .. } | Problem::Unexpected { offset, .. } => *offset,
        }
    }
}

struct Inserter<'s> {
    source: &'s str,
    insertions: Vec<Insertion>,
    seq: i64,
    /// The first problem found; the module is refused.
    problem: Option<Problem>,
}

impl Inserter<'_> {
    fn next(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    fn insert(&mut self, offset: u32, rank: u8, text: &'static str) {
        let seq = self.next();
        let order = if rank == CLOSE { -seq } else { seq };
        self.insertions.push(Insertion {
            offset,
            rank,
            order,
            text,
        });
    }

    fn problem(&mut self, problem: Problem) {
        if self.problem.is_none() {
            self.problem = Some(problem);
        }
    }

    fn opens_brace(&self, offset: u32) -> bool {
        self.source.as_bytes().get(offset as usize) == Some(&b'{')
    }

    /// A tick at the start of a loop body; a body that is not a block becomes one.
    fn loop_body(&mut self, body: &Statement<'_>) {
        match body {
            Statement::BlockStatement(block) => {
                if self.opens_brace(block.span.start) {
                    self.insert(block.span.start + 1, TICK_RANK, TICK);
                } else {
                    self.problem(Problem::Unexpected {
                        offset: block.span.start,
                        what: "loop",
                    });
                }
            }
            other => {
                let span = other.span();
                self.insert(span.start, OPEN, OPEN_BLOCK);
                self.insert(span.end, CLOSE, CLOSE_BLOCK);
            }
        }
    }

    fn reserved(&mut self, name: &str, offset: u32) {
        if name.starts_with("__kiln") {
            self.problem(Problem::Reserved {
                offset,
                name: name.to_string(),
            });
        }
    }
}

impl<'a> Visit<'a> for Inserter<'_> {
    fn visit_for_statement(&mut self, it: &ForStatement<'a>) {
        self.loop_body(&it.body);
        walk::walk_for_statement(self, it);
    }

    fn visit_for_in_statement(&mut self, it: &ForInStatement<'a>) {
        self.loop_body(&it.body);
        walk::walk_for_in_statement(self, it);
    }

    fn visit_for_of_statement(&mut self, it: &ForOfStatement<'a>) {
        self.loop_body(&it.body);
        walk::walk_for_of_statement(self, it);
    }

    fn visit_while_statement(&mut self, it: &WhileStatement<'a>) {
        self.loop_body(&it.body);
        walk::walk_while_statement(self, it);
    }

    fn visit_do_while_statement(&mut self, it: &DoWhileStatement<'a>) {
        self.loop_body(&it.body);
        walk::walk_do_while_statement(self, it);
    }

    fn visit_arrow_function_expression(&mut self, it: &ArrowFunctionExpression<'a>) {
        if it.expression {
            match it.body.statements.first() {
                Some(Statement::ExpressionStatement(statement)) => {
                    let span = statement.expression.span();
                    self.insert(span.start, OPEN, OPEN_SEQUENCE);
                    self.insert(span.end, CLOSE, CLOSE_SEQUENCE);
                }
                _ => self.problem(Problem::Unexpected {
                    offset: it.span.start,
                    what: "arrow function",
                }),
            }
        }
        walk::walk_arrow_function_expression(self, it);
    }

    /// Block bodies of functions, methods, accessors, constructors and arrows (an arrow's
    /// expression body is a `FunctionBody` too, without a `{`: handled above).
    fn visit_function_body(&mut self, it: &FunctionBody<'a>) {
        if self.opens_brace(it.span.start) {
            match it.directives.last() {
                // After the directive prologue, so `"use strict"` stays a directive.
                Some(directive) => {
                    let end = directive.span.end;
                    let text = if self.source.as_bytes()[end as usize - 1] == b';' {
                        TICK
                    } else {
                        TICK_AFTER_DIRECTIVE
                    };
                    self.insert(end, TICK_RANK, text);
                }
                None => self.insert(it.span.start + 1, TICK_RANK, TICK),
            }
        } else if !it.statements.is_empty() && it.directives.is_empty() {
            // An arrow's expression body: wrapped in visit_arrow_function_expression.
        } else {
            self.problem(Problem::Unexpected {
                offset: it.span.start,
                what: "function",
            });
        }
        walk::walk_function_body(self, it);
    }

    fn visit_binding_identifier(&mut self, it: &BindingIdentifier<'a>) {
        self.reserved(&it.name, it.span.start);
    }

    fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
        self.reserved(&it.name, it.span.start);
    }
}
