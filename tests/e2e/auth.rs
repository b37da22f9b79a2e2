//! Accounts, sessions and tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine;
use serde_json::{json, Value};

use crate::client::unique_email;
use crate::{scenarios, Kiln, Scenario};
use kiln::domain::token::{SessionClaims, TokenKeys};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        register_login_me_logout_and_the_old_token_is_rejected,
        a_wrong_password_and_an_unknown_email_get_the_same_401,
        a_duplicate_email_is_a_409,
        invalid_email_or_short_password_is_a_400_naming_the_field,
        malformed_json_is_a_400,
        a_body_over_the_limit_is_a_413,
        a_tampered_token_is_rejected,
        an_expired_token_is_rejected,
        an_alg_none_token_is_rejected,
        requests_without_a_token_are_rejected,
    ]
}

fn payload(token: &str) -> Value {
    serde_json::from_slice(&B64U.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn register_login_me_logout_and_the_old_token_is_rejected(k: &Kiln) {
    let email = unique_email();
    let (first, user_id) = k.api.register(&email, "correct horse battery");

    let login = k.api.post(
        "/api/auth/login",
        None,
        &json!({ "email": email.to_uppercase(), "password": "correct horse battery" }),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.json()["token"].as_str().unwrap().to_string();
    assert_eq!(login.json()["user"]["id"], user_id.as_str());
    assert!(
        login.json()["user"].get("password_hash").is_none(),
        "the hash must never leave the server"
    );

    let me = k.api.get("/api/auth/me", Some(&token));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["user"]["email"], email.as_str());

    let out = k
        .api
        .send("POST", "/api/auth/logout", Some(&token), &[], None, None);
    assert_eq!(out.status, 204, "{}", out.body);
    let after = k.api.get("/api/auth/me", Some(&token));
    assert_eq!(
        after.status, 401,
        "a logged-out token must be revoked: {}",
        after.body
    );
    assert_eq!(after.error_code(), "unauthorized");

    // Logging out one session leaves the other one working.
    assert_eq!(k.api.get("/api/auth/me", Some(&first)).status, 200);
}

fn a_wrong_password_and_an_unknown_email_get_the_same_401(k: &Kiln) {
    let email = unique_email();
    k.api.register(&email, "correct horse battery");
    let wrong = k.api.post(
        "/api/auth/login",
        None,
        &json!({ "email": email, "password": "wrong horse battery" }),
    );
    let unknown = k.api.post(
        "/api/auth/login",
        None,
        &json!({ "email": unique_email(), "password": "correct horse battery" }),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(
        wrong.body, unknown.body,
        "the two failures must be indistinguishable"
    );
    assert!(wrong.error_message().contains("incorrect"));
}

fn a_duplicate_email_is_a_409(k: &Kiln) {
    let email = unique_email();
    k.api.register(&email, "correct horse battery");
    let again = k.api.post(
        "/api/auth/register",
        None,
        &json!({ "email": email.to_uppercase(), "password": "another password" }),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.error_code(), "conflict");
    assert!(again.error_message().contains(&email));
}

fn invalid_email_or_short_password_is_a_400_naming_the_field(k: &Kiln) {
    let bad_email = k.api.post(
        "/api/auth/register",
        None,
        &json!({ "email": "not-an-email", "password": "long enough" }),
    );
    assert_eq!(bad_email.status, 400, "{}", bad_email.body);
    assert_eq!(bad_email.json()["error"]["field"], "email");
    assert!(bad_email.error_message().contains("email"));

    let short = k.api.post(
        "/api/auth/register",
        None,
        &json!({ "email": unique_email(), "password": "short" }),
    );
    assert_eq!(short.status, 400, "{}", short.body);
    assert_eq!(short.json()["error"]["field"], "password");
    assert!(short.error_message().contains("at least 8"));

    let missing = k.api.post(
        "/api/auth/register",
        None,
        &json!({ "password": "long enough" }),
    );
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"]["field"], "email");
}

fn malformed_json_is_a_400(k: &Kiln) {
    for body in [
        &b"{\"email\": "[..],
        b"not json",
        b"",
        b"[1,2]",
        br#"{"email": 5, "password": "x"}"#,
    ] {
        let r = k.api.post_raw("/api/auth/register", None, body);
        assert_eq!(
            r.status,
            400,
            "{:?} -> {}",
            String::from_utf8_lossy(body),
            r.body
        );
        assert_eq!(r.error_code(), "invalid_json");
    }
    let token = k.api.new_user();
    let r = k.api.post_raw("/api/projects", Some(&token), b"{name:");
    assert_eq!(r.status, 400);
}

fn a_body_over_the_limit_is_a_413(k: &Kiln) {
    let big = json!({ "email": unique_email(), "password": "x".repeat(70 * 1024) });
    let r = k.api.post("/api/auth/register", None, &big);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.error_code(), "payload_too_large");
    let token = k.api.new_user();
    let r = k.api.post(
        "/api/projects",
        Some(&token),
        &json!({ "name": "n".repeat(100 * 1024) }),
    );
    assert_eq!(r.status, 413);
}

fn a_tampered_token_is_rejected(k: &Kiln) {
    let token = k.api.new_user();
    let other = k.api.new_user();
    // Swap in another user's payload while keeping the first signature.
    let (a, b) = (
        token.split('.').collect::<Vec<_>>(),
        other.split('.').collect::<Vec<_>>(),
    );
    let forged = format!("{}.{}.{}", a[0], b[1], a[2]);
    assert_eq!(k.api.get("/api/auth/me", Some(&forged)).status, 401);
    // Flip one character of the signature.
    let mut sig: Vec<char> = a[2].chars().collect();
    sig[3] = if sig[3] == 'A' { 'B' } else { 'A' };
    let flipped = format!("{}.{}.{}", a[0], a[1], sig.into_iter().collect::<String>());
    assert_eq!(k.api.get("/api/auth/me", Some(&flipped)).status, 401);
}

fn an_expired_token_is_rejected(k: &Kiln) {
    let token = k.api.new_user();
    let p = payload(&token);
    let claims = SessionClaims {
        sub: p["sub"].as_str().unwrap().into(),
        sid: p["sid"].as_str().unwrap().into(),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Signed with the server's own key, for a live session, but expired an hour ago.
    let expired = TokenKeys::new(&k.auth_secret).issue(
        claims.clone(),
        now_ms - 2 * 3600 * 1000,
        chrono::Duration::hours(1),
    );
    let r = k.api.get("/api/auth/me", Some(&expired));
    assert_eq!(r.status, 401, "{}", r.body);
    // The same claims with a live expiry are accepted, so the expiry is what was refused.
    let fresh = TokenKeys::new(&k.auth_secret).issue(claims, now_ms, chrono::Duration::hours(1));
    assert_eq!(k.api.get("/api/auth/me", Some(&fresh)).status, 200);
}

fn an_alg_none_token_is_rejected(k: &Kiln) {
    let token = k.api.new_user();
    let body = token.split('.').nth(1).unwrap().to_string();
    let header = B64U.encode(br#"{"alg":"none","typ":"JWT"}"#);
    for forged in [format!("{header}.{body}."), format!("{header}.{body}")] {
        let r = k.api.get("/api/auth/me", Some(&forged));
        assert_eq!(r.status, 401, "{forged}: {}", r.body);
    }
}

fn requests_without_a_token_are_rejected(k: &Kiln) {
    for (method, path) in [
        ("GET", "/api/auth/me"),
        ("GET", "/api/projects"),
        ("POST", "/api/auth/logout"),
        ("GET", "/api/projects/x"),
    ] {
        let r = k.api.send(method, path, None, &[], None, None);
        assert_eq!(r.status, 401, "{method} {path}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let r = k.api.send(
        "GET",
        "/api/auth/me",
        None,
        &[("authorization", "Basic Zm9vOmJhcg==")],
        None,
        None,
    );
    assert_eq!(r.status, 401);
}
