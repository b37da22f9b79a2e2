//! Tolerant extraction of the plan's JSON object from a model answer.
//!
//! Models asked for "only JSON" still wrap it in prose and code fences, leave trailing commas,
//! write JavaScript (`'single'` quotes, `// comments`, unquoted keys), paste typographic quotes,
//! or stop mid-object when the token budget runs out. [`extract`] accepts all of that and returns a
//! [`serde_json::Value`]; what it cannot accept becomes a [`PlanError`] with the line and column
//! in the *original* answer, so the message can be shown to the model in a repair prompt.
//!
//! Key decision: strict first, repair second. A candidate object is first parsed as plain JSON; it
//! is normalised (comments stripped, quotes converted, trailing commas dropped, bare keys quoted)
//! only when strict parsing fails. Well-formed answers therefore go through `serde_json` untouched,
//! and the normaliser can be generous without ever changing the meaning of valid JSON. The
//! normaliser keeps a byte map back to the original text, so errors point at what the model wrote,
//! not at the repaired copy.
//!
//! Where the object is: code fences (```` ```json ````) are searched first, then the whole answer.
//! Inside either, the first `{` that opens a balanced object (aware of strings and comments) is a
//! candidate; a candidate that is not a plan (`{placeholder}` in prose) is skipped in favour of the
//! next one. An object that never closes is reported as [`PlanError::Truncated`] rather than
//! searched for smaller objects inside it, which would silently return a fragment of the plan.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Answers longer than this are refused: a plan is a few kilobytes, and the normaliser copies it.
pub const MAX_ANSWER_BYTES: usize = 512 * 1024;

/// The plan object found in an answer, with what had to be repaired to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// The JSON object.
    pub value: Value,
    /// Repairs applied, in first-use order; empty when the object was valid JSON.
    pub repairs: Vec<Repair>,
    /// 1-based line of the object's opening brace in the answer.
    pub line: usize,
    /// 1-based column (in characters) of the object's opening brace.
    pub column: usize,
}

/// A repair the normaliser applied to make an object parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repair {
    /// `// line` and `/* block */` comments were removed.
    StrippedComments,
    /// `'single-quoted'` strings or keys became double-quoted.
    ConvertedSingleQuotes,
    /// Typographic quotes (`“ ” ‘ ’ „`) used as string delimiters became `"`.
    ConvertedSmartQuotes,
    /// Commas before `}` or `]` were removed.
    RemovedTrailingCommas,
    /// Bare identifiers used as keys (`{name: 1}`) were quoted.
    QuotedKeys,
    /// Raw newlines or tabs inside strings were escaped.
    EscapedControlCharacters,
}

/// Why no plan object could be read from an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The answer is larger than [`MAX_ANSWER_BYTES`].
    #[error("the answer is {size} bytes; a plan answer may be at most {limit} bytes")]
    TooLarge {
        /// Size of the answer in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nothing in the answer looks like a JSON object.
    #[error(
        "no JSON object found in the answer; the plan must be one `{{ … }}` object \
         (maybe the model answered in prose only?)"
    )]
    NoObject,
    /// An object opens but the answer ends before it closes (usually the token limit).
    #[error(
        "plan JSON is truncated: the object opened at line {line}, column {column} is still open \
         at the end of the answer (missing `{missing}`); retry with a larger token budget or ask \
         for a shorter plan"
    )]
    Truncated {
        /// 1-based line of the unclosed object's opening brace.
        line: usize,
        /// 1-based column of that brace.
        column: usize,
        /// The closers that would complete it, innermost first (e.g. `"]}`).
        missing: String,
    },
    /// An object was found but is not JSON even after repairs.
    #[error("plan JSON is invalid at line {line}, column {column}: {detail}")]
    Invalid {
        /// 1-based line in the original answer.
        line: usize,
        /// 1-based column (in characters) in the original answer.
        column: usize,
        /// What the JSON parser expected there.
        detail: String,
    },
}

impl PlanError {
    /// True when the answer was cut off: asking again with more tokens may succeed.
    pub fn is_truncated(&self) -> bool {
        matches!(self, PlanError::Truncated { .. })
    }
}

/// The first plan object in `answer`, as a JSON value.
///
/// # Errors
///
/// [`PlanError`] when the answer is too large, holds no object, ends inside one, or holds only
/// objects that are not JSON even after repairs.
///
/// ```
/// let answer = "Here is the plan:\n```json\n{'name': 'Todo', pages: ['/'],}\n```\nEnjoy!";
/// let plan = generation::plan_json::extract(answer).unwrap();
/// assert_eq!(plan["name"], "Todo");
/// ```
pub fn extract(answer: &str) -> Result<serde_json::Value, PlanError> {
    extract_detailed(answer).map(|found| found.value)
}

/// Like [`extract`], and also says where the object was and which repairs were needed.
///
/// # Errors
///
/// As for [`extract`].
pub fn extract_detailed(answer: &str) -> Result<Extracted, PlanError> {
    if answer.len() > MAX_ANSWER_BYTES {
        return Err(PlanError::TooLarge {
            size: answer.len(),
            limit: MAX_ANSWER_BYTES,
        });
    }
    let mut worst: Option<Failure> = None;
    // Fences first: their content is what the model meant as "the JSON", and searching them
    // alone keeps apostrophes and braces in the surrounding prose out of the scanner.
    for range in fenced_blocks(answer) {
        if !answer[range.clone()].contains('{') {
            continue;
        }
        match search(answer, range) {
            Ok(found) => return Ok(found),
            Err(failure) => worst = Failure::worse(worst, failure),
        }
    }
    match search(answer, 0..answer.len()) {
        Ok(found) => Ok(found),
        Err(failure) => Err(Failure::worse(worst, failure)
            .map(|f| f.error)
            .unwrap_or(PlanError::NoObject)),
    }
}

/// A failed candidate, ranked so the most informative error is reported.
struct Failure {
    error: PlanError,
    /// Candidate length: the larger failed object is more likely the intended plan.
    size: usize,
}

impl Failure {
    fn rank(&self) -> (u8, usize) {
        match self.error {
            PlanError::Truncated { .. } => (3, self.size),
            PlanError::Invalid { .. } => (2, self.size),
            _ => (1, self.size),
        }
    }

    fn worse(current: Option<Failure>, new: Failure) -> Option<Failure> {
        match current {
            Some(old) if old.rank() >= new.rank() => Some(old),
            _ => Some(new),
        }
    }
}

/// Searches `answer[range]` for the first candidate object that parses.
fn search(answer: &str, range: std::ops::Range<usize>) -> Result<Extracted, Failure> {
    let mut pos = range.start;
    let mut empty: Option<Extracted> = None;
    let mut failure: Option<Failure> = None;
    while let Some(offset) = answer[pos..range.end].find('{') {
        let start = pos + offset;
        match scan_object(answer, start, range.end) {
            Scan::Closed(end) => {
                match parse_candidate(answer, start, end) {
                    // `{}` in prose ("return {} when empty") is not a plan; keep it only as a
                    // last resort.
                    Ok(found) if found.value.as_object().is_some_and(|o| o.is_empty()) => {
                        empty.get_or_insert(found);
                    }
                    Ok(found) => return Ok(found),
                    Err(f) => failure = Failure::worse(failure, f),
                }
                pos = end;
            }
            Scan::Open(missing) => {
                // Everything after an unclosed brace is inside it, so smaller objects there are
                // fragments of a truncated plan. The one exception is an object starting at column
                // 0 (plans are not indented, nested objects are): then the unclosed brace was
                // prose, like "a smiley :-{", and the real plan follows.
                if let Some(found) = rescue_after_stray_brace(answer, start + 1, range.end) {
                    return Ok(found);
                }
                let (line, column) = line_col(answer, start);
                let error = PlanError::Truncated {
                    line,
                    column,
                    missing,
                };
                failure = Failure::worse(
                    failure,
                    Failure {
                        error,
                        size: range.end - start,
                    },
                );
                break;
            }
        }
    }
    match (empty, failure) {
        (Some(found), _) => Ok(found),
        (None, Some(f)) => Err(f),
        (None, None) => Err(Failure {
            error: PlanError::NoObject,
            size: 0,
        }),
    }
}

fn rescue_after_stray_brace(answer: &str, from: usize, end: usize) -> Option<Extracted> {
    // Each attempt may scan to the end of the answer; a handful keeps adversarial input linear.
    const MAX_ATTEMPTS: usize = 8;
    let mut pos = from;
    let mut attempts = 0;
    while let Some(offset) = answer[pos..end].find("\n{") {
        attempts += 1;
        if attempts > MAX_ATTEMPTS {
            return None;
        }
        let start = pos + offset + 1;
        if let Scan::Closed(close) = scan_object(answer, start, end) {
            if let Ok(found) = parse_candidate(answer, start, close) {
                if found.value.as_object().is_some_and(|o| !o.is_empty()) {
                    return Some(found);
                }
            }
        }
        pos = start;
    }
    None
}

/// Result of scanning from an opening brace.
enum Scan {
    /// The object closes; the value is the byte offset just past its `}`.
    Closed(usize),
    /// The input ends first; the value is the closers that are missing, innermost first.
    Open(String),
}

/// Which quote opened a string, so the scanner knows which characters close it.
#[derive(Clone, Copy)]
enum Quote {
    Double,
    Single,
    SmartDouble,
    SmartSingle,
}

impl Quote {
    fn opening(c: char) -> Option<Quote> {
        match c {
            '"' => Some(Quote::Double),
            '\'' => Some(Quote::Single),
            '“' | '”' | '„' => Some(Quote::SmartDouble),
            // `’` alone is an apostrophe far more often than an opening quote.
            '‘' => Some(Quote::SmartSingle),
            _ => None,
        }
    }

    fn closes(self, c: char) -> bool {
        match self {
            Quote::Double => c == '"',
            Quote::Single => c == '\'',
            // Models mix typographic and straight quotes within one string.
            Quote::SmartDouble => matches!(c, '”' | '“' | '"'),
            Quote::SmartSingle => matches!(c, '’' | '\''),
        }
    }

    fn straight(self) -> char {
        match self {
            Quote::Double | Quote::SmartDouble => '"',
            Quote::Single | Quote::SmartSingle => '\'',
        }
    }
}

/// Finds where the object opening at `start` closes, skipping strings and comments.
fn scan_object(text: &str, start: usize, end: usize) -> Scan {
    let body = &text[start..end];
    let mut stack: Vec<char> = Vec::new();
    let mut quote: Option<Quote> = None;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if q.closes(c) {
                quote = None;
            }
            continue;
        }
        match c {
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            // A mismatched closer is left for the JSON parser to report with a position.
            '}' | ']' => {
                stack.pop();
                if stack.is_empty() {
                    return Scan::Closed(start + i + 1);
                }
            }
            '/' if matches!(chars.peek(), Some((_, '/'))) => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if matches!(chars.peek(), Some((_, '*'))) => {
                chars.next();
                let mut star = false;
                for (_, c) in chars.by_ref() {
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
            }
            c => quote = Quote::opening(c),
        }
    }
    let mut missing = String::new();
    if let Some(q) = quote {
        missing.push(q.straight());
    }
    missing.extend(stack.iter().rev());
    Scan::Open(missing)
}

/// Parses `answer[start..end]`: strictly, then normalised.
fn parse_candidate(answer: &str, start: usize, end: usize) -> Result<Extracted, Failure> {
    let src = &answer[start..end];
    let (line, column) = line_col(answer, start);
    if let Ok(value) = serde_json::from_str::<Value>(src) {
        return Ok(Extracted {
            value,
            repairs: Vec::new(),
            line,
            column,
        });
    }
    let normalised = Normaliser::new(src).run();
    match serde_json::from_str::<Value>(&normalised.out) {
        Ok(value) => Ok(Extracted {
            value,
            repairs: normalised.repairs,
            line,
            column,
        }),
        Err(err) => {
            let at = normalised.source_offset(err.line(), err.column());
            let (line, column) = line_col(answer, start + at);
            let message = err.to_string();
            // serde_json appends its own position, which refers to the repaired copy.
            let detail = match message.rfind(" at line ") {
                Some(cut) => message[..cut].to_string(),
                None => message,
            };
            Err(Failure {
                error: PlanError::Invalid {
                    line,
                    column,
                    detail,
                },
                size: end - start,
            })
        }
    }
}

/// 1-based line and character column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Byte ranges of the contents of markdown code fences (an unclosed fence runs to the end).
fn fenced_blocks(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, usize)> = None; // (fence char, length, content start)
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let next = line_start + line.len();
        let trimmed = line.trim();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        if let Some(m) = marker {
            let run = trimmed.chars().take_while(|c| *c == m).count();
            if run >= 3 {
                match open {
                    None => open = Some((m, run, next)),
                    Some((om, olen, content))
                        if m == om && run >= olen && trimmed.len() == run * m.len_utf8() =>
                    {
                        blocks.push(content..line_start);
                        open = None;
                    }
                    Some(_) => {}
                }
            }
        }
        line_start = next;
    }
    if let Some((_, _, content)) = open {
        blocks.push(content..text.len());
    }
    blocks
}

/// The normalised copy of a candidate, with a map from its bytes to the candidate's bytes.
struct Normalised {
    out: String,
    /// `map[i]` is the candidate byte offset that produced output byte `i`.
    map: Vec<usize>,
    repairs: Vec<Repair>,
    src_len: usize,
}

impl Normalised {
    /// Candidate byte offset for a `serde_json` error position in the normalised copy.
    fn source_offset(&self, line: usize, column: usize) -> usize {
        let mut start = 0;
        for _ in 1..line {
            match self.out[start..].find('\n') {
                Some(i) => start += i + 1,
                None => break,
            }
        }
        // serde_json reports the column after the offending byte.
        let at = start + column.saturating_sub(1);
        self.map.get(at).copied().unwrap_or(self.src_len)
    }
}

/// Rewrites JavaScript-ish object text into JSON, one pass, no backtracking.
struct Normaliser<'a> {
    src: &'a str,
    pos: usize,
    out: String,
    map: Vec<usize>,
    repairs: Vec<Repair>,
}

impl<'a> Normaliser<'a> {
    fn new(src: &'a str) -> Self {
        Normaliser {
            src,
            pos: 0,
            out: String::with_capacity(src.len() + 16),
            map: Vec::with_capacity(src.len() + 16),
            repairs: Vec::new(),
        }
    }

    fn run(mut self) -> Normalised {
        while let Some(c) = self.peek() {
            let at = self.pos;
            match c {
                '"' => self.double_quoted(),
                '/' if matches!(self.peek_second(), Some('/' | '*')) => {
                    self.pos = skip_comment(self.src, self.pos);
                    self.note(Repair::StrippedComments);
                }
                ',' => {
                    self.bump();
                    if matches!(next_significant(self.src, self.pos), Some('}' | ']')) {
                        self.note(Repair::RemovedTrailingCommas);
                    } else {
                        self.emit(',', at);
                    }
                }
                c if c.is_alphabetic() || c == '_' || c == '$' => self.identifier(),
                c => match Quote::opening(c) {
                    Some(q) => self.convert_quoted(q),
                    None => {
                        self.bump();
                        self.emit(c, at);
                    }
                },
            }
        }
        Normalised {
            out: self.out,
            map: self.map,
            repairs: self.repairs,
            src_len: self.src.len(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.src[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn emit(&mut self, c: char, at: usize) {
        self.out.push(c);
        self.map.extend(std::iter::repeat_n(at, c.len_utf8()));
    }

    fn emit_str(&mut self, s: &str, at: usize) {
        self.out.push_str(s);
        self.map.extend(std::iter::repeat_n(at, s.len()));
    }

    fn note(&mut self, repair: Repair) {
        if !self.repairs.contains(&repair) {
            self.repairs.push(repair);
        }
    }

    /// Emits a control character inside a string as a JSON escape.
    fn emit_control(&mut self, c: char, at: usize) {
        let escaped = match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c => format!("\\u{:04x}", c as u32),
        };
        self.emit_str(&escaped, at);
        self.note(Repair::EscapedControlCharacters);
    }

    fn double_quoted(&mut self) {
        let at = self.pos;
        self.bump();
        self.emit('"', at);
        loop {
            let at = self.pos;
            match self.bump() {
                None => return,
                Some('\\') => {
                    self.emit('\\', at);
                    let at = self.pos;
                    if let Some(next) = self.bump() {
                        self.emit(next, at);
                    }
                }
                Some('"') => {
                    self.emit('"', at);
                    return;
                }
                Some(c) if (c as u32) < 0x20 => self.emit_control(c, at),
                Some(c) => self.emit(c, at),
            }
        }
    }

    fn convert_quoted(&mut self, quote: Quote) {
        self.note(match quote {
            Quote::Single => Repair::ConvertedSingleQuotes,
            _ => Repair::ConvertedSmartQuotes,
        });
        let at = self.pos;
        self.bump();
        self.emit('"', at);
        loop {
            let at = self.pos;
            match self.bump() {
                None => return,
                Some('\\') => {
                    let at = self.pos;
                    match self.bump() {
                        // `\'` is not a JSON escape, and `'` needs none inside `"…"`.
                        Some('\'') => self.emit('\'', at),
                        Some(next) => {
                            self.emit('\\', at);
                            self.emit(next, at);
                        }
                        None => return,
                    }
                }
                Some(c) if quote.closes(c) => {
                    self.emit('"', at);
                    return;
                }
                Some('"') => self.emit_str("\\\"", at),
                Some(c) if (c as u32) < 0x20 => self.emit_control(c, at),
                Some(c) => self.emit(c, at),
            }
        }
    }

    fn identifier(&mut self) {
        let at = self.pos;
        let len = self.src[at..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.src.len() - at);
        let word = &self.src[at..at + len];
        self.pos += len;
        let is_key = next_significant(self.src, self.pos) == Some(':');
        if is_key && !matches!(word, "true" | "false" | "null") {
            self.note(Repair::QuotedKeys);
            self.emit_str(&format!("\"{word}\""), at);
        } else {
            self.emit_str(word, at);
        }
    }
}

/// Byte offset just past the comment starting at `pos` (`//` to the end of line, `/* … */`).
fn skip_comment(src: &str, pos: usize) -> usize {
    let rest = &src[pos..];
    if rest.starts_with("//") {
        pos + rest.find('\n').unwrap_or(rest.len())
    } else {
        pos + rest[2..].find("*/").map_or(rest.len(), |i| i + 4)
    }
}

/// The next character at or after `pos` that is neither whitespace nor inside a comment.
fn next_significant(src: &str, mut pos: usize) -> Option<char> {
    loop {
        let rest = &src[pos..];
        let c = rest.chars().next()?;
        if c.is_whitespace() {
            pos += c.len_utf8();
        } else if rest.starts_with("//") || rest.starts_with("/*") {
            pos = skip_comment(src, pos);
        } else {
            return Some(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn valid_json_is_returned_without_repairs() {
        let found = extract_detailed(r#"{"name": "Todo", "pages": ["/"]}"#).unwrap();
        assert_eq!(found.value, json!({"name": "Todo", "pages": ["/"]}));
        assert!(found.repairs.is_empty());
        assert_eq!((found.line, found.column), (1, 1));
    }

    #[test]
    fn an_object_in_a_json_fence_surrounded_by_prose_is_found() {
        let answer = "Sure! Here's the plan {as requested}:\n\n```json\n{\"name\": \"Notes\"}\n```\n\nLet me know if you'd like changes.";
        let found = extract_detailed(answer).unwrap();
        assert_eq!(found.value, json!({"name": "Notes"}));
        assert_eq!(found.line, 4);
    }

    #[test]
    fn javascript_style_objects_are_normalised() {
        let answer = "{\n  // the app\n  name: 'Bob\\'s \"shop\"',\n  /* pages */ pages: ['/', '/cart',],\n}";
        let found = extract_detailed(answer).unwrap();
        assert_eq!(
            found.value,
            json!({"name": "Bob's \"shop\"", "pages": ["/", "/cart"]})
        );
        for repair in [
            Repair::StrippedComments,
            Repair::ConvertedSingleQuotes,
            Repair::RemovedTrailingCommas,
            Repair::QuotedKeys,
        ] {
            assert!(found.repairs.contains(&repair), "{repair:?} missing");
        }
    }

    #[test]
    fn smart_quotes_are_converted_but_kept_inside_strings() {
        let answer = "{“name”: “Todo”, \"tagline\": \"the “best” list\"}";
        let found = extract_detailed(answer).unwrap();
        assert_eq!(found.value["name"], "Todo");
        assert_eq!(found.value["tagline"], "the “best” list");
        assert_eq!(found.repairs, vec![Repair::ConvertedSmartQuotes]);
    }

    #[test]
    fn urls_inside_strings_are_not_comments() {
        let value = extract(r#"{"url": "https://example.com/a//b", "n": 1,}"#).unwrap();
        assert_eq!(value["url"], "https://example.com/a//b");
    }

    #[test]
    fn raw_newlines_inside_strings_are_escaped() {
        let found = extract_detailed("{\"text\": \"line one\nline two\",}").unwrap();
        assert_eq!(found.value["text"], "line one\nline two");
        assert!(found.repairs.contains(&Repair::EscapedControlCharacters));
    }

    #[test]
    fn a_truncated_object_is_an_error_naming_the_missing_closers() {
        let answer =
            "```json\n{\n  \"name\": \"Todo\",\n  \"pages\": [{\"path\": \"/\"}, {\"path\": \"/ab";
        let err = extract(answer).unwrap_err();
        assert!(err.is_truncated());
        assert_eq!(
            err,
            PlanError::Truncated {
                line: 2,
                column: 1,
                missing: "\"}]}".into()
            }
        );
    }

    #[test]
    fn a_stray_brace_in_prose_does_not_hide_the_plan() {
        let answer = "I'm happy to help :-{ here it is\n{\"name\": \"Todo\"}\n";
        assert_eq!(extract(answer).unwrap(), json!({"name": "Todo"}));
    }

    #[test]
    fn an_invalid_object_reports_the_position_in_the_original_answer() {
        let answer = "Plan:\n{\n  // note\n  'name': 'Todo'\n  'pages': []\n}";
        match extract(answer).unwrap_err() {
            PlanError::Invalid { line, column, .. } => assert_eq!((line, column), (5, 3)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_answer_without_an_object_is_no_object() {
        assert_eq!(
            extract("I cannot help with that.").unwrap_err(),
            PlanError::NoObject
        );
    }

    #[test]
    fn an_empty_object_in_prose_is_only_a_last_resort() {
        let answer = "Return {} if empty. Plan: {\"name\": \"x\"}";
        assert_eq!(extract(answer).unwrap(), json!({"name": "x"}));
        assert_eq!(extract("just {}").unwrap(), json!({}));
    }

    #[test]
    fn an_oversized_answer_is_refused() {
        let big = "x".repeat(MAX_ANSWER_BYTES + 1);
        assert!(matches!(
            extract(&big).unwrap_err(),
            PlanError::TooLarge { .. }
        ));
    }

    proptest! {
        #[test]
        fn any_text_never_panics(text in "\\PC*") {
            let _ = extract(&text);
        }

        #[test]
        fn json_punctuation_soup_never_panics(text in "[{}\\[\\]'\"“”‘’/*,:a-z0-9 \n\\\\]{0,80}") {
            let _ = extract(&text);
        }

        #[test]
        fn any_valid_object_round_trips_through_prose_and_a_fence(
            map in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{0,12}", 1..6),
        ) {
            let value = serde_json::to_value(&map).unwrap();
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            let answer = format!("Here's the plan you asked for:\n```json\n{pretty}\n```\nThanks!");
            prop_assert_eq!(extract(&answer).unwrap(), value);
        }
    }
}
