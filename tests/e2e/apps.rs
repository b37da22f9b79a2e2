//! What generated apps do for the people who use them: public and shared data, the admin's
//! moderation, search and filters, over HTTP at the app's host (built through Kiln), and the
//! functional browser check of `tests/generated-app/run.sh` for a sample of prompts.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::builds::{app_send, request_build, wait_for_build};
use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        a_poetry_blog_that_visitors_read_serves_them_signed_out_and_its_first_user_moderates,
        generated_apps_pass_the_functional_checks_in_a_browser,
    ]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn a_poetry_blog_that_visitors_read_serves_them_signed_out_and_its_first_user_moderates(k: &Kiln) {
    let owner = k.api.new_user();
    let p = k.api.create_project(&owner, "Verse");
    let (id, slug) = (p["id"].as_str().unwrap(), p["slug"].as_str().unwrap());
    let prompt = "a poetry blog with poems that visitors can read without signing in";
    let build = request_build(k, &owner, id, prompt, &[]);
    let b = wait_for_build(k, &owner, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}");

    // The plan says who reads what, and the generated worker leaves it to the runtime.
    let plan = k
        .api
        .get(&format!("/api/builds/{build}/plan"), Some(&owner))
        .json();
    let poems = plan["plan"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "poems")
        .unwrap_or_else(|| panic!("no poems entity: {plan:#}"))
        .clone();
    assert_eq!(poems["visibility"], "public", "{poems:#}");
    // Every required text field gets the same words (a poem's title and body); anything else
    // the planner makes required shows up as a 400 naming it.
    let required: Vec<String> = poems["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["required"] == true && (f["kind"] == "text" || f["kind"] == "long_text"))
        .filter_map(|f| f["name"].as_str().map(String::from))
        .collect();
    assert!(!required.is_empty(), "a required text field: {poems:#}");
    let title = required[0].clone();
    let body = |text: &str| {
        Value::Object(
            required
                .iter()
                .map(|name| (name.clone(), Value::from(text)))
                .collect(),
        )
    };

    let register = |email: &str| -> (String, Value) {
        let r = app_send(
            k,
            slug,
            "POST",
            "/api/auth/register",
            None,
            Some(&json!({ "email": email, "password": "correct horse" })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let v = r.json();
        (v["token"].as_str().unwrap().to_string(), v["user"].clone())
    };
    let (admin, admin_user) = register("editor@example.com");
    let (bob, _) = register("bob@example.com");
    let (carol, carol_user) = register("carol@example.com");
    assert_eq!(admin_user["admin"], true, "the first account is the admin");
    assert_eq!(carol_user["admin"], false);

    let poem = app_send(
        k,
        slug,
        "POST",
        "/api/poems",
        Some(&bob),
        Some(&body("Ode to rain")),
    );
    assert_eq!(poem.status, 201, "{}", poem.body);
    let poem_id = poem.json()["id"].as_i64().unwrap();

    // A visitor reads without signing in, but cannot write.
    let list = app_send(k, slug, "GET", "/api/poems", None, None);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()[0][&title], "Ode to rain");
    let one = app_send(k, slug, "GET", &format!("/api/poems/{poem_id}"), None, None);
    assert_eq!(one.status, 200, "{}", one.body);
    let anonymous = app_send(k, slug, "POST", "/api/poems", None, Some(&body("spam")));
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let page = k.api.get_app(slug, "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("src=\"/app.js\""), "{}", page.body);

    // Search and a hostile sort.
    let found = app_send(k, slug, "GET", "/api/poems?q=rain", None, None);
    assert_eq!(found.json().as_array().unwrap().len(), 1, "{}", found.body);
    let none = app_send(k, slug, "GET", "/api/poems?q=snow", None, None);
    assert_eq!(none.json().as_array().unwrap().len(), 0, "{}", none.body);
    let hostile = app_send(
        k,
        slug,
        "GET",
        "/api/poems?sort=id%3BDROP%20TABLE%20poems",
        None,
        None,
    );
    assert_eq!(hostile.status, 400, "{}", hostile.body);
    assert_eq!(hostile.json()["error"]["code"], "invalid_query");

    // Another member may not change Bob's poem; the admin may.
    let path = format!("/api/poems/{poem_id}");
    let edit = app_send(
        k,
        slug,
        "PUT",
        &path,
        Some(&carol),
        Some(&json!({ &title: "defaced" })),
    );
    assert_eq!(edit.status, 403, "{}", edit.body);
    assert_eq!(edit.json()["error"]["code"], "forbidden");
    let delete = app_send(k, slug, "DELETE", &path, Some(&carol), None);
    assert_eq!(delete.status, 403, "{}", delete.body);
    let moderated = app_send(
        k,
        slug,
        "PUT",
        &path,
        Some(&admin),
        Some(&json!({ &title: "[hidden by the editor]" })),
    );
    assert_eq!(moderated.status, 200, "{}", moderated.body);
    assert_eq!(moderated.json()[&title], "[hidden by the editor]");
    let removed = app_send(k, slug, "DELETE", &path, Some(&admin), None);
    assert_eq!(removed.status, 200, "{}", removed.body);
    let gone = app_send(k, slug, "GET", &path, None, None);
    assert_eq!(gone.status, 404, "{}", gone.body);
}

/// The offline generator's app for `prompt`, written to `dir` as run.sh expects it: the plan, the
/// generated files and the runtime files.
fn emit(dir: &std::path::Path, prompt: &str) {
    let plan = planner::plan_from_prompt(prompt)
        .unwrap()
        .validate()
        .unwrap();
    let mut files: Vec<(String, String)> = scaffold::generate(&plan);
    files.extend(
        scaffold::runtime_files()
            .into_iter()
            .map(|(p, c)| (p.to_string(), c.to_string())),
    );
    files.push((
        "plan.json".into(),
        serde_json::to_string_pretty(plan.plan()).unwrap(),
    ));
    for (path, content) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
}

/// A sample of prompts: private entities with a reference and a yes/no field, and public ones
/// with a theme. run.sh serves each with `wrangler dev` and checks it with curl and in Chromium
/// (sign up, a row in every entity through the UI, search, filter, sort, edit, delete, a visitor
/// reading public rows signed out, no console errors).
const BROWSER_SAMPLE: [&str; 2] = [
    "a task manager with projects and tasks",
    "a poetry blog with poems that visitors can read without signing in, in indigo",
];

fn generated_apps_pass_the_functional_checks_in_a_browser(_k: &Kiln) {
    let chromium = std::env::var("KILN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).exists(),
        "{chromium} is missing: install it with `apt-get install -y chromium` (`make test` does)"
    );
    let work = std::env::temp_dir().join(format!("kiln-e2e-apps-{}", std::process::id()));
    let mut dirs = Vec::new();
    for (i, prompt) in BROWSER_SAMPLE.iter().enumerate() {
        let dir = work.join(format!("app-{i}"));
        emit(&dir, prompt);
        dirs.push(dir);
    }
    let status = Command::new("bash")
        .arg("tests/generated-app/run.sh")
        .args(&dirs)
        .env("CHROMIUM", &chromium)
        .current_dir(root())
        .status()
        .expect("run tests/generated-app/run.sh");
    let _ = std::fs::remove_dir_all(&work);
    assert!(
        status.success(),
        "the generated-app checks failed ({status}); see their output above"
    );
}
