//! API tokens for programs: created with a session, shown once, used as bearer tokens with
//! scopes, listed without secrets, revoked at once.

use serde_json::json;

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        a_token_works_as_a_bearer_until_it_is_revoked,
        a_read_token_cannot_build_and_is_told_which_scope_is_missing,
        bad_token_requests_are_clear_errors,
    ]
}

fn create(k: &Kiln, session: &str, body: serde_json::Value) -> crate::Reply {
    k.api.post("/api/tokens", Some(session), &body)
}

fn a_token_works_as_a_bearer_until_it_is_revoked(k: &Kiln) {
    let session = k.api.new_user();
    let r = create(k, &session, json!({ "name": "ci" }));
    assert_eq!(r.status, 201, "{}", r.body);
    let t = r.json();
    let token = t["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("kiln_"), "{token}");
    assert_eq!(t["scopes"], json!(["read", "write"]));
    assert_eq!(t["expires_at"], serde_json::Value::Null);
    let id = t["id"].as_str().unwrap().to_string();

    // The token acts for its owner: it creates and reads projects.
    let p = k.api.post(
        "/api/projects",
        Some(&token),
        &json!({ "name": "Token Made" }),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let listed = k.api.get("/api/projects", Some(&session));
    assert!(listed.body.contains("Token Made"));
    assert_eq!(k.api.get("/api/auth/me", Some(&token)).status, 200);

    // Listing shows the token without its secret, with when it was last used.
    let tokens = k.api.get("/api/tokens", Some(&session));
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(
        !tokens.body.contains(&token),
        "the secret is shown only once"
    );
    let row = &tokens.json()["tokens"][0];
    assert_eq!(row["id"], id);
    assert_eq!(row["hint"], &token[token.len() - 4..]);
    assert!(row["last_used_at"].as_i64().unwrap() > 0, "{row}");

    // A token cannot mint tokens, and does not sign out.
    let minted = create(k, &token, json!({ "name": "child" }));
    assert_eq!(minted.status, 403, "{}", minted.body);
    assert_eq!(
        k.api
            .post("/api/auth/logout", Some(&token), &json!({}))
            .status,
        400
    );

    // Revoked: the next request is a 401; revoking again is a 404.
    assert_eq!(
        k.api
            .delete(&format!("/api/tokens/{id}"), Some(&session))
            .status,
        204
    );
    let after = k.api.get("/api/projects", Some(&token));
    assert_eq!(after.status, 401, "{}", after.body);
    assert_eq!(
        k.api
            .delete(&format!("/api/tokens/{id}"), Some(&session))
            .status,
        404
    );
}

fn a_read_token_cannot_build_and_is_told_which_scope_is_missing(k: &Kiln) {
    let session = k.api.new_user();
    let p = k.api.create_project(&session, "Read Only");
    let project = p["id"].as_str().unwrap();
    let r = create(
        k,
        &session,
        json!({ "name": "dashboard", "scopes": ["read"], "expires_in": 3600 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["scopes"], json!(["read"]));
    assert!(r.json()["expires_at"].as_i64().unwrap() > r.json()["created_at"].as_i64().unwrap());
    let read = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{project}"), Some(&read))
            .status,
        200
    );
    let build = k.api.post(
        &format!("/api/projects/{project}/builds"),
        Some(&read),
        &json!({ "prompt": "a reading list" }),
    );
    assert_eq!(build.status, 403, "{}", build.body);
    assert_eq!(build.error_code(), "forbidden");
    assert!(
        build.error_message().contains("'write' scope"),
        "{}",
        build.body
    );
    // Nothing was requested.
    let builds = k
        .api
        .get(&format!("/api/projects/{project}/builds"), Some(&session));
    assert_eq!(builds.json()["builds"], json!([]), "{}", builds.body);
    // Another user's token never reaches this user's project.
    let other = k.api.new_user();
    let theirs = create(k, &other, json!({ "name": "theirs" })).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{project}"), Some(&theirs))
            .status,
        404
    );
}

fn bad_token_requests_are_clear_errors(k: &Kiln) {
    let session = k.api.new_user();
    for (body, field) in [
        (json!({}), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "x".repeat(101) }), "name"),
        (json!({ "name": "ci", "scopes": [] }), "scopes"),
        (json!({ "name": "ci", "scopes": ["admin"] }), "scopes"),
        (json!({ "name": "ci", "expires_in": 5 }), "expires_in"),
    ] {
        let r = create(k, &session, body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["error"]["field"], field, "{body}: {}", r.body);
    }
    let unknown_field = create(k, &session, json!({ "name": "ci", "scope": "read" }));
    assert_eq!(unknown_field.status, 400, "{}", unknown_field.body);
    // A well-formed token that was never issued, and garbage, are both 401.
    let never = format!("kiln_{}", "A".repeat(43));
    assert_eq!(k.api.get("/api/projects", Some(&never)).status, 401);
    assert_eq!(k.api.get("/api/projects", Some("kiln_garbage")).status, 401);
    // Tokens need a signed-in caller.
    assert_eq!(
        k.api
            .post("/api/tokens", None, &json!({ "name": "ci" }))
            .status,
        401
    );
    // Another user's token id is a 404.
    let other = k.api.new_user();
    let theirs = create(k, &other, json!({ "name": "theirs" })).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        k.api
            .delete(&format!("/api/tokens/{theirs}"), Some(&session))
            .status,
        404
    );
}
