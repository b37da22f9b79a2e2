//! The build pipeline end to end: prompt → Queue → Workflow → live app at its slug.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        a_task_manager_prompt_becomes_a_live_app_whose_data_survives_a_rebuild,
        the_same_idempotency_key_twice_gives_one_build,
        the_same_build_message_delivered_twice_starts_one_build,
        a_retryable_deploy_failure_is_retried_and_recorded,
        a_terminal_migrate_failure_fails_the_build_and_keeps_the_live_version,
        a_build_that_cannot_be_queued_is_recorded_as_failed_and_frees_the_project,
        a_build_that_never_starts_is_failed_by_the_dead_letter_consumer,
        bad_build_requests_are_clear_errors,
        two_apps_are_isolated_tokens_rows_and_files,
        a_plan_with_an_invalid_identifier_or_reserved_table_fails_at_plan,
        the_full_plan_of_a_build_is_readable_by_its_owner_only,
        a_build_interrupted_by_a_dev_server_restart_completes_without_rerunning_finished_steps,
        the_local_upload_assets_step_writes_what_the_app_is_served_from,
        an_issue_tracker_prompt_gives_issues_and_comments_whose_choices_are_enforced,
    ]
}

/// Polls the build until it is finished (never a fixed sleep).
pub fn wait_for_build(k: &Kiln, token: &str, build_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let r = k.api.get(&format!("/api/builds/{build_id}"), Some(token));
        if r.status == 200 {
            let b = r.json()["build"].clone();
            if matches!(
                b["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return b;
            }
        }
        assert!(
            Instant::now() < deadline,
            "build {build_id} did not finish: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn request_build(
    k: &Kiln,
    token: &str,
    project: &str,
    prompt: &str,
    headers: &[(&str, &str)],
) -> String {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let r = k.api.send(
        "POST",
        &format!("/api/projects/{project}/builds"),
        Some(token),
        &all,
        Some(json!({ "prompt": prompt }).to_string().into_bytes()),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.json()["build_id"].as_str().unwrap().to_string()
}

pub fn app_post(
    k: &Kiln,
    slug: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> crate::Reply {
    let host = format!("{slug}.localhost:{}", k.port);
    k.api.send(
        "POST",
        path,
        token,
        &[("content-type", "application/json")],
        Some(body.to_string().into_bytes()),
        Some(&host),
    )
}

pub fn app_send(
    k: &Kiln,
    slug: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> crate::Reply {
    let host = format!("{slug}.localhost:{}", k.port);
    k.api.send(
        method,
        path,
        token,
        &[("content-type", "application/json")],
        body.map(|b| b.to_string().into_bytes()),
        Some(&host),
    )
}

pub fn a_task_manager_prompt_becomes_a_live_app_whose_data_survives_a_rebuild(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Task Manager");
    let (id, slug) = (p["id"].as_str().unwrap(), p["slug"].as_str().unwrap());
    let build_id = request_build(k, &token, id, "a task manager with projects and tasks", &[]);
    let b = wait_for_build(k, &token, &build_id);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let steps: Vec<&str> = b["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "plan",
            "codegen",
            "validate",
            "create-db",
            "migrate",
            "upload-assets",
            "deploy",
            "record"
        ]
    );
    assert!(
        b["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "succeeded"),
        "{b:#}"
    );

    let page = k.api.get_app(slug, "/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));

    // The front end's modules are served by the app itself (no CDN), with content types, ETags
    // and an SPA fallback for page paths.
    for (path, ct) in [
        ("/app.js", "javascript"),
        ("/_kiln/vendor/preact.mjs", "javascript"),
        ("/styles.css", "text/css"),
    ] {
        let r = k.api.get_app(slug, path);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").unwrap_or_default().contains(ct),
            "{path}: {:?}",
            r.header("content-type")
        );
    }
    assert!(
        page.body.contains("/app.js") && !page.body.contains("https://"),
        "{}",
        page.body
    );
    let deep = k.api.get_app(slug, "/tasks/42");
    assert_eq!(deep.status, 200, "SPA fallback");
    assert!(deep
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert_eq!(k.api.get_app(slug, "/missing.js").status, 404);
    let etag = page.header("etag").expect("etag").to_string();
    let host = format!("{slug}.localhost:{}", k.port);
    let cached = k.api.send(
        "GET",
        "/",
        None,
        &[("if-none-match", &etag)],
        None,
        Some(&host),
    );
    assert_eq!(cached.status, 304);

    let reg = app_post(
        k,
        slug,
        "/api/auth/register",
        None,
        &json!({ "email": "ada@example.com", "password": "correct horse" }),
    );
    assert_eq!(reg.status, 201, "{}", reg.body);
    let login = app_post(
        k,
        slug,
        "/api/auth/login",
        None,
        &json!({ "email": "ada@example.com", "password": "correct horse" }),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let app_token = login.json()["token"].as_str().unwrap().to_string();
    let me = app_send(k, slug, "GET", "/api/auth/me", Some(&app_token), None);
    assert_eq!(me.status, 200, "{}", me.body);

    let created = app_post(
        k,
        slug,
        "/api/tasks",
        Some(&app_token),
        &json!({ "title": "write tests" }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let task_id = created.json()["id"].clone();
    let list = app_send(k, slug, "GET", "/api/tasks", Some(&app_token), None);
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("write tests"));
    let updated = app_send(
        k,
        slug,
        "PUT",
        &format!("/api/tasks/{task_id}"),
        Some(&app_token),
        Some(&json!({ "title": "write more tests" })),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    let keep = app_post(
        k,
        slug,
        "/api/tasks",
        Some(&app_token),
        &json!({ "title": "survive a rebuild" }),
    );
    assert_eq!(keep.status, 201, "{}", keep.body);
    let deleted = app_send(
        k,
        slug,
        "DELETE",
        &format!("/api/tasks/{task_id}"),
        Some(&app_token),
        None,
    );
    assert!(
        deleted.status == 200 || deleted.status == 204,
        "{}",
        deleted.body
    );

    // Rebuild the same project: a new version goes live, the data stays.
    let again = request_build(k, &token, id, "a task manager with projects and tasks", &[]);
    let b2 = wait_for_build(k, &token, &again);
    assert_eq!(b2["status"], "succeeded", "{b2:#}");
    assert!(b2["deployed_version"].as_u64() > b["deployed_version"].as_u64());
    let relogin = app_post(
        k,
        slug,
        "/api/auth/login",
        None,
        &json!({ "email": "ada@example.com", "password": "correct horse" }),
    );
    assert_eq!(relogin.status, 200, "{}", relogin.body);
    let t2 = relogin.json()["token"].as_str().unwrap().to_string();
    let list = app_send(k, slug, "GET", "/api/tasks", Some(&t2), None);
    assert!(list.body.contains("survive a rebuild"), "{}", list.body);
    assert!(!list.body.contains("write more tests"));
}

fn the_same_idempotency_key_twice_gives_one_build(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Habit Tracker")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = request_build(
        k,
        &token,
        &id,
        "a habit tracker",
        &[("idempotency-key", "k-1")],
    );
    let b = request_build(
        k,
        &token,
        &id,
        "a habit tracker",
        &[("idempotency-key", "k-1")],
    );
    assert_eq!(a, b);
    wait_for_build(k, &token, &a);
    let builds = k
        .api
        .get(&format!("/api/projects/{id}/builds"), Some(&token))
        .json();
    assert_eq!(builds["builds"].as_array().unwrap().len(), 1);
}

pub fn a_retryable_deploy_failure_is_retried_and_recorded(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Recipe Book")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let build = request_build(
        k,
        &token,
        &id,
        "a recipe book with ingredients and ratings",
        &[("x-kiln-faults", "deploy:2:retryable")],
    );
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let deploy = b["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "deploy")
        .unwrap()
        .clone();
    let statuses: Vec<&str> = deploy["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "failed", "succeeded"], "{deploy:#}");
    let log = k
        .api
        .get(
            &format!("/api/projects/{id}/events?limit=1000"),
            Some(&token),
        )
        .json();
    let failed = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "StepFailed" && e["data"]["step"] == "deploy")
        .count();
    assert_eq!(failed, 2);
}

pub fn a_terminal_migrate_failure_fails_the_build_and_keeps_the_live_version(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Bakery Inventory");
    let (id, slug) = (
        p["id"].as_str().unwrap().to_string(),
        p["slug"].as_str().unwrap().to_string(),
    );
    let first = request_build(k, &token, &id, "an inventory tracker for a bakery", &[]);
    let live = wait_for_build(k, &token, &first)["deployed_version"].clone();
    let broken = request_build(
        k,
        &token,
        &id,
        "an inventory tracker for a bakery",
        &[("x-kiln-faults", "migrate:1:terminal")],
    );
    let b = wait_for_build(k, &token, &broken);
    assert_eq!(b["status"], "failed", "{b:#}");
    assert_eq!(b["error"]["step"], "migrate", "{b:#}");
    let page = k.api.get_app(&slug, "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("x-kiln-version").map(|v| v.to_string()),
        live.as_u64().map(|v| v.to_string()),
        "the previous version stays live"
    );
}

fn bad_build_requests_are_clear_errors(k: &Kiln) {
    let alice = k.api.new_user();
    let bob = k.api.new_user();
    let id = k.api.create_project(&alice, "Guarded")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let empty = k.api.post(
        &format!("/api/projects/{id}/builds"),
        Some(&alice),
        &json!({ "prompt": "   " }),
    );
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json()["error"]["field"], "prompt");
    let huge = k.api.post(
        &format!("/api/projects/{id}/builds"),
        Some(&alice),
        &json!({ "prompt": "x".repeat(20 * 1024) }),
    );
    assert_eq!(huge.status, 400, "{}", huge.body);
    assert!(huge.error_message().contains("limit"));
    assert_eq!(
        k.api
            .post(
                &format!("/api/projects/{id}/builds"),
                Some(&bob),
                &json!({ "prompt": "a todo app" })
            )
            .status,
        404
    );
    assert_eq!(
        k.api.get("/api/builds/not-a-build", Some(&alice)).status,
        404
    );
    let log = k
        .api
        .get(&format!("/api/projects/{id}/events"), Some(&alice))
        .json();
    assert_eq!(
        log["events"].as_array().unwrap().len(),
        1,
        "bad requests record nothing"
    );
}

fn the_same_build_message_delivered_twice_starts_one_build(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Twice Delivered")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let build = request_build(k, &token, &id, "a habit tracker", &[]);
    let redeliver = || {
        let r = k.api.send(
            "POST",
            &format!("/api/_test/builds/{build}/redeliver"),
            None,
            &[],
            None,
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["outcome"].as_str().unwrap().to_string()
    };
    // The queue's own delivery may still be in flight; a redelivery is then either the one that
    // starts the build or a duplicate, never a second start.
    let first = redeliver();
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    assert_eq!(redeliver(), "duplicate", "after {first}");
    let all = k
        .api
        .get(
            &format!("/api/projects/{id}/events?limit=1000"),
            Some(&token),
        )
        .json()["events"]
        .as_array()
        .unwrap()
        .clone();
    let started = all.iter().filter(|e| e["type"] == "BuildStarted").count();
    let plans = all
        .iter()
        .filter(|e| e["type"] == "StepStarted" && e["data"]["step"] == "plan")
        .count();
    assert_eq!((started, plans), (1, 1));
}

pub fn build_app(k: &Kiln, token: &str, name: &str, prompt: &str) -> (String, String) {
    let p = k.api.create_project(token, name);
    let (id, slug) = (
        p["id"].as_str().unwrap().to_string(),
        p["slug"].as_str().unwrap().to_string(),
    );
    let b = request_build(k, token, &id, prompt, &[]);
    assert_eq!(wait_for_build(k, token, &b)["status"], "succeeded");
    (id, slug)
}

pub fn app_user(k: &Kiln, slug: &str, email: &str) -> String {
    let r = app_post(
        k,
        slug,
        "/api/auth/register",
        None,
        &json!({ "email": email, "password": "correct horse" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

fn two_apps_are_isolated_tokens_rows_and_files(k: &Kiln) {
    let token = k.api.new_user();
    let (_, a) = build_app(k, &token, "Notes A", "a notes app with file attachments");
    let (b_id, b) = build_app(k, &token, "Notes B", "a notes app with file attachments");
    let ta = app_user(k, &a, "same@example.com");
    let tb = app_user(k, &b, "same@example.com");
    assert_eq!(
        app_post(
            k,
            &b,
            "/api/notes",
            Some(&tb),
            &json!({ "title": "secret of B" })
        )
        .status,
        201
    );
    // A token from app A means nothing to app B (different signing secret), and vice versa.
    assert_eq!(
        app_send(k, &b, "GET", "/api/notes", Some(&ta), None).status,
        401
    );
    assert_eq!(
        app_send(k, &a, "GET", "/api/auth/me", Some(&tb), None).status,
        401
    );
    // App A's database does not contain B's rows.
    let list_a = app_send(k, &a, "GET", "/api/notes", Some(&ta), None);
    assert_eq!(list_a.status, 200);
    assert!(!list_a.body.contains("secret of B"));
    // Within app B, another user cannot read the row either.
    let other = app_user(k, &b, "other@example.com");
    let rows = app_send(k, &b, "GET", "/api/notes", Some(&other), None);
    assert_eq!(rows.status, 200, "{}", rows.body);
    assert!(!rows.body.contains("secret of B"), "{}", rows.body);
    assert_eq!(
        app_send(k, &b, "GET", "/api/notes/1", Some(&other), None).status,
        404
    );
    let q = k.api.post(
        &format!("/api/_test/apps/{b_id}/query"),
        None,
        &json!({ "sql": "SELECT COUNT(*) AS n FROM notes" }),
    );
    assert_eq!(q.json()["results"][0]["n"], 1);
    // Files: both apps' first users have id 1, yet app A sees nothing of app B's storage.
    let host_b = format!("{b}.localhost:{}", k.port);
    let host_a = format!("{a}.localhost:{}", k.port);
    let put = k.api.send(
        "PUT",
        "/api/files/plan.txt",
        Some(&tb),
        &[("content-type", "text/plain")],
        Some(b"B's plan".to_vec()),
        Some(&host_b),
    );
    assert_eq!(put.status, 201, "{}", put.body);
    let got = k.api.send(
        "GET",
        "/api/files/plan.txt",
        Some(&tb),
        &[],
        None,
        Some(&host_b),
    );
    assert_eq!((got.status, got.body.as_str()), (200, "B's plan"));
    assert_eq!(
        k.api
            .send(
                "GET",
                "/api/files/plan.txt",
                Some(&ta),
                &[],
                None,
                Some(&host_a)
            )
            .status,
        404
    );
    let listed = k
        .api
        .send("GET", "/api/files", Some(&ta), &[], None, Some(&host_a));
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert!(!listed.body.contains("plan.txt"), "{}", listed.body);
    let bad = k.api.send(
        "PUT",
        "/api/files/..%2F..%2Fsecrets",
        Some(&ta),
        &[],
        Some(b"x".to_vec()),
        Some(&host_a),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
}

fn a_plan_with_an_invalid_identifier_or_reserved_table_fails_at_plan(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Bad Plan")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = json!({ "app_name": "Shop", "summary": "s", "entities": [
        { "name": "order", "fields": [{ "name": "title", "kind": "text", "required": true }] },
        { "name": "Bad Name", "fields": [{ "name": "x", "kind": "text" }] }
    ]});
    let b = request_build(
        k,
        &token,
        &id,
        "a shop",
        &[("x-kiln-plan", &plan.to_string())],
    );
    let b = wait_for_build(k, &token, &b);
    assert_eq!(b["status"], "failed");
    assert_eq!(b["error"]["step"], "plan");
    let reason = b["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("'order'")
            && reason.contains("'Bad Name'")
            && !reason.starts_with("NonRetryableError"),
        "{reason}"
    );
    let plan_attempts = b["steps"][0]["attempts"].as_array().unwrap().len();
    assert_eq!(plan_attempts, 1, "a terminal error is not retried");
}

pub fn a_build_interrupted_by_a_dev_server_restart_completes_without_rerunning_finished_steps(
    k: &Kiln,
) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Interrupted")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let build = request_build(
        k,
        &token,
        &id,
        "a notes app",
        &[("x-kiln-faults", "upload-assets:1:slow")],
    );
    // Wait until upload-assets is in flight (its first attempt stalls), then kill the server.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let b = k
            .api
            .get(&format!("/api/builds/{build}"), Some(&token))
            .json()["build"]
            .clone();
        let running = b["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == "upload-assets" && s["status"] == "running");
        if running {
            break;
        }
        assert!(
            Instant::now() < deadline && b["status"] != "failed",
            "upload-assets never started: {b:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    k.restart();
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let log = k
        .api
        .get(
            &format!("/api/projects/{id}/events?limit=1000"),
            Some(&token),
        )
        .json();
    let started = |step: &str| {
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "StepStarted" && e["data"]["step"] == step)
            .count()
    };
    for step in ["plan", "codegen", "validate", "create-db", "migrate"] {
        assert_eq!(started(step), 1, "finished step {step} ran again");
    }
    assert_eq!(
        started("upload-assets"),
        2,
        "the interrupted step runs once more"
    );
    for step in ["deploy", "record"] {
        assert_eq!(started(step), 1);
    }
}

fn the_full_plan_of_a_build_is_readable_by_its_owner_only(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Plan Reader")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let build = request_build(k, &token, &id, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");

    let r = k
        .api
        .get(&format!("/api/builds/{build}/plan"), Some(&token));
    assert_eq!(r.status, 200, "{}", r.body);
    let plan = &r.json()["plan"];
    assert!(
        !plan["summary"].as_str().unwrap_or("").is_empty(),
        "{plan:#}"
    );
    let tasks = plan["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "tasks")
        .unwrap_or_else(|| panic!("no tasks entity: {plan:#}"));
    assert!(
        tasks["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["name"].is_string() && !f["kind"].is_null()),
        "{tasks:#}"
    );
    assert!(
        plan["pages"].as_array().is_some_and(|p| !p.is_empty()),
        "{plan:#}"
    );
    assert!(
        plan["features"].is_array() && plan["file_storage"].is_boolean(),
        "{plan:#}"
    );

    // Another user, a missing build and no token.
    let other = k.api.new_user();
    let r = k
        .api
        .get(&format!("/api/builds/{build}/plan"), Some(&other));
    assert_eq!(r.status, 404, "{}", r.body);
    let r = k.api.get(
        "/api/builds/00000000-0000-4000-8000-000000000000/plan",
        Some(&token),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        k.api.get(&format!("/api/builds/{build}/plan"), None).status,
        401
    );
    assert_eq!(
        k.api
            .send(
                "POST",
                &format!("/api/builds/{build}/plan"),
                Some(&token),
                &[],
                None,
                None
            )
            .status,
        405
    );
}

/// Issue 14: the offline planner keeps the user's words (issues, comments) and turns a listed
/// status into a `choice` field that the live app enforces in its API, its database and its form.
fn an_issue_tracker_prompt_gives_issues_and_comments_whose_choices_are_enforced(k: &Kiln) {
    let token = k.api.new_user();
    let prompt =
        "An issue tracker with issues (title, status (open, in progress, done), severity) \
                  and comments on each issue.";
    let (id, slug) = build_app(k, &token, "Issue Desk", prompt);
    let builds = k
        .api
        .get(&format!("/api/projects/{id}/builds"), Some(&token));
    let build = builds.json()["builds"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = k
        .api
        .get(&format!("/api/builds/{build}/plan"), Some(&token))
        .json()["plan"]
        .clone();
    let tables: Vec<&str> = plan["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["issues", "comments"], "{plan:#}");
    let status = plan["entities"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "status")
        .unwrap_or_else(|| panic!("no status field: {plan:#}"));
    assert_eq!(
        (&status["kind"], &status["values"]),
        (&json!("choice"), &json!(["open", "in progress", "done"]))
    );

    let user = app_user(k, &slug, "ada@example.com");
    let made = app_post(
        k,
        &slug,
        "/api/issues",
        Some(&user),
        &json!({ "title": "Login fails", "status": "in progress", "severity": "high" }),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.json()["status"], "in progress", "{}", made.body);
    let issue_id = made.json()["id"].as_i64().unwrap();
    for (body, message) in [
        (
            json!({ "title": "x", "status": "closed" }),
            "status must be one of: open, in progress, done",
        ),
        (
            json!({ "title": "x", "status": "open", "severity": "urgent" }),
            "severity must be one of: low, medium, high, critical",
        ),
    ] {
        let r = app_post(k, &slug, "/api/issues", Some(&user), &body);
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.json()["error"]["message"], message, "{}", r.body);
    }
    let comment = app_post(
        k,
        &slug,
        "/api/comments",
        Some(&user),
        // A comment is its body (the planner's writing vocabulary), linked to its issue.
        &json!({ "body": "Seen it too", "issue_id": issue_id }),
    );
    assert_eq!(comment.status, 201, "{}", comment.body);

    // The database holds the same rule: its CHECK refuses a value the API would refuse.
    let q = k.api.post(
        &format!("/api/_test/apps/{id}/query"),
        None,
        &json!({ "sql": "SELECT sql FROM sqlite_master WHERE name = 'issues'" }),
    );
    let ddl = q.json()["results"][0]["sql"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ddl.contains("CHECK (status IN ('open', 'in progress', 'done'))"),
        "{ddl}"
    );
    // The form offers the values in a select.
    let host = format!("{slug}.localhost:{}", k.port);
    let app_js = k.api.send("GET", "/app.js", None, &[], None, Some(&host));
    assert_eq!(app_js.status, 200);
    assert!(
        app_js
            .body
            .contains(r#"values: ["open", "in progress", "done"]"#)
            && app_js.body.contains(r#"case "choice":"#),
        "the form lists the choices"
    );
}

/// Regression: a build whose Queue message could not be sent stayed "requested" for ever and held
/// the project's one build slot. Now it is recorded as failed at intake, the caller gets a 503
/// saying so, and the next request builds.
fn a_build_that_cannot_be_queued_is_recorded_as_failed_and_frees_the_project(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Unqueued");
    let id = p["id"].as_str().unwrap();
    let r = k.api.send(
        "POST",
        &format!("/api/projects/{id}/builds"),
        Some(&token),
        &[
            ("content-type", "application/json"),
            ("x-kiln-intake-fault", "queue"),
        ],
        Some(
            json!({ "prompt": "a reading list" })
                .to_string()
                .into_bytes(),
        ),
        None,
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.error_code(), "unavailable");
    assert!(r.error_message().contains("request it again"), "{}", r.body);
    let builds = k
        .api
        .get(&format!("/api/projects/{id}/builds"), Some(&token))
        .json()["builds"]
        .clone();
    assert_eq!(builds.as_array().unwrap().len(), 1, "{builds}");
    assert_eq!(builds[0]["status"], "failed", "{builds}");
    assert_eq!(builds[0]["error"]["step"], "intake", "{builds}");
    let again = request_build(k, &token, id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &again)["status"], "succeeded");
}

/// A build whose message cannot start a workflow (every delivery fails; a test hook here) ends in
/// the dead-letter queue, whose consumer records it as failed at intake: the project is free.
fn a_build_that_never_starts_is_failed_by_the_dead_letter_consumer(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Never Started");
    let id = p["id"].as_str().unwrap();
    let build = request_build(
        k,
        &token,
        id,
        "a reading list",
        &[("x-kiln-intake-fault", "start")],
    );
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "failed", "{b:#}");
    assert_eq!(b["error"]["step"], "intake", "{b:#}");
    assert!(
        b["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("could not be started"),
        "{b:#}"
    );
    let again = request_build(k, &token, id, "a reading list", &[]);
    assert_eq!(wait_for_build(k, &token, &again)["status"], "succeeded");
}

/// How many R2 keys start with `prefix` (test hook).
fn r2_count(k: &Kiln, prefix: &str) -> u64 {
    let r = k.api.get(&format!("/api/_test/r2?prefix={prefix}"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["count"].as_u64().unwrap()
}

/// Local target: upload-assets writes the version's assets manifest and the dispatch Worker serves
/// the app's pages from it (a damaged one is a clear 500, not a silent fallback), and create-db
/// records the database it created under the same id on every build.
fn the_local_upload_assets_step_writes_what_the_app_is_served_from(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Assets Proof");
    let (id, slug) = (p["id"].as_str().unwrap(), p["slug"].as_str().unwrap());
    let build = request_build(k, &token, id, "a notebook with notes", &[]);
    assert_eq!(wait_for_build(k, &token, &build)["status"], "succeeded");
    let key = format!("deploys/{id}/00000001.assets.json");
    assert_eq!(r2_count(k, &key), 1, "upload-assets wrote {key}");
    // Damage it before the app is first requested (the dispatch Worker caches it per version).
    let r = k.api.send(
        "PUT",
        &format!("/api/_test/r2/{key}"),
        None,
        &[],
        Some(b"not a manifest".to_vec()),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = k.api.get_app(slug, "/");
    assert_eq!(
        page.status, 500,
        "served from the assets manifest: {}",
        page.body
    );

    // The next version gets its own assets manifest and is served again.
    let build = request_build(k, &token, id, "a notebook with notes and tags", &[]);
    assert_eq!(wait_for_build(k, &token, &build)["status"], "succeeded");
    assert_eq!(
        r2_count(k, &format!("deploys/{id}/00000002.assets.json")),
        1
    );
    assert_eq!(k.api.get_app(slug, "/").status, 200);

    let log = k
        .api
        .get(
            &format!("/api/projects/{id}/events?limit=1000"),
            Some(&token),
        )
        .json();
    let databases: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "DatabaseProvisioned")
        .collect();
    assert_eq!(databases.len(), 1, "one database for two builds");
    assert_eq!(databases[0]["data"]["database_id"], format!("local:{id}"));
}
