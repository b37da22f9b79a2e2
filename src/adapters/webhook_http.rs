//! The one HTTP call of a webhook delivery: POST the signed body, wait at most the timeout for
//! the receiver's status line, follow no redirects (a 3xx is a failed attempt: the owner should
//! update the URL). The answer's body is not read.

use std::time::Duration;

use futures_util::future::{select, Either};
use wasm_bindgen::JsValue;
use worker::{AbortSignal, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Its `Retry-After` header, as sent.
    pub retry_after: Option<String>,
}

/// POSTs `body` to `url` with `headers` (name, value); an `Err` says why no status came back
/// (unreachable, refused, timed out).
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout_ms: u32,
) -> Result<Answer, String> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(|e| format!("header {k}: {e}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(h)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(JsValue::from_str(body)));
    let req = Request::new_with_init(url, &init).map_err(|e| format!("bad request: {e}"))?;
    // `AbortSignal.timeout` cancels the fetch natively; the timer race is a second guard.
    let signal: AbortSignal = worker::web_sys::AbortSignal::timeout_with_u32(timeout_ms).into();
    let call = Box::pin(async { Fetch::Request(req).send_with_signal(&signal).await });
    let timer = Box::pin(Delay::from(Duration::from_millis(u64::from(timeout_ms))));
    let too_slow = || format!("no answer within {} s", timeout_ms / 1000);
    let outcome = match select(call, timer).await {
        Either::Left((result, _)) => Some(result),
        Either::Right(_) => None,
    };
    match outcome {
        Some(Ok(resp)) => Ok(Answer {
            status: resp.status_code(),
            retry_after: resp.headers().get("retry-after").ok().flatten(),
        }),
        Some(Err(_)) if signal.aborted() => Err(too_slow()),
        Some(Err(e)) => Err(format!("could not reach the receiver: {e}")),
        None => Err(too_slow()),
    }
}
