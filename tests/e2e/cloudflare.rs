//! The build scenarios under `DEPLOY_TARGET=cloudflare`: a session whose platform deploys through
//! Cloudflare's REST API, here the local Cloudflare API double (tests/cloudflare-double), and whose
//! apps run in the double's dispatch emulation. The target-neutral build scenarios (prompt → live
//! app, rebuild keeps the data, retried and terminal faults, restart mid-build, rollback) run again here
//! unchanged, and so do cancel and the stall watchdog (the session's stall threshold is 0, as on the
//! watchdog session: the cron handler runs only when a scenario calls `/__scheduled`, one scenario
//! at a time); the scenarios below add what only this target has: the REST calls themselves and a
//! teardown that leaves nothing in the account.

use serde_json::{json, Value};

use crate::builds::{self, app_post, app_send, app_user, build_app};
use crate::rollback;
use crate::stuck;
use crate::teardown::wait_for_teardown;
use crate::{Kiln, Run, Scenario};

/// Lists scenario functions `fn(&Kiln)` to run on the cloudflare session, named `cloudflare::…`
/// (a target-neutral scenario keeps its own name after the prefix).
macro_rules! on_cloudflare {
    ($($path:path),* $(,)?) => {
        vec![$(Scenario {
            name: concat!(module_path!(), "::", stringify!($path)),
            run: Run::Cloudflare($path),
        }),*]
    };
}

pub fn scenarios() -> Vec<Scenario> {
    on_cloudflare![
        a_prompt_becomes_a_live_app_through_the_rest_api,
        deleting_a_project_leaves_nothing_of_it_in_the_account,
        an_app_whose_script_is_missing_from_the_namespace_answers_503,
        a_deploy_retried_after_its_upload_succeeded_keeps_the_assets_and_one_script,
        builds::a_task_manager_prompt_becomes_a_live_app_whose_data_survives_a_rebuild,
        builds::a_retryable_deploy_failure_is_retried_and_recorded,
        builds::a_terminal_migrate_failure_fails_the_build_and_keeps_the_live_version,
        builds::a_build_interrupted_by_a_dev_server_restart_completes_without_rerunning_finished_steps,
        a_teardown_whose_first_attempt_fails_still_leaves_nothing,
        rollback::a_rollback_serves_the_older_version_over_the_newer_schema_and_rolls_forward,
        rollback::a_build_after_a_rollback_continues_the_databases_migrations,
        stuck::a_build_cancelled_during_each_step_ends_cancelled_keeps_the_live_version_and_frees_the_project,
        stuck::a_step_still_running_after_its_build_was_cancelled_cannot_deploy_or_finish_it,
        stuck::the_watchdog_fails_a_stalled_build_and_frees_the_project,
        stuck::the_watchdog_puts_the_live_pointer_back_for_a_build_stalled_after_its_deploy,
    ]
}

/// The REST calls (method, path after the account) made since `from`.
fn calls_since(k: &Kiln, from: usize) -> Vec<(String, String)> {
    let prefix = format!("/client/v4/accounts/{}", k.double().account);
    k.double()
        .calls()
        .into_iter()
        .skip(from)
        .map(|(m, p)| (m, p.strip_prefix(&prefix).unwrap_or(&p).to_string()))
        .collect()
}

fn count(calls: &[(String, String)], method: &str, pred: impl Fn(&str) -> bool) -> usize {
    calls.iter().filter(|(m, p)| m == method && pred(p)).count()
}

/// Every name in the double's state that belongs to project `id`.
fn owned(state: &Value, id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for d in state["databases"].as_array().into_iter().flatten() {
        if d["name"].as_str().unwrap_or_default().contains(id) {
            found.push(format!("database {}", d["name"]));
        }
    }
    for b in state["buckets"].as_array().into_iter().flatten() {
        if b["name"].as_str().unwrap_or_default().contains(id) {
            found.push(format!("bucket {} ({} objects)", b["name"], b["objects"]));
        }
    }
    for s in state["scripts"].as_array().into_iter().flatten() {
        if s["name"].as_str().unwrap_or_default().contains(id)
            || s["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t.as_str().unwrap_or_default().contains(id))
        {
            found.push(format!("script {}", s["name"]));
        }
    }
    for key in ["asset_blobs", "uploaded_blobs", "orphan_objects"] {
        for k in state[key].as_array().into_iter().flatten() {
            if k.as_str().unwrap_or_default().contains(id) {
                found.push(format!("{key}: {k}"));
            }
        }
    }
    for s in state["upload_sessions"].as_array().into_iter().flatten() {
        if s["script"].as_str().unwrap_or_default().contains(id) {
            found.push(format!("upload session for {}", s["script"]));
        }
    }
    found
}

fn a_prompt_becomes_a_live_app_through_the_rest_api(k: &Kiln) {
    let before = k.double().calls().len();
    let token = k.api.new_user();
    let (id, slug) = build_app(
        k,
        &token,
        "Field Notes",
        "a notes app with file attachments",
    );

    let calls = calls_since(k, before);
    let script = format!("kiln-{id}-v1");
    let db_name = format!("kiln-app-{id}");
    assert_eq!(
        count(&calls, "POST", |p| p == "/d1/database"),
        1,
        "one D1 create: {calls:?}"
    );
    assert!(
        count(&calls, "POST", |p| p.starts_with("/d1/database/")
            && p.ends_with("/query"))
            >= 1,
        "D1 query (the migration): {calls:?}"
    );
    assert_eq!(
        count(&calls, "POST", |p| p
            == format!(
                "/workers/dispatch/namespaces/kiln-apps/scripts/{script}/assets-upload-session"
            )),
        1,
        "assets upload session: {calls:?}"
    );
    assert!(
        count(&calls, "POST", |p| p == "/workers/assets/upload") >= 1,
        "assets upload: {calls:?}"
    );
    assert_eq!(
        count(&calls, "PUT", |p| p
            == format!(
                "/workers/dispatch/namespaces/kiln-apps/scripts/{script}"
            )),
        1,
        "script upload: {calls:?}"
    );

    // What the account now holds for the project.
    let state = k.double().state();
    let db = state["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == db_name.as_str())
        .unwrap_or_else(|| panic!("no database {db_name}: {state:#}"));
    assert!(
        db["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "notes"),
        "{db:#}"
    );
    let s = state["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == script.as_str())
        .unwrap_or_else(|| panic!("no script {script}: {state:#}"));
    assert_eq!(s["tags"], json!(["kiln", format!("project-{id}")]));
    assert!(s["assets"].as_u64().unwrap() > 0, "{s:#}");

    // The app runs from the uploaded script: its pages from the assets, its API on D1 and R2.
    let page = k.api.get_app(&slug, "/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert_eq!(page.header("x-kiln-version"), Some("1"));
    assert!(
        page.header("content-security-policy")
            .unwrap_or_default()
            .contains("frame-ancestors"),
        "the dispatch Worker adds the app security headers: {:?}",
        page.headers
    );
    let user = app_user(k, &slug, "ada@example.com");
    let note = app_post(
        k,
        &slug,
        "/api/notes",
        Some(&user),
        &json!({ "title": "on the double" }),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let put = k.api.send(
        "PUT",
        "/api/files/plan.txt",
        Some(&user),
        &[("content-type", "text/plain")],
        Some(b"the plan".to_vec()),
        Some(&format!("{slug}.localhost:{}", k.port)),
    );
    assert_eq!(put.status, 201, "{}", put.body);
    let file = app_send(k, &slug, "GET", "/api/files/plan.txt", Some(&user), None);
    assert_eq!(file.body, "the plan");
    let state = k.double().state();
    let bucket = state["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == db_name.as_str())
        .unwrap_or_else(|| panic!("no bucket {db_name}: {state:#}"));
    assert_eq!(bucket["objects"], 1, "the file is in the app's own bucket");
}

fn deleting_a_project_leaves_nothing_of_it_in_the_account(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = build_app(
        k,
        &token,
        "Brief Notes",
        "a notes app with file attachments",
    );
    let user = app_user(k, &slug, "ada@example.com");
    let note = app_post(
        k,
        &slug,
        "/api/notes",
        Some(&user),
        &json!({ "title": "gone soon" }),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let put = k.api.send(
        "PUT",
        "/api/files/a.txt",
        Some(&user),
        &[("content-type", "text/plain")],
        Some(b"bytes".to_vec()),
        Some(&format!("{slug}.localhost:{}", k.port)),
    );
    assert_eq!(put.status, 201, "{}", put.body);
    // A second version, so there are two scripts to remove.
    let again = builds::request_build(k, &token, &id, "a notes app with file attachments", &[]);
    assert_eq!(
        builds::wait_for_build(k, &token, &again)["status"],
        "succeeded"
    );
    let held = owned(&k.double().state(), &id);
    assert!(
        held.len() >= 4,
        "database, bucket and two scripts before the delete: {held:?}"
    );

    let deleted = k.api.delete(&format!("/api/projects/{id}"), Some(&token));
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(
        k.api.get_app(&slug, "/").status,
        404,
        "the slug no longer answers"
    );
    wait_for_teardown(k, &id);

    let state = k.double().state();
    assert_eq!(owned(&state, &id), Vec::<String>::new(), "{state:#}");
}

fn an_app_whose_script_is_missing_from_the_namespace_answers_503(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = build_app(k, &token, "Vanishing Script", "a reading list");
    assert_eq!(k.api.get_app(&slug, "/").status, 200);
    // Removed behind the platform's back, as an operator might in the dashboard.
    let (status, body) = k.double().rest(
        "DELETE",
        &format!("/workers/dispatch/namespaces/kiln-apps/scripts/kiln-{id}-v1?force=true"),
    );
    assert_eq!(status, 200, "{body}");

    let page = k.api.get_app(&slug, "/");
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.error_code(), "not_deployed");
    assert!(page.error_message().contains("rebuild"), "{}", page.body);
    assert!(page.header("content-security-policy").is_some());
}

/// The deploy step's first attempt uploads the script (redeeming the assets completion token) and
/// then loses its answer (`deploy:1:lost`); the retry must not present the redeemed token again.
fn a_deploy_retried_after_its_upload_succeeded_keeps_the_assets_and_one_script(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Twice Deployed");
    let (id, slug) = (
        p["id"].as_str().unwrap().to_string(),
        p["slug"].as_str().unwrap().to_string(),
    );
    let before = k.double().calls().len();
    let build = builds::request_build(
        k,
        &token,
        &id,
        "a notes app with file attachments",
        &[("x-kiln-faults", "deploy:1:lost")],
    );
    let b = builds::wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let deploy = b["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "deploy")
        .unwrap()
        .clone();
    let attempts = deploy["attempts"].as_array().unwrap();
    let statuses: Vec<&str> = attempts
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "succeeded"], "{deploy:#}");

    // Both attempts uploaded the script: the first with the completion token, the retry with
    // keep_assets (the double refuses a redeemed token with 400, which would fail the build).
    let script = format!("kiln-{id}-v1");
    let calls = calls_since(k, before);
    assert_eq!(
        count(&calls, "PUT", |p| p
            == format!(
                "/workers/dispatch/namespaces/kiln-apps/scripts/{script}"
            )),
        2,
        "{calls:?}"
    );
    assert_eq!(
        count(&calls, "POST", |p| p.ends_with("/assets-upload-session")),
        1,
        "the assets were uploaded once: {calls:?}"
    );

    // One script in the namespace for the project, with its assets.
    let state = k.double().state();
    let scripts: Vec<&Value> = state["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t == &json!(format!("project-{id}")))
        })
        .collect();
    assert_eq!(scripts.len(), 1, "{state:#}");
    assert_eq!(scripts[0]["name"], script.as_str());
    assert!(
        scripts[0]["assets"].as_u64().unwrap() > 0,
        "{:#}",
        scripts[0]
    );

    // The app is live at that version: its page from the kept assets, its API on D1.
    let page = k.api.get_app(&slug, "/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert_eq!(page.header("x-kiln-version"), Some("1"));
    let user = app_user(k, &slug, "ada@example.com");
    let note = app_post(
        k,
        &slug,
        "/api/notes",
        Some(&user),
        &json!({ "title": "deployed once" }),
    );
    assert_eq!(note.status, 201, "{}", note.body);
}

fn a_teardown_whose_first_attempt_fails_still_leaves_nothing(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = build_app(
        k,
        &token,
        "Stubborn Notes",
        "a notes app with file attachments",
    );
    let user = app_user(k, &slug, "ada@example.com");
    let put = k.api.send(
        "PUT",
        "/api/files/a.txt",
        Some(&user),
        &[("content-type", "text/plain")],
        Some(b"bytes".to_vec()),
        Some(&format!("{slug}.localhost:{}", k.port)),
    );
    assert_eq!(put.status, 201, "{}", put.body);

    let deleted = k.api.send(
        "DELETE",
        &format!("/api/projects/{id}"),
        Some(&token),
        &[("x-kiln-faults", "teardown:1")],
        None,
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let types = wait_for_teardown(k, &id);
    assert_eq!(
        types.iter().filter(|t| *t == "TeardownCompleted").count(),
        1
    );
    let fault = k
        .api
        .get(&format!("/api/_test/r2?prefix=faults/teardown/{id}/"), None);
    assert_eq!(
        fault.json()["count"],
        1,
        "one attempt failed on purpose: {}",
        fault.body
    );
    let state = k.double().state();
    assert_eq!(owned(&state, &id), Vec::<String>::new(), "{state:#}");
}
