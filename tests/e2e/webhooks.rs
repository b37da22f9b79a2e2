//! Webhooks end to end: endpoints managed by their owner, a build's status callbacks signed and
//! delivered in order, retries with one `webhook-id`, 410, private targets, and receivers that
//! hang. Signatures are verified with the `standardwebhooks` crate, an implementation
//! independent of Kiln's.
//!
//! Delivery scenarios run on a session of their own ([`SETTINGS`]): it allows private targets
//! (the receiver listens on 127.0.0.1) and shrinks the retry schedule a hundredfold, while the
//! default session keeps the defaults, which is where private targets are refused.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use ureq::http::{HeaderMap, HeaderName, HeaderValue};

use crate::builds::{request_build, wait_for_build};
use crate::webhook_receiver::{Callback, Receiver, Reply};
use crate::{scenarios, webhook_scenarios, Kiln, Scenario};

/// The webhook session's settings.
pub const SETTINGS: &[(&str, &str)] = &[
    ("ALLOW_PRIVATE_WEBHOOKS", "1"),
    // Every retry at once: the whole eight-attempt schedule runs in about a second (the delays
    // themselves are unit-tested in `domain::webhook::schedule`).
    ("WEBHOOK_RETRY_SCALE", "0"),
];

pub fn scenarios() -> Vec<Scenario> {
    let mut all = scenarios![
        webhook_endpoints_are_managed_by_their_owner_and_secrets_are_shown_once,
        bad_webhook_requests_are_clear_errors,
        private_and_loopback_targets_are_refused_without_the_operator_flag,
    ];
    all.extend(webhook_scenarios![
        a_builds_callbacks_arrive_signed_in_pipeline_order_and_deletion_is_announced,
        a_receiver_failing_twice_gets_one_webhook_id_three_times_and_a_redelivery,
        a_410_disables_the_endpoint_until_it_is_enabled_again,
        a_receiver_that_always_fails_gets_eight_attempts_then_the_give_up_is_logged,
        a_hanging_receiver_does_not_slow_a_build_down,
    ]);
    all
}

fn hooks_path(project: &str) -> String {
    format!("/api/projects/{project}/webhooks")
}

fn create_hook(k: &Kiln, token: &str, project: &str, body: Value) -> Value {
    let r = k.api.post(&hooks_path(project), Some(token), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn new_project(k: &Kiln, token: &str, name: &str) -> String {
    k.api.create_project(token, name)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Verifies a callback's signature with the `standardwebhooks` crate.
fn verify(secret: &str, c: &Callback) {
    let mut headers = HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(c.header(name)).expect("header value"),
        );
    }
    standardwebhooks::Webhook::new(secret)
        .expect("a standard secret")
        .verify(&c.body, &headers)
        .unwrap_or_else(|e| {
            panic!(
                "signature of {} does not verify: {e}",
                c.header("webhook-id")
            )
        });
}

fn deliveries(k: &Kiln, token: &str, project: &str, hook: &str) -> Vec<Value> {
    let r = k.api.get(
        &format!("{}/{hook}/deliveries", hooks_path(project)),
        Some(token),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["deliveries"].as_array().unwrap().clone()
}

/// Polls the delivery log until `done` holds (oldest first).
fn wait_deliveries(
    k: &Kiln,
    token: &str,
    project: &str,
    hook: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut d = deliveries(k, token, project, hook);
        d.reverse();
        if done(&d) {
            return d;
        }
        assert!(Instant::now() < deadline, "delivery log: {d:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn webhook_endpoints_are_managed_by_their_owner_and_secrets_are_shown_once(k: &Kiln) {
    let token = k.api.new_user();
    let project = new_project(k, &token, "Hooked");
    let created = create_hook(
        k,
        &token,
        &project,
        json!({"url": "https://example.com/hooks/kiln", "description": "ci"}),
    );
    let secret = created["secret"].as_str().unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .unwrap();
    assert!((24..=32).contains(&key.len()), "{} key bytes", key.len());
    assert_eq!(created["events"].as_array().unwrap().len(), 8, "{created}");
    assert_eq!(created["enabled"], true);
    let hook = created["id"].as_str().unwrap();
    let one = format!("{}/{hook}", hooks_path(&project));

    let list = k.api.get(&hooks_path(&project), Some(&token));
    assert_eq!(list.status, 200);
    assert!(!list.body.contains("whsec_"), "{}", list.body);
    assert_eq!(
        list.json()["webhooks"][0]["url"],
        "https://example.com/hooks/kiln"
    );
    let got = k.api.get(&one, Some(&token));
    assert_eq!(got.status, 200);
    assert!(!got.body.contains("whsec_"), "{}", got.body);

    let patched = k.api.json(
        "PATCH",
        &one,
        Some(&token),
        &json!({"events": ["build.failed", "build.succeeded"], "enabled": false, "description": "release"}),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    let p = patched.json();
    assert_eq!(p["events"], json!(["build.succeeded", "build.failed"]));
    assert_eq!(p["enabled"], false);
    assert_eq!(p["description"], "release");

    let rotated = k
        .api
        .post(&format!("{one}/rotate-secret"), Some(&token), &json!({}));
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_string();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    // A replayed create (same Idempotency-Key) does not show the secret again.
    let replay = |key: &str| {
        k.api.send(
            "POST",
            &hooks_path(&project),
            Some(&token),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            Some(br#"{"url":"https://example.com/other"}"#.to_vec()),
            None,
        )
    };
    let first = replay("hook-key-1");
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.json()["secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    let again = replay("hook-key-1");
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert!(again.json()["secret"].is_null(), "{}", again.body);

    // Another user sees nothing: every route is a 404 like a missing one.
    let other = k.api.new_user();
    for r in [
        k.api.get(&hooks_path(&project), Some(&other)),
        k.api.get(&one, Some(&other)),
        k.api
            .json("PATCH", &one, Some(&other), &json!({"enabled": true})),
        k.api
            .post(&format!("{one}/rotate-secret"), Some(&other), &json!({})),
        k.api.get(&format!("{one}/deliveries"), Some(&other)),
        k.api.post(
            &hooks_path(&project),
            Some(&other),
            &json!({"url": "https://example.com/x"}),
        ),
        k.api.delete(&one, Some(&other)),
    ] {
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let theirs = new_project(k, &other, "Theirs");
    assert_eq!(
        k.api
            .get(&format!("{}/{hook}", hooks_path(&theirs)), Some(&other))
            .status,
        404
    );

    assert_eq!(k.api.delete(&one, Some(&token)).status, 204);
    assert_eq!(k.api.get(&one, Some(&token)).status, 404);
    assert_eq!(k.api.delete(&one, Some(&token)).status, 404);
}

fn bad_webhook_requests_are_clear_errors(k: &Kiln) {
    let token = k.api.new_user();
    let project = new_project(k, &token, "Bad Hooks");
    let path = hooks_path(&project);
    let refused = |body: Value| {
        let r = k.api.post(&path, Some(&token), &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        r
    };
    for url in [
        "ftp://example.com/hook",
        "not a url",
        "",
        "https://",
        "mailto:ops@example.com",
    ] {
        let r = refused(json!({ "url": url }));
        assert_eq!(r.json()["error"]["field"], "url", "{}", r.body);
    }
    assert_eq!(refused(json!({})).json()["error"]["field"], "url");
    let r = refused(json!({"url": "https://example.com/h", "events": ["build.done"]}));
    let m = r.error_message();
    assert!(
        m.contains("'build.done'")
            && m.contains("'build.succeeded'")
            && m.contains("'project.deleted'"),
        "{m}"
    );
    refused(json!({"url": "https://example.com/h", "events": []}));
    refused(json!({"url": "https://example.com/h", "events": "build.failed"}));
    refused(json!({"url": "https://example.com/h", "secret": "whsec_mine"}));
    let r = k.api.post_raw(&path, Some(&token), b"{\"url\": ");
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "invalid_json");

    let hook = create_hook(k, &token, &project, json!({"url": "https://example.com/h"}));
    let one = format!("{path}/{}", hook["id"].as_str().unwrap());
    let r = k.api.json("PATCH", &one, Some(&token), &json!({}));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = k
        .api
        .json("PATCH", &one, Some(&token), &json!({"events": ["nope"]}));
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("valid types are"), "{}", r.body);
    let r = k
        .api
        .get(&format!("{one}/deliveries/missing/redeliver"), Some(&token));
    assert_eq!(r.status, 405);
    let r = k.api.post(
        &format!("{one}/deliveries/missing/redeliver"),
        Some(&token),
        &json!({}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(k.api.get(&path, None).status, 401);
}

fn private_and_loopback_targets_are_refused_without_the_operator_flag(k: &Kiln) {
    let token = k.api.new_user();
    let project = new_project(k, &token, "Private Hooks");
    let path = hooks_path(&project);
    for (url, rule) in [
        ("http://127.0.0.1:9000/hook", "127.0.0.0/8"),
        ("http://localhost:9000/hook", "localhost"),
        ("http://app.localhost/hook", "localhost"),
        ("http://10.0.0.8/hook", "10.0.0.0/8"),
        ("http://172.20.1.1/hook", "172.16.0.0/12"),
        ("http://192.168.0.10/hook", "192.168.0.0/16"),
        ("http://169.254.169.254/latest", "169.254.0.0/16"),
        ("http://0.0.0.0/", "0.0.0.0/8"),
        ("http://[::1]/hook", "::1"),
        ("http://[fd12::1]/hook", "fc00::/7"),
        ("http://[fe80::1]/hook", "fe80::/10"),
    ] {
        let r = k.api.post(&path, Some(&token), &json!({ "url": url }));
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        let m = r.error_message();
        assert!(
            m.contains(rule) && m.contains("ALLOW_PRIVATE_WEBHOOKS"),
            "{url}: {m}"
        );
    }
    let hook = create_hook(k, &token, &project, json!({"url": "https://example.com/h"}));
    let r = k.api.json(
        "PATCH",
        &format!("{path}/{}", hook["id"].as_str().unwrap()),
        Some(&token),
        &json!({"url": "http://127.0.0.1/x"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

fn a_builds_callbacks_arrive_signed_in_pipeline_order_and_deletion_is_announced(k: &Kiln) {
    let rx = Receiver::start();
    let token = k.api.new_user();
    let project = k.api.create_project(&token, "Callback Recipes");
    let id = project["id"].as_str().unwrap();
    let hook = create_hook(k, &token, id, json!({ "url": rx.url("/all") }));
    let secret = hook["secret"].as_str().unwrap();
    let build = request_build(k, &token, id, "a recipe book with ingredients", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");

    let got = rx.wait_for("/all", Duration::from_secs(60), |c| {
        c.iter().any(|c| c.json()["type"] == "build.succeeded")
    });
    for c in &got {
        verify(secret, c);
        assert_eq!(c.header("content-type"), "application/json");
    }
    let bodies: Vec<Value> = got.iter().map(Callback::json).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"build.requested"), "{types:?}");
    assert_eq!(types.get(1), Some(&"build.started"), "{types:?}");
    assert_eq!(types.last(), Some(&"build.succeeded"), "{types:?}");
    // Arrival order is log order, and the steps come in the pipeline's order.
    let seqs: Vec<u64> = bodies.iter().map(|b| b["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let steps: Vec<&str> = bodies
        .iter()
        .filter(|b| b["type"] == "build.step.succeeded")
        .map(|b| b["data"]["step"].as_str().unwrap())
        .collect();
    let pipeline: Vec<&str> = b["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, pipeline, "{types:?}");
    for body in &bodies {
        assert_eq!(body["data"]["project_id"], id);
        assert_eq!(body["data"]["build_id"], build.as_str());
    }
    let done = bodies.last().unwrap();
    assert_eq!(done["data"]["status"], "succeeded");
    assert_eq!(done["data"]["url"], project["url"], "{done}");
    assert_eq!(done["data"]["version"], b["version"]);
    // One webhook-id per event.
    let mut ids: Vec<&str> = got.iter().map(|c| c.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), got.len());
    let log = wait_deliveries(k, &token, id, hook["id"].as_str().unwrap(), |d| {
        d.len() >= got.len()
    });
    assert!(
        log.iter()
            .all(|d| d["outcome"] == "succeeded" && d["status"] == 204),
        "{log:#?}"
    );

    assert_eq!(
        k.api
            .delete(&format!("/api/projects/{id}"), Some(&token))
            .status,
        204
    );
    let got = rx.wait_for("/all", Duration::from_secs(30), |c| {
        c.iter().any(|c| c.json()["type"] == "project.deleted")
    });
    let deleted = got.last().unwrap();
    verify(secret, deleted);
    assert_eq!(deleted.json()["data"]["status"], "deleted");
}

fn a_receiver_failing_twice_gets_one_webhook_id_three_times_and_a_redelivery(k: &Kiln) {
    let rx = Receiver::start();
    rx.script(
        "/flaky",
        vec![Reply::Status(500), Reply::Status(503), Reply::Status(200)],
    );
    let token = k.api.new_user();
    let id = new_project(k, &token, "Flaky Receiver");
    let hook = create_hook(
        k,
        &token,
        id.as_str(),
        json!({ "url": rx.url("/flaky"), "events": ["build.requested"] }),
    );
    let (hook_id, secret) = (
        hook["id"].as_str().unwrap(),
        hook["secret"].as_str().unwrap(),
    );
    request_build(k, &token, &id, "a todo list", &[]);
    let got = rx.wait_for("/flaky", Duration::from_secs(60), |c| c.len() >= 3);
    assert_eq!(got.len(), 3);
    let webhook_id = got[0].header("webhook-id").to_string();
    for c in &got {
        assert_eq!(c.header("webhook-id"), webhook_id);
        assert_eq!(c.body, got[0].body, "every retry sends the same body");
        verify(secret, c);
    }
    let log = wait_deliveries(k, &token, &id, hook_id, |d| d.len() >= 3);
    let summary: Vec<(i64, &str, i64)> = log
        .iter()
        .map(|d| {
            assert_eq!(d["webhook_id"], webhook_id.as_str());
            assert_eq!(d["event_type"], "build.requested");
            assert!(d["duration_ms"].as_i64().is_some());
            (
                d["attempt"].as_i64().unwrap(),
                d["outcome"].as_str().unwrap(),
                d["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "failed", 500),
            (2, "failed", 503),
            (3, "succeeded", 200)
        ],
        "{log:#?}"
    );

    // A redelivery is one more attempt with the same webhook-id and body.
    let did = log[2]["id"].as_str().unwrap();
    let r = k.api.post(
        &format!("{}/{hook_id}/deliveries/{did}/redeliver", hooks_path(&id)),
        Some(&token),
        &json!({}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let got = rx.wait_for("/flaky", Duration::from_secs(30), |c| c.len() >= 4);
    assert_eq!(got[3].header("webhook-id"), webhook_id);
    assert_eq!(got[3].body, got[0].body);
    verify(secret, &got[3]);
    let log = wait_deliveries(k, &token, &id, hook_id, |d| d.len() >= 4);
    assert_eq!(log[3]["attempt"], 4);
    assert_eq!(log[3]["redelivery"], true);
    assert_eq!(log[3]["outcome"], "succeeded");
}

fn a_410_disables_the_endpoint_until_it_is_enabled_again(k: &Kiln) {
    let rx = Receiver::start();
    rx.script("/gone", vec![Reply::Status(410)]);
    let token = k.api.new_user();
    let id = new_project(k, &token, "Gone Receiver");
    let hook = create_hook(
        k,
        &token,
        &id,
        json!({ "url": rx.url("/gone"), "events": ["build.requested"] }),
    );
    let one = format!("{}/{}", hooks_path(&id), hook["id"].as_str().unwrap());
    let first = request_build(k, &token, &id, "a todo list", &[]);
    rx.wait_for("/gone", Duration::from_secs(30), |c| !c.is_empty());
    let log = wait_deliveries(k, &token, &id, hook["id"].as_str().unwrap(), |d| {
        !d.is_empty()
    });
    assert_eq!(log[0]["outcome"], "disabled", "{log:#?}");
    assert_eq!(log[0]["status"], 410);
    let h = k.api.get(&one, Some(&token)).json();
    assert_eq!(h["enabled"], false, "{h}");
    assert!(
        h["disabled_reason"].as_str().unwrap().contains("410"),
        "{h}"
    );

    // No more callbacks while disabled (not even retries of the 410).
    wait_for_build(k, &token, &first);
    request_build(k, &token, &id, "a todo list with due dates", &[]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(rx.received("/gone").len(), 1);

    let r = k
        .api
        .json("PATCH", &one, Some(&token), &json!({"enabled": true}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["enabled"], true);
    assert!(r.json()["disabled_reason"].is_null());
}

fn a_receiver_that_always_fails_gets_eight_attempts_then_the_give_up_is_logged(k: &Kiln) {
    let rx = Receiver::start();
    rx.always("/down", Reply::Status(500));
    let token = k.api.new_user();
    let id = new_project(k, &token, "Down Receiver");
    let hook = create_hook(
        k,
        &token,
        &id,
        json!({ "url": rx.url("/down"), "events": ["build.requested"] }),
    );
    request_build(k, &token, &id, "a todo list", &[]);
    let log = wait_deliveries(k, &token, &id, hook["id"].as_str().unwrap(), |d| {
        d.iter().any(|d| d["outcome"] == "dead")
    });
    let got = rx.received("/down");
    assert_eq!(got.len(), 8, "eight attempts, then the dead-letter queue");
    assert!(got
        .iter()
        .all(|c| c.header("webhook-id") == got[0].header("webhook-id")));
    let attempts: Vec<(i64, &str)> = log
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(i64, &str)> = (1..=8).map(|n| (n, "failed")).collect();
    expected.push((8, "dead"));
    assert_eq!(attempts, expected, "{log:#?}");
    assert!(log[8]["error"]
        .as_str()
        .unwrap()
        .contains("gave up after 8 attempts"));
}

fn a_hanging_receiver_does_not_slow_a_build_down(k: &Kiln) {
    let timed_build = |token: &str, project: &str| {
        let started = Instant::now();
        let build = request_build(k, token, project, "a recipe book with ratings", &[]);
        let b = wait_for_build(k, token, &build);
        assert_eq!(b["status"], "succeeded", "{b:#}");
        started.elapsed()
    };
    let token = k.api.new_user();
    let plain = new_project(k, &token, "No Hooks");
    let baseline = timed_build(&token, &plain);

    let rx = Receiver::start();
    rx.always("/hang", Reply::Hang(Duration::from_secs(20)));
    let hooked = new_project(k, &token, "Hanging Hooks");
    let hook = create_hook(k, &token, &hooked, json!({ "url": rx.url("/hang") }));
    let with_hook = timed_build(&token, &hooked);
    rx.wait_for("/hang", Duration::from_secs(10), |c| !c.is_empty());
    println!("    build without webhooks {baseline:?}, with a hanging receiver {with_hook:?}");
    assert!(
        with_hook < baseline + Duration::from_secs(5) && with_hook < Duration::from_secs(15),
        "a hanging receiver slowed the build: {with_hook:?} vs {baseline:?}"
    );
    // Deleting the endpoint drops what is still queued for it.
    let one = format!("{}/{}", hooks_path(&hooked), hook["id"].as_str().unwrap());
    assert_eq!(k.api.delete(&one, Some(&token)).status, 204);
}
