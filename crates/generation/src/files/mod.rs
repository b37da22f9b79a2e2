//! The multi-file answer format, parsed as a stream, and SEARCH/REPLACE edits.
//!
//! # Format
//!
//! Code generation answers carry whole files between plain-text markers (the prompts state this
//! format word for word):
//!
//! ```text
//! === FILE: worker.js ===
//! export default { async fetch(request, env) { … } };
//! === END FILE ===
//! === FILE: migrations/0001_init.sql ===
//! CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
//! === END FILE ===
//! ```
//!
//! Repairs may instead carry edits, one or more SEARCH/REPLACE blocks per file:
//!
//! ```text
//! === EDIT: worker.js ===
//! <<<<<<< SEARCH
//!     return json(rows);
//! =======
//!     return json({ items: rows });
//! >>>>>>> REPLACE
//! === END EDIT ===
//! ```
//!
//! Allowed paths are `worker.js`, `migrations/NNNN_name.sql`, `public/**` (static assets) and
//! `src/**` (app modules); see [`check_path`].
//!
//! # Tolerance
//!
//! - Prose before, between and after blocks is ignored; so is a stray end marker.
//! - Markers may vary: `===FILE: a===`, `=== file: a ===`, extra spaces or `=`, `**bold**` or a
//!   `#` heading around them, backticks or `./` around the path, `=== END ===`.
//! - A missing end marker: the block ends at the next header (a
//!   [`DiagnosticKind::MissingEndMarker`]); at the end of the input the file is marked
//!   [`ParsedFile::unterminated`] so the caller can ask for a continuation
//!   ([`ParsedFiles::continuation_prompt_tail`], [`FileParser::resume`]). If the file was wrapped in
//!   a code fence that was closed, it is complete after all.
//! - A file emitted twice: the last complete copy wins, with a [`DiagnosticKind::DuplicateFile`].
//! - CRLF line ends and a UTF-8 BOM are removed.
//! - One markdown fence wrapping a whole file is removed; fences inside it stay (see `fence`).
//! - Unsafe paths (`..`, absolute, backslashes, hidden segments, outside the layout) drop the block
//!   with a [`DiagnosticKind::UnsafePath`].
//!
//! Key decision: code never travels inside JSON strings. Small models escape quotes and newlines in
//! JSON unreliably, and one bad escape loses every file; with line markers a mistake costs at most
//! one file, and the format can be parsed line by line while the answer streams in. The parser is
//! line-based with no look-ahead, so feeding it chunks split anywhere gives exactly the same result
//! as feeding the whole text (a property test holds it to that).

mod edit;
mod fence;
mod path;

pub use edit::{
    apply_edits, apply_edits_report, EditBlock, EditError, EditOutcome, MatchStrategy,
    FUZZY_THRESHOLD,
};
pub use path::{check_path, PathError, MAX_PATH_BYTES, MAX_PATH_SEGMENTS};

use serde::{Deserialize, Serialize};

use super::{Diagnostic, DiagnosticKind};
use path::{clean_header_path, shown};

/// Largest accepted file, in bytes; a larger one is dropped with a diagnostic.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Most files accepted from one answer (the rest are dropped with a diagnostic).
pub const MAX_FILES: usize = 200;

/// Lines of the unfinished file given back for a continuation prompt.
pub const TAIL_LINES: usize = 20;

/// Most lines compared when removing text a continuation repeats.
const MAX_OVERLAP_LINES: usize = 60;

/// Repeated lines shorter than this (non-blank characters in total) are not trusted as overlap:
/// two closing braces in a row are normal code, not a repetition.
const MIN_OVERLAP_CHARS: usize = 12;

/// Most prose lines accepted before a continuation repeats the file's header.
const MAX_PREAMBLE_LINES: usize = 3;

/// One file from an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFile {
    /// Its path, already checked by [`check_path`].
    pub path: String,
    /// Its content: LF line ends, outer fence removed, ending with a newline unless unterminated.
    pub content: String,
    /// The answer ended inside this file: the content is partial.
    pub unterminated: bool,
}

/// The SEARCH/REPLACE blocks for one file, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEdit {
    /// The file to edit, already checked by [`check_path`].
    pub path: String,
    /// Its blocks; apply with [`apply_edits`].
    pub blocks: Vec<EditBlock>,
}

/// Everything read from one answer (and its continuations).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFiles {
    /// Files in order of first appearance, one per path.
    pub files: Vec<ParsedFile>,
    /// Edits in order of appearance.
    pub edits: Vec<FileEdit>,
    /// What was tolerated or dropped.
    pub diagnostics: Vec<Diagnostic>,
    /// The file the answer was cut off in, as received (fence included), so a continuation can be
    /// merged into the exact text. Serialised because a continuation may run in a later step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unfinished: Option<Unfinished>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Unfinished {
    path: String,
    raw: String,
}

impl ParsedFiles {
    /// True when the answer was cut off inside a file and a continuation should be requested.
    ///
    /// Usually that file is the one marked [`ParsedFile::unterminated`]; when the cut-off copy
    /// was a second copy of a complete file, the complete copy is kept in [`Self::files`] and this
    /// still says the answer was cut off.
    pub fn truncated(&self) -> bool {
        self.unfinished.is_some()
    }

    /// The path of the file the answer was cut off in.
    pub fn unfinished_path(&self) -> Option<&str> {
        self.unfinished.as_ref().map(|u| u.path.as_str())
    }

    /// The last [`TAIL_LINES`] lines of the cut-off file, for a prompt like "continue `worker.js`
    /// exactly after these lines". The last line may be partial.
    pub fn continuation_prompt_tail(&self) -> Option<String> {
        let unfinished = self.unfinished.as_ref()?;
        let content = fence::strip_outer_fence(&unfinished.path, &unfinished.raw, false).content;
        // A cut at a line end leaves a final newline; it does not count as a line.
        let (body, newline) = match content.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (content.as_str(), ""),
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let from = lines.len().saturating_sub(TAIL_LINES);
        Some(lines[from..].join("\n") + newline)
    }

    /// The file at `path`, if the answer had it.
    pub fn file(&self, path: &str) -> Option<&ParsedFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The paths of all files, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.path.as_str()).collect()
    }
}

/// A line that delimits blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker<'a> {
    File(&'a str),
    Edit(&'a str),
    End,
}

/// Recognises `=== FILE: p ===`, `=== EDIT: p ===` and `=== END … ===` with their variations.
fn marker(line: &str) -> Option<Marker<'_>> {
    let t = line
        .trim()
        .trim_start_matches(|c: char| matches!(c, '#' | '*' | '`' | '>') || c.is_whitespace())
        .trim_end_matches(|c: char| matches!(c, '*' | '`') || c.is_whitespace());
    let rest = t.trim_start_matches('=');
    // Two `=` at least: "FILE: x" alone is too likely to be prose.
    if t.len() - rest.len() < 2 {
        return None;
    }
    let body = rest
        .trim_end_matches(|c: char| c == '=' || c.is_whitespace())
        .trim_start();
    let bytes = body.as_bytes();
    let keyword = |word: &str| {
        bytes.len() >= word.len()
            && bytes[..word.len()].eq_ignore_ascii_case(word.as_bytes())
            && bytes
                .get(word.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_')
    };
    if keyword("END") {
        return Some(Marker::End);
    }
    for (word, edit) in [("FILE", false), ("EDIT", true)] {
        if keyword(word) {
            let path = body[word.len()..].trim_start();
            let path = path.strip_prefix(':').unwrap_or(path).trim();
            return match (path.is_empty(), edit) {
                (true, _) => None,
                (false, false) => Some(Marker::File(path)),
                (false, true) => Some(Marker::Edit(path)),
            };
        }
    }
    None
}

/// Whether an answer says explicitly that a request needs no change: a line `=== NO CHANGE ===`
/// (any number of `=` from two, any case, decorated like the other markers).
pub fn says_no_change(answer: &str) -> bool {
    answer.lines().any(|line| {
        let t = line
            .trim()
            .trim_start_matches(|c: char| matches!(c, '#' | '*' | '`' | '>') || c.is_whitespace())
            .trim_end_matches(|c: char| matches!(c, '*' | '`') || c.is_whitespace());
        let rest = t.trim_start_matches('=');
        if t.len() - rest.len() < 2 {
            return false;
        }
        let body = rest
            .trim_end_matches(|c: char| c == '=' || c.is_whitespace())
            .trim();
        let words: Vec<&str> = body
            .split([' ', '_', '-'])
            .filter(|w| !w.is_empty())
            .collect();
        words.len() == 2
            && words[0].eq_ignore_ascii_case("no")
            && (words[1].eq_ignore_ascii_case("change") || words[1].eq_ignore_ascii_case("changes"))
    })
}

/// `=== END FI` at the very end of an answer: the model was closing the file when it was cut.
fn partial_end_marker(line: &str) -> bool {
    let t = line.trim();
    let rest = t.trim_start_matches('=');
    if t.len() - rest.len() < 2 {
        return false;
    }
    let rest = rest.trim().to_ascii_uppercase();
    ["END FILE", "END EDIT"]
        .iter()
        .any(|m| m.starts_with(&rest))
}

/// Lines inside an `=== EDIT ===` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EditMarker {
    Search,
    Divider,
    Replace,
}

fn edit_marker(line: &str) -> Option<EditMarker> {
    let t = line.trim();
    let run = |c: char| t.chars().take_while(|x| *x == c).count();
    let word = |n: usize| t[n..].trim().to_ascii_uppercase();
    let (lt, eq, gt) = (run('<'), run('='), run('>'));
    if (5..=9).contains(&lt) && matches!(word(lt).as_str(), "SEARCH" | "ORIGINAL" | "") {
        Some(EditMarker::Search)
    } else if (5..=9).contains(&eq) && eq == t.len() {
        Some(EditMarker::Divider)
    } else if (5..=9).contains(&gt) && matches!(word(gt).as_str(), "REPLACE" | "UPDATED" | "") {
        Some(EditMarker::Replace)
    } else {
        None
    }
}

/// How a block was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    EndMarker,
    NextHeader,
    EndOfInput,
}

#[derive(Debug)]
struct OpenFile {
    path: String,
    start: usize,
    raw: String,
    oversized: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EditState {
    Between,
    Search,
    Replace,
}

#[derive(Debug)]
struct OpenEdit {
    path: String,
    start: usize,
    blocks: Vec<EditBlock>,
    state: EditState,
    search: Vec<String>,
    replace: Vec<String>,
}

impl OpenEdit {
    fn take_block(&mut self) {
        self.blocks.push(EditBlock {
            search: std::mem::take(&mut self.search).join("\n"),
            replace: std::mem::take(&mut self.replace).join("\n"),
        });
        self.state = EditState::Between;
    }
}

#[derive(Debug, Default)]
enum Block {
    #[default]
    Outside,
    File(OpenFile),
    Edit(OpenEdit),
    /// A block with a refused path: its lines are swallowed.
    Skip,
}

/// Streaming parser for the multi-file format.
///
/// ```
/// use generation::files::FileParser;
/// let mut parser = FileParser::new();
/// for chunk in ["Here you go!\n=== FILE: work", "er.js ===\nexport default {};\n=== END", " FILE ===\n"] {
///     parser.push(chunk);
/// }
/// let parsed = parser.finish();
/// assert_eq!(parsed.paths(), ["worker.js"]);
/// assert_eq!(parsed.files[0].content, "export default {};\n");
/// ```
#[derive(Debug, Default)]
pub struct FileParser {
    /// The current line so far (chunks split lines anywhere).
    pending: String,
    line_no: usize,
    started: bool,
    block: Block,
    out: ParsedFiles,
    /// The file being finished by [`FileParser::resume`]: replacing its earlier copy is expected.
    resumed_path: Option<String>,
}

impl FileParser {
    /// A parser at the start of an answer.
    pub fn new() -> Self {
        FileParser::default()
    }

    /// Parses a whole answer at once.
    pub fn parse(answer: &str) -> ParsedFiles {
        let mut parser = FileParser::new();
        parser.push(answer);
        parser.finish()
    }

    /// Feeds the next piece of the answer; pieces may split lines (and markers) anywhere.
    pub fn push(&mut self, chunk: &str) {
        let mut rest = chunk;
        if !self.started {
            if rest.is_empty() {
                return;
            }
            self.started = true;
            rest = rest.strip_prefix('\u{feff}').unwrap_or(rest);
        }
        while let Some(nl) = rest.find('\n') {
            if self.pending.is_empty() {
                self.line(&rest[..nl]);
            } else {
                self.pending.push_str(&rest[..nl]);
                let line = std::mem::take(&mut self.pending);
                self.line(&line);
            }
            rest = &rest[nl + 1..];
        }
        self.pending.push_str(rest);
    }

    /// The path of the file being received, for progress display.
    pub fn current_path(&self) -> Option<&str> {
        match &self.block {
            Block::File(f) => Some(&f.path),
            Block::Edit(e) => Some(&e.path),
            _ => None,
        }
    }

    /// How many files have been completed so far.
    pub fn completed_files(&self) -> usize {
        self.out.files.iter().filter(|f| !f.unterminated).count()
    }

    /// Ends the answer: the last line needs no newline, and an open file becomes unterminated.
    pub fn finish(mut self) -> ParsedFiles {
        let last = std::mem::take(&mut self.pending);
        if !last.is_empty() {
            self.last_line(&last);
        }
        self.close(Close::EndOfInput);
        self.out
    }

    /// Merges a continuation answer into `parsed_so_far`, finishing its unterminated file.
    ///
    /// The continuation may repeat the file's header (then it may restart the file from its first
    /// line, which replaces the partial copy, or carry on where it stopped) or go straight on with
    /// code. Lines it repeats from the end of the partial file are dropped, including a repeat of
    /// the cut-off last line; a code fence around the continuation is handled like one around a
    /// file. Files after the finished one are parsed as usual. Without an unfinished file the
    /// continuation is parsed as more files.
    pub fn resume(parsed_so_far: ParsedFiles, continuation_text: &str) -> ParsedFiles {
        let mut so_far = parsed_so_far;
        let unfinished = so_far.unfinished.take();
        let mut parser = FileParser {
            out: so_far,
            ..FileParser::default()
        };
        let Some(Unfinished { path, raw }) = unfinished else {
            parser.push(continuation_text);
            return parser.finish();
        };
        parser.started = true;
        let text = continuation_text
            .strip_prefix('\u{feff}')
            .unwrap_or(continuation_text);
        // A repeated header for the same file starts the body if only a few lines of prose come
        // before it; further down, a header would end code that already continued the file.
        let mut body_start = 0;
        let mut header = false;
        let mut offset = 0;
        let mut preamble = 0;
        for line in text.split_inclusive('\n') {
            offset += line.len();
            parser.line_no += 1;
            match marker(line) {
                Some(Marker::File(p)) if clean_header_path(p) == path => {
                    header = true;
                    body_start = offset;
                    break;
                }
                Some(_) => break,
                None if line.trim().is_empty() => {}
                None => {
                    preamble += 1;
                    if preamble > MAX_PREAMBLE_LINES {
                        break;
                    }
                }
            }
        }
        if !header {
            parser.line_no = 0;
        }
        let body = skip_continuation_preamble(&text[body_start..]);
        let restarted = header
            && first_code_line(body).is_some()
            && first_code_line(body) == first_code_line(&raw);
        parser.resumed_path = Some(path.clone());
        let start = parser.line_no;
        if restarted {
            parser.block = Block::File(OpenFile {
                path,
                start,
                raw: String::new(),
                oversized: false,
            });
            parser.push(body);
            return parser.finish();
        }
        let markdown = {
            let lower = path.to_ascii_lowercase();
            lower.ends_with(".md") || lower.ends_with(".markdown")
        };
        let mut raw = raw;
        let mut body = body;
        if !markdown {
            if let Some(after) = strip_first_fence_line(body) {
                body = after;
                // Keep the fence pair intact so the closing fence at the end is recognised.
                if first_nonblank(&raw).and_then(fence::fence_line).is_none() {
                    raw.insert_str(0, "```\n");
                }
            }
        }
        let (complete, partial) = match raw.rfind('\n') {
            Some(i) => raw.split_at(i + 1),
            None => ("", raw.as_str()),
        };
        let earlier: Vec<&str> = complete.lines().collect();
        let earlier = &earlier[earlier.len().saturating_sub(MAX_OVERLAP_LINES)..];
        let next: Vec<&str> = body.split('\n').take(MAX_OVERLAP_LINES + 1).collect();
        let (skip, drop_partial) = overlap(earlier, &next, partial);
        let skip_bytes: usize = body.split_inclusive('\n').take(skip).map(str::len).sum();
        parser.pending = if drop_partial {
            String::new()
        } else {
            partial.to_string()
        };
        parser.block = Block::File(OpenFile {
            path,
            start,
            raw: complete.to_string(),
            oversized: false,
        });
        parser.push(&body[skip_bytes..]);
        parser.finish()
    }

    fn line(&mut self, line: &str) {
        self.line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        match marker(line) {
            Some(Marker::File(p)) => {
                self.close(Close::NextHeader);
                self.open(p, false);
            }
            Some(Marker::Edit(p)) => {
                self.close(Close::NextHeader);
                self.open(p, true);
            }
            Some(Marker::End) => self.close(Close::EndMarker),
            None => match &mut self.block {
                Block::File(f) => append(f, line, true),
                Block::Edit(_) => self.edit_line(line),
                Block::Outside | Block::Skip => {}
            },
        }
    }

    /// The final line of the input, which had no newline.
    fn last_line(&mut self, line: &str) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if marker(line).is_some() {
            return self.line(line);
        }
        if partial_end_marker(line) && matches!(self.block, Block::File(_)) {
            self.line_no += 1;
            return self.close(Close::EndMarker);
        }
        match &mut self.block {
            Block::File(f) => {
                self.line_no += 1;
                append(f, line, false);
            }
            _ => self.line(line),
        }
    }

    fn open(&mut self, raw_path: &str, edit: bool) {
        let path = clean_header_path(raw_path);
        if let Err(err) = check_path(&path) {
            self.diag(
                Diagnostic::new(
                    DiagnosticKind::UnsafePath,
                    format!("{err}; the block was dropped"),
                )
                .with_path(shown(&path)),
            );
            self.block = Block::Skip;
            return;
        }
        let known = self.out.files.iter().any(|f| f.path == path);
        if !edit && !known && self.out.files.len() >= MAX_FILES {
            self.diag(
                Diagnostic::new(
                    DiagnosticKind::LimitExceeded,
                    format!("more than {MAX_FILES} files in one answer; this one was dropped"),
                )
                .with_path(path),
            );
            self.block = Block::Skip;
            return;
        }
        let start = self.line_no;
        self.block = if edit {
            Block::Edit(OpenEdit {
                path,
                start,
                blocks: Vec::new(),
                state: EditState::Between,
                search: Vec::new(),
                replace: Vec::new(),
            })
        } else {
            Block::File(OpenFile {
                path,
                start,
                raw: String::new(),
                oversized: false,
            })
        };
    }

    fn edit_line(&mut self, line: &str) {
        let line_no = self.line_no;
        let Block::Edit(e) = &mut self.block else {
            return;
        };
        let mut problem = None;
        match (e.state, edit_marker(line)) {
            (EditState::Between, Some(EditMarker::Search)) => e.state = EditState::Search,
            // Fences, prose and stray markers between blocks mean nothing.
            (EditState::Between, _) => {}
            (EditState::Search, Some(EditMarker::Divider)) => e.state = EditState::Replace,
            (EditState::Search, Some(EditMarker::Search)) => {
                e.search.clear();
                problem = Some("SEARCH opened twice; the first one was ignored".to_string());
            }
            (EditState::Search, Some(EditMarker::Replace)) => {
                e.search.clear();
                e.state = EditState::Between;
                problem = Some(
                    "a block has no ======= divider between SEARCH and REPLACE; it was dropped"
                        .to_string(),
                );
            }
            (EditState::Search, None) => e.search.push(line.to_string()),
            (EditState::Replace, Some(EditMarker::Replace)) => e.take_block(),
            (EditState::Replace, Some(EditMarker::Search)) => {
                e.take_block();
                e.state = EditState::Search;
                problem = Some(
                    "a block is missing its >>>>>>> REPLACE line; it was closed at the next SEARCH"
                        .to_string(),
                );
            }
            (EditState::Replace, _) => e.replace.push(line.to_string()),
        }
        if let Some(message) = problem {
            let path = e.path.clone();
            self.diag(
                Diagnostic::new(DiagnosticKind::MalformedEdit, message)
                    .with_path(path)
                    .at_line(line_no),
            );
        }
    }

    fn close(&mut self, how: Close) {
        match std::mem::take(&mut self.block) {
            Block::File(f) => self.close_file(f, how),
            Block::Edit(e) => self.close_edit(e, how),
            Block::Outside | Block::Skip => {}
        }
    }

    fn close_file(&mut self, f: OpenFile, how: Close) {
        if f.oversized {
            self.diag(
                Diagnostic::new(
                    DiagnosticKind::LimitExceeded,
                    format!("the file is larger than {MAX_FILE_BYTES} bytes; it was dropped"),
                )
                .with_path(f.path)
                .at_line(f.start),
            );
            return;
        }
        let stripped = fence::strip_outer_fence(&f.path, &f.raw, true);
        // At the end of the input only a closed code fence proves the file is complete.
        let complete = how != Close::EndOfInput || stripped.closed;
        if how != Close::EndMarker && complete {
            let message = if how == Close::NextHeader {
                "no `=== END FILE ===` marker; the file ends at the next header"
            } else {
                "no `=== END FILE ===` marker; its closing code fence ends it"
            };
            self.diag(
                Diagnostic::new(DiagnosticKind::MissingEndMarker, message)
                    .with_path(f.path.clone())
                    .at_line(f.start),
            );
        }
        if !complete {
            let content = fence::strip_outer_fence(&f.path, &f.raw, false).content;
            self.diag(
                Diagnostic::new(
                    DiagnosticKind::Unterminated,
                    "the answer ends inside this file; request a continuation",
                )
                .with_path(f.path.clone())
                .at_line(f.start),
            );
            self.store(f.path.clone(), content, true, f.start);
            self.out.unfinished = Some(Unfinished {
                path: f.path,
                raw: f.raw,
            });
            return;
        }
        if stripped.dropped_lines > 0 {
            self.diag(
                Diagnostic::new(
                    DiagnosticKind::DroppedText,
                    format!(
                        "dropped {} line(s) of text after the closing code fence",
                        stripped.dropped_lines
                    ),
                )
                .with_path(f.path.clone())
                .at_line(f.start),
            );
        }
        self.store(f.path, stripped.content, false, f.start);
    }

    /// Adds a file, applying the duplicate rule: the last complete copy wins.
    fn store(&mut self, path: String, content: String, unterminated: bool, start: usize) {
        let resumed = self.resumed_path.as_deref() == Some(path.as_str());
        if resumed {
            self.resumed_path = None;
        }
        let Some(existing) = self.out.files.iter_mut().find(|f| f.path == path) else {
            self.out.files.push(ParsedFile {
                path,
                content,
                unterminated,
            });
            return;
        };
        let message = if existing.unterminated || !unterminated {
            let was_complete = !existing.unterminated;
            existing.content = content;
            existing.unterminated = unterminated;
            (was_complete && !resumed)
                .then_some("the file was emitted more than once; the last complete copy was kept")
        } else {
            (!resumed).then_some(
                "a later copy of the file is cut off; the earlier complete copy was kept",
            )
        };
        if let Some(message) = message {
            self.diag(
                Diagnostic::new(DiagnosticKind::DuplicateFile, message)
                    .with_path(path)
                    .at_line(start),
            );
        }
    }

    fn close_edit(&mut self, mut e: OpenEdit, how: Close) {
        let problem = match (e.state, how) {
            (EditState::Between, _) => None,
            (_, Close::EndOfInput) => Some(
                "the answer ends inside a SEARCH/REPLACE block; the incomplete block was dropped",
            ),
            (EditState::Replace, _) => {
                e.take_block();
                Some("a block is missing its >>>>>>> REPLACE line; it was closed at the end of the edit")
            }
            (EditState::Search, _) => {
                Some("a block has no ======= divider before the end of the edit; it was dropped")
            }
        };
        if let Some(message) = problem {
            self.diag(
                Diagnostic::new(DiagnosticKind::MalformedEdit, message)
                    .with_path(e.path.clone())
                    .at_line(self.line_no),
            );
        }
        if how == Close::NextHeader {
            self.diag(
                Diagnostic::new(
                    DiagnosticKind::MissingEndMarker,
                    "no `=== END EDIT ===` marker; the edit ends at the next header",
                )
                .with_path(e.path.clone())
                .at_line(e.start),
            );
        }
        if e.blocks.is_empty() {
            self.diag(
                Diagnostic::new(
                    DiagnosticKind::MalformedEdit,
                    "the edit has no complete SEARCH/REPLACE block; nothing to apply",
                )
                .with_path(e.path)
                .at_line(e.start),
            );
        } else {
            self.out.edits.push(FileEdit {
                path: e.path,
                blocks: e.blocks,
            });
        }
    }

    fn diag(&mut self, diagnostic: Diagnostic) {
        self.out.diagnostics.push(diagnostic);
    }
}

fn append(f: &mut OpenFile, line: &str, newline: bool) {
    if f.oversized {
        return;
    }
    if f.raw.len() + line.len() + 1 > MAX_FILE_BYTES {
        f.oversized = true;
        f.raw = String::new();
        return;
    }
    f.raw.push_str(line);
    if newline {
        f.raw.push('\n');
    }
}

fn first_nonblank(text: &str) -> Option<&str> {
    text.lines().find(|l| !l.trim().is_empty())
}

/// The first line that is neither blank nor a fence, trimmed: identifies where a file starts.
fn first_code_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && fence::fence_line(l).is_none())
}

/// `text` without its first non-blank line, if that line is a code fence.
fn strip_first_fence_line(text: &str) -> Option<&str> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            offset += line.len();
            continue;
        }
        return fence::fence_line(line).map(|_| &text[offset + line.len()..]);
    }
    None
}

/// Drops a sentence like "Continuing from where I left off:" when a code fence follows it.
fn skip_continuation_preamble(text: &str) -> &str {
    let mut lines = text.split_inclusive('\n').filter(|l| !l.trim().is_empty());
    match (lines.next(), lines.next()) {
        (Some(first), Some(second))
            if first.trim_end().ends_with(':') && fence::fence_line(second).is_some() =>
        {
            let at = text.find(first).map_or(0, |i| i + first.len());
            &text[at..]
        }
        _ => text,
    }
}

/// How much of a continuation repeats the end of the partial file.
///
/// Returns the number of leading continuation lines to skip, and whether the continuation repeats
/// the cut-off `partial` line in full (then the partial line is dropped, not completed).
fn overlap(earlier: &[&str], next: &[&str], partial: &str) -> (usize, bool) {
    let same = |a: &[&str], b: &[&str]| a.iter().zip(b).all(|(x, y)| x.trim() == y.trim());
    let weight = |lines: &[&str]| -> usize {
        lines
            .iter()
            .map(|l| l.chars().filter(|c| !c.is_whitespace()).count())
            .sum()
    };
    let cut = partial.trim();
    let most = earlier.len().min(next.len()).min(MAX_OVERLAP_LINES);
    if !cut.is_empty() {
        // k repeated full lines, then the cut line written out in full.
        for k in (0..=most.min(next.len().saturating_sub(1))).rev() {
            let suffix = &earlier[earlier.len() - k..];
            if same(suffix, &next[..k]) && next[k].trim_start().starts_with(cut) {
                return (k, true);
            }
        }
        return (0, false);
    }
    for k in (1..=most).rev() {
        let suffix = &earlier[earlier.len() - k..];
        if same(suffix, &next[..k]) && weight(&next[..k]) >= MIN_OVERLAP_CHARS {
            return (k, false);
        }
    }
    (0, false)
}

#[cfg(test)]
mod tests;
