//! The event log: concurrency, verification, projections, live streams, bad input.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        creating_renaming_posting_and_deleting_are_recorded_as_events,
        twenty_concurrent_appenders_lose_duplicate_and_reorder_nothing,
        projections_dropped_and_rebuilt_from_the_log_are_identical,
        an_interrupted_projection_rebuild_resumes_from_its_cursor_and_ends_identical,
        an_sse_client_that_reconnects_with_last_event_id_gets_every_later_event_once,
        a_corrupted_log_object_is_reported_by_verify_and_reads_do_not_crash,
        bad_event_queries_are_clear_errors,
        operator_routes_need_the_operator_token,
    ]
}

fn events(k: &Kiln, token: &str, id: &str, after: u64) -> Value {
    let r = k.api.get(
        &format!("/api/projects/{id}/events?after={after}&limit=1000"),
        Some(token),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn types(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn post_message(k: &Kiln, token: &str, id: &str, content: &str) -> u16 {
    k.api
        .post(
            &format!("/api/projects/{id}/messages"),
            Some(token),
            &json!({ "content": content }),
        )
        .status
}

fn creating_renaming_posting_and_deleting_are_recorded_as_events(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Habit Tracker");
    let id = p["id"].as_str().unwrap();
    assert_eq!(
        k.api
            .json(
                "PATCH",
                &format!("/api/projects/{id}"),
                Some(&token),
                &json!({ "name": "Habits" })
            )
            .status,
        200
    );
    assert_eq!(post_message(k, &token, id, "track water and sleep"), 201);

    let log = events(k, &token, id, 0);
    assert_eq!(
        types(&log),
        ["ProjectCreated", "ProjectRenamed", "MessagePosted"]
    );
    let first = &log["events"][0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["stream"], id);
    assert_eq!(first["data"]["slug"], p["slug"]);
    assert_eq!(first["prev_hash"], "0".repeat(64));
    assert_eq!(
        log["events"][1]["prev_hash"], first["hash"],
        "each event links to the previous hash"
    );
    assert_eq!(log["next_after"], 3);

    let msgs = k
        .api
        .get(&format!("/api/projects/{id}/messages"), Some(&token));
    assert_eq!(
        msgs.json()["messages"][0]["content"],
        "track water and sleep"
    );

    let v = k
        .api
        .get(&format!("/api/projects/{id}/events/verify"), Some(&token))
        .json();
    assert_eq!(v, json!({ "ok": true, "events": 3 }));

    // Deletion is an event too; afterwards the project (and its log) is no longer reachable by
    // its owner (operators can still read the log).
    assert_eq!(
        k.api
            .delete(&format!("/api/projects/{id}"), Some(&token))
            .status,
        204
    );
    let dump = k
        .api
        .send(
            "GET",
            "/api/admin/projections",
            Some(&k.operator_token),
            &[],
            None,
            None,
        )
        .json();
    assert!(dump["projects"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["id"] != id));
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/events"), Some(&token))
            .status,
        404
    );
}

fn twenty_concurrent_appenders_lose_duplicate_and_reorder_nothing(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Busy Project")["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (token, id) = (&token, &id);
                s.spawn(move || post_message(k, token, id, &format!("message {i}")))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 201);
        }
    });
    let log = events(k, &token, &id, 0);
    let all = log["events"].as_array().unwrap();
    assert_eq!(all.len(), 21);
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=21).collect::<Vec<_>>(), "seqs are contiguous");
    let contents: BTreeSet<String> = all[1..]
        .iter()
        .map(|e| e["data"]["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        contents,
        (0..20).map(|i| format!("message {i}")).collect(),
        "every message exactly once"
    );
    let ids: BTreeSet<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 21);
    let v = k
        .api
        .get(&format!("/api/projects/{id}/events/verify"), Some(&token))
        .json();
    assert_eq!(v["ok"], true, "{v}");
    let msgs = k
        .api
        .get(&format!("/api/projects/{id}/messages"), Some(&token))
        .json();
    assert_eq!(
        msgs["messages"].as_array().unwrap().len(),
        20,
        "the projection saw every message once"
    );
}

/// The rows that differ between two projection dumps, table by table.
fn differences(a: &Value, b: &Value) -> String {
    let mut out = String::new();
    for (table, rows) in a.as_object().unwrap() {
        let left: Vec<&Value> = rows.as_array().unwrap().iter().collect();
        let right: Vec<&Value> = b[table].as_array().unwrap().iter().collect();
        for r in &left {
            if !right.contains(r) {
                out += &format!("\n only in the first {table}: {r}");
            }
        }
        for r in &right {
            if !left.contains(r) {
                out += &format!("\n only in the second {table}: {r}");
            }
        }
    }
    out
}

/// Starts (or resumes) a projection rebuild with `query` and polls its progress until it stops
/// (`done`, or `paused` by the `stop_after` test hook); returns the progress.
fn rebuild_to(k: &Kiln, query: &str, until: &str) -> Value {
    let op = Some(k.operator_token.as_str());
    let started = k.api.send(
        "POST",
        &format!("/api/admin/projections/rebuild{query}"),
        op,
        &[],
        None,
        None,
    );
    assert_eq!(started.status, 202, "{}", started.body);
    let id = started.json()["rebuild"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let r = k.api.get("/api/admin/projections/rebuild", op);
        assert_eq!(r.status, 200, "{}", r.body);
        let progress = r.json()["rebuild"].clone();
        assert_eq!(progress["id"], id.as_str(), "{progress}");
        if progress["status"] == until {
            return progress;
        }
        assert!(
            progress["status"] == "running",
            "the rebuild stopped: {progress}"
        );
        assert!(std::time::Instant::now() < deadline, "{progress}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn rebuild_to_the_end(k: &Kiln, query: &str) -> Value {
    rebuild_to(k, query, "done")
}

/// A rebuild in chunks of 7 events is paused after 3 chunks (a test hook): the projections are
/// then half-built and the progress shows the cursor; a POST resumes it from there, and the rows
/// end identical to the live projections and to an uninterrupted rebuild.
fn an_interrupted_projection_rebuild_resumes_from_its_cursor_and_ends_identical(k: &Kiln) {
    let token = k.api.new_user();
    for name in ["Resumed Rebuild", "Second Stream"] {
        let id = k.api.create_project(&token, name)["id"]
            .as_str()
            .unwrap()
            .to_string();
        for i in 0..12 {
            post_message(k, &token, &id, &format!("message {i}"));
        }
    }
    // A stream whose 40 messages are one commit (the seeding test hook): chunks of 7 end inside it.
    let seeded = k.api.create_project(&token, "Seeded Stream")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = k.api.post(
        &format!("/api/_test/projects/{seeded}/seed"),
        None,
        &json!({ "events": 40 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["last_seq"], 41, "{}", r.body);
    let bad = k.api.post(
        &format!("/api/_test/projects/{seeded}/seed"),
        None,
        &json!({ "events": 0 }),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    // A slug freed by a deletion and taken again: streams replay in key order, not time order.
    let gone = k.api.create_project(&token, "Reused Slug")["id"]
        .as_str()
        .unwrap()
        .to_string();
    k.api.delete(&format!("/api/projects/{gone}"), Some(&token));
    let again = k.api.create_project(&token, "Reused Slug");
    assert_eq!(again["slug"], "reused-slug", "{again}");

    let op = Some(k.operator_token.as_str());
    let live = k.api.get("/api/admin/projections", op).json();
    let paused = rebuild_to(k, "?chunk=7&stop_after=3", "paused");
    assert_eq!(paused["chunks"], 3, "{paused}");
    assert_eq!(paused["chunk_size"], 7, "{paused}");
    assert!(!paused["cursor"]["stream"].is_null(), "{paused}");
    let half = k.api.get("/api/admin/projections", op).json();
    assert_ne!(
        half, live,
        "three chunks of seven events cannot rebuild everything"
    );

    let resumed = k.api.send(
        "POST",
        "/api/admin/projections/rebuild",
        op,
        &[],
        None,
        None,
    );
    assert_eq!(resumed.status, 202, "{}", resumed.body);
    assert_eq!(resumed.json()["resumed"], true, "{}", resumed.body);
    assert_eq!(resumed.json()["rebuild"]["id"], paused["id"]);
    let done = rebuild_to_the_end(k, "");
    assert_eq!(done["id"], paused["id"], "the same rebuild finished");
    assert!(done["chunks"].as_u64().unwrap() > 3, "{done}");
    assert_eq!(done["streams_done"], done["streams_total"], "{done}");
    assert_eq!(done["corrupt"], json!([]), "{done}");
    let resumed_rows = k.api.get("/api/admin/projections", op).json();
    assert!(
        resumed_rows == live,
        "a resumed rebuild differs from the live projections: {}",
        differences(&resumed_rows, &live)
    );

    let whole = rebuild_to_the_end(k, "");
    assert_ne!(
        whole["id"], paused["id"],
        "a finished rebuild is not resumed"
    );
    assert_eq!(whole["events"], done["events"], "{whole} vs {done}");
    let whole_rows = k.api.get("/api/admin/projections", op).json();
    assert_eq!(
        whole_rows, resumed_rows,
        "interrupted and uninterrupted rebuilds differ"
    );

    // Bad input: a chunk size out of range; the test hook is refused without test hooks only.
    let bad = k.api.send(
        "POST",
        "/api/admin/projections/rebuild?chunk=0",
        op,
        &[],
        None,
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let bad = k.api.send(
        "POST",
        "/api/admin/projections/rebuild?chunk=lots",
        op,
        &[],
        None,
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
}

fn projections_dropped_and_rebuilt_from_the_log_are_identical(k: &Kiln) {
    let token = k.api.new_user();
    for name in ["Recipe Book", "Bakery Inventory", "Recipe Book"] {
        let id = k.api.create_project(&token, name)["id"]
            .as_str()
            .unwrap()
            .to_string();
        post_message(k, &token, &id, "ingredients and ratings");
        k.api.json(
            "PATCH",
            &format!("/api/projects/{id}"),
            Some(&token),
            &json!({ "name": format!("{name} v2") }),
        );
    }
    let gone = k.api.create_project(&token, "Short Lived")["id"]
        .as_str()
        .unwrap()
        .to_string();
    k.api.delete(&format!("/api/projects/{gone}"), Some(&token));

    let op = Some(k.operator_token.as_str());
    let before = k.api.get("/api/admin/projections", op);
    assert_eq!(before.status, 200, "{}", before.body);
    let rebuilt = rebuild_to_the_end(k, "");
    assert!(rebuilt["events"].as_u64().unwrap() >= 11, "{rebuilt}");
    assert_eq!(
        rebuilt["streams_done"], rebuilt["streams_total"],
        "{rebuilt}"
    );
    let after = k.api.get("/api/admin/projections", op);
    assert_eq!(
        before.json(),
        after.json(),
        "rebuilt projections differ from the live ones"
    );
    assert!(!after.json()["projects"].as_array().unwrap().is_empty());
    assert!(!after.json()["messages"].as_array().unwrap().is_empty());
}

fn an_sse_client_that_reconnects_with_last_event_id_gets_every_later_event_once(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Live Feed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..4 {
        post_message(k, &token, &id, &format!("before {i}"));
    }
    // A long server-side timeout: the client disconnects itself once it has what it waits for,
    // so a slow machine cannot end the stream before the live event arrives.
    let path = format!("/api/projects/{id}/events?timeout=120");
    let first = k.api.sse(&path, &token, None, 3);
    assert_eq!(
        first
            .iter()
            .map(|e| e.id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(first[0].event.as_deref(), Some("ProjectCreated"));
    let last_seen: u64 = first.last().unwrap().id.as_ref().unwrap().parse().unwrap();

    // While disconnected, more happens.
    for i in 0..3 {
        post_message(k, &token, &id, &format!("after {i}"));
    }
    // Reconnect: events 4..=8 exist; a live writer adds one more while we listen.
    let writer = std::thread::scope(|s| {
        let h = s.spawn(|| {
            // The listener polls; this append lands while it is connected or just before.
            post_message(k, &token, &id, "live")
        });
        let got = k.api.sse(&path, &token, Some(last_seen), 6);
        assert_eq!(h.join().unwrap(), 201);
        got
    });
    let seqs: Vec<u64> = writer
        .iter()
        .map(|e| e.id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (4..=9).collect::<Vec<_>>(),
        "every later event, once, in order"
    );
    let data: Value = serde_json::from_str(&writer.last().unwrap().data).unwrap();
    assert_eq!(data["data"]["content"], "live");
}

fn a_corrupted_log_object_is_reported_by_verify_and_reads_do_not_crash(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Fragile")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..4 {
        post_message(k, &token, &id, &format!("m{i}"));
    }
    // Overwrite the commit holding seq 3 with garbage.
    let key = format!("streams/{id}/{:016}", 3);
    let r = k.api.send(
        "PUT",
        &format!("/api/_test/r2/{key}"),
        None,
        &[],
        Some(b"\x00\x00\x00\x05garbage!".to_vec()),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let v = k
        .api
        .get(&format!("/api/projects/{id}/events/verify"), Some(&token))
        .json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["seq"], 3, "{v}");

    let log = events(k, &token, &id, 0);
    assert_eq!(
        log["events"].as_array().unwrap().len(),
        2,
        "the readable prefix is returned"
    );
    assert_eq!(log["corrupt"]["seq"], 3);
    let sse = k.api.sse(
        &format!("/api/projects/{id}/events?timeout=5"),
        &token,
        None,
        10,
    );
    assert_eq!(sse.len(), 3, "two events then an error event: {sse:?}");
    assert_eq!(sse[2].event.as_deref(), Some("error"));
    // The platform is still fine.
    assert_eq!(k.api.get("/api/health", None).status, 200);
}

fn bad_event_queries_are_clear_errors(k: &Kiln) {
    let alice = k.api.new_user();
    let bob = k.api.new_user();
    let id = k.api.create_project(&alice, "Private")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for q in [
        "after=abc",
        "after=-1",
        "limit=0",
        "limit=100000",
        "limit=x",
    ] {
        let r = k
            .api
            .get(&format!("/api/projects/{id}/events?{q}"), Some(&alice));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.error_code(), "bad_request");
    }
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/events"), Some(&bob))
            .status,
        404
    );
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/events/verify"), Some(&bob))
            .status,
        404
    );
    assert_eq!(
        k.api
            .post(
                &format!("/api/projects/{id}/messages"),
                Some(&bob),
                &json!({ "content": "hi" })
            )
            .status,
        404
    );
    let empty = k.api.post(
        &format!("/api/projects/{id}/messages"),
        Some(&alice),
        &json!({ "content": "  " }),
    );
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json()["error"]["field"], "content");
    assert_eq!(
        events(k, &alice, &id, 0)["events"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was recorded by bad requests"
    );
}

fn operator_routes_need_the_operator_token(k: &Kiln) {
    let user = k.api.new_user();
    assert_eq!(
        k.api
            .get("/api/admin/projections/rebuild", Some(&user))
            .status,
        401
    );
    assert_eq!(k.api.get("/api/admin/projections", Some(&user)).status, 401);
    assert_eq!(k.api.get("/api/admin/projections", None).status, 401);
    assert_eq!(
        k.api
            .send(
                "POST",
                "/api/admin/projections/rebuild",
                Some(&user),
                &[],
                None,
                None
            )
            .status,
        401
    );
}
