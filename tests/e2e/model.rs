//! Builds through a language model: the model session's Worker calls the scripted, local
//! OpenAI-compatible [`ModelServer`] (streaming, usage, errors, truncation and repairs scripted per
//! scenario).

use generation::prompts;
use serde_json::{json, Value};

use crate::builds::{app_post, app_send, app_user, request_build, wait_for_build};
use crate::model_server::{Behaviour, Kind};
use crate::{model_scenarios, Kiln, ModelServer, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    model_scenarios![
        model_server_reachable,
        a_prompt_becomes_a_live_app_through_a_streaming_model_despite_a_429_and_a_cut_off_answer,
        a_wrong_import_is_repaired_in_one_round,
        repairs_that_do_not_fix_the_code_fail_the_build_at_validate,
        an_import_of_a_name_its_module_lacks_is_caught_by_validation_not_at_run_time,
        an_invalid_plan_gets_one_repair_and_then_fails_with_its_errors,
        a_server_error_is_retried_and_a_bad_request_fails_with_the_providers_message,
        a_misconfigured_provider_is_reported_naming_the_setting,
        a_provider_that_hangs_is_abandoned_after_the_timeout_and_retried,
        a_request_that_keeps_the_plan_edits_the_live_code_in_place,
        an_edit_survives_a_later_schema_change,
        an_app_written_like_a_model_with_its_slips_is_built,
        a_model_written_blog_with_public_poems_keeps_visitors_out_of_writing,
    ]
}

/// The model session is healthy and the model server it is configured with answers.
fn model_server_reachable(k: &Kiln, m: &ModelServer) {
    assert_eq!(k.api.try_get_status("/api/health"), Some(200));
    let r = m.send(
        "GET",
        "/v1/models",
        Some(crate::model_server::DEFAULT_KEY),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let models = r.json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], crate::model_server::MODEL_ID);
}

fn events(k: &Kiln, token: &str, project: &str) -> Vec<Value> {
    k.api
        .get(
            &format!("/api/projects/{project}/events?limit=1000"),
            Some(token),
        )
        .json()["events"]
        .as_array()
        .unwrap()
        .clone()
}

fn of_type<'a>(events: &'a [Value], build: &str, kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind && e["data"]["build_id"] == build)
        .collect()
}

fn new_project(k: &Kiln, name: &str) -> (String, String, String) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, name);
    (
        token,
        p["id"].as_str().unwrap().to_string(),
        p["slug"].as_str().unwrap().to_string(),
    )
}

/// The app answers like a working task manager; returns the user it signed up.
fn assert_app_works(k: &Kiln, slug: &str) -> String {
    let page = k.api.get_app(slug, "/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("/app.js"));
    let user = app_user(k, slug, &crate::client::unique_email());
    let created = app_post(
        k,
        slug,
        "/api/tasks",
        Some(&user),
        &json!({ "title": "Ship it" }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let list = app_send(k, slug, "GET", "/api/tasks", Some(&user), None);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()[0]["title"], "Ship it");
    user
}

fn a_prompt_becomes_a_live_app_through_a_streaming_model_despite_a_429_and_a_cut_off_answer(
    k: &Kiln,
    m: &ModelServer,
) {
    m.reset();
    m.script(Kind::Plan, vec![Behaviour::Status(429), Behaviour::Correct]);
    m.script(Kind::Codegen, vec![Behaviour::Truncate(0.6)]);
    let (token, project, slug) = new_project(k, "Model Tasks");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());
    let app_user_token = assert_app_works(k, &slug);

    // The requests follow the contract: the configured model, streamed, usage asked for.
    let plans = m.requests_of(Kind::Plan);
    assert_eq!(plans.len(), 2, "a 429 is retried inside the step");
    assert_eq!(plans[1].body["model"], crate::model_server::MODEL_ID);
    assert_eq!(plans[1].body["stream"], true);
    assert_eq!(plans[1].body["stream_options"]["include_usage"], true);
    assert_eq!(plans[1].body["response_format"]["type"], "json_schema");
    assert_eq!(
        plans[1].body["messages"][1]["content"],
        "a task manager with tasks"
    );
    let cont = m.requests_of(Kind::Continue);
    assert_eq!(cont.len(), 1, "{}", m.summary());
    assert_eq!(cont[0].body["messages"][2]["role"], "assistant");

    // Every call is in the log with its template hash and tokens; usage sums up in the build.
    let log = events(k, &token, &project);
    let calls = of_type(&log, &build, "ModelCalled");
    let templates: Vec<&str> = calls
        .iter()
        .map(|e| e["data"]["template"].as_str().unwrap())
        .collect();
    assert_eq!(templates, ["plan", "codegen", "continue"]);
    assert_eq!(calls[0]["data"]["template_hash"], prompts::PLAN.hash());
    assert_eq!(calls[0]["data"]["retries"], 1);
    assert_eq!(calls[1]["data"]["finish_reason"], "length");
    assert_eq!(calls[1]["data"]["estimated"], false);
    let generated = of_type(&log, &build, "CodeGenerated");
    assert_eq!(generated[0]["data"]["prompt_hash"], prompts::CODEGEN.hash());
    let input: u64 = calls
        .iter()
        .map(|e| e["data"]["input_tokens"].as_u64().unwrap())
        .sum();
    let output: u64 = calls
        .iter()
        .map(|e| e["data"]["output_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(b["usage"]["calls"], 3);
    assert_eq!(b["usage"]["input_tokens"], input);
    assert_eq!(b["usage"]["output_tokens"], output);
    let expected_cost = input * 60 + output * 400;
    assert_eq!(b["usage"]["cost_nano_usd"], expected_cost);
    let codegen = b["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "codegen")
        .unwrap();
    assert_eq!(codegen["usage"]["calls"], 2);

    // A chat message changes the live app's plan instead of starting over; the database is
    // upgraded in place (new table and column) and keeps its rows.
    let r = k.api.post(
        &format!("/api/projects/{project}/chat"),
        Some(&token),
        &json!({ "message": "a task manager with tasks and projects" }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let second = r.json()["build_id"].as_str().unwrap().to_string();
    assert_eq!(wait_for_build(k, &token, &second)["status"], "succeeded");
    let plans = m.requests_of(Kind::Plan);
    let user = plans.last().unwrap().body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(user.starts_with("Current plan:\n{"), "{user}");
    assert!(
        user.ends_with("Change request:\na task manager with tasks and projects"),
        "{user}"
    );
    let log = events(k, &token, &project);
    let applied = of_type(&log, &second, "MigrationApplied");
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["data"]["names"], json!(["0002_update.sql"]));
    let tasks = app_send(k, &slug, "GET", "/api/tasks", Some(&app_user_token), None);
    assert_eq!(tasks.status, 200, "{}", tasks.body);
    assert_eq!(
        tasks.json()[0]["title"],
        "Ship it",
        "rows survive the upgrade"
    );
    let project_row = app_post(
        k,
        &slug,
        "/api/projects",
        Some(&app_user_token),
        &json!({ "name": "Launch" }),
    );
    assert_eq!(project_row.status, 201, "{}", project_row.body);
    let id = project_row.json()["id"].clone();
    let linked = app_post(
        k,
        &slug,
        "/api/tasks",
        Some(&app_user_token),
        &json!({ "title": "Plan launch", "project_id": id }),
    );
    assert_eq!(linked.status, 201, "{}", linked.body);
    assert_eq!(linked.json()["project_id"], id);
}

fn a_wrong_import_is_repaired_in_one_round(k: &Kiln, m: &ModelServer) {
    m.reset();
    m.script(Kind::Codegen, vec![Behaviour::WrongImport]);
    let (token, project, slug) = new_project(k, "Repaired Tasks");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());
    assert_eq!(b["repairs"], 1);
    assert_eq!(b["validation"]["passed"], true);
    assert_app_works(k, &slug);

    // The repair request carried the diagnostic and only the affected file.
    let repairs = m.requests_of(Kind::Repair);
    assert_eq!(repairs.len(), 1);
    let ask = repairs[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(ask.contains("worker.js:1: import \"nanoid\""), "{ask}");
    assert_eq!(ask.matches("=== FILE: ").count(), 1, "{ask}");
    assert!(ask.contains("=== FILE: worker.js ==="));

    let log = events(k, &token, &project);
    let failed = of_type(&log, &build, "ValidationFailed");
    assert_eq!(failed.len(), 1);
    assert_eq!(of_type(&log, &build, "RepairAttempted").len(), 1);
    assert_eq!(of_type(&log, &build, "ValidationPassed").len(), 1);
    let versions: Vec<u64> = of_type(&log, &build, "CodeGenerated")
        .iter()
        .map(|e| e["data"]["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions.len(), 2, "the repair is a new version");
    assert_eq!(b["version"], versions[1]);
    let steps: Vec<&str> = b["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"repair-1"), "{steps:?}");
    let repair_call = of_type(&log, &build, "ModelCalled")
        .into_iter()
        .find(|e| e["data"]["step"] == "repair-1")
        .expect("the repair call is recorded");
    assert_eq!(repair_call["data"]["template_hash"], prompts::REPAIR.hash());
}

fn repairs_that_do_not_fix_the_code_fail_the_build_at_validate(k: &Kiln, m: &ModelServer) {
    m.reset();
    m.script(Kind::Codegen, vec![Behaviour::WrongImport]);
    m.script(
        Kind::Repair,
        vec![Behaviour::WrongImport, Behaviour::WrongImport],
    );
    let (token, project, slug) = new_project(k, "Stubborn Tasks");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "failed", "{b:#}");
    assert_eq!(b["error"]["step"], "validate");
    let reason = b["error"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("validation failed after 2 repairs:"),
        "{reason}"
    );
    assert!(reason.contains("nanoid"), "{reason}");
    assert_eq!(m.requests_of(Kind::Repair).len(), 2);
    assert_eq!(b["repairs"], 2);
    // Nothing was deployed.
    assert_eq!(k.api.get_app(&slug, "/").status, 404);
}

/// A front end importing a hook its module does not export would link-fail in the browser (a
/// blank page) once deployed; validation in the Worker catches it, and the repair rounds get the
/// diagnostic with the right name. (The scripted server's repairs give back the files of the
/// last codegen answer, so the slip stays and the build fails at validate.)
fn an_import_of_a_name_its_module_lacks_is_caught_by_validation_not_at_run_time(
    k: &Kiln,
    m: &ModelServer,
) {
    m.reset();
    m.script(
        Kind::Codegen,
        vec![Behaviour::Append {
            path: "public/app.js".into(),
            text: "import { useCallbak } from \"/_kiln/vendor/hooks.mjs\";\n".into(),
        }],
    );
    let (token, project, slug) = new_project(k, "Misspelt Hooks");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "failed", "{b:#}\n{}", m.summary());
    assert_eq!(b["error"]["step"], "validate");
    let wanted =
        "\"/_kiln/vendor/hooks.mjs\" has no export \"useCallbak\"; did you mean \"useCallback\"?";
    let reason = b["error"]["reason"].as_str().unwrap();
    assert!(reason.contains(wanted), "{reason}");
    let repairs = m.requests_of(Kind::Repair);
    assert_eq!(repairs.len(), 2);
    let ask = repairs[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(ask.contains("public/app.js:"), "{ask}");
    assert!(ask.contains(wanted), "{ask}");
    assert!(ask.contains("=== FILE: public/app.js ==="), "{ask}");
    assert_eq!(
        k.api.get_app(&slug, "/").status,
        404,
        "nothing was deployed"
    );
}

fn an_invalid_plan_gets_one_repair_and_then_fails_with_its_errors(k: &Kiln, m: &ModelServer) {
    m.reset();
    m.script(
        Kind::Plan,
        vec![Behaviour::InvalidPlan, Behaviour::InvalidPlan],
    );
    let (token, project, _) = new_project(k, "Bad Plans");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "failed", "{b:#}");
    assert_eq!(b["error"]["step"], "plan");
    let reason = b["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("still invalid after one repair"),
        "{reason}"
    );
    assert!(reason.contains("Bad Name!"), "{reason}");
    let plans = m.requests_of(Kind::Plan);
    assert_eq!(
        plans.len(),
        2,
        "one repair request, and the step is not retried"
    );
    let fix = plans[1].body["messages"][3]["content"].as_str().unwrap();
    assert!(fix.contains("Bad Name!"), "{fix}");
    assert_eq!(
        b["usage"]["calls"], 2,
        "failed steps still account for their calls"
    );

    // One invalid answer, then a valid one: the build goes on.
    m.reset();
    m.script(Kind::Plan, vec![Behaviour::InvalidPlan, Behaviour::Correct]);
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    assert_eq!(wait_for_build(k, &token, &build)["status"], "succeeded");
}

fn a_server_error_is_retried_and_a_bad_request_fails_with_the_providers_message(
    k: &Kiln,
    m: &ModelServer,
) {
    m.reset();
    m.script(
        Kind::Codegen,
        vec![Behaviour::Status(500), Behaviour::Correct],
    );
    let (token, project, _) = new_project(k, "Flaky Provider");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let log = events(k, &token, &project);
    let codegen = of_type(&log, &build, "ModelCalled")
        .into_iter()
        .find(|e| e["data"]["step"] == "codegen")
        .unwrap()
        .clone();
    assert_eq!(codegen["data"]["retries"], 1);

    m.reset();
    m.script(Kind::Codegen, vec![Behaviour::Status(400)]);
    let (token, project, _) = new_project(k, "Refused Request");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "failed", "{b:#}");
    assert_eq!(b["error"]["step"], "codegen");
    let reason = b["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 400") && reason.contains("max_tokens is too large"),
        "{reason}"
    );
    let attempts = b["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "codegen")
        .unwrap()["attempts"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(attempts, 1, "a 4xx is terminal: no retry");
    assert_eq!(m.requests_of(Kind::Codegen).len(), 1);
}

/// A session started with provider `openai` but no base URL answers every request, health included,
/// with a 500 that names the missing setting; nothing else runs.
fn a_misconfigured_provider_is_reported_naming_the_setting(_k: &Kiln, m: &ModelServer) {
    let bad = Kiln::start_answering(&[
        ("KILN_MODEL_PROVIDER", "openai"),
        ("KILN_MODEL_NAME", "kiln-test-model"),
        ("KILN_MODEL_API_KEY", "test-key"),
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let health = loop {
        let r = bad.api.get("/api/health", None);
        if r.status == 500 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(health.status, 500, "{}", health.body);
    assert_eq!(health.error_code(), "misconfigured");
    let message = health.error_message();
    assert!(
        message.starts_with("setting KILN_MODEL_BASE_URL: is missing"),
        "{message}"
    );
    assert!(
        !message.contains("test-key"),
        "secrets never appear in errors"
    );
    let r = bad.api.post(
        "/api/auth/register",
        None,
        &json!({ "email": "a@example.com", "password": "correct horse" }),
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.error_code(), "misconfigured");
    // App hosts are routed before the platform reads its settings: the dispatch Worker answers
    // (here its page for a slug with nothing deployed), not the platform's misconfiguration.
    let app = bad.api.get_app("some-app", "/");
    assert_eq!(app.status, 404, "{}", app.body);
    assert_eq!(app.header("x-kiln-slug"), Some("some-app"), "{}", app.body);
    drop(bad);
    let _ = m;
}

/// A call that gets no answer within `KILN_MODEL_TIMEOUT_SECONDS` (5 s in the model session) is
/// aborted and retried inside the step.
fn a_provider_that_hangs_is_abandoned_after_the_timeout_and_retried(k: &Kiln, m: &ModelServer) {
    m.reset();
    m.script(
        Kind::Plan,
        vec![Behaviour::Stall(std::time::Duration::from_secs(20))],
    );
    let (token, project, _) = new_project(k, "Slow Provider");
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");
    // The stalled call was abandoned after 5 s, long before its answer (20 s) would have come.
    let plan_ms = b["steps"][0]["duration_ms"].as_u64().unwrap();
    assert_eq!(b["steps"][0]["name"], "plan");
    assert!((5_000..20_000).contains(&plan_ms), "plan took {plan_ms} ms");
    let log = events(k, &token, &project);
    let plan = of_type(&log, &build, "ModelCalled")
        .into_iter()
        .find(|e| e["data"]["step"] == "plan")
        .unwrap()
        .clone();
    assert_eq!(plan["data"]["retries"], 1);
}

/// A chat message that leaves the plan as it is changes the live app's code with edits (only the
/// editable files are sent, the data model stays), instead of regenerating it.
fn a_request_that_keeps_the_plan_edits_the_live_code_in_place(k: &Kiln, m: &ModelServer) {
    m.reset();
    let (token, project, slug) = new_project(k, "Edited Tasks");
    let first = request_build(k, &token, &project, "a task manager with tasks", &[]);
    assert_eq!(wait_for_build(k, &token, &first)["status"], "succeeded");
    let user = assert_app_works(k, &slug);

    let same_plan = planner::plan_from_prompt("a task manager with tasks").unwrap();
    m.script(
        Kind::Plan,
        vec![Behaviour::Raw(serde_json::to_string(&same_plan).unwrap())],
    );
    let r = k.api.post(
        &format!("/api/projects/{project}/chat"),
        Some(&token),
        &json!({ "message": "Add a welcome line at the top" }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let second = r.json()["build_id"].as_str().unwrap().to_string();
    let b = wait_for_build(k, &token, &second);
    assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());

    let edits = m.requests_of(Kind::Edit);
    assert_eq!(edits.len(), 1, "{}", m.summary());
    assert_eq!(
        m.requests_of(Kind::Codegen).len(),
        1,
        "only the first build generated code"
    );
    let ask = edits[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        ask.starts_with("Request:\nAdd a welcome line at the top\n"),
        "{ask}"
    );
    assert!(ask.contains("=== FILE: public/app.js ===") && ask.contains("=== FILE: worker.js ==="));
    assert!(
        !ask.contains("=== FILE: migrations/"),
        "the data model is not sent"
    );
    assert!(!ask.contains("=== FILE: _kiln/"), "the runtime is not sent");

    let log = events(k, &token, &project);
    let code = of_type(&log, &second, "CodeGenerated");
    assert_eq!(code[0]["data"]["prompt_hash"], prompts::EDIT.hash());
    assert!(of_type(&log, &second, "MigrationApplied").is_empty());
    let app = k.api.get_app(&slug, "/app.js");
    assert_eq!(app.status, 200);
    let expected = format!(
        "{}Add a welcome line at the top\n",
        crate::model_server::EDIT_MARK
    );
    assert!(
        app.body.starts_with(&expected),
        "{}",
        &app.body[..200.min(app.body.len())]
    );
    // The app and its data are as they were.
    let tasks = app_send(k, &slug, "GET", "/api/tasks", Some(&user), None);
    assert_eq!(tasks.json()[0]["title"], "Ship it");
}

/// Build, then a request the planner answers with a prose-only change (a feature line), then a
/// schema change: the second build edits the live code (the plan's structure is the same), the
/// third sends the live files with the plan changes and takes edits back instead of starting
/// over, so the first edit is still there and the new column works on the upgraded database.
fn an_edit_survives_a_later_schema_change(k: &Kiln, m: &ModelServer) {
    m.reset();
    let (token, project, slug) = new_project(k, "Iterated Tasks");
    let first = request_build(k, &token, &project, "a task manager with tasks", &[]);
    assert_eq!(wait_for_build(k, &token, &first)["status"], "succeeded");
    let user = assert_app_works(k, &slug);
    let chat = |message: &str| {
        let r = k.api.post(
            &format!("/api/projects/{project}/chat"),
            Some(&token),
            &json!({ "message": message }),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        let build = r.json()["build_id"].as_str().unwrap().to_string();
        let b = wait_for_build(k, &token, &build);
        assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());
        build
    };

    // 1. Prose only: the planner adds a feature line, the structure stays → edit mode.
    let mut plan = planner::plan_from_prompt("a task manager with tasks").unwrap();
    plan.features.push("A welcome line at the top".into());
    m.script(
        Kind::Plan,
        vec![Behaviour::Raw(serde_json::to_string(&plan).unwrap())],
    );
    chat("Add a welcome line at the top");
    assert_eq!(m.requests_of(Kind::Codegen).len(), 1, "{}", m.summary());
    let edits = m.requests_of(Kind::Edit);
    assert_eq!(edits.len(), 1, "{}", m.summary());
    let ask = edits[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(!ask.contains("Plan changes:"), "{ask}");
    let mark = format!(
        "{}Add a welcome line at the top\n",
        crate::model_server::EDIT_MARK
    );
    assert!(k.api.get_app(&slug, "/app.js").body.starts_with(&mark));

    // 2. A schema change: a new field on tasks → the live files and the plan diff go to the
    //    model, whose edits keep the welcome line.
    let table = &mut plan.entities[0];
    assert_eq!(table.name, "tasks");
    table.fields.push(plan::Field {
        name: "estimate_hours".into(),
        kind: plan::FieldKind::Integer,
        required: false,
        values: vec![],
    });
    m.script(
        Kind::Plan,
        vec![Behaviour::Raw(serde_json::to_string(&plan).unwrap())],
    );
    let third = chat("Add an estimate in hours to tasks");
    assert_eq!(
        m.requests_of(Kind::Codegen).len(),
        1,
        "a live app is never regenerated from scratch"
    );
    let edits = m.requests_of(Kind::Edit);
    assert_eq!(edits.len(), 2, "{}", m.summary());
    let ask = edits[1].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        ask.starts_with("Request:\nAdd an estimate in hours to tasks\n\nPlan changes:\n- entity tasks: new field estimate_hours (integer)\n"),
        "{ask}"
    );
    assert!(ask.contains("\nNew plan:\n{"), "{ask}");
    assert!(
        ask.contains(&format!("=== FILE: public/app.js ===\n{mark}")),
        "the edited file is sent"
    );
    assert!(!ask.contains("=== FILE: migrations/"), "{ask}");

    let log = events(k, &token, &project);
    let code = of_type(&log, &third, "CodeGenerated");
    assert_eq!(code[0]["data"]["prompt_hash"], prompts::EDIT.hash());
    let applied = of_type(&log, &third, "MigrationApplied");
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["data"]["names"], json!(["0002_update.sql"]));

    // The edit survived, the new column works, the old row is still there.
    let app = k.api.get_app(&slug, "/app.js");
    assert!(
        app.body.starts_with(&mark),
        "{}",
        &app.body[..200.min(app.body.len())]
    );
    assert!(app.body.contains("estimate_hours"));
    let created = app_post(
        k,
        &slug,
        "/api/tasks",
        Some(&user),
        &json!({ "title": "Estimate", "estimate_hours": 3 }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["estimate_hours"], 3);
    let tasks = app_send(k, &slug, "GET", "/api/tasks", Some(&user), None);
    let list = tasks.json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|t| t["title"] == "Ship it"),
        "rows survive: {list}"
    );
}

/// A whole app written the way a model writes it (`tests/fixtures/model-apps/reading-list/`:
/// prose, fences, a trailing comma, page paths with `_` and capitals, a missing end marker, a
/// package import) goes live through the model path: the plan is read and normalised without a
/// plan repair, one repair round fixes the import, and the app behaves as the contract says.
fn an_app_written_like_a_model_with_its_slips_is_built(k: &Kiln, m: &ModelServer) {
    let fixture = |name: &str| {
        std::fs::read_to_string(
            crate::harness::root()
                .join("tests/fixtures/model-apps/reading-list")
                .join(name),
        )
        .unwrap()
    };
    m.reset();
    m.script(Kind::Plan, vec![Behaviour::Raw(fixture("plan.txt"))]);
    m.script(Kind::Codegen, vec![Behaviour::Raw(fixture("codegen.txt"))]);
    m.script(Kind::Repair, vec![Behaviour::Raw(fixture("repair.txt"))]);
    let (token, project, slug) = new_project(k, "Model Reading List");
    let build = request_build(k, &token, &project, "a reading list with shelves", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());
    assert_eq!(b["repairs"], 1, "{b:#}");
    // Counted by this build's request: a stalled call of an earlier scenario may be recorded late.
    let plans = m
        .requests_of(Kind::Plan)
        .into_iter()
        .filter(|r| r.body["messages"][1]["content"] == "a reading list with shelves")
        .count();
    assert_eq!(plans, 1, "no plan repair round");
    let plan = k
        .api
        .get(&format!("/api/builds/{build}/plan"), Some(&token))
        .json();
    let paths: Vec<&str> = plan["plan"]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/my-books", "/shelves"]);

    // The app follows the contract the prompt states.
    let user = app_user(k, &slug, &crate::client::unique_email());
    let shelf = app_post(
        k,
        &slug,
        "/api/shelves",
        Some(&user),
        &json!({ "name": "Novels" }),
    );
    assert_eq!(shelf.status, 201, "{}", shelf.body);
    let shelf_id = shelf.json()["id"].clone();
    let book = app_post(
        k,
        &slug,
        "/api/books",
        Some(&user),
        &json!({ "title": "Middlemarch", "author": "George Eliot", "shelf_id": shelf_id, "finished": true, "rating": 5 }),
    );
    assert_eq!(book.status, 201, "{}", book.body);
    assert_eq!(book.json()["finished"], true);
    let missing = app_send(k, &slug, "GET", "/api/books/999999", Some(&user), None);
    assert_eq!(missing.status, 404, "{}", missing.body);
    let gone = app_send(
        k,
        &slug,
        "DELETE",
        &format!("/api/shelves/{shelf_id}"),
        Some(&user),
        None,
    );
    assert_eq!(gone.status, 200, "{}", gone.body);
    let books = app_send(k, &slug, "GET", "/api/books", Some(&user), None).json();
    assert_eq!(books[0]["title"], "Middlemarch");
    assert_eq!(
        books[0]["shelf_id"],
        Value::Null,
        "referencedBy cleared the reference"
    );
    let deep = k.api.get_app(&slug, "/my-books");
    assert_eq!(deep.status, 200);
    assert!(deep.body.contains("/app.js"), "deep links get index.html");
    let app = k.api.get_app(&slug, "/app.js");
    assert!(app
        .body
        .starts_with("import { h, render } from \"/_kiln/vendor/preact.mjs\";"));
}

/// The poetry blog of `tests/fixtures/model-apps/poetry-blog` (a public and a shared entity, a
/// choice field, a theme), written like a model, is built through the model path with one repair
/// round; over HTTP at the app host a visitor reads the public poems signed out but cannot
/// write, a form outside the plan's values is a 400, another user may not delete a poem, and the
/// admin (the app's first account) may.
fn a_model_written_blog_with_public_poems_keeps_visitors_out_of_writing(k: &Kiln, m: &ModelServer) {
    let fixture = |name: &str| {
        std::fs::read_to_string(
            crate::harness::root()
                .join("tests/fixtures/model-apps/poetry-blog")
                .join(name),
        )
        .unwrap()
    };
    m.reset();
    m.script(Kind::Plan, vec![Behaviour::Raw(fixture("plan.txt"))]);
    m.script(Kind::Codegen, vec![Behaviour::Raw(fixture("codegen.txt"))]);
    m.script(Kind::Repair, vec![Behaviour::Raw(fixture("repair.txt"))]);
    let (token, project, slug) = new_project(k, "Model Poetry Blog");
    let prompt = "a poetry blog anyone can read, with comments";
    let build = request_build(k, &token, &project, prompt, &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());
    assert_eq!(b["repairs"], 1, "{b:#}");
    let plan = k
        .api
        .get(&format!("/api/builds/{build}/plan"), Some(&token))
        .json();
    assert_eq!(plan["plan"]["entities"][0]["visibility"], "public");
    assert_eq!(plan["plan"]["theme"]["tagline"], "Short poems, read slowly");

    let admin = app_user(k, &slug, &crate::client::unique_email());
    let poet = app_user(k, &slug, &crate::client::unique_email());
    let reader = app_user(k, &slug, &crate::client::unique_email());
    let me = app_send(k, &slug, "GET", "/api/auth/me", Some(&admin), None).json();
    assert_eq!(me["user"]["admin"], true, "the first account is the admin");

    let poem = app_post(
        k,
        &slug,
        "/api/poems",
        Some(&poet),
        &json!({ "title": "Autumn", "body": "An old silent pond", "form": "haiku" }),
    );
    assert_eq!(poem.status, 201, "{}", poem.body);
    let id = poem.json()["id"].as_i64().unwrap();
    let epic = app_post(
        k,
        &slug,
        "/api/poems",
        Some(&poet),
        &json!({ "title": "Long", "body": "Sing, goddess", "form": "epic" }),
    );
    assert_eq!(epic.status, 400, "{}", epic.body);
    assert_eq!(
        epic.json()["error"]["code"],
        "invalid_field",
        "{}",
        epic.body
    );

    // A visitor, signed out, reads the public poems, searches and filters them, but cannot write.
    let list = app_send(k, &slug, "GET", "/api/poems?q=pond&form=haiku", None, None);
    assert_eq!(list.status, 200, "{}", list.body);
    let rows = list.json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows:#}");
    assert_eq!(rows[0]["title"], "Autumn");
    let one = app_send(k, &slug, "GET", &format!("/api/poems/{id}"), None, None);
    assert_eq!(one.status, 200, "{}", one.body);
    let write = app_post(
        k,
        &slug,
        "/api/poems",
        None,
        &json!({ "title": "Mine", "body": "x", "form": "haiku" }),
    );
    assert_eq!(write.status, 401, "{}", write.body);
    let comments = app_send(k, &slug, "GET", "/api/comments", None, None);
    assert_eq!(
        comments.status, 401,
        "shared comments need a sign-in: {}",
        comments.body
    );

    // Comments are shared: another signed-in user reads them.
    let comment = app_post(
        k,
        &slug,
        "/api/comments",
        Some(&reader),
        &json!({ "poem_id": id, "body": "Lovely" }),
    );
    assert_eq!(comment.status, 201, "{}", comment.body);
    let seen = app_send(k, &slug, "GET", "/api/comments", Some(&poet), None).json();
    assert_eq!(seen[0]["body"], "Lovely");

    // Another user may read the poem but not delete it; the admin may.
    let path = format!("/api/poems/{id}");
    let refused = app_send(k, &slug, "DELETE", &path, Some(&reader), None);
    assert_eq!(refused.status, 403, "{}", refused.body);
    let deleted = app_send(k, &slug, "DELETE", &path, Some(&admin), None);
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let gone = app_send(k, &slug, "GET", &path, None, None);
    assert_eq!(gone.status, 404, "{}", gone.body);
    let left = app_send(k, &slug, "GET", "/api/comments", Some(&reader), None).json();
    assert_eq!(left, json!([]), "the poem's comments went with it");
}
