//! Language-model providers behind one port: request and response shapes, settings, prices and
//! retries. Pure: the Worker supplies the transport (`fetch`, the `AI` binding) and a sleep.
//!
//! | provider | setting `KILN_MODEL_PROVIDER` | transport |
//! |---|---|---|
//! | built-in offline generator | `offline` (default) | none: the `planner` and `scaffold` crates |
//! | Workers AI | `workers-ai` | the `AI` binding, model `@cf/zai-org/glm-4.7-flash` by default |
//! | any OpenAI-compatible endpoint | `openai` | HTTPS `POST {base}/chat/completions` |
//!
//! Both model providers stream (server-sent events, parsed by [`crate::sse`], which
//! reads OpenAI `chat.completion.chunk` lines and Workers AI's older `{"response": …}` chunks)
//! and fall back to whole answers when streaming is turned off.
//!
//! Key decision: the port is one method, [`ChatModel::complete`], taking a provider-neutral
//! [`ChatRequest`]. The generation logic ([`crate::session`]) is written once against
//! it and tested natively with scripted models; each provider only maps the request to its wire
//! format ([`openai::body`], [`workers_ai::input`]) and the answer back ([`Reply`]).

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

pub mod openai;
mod settings;
pub mod workers_ai;

pub use settings::{ModelSettings, ProviderKind, SettingError, Thinking, DEFAULT_WORKERS_AI_MODEL};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The request.
    User,
    /// An earlier answer (for continuations and repairs).
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl Message {
    /// A message of `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// A provider-neutral chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation, system message first.
    pub messages: Vec<Message>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// A JSON Schema the answer must follow, for providers with structured output.
    pub json_schema: Option<serde_json::Value>,
}

impl ChatRequest {
    /// Characters in all messages: the basis of the token estimate when a provider reports none.
    pub fn chars(&self) -> usize {
        self.messages
            .iter()
            .map(|m| m.content.chars().count())
            .sum()
    }
}

/// A model's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The answer text.
    pub content: String,
    /// `stop`, `length`, …; `None` if the provider did not say.
    pub finish_reason: Option<String>,
    /// (input, output) tokens as reported by the provider.
    pub usage: Option<(u64, u64)>,
    /// Characters of reasoning the model produced outside the answer.
    pub reasoning_chars: usize,
}

impl Reply {
    /// The answer stopped at the token limit.
    pub fn hit_token_limit(&self) -> bool {
        matches!(self.finish_reason.as_deref(), Some("length" | "max_tokens"))
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Worth trying again: rate limit, server error, timeout, broken stream.
    Retryable {
        /// What happened, with the provider's message.
        message: String,
        /// The provider's `Retry-After`, in milliseconds.
        retry_after_ms: Option<u64>,
    },
    /// Trying again would fail the same way: bad request, auth, unknown model.
    Terminal(String),
}

impl CallError {
    /// A retryable error without a retry hint.
    pub fn retryable(message: impl Into<String>) -> Self {
        CallError::Retryable {
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            CallError::Retryable { message, .. } | CallError::Terminal(message) => message,
        }
    }

    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CallError::Retryable { .. })
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// The port every provider implements.
///
/// Futures need not be `Send` (a Worker is single-threaded).
#[allow(async_fn_in_trait)]
pub trait ChatModel {
    /// Provider name for events (`workers-ai`, `openai`).
    fn provider(&self) -> &str;
    /// Model name for events.
    fn model(&self) -> &str;
    /// One call, no retries (see [`complete_with_retries`]).
    async fn complete(&self, request: &ChatRequest) -> Result<Reply, CallError>;
}

/// Tokens at list prices, in US dollars per million.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    /// Input (prompt) tokens.
    pub input_per_million: f64,
    /// Output (completion) tokens.
    pub output_per_million: f64,
}

/// GLM-4.7-Flash on Workers AI: $0.06 per million input and $0.40 per million output tokens.
pub const GLM_47_FLASH_PRICING: Pricing = Pricing {
    input_per_million: 0.06,
    output_per_million: 0.40,
};

impl Pricing {
    /// The cost of a call in nano-dollars (10⁻⁹ USD), so sums stay exact integers.
    pub fn cost_nano_usd(&self, input_tokens: u64, output_tokens: u64) -> u64 {
        let nano = input_tokens as f64 * self.input_per_million * 1_000.0
            + output_tokens as f64 * self.output_per_million * 1_000.0;
        nano.round() as u64
    }
}

/// The token estimate used when a provider reports no usage: one token per four characters,
/// rounded up (close for English and code with common tokenizers).
pub fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

/// How a step retries one call before giving up (the step itself is retried by the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRetry {
    /// Attempts in total.
    pub attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_delay_ms: u64,
    /// Longest delay, also the cap for a provider's `Retry-After`.
    pub max_delay_ms: u64,
}

/// Three attempts, 0.5 s then 1 s apart (or the provider's `Retry-After`, at most 8 s).
pub const DEFAULT_CALL_RETRY: CallRetry = CallRetry {
    attempts: 3,
    base_delay_ms: 500,
    max_delay_ms: 8_000,
};

impl CallRetry {
    /// The delay before retry number `retry` (1-based).
    pub fn delay_ms(&self, retry: u32, hint: Option<u64>) -> u64 {
        let backoff = self
            .base_delay_ms
            .saturating_mul(1u64 << (retry.saturating_sub(1)).min(16));
        hint.unwrap_or(backoff).min(self.max_delay_ms)
    }
}

/// Calls `model`, retrying retryable errors with backoff; terminal errors return at once.
/// Returns the last error when every attempt failed, and the number of failed attempts.
pub async fn complete_with_retries<M, S, F>(
    model: &M,
    request: &ChatRequest,
    policy: CallRetry,
    sleep: S,
) -> (Result<Reply, CallError>, Vec<CallError>)
where
    M: ChatModel,
    S: Fn(u64) -> F,
    F: Future<Output = ()>,
{
    let mut failures = Vec::new();
    let attempts = policy.attempts.max(1);
    for attempt in 1..=attempts {
        let outcome = match model.complete(request).await {
            Ok(reply) if reply.content.trim().is_empty() => {
                Err(no_content(model.provider(), &reply))
            }
            other => other,
        };
        match outcome {
            Ok(reply) => return (Ok(reply), failures),
            Err(e @ CallError::Terminal(_)) => return (Err(e), failures),
            Err(e) => {
                if attempt == attempts {
                    return (Err(e), failures);
                }
                let hint = match &e {
                    CallError::Retryable { retry_after_ms, .. } => *retry_after_ms,
                    CallError::Terminal(_) => None,
                };
                failures.push(e);
                sleep(policy.delay_ms(attempt, hint)).await;
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// The error for an answer without content (retryable: the next attempt usually has one). A
/// reasoning model that spent the whole output budget thinking answers like this (GLM-4.7-Flash
/// thinks by default; Kiln's Workers AI input turns thinking off unless `KILN_MODEL_THINKING` gives
/// it a budget), and the message says so.
pub fn no_content(provider: &str, reply: &Reply) -> CallError {
    let finish = reply.finish_reason.as_deref().unwrap_or("none");
    let message = if reply.reasoning_chars > 0 {
        format!(
            "{provider} answered with no content: {} characters of reasoning used the output budget (finish reason {finish}); thinking must be off (chat_template_kwargs.enable_thinking = false, KILN_MODEL_THINKING=off) or the budget larger (KILN_MODEL_MAX_TOKENS)",
            reply.reasoning_chars
        )
    } else {
        format!("{provider} answered with no content (finish reason {finish})")
    };
    CallError::retryable(message)
}

/// Maps an HTTP error status and body of a model endpoint to a [`CallError`] with the provider's
/// own message: 408, 409, 429 and 5xx are retryable, other 4xx terminal.
pub fn error_for_status(
    provider: &str,
    status: u16,
    body: &str,
    retry_after: Option<&str>,
) -> CallError {
    let detail = provider_message(body);
    let message = format!("{provider} answered HTTP {status}: {detail}");
    match status {
        408 | 409 | 429 | 500..=599 => CallError::Retryable {
            message,
            retry_after_ms: retry_after.and_then(parse_retry_after),
        },
        _ => CallError::Terminal(message),
    }
}

/// The human message inside an error body: OpenAI's `{"error": {"message"}}`, Workers AI's
/// `{"errors": [{"message"}]}`, a plain string, or the (shortened) body itself.
pub fn provider_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/errors/0/message"))
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    let text = if text.is_empty() {
        "no details".to_string()
    } else {
        text
    };
    shorten(&text, 300)
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// `Retry-After` in seconds (HTTP dates are not used by model APIs) → milliseconds.
fn parse_retry_after(raw: &str) -> Option<u64> {
    let secs: f64 = raw.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64)
}

/// Reads one streamed answer chunk by chunk, as the network delivers it, for any provider.
#[derive(Debug, Default)]
pub struct StreamReader {
    parser: crate::sse::SseParser,
    completion: crate::sse::Completion,
}

impl StreamReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes (split anywhere).
    pub fn push(&mut self, bytes: &[u8]) {
        for event in self.parser.push(bytes) {
            self.completion.apply(&event);
        }
    }

    /// The answer, once the stream has ended (see [`reply_from_stream`]).
    pub fn finish(mut self, provider: &str) -> Result<Reply, CallError> {
        for event in self.parser.finish() {
            self.completion.apply(&event);
        }
        self.completion.reasoning_chars = self.parser.reasoning_chars();
        reply_from_stream(provider, self.completion)
    }
}

/// Folds a streamed answer into a [`Reply`]; an error inside the stream or a stream that ended
/// without a finish reason or `[DONE]` is retryable.
pub fn reply_from_stream(
    provider: &str,
    completion: crate::sse::Completion,
) -> Result<Reply, CallError> {
    if let Some(e) = completion.errors.first() {
        return Err(CallError::retryable(format!(
            "{provider} reported an error in the stream: {}",
            shorten(e, 300)
        )));
    }
    if !completion.done && completion.finish_reason.is_none() {
        return Err(CallError::retryable(format!(
            "{provider} closed the stream before the answer was complete ({} characters received)",
            completion.content.len()
        )));
    }
    Ok(Reply {
        content: completion.content,
        finish_reason: completion.finish_reason,
        usage: completion.usage,
        reasoning_chars: completion.reasoning_chars,
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! A scripted [`ChatModel`] and a minimal executor for native tests.
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Answers from a queue; records every request.
    pub struct Scripted {
        pub answers: RefCell<VecDeque<Result<Reply, CallError>>>,
        pub requests: RefCell<Vec<ChatRequest>>,
    }

    impl Scripted {
        pub fn new(answers: Vec<Result<Reply, CallError>>) -> Self {
            Scripted {
                answers: RefCell::new(answers.into()),
                requests: RefCell::new(Vec::new()),
            }
        }
    }

    /// A complete answer with usage.
    pub fn answer(text: &str) -> Result<Reply, CallError> {
        Ok(Reply {
            content: text.to_string(),
            finish_reason: Some("stop".into()),
            usage: Some((100, estimate_tokens(text.len()))),
            reasoning_chars: 0,
        })
    }

    impl ChatModel for Scripted {
        fn provider(&self) -> &str {
            "scripted"
        }
        fn model(&self) -> &str {
            "scripted-model"
        }
        async fn complete(&self, request: &ChatRequest) -> Result<Reply, CallError> {
            self.requests.borrow_mut().push(request.clone());
            self.answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| Err(CallError::Terminal("script exhausted".into())))
        }
    }

    /// Runs a future that never waits on I/O to completion.
    pub fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    pub async fn no_sleep(_ms: u64) {}
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use std::cell::RefCell;

    fn request() -> ChatRequest {
        ChatRequest {
            messages: vec![Message::new(Role::User, "hi")],
            max_tokens: 10,
            temperature: 0.0,
            json_schema: None,
        }
    }

    #[test]
    fn an_answer_spent_on_thinking_is_retried_and_then_fails_naming_the_cause() {
        let thought = || {
            Ok(Reply {
                content: String::new(),
                finish_reason: Some("length".into()),
                usage: Some((100, 10)),
                reasoning_chars: 4000,
            })
        };
        let m = Scripted::new(vec![thought(), answer("done")]);
        let (result, failures) = block_on(complete_with_retries(
            &m,
            &request(),
            DEFAULT_CALL_RETRY,
            no_sleep,
        ));
        assert_eq!(result.unwrap().content, "done");
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0]
                .message()
                .contains("4000 characters of reasoning"),
            "{}",
            failures[0].message()
        );

        let m = Scripted::new(
            (0..DEFAULT_CALL_RETRY.attempts)
                .map(|_| thought())
                .collect(),
        );
        let (result, _) = block_on(complete_with_retries(
            &m,
            &request(),
            DEFAULT_CALL_RETRY,
            no_sleep,
        ));
        let e = result.unwrap_err();
        assert!(e.is_retryable());
        assert!(
            e.message().starts_with("scripted answered with no content"),
            "{}",
            e.message()
        );
        assert!(
            e.message().contains("enable_thinking = false"),
            "{}",
            e.message()
        );

        let m = Scripted::new(vec![answer("  \n"), answer("ok")]);
        let (result, failures) = block_on(complete_with_retries(
            &m,
            &request(),
            DEFAULT_CALL_RETRY,
            no_sleep,
        ));
        assert_eq!(result.unwrap().content, "ok");
        assert_eq!(
            failures[0].message(),
            "scripted answered with no content (finish reason stop)"
        );
    }

    #[test]
    fn retries_retryable_errors_with_backoff_and_stops_at_terminal_ones() {
        let m = Scripted::new(vec![
            Err(error_for_status(
                "openai",
                429,
                r#"{"error":{"message":"Rate limit reached"}}"#,
                Some("0"),
            )),
            Err(error_for_status("openai", 500, "oops", None)),
            answer("done"),
        ]);
        let delays = RefCell::new(Vec::new());
        let (result, failures) = block_on(complete_with_retries(
            &m,
            &request(),
            DEFAULT_CALL_RETRY,
            |ms| {
                delays.borrow_mut().push(ms);
                no_sleep(ms)
            },
        ));
        assert_eq!(result.unwrap().content, "done");
        assert_eq!(failures.len(), 2);
        assert!(failures[0].message().contains("Rate limit reached"));
        // Retry-After: 0 is honoured; then exponential backoff.
        assert_eq!(*delays.borrow(), vec![0, 1000]);

        let m = Scripted::new(vec![Err(error_for_status(
            "openai",
            400,
            r#"{"error":{"message":"max_tokens is too large"}}"#,
            None,
        ))]);
        let (result, failures) = block_on(complete_with_retries(
            &m,
            &request(),
            DEFAULT_CALL_RETRY,
            no_sleep,
        ));
        let err = result.unwrap_err();
        assert!(!err.is_retryable());
        assert_eq!(
            err.message(),
            "openai answered HTTP 400: max_tokens is too large"
        );
        assert!(failures.is_empty());
        assert_eq!(m.requests.borrow().len(), 1);
    }

    #[test]
    fn gives_up_after_the_last_attempt_with_the_last_error() {
        let m = Scripted::new(
            (0..5)
                .map(|_| Err(error_for_status("openai", 503, "busy", None)))
                .collect(),
        );
        let (result, failures) = block_on(complete_with_retries(
            &m,
            &request(),
            DEFAULT_CALL_RETRY,
            no_sleep,
        ));
        assert!(result.unwrap_err().is_retryable());
        assert_eq!(failures.len(), 2);
        assert_eq!(m.requests.borrow().len(), 3);
    }

    #[test]
    fn status_classes_and_provider_messages() {
        for (status, retryable) in [
            (408, true),
            (429, true),
            (500, true),
            (503, true),
            (400, false),
            (401, false),
            (404, false),
            (422, false),
        ] {
            assert_eq!(
                error_for_status("p", status, "", None).is_retryable(),
                retryable,
                "{status}"
            );
        }
        assert_eq!(
            provider_message(r#"{"errors":[{"message":"AiError: bad input"}]}"#),
            "AiError: bad input"
        );
        assert_eq!(provider_message(r#"{"error":"nope"}"#), "nope");
        assert_eq!(provider_message("  "), "no details");
        assert_eq!(provider_message(&"x".repeat(400)).chars().count(), 301);
        let e = error_for_status("p", 429, "", Some("2.5"));
        assert_eq!(
            e,
            CallError::Retryable {
                message: "p answered HTTP 429: no details".into(),
                retry_after_ms: Some(2500)
            }
        );
        assert_eq!(DEFAULT_CALL_RETRY.delay_ms(1, Some(60_000)), 8_000);
    }

    #[test]
    fn prices_are_exact_in_nano_dollars() {
        // 1M input + 1M output tokens = $0.46.
        assert_eq!(
            GLM_47_FLASH_PRICING.cost_nano_usd(1_000_000, 1_000_000),
            460_000_000
        );
        assert_eq!(GLM_47_FLASH_PRICING.cost_nano_usd(1, 1), 460);
        assert_eq!(estimate_tokens(0), 0);
        assert_eq!(estimate_tokens(5), 2);
    }

    #[test]
    fn streams_that_break_off_or_report_errors_are_retryable() {
        use crate::sse::collect;
        let ok = collect([&b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"[..]]);
        assert_eq!(reply_from_stream("p", ok).unwrap().content, "hi");
        let cut = collect([&b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"[..]]);
        assert!(reply_from_stream("p", cut).unwrap_err().is_retryable());
    }
}
