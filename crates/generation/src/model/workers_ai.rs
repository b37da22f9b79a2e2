//! Workers AI's input and output shapes for text-generation models, as used through the `AI`
//! binding (`env.AI.run(model, input)`).
//!
//! Streaming answers are server-sent events, read by [`crate::sse`]: newer models send
//! OpenAI `chat.completion.chunk` lines, older ones `{"response": "…"}` chunks; both end with
//! `data: [DONE]`. Whole answers are either OpenAI-shaped (`choices`) or `{"response", "usage"}`.
//!
//! The input follows the model's documented schema (`@cf/zai-org/glm-4.7-flash`): the output
//! budget is `max_completion_tokens` (`max_tokens` is documented as deprecated in its favour).
//! GLM-4.7-Flash is a reasoning model with thinking on by default
//! (`chat_template_kwargs.enable_thinking`, default true), and thinking is paid from the same
//! budget, so left alone it can spend all of it thinking. [`Thinking::Off`] (the default) turns
//! thinking off so every output token goes to the answer; [`Thinking::Low`] leaves it on with the
//! documented `reasoning_effort: "low"`, for a short plan before the answer.

use serde_json::{json, Value};

use super::{openai, CallError, ChatRequest, Reply, Thinking};

/// The input object for `AI.run(model, input)`.
pub fn input(request: &ChatRequest, stream: bool, thinking: Thinking) -> Value {
    let mut input = json!({
        "messages": request.messages,
        "max_completion_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": stream,
    });
    match thinking {
        Thinking::Off => {
            input["chat_template_kwargs"] = json!({ "enable_thinking": false });
        }
        Thinking::Low => {
            input["chat_template_kwargs"] = json!({ "enable_thinking": true });
            input["reasoning_effort"] = json!("low");
        }
    }
    if let Some(schema) = &request.json_schema {
        input["response_format"] = json!({ "type": "json_schema", "json_schema": schema });
    }
    input
}

/// Parses a whole (non-streaming) answer.
pub fn parse_output(output: &Value) -> Result<Reply, CallError> {
    if output.get("choices").is_some() {
        return openai::reply_from_value("workers-ai", output);
    }
    let content = match output.get("response") {
        Some(Value::String(s)) => s.clone(),
        // With JSON mode the response may already be an object.
        Some(v @ (Value::Object(_) | Value::Array(_))) => v.to_string(),
        _ => {
            return Err(CallError::retryable(
                "workers-ai answered without a response field",
            ))
        }
    };
    Ok(Reply {
        content,
        finish_reason: output
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        usage: openai::usage(output),
        reasoning_chars: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Role};

    fn request() -> ChatRequest {
        ChatRequest {
            messages: vec![Message::new(Role::User, "u")],
            max_tokens: 512,
            temperature: 0.5,
            json_schema: None,
        }
    }

    #[test]
    fn input_turns_thinking_off_by_default_and_sends_the_documented_budget() {
        let i = input(&request(), true, Thinking::default());
        assert_eq!(
            i,
            json!({
                "messages": [{"role": "user", "content": "u"}],
                "max_completion_tokens": 512,
                "temperature": 0.5,
                "stream": true,
                "chat_template_kwargs": {"enable_thinking": false},
            })
        );
        assert!(i.get("max_tokens").is_none(), "max_tokens is deprecated");
        assert!(i.get("reasoning_effort").is_none());
    }

    #[test]
    fn input_with_a_low_thinking_budget_asks_for_low_reasoning_effort() {
        let i = input(&request(), false, Thinking::Low);
        assert_eq!(
            i,
            json!({
                "messages": [{"role": "user", "content": "u"}],
                "max_completion_tokens": 512,
                "temperature": 0.5,
                "stream": false,
                "chat_template_kwargs": {"enable_thinking": true},
                "reasoning_effort": "low",
            })
        );
    }

    #[test]
    fn input_keeps_the_json_schema_under_either_setting() {
        let mut r = request();
        r.json_schema = Some(json!({"name": "plan", "schema": {"type": "object"}}));
        for thinking in [Thinking::Off, Thinking::Low] {
            let i = input(&r, true, thinking);
            assert_eq!(i["response_format"]["type"], "json_schema");
            assert_eq!(i["response_format"]["json_schema"]["name"], "plan");
        }
    }

    #[test]
    fn parses_both_whole_answer_shapes() {
        let old = parse_output(
            &json!({"response": "hello", "usage": {"prompt_tokens": 5, "completion_tokens": 1}}),
        )
        .unwrap();
        assert_eq!(old.content, "hello");
        assert_eq!(old.usage, Some((5, 1)));
        let new = parse_output(
            &json!({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}),
        )
        .unwrap();
        assert_eq!(new.content, "hi");
        let obj = parse_output(&json!({"response": {"app_name": "X"}})).unwrap();
        assert_eq!(obj.content, r#"{"app_name":"X"}"#);
        assert!(parse_output(&json!({})).is_err());
    }
}

/// Classifies an error thrown by the `AI` binding (the binding throws, it has no status code):
/// capacity, rate limits, upstream and network trouble are retryable; input errors, unknown
/// models and exhausted allocations are terminal.
pub fn classify_binding_error(message: &str) -> CallError {
    let lower = message.to_ascii_lowercase();
    let text = format!("workers-ai: {}", message.trim());
    let retryable = [
        "capacity",
        "3040",
        "3043",
        "rate limit",
        "429",
        "too many requests",
        "inferenceupstreamerror",
        "upstream",
        "timeout",
        "timed out",
        "network connection lost",
        "internal server error",
        "internal error",
        "503",
        "502",
    ];
    if retryable.iter().any(|k| lower.contains(k)) {
        CallError::retryable(text)
    } else {
        CallError::Terminal(text)
    }
}

#[cfg(test)]
mod binding_error_tests {
    use super::*;

    #[test]
    fn binding_errors_are_classified_by_their_documented_kinds() {
        for m in [
            "AiError: AiError: Capacity temporarily exceeded, please try again. (3040)",
            "InferenceUpstreamError: upstream connect error",
            "Network connection lost.",
            "AiError: 3043: Internal server error",
        ] {
            assert!(classify_binding_error(m).is_retryable(), "{m}");
        }
        for m in [
            "AiError: 5007: No such model @cf/zai-org/glm-4.7-flashh or task",
            "AiError: 5006: Input validation error: max_tokens must be at most 131072",
            "AiError: 3036: Account limited: daily free allocation used up",
        ] {
            let e = classify_binding_error(m);
            assert!(!e.is_retryable(), "{m}");
            assert!(e.message().starts_with("workers-ai: AiError"));
        }
    }
}
