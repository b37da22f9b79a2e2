//! The model providers' transports: `fetch` for OpenAI-compatible endpoints and the `AI` binding
//! for Workers AI. Everything above the wire (request shapes, streaming, errors, retries) is in
//! `generation::model`; this adapter only moves bytes.

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use generation::model::{
    error_for_status, openai, workers_ai, CallError, ChatModel, ChatRequest, ModelSettings,
    ProviderKind, Reply, StreamReader, Thinking,
};
use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{AbortSignal, Delay, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::error::ApiError;

/// A connected model provider.
pub enum Provider {
    /// Workers AI through the `AI` binding.
    WorkersAi {
        /// The binding object.
        ai: JsValue,
        /// Model name.
        model: String,
        /// Stream answers.
        stream: bool,
        /// Per-call timeout.
        timeout_ms: u64,
        /// Thinking off, or a low reasoning effort (`KILN_MODEL_THINKING`).
        thinking: Thinking,
    },
    /// An OpenAI-compatible endpoint.
    OpenAi {
        /// Base URL.
        base_url: String,
        /// Bearer token.
        api_key: String,
        /// Model name.
        model: String,
        /// Stream answers.
        stream: bool,
        /// Per-call timeout.
        timeout_ms: u64,
    },
}

impl Provider {
    /// The provider the settings name; `None` for the offline generator. A missing `AI` binding
    /// is a configuration error naming the fix.
    pub fn connect(env: &Env, settings: &ModelSettings) -> Result<Option<Provider>, ApiError> {
        Ok(match &settings.provider {
            ProviderKind::Offline => None,
            ProviderKind::WorkersAi => {
                // The binding is used through its documented method only (`run(model, inputs)`),
                // so anything that has it serves: the Workers AI binding, or a service binding to
                // an entrypoint that speaks the same contract (the e2e stand-in).
                let env_value: &JsValue = env.as_ref();
                let ai = Reflect::get(env_value, &"AI".into())
                    .ok()
                    .filter(|ai| ai.is_object())
                    .ok_or_else(|| {
                        ApiError::Misconfigured(
                            "setting KILN_MODEL_PROVIDER: workers-ai needs the AI binding; add `[ai] binding = \"AI\"` to wrangler.toml".into(),
                        )
                    })?;
                Some(Provider::WorkersAi {
                    ai,
                    model: settings.model.clone(),
                    stream: settings.stream,
                    timeout_ms: settings.timeout_ms,
                    thinking: settings.thinking,
                })
            }
            ProviderKind::OpenAi { base_url, api_key } => Some(Provider::OpenAi {
                base_url: base_url.clone(),
                api_key: api_key.clone(),
                model: settings.model.clone(),
                stream: settings.stream,
                timeout_ms: settings.timeout_ms,
            }),
        })
    }
}

impl ChatModel for Provider {
    fn provider(&self) -> &str {
        match self {
            Provider::WorkersAi { .. } => "workers-ai",
            Provider::OpenAi { .. } => "openai",
        }
    }

    fn model(&self) -> &str {
        match self {
            Provider::WorkersAi { model, .. } | Provider::OpenAi { model, .. } => model,
        }
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Reply, CallError> {
        // The whole answer (headers and every streamed chunk) must arrive within the timeout.
        // `AbortSignal.timeout` aborts the fetch and its body stream natively; the timer race
        // also covers the `AI` binding, which takes no signal.
        let timeout_ms = match self {
            Provider::OpenAi { timeout_ms, .. } | Provider::WorkersAi { timeout_ms, .. } => {
                *timeout_ms
            }
        };
        let too_slow = || {
            CallError::retryable(format!(
                "{} gave no complete answer within {} s (setting KILN_MODEL_TIMEOUT_SECONDS)",
                self.provider(),
                timeout_ms / 1000
            ))
        };
        let signal: AbortSignal = worker::web_sys::AbortSignal::timeout_with_u32(
            timeout_ms.min(u64::from(u32::MAX)) as u32,
        )
        .into();
        let call = Box::pin(async {
            match self {
                Provider::OpenAi {
                    base_url,
                    api_key,
                    model,
                    stream,
                    ..
                } => openai_call(base_url, api_key, model, *stream, request, &signal).await,
                Provider::WorkersAi {
                    ai,
                    model,
                    stream,
                    thinking,
                    ..
                } => workers_ai_call(ai, model, *stream, *thinking, request).await,
            }
        });
        let timer = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
        let outcome = match select(call, timer).await {
            Either::Left((result, _)) => Some(result),
            Either::Right(_) => None,
        };
        match outcome {
            Some(_) if signal.aborted() => Err(too_slow()),
            Some(result) => result,
            None => Err(too_slow()),
        }
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// Anything with the AI binding's `run(model, inputs)` method.
    type AiBinding;

    #[wasm_bindgen(method, catch, js_name = run)]
    fn run(this: &AiBinding, model: &str, inputs: &JsValue) -> Result<Promise, JsValue>;
}

fn unreachable_endpoint(provider: &str, e: impl std::fmt::Display) -> CallError {
    CallError::retryable(format!("{provider} could not be reached: {e}"))
}

async fn openai_call(
    base_url: &str,
    api_key: &str,
    model: &str,
    stream: bool,
    request: &ChatRequest,
    signal: &AbortSignal,
) -> Result<Reply, CallError> {
    let body = openai::body(model, request, stream);
    let headers = Headers::new();
    let set = |k: &str, v: &str| {
        headers
            .set(k, v)
            .map_err(|e| CallError::Terminal(e.to_string()))
    };
    set("content-type", "application/json")?;
    set("authorization", &format!("Bearer {api_key}"))?;
    set(
        "accept",
        if stream {
            "text/event-stream"
        } else {
            "application/json"
        },
    )?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body.to_string())));
    let req = Request::new_with_init(&openai::endpoint(base_url), &init)
        .map_err(|e| CallError::Terminal(format!("bad model request: {e}")))?;
    let mut resp = Fetch::Request(req)
        .send_with_signal(signal)
        .await
        .map_err(|e| unreachable_endpoint("openai", e))?;
    let status = resp.status_code();
    if !(200..300).contains(&status) {
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let text = resp.text().await.unwrap_or_default();
        return Err(error_for_status(
            "openai",
            status,
            &text,
            retry_after.as_deref(),
        ));
    }
    let is_sse = resp
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.contains("text/event-stream"));
    if stream && is_sse {
        let mut bytes = resp
            .stream()
            .map_err(|e| unreachable_endpoint("openai", e))?;
        let mut reader = StreamReader::new();
        while let Some(chunk) = bytes.next().await {
            reader.push(&chunk.map_err(|e| unreachable_endpoint("openai", e))?);
        }
        reader.finish("openai")
    } else {
        let text = resp
            .text()
            .await
            .map_err(|e| unreachable_endpoint("openai", e))?;
        openai::parse_response("openai", &text)
    }
}

async fn workers_ai_call(
    ai: &JsValue,
    model: &str,
    stream: bool,
    thinking: Thinking,
    request: &ChatRequest,
) -> Result<Reply, CallError> {
    // Built with JSON.parse so nested objects reach the binding as plain objects.
    let input = js_sys::JSON::parse(&workers_ai::input(request, stream, thinking).to_string())
        .map_err(|_| CallError::Terminal("could not build the Workers AI input".into()))?;
    // A method call (`ai.run(model, input)`), not a looked-up function: on a service binding
    // the method is an RPC stub that only works when called on its binding.
    let promise: Promise = ai
        .unchecked_ref::<AiBinding>()
        .run(model, &input)
        .map_err(|e| workers_ai::classify_binding_error(&crate::pipeline::js_error_text(&e)))?;
    let output = JsFuture::from(promise)
        .await
        .map_err(|e| workers_ai::classify_binding_error(&crate::pipeline::js_error_text(&e)))?;
    if output.is_instance_of::<worker::web_sys::ReadableStream>() {
        let mut bytes =
            worker::ByteStream::from(output.unchecked_into::<worker::web_sys::ReadableStream>());
        let mut reader = StreamReader::new();
        while let Some(chunk) = bytes.next().await {
            reader.push(&chunk.map_err(|e| workers_ai::classify_binding_error(&e.to_string()))?);
        }
        return reader.finish("workers-ai");
    }
    let json = js_sys::JSON::stringify(&output)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        CallError::retryable(format!("workers-ai answered with malformed JSON: {e}"))
    })?;
    workers_ai::parse_output(&value)
}
