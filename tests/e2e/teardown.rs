//! Deleting a project: the answer is immediate, the teardown is a durable Queue job that removes
//! everything the project owned, survives a failed attempt, and is recorded as `TeardownCompleted`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::builds::{app_post, app_user, build_app};
use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        deleting_a_built_project_answers_at_once_and_removes_its_app_data_and_code,
        a_teardown_whose_first_attempt_fails_is_retried_until_complete,
    ]
}

/// How many R2 keys start with `prefix` (test hook).
fn count(k: &Kiln, prefix: &str) -> u64 {
    let r = k.api.get(&format!("/api/_test/r2?prefix={prefix}"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["count"].as_u64().unwrap()
}

/// The prefixes a project's teardown must empty.
fn owned_prefixes(id: &str) -> [String; 5] {
    [
        format!("blobs/{id}/"),
        format!("versions/{id}/"),
        format!("appfiles/{id}/"),
        format!("plans/{id}/"),
        format!("secrets/{id}"),
    ]
}

/// The project's event log, read through the operator route (the owner's routes answer 404 once
/// the project is deleted).
fn log_types(k: &Kiln, id: &str) -> Vec<String> {
    let r = k.api.get(
        &format!("/api/admin/projects/{id}/events?limit=1000"),
        Some(&k.operator_token),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Polls the log until `TeardownCompleted` is in it (never a fixed sleep).
pub fn wait_for_teardown(k: &Kiln, id: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let types = log_types(k, id);
        if types.iter().any(|t| t == "TeardownCompleted") {
            return types;
        }
        assert!(
            Instant::now() < deadline,
            "teardown of {id} did not complete: {types:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A built notes app with one app user, one row and one stored file.
fn built_app_with_data(k: &Kiln, token: &str, name: &str) -> (String, String) {
    let (id, slug) = build_app(k, token, name, "a notes app with file attachments");
    let t = app_user(k, &slug, "ada@example.com");
    let row = app_post(
        k,
        &slug,
        "/api/notes",
        Some(&t),
        &json!({ "title": "hello" }),
    );
    assert_eq!(row.status, 201, "{}", row.body);
    let put = k.api.send(
        "PUT",
        "/api/files/plan.txt",
        Some(&t),
        &[("content-type", "text/plain")],
        Some(b"the plan".to_vec()),
        Some(&format!("{slug}.localhost:{}", k.port)),
    );
    assert_eq!(put.status, 201, "{}", put.body);
    for prefix in owned_prefixes(&id) {
        assert!(count(k, &prefix) > 0, "{prefix} is empty before the delete");
    }
    (id, slug)
}

fn assert_all_gone(k: &Kiln, id: &str, slug: &str) {
    for prefix in owned_prefixes(id) {
        assert_eq!(count(k, &prefix), 0, "{prefix} is not empty after teardown");
    }
    assert_eq!(count(k, &format!("apps/{slug}.json")), 0, "live pointer");
    let q = k.api.post(
        &format!("/api/_test/apps/{id}/query"),
        None,
        &json!({ "sql": "SELECT name FROM sqlite_master WHERE name = 'notes'" }),
    );
    assert_eq!(q.status, 200, "{}", q.body);
    assert_eq!(q.json()["results"], json!([]), "the app database is gone");
}

fn deleting_a_built_project_answers_at_once_and_removes_its_app_data_and_code(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = built_app_with_data(k, &token, "Short Lived App");

    let deleted = k.api.delete(&format!("/api/projects/{id}"), Some(&token));

    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let page = k.api.get_app(&slug, "/");
    assert_eq!(page.status, 404, "the slug no longer answers");
    assert!(page.body.contains(&slug));
    let login = app_post(
        k,
        &slug,
        "/api/auth/login",
        None,
        &json!({ "email": "ada@example.com", "password": "correct horse" }),
    );
    assert_eq!(login.status, 404);
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/events"), Some(&token))
            .status,
        404,
        "the owner's routes forget the project"
    );
    let types = wait_for_teardown(k, &id);
    assert_eq!(
        types.iter().filter(|t| *t == "TeardownCompleted").count(),
        1
    );
    let deleted_at = types.iter().position(|t| t == "ProjectDeleted").unwrap();
    assert_eq!(types.last().map(String::as_str), Some("TeardownCompleted"));
    assert!(deleted_at < types.len() - 1);
    assert_all_gone(k, &id, &slug);
    let dump: Value = k
        .api
        .get("/api/admin/projections", Some(&k.operator_token))
        .json();
    assert!(dump["projects"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["id"] != id.as_str()));
}

fn a_teardown_whose_first_attempt_fails_is_retried_until_complete(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = built_app_with_data(k, &token, "Stubborn App");

    // The first attempt fails after the pointer and the database are gone, before the files.
    let deleted = k.api.send(
        "DELETE",
        &format!("/api/projects/{id}"),
        Some(&token),
        &[("x-kiln-faults", "teardown:1")],
        None,
        None,
    );

    assert_eq!(
        deleted.status, 204,
        "the failure is not the caller's: {}",
        deleted.body
    );
    assert_eq!(k.api.get_app(&slug, "/").status, 404);
    wait_for_teardown(k, &id);
    assert_eq!(
        count(k, &format!("faults/teardown/{id}/")),
        1,
        "exactly one attempt failed on purpose before the one that completed"
    );
    assert_all_gone(k, &id, &slug);
}
