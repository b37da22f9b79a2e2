//! Builds through the `workers-ai` provider: the session's platform Worker has the Workers AI
//! binding stand-in (`tests/ai-binding/`) bound as `AI`, so Kiln's real Workers AI transport
//! (`env.AI.run`, streamed chunks or a whole object, errors thrown by the binding) runs end to
//! end. The stand-in asks the scripted [`ModelServer`] what to answer and speaks the binding's
//! documented shapes, thinking (`reasoning_content`) included.

use serde_json::{json, Value};

use crate::builds::{app_post, app_send, app_user, request_build, wait_for_build};
use crate::model_server::{Behaviour, Kind};
use crate::{workers_ai_scenarios, Kiln, ModelServer, Scenario};

/// The model the `workers-ai` provider asks for by default.
const GLM: &str = "@cf/zai-org/glm-4.7-flash";

pub fn scenarios() -> Vec<Scenario> {
    workers_ai_scenarios![
        a_prompt_becomes_a_live_app_through_the_workers_ai_binding_streamed,
        an_answer_spent_on_thinking_and_a_capacity_error_are_retried,
        a_whole_answer_through_the_binding_builds_the_same_app,
    ]
}

fn events(k: &Kiln, token: &str, project: &str, build: &str, kind: &str) -> Vec<Value> {
    k.api
        .get(
            &format!("/api/projects/{project}/events?limit=1000"),
            Some(token),
        )
        .json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind && e["data"]["build_id"] == build)
        .cloned()
        .collect()
}

/// Builds a task manager on `k` and checks the live app; returns (token, project, build).
fn build_task_manager(k: &Kiln, m: &ModelServer, name: &str) -> (String, String, String) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, name);
    let project = p["id"].as_str().unwrap().to_string();
    let slug = p["slug"].as_str().unwrap().to_string();
    let build = request_build(k, &token, &project, "a task manager with tasks", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());
    let user = app_user(k, &slug, &crate::client::unique_email());
    let created = app_post(
        k,
        &slug,
        "/api/tasks",
        Some(&user),
        &json!({ "title": "Ship it" }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let list = app_send(k, &slug, "GET", "/api/tasks", Some(&user), None);
    assert_eq!(list.json()[0]["title"], "Ship it");
    (token, project, build)
}

/// What Kiln passed to `AI.run`, as the stand-in forwarded it.
fn binding_input(m: &ModelServer, kind: Kind) -> Vec<Value> {
    m.requests_of(kind)
        .into_iter()
        .map(|r| r.body["workers_ai_input"].clone())
        .collect()
}

fn a_prompt_becomes_a_live_app_through_the_workers_ai_binding_streamed(k: &Kiln, m: &ModelServer) {
    m.reset();
    m.script(Kind::Codegen, vec![Behaviour::Truncate(0.5)]);
    let (token, project, build) = build_task_manager(k, m, "Binding Tasks");

    // The input follows the binding's contract: messages, budget, stream, thinking off.
    let plan = &binding_input(m, Kind::Plan)[0];
    assert_eq!(plan["stream"], true, "{plan}");
    assert_eq!(
        plan["chat_template_kwargs"]["enable_thinking"], false,
        "{plan}"
    );
    assert!(
        plan["max_completion_tokens"].as_u64().unwrap() > 0,
        "{plan}"
    );
    assert!(
        plan.get("max_tokens").is_none(),
        "the deprecated max_tokens is not sent: {plan}"
    );
    assert!(plan.get("reasoning_effort").is_none(), "{plan}");
    assert_eq!(plan["messages"][0]["role"], "system");
    assert_eq!(plan["messages"][1]["content"], "a task manager with tasks");
    assert!(
        plan.get("response_format").is_none(),
        "JSON mode is off for workers-ai by default"
    );
    assert_eq!(
        m.requests_of(Kind::Continue).len(),
        1,
        "the cut-off stream was continued"
    );

    let calls = events(k, &token, &project, &build, "ModelCalled");
    let templates: Vec<&str> = calls
        .iter()
        .map(|e| e["data"]["template"].as_str().unwrap())
        .collect();
    assert_eq!(templates, ["plan", "codegen", "continue"]);
    for c in &calls {
        assert_eq!(c["data"]["provider"], "workers-ai", "{c}");
        assert_eq!(c["data"]["model"], GLM, "{c}");
        assert_eq!(
            c["data"]["estimated"], false,
            "usage came from the stream: {c}"
        );
        assert!(c["data"]["output_tokens"].as_u64().unwrap() > 0, "{c}");
    }
    assert_eq!(calls[1]["data"]["finish_reason"], "length");
}

fn an_answer_spent_on_thinking_and_a_capacity_error_are_retried(k: &Kiln, m: &ModelServer) {
    m.reset();
    m.script(Kind::Plan, vec![Behaviour::ThinkOnly, Behaviour::Correct]);
    m.script(
        Kind::Codegen,
        vec![Behaviour::Status(429), Behaviour::Correct],
    );
    let (token, project, build) = build_task_manager(k, m, "Thinking Tasks");
    let calls = events(k, &token, &project, &build, "ModelCalled");
    let plan = calls.iter().find(|e| e["data"]["step"] == "plan").unwrap();
    assert_eq!(plan["data"]["retries"], 1, "{plan}");
    let codegen = calls
        .iter()
        .find(|e| e["data"]["step"] == "codegen")
        .unwrap();
    assert_eq!(
        codegen["data"]["retries"], 1,
        "the binding's capacity error (3040) is retried: {codegen}"
    );
    assert_eq!(m.requests_of(Kind::Plan).len(), 2);
}

/// A second session with `KILN_MODEL_STREAM=false`: the binding returns a whole
/// `chat.completion` object instead of a stream.
fn a_whole_answer_through_the_binding_builds_the_same_app(_k: &Kiln, m: &ModelServer) {
    m.reset();
    let k = Kiln::start_with_ai_binding(
        &[
            ("KILN_MODEL_PROVIDER", "workers-ai"),
            ("KILN_MODEL_STREAM", "false"),
        ],
        &m.base_url(),
        crate::model_server::DEFAULT_KEY,
    );
    let (token, project, build) = build_task_manager(&k, m, "Whole Tasks");
    assert!(binding_input(m, Kind::Codegen)
        .iter()
        .all(|i| i["stream"] == false));
    let calls = events(&k, &token, &project, &build, "ModelCalled");
    assert_eq!(calls.len(), 2, "{calls:?}");
    for c in &calls {
        assert_eq!(c["data"]["provider"], "workers-ai", "{c}");
        assert_eq!(
            c["data"]["estimated"], false,
            "usage came from the object: {c}"
        );
    }
}
