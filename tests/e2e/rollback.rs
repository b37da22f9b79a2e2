//! Rollback and replay end to end: an older version goes live again over a newer schema and
//! keeps every row; a build is replayed from its recorded plan and code, or forked from a step.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::builds::{app_post, app_send, app_user, build_app, request_build, wait_for_build};
use crate::{model_scenarios, scenarios, Kiln, ModelServer, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    let mut all = scenarios![
        a_rollback_serves_the_older_version_over_the_newer_schema_and_rolls_forward,
        bad_rollback_requests_are_clear_errors,
        a_build_after_a_rollback_continues_the_databases_migrations,
        a_replay_reuses_the_recorded_plan_and_code_and_a_fork_from_codegen_generates_fresh,
        bad_replay_requests_are_clear_errors,
    ];
    all.extend(model_scenarios![
        a_replay_of_a_model_build_makes_no_model_call_and_yields_an_identical_manifest,
    ]);
    all
}

fn events(k: &Kiln, token: &str, project: &str) -> Vec<Value> {
    let r = k.api.get(
        &format!("/api/projects/{project}/events?limit=1000"),
        Some(token),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["events"].as_array().unwrap().clone()
}

fn project(k: &Kiln, token: &str, id: &str) -> Value {
    let r = k.api.get(&format!("/api/projects/{id}"), Some(token));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["project"].clone()
}

/// Polls the project until `version` is live through a rollback, and returns the project; fails
/// on a `RollbackFailed`.
fn wait_for_rollback(k: &Kiln, token: &str, id: &str, rollback_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = project(k, token, id);
        if p["live"]["rollback_id"] == rollback_id {
            return p;
        }
        let log = events(k, token, id);
        let failed = log
            .iter()
            .find(|e| e["type"] == "RollbackFailed" && e["data"]["rollback_id"] == rollback_id);
        assert!(failed.is_none(), "rollback failed: {failed:?}");
        assert!(Instant::now() < deadline, "rollback did not finish: {p:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The version the app's static files come from (`x-kiln-version`).
fn served_version(k: &Kiln, slug: &str) -> u64 {
    let page = k.api.get_app(slug, "/");
    assert_eq!(page.status, 200, "{}", page.body);
    page.header("x-kiln-version")
        .expect("x-kiln-version")
        .parse()
        .unwrap()
}

fn rollback(k: &Kiln, token: &str, id: &str, body: &Value) -> crate::Reply {
    k.api
        .post(&format!("/api/projects/{id}/rollback"), Some(token), body)
}

pub fn a_rollback_serves_the_older_version_over_the_newer_schema_and_rolls_forward(k: &Kiln) {
    // v1: tasks; v2: a chat message adds a priority column (0002_update.sql).
    let token = k.api.new_user();
    let (id, slug) = build_app(k, &token, "Rollback Tasks", "a task manager with tasks");
    let first = project(k, &token, &id)["live"].clone();
    assert_eq!(first["reason"], "build", "{first:#}");
    let v1 = first["version"].as_u64().unwrap();
    let r = k.api.post(
        &format!("/api/projects/{id}/chat"),
        Some(&token),
        &json!({ "message": "add a priority to tasks" }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let second_build = r.json()["build_id"].as_str().unwrap().to_string();
    let b2 = wait_for_build(k, &token, &second_build);
    assert_eq!(b2["status"], "succeeded", "{b2:#}");
    let v2 = b2["deployed_version"].as_u64().unwrap();
    let log = events(k, &token, &id);
    let migrated = log
        .iter()
        .find(|e| e["type"] == "MigrationApplied" && e["data"]["build_id"] == second_build)
        .expect("v2 applied a migration");
    assert_eq!(migrated["data"]["names"], json!(["0002_update.sql"]));
    let upgrade = k.api.get(
        &format!("/api/projects/{id}/versions/{v2}/files/migrations/0002_update.sql"),
        Some(&token),
    );
    assert!(
        upgrade.body.contains("ADD COLUMN priority"),
        "{}",
        upgrade.body
    );
    assert_eq!(served_version(k, &slug), v2);

    // A row written under v2, with the new column.
    let user = app_user(k, &slug, "roll@example.com");
    let row = app_post(
        k,
        &slug,
        "/api/tasks",
        Some(&user),
        &json!({ "title": "written by v2", "priority": 3 }),
    );
    assert_eq!(row.status, 201, "{}", row.body);
    assert_eq!(row.json()["priority"], 3);

    // Roll back to v1.
    let r = rollback(k, &token, &id, &json!({ "version": v1 }));
    assert_eq!(r.status, 202, "{}", r.body);
    let accepted = r.json();
    assert_eq!(accepted["to_version"], v1);
    assert_eq!(accepted["from_version"], v2);
    let rollback_id = accepted["rollback_id"].as_str().unwrap().to_string();
    let p = wait_for_rollback(k, &token, &id, &rollback_id);
    let done = Instant::now();
    assert_eq!(p["live"]["version"], v1, "{p:#}");
    assert_eq!(p["live"]["reason"], "rollback");
    assert_eq!(p["live"]["build_id"], first["build_id"], "v1's own build");
    assert!(p["rollback"].is_null(), "{p:#}");
    // The older version answers within a second of completion.
    while served_version(k, &slug) != v1 {
        assert!(
            done.elapsed() < Duration::from_secs(1),
            "v{v1} not served a second after the rollback"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // v1's code over v2's schema: the newer row is still listed, and v1 can still insert.
    let list = app_send(k, &slug, "GET", "/api/tasks", Some(&user), None);
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("written by v2"), "{}", list.body);
    let older = app_post(
        k,
        &slug,
        "/api/tasks",
        Some(&user),
        &json!({ "title": "written by v1" }),
    );
    assert_eq!(older.status, 201, "{}", older.body);

    // The log tells the story: requested, then rolled back, linked by the rollback id.
    let log = events(k, &token, &id);
    let kinds: Vec<&str> = log
        .iter()
        .filter(|e| e["data"]["rollback_id"] == rollback_id.as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["RollbackRequested", "RolledBack"]);
    let requested = log
        .iter()
        .find(|e| e["type"] == "RollbackRequested")
        .unwrap();
    assert_eq!(requested["version"], 2);
    assert_eq!(requested["data"]["from_version"], v2);
    assert!(log.iter().all(|e| e["type"] != "ModelCalled"));

    // Roll forward to v2 by its build: both rows, and the priority, are there.
    let r = rollback(k, &token, &id, &json!({ "build_id": second_build }));
    assert_eq!(r.status, 202, "{}", r.body);
    let forward = r.json()["rollback_id"].as_str().unwrap().to_string();
    let p = wait_for_rollback(k, &token, &id, &forward);
    assert_eq!(p["live"]["version"], v2);
    assert_eq!(p["live"]["build_id"], second_build.as_str());
    let deadline = Instant::now() + Duration::from_secs(1);
    while served_version(k, &slug) != v2 {
        assert!(
            Instant::now() < deadline,
            "v{v2} not served after rolling forward"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let list = app_send(k, &slug, "GET", "/api/tasks", Some(&user), None);
    let rows = list.json();
    let titles: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"written by v1") && titles.contains(&"written by v2"),
        "{titles:?}"
    );
    let v2_row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "written by v2")
        .unwrap();
    assert_eq!(
        v2_row["priority"], 3,
        "data written under v2 survived the round trip"
    );
}

pub fn a_build_after_a_rollback_continues_the_databases_migrations(k: &Kiln) {
    let token = k.api.new_user();
    let (id, slug) = build_app(
        k,
        &token,
        "Rollback Then Build",
        "a task manager with tasks",
    );
    let v1 = project(k, &token, &id)["live"]["version"].as_u64().unwrap();
    let r = k.api.post(
        &format!("/api/projects/{id}/chat"),
        Some(&token),
        &json!({ "message": "add a priority to tasks" }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let b2 = r.json()["build_id"].as_str().unwrap().to_string();
    assert_eq!(wait_for_build(k, &token, &b2)["status"], "succeeded");
    let user = app_user(k, &slug, "again@example.com");
    let row = app_post(
        k,
        &slug,
        "/api/tasks",
        Some(&user),
        &json!({ "title": "kept", "priority": 2 }),
    );
    assert_eq!(row.status, 201, "{}", row.body);
    let r = rollback(k, &token, &id, &json!({ "version": v1 }));
    assert_eq!(r.status, 202, "{}", r.body);
    wait_for_rollback(k, &token, &id, r.json()["rollback_id"].as_str().unwrap());

    // The live plan is v1's, the database is v2's: the next upgrade is 0003, without priority.
    let r = k.api.post(
        &format!("/api/projects/{id}/chat"),
        Some(&token),
        &json!({ "message": "a task manager with tasks with priority and projects" }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let b3 = r.json()["build_id"].as_str().unwrap().to_string();
    let b = wait_for_build(k, &token, &b3);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let log = events(k, &token, &id);
    let applied = log
        .iter()
        .find(|e| e["type"] == "MigrationApplied" && e["data"]["build_id"] == b3.as_str())
        .expect("the upgrade ran");
    assert_eq!(applied["data"]["names"], json!(["0003_update.sql"]));
    let v3 = b["deployed_version"].as_u64().unwrap();
    let files = manifest_files(k, &token, &id, v3);
    for name in ["0001_init.sql", "0002_update.sql", "0003_update.sql"] {
        assert!(
            files.get(format!("migrations/{name}")).is_some(),
            "{name} in {files:#}"
        );
    }
    let upgrade = k.api.get(
        &format!("/api/projects/{id}/versions/{v3}/files/migrations/0003_update.sql"),
        Some(&token),
    );
    assert!(!upgrade.body.contains("priority"), "{}", upgrade.body);
    assert!(
        upgrade.body.contains("CREATE TABLE projects"),
        "{}",
        upgrade.body
    );
    let list = app_send(k, &slug, "GET", "/api/tasks", Some(&user), None);
    assert_eq!(list.json()[0]["priority"], 2, "{}", list.body);
    let made = app_post(
        k,
        &slug,
        "/api/projects",
        Some(&user),
        &json!({ "name": "Launch" }),
    );
    assert_eq!(made.status, 201, "{}", made.body);
}

fn bad_rollback_requests_are_clear_errors(k: &Kiln) {
    let token = k.api.new_user();
    let (id, _) = build_app(k, &token, "Rollback Errors", "a habit tracker");
    let live = project(k, &token, &id)["live"]["version"].as_u64().unwrap();

    let r = rollback(k, &token, &id, &json!({ "version": 99 }));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.error_message().contains("version 99"), "{}", r.body);
    let r = rollback(k, &token, &id, &json!({ "build_id": "no-such-build" }));
    assert_eq!(r.status, 404, "{}", r.body);

    let other = k.api.new_user();
    let r = rollback(k, &other, &id, &json!({ "version": live }));
    assert_eq!(r.status, 404, "another user's project: {}", r.body);

    // The live version: nothing to do, said plainly, nothing recorded.
    let before = events(k, &token, &id).len();
    let r = rollback(k, &token, &id, &json!({ "version": live }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "unchanged");
    assert_eq!(
        r.json()["message"],
        format!("version {live} is already live; nothing to do")
    );
    assert_eq!(events(k, &token, &id).len(), before);

    for body in [
        &b"{\"version\": \"one\"}"[..],
        b"not json",
        b"{}",
        b"{\"version\": 1, \"force\": true}",
    ] {
        let r = k
            .api
            .post_raw(&format!("/api/projects/{id}/rollback"), Some(&token), body);
        assert_eq!(
            r.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
    }
    let r = k
        .api
        .get(&format!("/api/projects/{id}/rollback"), Some(&token));
    assert_eq!(r.status, 405);
    let r = rollback(k, &token, "no-such-project", &json!({ "version": 1 }));
    assert_eq!(r.status, 404);
}

fn manifest_files(k: &Kiln, token: &str, id: &str, version: u64) -> Value {
    let r = k.api.get(
        &format!("/api/projects/{id}/versions/{version}"),
        Some(token),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["manifest"]["files"].clone()
}

fn replay(k: &Kiln, token: &str, build: &str, body: &Value) -> crate::Reply {
    k.api
        .post(&format!("/api/builds/{build}/replay"), Some(token), body)
}

fn plan_hash(log: &[Value], build: &str) -> String {
    log.iter()
        .find(|e| e["type"] == "PlanProposed" && e["data"]["build_id"] == build)
        .map(|e| e["data"]["plan_hash"].as_str().unwrap().to_string())
        .expect("a plan")
}

fn a_replay_reuses_the_recorded_plan_and_code_and_a_fork_from_codegen_generates_fresh(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Replay Tasks");
    let id = p["id"].as_str().unwrap().to_string();
    let original = request_build(k, &token, &id, "a task manager with tasks", &[]);
    let b1 = wait_for_build(k, &token, &original);
    assert_eq!(b1["status"], "succeeded", "{b1:#}");
    let v1 = b1["deployed_version"].as_u64().unwrap();

    let r = replay(k, &token, &original, &json!({}));
    assert_eq!(r.status, 202, "{}", r.body);
    let replayed = r.json()["build_id"].as_str().unwrap().to_string();
    let b = wait_for_build(k, &token, &replayed);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    assert_eq!(b["replay_of"], original.as_str());
    assert!(b["from_step"].is_null());
    assert_eq!(b["reused_steps"], json!(["plan", "codegen"]));
    assert_eq!(b["prompt"], "a task manager with tasks");
    assert_eq!(b["usage"]["calls"], 0);
    let v = b["deployed_version"].as_u64().unwrap();
    assert!(v > v1);
    assert_eq!(
        manifest_files(k, &token, &id, v),
        manifest_files(k, &token, &id, v1),
        "same paths, same hashes"
    );
    let log = events(k, &token, &id);
    assert_eq!(plan_hash(&log, &replayed), plan_hash(&log, &original));
    let requested = log
        .iter()
        .find(|e| e["type"] == "BuildRequested" && e["data"]["build_id"] == replayed.as_str())
        .unwrap();
    assert_eq!(requested["version"], 3);
    assert_eq!(requested["data"]["replay_of"], original.as_str());

    // A body is optional.
    let r = k.api.send(
        "POST",
        &format!("/api/builds/{original}/replay"),
        Some(&token),
        &[],
        None,
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let bare = r.json()["build_id"].as_str().unwrap().to_string();
    assert_eq!(wait_for_build(k, &token, &bare)["status"], "succeeded");

    // Fork from codegen with a new prompt: the plan is reused, code is generated again.
    let r = replay(
        k,
        &token,
        &original,
        &json!({ "from_step": "codegen", "prompt": "a task manager with tasks, regenerated" }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let fork = r.json()["build_id"].as_str().unwrap().to_string();
    let f = wait_for_build(k, &token, &fork);
    assert_eq!(f["status"], "succeeded", "{f:#}");
    assert_eq!(f["replay_of"], original.as_str());
    assert_eq!(f["from_step"], "codegen");
    assert_eq!(f["reused_steps"], json!(["plan"]));
    assert_eq!(f["prompt"], "a task manager with tasks, regenerated");
    let steps: Vec<&str> = f["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps[..2], ["plan", "codegen"]);
    let log = events(k, &token, &id);
    assert_eq!(plan_hash(&log, &fork), plan_hash(&log, &original));
    let codegen = log
        .iter()
        .find(|e| {
            e["type"] == "StepSucceeded"
                && e["data"]["build_id"] == fork.as_str()
                && e["data"]["step"] == "codegen"
        })
        .expect("codegen ran");
    assert!(codegen["data"]["output_ref"].is_string());
}

fn bad_replay_requests_are_clear_errors(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Replay Errors");
    let id = p["id"].as_str().unwrap().to_string();
    let build = request_build(k, &token, &id, "a recipe book", &[]);
    assert_eq!(wait_for_build(k, &token, &build)["status"], "succeeded");

    let r = replay(k, &token, "no-such-build", &json!({}));
    assert_eq!(r.status, 404, "{}", r.body);
    let other = k.api.new_user();
    let r = replay(k, &other, &build, &json!({}));
    assert_eq!(r.status, 404, "another user's build: {}", r.body);

    let r = replay(k, &token, &build, &json!({ "from_step": "polish" }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "from_step");
    assert!(
        r.error_message()
            .contains("plan, codegen, validate, create-db, migrate, upload-assets, deploy, record"),
        "{}",
        r.body
    );
    let r = replay(k, &token, &build, &json!({ "prompt": "something else" }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "prompt");
    let r = replay(
        k,
        &token,
        &build,
        &json!({ "from_step": "plan", "extra": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = k.api.post_raw(
        &format!("/api/builds/{build}/replay"),
        Some(&token),
        b"{nope",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = k
        .api
        .get(&format!("/api/builds/{build}/replay"), Some(&token));
    assert_eq!(r.status, 405);
    // Nothing was started by the refused requests.
    let builds = k
        .api
        .get(&format!("/api/projects/{id}/builds"), Some(&token))
        .json();
    assert_eq!(builds["builds"].as_array().unwrap().len(), 1);
}

fn a_replay_of_a_model_build_makes_no_model_call_and_yields_an_identical_manifest(
    k: &Kiln,
    m: &ModelServer,
) {
    m.reset();
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Model Replay");
    let id = p["id"].as_str().unwrap().to_string();
    let original = request_build(k, &token, &id, "a task manager with tasks", &[]);
    let b1 = wait_for_build(k, &token, &original);
    assert_eq!(b1["status"], "succeeded", "{b1:#}\n{}", m.summary());
    assert!(b1["usage"]["calls"].as_u64().unwrap() >= 2, "{b1:#}");
    let calls_before = m.requests().len();

    let r = replay(k, &token, &original, &json!({}));
    assert_eq!(r.status, 202, "{}", r.body);
    let replayed = r.json()["build_id"].as_str().unwrap().to_string();
    let b = wait_for_build(k, &token, &replayed);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    assert_eq!(b["usage"]["calls"], 0, "{b:#}");
    assert_eq!(m.requests().len(), calls_before, "{}", m.summary());
    let (v1, v) = (
        b1["deployed_version"].as_u64().unwrap(),
        b["deployed_version"].as_u64().unwrap(),
    );
    assert_eq!(
        manifest_files(k, &token, &id, v),
        manifest_files(k, &token, &id, v1)
    );
    let log = events(k, &token, &id);
    assert!(!log
        .iter()
        .any(|e| e["type"] == "ModelCalled" && e["data"]["build_id"] == replayed.as_str()));
}
