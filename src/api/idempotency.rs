//! `Idempotency-Key` on every POST that creates something.
//!
//! A client that retries a POST (a timeout, a dropped connection) sends the same
//! `Idempotency-Key`; the first answer is recorded and returned again, with
//! `Idempotent-Replayed: true`, for 24 hours. The same key with a different request (method, path
//! or body) is refused with 422, and a retry that arrives while the first request still runs gets
//! 409. Keys are scoped to the caller's credential, so two clients never see each other's
//! answers. Server-side failures (5xx) and rate limits (429) are not recorded, so a retry runs
//! again.
//!
//! This runs around the route table for authenticated POSTs (sign-in, registration and operator
//! routes are not "creating something" and are left out). Builds also deduplicate by key in the
//! event log (a build request is a fact of the project), which covers a key reused with another
//! credential of the same user.

use sha2::{Digest, Sha256};
use wasm_bindgen::JsValue;
use worker::{Headers, Method, Request, RequestInit, Response};

use crate::adapters::idempotency::{Claim, IdempotencyKeys};
use crate::adapters::webcrypto;
use crate::error::ApiError;
use crate::http::Ctx;

/// Longest `Idempotency-Key`.
pub const MAX_KEY_CHARS: usize = 200;
/// Largest body buffered to fingerprint it (the routes apply their own, smaller limits).
pub const MAX_BUFFERED_BYTES: usize = 32 * 1024 * 1024;

/// The header's value, checked: 1 to 200 printable characters.
pub fn key_of(req: &Request) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key")? {
        None => Ok(None),
        Some(k)
            if k.is_empty()
                || k.chars().count() > MAX_KEY_CHARS
                || k.chars().any(char::is_control) =>
        {
            Err(ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable characters"
            )))
        }
        Some(k) => Ok(Some(k)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether POSTs to `path` create something (and so take part).
fn applies_to(path: &str) -> bool {
    path.starts_with("/api/")
        && !path.starts_with("/api/auth/")
        && !path.starts_with("/api/admin/")
        && !path.starts_with("/api/_test/")
}

/// A request that claimed its key: its answer is recorded by [`Pending::finish`].
pub struct Pending {
    scope: String,
    key: String,
}

/// What to do with a request.
pub enum Begun {
    /// No key, or not a route that takes part: run it as it is.
    Plain(Request),
    /// The key was seen before with this request: its first answer.
    Replay(Response),
    /// The key is new: run the (rebuilt) request, then record its answer.
    Run(Request, Pending),
}

/// Looks at the request's `Idempotency-Key`.
pub async fn begin(mut req: Request, ctx: &Ctx) -> Result<Begun, ApiError> {
    let path = req.path();
    if req.method() != Method::Post || !applies_to(&path) {
        return Ok(Begun::Plain(req));
    }
    let Some(key) = key_of(&req)? else {
        return Ok(Begun::Plain(req));
    };
    let Some(credential) = req.headers().get("authorization")? else {
        // Unauthenticated: the route answers 401 anyway.
        return Ok(Begun::Plain(req));
    };
    if let Some(len) = req.headers().get("content-length")? {
        if len
            .trim()
            .parse::<usize>()
            .is_ok_and(|n| n > MAX_BUFFERED_BYTES)
        {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BUFFERED_BYTES,
            });
        }
    }
    let body = req.bytes().await?;
    if body.len() > MAX_BUFFERED_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BUFFERED_BYTES,
        });
    }
    let scope = hex(&Sha256::digest(credential.as_bytes()));
    let mut h = Sha256::new();
    h.update(b"POST\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(&body);
    let fingerprint = hex(&h.finalize());
    let store = IdempotencyKeys::of(&ctx.env)?;
    match store.claim(&scope, &key, &fingerprint, webcrypto::now_ms()).await? {
        Claim::Existing(r) if r.fingerprint != fingerprint => Err(ApiError::Unprocessable(format!(
            "Idempotency-Key '{}' was already used with a different request; use a new key for a new request",
            crate::domain::email::clip(&key)
        ))),
        Claim::Existing(r) => match (r.status, r.body) {
            (Some(status), Some(body)) => {
                let headers = Headers::new();
                headers.set("content-type", "application/json")?;
                headers.set("idempotent-replayed", "true")?;
                Ok(Begun::Replay(
                    Response::ok(body)?.with_status(status).with_headers(headers),
                ))
            }
            _ => Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry in a moment".into(),
            )),
        },
        Claim::Claimed => {
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_headers(req.headers().clone())
                .with_body(Some(JsValue::from(js_sys::Uint8Array::from(body.as_slice()))));
            let rebuilt = Request::new_with_init(req.url()?.as_ref(), &init)?;
            Ok(Begun::Run(rebuilt, Pending { scope, key }))
        }
    }
}

/// The recorded form of an answer: secrets shown once (an API token, a webhook secret) are not
/// kept; a replay says they were withheld.
fn withhold_secrets(body: &str) -> String {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str::<serde_json::Value>(body)
    else {
        return body.to_string();
    };
    let mut withheld = false;
    for field in ["token", "secret"] {
        if map.get(field).is_some_and(|v| v.is_string()) {
            map.insert(field.into(), serde_json::Value::Null);
            withheld = true;
        }
    }
    if !withheld {
        return body.to_string();
    }
    map.insert(
        "secret_withheld".into(),
        serde_json::Value::String(
            "this is a replay: the secret is shown only in the first answer; revoke and create a new one if it was lost".into(),
        ),
    );
    serde_json::Value::Object(map).to_string()
}

impl Pending {
    /// Records the answer (or forgets the key after a server-side failure) and returns it.
    pub async fn finish(
        self,
        ctx: &Ctx,
        outcome: Result<Response, ApiError>,
    ) -> Result<Response, ApiError> {
        let store = IdempotencyKeys::of(&ctx.env)?;
        match outcome {
            Ok(mut resp) => {
                let status = resp.status_code();
                if status >= 500 || status == 429 {
                    store.release(&self.scope, &self.key).await?;
                    return Ok(resp);
                }
                let headers = resp.headers().clone();
                let body = resp.text().await?;
                store
                    .complete(&self.scope, &self.key, status, &withhold_secrets(&body))
                    .await?;
                Ok(Response::ok(body)?
                    .with_status(status)
                    .with_headers(headers))
            }
            // Server-side failures and rate limits are not the answer to this request: a retry
            // must run again.
            Err(e) if e.status() >= 500 || e.status() == 429 => {
                store.release(&self.scope, &self.key).await?;
                Err(e)
            }
            Err(e) => {
                let body = serde_json::to_string(&e.body()).unwrap_or_default();
                store
                    .complete(&self.scope, &self.key, e.status(), &body)
                    .await?;
                Err(e)
            }
        }
    }
}
