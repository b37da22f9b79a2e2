//! The Cloudflare REST API client: one place that sends requests, reads the envelope, retries and
//! types the errors. The HTTP transport is a small trait ([`Transport`]) so the client is tested
//! natively with a scripted transport; the Worker uses [`super::fetch::FetchTransport`].
//!
//! - The API token is a [`Secret`]: its `Debug` and `Display` print `***`, and no error message is
//!   ever built from a request (only from the API's answer, which never echoes the token).
//! - Envelope: `{success, errors: [{code, message}], messages, result, result_info?}`.
//! - Retries: 429 (waiting `Retry-After` seconds when given, else the backoff) and 5xx or a failed
//!   transport, at most [`MAX_ATTEMPTS`] attempts in all, with exponential backoff.
//! - Known error codes become [`CfError`] variants (name exists, database limit, auth, feature not
//!   enabled, namespace missing, not found); any other refusal keeps its status, code and message.

use serde::Deserialize;
use serde_json::Value;

/// Attempts per request (the first one included).
pub const MAX_ATTEMPTS: u32 = 5;
/// First backoff delay; doubles per attempt.
pub const BASE_DELAY_MS: u64 = 250;
/// Longest wait between attempts, `Retry-After` included.
pub const MAX_DELAY_MS: u64 = 30_000;

/// A credential: never printed, never put in an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The token itself, for an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One HTTP request as the transport sends it. `Debug` leaves the `Authorization` value out.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers (name, value), `Authorization` included.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A header's value (first match, case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case("authorization") {
                    (n.as_str(), "***")
                } else {
                    (n.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value (first match, case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends requests and waits; `worker::Fetch` + `worker::Delay` in the Worker, a script in tests.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends one request. `Err` = no answer (connection refused, reset, …), with a reason that
    /// must not contain the request's headers.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String>;
    /// Waits `ms` milliseconds before the next attempt.
    async fn sleep(&self, ms: u64);
}

/// One entry of the envelope's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiMessage {
    /// Cloudflare's error code.
    #[serde(default)]
    pub code: u64,
    /// Its message.
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    #[serde(default)]
    result: Value,
}

/// D1: a database with that name already exists.
pub const CODE_D1_NAME_EXISTS: u64 = 7502;
/// D1: the account's database limit is reached.
pub const CODE_D1_LIMIT: u64 = 7406;
/// D1: no such database.
pub const CODE_D1_NOT_FOUND: u64 = 7404;
/// R2: the bucket already exists (and this account owns it).
pub const CODE_R2_BUCKET_EXISTS: u64 = 10004;
/// R2: no such bucket.
pub const CODE_R2_NO_SUCH_BUCKET: u64 = 10006;
/// Workers: no such script.
pub const CODE_SCRIPT_NOT_FOUND: u64 = 10007;
/// Authentication error (bad or missing token, or a token without the permission).
pub const CODES_AUTH: [u64; 5] = [10000, 9106, 9109, 10001, 9103];
/// The account is not entitled to the product (Workers for Platforms, D1, R2 not enabled).
pub const CODES_NOT_ENABLED: [u64; 3] = [10015, 10042, 10121];
/// The dispatch namespace does not exist.
pub const CODES_NAMESPACE_MISSING: [u64; 2] = [100119, 10092];

/// Why a call failed. Messages come from the API's answer only (never from the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CfError {
    /// The name is taken (D1 7502, R2 10004): look the resource up instead.
    NameExists(String),
    /// The account's D1 database limit is reached (7406).
    DatabaseLimit(String),
    /// The token is missing, invalid or lacks a permission (10000, 9106, 9109, HTTP 401/403).
    Auth(String),
    /// The product is not enabled on the account.
    FeatureNotEnabled(String),
    /// The dispatch namespace does not exist.
    NamespaceMissing(String),
    /// The resource does not exist (7404, 10006, 10007, HTTP 404).
    NotFound(String),
    /// Still 429 after every attempt.
    RateLimited(String),
    /// 5xx or no answer after every attempt.
    Unavailable(String),
    /// Any other refusal.
    Rejected {
        /// HTTP status.
        status: u16,
        /// First error code (0 if none).
        code: u64,
        /// The API's messages.
        message: String,
    },
    /// A 2xx answer that is not the documented shape.
    BadResponse(String),
}

impl CfError {
    /// Whether the step that hit it may succeed when run again later.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            CfError::RateLimited(_) | CfError::Unavailable(_) | CfError::BadResponse(_)
        )
    }
}

impl std::fmt::Display for CfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CfError::NameExists(m) => write!(f, "Cloudflare: the name is taken: {m}"),
            CfError::DatabaseLimit(m) => write!(
                f,
                "Cloudflare: the account's D1 database limit is reached ({m}); delete unused projects or raise the limit"
            ),
            CfError::Auth(m) => write!(
                f,
                "Cloudflare refused the API token ({m}); check CLOUDFLARE_API_TOKEN and its permissions (D1, R2, Workers Scripts: edit)"
            ),
            CfError::FeatureNotEnabled(m) => write!(
                f,
                "Cloudflare: a product Kiln needs is not enabled on this account ({m}); enable Workers for Platforms, D1 and R2"
            ),
            CfError::NamespaceMissing(m) => write!(
                f,
                "Cloudflare: the dispatch namespace does not exist ({m}); create it (make deploy) or fix DISPATCH_NAMESPACE"
            ),
            CfError::NotFound(m) => write!(f, "Cloudflare: not found: {m}"),
            CfError::RateLimited(m) => write!(f, "Cloudflare: still rate limited after retries: {m}"),
            CfError::Unavailable(m) => write!(f, "Cloudflare API unavailable: {m}"),
            CfError::Rejected {
                status,
                code,
                message,
            } => write!(f, "Cloudflare refused the request (HTTP {status}, code {code}): {message}"),
            CfError::BadResponse(m) => write!(f, "Cloudflare answered in an unexpected shape: {m}"),
        }
    }
}

fn joined(errors: &[ApiMessage]) -> String {
    if errors.is_empty() {
        return "no error details".into();
    }
    errors
        .iter()
        .map(|e| format!("{} [code: {}]", e.message, e.code))
        .collect::<Vec<_>>()
        .join("; ")
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// Types a refusal (status ≥ 400 or `success: false`) by its codes, then its status.
pub fn classify(status: u16, errors: &[ApiMessage]) -> CfError {
    let message = joined(errors);
    let has = |codes: &[u64]| errors.iter().any(|e| codes.contains(&e.code));
    if has(&[CODE_D1_NAME_EXISTS, CODE_R2_BUCKET_EXISTS]) {
        CfError::NameExists(message)
    } else if has(&[CODE_D1_LIMIT]) {
        CfError::DatabaseLimit(message)
    } else if has(&CODES_NAMESPACE_MISSING) {
        CfError::NamespaceMissing(message)
    } else if has(&CODES_NOT_ENABLED) {
        CfError::FeatureNotEnabled(message)
    } else if has(&CODES_AUTH) || status == 401 || status == 403 {
        CfError::Auth(message)
    } else if has(&[
        CODE_D1_NOT_FOUND,
        CODE_R2_NO_SUCH_BUCKET,
        CODE_SCRIPT_NOT_FOUND,
    ]) || status == 404
    {
        CfError::NotFound(message)
    } else if status == 429 {
        CfError::RateLimited(message)
    } else if status >= 500 {
        CfError::Unavailable(format!("HTTP {status}: {message}"))
    } else {
        CfError::Rejected {
            status,
            code: errors.first().map_or(0, |e| e.code),
            message,
        }
    }
}

/// Reads one answer: `Ok(result)` for a successful envelope, the typed error otherwise.
pub fn parse_envelope(response: &HttpResponse) -> Result<Value, CfError> {
    let envelope: Option<Envelope> = serde_json::from_slice(&response.body).ok();
    let ok_status = (200..300).contains(&response.status);
    match envelope {
        Some(e) if ok_status && e.success => Ok(e.result),
        Some(e) if !e.errors.is_empty() || !ok_status => Err(classify(response.status, &e.errors)),
        Some(_) => Err(CfError::BadResponse(format!(
            "HTTP {} with success: false and no errors",
            response.status
        ))),
        None if response.status >= 500 || response.status == 429 => {
            Err(classify(response.status, &[]))
        }
        None if ok_status => Err(CfError::BadResponse(format!(
            "HTTP {} without a JSON envelope: {}",
            response.status,
            snippet(&response.body)
        ))),
        None => Err(classify(
            response.status,
            &[ApiMessage {
                code: 0,
                message: snippet(&response.body),
            }],
        )),
    }
}

/// How long to wait before attempt `next` (2, 3, …) after `response` (None = no answer).
pub fn retry_delay_ms(next: u32, response: Option<&HttpResponse>) -> u64 {
    let backoff = BASE_DELAY_MS
        .saturating_mul(1u64 << (next.saturating_sub(2)).min(16))
        .min(MAX_DELAY_MS);
    let after = response
        .filter(|r| r.status == 429)
        .and_then(|r| r.header("retry-after"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000).min(MAX_DELAY_MS));
    after.unwrap_or(backoff)
}

fn should_retry(response: &HttpResponse) -> bool {
    response.status == 429 || response.status >= 500
}

/// A body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document.
    Json(Value),
    /// Bytes with their content type (multipart forms).
    Raw {
        /// `content-type` header.
        content_type: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// The account-scoped REST client.
pub struct Client<T> {
    transport: T,
    base: String,
    account: String,
    token: Secret,
}

impl<T: Transport> Client<T> {
    /// A client for `account` at `base` (`https://api.cloudflare.com/client/v4`).
    pub fn new(transport: T, base: &str, account: &str, token: Secret) -> Self {
        Self {
            transport,
            base: base.trim_end_matches('/').to_string(),
            account: account.to_string(),
            token,
        }
    }

    /// The transport (tests read what was sent).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// `{base}/accounts/{account}{path}`.
    pub fn account_url(&self, path: &str) -> String {
        format!("{}/accounts/{}{}", self.base, self.account, path)
    }

    /// Sends `method path` with the account token and returns the envelope's `result`.
    pub async fn call(&self, method: Method, path: &str, body: Body) -> Result<Value, CfError> {
        let url = self.account_url(path);
        let token = self.token.clone();
        self.send(method, url, &token, body).await
    }

    /// Sends a request with another bearer token (an assets upload session's).
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: &Secret,
        body: Body,
    ) -> Result<Value, CfError> {
        let url = self.account_url(path);
        self.send(method, url, token, body).await
    }

    async fn send(
        &self,
        method: Method,
        url: String,
        token: &Secret,
        body: Body,
    ) -> Result<Value, CfError> {
        let mut headers = vec![(
            "authorization".to_string(),
            format!("Bearer {}", token.expose()),
        )];
        let bytes = match body {
            Body::Empty => Vec::new(),
            Body::Json(v) => {
                headers.push(("content-type".into(), "application/json".into()));
                v.to_string().into_bytes()
            }
            Body::Raw {
                content_type,
                bytes,
            } => {
                headers.push(("content-type".into(), content_type));
                bytes
            }
        };
        let request = HttpRequest {
            method,
            url,
            headers,
            body: bytes,
        };
        let mut attempt = 1;
        loop {
            let answer = self.transport.send(request.clone()).await;
            let retry = match &answer {
                Ok(r) => should_retry(r),
                Err(_) => true,
            };
            if !retry || attempt >= MAX_ATTEMPTS {
                return match answer {
                    Ok(r) => parse_envelope(&r),
                    Err(reason) => Err(CfError::Unavailable(format!(
                        "{} {}: {reason}",
                        method.as_str(),
                        path_of(&request.url)
                    ))),
                };
            }
            attempt += 1;
            self.transport
                .sleep(retry_delay_ms(attempt, answer.as_ref().ok()))
                .await;
        }
    }
}

/// The path of a URL, for messages (no query string: it may carry names, never secrets, but keep
/// messages short).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// A scripted transport: answers in order, records requests and sleeps.
    #[derive(Default)]
    pub struct Script {
        pub answers: RefCell<VecDeque<Result<HttpResponse, String>>>,
        pub sent: RefCell<Vec<HttpRequest>>,
        pub slept: RefCell<Vec<u64>>,
    }

    impl Script {
        pub fn new(answers: Vec<Result<HttpResponse, String>>) -> Self {
            Self {
                answers: RefCell::new(answers.into()),
                ..Default::default()
            }
        }
    }

    impl Transport for Script {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
            self.sent.borrow_mut().push(request);
            self.answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| Err("script exhausted".into()))
        }
        async fn sleep(&self, ms: u64) {
            self.slept.borrow_mut().push(ms);
        }
    }

    pub fn answer(status: u16, body: Value) -> Result<HttpResponse, String> {
        Ok(HttpResponse {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        })
    }

    pub fn ok(result: Value) -> Result<HttpResponse, String> {
        answer(
            200,
            serde_json::json!({"success": true, "errors": [], "messages": [], "result": result}),
        )
    }

    pub fn fail(status: u16, code: u64, message: &str) -> Result<HttpResponse, String> {
        answer(
            status,
            serde_json::json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
        )
    }

    /// Runs a future to completion (the transports here never pend).
    pub fn block<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
        fn raw() -> RawWaker {
            fn clone(_: *const ()) -> RawWaker {
                raw()
            }
            fn noop(_: *const ()) {}
            static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
            RawWaker::new(std::ptr::null(), &VTABLE)
        }
        let waker = unsafe { Waker::from_raw(raw()) };
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    pub const TOKEN: &str = "cf-test-token-0123456789";

    pub fn client(answers: Vec<Result<HttpResponse, String>>) -> Client<Script> {
        Client::new(
            Script::new(answers),
            "http://127.0.0.1:8788/client/v4/",
            "acc123",
            Secret::new(TOKEN),
        )
    }

    #[test]
    fn a_successful_envelope_gives_its_result_and_the_bearer_token_is_sent() {
        let c = client(vec![ok(serde_json::json!({"uuid": "u1"}))]);
        let r = block(c.call(Method::Get, "/d1/database", Body::Empty)).unwrap();
        assert_eq!(r["uuid"], "u1");
        let sent = c.transport().sent.borrow();
        assert_eq!(
            sent[0].url,
            "http://127.0.0.1:8788/client/v4/accounts/acc123/d1/database"
        );
        assert_eq!(
            sent[0].header("Authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }

    #[test]
    fn the_token_never_shows_in_debug_output_or_errors() {
        let c = client(vec![
            Err("connection refused".into()),
            Err("connection refused".into()),
            Err("connection refused".into()),
            Err("connection refused".into()),
            Err("connection refused".into()),
        ]);
        let e = block(c.call(Method::Post, "/d1/database", Body::Empty)).unwrap_err();
        assert!(matches!(e, CfError::Unavailable(_)));
        assert!(!e.to_string().contains(TOKEN), "{e}");
        assert!(!format!("{e:?}").contains(TOKEN));
        let sent = c.transport().sent.borrow();
        assert!(!format!("{:?}", sent[0]).contains(TOKEN));
        assert!(!format!("{:?}", Secret::new(TOKEN)).contains(TOKEN));
        assert_eq!(Secret::new(TOKEN).to_string(), "***");
    }

    #[test]
    fn known_codes_become_typed_errors() {
        type Expect = fn(&CfError) -> bool;
        let cases: Vec<(u16, u64, Expect)> = vec![
            (400, 7502, |e| matches!(e, CfError::NameExists(_))),
            (409, 10004, |e| matches!(e, CfError::NameExists(_))),
            (400, 7406, |e| matches!(e, CfError::DatabaseLimit(_))),
            (403, 10000, |e| matches!(e, CfError::Auth(_))),
            (400, 9106, |e| matches!(e, CfError::Auth(_))),
            (400, 9109, |e| matches!(e, CfError::Auth(_))),
            (404, 100119, |e| matches!(e, CfError::NamespaceMissing(_))),
            (403, 10121, |e| matches!(e, CfError::FeatureNotEnabled(_))),
            (404, 7404, |e| matches!(e, CfError::NotFound(_))),
            (404, 10007, |e| matches!(e, CfError::NotFound(_))),
            (400, 1234, |e| {
                matches!(
                    e,
                    CfError::Rejected {
                        status: 400,
                        code: 1234,
                        ..
                    }
                )
            }),
        ];
        for (status, code, expected) in cases {
            let c = client(vec![fail(status, code, "refused")]);
            let e = block(c.call(Method::Post, "/x", Body::Empty)).unwrap_err();
            assert!(expected(&e), "{status} {code}: {e:?}");
            assert!(!e.retryable(), "{status} {code} must not be retried");
            assert!(e.to_string().contains(&code.to_string()), "{e}");
            // Refusals are not retried: one request only.
            assert_eq!(c.transport().sent.borrow().len(), 1);
        }
    }

    #[test]
    fn rate_limits_honour_retry_after_and_then_succeed() {
        let mut limited = fail(429, 10013, "rate limited").unwrap();
        limited.headers.push(("Retry-After".into(), "3".into()));
        let c = client(vec![Ok(limited), ok(serde_json::json!([]))]);
        block(c.call(Method::Get, "/d1/database", Body::Empty)).unwrap();
        assert_eq!(*c.transport().slept.borrow(), vec![3000]);
        assert_eq!(c.transport().sent.borrow().len(), 2);
    }

    #[test]
    fn server_errors_back_off_exponentially_and_give_up_after_the_bound() {
        let answers = (0..MAX_ATTEMPTS)
            .map(|_| answer(502, serde_json::json!("bad gateway")))
            .collect();
        let c = client(answers);
        let e = block(c.call(Method::Get, "/d1/database", Body::Empty)).unwrap_err();
        assert!(matches!(e, CfError::Unavailable(_)), "{e:?}");
        assert!(e.retryable());
        assert_eq!(c.transport().sent.borrow().len(), MAX_ATTEMPTS as usize);
        assert_eq!(*c.transport().slept.borrow(), vec![250, 500, 1000, 2000]);
    }

    #[test]
    fn a_429_without_retry_after_backs_off_and_a_huge_one_is_capped() {
        assert_eq!(retry_delay_ms(2, None), 250);
        assert_eq!(retry_delay_ms(3, None), 500);
        let mut r = fail(429, 0, "x").unwrap();
        r.headers.push(("retry-after".into(), "86400".into()));
        assert_eq!(retry_delay_ms(2, Some(&r)), MAX_DELAY_MS);
    }

    #[test]
    fn unexpected_shapes_are_clear_errors() {
        let plain = Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: b"<html>".to_vec(),
        });
        let c = client(vec![plain]);
        let e = block(c.call(Method::Get, "/x", Body::Empty)).unwrap_err();
        assert!(matches!(e, CfError::BadResponse(_)), "{e:?}");
        let c = client(vec![answer(
            200,
            serde_json::json!({"success": false, "errors": [{"code": 7406, "message": "limit"}]}),
        )]);
        let e = block(c.call(Method::Get, "/x", Body::Empty)).unwrap_err();
        assert!(matches!(e, CfError::DatabaseLimit(_)), "{e:?}");
    }
}
