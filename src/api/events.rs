//! `/api/projects/:id/events`: the project's event log as JSON pages or a live SSE stream, and
//! chain verification.
//!
//! The SSE stream is resumable: each event's SSE `id` is its seq, so a client that reconnects
//! with `Last-Event-ID` continues exactly after the last event it saw, and receives every later
//! event once. A connection lasts at most `timeout` seconds (default 30, at most 300), after
//! which the client simply reconnects; idle periods are filled with comment keep-alives.

use std::time::Duration;

use events::codec::{encode_json, Decoded};
use events::StoreError;
use futures_util::{stream, StreamExt};
use serde_json::{json, Value};
use worker::{Delay, Headers, Request, Response};

use crate::adapters::event_log::{Corruption, R2EventLog};
use crate::adapters::store::Store;
use crate::adapters::webcrypto::now_ms;
use crate::error::ApiError;
use crate::http::{authenticate, json, Ctx};
use crate::service::{event_log, store_error};

/// Largest page.
const MAX_LIMIT: usize = 1000;
/// Default page.
const DEFAULT_LIMIT: usize = 100;

fn query_u64(req: &Request, name: &str) -> Result<Option<u64>, ApiError> {
    let url = req.url()?;
    match url.query_pairs().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v.parse::<u64>().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "query parameter '{name}' must be a whole number, got '{}'",
                crate::domain::email::clip(&v)
            ))
        }),
    }
}

fn event_json(d: &Decoded) -> Value {
    let text = match d {
        Decoded::Event(e) => encode_json(e),
        Decoded::Unknown(u) => encode_json(&u.envelope),
    };
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn corruption_json(c: &Corruption) -> Value {
    json!({ "seq": c.seq, "message": format!("stored event {} cannot be read: {}", c.seq, c.detail) })
}

/// Checks that the caller owns the project (404 otherwise).
pub async fn owned(req: &Request, ctx: &Ctx, id: &str) -> Result<String, ApiError> {
    let caller = authenticate(req, ctx).await?;
    Store::of(&ctx.env)?
        .project(id, &caller.user_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "project '{}' not found",
                crate::domain::email::clip(id)
            ))
        })?;
    Ok(caller.user_id)
}

/// `GET /api/projects/:id/events[?after=SEQ&limit=N]`, JSON or SSE by `Accept`.
pub async fn list(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let after = query_u64(req, "after")?;
    let limit = query_u64(req, "limit")?
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "query parameter 'limit' must be from 1 to {MAX_LIMIT}"
        )));
    }
    let wants_sse = req
        .headers()
        .get("accept")?
        .is_some_and(|a| a.contains("text/event-stream"));
    if wants_sse {
        let last_id = match req.headers().get("last-event-id")? {
            Some(v) if !v.trim().is_empty() => Some(v.trim().parse::<u64>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "Last-Event-ID must be a seq number, got '{}'",
                    crate::domain::email::clip(&v)
                ))
            })?),
            _ => None,
        };
        let timeout = query_u64(req, "timeout")?.unwrap_or(30).clamp(1, 300);
        return sse(
            event_log(ctx)?,
            id.to_string(),
            last_id.or(after).unwrap_or(0),
            timeout,
        );
    }
    page(ctx, id, after.unwrap_or(0), limit).await
}

/// One JSON page of a stream's events after `after` (no ownership check: callers do that).
pub async fn page(ctx: &Ctx, id: &str, after: u64, limit: usize) -> Result<Response, ApiError> {
    let log = event_log(ctx)?;
    let (events, corruption) = log
        .read_lenient(id, after, limit)
        .await
        .map_err(store_error)?;
    let warnings: Vec<String> = events
        .iter()
        .filter_map(|d| d.warning().map(|w| w.to_string()))
        .collect();
    let next_after = events.last().map(|d| d.seq()).unwrap_or(after);
    json(
        200,
        &json!({
            "events": events.iter().map(event_json).collect::<Vec<_>>(),
            "next_after": next_after,
            "warnings": warnings,
            "corrupt": corruption.as_ref().map(corruption_json),
        }),
    )
}

struct Tail {
    log: R2EventLog,
    stream: String,
    after: u64,
    deadline_ms: i64,
    last_write_ms: i64,
    done: bool,
}

impl Tail {
    /// Ends the stream with an `error` event.
    fn fail(mut self, e: &StoreError) -> (Result<Vec<u8>, worker::Error>, Tail) {
        self.done = true;
        let chunk = format!(
            "event: error\ndata: {}\n\n",
            json!({ "message": e.to_string() })
        );
        (Ok(chunk.into_bytes()), self)
    }
}

fn frame(d: &Decoded) -> String {
    let event_type = match d {
        Decoded::Event(e) => e.event_type.clone(),
        Decoded::Unknown(u) => u.envelope.event_type.clone(),
    };
    format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        d.seq(),
        event_type,
        event_json(d)
    )
}

/// Polls the log and yields SSE chunks until the deadline.
async fn next_chunk(mut t: Tail) -> Option<(Result<Vec<u8>, worker::Error>, Tail)> {
    if t.done {
        return None;
    }
    loop {
        let now = now_ms();
        if now >= t.deadline_ms {
            t.done = true;
            return Some((
                Ok(b": timeout, reconnect with Last-Event-ID\n\n".to_vec()),
                t,
            ));
        }
        let has_more = match t.log.has_after(&t.stream, t.after).await {
            Ok(b) => b,
            Err(e) => return Some(t.fail(&e)),
        };
        if has_more {
            match t.log.read_lenient(&t.stream, t.after, 100).await {
                Ok((events, corruption)) => {
                    let mut out = String::new();
                    for d in &events {
                        out.push_str(&frame(d));
                    }
                    if let Some(last) = events.last() {
                        t.after = last.seq();
                    }
                    if let Some(c) = corruption {
                        out.push_str(&format!("event: error\ndata: {}\n\n", corruption_json(&c)));
                        t.done = true;
                    }
                    if !out.is_empty() {
                        t.last_write_ms = now;
                        return Some((Ok(out.into_bytes()), t));
                    }
                }
                Err(StoreError::Unavailable { detail }) => {
                    worker::console_warn!("sse read: {detail}")
                }
                Err(e) => return Some(t.fail(&e)),
            }
        }
        if now - t.last_write_ms > 10_000 {
            t.last_write_ms = now;
            return Some((Ok(b": keep-alive\n\n".to_vec()), t));
        }
        Delay::from(Duration::from_millis(200)).await;
    }
}

fn sse(
    log: R2EventLog,
    stream_id: String,
    after: u64,
    timeout_s: u64,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let tail = Tail {
        log,
        stream: stream_id,
        after,
        deadline_ms: now + timeout_s as i64 * 1000,
        last_write_ms: now,
        done: false,
    };
    let body = stream::once(async { Ok::<Vec<u8>, worker::Error>(b"retry: 1000\n\n".to_vec()) })
        .chain(stream::unfold(tail, next_chunk));
    let headers = Headers::new();
    headers.set("content-type", "text/event-stream; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_stream(body)?.with_headers(headers))
}

/// `GET /api/projects/:id/events/verify` → `{ok, events}` or `{ok: false, seq, reason}`.
pub async fn verify(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    match event_log(ctx)?
        .verify_report(id)
        .await
        .map_err(store_error)?
    {
        (n, Ok(())) => json(200, &json!({ "ok": true, "events": n })),
        (_, Err(e)) => json(
            200,
            &json!({ "ok": false, "seq": e.seq, "reason": e.reason.to_string() }),
        ),
    }
}
