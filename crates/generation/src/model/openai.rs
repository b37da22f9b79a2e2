//! The OpenAI chat-completions wire format (also spoken by Ollama, vLLM, llama.cpp's server and
//! Workers AI's compatible endpoint).

use serde_json::{json, Value};

use super::{CallError, ChatRequest, Reply};

/// The request body of `POST {base}/chat/completions`.
pub fn body(model: &str, request: &ChatRequest, stream: bool) -> Value {
    let mut body = json!({
        "model": model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": stream,
    });
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    if let Some(schema) = &request.json_schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": { "name": "app_plan", "schema": schema },
        });
    }
    body
}

/// The URL of the chat-completions endpoint under `base_url`.
pub fn endpoint(base_url: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

/// Parses a non-streaming `chat.completion` body.
pub fn parse_response(provider: &str, body: &str) -> Result<Reply, CallError> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        CallError::retryable(format!("{provider} answered with malformed JSON: {e}"))
    })?;
    reply_from_value(provider, &v)
}

/// A [`Reply`] from an OpenAI-shaped completion object.
pub fn reply_from_value(provider: &str, v: &Value) -> Result<Reply, CallError> {
    if let Some(message) = v.pointer("/error/message").and_then(Value::as_str) {
        return Err(CallError::retryable(format!(
            "{provider} reported: {message}"
        )));
    }
    let choice = v
        .pointer("/choices/0")
        .ok_or_else(|| CallError::retryable(format!("{provider} answered without choices")))?;
    let content = choice
        .pointer("/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let reasoning_chars = choice
        .pointer("/message/reasoning_content")
        .or_else(|| choice.pointer("/message/reasoning"))
        .and_then(Value::as_str)
        .map_or(0, str::len);
    Ok(Reply {
        content,
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        usage: usage(v),
        reasoning_chars,
    })
}

/// `usage.prompt_tokens` / `completion_tokens`, when present.
pub fn usage(v: &Value) -> Option<(u64, u64)> {
    let u = v.get("usage")?;
    Some((
        u.get("prompt_tokens").and_then(Value::as_u64)?,
        u.get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Role};

    fn req(schema: bool) -> ChatRequest {
        ChatRequest {
            messages: vec![
                Message::new(Role::System, "s"),
                Message::new(Role::User, "u"),
            ],
            max_tokens: 100,
            temperature: 0.2,
            json_schema: schema.then(|| json!({"type": "object"})),
        }
    }

    #[test]
    fn bodies_follow_the_contract() {
        let b = body("m", &req(false), true);
        assert_eq!(b["model"], "m");
        assert_eq!(b["messages"][0], json!({"role": "system", "content": "s"}));
        assert_eq!(b["stream"], true);
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert!(b.get("response_format").is_none());
        let b = body("m", &req(true), false);
        assert!(b.get("stream_options").is_none());
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(
            b["response_format"]["json_schema"]["schema"]["type"],
            "object"
        );
        assert_eq!(endpoint("http://h/v1/"), "http://h/v1/chat/completions");
    }

    #[test]
    fn parses_completions_with_usage_and_reasoning() {
        let r = parse_response(
            "openai",
            r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning_content":"think"},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#,
        )
        .unwrap();
        assert_eq!(r.content, "hi");
        assert!(r.hit_token_limit());
        assert_eq!(r.usage, Some((12, 3)));
        assert_eq!(r.reasoning_chars, 5);
        assert!(parse_response("openai", "{").unwrap_err().is_retryable());
        assert!(parse_response("openai", r#"{"choices":[]}"#).is_err());
    }
}
