//! Server-sent events of streaming chat completions.
//!
//! Both providers stream text as SSE (`text/event-stream`), in two payload shapes:
//!
//! ```text
//! data: {"choices":[{"delta":{"content":"Hel"},"finish_reason":null}]}      OpenAI-compatible
//! data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30}}
//! data: {"response":"Hel"}                                                 Workers AI binding
//! data: {"response":"","usage":{"prompt_tokens":12,"completion_tokens":30}}
//! data: [DONE]
//! ```
//!
//! [`SseParser`] takes raw byte chunks exactly as the network delivers them (split anywhere,
//! even inside a UTF-8 character or a `\r\n`) and yields [`SseEvent`]s. It follows the SSE rules
//! (lines end in LF, CRLF or CR; `data:` lines accumulate until a blank line dispatches them;
//! `:` starts a comment; `event:` names the event) and tolerates what real servers do beyond
//! them: JSON lines with no `data:` prefix, several `data:` payloads without a blank line in
//! between, a last event with no blank line after it. Reasoning deltas (`reasoning_content`) of
//! thinking models are not content; they are counted separately so usage can be explained.
//!
//! Key decision: the parser buffers *bytes* up to a line end and only then decodes, so a
//! character split across chunks can never be decoded half-way; and it is sans-I/O, so the same
//! code runs on a Workers `ReadableStream`, a native HTTP client or a test fixture. A malformed
//! line becomes a [`Diagnostic`], never a panic or a lost stream.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Diagnostic, DiagnosticKind};

/// Longest accepted line; longer lines are dropped with a diagnostic (memory bound).
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Something the stream said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum SseEvent {
    /// More answer text.
    Delta {
        /// The text, never empty.
        content: String,
    },
    /// Token counts (usually in the last chunk; a later one supersedes an earlier one).
    Usage {
        /// Tokens in the prompt.
        prompt_tokens: u64,
        /// Tokens generated, reasoning included.
        completion_tokens: u64,
    },
    /// Why generation stopped: `stop`, `length` (token limit: ask for a continuation), ….
    Finish {
        /// The provider's reason, verbatim.
        reason: String,
    },
    /// The provider reported an error inside the stream.
    Error {
        /// Its message.
        message: String,
    },
    /// `data: [DONE]`: the stream is complete.
    Done,
}

/// Incremental SSE parser; feed it bytes, collect events.
///
/// ```
/// use generation::sse::{SseEvent, SseParser};
/// let mut parser = SseParser::new();
/// let mut events = parser.push(b"data: {\"response\":\"h\xC3");
/// events.extend(parser.push(b"\xA9\"}\n\ndata: [DONE]\n\n"));
/// assert_eq!(events, [SseEvent::Delta { content: "hé".into() }, SseEvent::Done]);
/// ```
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current line.
    line: Vec<u8>,
    /// The line was dropped for length; skip to its end.
    overlong: bool,
    /// The previous byte was `\r`: a following `\n` belongs to the same line end.
    after_cr: bool,
    /// `data:` lines of the current event, joined with `\n`.
    data: String,
    has_data: bool,
    event: String,
    line_no: usize,
    done: bool,
    reasoning_chars: usize,
    diagnostics: Vec<Diagnostic>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Feeds the next bytes; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        self.push_into(bytes, &mut events);
        events
    }

    /// Like [`SseParser::push`], appending to `events` (no allocation per chunk).
    pub fn push_into(&mut self, bytes: &[u8], events: &mut Vec<SseEvent>) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(i) => {
                    self.extend_line(&rest[..i]);
                    self.after_cr = rest[i] == b'\r';
                    self.end_line(events);
                    rest = &rest[i + 1..];
                }
                None => {
                    self.extend_line(rest);
                    rest = &[];
                }
            }
        }
    }

    /// Ends the stream: a last line or event without its terminator is still dispatched.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if !self.line.is_empty() || self.overlong {
            self.end_line(&mut events);
        }
        self.dispatch(&mut events);
        events
    }

    /// True once `data: [DONE]` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Characters of reasoning (`reasoning_content`) seen, which are not part of the answer.
    pub fn reasoning_chars(&self) -> usize {
        self.reasoning_chars
    }

    /// What was skipped or repaired so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    fn extend_line(&mut self, bytes: &[u8]) {
        if self.overlong {
            return;
        }
        if self.line.len() + bytes.len() > MAX_LINE_BYTES {
            self.overlong = true;
            self.line = Vec::new();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        self.line_no += 1;
        if std::mem::take(&mut self.overlong) {
            self.diag(
                DiagnosticKind::MalformedEvent,
                format!("a line longer than {MAX_LINE_BYTES} bytes was dropped"),
            );
            return;
        }
        let bytes = std::mem::take(&mut self.line);
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                self.diag(
                    DiagnosticKind::InvalidUtf8,
                    "the line is not valid UTF-8; invalid bytes were replaced with U+FFFD",
                );
                String::from_utf8_lossy(err.as_bytes()).into_owned()
            }
        };
        let line = match self.line_no {
            1 => text.strip_prefix('\u{feff}').unwrap_or(&text),
            _ => &text,
        };
        if line.is_empty() {
            return self.dispatch(events);
        }
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        if line.starts_with('{') {
            // NDJSON-style servers send bare JSON lines: each is a complete event.
            self.dispatch(events);
            self.add_data(line);
            return self.dispatch(events);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => self.add_data(value),
            "event" => self.event = value.to_string(),
            "id" | "retry" => {}
            _ => self.diag(
                DiagnosticKind::MalformedEvent,
                format!("unknown field {field:?} was ignored"),
            ),
        }
    }

    fn add_data(&mut self, value: &str) {
        if self.has_data {
            self.data.push('\n');
        }
        self.data.push_str(value);
        self.has_data = true;
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        let data = std::mem::take(&mut self.data);
        match event.as_str() {
            "error" => return events.push(SseEvent::Error { message: data }),
            // Heartbeats carry no completion data, whatever their payload.
            "ping" | "heartbeat" | "keepalive" => return,
            _ => {}
        }
        if self.payload(&data, events) {
            return;
        }
        // Several `data:` lines without blank lines between them: each may be a payload.
        if data.contains('\n') && data.lines().all(|l| l.trim().is_empty() || parses(l)) {
            for line in data.lines().filter(|l| !l.trim().is_empty()) {
                self.payload(line, events);
            }
            return;
        }
        let preview: String = data.chars().take(80).collect();
        self.diag(
            DiagnosticKind::MalformedEvent,
            format!("data is neither JSON nor [DONE] and was skipped: {preview:?}"),
        );
    }

    /// Handles one payload; false if it is not JSON or `[DONE]`.
    fn payload(&mut self, payload: &str, events: &mut Vec<SseEvent>) -> bool {
        if payload.trim() == "[DONE]" {
            if !self.done {
                events.push(SseEvent::Done);
            }
            self.done = true;
            return true;
        }
        let Ok(value) = serde_json::from_str::<Value>(payload) else {
            return false;
        };
        if self.done {
            self.diag(
                DiagnosticKind::MalformedEvent,
                "an event after [DONE] was ignored",
            );
            return true;
        }
        self.chunk(&value, events);
        true
    }

    /// Reads one JSON chunk in either shape.
    fn chunk(&mut self, value: &Value, events: &mut Vec<SseEvent>) {
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .map_or_else(|| error.to_string(), str::to_string);
            events.push(SseEvent::Error { message });
            return;
        }
        let mut understood = false;
        if let Some(choices) = value.get("choices").and_then(Value::as_array) {
            understood = true;
            // Only the first choice is the answer (n > 1 is never requested).
            let first = choices
                .iter()
                .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0);
            if let Some(choice) = first {
                let delta = choice.get("delta").or_else(|| choice.get("message"));
                let content = delta
                    .and_then(|d| d.get("content"))
                    .and_then(Value::as_str)
                    .or_else(|| choice.get("text").and_then(Value::as_str));
                push_delta(content, events);
                for key in ["reasoning_content", "reasoning"] {
                    if let Some(r) = delta.and_then(|d| d.get(key)).and_then(Value::as_str) {
                        self.reasoning_chars += r.chars().count();
                    }
                }
                if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                    events.push(SseEvent::Finish {
                        reason: reason.to_string(),
                    });
                }
            }
        }
        if let Some(response) = value.get("response") {
            understood = true;
            push_delta(response.as_str(), events);
        }
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            understood = true;
            let count = |key: &str| usage.get(key).and_then(Value::as_u64);
            let (prompt, completion) = (count("prompt_tokens"), count("completion_tokens"));
            if prompt.is_some() || completion.is_some() {
                events.push(SseEvent::Usage {
                    prompt_tokens: prompt.unwrap_or(0),
                    completion_tokens: completion.unwrap_or(0),
                });
            }
        }
        // `{}` is a heartbeat some proxies send; anything else unknown is worth a note.
        if !understood && value.as_object().is_none_or(|o| !o.is_empty()) {
            let preview: String = value.to_string().chars().take(80).collect();
            self.diag(
                DiagnosticKind::MalformedEvent,
                format!(
                    "a JSON event with neither `choices` nor `response` was ignored: {preview}"
                ),
            );
        }
    }

    fn diag(&mut self, kind: DiagnosticKind, message: impl Into<String>) {
        let diagnostic = Diagnostic::new(kind, message).at_line(self.line_no);
        self.diagnostics.push(diagnostic);
    }
}

fn parses(payload: &str) -> bool {
    payload.trim() == "[DONE]" || serde_json::from_str::<Value>(payload).is_ok()
}

fn push_delta(content: Option<&str>, events: &mut Vec<SseEvent>) {
    if let Some(content) = content.filter(|c| !c.is_empty()) {
        events.push(SseEvent::Delta {
            content: content.to_string(),
        });
    }
}

/// A whole completion folded from a stream, for callers that do not need deltas one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// All content deltas, concatenated.
    pub content: String,
    /// The last usage reported, as (prompt, completion) tokens.
    pub usage: Option<(u64, u64)>,
    /// The last finish reason reported.
    pub finish_reason: Option<String>,
    /// Errors the provider reported in the stream.
    pub errors: Vec<String>,
    /// `[DONE]` was received.
    pub done: bool,
    /// Reasoning characters (not part of `content`).
    pub reasoning_chars: usize,
    /// What the parser skipped.
    pub diagnostics: Vec<Diagnostic>,
}

impl Completion {
    /// Folds one event in.
    pub fn apply(&mut self, event: &SseEvent) {
        match event {
            SseEvent::Delta { content } => self.content.push_str(content),
            SseEvent::Usage {
                prompt_tokens,
                completion_tokens,
            } => self.usage = Some((*prompt_tokens, *completion_tokens)),
            SseEvent::Finish { reason } => self.finish_reason = Some(reason.clone()),
            SseEvent::Error { message } => self.errors.push(message.clone()),
            SseEvent::Done => self.done = true,
        }
    }

    /// True when the model stopped at its token limit: the answer is probably cut off.
    pub fn hit_token_limit(&self) -> bool {
        matches!(self.finish_reason.as_deref(), Some("length" | "max_tokens"))
    }
}

/// Parses a whole stream, delivered in chunks of any size.
pub fn collect<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Completion {
    let mut parser = SseParser::new();
    let mut completion = Completion::default();
    let mut events = Vec::new();
    for chunk in chunks {
        parser.push_into(chunk, &mut events);
    }
    events.extend(parser.finish());
    for event in &events {
        completion.apply(event);
    }
    completion.reasoning_chars = parser.reasoning_chars();
    completion.diagnostics = parser.diagnostics;
    completion
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(bytes: &[u8]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events = parser.push(bytes);
        events.extend(parser.finish());
        events
    }

    fn delta(s: &str) -> SseEvent {
        SseEvent::Delta { content: s.into() }
    }

    #[test]
    fn openai_chunks_yield_deltas_finish_usage_and_done() {
        let stream = concat!(
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n",
            "data: [DONE]\n\n",
        );
        assert_eq!(
            all(stream.as_bytes()),
            [
                delta("Hello"),
                SseEvent::Finish {
                    reason: "stop".into()
                },
                SseEvent::Usage {
                    prompt_tokens: 5,
                    completion_tokens: 1
                },
                SseEvent::Done,
            ]
        );
    }

    #[test]
    fn workers_ai_chunks_yield_deltas_and_usage() {
        let stream = "data: {\"response\":\"Hi\",\"p\":\"abcdef\"}\r\n\r\ndata: {\"response\":\"\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\r\n\r\ndata: [DONE]\r\n\r\n";
        assert_eq!(
            all(stream.as_bytes()),
            [
                delta("Hi"),
                SseEvent::Usage {
                    prompt_tokens: 3,
                    completion_tokens: 2
                },
                SseEvent::Done,
            ]
        );
    }

    #[test]
    fn comments_event_names_ids_and_cr_line_ends_are_handled() {
        let stream =
            ": keepalive\revent: message\rid: 7\rretry: 100\rdata: {\"response\":\"a\"}\r\r";
        assert_eq!(all(stream.as_bytes()), [delta("a")]);
    }

    #[test]
    fn multi_line_data_is_joined_before_parsing() {
        let stream = "data: {\"response\":\ndata: \"x\"}\n\n";
        assert_eq!(all(stream.as_bytes()), [delta("x")]);
    }

    #[test]
    fn payloads_without_blank_lines_between_them_are_all_read() {
        let stream = "data: {\"response\":\"a\"}\ndata: {\"response\":\"b\"}\ndata: [DONE]\n";
        assert_eq!(
            all(stream.as_bytes()),
            [delta("a"), delta("b"), SseEvent::Done]
        );
    }

    #[test]
    fn bare_json_lines_are_events() {
        let stream = "{\"response\":\"a\"}\n{\"response\":\"b\"}\n";
        assert_eq!(all(stream.as_bytes()), [delta("a"), delta("b")]);
    }

    #[test]
    fn reasoning_is_counted_not_emitted() {
        let stream = "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"Let me think\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n";
        let mut parser = SseParser::new();
        let events = parser.push(stream.as_bytes());
        assert_eq!(events, [delta("ok")]);
        assert_eq!(parser.reasoning_chars(), 12);
    }

    #[test]
    fn malformed_data_is_a_diagnostic_and_the_stream_goes_on() {
        let mut parser = SseParser::new();
        let events = parser
            .push(b"data: {\"response\": \"a\"\n\ndata: hello\n\ndata: {\"response\":\"b\"}\n\n");
        assert_eq!(events, [delta("b")]);
        assert_eq!(parser.diagnostics().len(), 2);
        assert_eq!(parser.diagnostics()[0].line, Some(2));
        assert!(parser.diagnostics()[1].message.contains("\"hello\""));
    }

    #[test]
    fn errors_in_the_stream_are_events() {
        let events = all(b"data: {\"error\":{\"message\":\"capacity exceeded\",\"code\":3040}}\n\nevent: error\ndata: upstream timeout\n\n");
        assert_eq!(
            events,
            [
                SseEvent::Error {
                    message: "capacity exceeded".into()
                },
                SseEvent::Error {
                    message: "upstream timeout".into()
                },
            ]
        );
    }

    #[test]
    fn heartbeats_are_skipped_silently() {
        let mut parser = SseParser::new();
        let events = parser.push(b"event: ping\ndata: {\"type\":\"ping\"}\n\ndata: {}\n\n");
        assert!(events.is_empty());
        assert!(parser.diagnostics().is_empty());
    }

    #[test]
    fn unknown_json_shapes_are_reported() {
        let mut parser = SseParser::new();
        assert!(parser.push(b"data: {\"foo\":1}\n\n").is_empty());
        assert_eq!(parser.diagnostics()[0].kind, DiagnosticKind::MalformedEvent);
    }

    #[test]
    fn done_is_reported_once_and_later_events_are_ignored() {
        let mut parser = SseParser::new();
        let events =
            parser.push(b"data: [DONE]\n\ndata: [DONE]\n\ndata: {\"response\":\"late\"}\n\n");
        assert_eq!(events, [SseEvent::Done]);
        assert!(parser.is_done());
        assert_eq!(parser.diagnostics().len(), 1);
    }

    #[test]
    fn a_last_event_without_a_blank_line_is_dispatched_at_finish() {
        assert_eq!(all(b"data: {\"response\":\"end\"}"), [delta("end")]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_reported() {
        let mut parser = SseParser::new();
        let events = parser.push(b"data: {\"response\":\"a\xFFb\"}\n\n");
        assert_eq!(events, [delta("a\u{FFFD}b")]);
        assert_eq!(parser.diagnostics()[0].kind, DiagnosticKind::InvalidUtf8);
    }

    #[test]
    fn collect_folds_a_stream_and_spots_the_token_limit() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"=== FILE: worker.js ===\\nexport\"},\"finish_reason\":\"length\"}]}\n\n";
        let completion = collect(stream.chunks(7));
        assert_eq!(completion.content, "=== FILE: worker.js ===\nexport");
        assert!(completion.hit_token_limit());
        assert!(!completion.done);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), split in 1usize..17) {
            let mut parser = SseParser::new();
            for chunk in bytes.chunks(split) {
                parser.push(chunk);
            }
            parser.finish();
        }

        #[test]
        fn chunk_boundaries_never_change_the_events(
            words in proptest::collection::vec("[a-zé€😀 \\n\"\\\\]{0,6}", 1..12),
            crlf in any::<bool>(),
            split in 1usize..23,
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut stream = String::from(": ping\n");
            for (i, word) in words.iter().enumerate() {
                let payload = if i % 2 == 0 {
                    serde_json::json!({"response": word})
                } else {
                    serde_json::json!({"choices": [{"delta": {"content": word}}]})
                };
                stream.push_str(&format!("data: {payload}{eol}{eol}"));
            }
            stream.push_str("data: [DONE]");
            let whole = collect([stream.as_bytes()]);
            let split_up = collect(stream.as_bytes().chunks(split));
            prop_assert_eq!(&whole, &split_up);
            prop_assert_eq!(whole.content, words.concat());
            prop_assert!(whole.done);
        }
    }
}
