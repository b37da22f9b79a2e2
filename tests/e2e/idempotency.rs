//! `Idempotency-Key` on POSTs that create something: a retry gets the first answer, a reused key
//! with another request is refused, and keys are the caller's own.

use serde_json::{json, Value};

use crate::{scenarios, Kiln, Reply, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        a_retried_create_gets_the_first_answer_and_creates_nothing_new,
        a_key_reused_for_another_request_is_a_422,
        a_replayed_token_answer_withholds_the_secret,
    ]
}

fn post(k: &Kiln, token: &str, path: &str, key: &str, body: &Value) -> Reply {
    k.api.send(
        "POST",
        path,
        Some(token),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body.to_string().into_bytes()),
        None,
    )
}

fn a_retried_create_gets_the_first_answer_and_creates_nothing_new(k: &Kiln) {
    let token = k.api.new_user();
    let first = post(
        k,
        &token,
        "/api/projects",
        "create-1",
        &json!({ "name": "Once" }),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post(
        k,
        &token,
        "/api/projects",
        "create-1",
        &json!({ "name": "Once" }),
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    let projects = k.api.get("/api/projects", Some(&token)).json()["projects"].clone();
    assert_eq!(projects.as_array().unwrap().len(), 1, "{projects}");

    // A chat message, too: one message however often it is sent with one key.
    let id = first.json()["project"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/projects/{id}/messages");
    for _ in 0..3 {
        let r = post(k, &token, &path, "msg-1", &json!({ "content": "hello" }));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let messages = k.api.get(&path, Some(&token)).json()["messages"].clone();
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");

    // The same key from another user is that user's own.
    let other = k.api.new_user();
    let theirs = post(
        k,
        &other,
        "/api/projects",
        "create-1",
        &json!({ "name": "Once" }),
    );
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    assert_ne!(
        theirs.json()["project"]["id"],
        first.json()["project"]["id"]
    );
    // A refusal is an answer too: the same invalid request gets the same 400.
    let bad = post(k, &token, "/api/projects", "bad-1", &json!({ "name": "" }));
    assert_eq!(bad.status, 400);
    let bad_again = post(k, &token, "/api/projects", "bad-1", &json!({ "name": "" }));
    assert_eq!((bad_again.status, bad_again.json()), (400, bad.json()));
}

fn a_key_reused_for_another_request_is_a_422(k: &Kiln) {
    let token = k.api.new_user();
    assert_eq!(
        post(
            k,
            &token,
            "/api/projects",
            "k-1",
            &json!({ "name": "First" })
        )
        .status,
        201
    );
    let other_body = post(
        k,
        &token,
        "/api/projects",
        "k-1",
        &json!({ "name": "Second" }),
    );
    assert_eq!(other_body.status, 422, "{}", other_body.body);
    assert!(
        other_body.error_message().contains("different request"),
        "{}",
        other_body.body
    );
    let other_route = post(k, &token, "/api/tokens", "k-1", &json!({ "name": "First" }));
    assert_eq!(other_route.status, 422, "{}", other_route.body);
    let projects = k.api.get("/api/projects", Some(&token)).json()["projects"].clone();
    assert_eq!(
        projects.as_array().unwrap().len(),
        1,
        "nothing more was created"
    );
    // A key must be printable and at most 200 characters.
    let long = "x".repeat(201);
    assert_eq!(
        post(k, &token, "/api/projects", &long, &json!({ "name": "L" })).status,
        400
    );
}

fn a_replayed_token_answer_withholds_the_secret(k: &Kiln) {
    let session = k.api.new_user();
    let first = post(
        k,
        &session,
        "/api/tokens",
        "tok-1",
        &json!({ "name": "ci" }),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.json()["token"].as_str().unwrap().starts_with("kiln_"));
    let again = post(
        k,
        &session,
        "/api/tokens",
        "tok-1",
        &json!({ "name": "ci" }),
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.json()["token"], Value::Null, "the secret is not kept");
    assert!(again.json()["secret_withheld"].is_string());
    let tokens = k.api.get("/api/tokens", Some(&session)).json()["tokens"].clone();
    assert_eq!(tokens.as_array().unwrap().len(), 1, "one token, not two");
}
