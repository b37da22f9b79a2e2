//! A local, scripted, OpenAI-compatible chat-completions server for tests.
//!
//! Kiln's model provider `openai` talks to any OpenAI-compatible endpoint. Tests cannot reach a
//! real model, so [`ModelServer`] answers on `127.0.0.1` from a script, following the OpenAI
//! contract (routes, bearer auth, error bodies, `chat.completion` objects, streamed
//! `chat.completion.chunk` events with `[DONE]`, usage) so the Worker's real HTTP code path runs.
//!
//! Requests are classified by the first line of the system message (the prompt templates in
//! `prompts/` start with these sentences):
//!
//! | first line starts with | [`Kind`] | correct answer |
//! |---|---|---|
//! | `You plan web apps for Kiln.` | [`Kind::Plan`] | the offline planner's plan for the request (the text after a `Change request:` line if there is one), in a ```` ```json ```` fence between prose, or bare JSON when `response_format` asks for structured output |
//! | `You write the code of web apps for Kiln.` | [`Kind::Codegen`] | the offline generator's files for the plan on the line after `Plan:`, except the ones Kiln supplies ([`SUPPLIED_BY_KILN`]), in the multi-file format between prose |
//! | `You fix the code of web apps for Kiln.` | [`Kind::Repair`] | each file of the `Files:` section as the last codegen answer had it correct (unknown files echoed unchanged) |
//! | `You change the code of web apps for Kiln.` | [`Kind::Edit`] | one SEARCH/REPLACE edit putting [`EDIT_MARK`] and the request's first line above the first line of `public/app.js`; with a `Plan changes:` section, the whole `worker.js` and `public/app.js` for the plan after `New plan:`, each keeping the [`EDIT_MARK`] lines it started with |
//! | any, with an assistant message and a last user message starting with `Continue` | [`Kind::Continue`] | the rest of the answer that was cut off |
//!
//! Anything else is a 400 `unrecognised prompt`.
//!
//! Each request of a kind takes the next [`Behaviour`] queued with [`ModelServer::script`]
//! (an empty queue means [`Behaviour::Correct`]), and every request is recorded
//! ([`ModelServer::requests`]).
//!
//! Key decision: the server is plain `std` (a thread per connection, HTTP/1.1, one request per
//! connection answered with `Connection: close`), and the correct answers come from the same
//! offline generator the pipeline uses without a model, so a build through this server must give
//! the app the offline build gives. Streams use chunked transfer encoding, one event per chunk,
//! flushed as it is written, so clients really read them incrementally.
//!
//! Limitation: repair and continue answers come from the server's memory of the *last* codegen
//! answer and of answers it cut off, so scenarios that script repairs or truncations should not
//! run builds through the same server concurrently.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use generation::files::FileParser;
use plan::Plan;
use serde_json::{json, Value};

/// The one model the server lists (any requested model name is accepted and echoed).
pub const MODEL_ID: &str = "kiln-test-model";
/// The API key [`ModelServer::start`] expects.
pub const DEFAULT_KEY: &str = "test-key";
/// First words of the plan step's system message.
pub const PLAN_SYSTEM: &str = "You plan web apps for Kiln.";
/// First words of the codegen step's system message.
pub const CODEGEN_SYSTEM: &str = "You write the code of web apps for Kiln.";
/// First words of the repair steps' system message.
pub const REPAIR_SYSTEM: &str = "You fix the code of web apps for Kiln.";
/// The first line of the edit template's system message.
pub const EDIT_SYSTEM: &str = "You change the code of web apps for Kiln.";
/// The comment [`Kind::Edit`]'s correct answer puts before the first line of `public/app.js`,
/// followed by the first line of the request.
pub const EDIT_MARK: &str = "// Changed on request: ";
/// The line [`Behaviour::WrongImport`] puts first in `worker.js` (a bare import Kiln rejects).
pub const BAD_IMPORT: &str = "import { nanoid } from \"nanoid\";";
/// The answer of [`Behaviour::Garbage`].
pub const GARBAGE: &str = "I'm sorry, I can't help with that.";
/// Files Kiln supplies itself, left out of codegen answers.
pub const SUPPLIED_BY_KILN: [&str; 2] = ["public/index.html", "public/styles.css"];
/// Characters of answer per streamed chunk.
pub const CHUNK_CHARS: usize = 200;

/// Prose around a plan answer (a chatty model's framing).
const PLAN_INTRO: &str = "Here is the plan for your app.";
const PLAN_OUTRO: &str = "Let me know if you would like any changes.";
/// Prose around a multi-file answer.
const FILES_INTRO: &str = "Here are the files.";
const FILES_OUTRO: &str = "That is everything the app needs.";

/// Largest request head or body the server reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What a chat request asks for, by its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The plan step (or its repair: same system message).
    Plan,
    /// The codegen step.
    Codegen,
    /// A repair step.
    Repair,
    /// An edit-mode codegen step (a request that leaves the live app's plan unchanged).
    Edit,
    /// The continuation of an answer cut off at the token limit.
    Continue,
}

/// How the server answers the next request of a kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// The correct answer (see the module docs).
    Correct,
    /// That HTTP status with an OpenAI-style error body: 429 `rate_limit_error` with
    /// `Retry-After: 0`, 500 `server_error`, 400 `invalid_request_error` ("max_tokens is too
    /// large"); other codes get a generic message (`server_error` from 500 up).
    Status(u16),
    /// The correct answer cut after this fraction of its characters, `finish_reason: "length"`;
    /// the rest is the answer to the next [`Kind::Continue`] request.
    Truncate(f32),
    /// Codegen and repair: the correct files, but `worker.js` starts with [`BAD_IMPORT`]. The
    /// server still remembers the correct files, so a following repair gets them right
    /// (unless it is scripted `WrongImport` too). Other kinds: as [`Behaviour::Correct`].
    WrongImport,
    /// Plan: the correct plan with its first entity named `Bad Name!` (not an identifier).
    /// Other kinds: as [`Behaviour::Correct`].
    InvalidPlan,
    /// Prose only: [`GARBAGE`].
    Garbage,
    /// Exactly this text as the answer.
    Raw(String),
    /// Codegen: the correct files with `text` appended to the file at `path` (what a model
    /// steered by the project owner could write). Other kinds: as [`Behaviour::Correct`].
    Append {
        /// The file that gets the text, e.g. `worker.js`.
        path: String,
        /// What is appended.
        text: String,
    },
    /// Wait this long (holding the connection open, sending nothing), then answer correctly: a
    /// provider that hangs, for the caller's per-call timeout.
    Stall(std::time::Duration),
    /// A reasoning model that spent the whole output budget thinking: [`THOUGHT`] as
    /// `reasoning_content`, no content, `finish_reason: "length"`.
    ThinkOnly,
}

/// The reasoning of [`Behaviour::ThinkOnly`].
pub const THOUGHT: &str = "The user wants an app. Let me think about the entities first, then the routes, then the pages. ";

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, ….
    pub method: String,
    /// The request target, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The chat kind, when the body was a chat request the server recognised.
    pub kind: Option<Kind>,
    /// The body as JSON; a body that is not JSON is kept as a string, no body is `null`.
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

/// State shared by the test and the connection threads.
#[derive(Default)]
struct State {
    scripts: HashMap<Kind, VecDeque<Behaviour>>,
    recorded: Vec<Recorded>,
    /// The correct files of the last codegen answer, in answer order.
    last_files: Vec<(String, String)>,
    /// Answers that were cut off, oldest first: (the part sent, the rest).
    cut: Vec<(String, String)>,
}

struct Shared {
    key: String,
    state: Mutex<State>,
    stop: AtomicBool,
    ids: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test must not take the server down with a poisoned lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running scripted model server; stops when dropped.
pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Starts on a free port of 127.0.0.1, expecting the key [`DEFAULT_KEY`].
    pub fn start() -> ModelServer {
        ModelServer::start_with_key(DEFAULT_KEY)
    }

    /// Starts on a free port of 127.0.0.1, expecting `Authorization: Bearer <key>`.
    pub fn start_with_key(key: &str) -> ModelServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the model server");
        let addr = listener.local_addr().expect("model server address");
        let shared = Arc::new(Shared {
            key: key.to_string(),
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            ids: AtomicU64::new(1),
        });
        let for_thread = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("model-server".into())
            .spawn(move || accept_loop(&listener, &for_thread))
            .expect("spawn the model server");
        ModelServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// The OpenAI base URL: `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues behaviours for the next requests of `kind` (after any already queued).
    pub fn script(&self, kind: Kind, behaviours: Vec<Behaviour>) {
        self.shared
            .lock()
            .scripts
            .entry(kind)
            .or_default()
            .extend(behaviours);
    }

    /// How many scripted behaviours of `kind` are still waiting for a request.
    pub fn pending(&self, kind: Kind) -> usize {
        self.shared
            .lock()
            .scripts
            .get(&kind)
            .map_or(0, VecDeque::len)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().recorded.clone()
    }

    /// The chat requests of `kind` so far, in arrival order.
    pub fn requests_of(&self, kind: Kind) -> Vec<Recorded> {
        self.shared
            .lock()
            .recorded
            .iter()
            .filter(|r| r.kind == Some(kind))
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests (scripts and remembered answers stay).
    pub fn clear(&self) {
        self.shared.lock().recorded.clear();
    }

    /// Forgets everything: recorded requests, queued behaviours, remembered files and cut-off
    /// answers.
    pub fn reset(&self) {
        *self.shared.lock() = State::default();
    }

    /// One line per recorded request (`POST /v1/chat/completions codegen 429`), for failure output.
    pub fn summary(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                let kind = r
                    .kind
                    .map_or("-".to_string(), |k| format!("{k:?}").to_lowercase());
                format!("{} {} {kind} {}\n", r.method, r.path, r.status)
            })
            .collect()
    }

    /// Sends one request to this server with a minimal HTTP/1.1 client (for tests and
    /// scenarios): `path` like `/v1/models`, `key` for `Authorization: Bearer`. Chunked bodies are
    /// decoded.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&[u8]>,
    ) -> HttpReply {
        http_call(self.addr, method, path, key, body)
    }

    /// `POST /v1/chat/completions` with `body`, authorised with the server's key.
    pub fn chat(&self, body: &Value) -> HttpReply {
        let key = self.shared.key.clone();
        self.send(
            "POST",
            "/v1/chat/completions",
            Some(&key),
            Some(body.to_string().as_bytes()),
        )
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

/// An answer read by [`ModelServer::send`].
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        let shared = Arc::clone(shared);
        let _ = std::thread::Builder::new()
            .name("model-server-conn".into())
            .spawn(move || {
                let _ = serve(stream, &shared);
            });
    }
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What to send back.
enum Answer {
    Json {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    /// Server-sent events, each a complete `data: …\n\n` block.
    Stream { events: Vec<String> },
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let Some((start, headers)) = read_head(&mut reader)? else {
        return Ok(()); // closed without a request (e.g. the wake-up connection)
    };
    let mut parts = start.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        out.flush()?;
    }
    let body = read_body(&mut reader, &headers, false)?;
    let request = Request {
        method,
        path,
        headers,
        body,
    };
    let answer = handle(shared, &request);
    match answer {
        Answer::Json {
            status,
            headers,
            body,
        } => {
            let bytes = serde_json::to_vec(&body).expect("serialise an answer");
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                reason(status),
                bytes.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            out.write_all(head.as_bytes())?;
            out.write_all(&bytes)?;
            out.flush()?;
        }
        Answer::Stream { events } => {
            out.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n\
                  cache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            )?;
            out.flush()?;
            for event in events {
                write!(out, "{:x}\r\n", event.len())?;
                out.write_all(event.as_bytes())?;
                out.write_all(b"\r\n")?;
                out.flush()?;
            }
            out.write_all(b"0\r\n\r\n")?;
            out.flush()?;
        }
    }
    // Close gracefully: half-close, then wait for the client to close its side, so no unread
    // byte turns the close into a reset that could cut the answer off at the client.
    out.shutdown(Shutdown::Write)?;
    out.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 1024 * 1024 {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A start line and its headers (names lowercase).
type Head = (String, Vec<(String, String)>);

/// Reads the start line and headers; `None` when the peer closed before sending anything.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start = String::new();
    let mut total = 0;
    loop {
        let n = reader.read_line(&mut start)?;
        if n == 0 {
            return Ok(None);
        }
        total += n;
        if !start.trim().is_empty() {
            break;
        }
        start.clear(); // tolerate blank lines before the start line
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        total += n;
        if total > MAX_HEAD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if n == 0 || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Ok(Some((start.trim_end().to_string(), headers)))
}

/// Reads a body: chunked, `Content-Length` bytes exactly, or (responses only) up to the close.
fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    to_close: bool,
) -> io::Result<Vec<u8>> {
    let too_large = || io::Error::new(io::ErrorKind::InvalidData, "body too large");
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let size = size.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                return Ok(body);
            }
            if body.len() + size > MAX_BODY_BYTES {
                return Err(too_large());
            }
            let at = body.len();
            body.resize(at + size, 0);
            reader.read_exact(&mut body[at..])?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
        }
    }
    if let Some(length) = header(headers, "content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        if length > MAX_BODY_BYTES {
            return Err(too_large());
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if to_close {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// The minimal client behind [`ModelServer::send`].
fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&[u8]>,
) -> HttpReply {
    let mut stream = TcpStream::connect(addr).expect("connect to the model server");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\naccept: */*\r\n");
    if let Some(key) = key {
        head.push_str(&format!("authorization: Bearer {key}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some(body) = body {
        stream.write_all(body).unwrap();
    }
    stream.flush().unwrap();
    let mut reader = BufReader::new(stream);
    let (start, headers) = read_head(&mut reader)
        .expect("read the answer head")
        .expect("the model server closed without answering");
    let status = start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {start:?}"));
    let body = read_body(&mut reader, &headers, true).expect("read the answer body");
    HttpReply {
        status,
        headers,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// The OpenAI contract

fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Answer {
    let mut headers = Vec::new();
    if status == 429 {
        headers.push(("retry-after", "0".to_string()));
    }
    Answer::Json {
        status,
        headers,
        body: json!({
            "error": { "message": message, "type": kind, "param": null, "code": code }
        }),
    }
}

fn scripted_status(status: u16) -> Answer {
    match status {
        429 => error(
            429,
            "Rate limit reached",
            "rate_limit_error",
            Some("rate_limit_exceeded"),
        ),
        500 => error(
            500,
            "The server had an error while processing your request",
            "server_error",
            None,
        ),
        400 => error(
            400,
            "max_tokens is too large",
            "invalid_request_error",
            None,
        ),
        s if s >= 500 => error(s, "The server is unavailable", "server_error", None),
        s => error(
            s,
            &format!("The request failed with status {s}"),
            "invalid_request_error",
            None,
        ),
    }
}

/// Routes, authenticates, records and answers one request.
fn handle(shared: &Shared, req: &Request) -> Answer {
    let body_value = if req.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&req.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into_owned()))
    };
    let (kind, answer) = route(shared, req);
    let status = match &answer {
        Answer::Json { status, .. } => *status,
        Answer::Stream { .. } => 200,
    };
    // Recorded before the answer is written, so a test that has its answer sees the record.
    shared.lock().recorded.push(Recorded {
        method: req.method.clone(),
        path: req.path.clone(),
        kind,
        body: body_value,
        status,
    });
    answer
}

fn route(shared: &Shared, req: &Request) -> (Option<Kind>, Answer) {
    let path = req.path.split('?').next().unwrap_or_default();
    let known = matches!(
        (req.method.as_str(), path),
        ("POST", "/v1/chat/completions") | ("GET", "/v1/models")
    );
    if !known {
        let message = format!("Invalid URL ({} {})", req.method, req.path);
        return (
            None,
            error(404, &message, "invalid_request_error", Some("unknown_url")),
        );
    }
    match req.header("authorization").map(str::trim) {
        None | Some("") => {
            return (
                None,
                error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an \
                     Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                    None,
                ),
            )
        }
        Some(auth) if auth != format!("Bearer {}", shared.key) => {
            return (
                None,
                error(
                    401,
                    "Incorrect API key provided.",
                    "invalid_request_error",
                    Some("invalid_api_key"),
                ),
            )
        }
        Some(_) => {}
    }
    if path == "/v1/models" {
        let models = json!({
            "object": "list",
            "data": [{ "id": MODEL_ID, "object": "model", "created": 0, "owned_by": "kiln" }]
        });
        return (
            None,
            Answer::Json {
                status: 200,
                headers: Vec::new(),
                body: models,
            },
        );
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            let message = format!(
                "We could not parse the JSON body of your request. The API expects a JSON \
                 payload, but what was sent was not valid JSON ({e})."
            );
            return (None, error(400, &message, "invalid_request_error", None));
        }
    };
    chat(shared, &body)
}

/// A chat message's text: a string, or the `text` of content parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// (role, text) of each message.
fn messages(body: &Value) -> Result<Vec<(String, String)>, String> {
    let list = match body.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => return Err("[] is too short - 'messages'".into()),
        _ => return Err("'messages' is a required property".into()),
    };
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let role = m
                .get("role")
                .and_then(Value::as_str)
                .ok_or(format!("'role' is a required property - 'messages.{i}'"))?;
            if !matches!(role, "system" | "developer" | "user" | "assistant" | "tool") {
                return Err(format!("'{role}' is not one of ['system', 'developer', 'user', 'assistant', 'tool'] - 'messages.{i}.role'"));
            }
            Ok((role.to_string(), text_of(m.get("content").unwrap_or(&Value::Null))))
        })
        .collect()
}

fn classify(msgs: &[(String, String)]) -> Option<Kind> {
    let last_user_continues = msgs
        .last()
        .is_some_and(|(role, text)| role == "user" && text.trim_start().starts_with("Continue"));
    if last_user_continues && msgs.iter().any(|(role, _)| role == "assistant") {
        return Some(Kind::Continue);
    }
    let (role, system) = msgs.first()?;
    if role != "system" && role != "developer" {
        return None;
    }
    let first_line = system.trim_start().lines().next().unwrap_or_default();
    if first_line.starts_with(PLAN_SYSTEM) {
        Some(Kind::Plan)
    } else if first_line.starts_with(CODEGEN_SYSTEM) {
        Some(Kind::Codegen)
    } else if first_line.starts_with(REPAIR_SYSTEM) {
        Some(Kind::Repair)
    } else if first_line.starts_with(EDIT_SYSTEM) {
        Some(Kind::Edit)
    } else {
        None
    }
}

fn chat(shared: &Shared, body: &Value) -> (Option<Kind>, Answer) {
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return (
            None,
            error(
                400,
                "you must provide a model parameter",
                "invalid_request_error",
                None,
            ),
        );
    };
    let msgs = match messages(body) {
        Ok(m) => m,
        Err(message) => return (None, error(400, &message, "invalid_request_error", None)),
    };
    let Some(kind) = classify(&msgs) else {
        let first: String = msgs
            .first()
            .map(|(_, t)| {
                t.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect()
            })
            .unwrap_or_default();
        let message = format!("unrecognised prompt (the system message starts {first:?})");
        return (None, error(400, &message, "invalid_request_error", None));
    };
    let structured = body
        .get("response_format")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "json_schema" || t == "json_object");

    let mut state = shared.lock();
    let behaviour = state
        .scripts
        .get_mut(&kind)
        .and_then(VecDeque::pop_front)
        .unwrap_or(Behaviour::Correct);
    let (behaviour, mut state) = match behaviour {
        Behaviour::Stall(pause) => {
            drop(state);
            std::thread::sleep(pause);
            (Behaviour::Correct, shared.lock())
        }
        other => (other, state),
    };
    let mut reasoning = String::new();
    let (content, finish) = match behaviour {
        Behaviour::Status(status) => return (Some(kind), scripted_status(status)),
        Behaviour::ThinkOnly => {
            reasoning = THOUGHT.repeat(40);
            (String::new(), "length")
        }
        Behaviour::Garbage => (GARBAGE.to_string(), "stop"),
        Behaviour::Raw(text) => (text, "stop"),
        Behaviour::Append { .. } => match answer(&mut state, kind, &msgs, structured, &behaviour) {
            Ok(text) => (text, "stop"),
            Err(message) => {
                return (
                    Some(kind),
                    error(400, &message, "invalid_request_error", None),
                )
            }
        },
        Behaviour::Correct
        | Behaviour::WrongImport
        | Behaviour::InvalidPlan
        | Behaviour::Stall(_) => match answer(&mut state, kind, &msgs, structured, &behaviour) {
            Ok(text) => (text, "stop"),
            Err(message) => {
                return (
                    Some(kind),
                    error(400, &message, "invalid_request_error", None),
                )
            }
        },
        Behaviour::Truncate(fraction) => {
            match answer(&mut state, kind, &msgs, structured, &Behaviour::Correct) {
                Ok(full) => {
                    let chars = full.chars().count();
                    let keep = ((chars as f64) * f64::from(fraction.clamp(0.0, 1.0))) as usize;
                    let at = full.char_indices().nth(keep).map_or(full.len(), |(i, _)| i);
                    let (sent, rest) = full.split_at(at);
                    state.cut.push((sent.to_string(), rest.to_string()));
                    (sent.to_string(), "length")
                }
                Err(message) => {
                    return (
                        Some(kind),
                        error(400, &message, "invalid_request_error", None),
                    )
                }
            }
        }
    };
    drop(state);

    let id = format!(
        "chatcmpl-kiln{:08x}",
        shared.ids.fetch_add(1, Ordering::SeqCst)
    );
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Token counts are an estimate, not a tokenizer: one token per 4 characters, rounded up
    // (prompt: all message texts; completion: the answer).
    let prompt_chars: usize = msgs.iter().map(|(_, t)| t.chars().count()).sum();
    let prompt_tokens = prompt_chars.div_ceil(4);
    let completion_tokens = (content.chars().count() + reasoning.chars().count()).div_ceil(4);
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });

    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let completion = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": if reasoning.is_empty() {
                    json!({ "role": "assistant", "content": content })
                } else {
                    json!({ "role": "assistant", "content": null, "reasoning_content": reasoning })
                },
                "logprobs": null,
                "finish_reason": finish,
            }],
            "usage": usage,
        });
        return (
            Some(kind),
            Answer::Json {
                status: 200,
                headers: Vec::new(),
                body: completion,
            },
        );
    }

    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let chunk = |choices: Value, usage: Value| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
        });
        if include_usage {
            // With include_usage, OpenAI sends `usage: null` on every chunk but the last.
            c["usage"] = usage;
        }
        format!("data: {c}\n\n")
    };
    let mut events = Vec::new();
    if !reasoning.is_empty() {
        for piece in pieces(&reasoning, CHUNK_CHARS) {
            events.push(chunk(
                json!([{ "index": 0, "delta": { "reasoning_content": piece }, "logprobs": null, "finish_reason": null }]),
                Value::Null,
            ));
        }
    }
    for (i, piece) in pieces(&content, CHUNK_CHARS).into_iter().enumerate() {
        let delta = if i == 0 {
            json!({ "role": "assistant", "content": piece })
        } else {
            json!({ "content": piece })
        };
        events.push(chunk(
            json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": null }]),
            Value::Null,
        ));
    }
    events.push(chunk(
        json!([{ "index": 0, "delta": {}, "logprobs": null, "finish_reason": finish }]),
        Value::Null,
    ));
    if include_usage {
        events.push(chunk(json!([]), usage));
    }
    events.push("data: [DONE]\n\n".to_string());
    (Some(kind), Answer::Stream { events })
}

/// `text` in pieces of `size` characters (one empty piece for empty text).
fn pieces(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let at = rest.char_indices().nth(size).map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(at);
        out.push(piece);
        rest = tail;
    }
    if out.is_empty() {
        out.push("");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Correct answers

/// The correct answer for `kind` (altered by `WrongImport`/`InvalidPlan` where they apply), or
/// a message for a 400 when the prompt does not carry what the kind needs.
fn answer(
    state: &mut State,
    kind: Kind,
    msgs: &[(String, String)],
    structured: bool,
    behaviour: &Behaviour,
) -> Result<String, String> {
    match kind {
        Kind::Plan => plan_answer(msgs, structured, *behaviour == Behaviour::InvalidPlan),
        Kind::Codegen => {
            let mut files = codegen_files(msgs)?;
            if let Behaviour::Append { path, text } = behaviour {
                for (p, content) in files.iter_mut() {
                    if p == path {
                        content.push('\n');
                        content.push_str(text);
                    }
                }
            }
            state.last_files.clone_from(&files);
            Ok(files_answer(&files, *behaviour == Behaviour::WrongImport))
        }
        Kind::Repair => {
            let files = repair_files(state, msgs)?;
            Ok(files_answer(&files, *behaviour == Behaviour::WrongImport))
        }
        Kind::Edit if first_user(msgs).is_some_and(|u| u.contains("\n\nPlan changes:\n")) => {
            let files = revise_files(msgs)?;
            state.last_files.clone_from(&files);
            Ok(files_answer(&files, *behaviour == Behaviour::WrongImport))
        }
        Kind::Edit => edit_answer(msgs),
        Kind::Continue => continue_answer(state, msgs),
    }
}

/// One SEARCH/REPLACE edit that puts [`EDIT_MARK`] and the request's first line above the first
/// line of `public/app.js`, the way a model answers a small change.
fn edit_answer(msgs: &[(String, String)]) -> Result<String, String> {
    let user = first_user(msgs).ok_or("the edit prompt has no user message")?;
    let request = user
        .strip_prefix("Request:\n")
        .and_then(|r| r.lines().next())
        .ok_or("the edit prompt does not start with `Request:`")?;
    let section = user.find("\nFiles:").map_or(user, |at| &user[at + 1..]);
    let parsed = FileParser::parse(section);
    let app = parsed
        .file("public/app.js")
        .ok_or("the edit prompt carries no public/app.js")?;
    let first = app.content.lines().next().unwrap_or_default();
    Ok(format!(
        "{FILES_INTRO}\n=== EDIT: public/app.js ===\n<<<<<<< SEARCH\n{first}\n=======\n{EDIT_MARK}{request}\n{first}\n>>>>>>> REPLACE\n=== END EDIT ===\n"
    ))
}

/// A plan change on a live app (the edit prompt with `Plan changes:` and `New plan:`): the
/// offline generator's `worker.js` and `public/app.js` for the new plan, each keeping the
/// [`EDIT_MARK`] lines the current file starts with, as whole files — what a model does that
/// serves the new plan and keeps the earlier changes.
fn revise_files(msgs: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let user = first_user(msgs).ok_or("the edit prompt has no user message")?;
    let mut lines = user.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "New plan:")
        .ok_or("the plan-change prompt has no `New plan:` line")?;
    let line = lines
        .next()
        .ok_or("the plan-change prompt has no plan after `New plan:`")?;
    let plan: Plan = serde_json::from_str(line.trim()).map_err(|e| {
        format!("the line after `New plan:` is not a plan as one line of JSON: {e}")
    })?;
    let valid = plan
        .validate()
        .map_err(|_| "the plan in the plan-change prompt is invalid".to_string())?;
    let section = user.find("\nFiles:").map_or(user, |at| &user[at + 1..]);
    let current = FileParser::parse(section);
    let mut out = Vec::new();
    for (path, content) in offline_files(&valid) {
        if path.starts_with("migrations/") {
            continue;
        }
        let marks: String = current
            .file(&path)
            .map(|f| {
                f.content
                    .lines()
                    .take_while(|l| l.starts_with(EDIT_MARK))
                    .map(|l| format!("{l}\n"))
                    .collect()
            })
            .unwrap_or_default();
        out.push((path, format!("{marks}{content}")));
    }
    Ok(out)
}

/// The first user message (the request of every step).
fn first_user(msgs: &[(String, String)]) -> Option<&str> {
    msgs.iter()
        .find(|(role, _)| role == "user")
        .map(|(_, t)| t.as_str())
}

/// The app request in a plan prompt: the user message, or the text after its `Change request:`
/// line.
pub fn plan_request(user: &str) -> String {
    let mut lines = user.lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.trim_start().strip_prefix("Change request:") {
            let mut text = rest.trim().to_string();
            for more in lines.by_ref() {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(more);
            }
            return text.trim().to_string();
        }
    }
    user.trim().to_string()
}

fn plan_answer(
    msgs: &[(String, String)],
    structured: bool,
    invalid: bool,
) -> Result<String, String> {
    let user = first_user(msgs).ok_or("the plan prompt has no user message")?;
    let mut plan = match planner::plan_from_prompt(&plan_request(user)) {
        Ok(plan) => plan,
        // What a model does with an empty or overlong request: prose, no plan.
        Err(e) => return Ok(format!("I can't plan that: {e}.")),
    };
    if invalid {
        if let Some(first) = plan.entities.first_mut() {
            first.name = "Bad Name!".into();
        }
    }
    let json = serde_json::to_string_pretty(&plan).expect("serialise a plan");
    Ok(if structured {
        json
    } else {
        format!("{PLAN_INTRO}\n```json\n{json}\n```\n{PLAN_OUTRO}\n")
    })
}

/// The offline generator's files for the plan in a codegen prompt, minus Kiln's own.
fn codegen_files(msgs: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let user = first_user(msgs).ok_or("the codegen prompt has no user message")?;
    let mut lines = user.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "Plan:")
        .ok_or("the codegen prompt has no `Plan:` line")?;
    let line = lines
        .next()
        .ok_or("the codegen prompt has no plan after `Plan:`")?;
    let plan: Plan = serde_json::from_str(line.trim())
        .map_err(|e| format!("the line after `Plan:` is not a plan as one line of JSON: {e}"))?;
    let valid = plan.validate().map_err(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!(
            "the plan in the codegen prompt is invalid: {}",
            list.join("; ")
        )
    })?;
    Ok(offline_files(&valid))
}

/// The files a correct codegen answer carries for `plan`.
pub fn offline_files(plan: &plan::ValidPlan) -> Vec<(String, String)> {
    scaffold::generate(plan)
        .into_iter()
        .filter(|(path, _)| !SUPPLIED_BY_KILN.contains(&path.as_str()))
        .collect()
}

/// Each file of the repair prompt's `Files:` section, as the last codegen answer had it.
fn repair_files(state: &State, msgs: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let user = msgs
        .iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map(|(_, t)| t.as_str())
        .ok_or("the repair prompt has no user message")?;
    // The diagnostics come first; only the `Files:` section is parsed for files.
    let section = user.find("\nFiles:").map_or(user, |at| &user[at + 1..]);
    let parsed = FileParser::parse(section);
    if parsed.files.is_empty() {
        return Err("the repair prompt carries no files in the multi-file format".into());
    }
    Ok(parsed
        .files
        .into_iter()
        .map(|f| {
            let correct = state
                .last_files
                .iter()
                .find(|(p, _)| *p == f.path)
                .map(|(_, c)| c.clone());
            (f.path, correct.unwrap_or(f.content))
        })
        .collect())
}

/// Files in the multi-file format between prose; `bad_import` prefixes `worker.js`.
pub fn files_answer(files: &[(String, String)], bad_import: bool) -> String {
    let mut out = format!("{FILES_INTRO}\n");
    for (path, content) in files {
        out.push_str(&format!("=== FILE: {path} ===\n"));
        if bad_import && path == "worker.js" {
            out.push_str(BAD_IMPORT);
            out.push('\n');
        }
        out.push_str(content);
        if !content.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("=== END FILE ===\n");
    }
    out.push_str(FILES_OUTRO);
    out.push('\n');
    out
}

/// The rest of the cut-off answer the conversation's assistant message ends with (the most
/// recent cut-off answer when none matches).
fn continue_answer(state: &mut State, msgs: &[(String, String)]) -> Result<String, String> {
    if state.cut.is_empty() {
        return Err("nothing to continue: no answer of this server was cut off".into());
    }
    let partial = msgs
        .iter()
        .rev()
        .find(|(role, _)| role == "assistant")
        .map(|(_, t)| t.as_str())
        .unwrap_or_default();
    let at = state
        .cut
        .iter()
        .rposition(|(sent, _)| {
            !sent.is_empty()
                && !partial.is_empty()
                && (partial.ends_with(sent.as_str()) || sent.ends_with(partial))
        })
        .unwrap_or(state.cut.len() - 1);
    Ok(state.cut.remove(at).1)
}
