//! Rate limits and quotas, on a session of their own whose limits are low ([`SETTINGS`]).
//!
//! Every window there is an hour long and anchored at a key's first hit, so a scenario that
//! reaches a limit in a few requests does so whatever the wall clock does in between. Every
//! refusal is checked for what it must not leave behind: no event, no build, no project, no
//! version. Each scenario uses its own users and client addresses (`CF-Connecting-IP`, which
//! `wrangler dev` passes through), so the per-address counters of one do not reach another.

use serde_json::{json, Value};

use crate::builds::wait_for_build;
use crate::client::unique_email;
use crate::{limits_scenarios, Kiln, Reply, Scenario};

/// The limits session's settings: each limit is reached within a handful of requests.
pub const SETTINGS: &[(&str, &str)] = &[
    ("AUTH_IP_LIMIT", "3"),
    ("AUTH_IP_WINDOW_SECONDS", "3600"),
    ("AUTH_EMAIL_LIMIT", "3"),
    ("AUTH_EMAIL_WINDOW_SECONDS", "3600"),
    ("BUILDS_ACTIVE_LIMIT", "2"),
    ("BUILDS_PER_HOUR", "3"),
    ("PROJECTS_PER_USER", "3"),
    ("VERSIONS_PER_PROJECT", "2"),
    ("MAX_VERSION_BYTES", "2048"),
    // The dispatch Worker's limits of apps.
    ("APP_AUTH_PER_MINUTE", "3"),
    ("APP_STORAGE_MAX_BYTES", "1000"),
];

pub fn scenarios() -> Vec<Scenario> {
    limits_scenarios![
        the_fourth_sign_in_attempt_from_one_address_is_a_429_with_retry_after,
        unsuccessful_attempts_for_one_email_are_limited_across_addresses,
        successful_sign_ins_do_not_use_up_the_per_email_limit,
        a_build_beyond_the_active_limit_is_refused_and_nothing_is_recorded,
        a_build_beyond_the_hourly_limit_is_refused_and_nothing_is_recorded,
        the_project_quota_refuses_the_extra_project_and_creates_nothing,
        an_oversize_or_over_quota_version_upload_is_refused_and_nothing_is_stored,
        an_app_limits_sign_ins_per_address_and_keeps_files_within_its_quota,
    ]
}

const PASSWORD: &str = "correct horse battery";

/// `POST /api/auth/{action}` from client address `ip`.
fn auth(k: &Kiln, action: &str, ip: &str, email: &str, password: &str) -> Reply {
    k.api.send(
        "POST",
        &format!("/api/auth/{action}"),
        None,
        &[
            ("content-type", "application/json"),
            ("cf-connecting-ip", ip),
        ],
        Some(
            json!({ "email": email, "password": password })
                .to_string()
                .into_bytes(),
        ),
        None,
    )
}

/// Asserts a rate-limit refusal and returns its `Retry-After` in seconds.
fn assert_rate_limited(r: &Reply, limit_text: &str) -> u64 {
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.error_code(), "rate_limited", "{}", r.body);
    let message = r.error_message();
    assert!(
        message.contains(limit_text) && message.contains("try again"),
        "the message must name the limit ({limit_text}) and when to retry: {message}"
    );
    let retry = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("a 429 must carry Retry-After: {:?}", r.headers));
    retry
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("Retry-After must be whole seconds, got '{retry}'"))
}

fn event_types(k: &Kiln, token: &str, project: &str) -> Vec<String> {
    let r = k
        .api
        .get(&format!("/api/projects/{project}/events"), Some(token));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn count(types: &[String], name: &str) -> usize {
    types.iter().filter(|t| *t == name).count()
}

fn builds_of(k: &Kiln, token: &str, project: &str) -> Vec<Value> {
    let r = k
        .api
        .get(&format!("/api/projects/{project}/builds"), Some(token));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["builds"].as_array().unwrap().clone()
}

fn post_build(k: &Kiln, token: &str, project: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    k.api.send(
        "POST",
        &format!("/api/projects/{project}/builds"),
        Some(token),
        &all,
        Some(json!({ "prompt": "a task list" }).to_string().into_bytes()),
        None,
    )
}

fn post_chat(k: &Kiln, token: &str, project: &str) -> Reply {
    k.api.post(
        &format!("/api/projects/{project}/chat"),
        Some(token),
        &json!({ "message": "a task list with due dates" }),
    )
}

fn project_id(k: &Kiln, token: &str, name: &str) -> String {
    k.api.create_project(token, name)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn the_fourth_sign_in_attempt_from_one_address_is_a_429_with_retry_after(k: &Kiln) {
    let ip = "192.0.2.1";
    for _ in 0..3 {
        let r = auth(k, "login", ip, &unique_email(), PASSWORD);
        assert_eq!(
            r.status, 401,
            "attempts within the limit are judged: {}",
            r.body
        );
    }

    let fourth = auth(k, "login", ip, &unique_email(), PASSWORD);
    let retry = assert_rate_limited(&fourth, "3 per hour");
    assert!((1..=3600).contains(&retry), "Retry-After {retry}");
    assert!(fourth.error_message().contains("from this address"));

    // Registration shares the address's budget, and is refused before any account exists.
    let email = unique_email();
    assert_rate_limited(&auth(k, "register", ip, &email, PASSWORD), "3 per hour");
    let other = "192.0.2.2";
    let login = auth(k, "login", other, &email, PASSWORD);
    assert_eq!(login.status, 401, "no account was created: {}", login.body);
    // Another address is not affected.
    assert_eq!(auth(k, "register", other, &email, PASSWORD).status, 201);
}

fn unsuccessful_attempts_for_one_email_are_limited_across_addresses(k: &Kiln) {
    let email = unique_email();
    k.api.register(&email, PASSWORD);
    for i in 1..=3 {
        let r = auth(
            k,
            "login",
            &format!("198.51.100.{i}"),
            &email,
            "wrong horse battery",
        );
        assert_eq!(r.status, 401, "{}", r.body);
    }

    // A fresh address with the right password: the email's budget of failures is spent.
    let r = auth(k, "login", "198.51.100.4", &email, PASSWORD);
    let retry = assert_rate_limited(&r, "3 per hour");
    assert!((1..=3600).contains(&retry), "Retry-After {retry}");
    assert!(
        r.error_message().contains("for this email"),
        "{}",
        r.error_message()
    );
    // The address and other emails are fine (the same email in capitals is the same account).
    assert_rate_limited(
        &auth(k, "login", "198.51.100.5", &email.to_uppercase(), PASSWORD),
        "3 per hour",
    );
    let other = unique_email();
    assert_eq!(
        auth(k, "register", "198.51.100.4", &other, PASSWORD).status,
        201
    );
}

fn successful_sign_ins_do_not_use_up_the_per_email_limit(k: &Kiln) {
    let email = unique_email();
    k.api.register(&email, PASSWORD);
    for i in 1..=5 {
        let r = auth(k, "login", &format!("203.0.113.{i}"), &email, PASSWORD);
        assert_eq!(r.status, 200, "sign-in {i}: {}", r.body);
    }
}

fn a_build_beyond_the_active_limit_is_refused_and_nothing_is_recorded(k: &Kiln) {
    let token = k.api.new_user();
    let projects: Vec<String> = ["Active A", "Active B", "Active C"]
        .iter()
        .map(|n| project_id(k, &token, n))
        .collect();
    // Two builds whose plan step stalls stay requested or running for the rest of the scenario.
    for p in &projects[..2] {
        let r = post_build(k, &token, p, &[("x-kiln-faults", "plan:1:slow")]);
        assert_eq!(r.status, 202, "{}", r.body);
    }

    let third = &projects[2];
    let r = post_build(k, &token, third, &[]);
    let retry = assert_rate_limited(&r, "2 at a time");
    assert_eq!(retry, 30);
    assert!(r.error_message().contains("in progress"), "{}", r.body);
    assert_rate_limited(&post_chat(k, &token, third), "2 at a time");

    let types = event_types(k, &token, third);
    assert_eq!(types, ["ProjectCreated"], "a refused build records nothing");
    assert!(builds_of(k, &token, third).is_empty());
    let messages = k
        .api
        .get(&format!("/api/projects/{third}/messages"), Some(&token));
    assert_eq!(
        messages.json()["messages"],
        json!([]),
        "the chat message was not posted"
    );
}

fn a_build_beyond_the_hourly_limit_is_refused_and_nothing_is_recorded(k: &Kiln) {
    let token = k.api.new_user();
    let id = project_id(k, &token, "Hourly");
    // Three builds that fail at once (terminal plan fault), one after the other, so the active
    // limit is never reached.
    let mut first = String::new();
    for i in 0..3 {
        let key = format!("hourly-{i}");
        let r = post_build(
            k,
            &token,
            &id,
            &[
                ("x-kiln-faults", "plan:1:terminal"),
                ("idempotency-key", &key),
            ],
        );
        assert_eq!(r.status, 202, "{}", r.body);
        let build_id = r.json()["build_id"].as_str().unwrap().to_string();
        assert_eq!(wait_for_build(k, &token, &build_id)["status"], "failed");
        if i == 0 {
            first = build_id;
        }
    }

    let r = post_build(k, &token, &id, &[]);
    let retry = assert_rate_limited(&r, "3 per hour");
    assert!((1..=3600).contains(&retry), "Retry-After {retry}");
    assert!(r.error_message().contains("build requests"), "{}", r.body);
    assert_rate_limited(&post_chat(k, &token, &id), "3 per hour");

    // A repeated request creates nothing, so it is answered even at the limit.
    let again = post_build(k, &token, &id, &[("idempotency-key", "hourly-0")]);
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.json()["build_id"], first.as_str());
    // The first answer, replayed (ADR 0016), not a new build.
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{}",
        again.body
    );

    let types = event_types(k, &token, &id);
    assert_eq!(count(&types, "BuildRequested"), 3, "{types:?}");
    assert_eq!(count(&types, "MessagePosted"), 0, "{types:?}");
    assert_eq!(builds_of(k, &token, &id).len(), 3);
}

fn the_project_quota_refuses_the_extra_project_and_creates_nothing(k: &Kiln) {
    let token = k.api.new_user();
    let ids: Vec<String> = (1..=3)
        .map(|i| project_id(k, &token, &format!("Quota {i}")))
        .collect();

    let r = k
        .api
        .post("/api/projects", Some(&token), &json!({ "name": "Quota 4" }));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_code(), "quota_exceeded");
    assert!(r.error_message().contains("3 projects"), "{}", r.body);
    assert!(
        r.header("retry-after").is_none(),
        "waiting does not help a quota"
    );
    let list = k.api.get("/api/projects", Some(&token)).json();
    let names: Vec<&str> = list["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.contains(&"Quota 4"));

    // Deleting a project frees its place.
    assert_eq!(
        k.api
            .delete(&format!("/api/projects/{}", ids[0]), Some(&token))
            .status,
        204
    );
    project_id(k, &token, "Quota 4");
}

fn an_oversize_or_over_quota_version_upload_is_refused_and_nothing_is_stored(k: &Kiln) {
    use base64::Engine;
    let token = k.api.new_user();
    let id = project_id(k, &token, "Versions");
    let path = format!("/api/projects/{id}/versions");
    let upload = |files: Value, encoding: Option<&str>| {
        let mut body = json!({ "files": files });
        if let Some(e) = encoding {
            body["encoding"] = json!(e);
        }
        k.api.post(&path, Some(&token), &body)
    };
    let versions = || -> Vec<u64> {
        k.api.get(&path, Some(&token)).json()["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect()
    };

    assert_eq!(
        upload(json!({ "index.html": "<h1>one</h1>" }), None).status,
        201
    );

    // 2,049 bytes in two files: one over the 2,048-byte limit, counted after decoding.
    let big = json!({ "a.txt": "a".repeat(1024), "b.txt": "b".repeat(1025) });
    let r = upload(big, None);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.error_code(), "payload_too_large");
    assert!(
        r.error_message().contains("2049 bytes") && r.error_message().contains("2048 bytes"),
        "{}",
        r.body
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 2049]);
    let r = upload(json!({ "blob.bin": encoded }), Some("base64"));
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(versions(), [1], "an oversize upload stores no version");

    assert_eq!(
        upload(json!({ "index.html": "<h1>two</h1>" }), None).status,
        201
    );
    let r = upload(json!({ "index.html": "<h1>three</h1>" }), None);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_code(), "quota_exceeded");
    assert!(r.error_message().contains("limit is 2"), "{}", r.body);
    assert_eq!(
        versions(),
        [1, 2],
        "an upload over the quota stores no version"
    );
    let types = event_types(k, &token, &id);
    assert_eq!(count(&types, "VersionSaved"), 2, "{types:?}");
}

/// An app's own sign-in routes are limited per client address (counted in the app's database
/// object, where the app's SQL cannot reset them), and its file storage has a byte quota: a write
/// beyond it fails and stores nothing, and deleting files makes room again.
fn an_app_limits_sign_ins_per_address_and_keeps_files_within_its_quota(k: &Kiln) {
    let (token, _) = k.api.register(&unique_email(), PASSWORD);
    let project = project_id(k, &token, "Quota Notes");
    let build = crate::builds::request_build(
        k,
        &token,
        &project,
        "a notes app with file attachments",
        &[],
    );
    assert_eq!(wait_for_build(k, &token, &build)["status"], "succeeded");
    let slug = k
        .api
        .get(&format!("/api/projects/{project}"), Some(&token))
        .json()["project"]["slug"]
        .as_str()
        .unwrap()
        .to_string();
    let host = format!("{slug}.localhost:{}", k.port);
    let app_auth = |path: &str, ip: &str, email: &str| {
        k.api.send(
            "POST",
            path,
            None,
            &[
                ("content-type", "application/json"),
                ("cf-connecting-ip", ip),
            ],
            Some(
                json!({ "email": email, "password": PASSWORD })
                    .to_string()
                    .into_bytes(),
            ),
            Some(&host),
        )
    };
    let ip = "10.200.0.1";
    let email = unique_email();
    assert_eq!(app_auth("/api/auth/register", ip, &email).status, 201);
    assert_eq!(app_auth("/api/auth/login", ip, &email).status, 200);
    let third = app_auth("/api/auth/login", ip, &email);
    assert_eq!(third.status, 200, "{}", third.body);
    let app_token = third.json()["token"].as_str().unwrap().to_string();
    let refused = app_auth("/api/auth/login", ip, &email);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.error_code(), "rate_limited");
    assert!(
        refused.error_message().contains("at most 3 a minute"),
        "{}",
        refused.body
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another address is counted on its own; the platform's own sign-in is unaffected.
    assert_eq!(
        app_auth("/api/auth/login", "10.200.0.2", &email).status,
        200
    );

    // Files: 600 bytes fit in 1,000; 600 more do not, and nothing of them is stored.
    let put = |name: &str, bytes: usize| {
        k.api.send(
            "PUT",
            &format!("/api/files/{name}"),
            Some(&app_token),
            &[("content-type", "text/plain")],
            Some(vec![b'a'; bytes]),
            Some(&host),
        )
    };
    assert_eq!(put("one.txt", 600).status, 201);
    let over = put("two.txt", 600);
    assert_eq!(over.status, 507, "{}", over.body);
    assert_eq!(over.error_code(), "quota_exceeded");
    assert!(over.error_message().contains("1000"), "{}", over.body);
    let list = |k: &Kiln| {
        k.api
            .send(
                "GET",
                "/api/files",
                Some(&app_token),
                &[],
                None,
                Some(&host),
            )
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(k), ["one.txt"]);
    // Replacing a file counts only the difference; deleting one makes room.
    assert_eq!(put("one.txt", 900).status, 201);
    let deleted = k.api.send(
        "DELETE",
        "/api/files/one.txt",
        Some(&app_token),
        &[],
        None,
        Some(&host),
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(put("two.txt", 600).status, 201);
    assert_eq!(list(k), ["two.txt"]);
}
