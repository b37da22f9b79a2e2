//! The scripted model server of the end-to-end tests keeps the OpenAI chat-completions contract
//! and answers what Kiln's own parsers read back into the offline generator's app.

#[path = "e2e/model_server.rs"]
mod model_server;

use generation::files::{FileParser, ParsedFiles};
use generation::{plan_json, sse};
use model_server::{
    files_answer, offline_files, Behaviour, Kind, ModelServer, BAD_IMPORT, CHUNK_CHARS,
    CODEGEN_SYSTEM, GARBAGE, MODEL_ID, PLAN_SYSTEM, REPAIR_SYSTEM,
};
use plan::{Plan, ValidPlan};
use planner::plan_from_prompt;
use serde_json::{json, Value};

const PROMPT: &str = "A task manager with projects, due dates and priorities";

fn valid_plan(prompt: &str) -> ValidPlan {
    plan_from_prompt(prompt).unwrap().validate().unwrap()
}

fn body(messages: Value, stream: bool) -> Value {
    let mut b = json!({
        "model": MODEL_ID,
        "messages": messages,
        "max_tokens": 8192,
        "temperature": 0.2,
        "stream": stream,
    });
    if stream {
        b["stream_options"] = json!({ "include_usage": true });
    }
    b
}

fn plan_body(user: &str, stream: bool) -> Value {
    body(
        json!([
            { "role": "system", "content": format!("{PLAN_SYSTEM} Answer with one JSON object.\n\nRules: …") },
            { "role": "user", "content": user },
        ]),
        stream,
    )
}

fn codegen_messages(plan: &ValidPlan) -> Value {
    let line = serde_json::to_string(plan.plan()).unwrap();
    json!([
        { "role": "system", "content": format!("{CODEGEN_SYSTEM} Write only the app's own files.\n…") },
        { "role": "user", "content": format!("Plan:\n{line}\n") },
    ])
}

fn content(reply: &Value) -> String {
    reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

fn pairs(parsed: &ParsedFiles) -> Vec<(String, String)> {
    parsed
        .files
        .iter()
        .map(|f| (f.path.clone(), f.content.clone()))
        .collect()
}

/// The stream folded by Kiln's own SSE parser, fed in small uneven pieces.
fn fold(body: &[u8]) -> sse::Completion {
    sse::collect(body.chunks(37))
}

/// The `data:` payloads of a stream, in order.
fn payloads(body: &[u8]) -> Vec<String> {
    String::from_utf8(body.to_vec())
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .expect("every event is one data line")
                .to_string()
        })
        .collect()
}

#[test]
fn a_plan_answer_is_a_chatty_completion_whose_plan_the_extractor_reads() {
    let server = ModelServer::start();
    let request = plan_body(PROMPT, false);
    let reply = server.chat(&request);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let v = reply.json();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(v["model"], MODEL_ID);
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    let text = content(&v);
    assert!(text.contains("```json"), "{text}");
    assert!(
        !text.trim_start().starts_with('{'),
        "prose comes first: {text}"
    );
    let plan: Plan = serde_json::from_value(plan_json::extract(&text).unwrap()).unwrap();
    assert_eq!(plan, plan_from_prompt(PROMPT).unwrap());

    // Usage: the documented estimate, one token per 4 characters rounded up.
    let prompt_chars: usize = request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().chars().count())
        .sum();
    let (p, c) = (
        prompt_chars.div_ceil(4) as u64,
        text.chars().count().div_ceil(4) as u64,
    );
    assert_eq!(v["usage"]["prompt_tokens"], p);
    assert_eq!(v["usage"]["completion_tokens"], c);
    assert_eq!(v["usage"]["total_tokens"], p + c);

    let recorded = server.requests_of(Kind::Plan);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, 200);
    assert_eq!(recorded[0].body, request);
}

#[test]
fn a_change_request_is_planned_and_structured_output_is_bare_json() {
    let server = ModelServer::start();
    let user =
        "Current plan:\n{\"app_name\":\"Old\"}\n\nChange request:\nA recipe book with ratings";
    let text = content(&server.chat(&plan_body(user, false)).json());
    let plan: Plan = serde_json::from_value(plan_json::extract(&text).unwrap()).unwrap();
    assert_eq!(
        plan,
        plan_from_prompt("A recipe book with ratings").unwrap()
    );

    let mut structured = plan_body(PROMPT, false);
    structured["response_format"] = json!({
        "type": "json_schema",
        "json_schema": { "name": "plan", "strict": false, "schema": { "type": "object" } }
    });
    let text = content(&server.chat(&structured).json());
    let plan: Plan = serde_json::from_str(&text).expect("bare JSON, no prose");
    assert_eq!(plan, plan_from_prompt(PROMPT).unwrap());
}

#[test]
fn a_streamed_codegen_answer_folds_into_the_offline_files() {
    let server = ModelServer::start();
    let plan = valid_plan(PROMPT);
    let reply = server.chat(&body(codegen_messages(&plan), true));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));

    let completion = fold(&reply.body);
    assert!(completion.done);
    assert!(completion.errors.is_empty(), "{:?}", completion.errors);
    assert!(
        completion.diagnostics.is_empty(),
        "{:?}",
        completion.diagnostics
    );
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    let (p, c) = completion.usage.expect("usage chunk");
    assert!(p > 0);
    assert_eq!(c as usize, completion.content.chars().count().div_ceil(4));

    let parsed = FileParser::parse(&completion.content);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert!(!parsed.truncated());
    let expected = offline_files(&plan);
    assert_eq!(pairs(&parsed), expected);
    assert_eq!(
        parsed.paths(),
        ["worker.js", "migrations/0001_init.sql", "public/app.js"]
    );

    // The event shapes: role in the first delta only, an empty delta with the finish reason,
    // a usage chunk without choices, then [DONE].
    let events = payloads(&reply.body);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let deltas = &chunks[..chunks.len() - 2];
    assert_eq!(
        deltas.len(),
        completion.content.chars().count().div_ceil(CHUNK_CHARS)
    );
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], chunks[0]["id"]);
        assert_eq!(chunk["model"], MODEL_ID);
        if i < deltas.len() {
            let delta = &chunk["choices"][0]["delta"];
            assert_eq!(delta.get("role").is_some(), i == 0, "{chunk}");
            assert!(chunk["choices"][0]["finish_reason"].is_null());
            assert!(chunk["usage"].is_null());
        }
    }
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"]["total_tokens"],
        usage["usage"]["prompt_tokens"].as_u64().unwrap() + c
    );

    // Without include_usage there is no usage chunk.
    let mut plain = body(codegen_messages(&plan), true);
    plain.as_object_mut().unwrap().remove("stream_options");
    let reply = server.chat(&plain);
    let completion = fold(&reply.body);
    assert_eq!(completion.usage, None);
    assert!(completion.done);
    assert_eq!(pairs(&FileParser::parse(&completion.content)), expected);
}

#[test]
fn scripted_statuses_have_openai_error_shapes_then_the_queue_runs_dry() {
    let server = ModelServer::start();
    server.script(
        Kind::Codegen,
        vec![
            Behaviour::Status(429),
            Behaviour::Status(500),
            Behaviour::Status(400),
        ],
    );
    assert_eq!(server.pending(Kind::Codegen), 3);
    let request = body(codegen_messages(&valid_plan(PROMPT)), false);

    let r = server.chat(&request);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("0"));
    let e = &r.json()["error"];
    assert_eq!(e["message"], "Rate limit reached");
    assert_eq!(e["type"], "rate_limit_error");

    let r = server.chat(&request);
    assert_eq!(r.status, 500);
    let e = &r.json()["error"];
    assert_eq!(
        e["message"],
        "The server had an error while processing your request"
    );
    assert_eq!(e["type"], "server_error");

    let r = server.chat(&request);
    assert_eq!(r.status, 400);
    let e = &r.json()["error"];
    assert_eq!(e["message"], "max_tokens is too large");
    assert_eq!(e["type"], "invalid_request_error");

    let r = server.chat(&request);
    assert_eq!(r.status, 200);
    assert_eq!(server.pending(Kind::Codegen), 0);

    // A scripted status on a stream request is a plain JSON error, not a stream.
    server.script(Kind::Codegen, vec![Behaviour::Status(429)]);
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let r = server.chat(&streamed);
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");

    let statuses: Vec<u16> = server
        .requests_of(Kind::Codegen)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 500, 400, 200, 429]);
    server.clear();
    assert!(server.requests().is_empty());
}

#[test]
fn a_truncated_answer_and_its_continuation_reassemble_the_full_answer() {
    let server = ModelServer::start();
    let plan = valid_plan(PROMPT);
    let full = content(&server.chat(&body(codegen_messages(&plan), false)).json());

    server.script(Kind::Codegen, vec![Behaviour::Truncate(0.5)]);
    let reply = server.chat(&body(codegen_messages(&plan), true));
    let first = fold(&reply.body);
    assert!(first.hit_token_limit());
    assert_eq!(first.finish_reason.as_deref(), Some("length"));
    let half = full.chars().count() / 2;
    assert_eq!(first.content.chars().count(), half);
    assert!(full.starts_with(&first.content));
    let parsed = FileParser::parse(&first.content);
    assert!(parsed.truncated(), "cut inside a file");
    let tail = parsed.continuation_prompt_tail().unwrap();

    let mut messages = codegen_messages(&plan);
    let list = messages.as_array_mut().unwrap();
    list.push(json!({ "role": "assistant", "content": first.content }));
    list.push(json!({
        "role": "user",
        "content": format!(
            "Continue exactly where your answer stopped, from the next character. Your answer ended inside {} with:\n{tail}",
            parsed.unfinished_path().unwrap()
        ),
    }));
    let reply = server.chat(&body(messages, false));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let rest = content(&v);
    assert_eq!(format!("{}{rest}", first.content), full);
    assert_eq!(server.requests_of(Kind::Continue).len(), 1);

    let merged = FileParser::resume(parsed, &rest);
    assert!(!merged.truncated());
    assert_eq!(pairs(&merged), offline_files(&plan));
}

#[test]
fn a_continuation_can_be_cut_again() {
    let server = ModelServer::start();
    let plan = valid_plan(PROMPT);
    let full = files_answer(&offline_files(&plan), false);
    server.script(Kind::Codegen, vec![Behaviour::Truncate(0.3)]);
    server.script(Kind::Continue, vec![Behaviour::Truncate(0.5)]);
    let mut so_far = content(&server.chat(&body(codegen_messages(&plan), false)).json());
    for expected_finish in ["length", "stop"] {
        let mut messages = codegen_messages(&plan);
        let list = messages.as_array_mut().unwrap();
        list.push(json!({ "role": "assistant", "content": so_far }));
        list.push(
            json!({ "role": "user", "content": "Continue exactly where your answer stopped." }),
        );
        let v = server.chat(&body(messages, false)).json();
        assert_eq!(v["choices"][0]["finish_reason"], expected_finish);
        so_far.push_str(&content(&v));
    }
    assert_eq!(so_far, full);
}

#[test]
fn a_wrong_import_is_repaired_to_the_correct_worker() {
    let server = ModelServer::start();
    let plan = valid_plan(PROMPT);
    let expected = offline_files(&plan);
    server.script(Kind::Codegen, vec![Behaviour::WrongImport]);
    let text = content(&server.chat(&body(codegen_messages(&plan), false)).json());
    let parsed = FileParser::parse(&text);
    let worker = parsed.file("worker.js").unwrap();
    assert!(worker.content.starts_with(&format!("{BAD_IMPORT}\n")));
    assert_eq!(worker.content[BAD_IMPORT.len() + 1..], expected[0].1);
    assert_eq!(pairs(&parsed)[1..], expected[1..]);

    let repair = body(
        json!([
            { "role": "system", "content": format!("{REPAIR_SYSTEM} Fix exactly those problems.\n…") },
            { "role": "user", "content": format!(
                "Diagnostics:\n- worker.js line 1: import of \"nanoid\" is not allowed\n\nFiles:\n=== FILE: worker.js ===\n{}=== END FILE ===\n",
                worker.content
            ) },
        ]),
        true,
    );
    let reply = server.chat(&repair);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let fixed = FileParser::parse(&fold(&reply.body).content);
    assert_eq!(pairs(&fixed), [expected[0].clone()]);
    assert_eq!(server.requests_of(Kind::Repair).len(), 1);

    // A file the server never wrote comes back unchanged.
    let repair = body(
        json!([
            { "role": "system", "content": REPAIR_SYSTEM },
            { "role": "user", "content": "Diagnostics:\n- x\n\nFiles:\n=== FILE: src/util.js ===\nexport const x = 1;\n=== END FILE ===\n" },
        ]),
        false,
    );
    let fixed = FileParser::parse(&content(&server.chat(&repair).json()));
    assert_eq!(
        pairs(&fixed),
        [(
            "src/util.js".to_string(),
            "export const x = 1;\n".to_string()
        )]
    );
}

#[test]
fn an_invalid_plan_is_followed_by_a_correct_one_and_other_behaviours_answer_as_scripted() {
    let server = ModelServer::start();
    server.script(Kind::Plan, vec![Behaviour::InvalidPlan]);
    let text = content(&server.chat(&plan_body(PROMPT, false)).json());
    let plan: Plan = serde_json::from_value(plan_json::extract(&text).unwrap()).unwrap();
    assert_eq!(plan.entities[0].name, "Bad Name!");
    assert!(plan.validate().is_err());

    let repair = plan_body(PROMPT, false);
    let mut messages = repair["messages"].as_array().unwrap().clone();
    messages.push(json!({ "role": "assistant", "content": text }));
    messages.push(json!({ "role": "user", "content": "The plan has errors:\n- entity name \"Bad Name!\" is not an identifier\nAnswer with the corrected plan." }));
    let again = server.chat(&body(Value::Array(messages), false));
    let plan: Plan =
        serde_json::from_value(plan_json::extract(&content(&again.json())).unwrap()).unwrap();
    assert!(plan.validate().is_ok());
    assert_eq!(server.requests_of(Kind::Plan).len(), 2);

    server.script(
        Kind::Codegen,
        vec![Behaviour::Garbage, Behaviour::Raw("just this".into())],
    );
    let request = body(codegen_messages(&valid_plan(PROMPT)), false);
    assert_eq!(content(&server.chat(&request).json()), GARBAGE);
    let streamed = server.chat(&body(codegen_messages(&valid_plan(PROMPT)), true));
    assert_eq!(fold(&streamed.body).content, "just this");
}

#[test]
fn auth_routes_and_bad_requests_are_openai_errors() {
    let server = ModelServer::start_with_key("sk-local");
    let request = plan_body(PROMPT, false).to_string();
    let post = |key: Option<&str>, body: &str| {
        server.send("POST", "/v1/chat/completions", key, Some(body.as_bytes()))
    };

    let r = post(None, &request);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = post(Some("test-key"), &request);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "invalid_api_key");
    assert_eq!(post(Some("sk-local"), &request).status, 200);

    let r = post(Some("sk-local"), "{\"model\": \"x\", \"messages\": [");
    assert_eq!(r.status, 400);
    let e = &r.json()["error"];
    assert_eq!(e["type"], "invalid_request_error");
    assert!(e["message"].as_str().unwrap().contains("JSON"));

    let unknown = body(
        json!([{ "role": "system", "content": "You are a helpful assistant." }, { "role": "user", "content": "hi" }]),
        false,
    );
    let r = post(Some("sk-local"), &unknown.to_string());
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unrecognised prompt"));

    let r = post(Some("sk-local"), &json!({ "model": MODEL_ID }).to_string());
    assert_eq!(r.status, 400);

    let r = server.send("GET", "/v1/models", Some("sk-local"), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["object"], "list");
    assert_eq!(r.json()["data"][0]["id"], MODEL_ID);
    assert_eq!(r.json()["data"][0]["object"], "model");
    assert_eq!(server.send("GET", "/v1/models", None, None).status, 401);

    let r = server.send("POST", "/v1/completions", Some("sk-local"), Some(b"{}"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");

    let statuses: Vec<(u16, Option<Kind>)> = server
        .requests()
        .iter()
        .map(|r| (r.status, r.kind))
        .collect();
    assert_eq!(
        statuses,
        [
            (401, None),
            (401, None),
            (200, Some(Kind::Plan)),
            (400, None),
            (400, None),
            (400, None),
            (200, None),
            (401, None),
            (404, None),
        ]
    );
    assert!(
        server.requests()[3].body.is_string(),
        "malformed JSON is kept as text"
    );
}

#[test]
fn requests_with_keep_alive_and_a_body_split_across_writes_are_answered() {
    use std::io::{Read, Write};
    let server = ModelServer::start();
    let body = plan_body(PROMPT, false).to_string();
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nAuthorization: Bearer test-key\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let (a, b) = body.split_at(body.len() / 2);
    s.write_all(a.as_bytes()).unwrap();
    s.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    s.write_all(b.as_bytes()).unwrap();
    // The server answers and closes although the client keeps its side open.
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"));
}

#[test]
fn dropping_the_server_stops_it() {
    let server = ModelServer::start();
    let addr = server.addr();
    drop(server);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn a_stalled_answer_comes_only_after_the_pause() {
    let server = ModelServer::start();
    server.script(
        Kind::Plan,
        vec![Behaviour::Stall(std::time::Duration::from_millis(1500))],
    );
    let started = std::time::Instant::now();
    let reply = server.chat(&plan_body("a notes app", true));
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1500),
        "answered after {:?}",
        started.elapsed()
    );
    let folded = fold(&reply.body);
    assert!(folded.done);
}
