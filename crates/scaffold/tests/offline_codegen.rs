//! Offline code generation: every planned example and every random valid plan yields the expected
//! file set, migrations with only CREATE TABLE / CREATE INDEX, a worker that serves every route
//! the front end calls, imports only from the runtime and the vendored libraries, no secrets, and
//! identical bytes for identical plans. When `node` is installed, the generated JavaScript is also
//! syntax-checked.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use plan::{Entity, Field, FieldKind, Page, Plan, ValidPlan};
use planner::plan_from_prompt;
use proptest::prelude::*;
use scaffold::{generate, runtime_files};

const PROMPTS: &[&str] = &[
    "a task manager with projects and tasks",
    "a recipe book with ingredients and ratings",
    "an inventory tracker for a bakery",
    "a habit tracker",
    "a todo list",
    "an app to track my plants and when I water them",
    "a simple CRM for my small business to manage clients and deals",
    "a workout log",
    "keep track of my vinyl record collection with artist, year and condition",
    "an expense tracker with categories",
    "a journal",
    "a bug tracker for my side projects",
    "a meal planner with recipes",
    "an event planner for a wedding with guests",
    "inventory for my online shop with suppliers and products",
    "a tracker for my dogs and their vet visits",
    "a study planner where each course has exams with dates and scores",
    "make me something nice",
    "A tool to organize my recipes, ingredients and weekly meal plans.",
    "a contact book with birthdays and phone numbers",
    "track my daily water intake",
    "a kanban board for my team",
    "a movie watchlist with ratings",
    "a plant diary with photos",
];

const FILES: [&str; 5] = [
    "worker.js",
    "migrations/0001_init.sql",
    "public/index.html",
    "public/app.js",
    "public/styles.css",
];

fn valid(prompt: &str) -> ValidPlan {
    plan_from_prompt(prompt)
        .expect("plan")
        .validate()
        .expect("valid plan")
}

fn file<'a>(files: &'a [(String, String)], path: &str) -> &'a str {
    &files
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} is missing"))
        .1
}

/// `(method, path)` of every `api.route("METHOD", "PATH", …)` in worker.js, and the five routes
/// the runtime's `crud(api, "PATH", …)` mounts.
fn worker_routes(worker: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for part in worker.split("\ncrud(api, \"").skip(1) {
        let (path, _) = part.split_once('"').expect("path end");
        for (method, suffix) in [
            ("GET", ""),
            ("POST", ""),
            ("GET", "/:id"),
            ("PUT", "/:id"),
            ("DELETE", "/:id"),
        ] {
            assert!(
                routes.insert((method.to_string(), format!("{path}{suffix}"))),
                "duplicate route {method} {path}{suffix}"
            );
        }
    }
    for part in worker.split("api.route(\"").skip(1) {
        let (method, rest) = part.split_once('"').expect("method");
        let rest = rest.strip_prefix(", \"").expect("path");
        let (path, _) = rest.split_once('"').expect("path end");
        assert!(
            routes.insert((method.to_string(), path.to_string())),
            "duplicate route {method} {path}"
        );
    }
    routes
}

/// `(method, path)` of every call to the server in app.js (`api(…)` and `send(…)`), with
/// `entity.api` expanded for every entity and `/api/files/${…}` read as `/api/files/:name`.
fn front_end_calls(app: &str, tables: &[String]) -> BTreeSet<(String, String)> {
    let mut calls = BTreeSet::new();
    let sites = app
        .split(" api(\"")
        .skip(1)
        .chain(app.split(" send(\"").skip(1));
    for part in sites {
        let (method, rest) = part.split_once('"').expect("method");
        let rest = rest.strip_prefix(", ").expect("argument");
        if let Some(literal) = rest.strip_prefix('"') {
            let (path, _) = literal.split_once('"').expect("path end");
            calls.insert((method.to_string(), path.to_string()));
        } else if rest.starts_with("`/api/files/${") {
            calls.insert((method.to_string(), "/api/files/:name".to_string()));
        } else if rest.starts_with("`${entity.api}/${id}`") {
            for t in tables {
                calls.insert((method.to_string(), format!("/api/{t}/:id")));
            }
        } else if rest.starts_with("entity.api") || rest.starts_with("`${entity.api}${queryString(")
        {
            for t in tables {
                calls.insert((method.to_string(), format!("/api/{t}")));
            }
        } else if rest.starts_with("path") {
            // The definition of api() itself, which forwards to send().
            continue;
        } else {
            panic!(
                "a server call this test does not understand: ({method}, {})",
                &rest[..40.min(rest.len())]
            );
        }
    }
    // The entity prefixes the calls expand to must be exactly the ones in the model.
    for t in tables {
        assert!(
            app.contains(&format!("api: \"/api/{t}\"")),
            "app.js lacks the api of {t}"
        );
    }
    calls
}

/// The statements of a migration, comments removed.
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    // Split at `;` outside string literals (choice values may hold one).
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in without_comments.chars() {
        match c {
            '\'' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().unwrap().push(c);
    }
    parts
        .iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

fn check_app(valid: &ValidPlan, files: &[(String, String)]) {
    let plan = valid.plan();
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, FILES);

    // Migrations: only CREATE TABLE / CREATE INDEX; users plus one table per entity.
    let sql = file(files, "migrations/0001_init.sql");
    let stmts = statements(sql);
    for s in &stmts {
        assert!(
            s.starts_with("CREATE TABLE ") || s.starts_with("CREATE INDEX "),
            "disallowed statement: {s}"
        );
    }
    let tables: Vec<String> = stmts
        .iter()
        .filter_map(|s| s.strip_prefix("CREATE TABLE "))
        .map(|s| s.split_whitespace().next().unwrap().to_string())
        .collect();
    let mut expected = vec!["users".to_string()];
    expected.extend(plan.entities.iter().map(|e| e.name.clone()));
    assert_eq!(tables, expected);
    for e in &plan.entities {
        let create = stmts
            .iter()
            .find(|s| s.starts_with(&format!("CREATE TABLE {} (", e.name)))
            .unwrap();
        assert!(create.contains("user_id INTEGER NOT NULL"), "{create}");
        assert!(create.contains("created_at TEXT NOT NULL, updated_at TEXT NOT NULL"));
        for f in &e.fields {
            assert!(
                create.contains(&format!(" {} {}", f.name, f.kind.sql_type())),
                "{} {} in {create}",
                f.name,
                f.kind.sql_type()
            );
            if f.kind == FieldKind::Choice {
                let listed: Vec<String> = f
                    .values
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\'', "''")))
                    .collect();
                let check = format!("CHECK ({} IN ({}))", f.name, listed.join(", "));
                assert!(create.contains(&check), "{check} in {create}");
                let in_app = serde_json::to_string(&f.values).unwrap().replace(',', ", ");
                assert!(
                    file(files, "public/app.js").contains(&format!("values: {in_app}")),
                    "the front end lists the values of {}: {in_app}",
                    f.name
                );
            }
        }
        assert!(
            stmts.iter().any(|s| s.starts_with("CREATE INDEX")
                && s.contains(&format!(" ON {} (user_id", e.name))),
            "no user_id index on {}",
            e.name
        );
    }

    // The worker serves auth plus full CRUD per entity (and files when planned), and every call
    // the front end makes.
    let worker = file(files, "worker.js");
    let routes = worker_routes(worker);
    let mut expected_routes: BTreeSet<(String, String)> = [
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        ("GET", "/api/auth/me"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    for e in &plan.entities {
        for (m, suffix) in [
            ("GET", ""),
            ("POST", ""),
            ("GET", "/:id"),
            ("PUT", "/:id"),
            ("DELETE", "/:id"),
        ] {
            expected_routes.insert((m.to_string(), format!("/api/{}{suffix}", e.name)));
        }
    }
    if plan.file_storage {
        for (m, p) in [
            ("GET", "/api/files"),
            ("PUT", "/api/files/:name"),
            ("GET", "/api/files/:name"),
            ("DELETE", "/api/files/:name"),
        ] {
            expected_routes.insert((m.to_string(), p.to_string()));
        }
    }
    assert_eq!(routes, expected_routes);
    let app = file(files, "public/app.js");
    let names: Vec<String> = plan.entities.iter().map(|e| e.name.clone()).collect();
    let calls = front_end_calls(app, &names);
    let missing: Vec<_> = calls.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "front end calls routes the worker lacks: {missing:?}"
    );

    // The app contract and the import rules.
    assert!(worker.contains("export default {\n  async fetch(request, env, ctx) {"));
    assert!(worker.contains("return env.ASSETS.fetch(request);"));
    let imports = |code: &str| -> Vec<String> {
        code.split(" from \"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(imports(worker), ["./_kiln/runtime.js"]);
    assert_eq!(
        imports(app),
        [
            "/_kiln/vendor/preact.mjs",
            "/_kiln/vendor/hooks.mjs",
            "/_kiln/vendor/htm.mjs"
        ]
    );
    for (path, content) in files {
        assert!(
            !content.contains("https://") && !content.contains("http://"),
            "{path} links to another origin"
        );
        assert!(!content.contains("JWT_SECRET ="), "{path} embeds a secret");
    }
    assert!(
        worker.contains("JWT_SECRET"),
        "the worker documents where the secret comes from"
    );

    // Front end: the data model, the empty states, the HTML shell.
    for e in &plan.entities {
        assert!(app.contains(&format!("table: \"{}\"", e.name)));
    }
    assert!(app.contains("No ${plural} yet — add the first one above."));
    assert_eq!(app.contains("function FilesPage("), plan.file_storage);
    let html = file(files, "public/index.html");
    assert!(html.contains("<script type=\"module\" src=\"/app.js\"></script>"));
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/styles.css\" />"));
    assert!(!file(files, "public/styles.css").contains("@@"));
    let plan_text = serde_json::to_string(plan).unwrap();
    if !plan_text.contains("@@") {
        assert!(!app.contains("@@"), "a template marker was left in app.js");
    }
}

#[test]
fn every_planned_example_yields_a_complete_consistent_app() {
    for prompt in PROMPTS {
        let plan = valid(prompt);
        let files = generate(&plan);
        check_app(&plan, &files);
    }
}

#[test]
fn the_same_plan_always_gives_the_same_bytes() {
    for prompt in PROMPTS {
        let plan = valid(prompt);
        assert_eq!(generate(&plan), generate(&plan), "{prompt}");
        // Through JSON and back (as the pipeline stores it) changes nothing either.
        let stored = serde_json::to_string(plan.plan()).unwrap();
        let again: Plan = serde_json::from_str(&stored).unwrap();
        assert_eq!(generate(&again.validate().unwrap()), generate(&plan));
    }
}

#[test]
fn the_task_manager_front_end_and_worker_agree_on_every_route() {
    let plan = valid("a task manager with projects and tasks");
    let files = generate(&plan);
    let routes = worker_routes(file(&files, "worker.js"));
    assert!(routes.contains(&("PUT".into(), "/api/tasks/:id".into())));
    assert!(routes.contains(&("DELETE".into(), "/api/projects/:id".into())));
    let app = file(&files, "public/app.js");
    assert!(app.contains(r#"{ name: "project_id", label: "Project", kind: "reference", references: "projects", required: false }"#));
    assert!(
        app.contains(r#"{ name: "due_date", label: "Due date", kind: "date", required: false }"#)
    );
    let worker = file(&files, "worker.js");
    assert!(worker.contains(r#"{ table: "tasks", column: "project_id", onDelete: "set_null" }"#));
}

#[test]
fn runtime_files_put_module_code_beside_the_worker_and_libraries_under_public() {
    let files = runtime_files();
    let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        paths,
        [
            "_kiln/runtime.js",
            "public/_kiln/vendor/preact.mjs",
            "public/_kiln/vendor/hooks.mjs",
            "public/_kiln/vendor/htm.mjs",
            "public/_kiln/vendor/LICENSES.txt",
        ]
    );
    let runtime = files[0].1;
    for export in [
        "export class Router",
        "export function json(",
        "export function error(",
        "export async function readJson(",
        "export async function hashPassword(",
        "export async function verifyPassword(",
        "export async function signJwt(",
        "export async function verifyJwt(",
        "export async function requireUser(",
        "export function defineEntity(",
        "export async function list(",
        "export async function get(",
        "export async function insert(",
        "export async function update(",
        "export async function remove(",
        "export async function putFile(",
    ] {
        assert!(runtime.contains(export), "runtime.js lacks {export}");
    }
    assert!(runtime.contains("const PBKDF2_ITERATIONS = 100000;"));
    assert!(runtime.contains(r#"header.alg !== "HS256""#));
    assert!(
        files[2].1.contains(r#"from"./preact.mjs""#),
        "hooks import the vendored preact"
    );
    assert!(!files[2].1.contains(r#"from"preact""#));
    for (path, content) in &files[..4] {
        assert!(
            !content.contains("https://"),
            "{path} must not load from a CDN"
        );
    }
}

/// Writes files into a fresh temp dir and runs `node --check` on the JavaScript; skipped when
/// node is not installed.
#[test]
fn generated_javascript_parses() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node is not installed: skipping the JavaScript syntax check");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiln-offline-syntax-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut checked = Vec::<PathBuf>::new();
    let prompts = PROMPTS
        .iter()
        .take(6)
        .chain(["a plant diary with photos"].iter());
    for (i, prompt) in prompts.enumerate() {
        for (path, content) in generate(&valid(prompt)) {
            if path.ends_with(".js") {
                // .mjs: node parses it as an ES module (imports are not resolved by --check).
                let target = dir.join(format!("{i}-{}.mjs", path.replace('/', "-")));
                std::fs::write(&target, content).unwrap();
                checked.push(target);
            }
        }
    }
    for (path, content) in runtime_files() {
        if path.ends_with(".js") || path.ends_with(".mjs") {
            let target = dir.join(format!("runtime-{}.mjs", path.replace('/', "-")));
            std::fs::write(&target, content).unwrap();
            checked.push(target);
        }
    }
    for target in &checked {
        let out = Command::new("node")
            .arg("--check")
            .arg(target)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} does not parse:\n{}",
            target.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- any valid plan -----------------------------------------------------------------------------

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,14}"
}

fn kind(tables: usize) -> impl Strategy<Value = FieldKind> {
    prop_oneof![
        Just(FieldKind::Text),
        Just(FieldKind::LongText),
        Just(FieldKind::Integer),
        Just(FieldKind::Number),
        Just(FieldKind::Boolean),
        Just(FieldKind::Date),
        Just(FieldKind::Rating),
        Just(FieldKind::Choice),
        (0..tables).prop_map(|i| FieldKind::Reference(format!("#{i}"))),
    ]
}

prop_compose! {
    fn any_plan()(n in 1usize..5)(
        names in prop::collection::vec(ident(), n),
        labels in prop::collection::vec("\\PC{0,20}", n),
        fields in prop::collection::vec(
            prop::collection::vec((ident(), kind(n), any::<bool>()), 1..8), n),
        app_name in "\\PC{1,40}",
        summary in "\\PC{0,100}",
        with_pages in any::<bool>(),
        file_storage in any::<bool>(),
    ) -> Plan {
        let entities: Vec<Entity> = names.iter().zip(labels).zip(fields).map(|((name, label), fields)| Entity {
            name: name.clone(),
            label,
            fields: fields.into_iter().map(|(fname, kind, required)| Field {
                name: fname,
                // Values with quotes, a semicolon and non-ASCII text, as a model might write them.
                values: if kind == FieldKind::Choice {
                    vec!["open".into(), "in progress".into(), "it's done; really".into(), "fermé \"x\"".into()]
                } else {
                    vec![]
                },
                // References point at the i-th entity, whatever its generated name.
                kind: match kind {
                    FieldKind::Reference(i) => FieldKind::Reference(names[i[1..].parse::<usize>().unwrap()].clone()),
                    k => k,
                },
                required,
            }).collect(),
            visibility: Default::default(),
        }).collect();
        let pages = if with_pages {
            vec![Page { name: "Home".into(), path: "/".into(), entity: None }]
        } else {
            vec![]
        };
        Plan { app_name, summary, pages, entities, features: vec![], auth: true, file_storage, theme: None }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_valid_plan_yields_a_consistent_app(plan in any_plan()) {
        // Random names sometimes hit a keyword or a duplicate; those plans are rightly refused.
        let Ok(valid) = plan.validate() else { return Ok(()); };
        let files = generate(&valid);
        check_app(&valid, &files);
        prop_assert_eq!(generate(&valid), files);
    }
}
