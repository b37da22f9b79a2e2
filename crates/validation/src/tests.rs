use super::*;
use crate::js::Goal;
use planner::plan_from_prompt;
use scaffold::generate;

/// Prompts covering the offline generator's shapes: references, many entities, file storage.
const PROMPTS: [&str; 10] = [
    "a task manager with projects and tasks",
    "a photo journal with file uploads",
    "a recipe book with ingredients and ratings",
    "a simple CRM for my small business to manage clients and deals",
    "a study planner where each course has exams with dates and scores",
    "a plant diary with photos",
    "a habit tracker",
    "make me something nice",
    "a kanban board for my team",
    "keep track of my vinyl record collection with artist, year and condition",
];

/// The offline generator's app for `prompt`, runtime included, and its plan's tables.
fn offline_app(prompt: &str) -> (Vec<(String, String)>, Vec<String>) {
    let plan = plan_from_prompt(prompt)
        .expect("plan")
        .validate()
        .expect("valid plan");
    let tables = plan
        .plan()
        .entities
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let files = generate(&plan)
        .into_iter()
        .chain(
            runtime_files()
                .into_iter()
                .map(|(p, c)| (p.to_string(), c.to_string())),
        )
        .collect();
    (files, tables)
}

fn check(files: &[(&str, &str)]) -> Vec<String> {
    validate_app(files, &[], &Limits::default())
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

const WORKER: &str = "import { Router, json } from \"./_kiln/runtime.js\";\n\
    const api = new Router();\n\
    api.route(\"GET\", \"/api/todos\", () => json(200, []));\n\
    api.route(\"DELETE\", \"/api/todos/:id\", () => json(200, {}));\n\
    export default {\n  fetch(request, env, ctx) {\n    return api.handle(request, env, ctx);\n  },\n};\n";

const APP_JS: &str = "import { h, render } from \"/_kiln/vendor/preact.mjs\";\n\
    const load = () => fetch(\"/api/todos\");\n\
    const drop = (id) => fetch(`/api/todos/${id}`, { method: \"DELETE\" });\n\
    render(h(\"p\", null, \"hi\"), document.body);\n";

const SQL: &str =
    "CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL);\n";

fn small_app<'a>(replace: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut files = vec![
        ("worker.js", WORKER),
        ("public/app.js", APP_JS),
        (
            "public/index.html",
            "<script type=\"module\" src=\"/app.js\"></script>\n",
        ),
        ("migrations/0001_init.sql", SQL),
    ];
    for (path, content) in replace {
        files.retain(|(p, _)| p != path);
        if !content.is_empty() {
            files.push((path, content));
        }
    }
    files
}

#[test]
fn every_offline_app_validates_clean() {
    for prompt in PROMPTS {
        let (files, tables) = offline_app(prompt);
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        let report = validate_app(&files, &tables, &Limits::default());
        assert!(report.is_ok(), "{prompt}:\n{report}");
        // The runtime is skipped, the generated worker and front end are parsed.
        assert_eq!(report.modules_parsed, 2, "{prompt}");
        assert_eq!(report.migrations_checked, 1, "{prompt}");
    }
}

#[test]
fn offline_apps_pass_the_cpu_guard_rules() {
    for prompt in PROMPTS {
        let (files, tables) = offline_app(prompt);
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        let report = validate_app(&files, &tables, &Limits::default());
        assert!(
            !report
                .diagnostics
                .iter()
                .any(|d| d.kind == DiagnosticKind::Unguarded),
            "{prompt}:\n{report}"
        );
    }
    // The runtime would pass them too, were it model-written.
    for (path, content) in runtime_files() {
        if path == "_kiln/runtime.js" {
            let facts = js::analyze(content, Goal::Module);
            assert_eq!(facts.hazards, [], "{path}");
        }
    }
}

#[test]
fn a_broken_offline_app_is_caught() {
    let (mut files, tables) = offline_app("a task manager with projects and tasks");
    for (path, content) in &mut files {
        if path == "public/app.js" {
            *content = content.replace("api: \"/api/tasks\"", "api: \"/api/task\"");
        }
    }
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let report = validate_app(&files, &tables, &Limits::default());
    assert_eq!(report.diagnostics.len(), 1, "{report}");
    assert!(
        report.diagnostics[0]
            .message
            .contains("did you mean \"/api/tasks\"?"),
        "{report}"
    );
}

#[test]
fn offline_apps_validate_clean_without_the_runtime_files_too() {
    let (files, tables) = offline_app("a photo journal with file uploads");
    let runtime: Vec<&str> = runtime_files().into_iter().map(|(p, _)| p).collect();
    let own: Vec<(String, String)> = files
        .into_iter()
        .filter(|(p, _)| !runtime.contains(&p.as_str()))
        .collect();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let report = validate_app(&own, &tables, &Limits::default());
    assert!(report.is_ok(), "{report}");
}

#[test]
fn a_changed_runtime_file_is_parsed() {
    let (mut files, _) = offline_app("a habit tracker");
    for (path, content) in &mut files {
        if path == "_kiln/runtime.js" {
            content.push_str("\nexport const broken = {;\n");
        }
    }
    let report = validate_app(&files, &[], &Limits::default());
    assert_eq!(report.modules_parsed, 3);
    assert_eq!(report.affected_paths(), ["_kiln/runtime.js"]);
    assert_eq!(report.diagnostics[0].kind, DiagnosticKind::SyntaxError);
}

#[test]
fn model_written_code_may_not_name_the_app_secret_but_the_runtime_may() {
    let worker = WORKER.replace(
        "    return api.handle(request, env, ctx);\n",
        "    const key = env.JWT_SECRET; // sign our own tokens\n    return api.handle(request, env, ctx);\n",
    );
    let app_js = format!("{APP_JS}const k = \"JWT_SECRET\";\n");
    let got = check(&small_app(&[
        ("worker.js", &worker),
        ("public/app.js", &app_js),
    ]));
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got[0].starts_with(
            "public/app.js:5: the app secret JWT_SECRET is only for the reviewed runtime;"
        ),
        "{}",
        got[0]
    );
    assert!(
        got[1].starts_with(
            "worker.js:7: the app secret JWT_SECRET is only for the reviewed runtime;"
        ),
        "{}",
        got[1]
    );

    // The runtime reads it, even in a copy that differs from the shipped one (the platform ships
    // its own copy at that path).
    let (mut files, tables) = offline_app("a habit tracker");
    for (path, content) in &mut files {
        if path == "_kiln/runtime.js" {
            content.push_str("\nexport const secretName = () => \"JWT_SECRET\";\n");
        }
    }
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let report = validate_app(&files, &tables, &Limits::default());
    assert!(report.is_ok(), "{report}");
}

#[test]
fn importing_a_host_wrapper_module_is_refused_with_what_to_use_instead() {
    let worker = format!("import {{ Database }} from \"./_kiln_d1.js\";\n{WORKER}");
    let got = check(&small_app(&[("worker.js", &worker)]));
    assert_eq!(
        got,
        ["worker.js:1: import \"./_kiln_d1.js\" names a module the host wraps every app with, not part of the app; use the bindings on env (env.DB, env.STORAGE) and the helpers of ./_kiln/runtime.js instead"],
    );
}

#[test]
fn a_small_clean_app_passes() {
    assert_eq!(check(&small_app(&[])), Vec::<String>::new());
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let broken = "export default {\n  fetch(request) {\n    return new Response(\"x\");\n  \n};\n";
    let got = check(&small_app(&[("worker.js", broken)]));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("worker.js:5: syntax error: "), "{got:?}");
}

#[test]
fn the_worker_contract_is_read_from_the_ast() {
    let commented = "// export default { fetch }\nexport const x = 1;\n";
    assert_eq!(
        check(&small_app(&[("worker.js", commented)])),
        ["worker.js: no export default; end worker.js with export default { fetch(request, env, ctx) { … } }"]
    );
    let no_fetch = "const x = 1;\nexport default { scheduled() {} };\n";
    let got = check(&small_app(&[("worker.js", no_fetch)]));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("worker.js:2: export default is an object without fetch;"),
        "{got:?}"
    );
    let got = check(&small_app(&[("worker.js", "")]));
    assert_eq!(
        got,
        ["worker.js: missing; every app needs a worker.js with export default { fetch(request, env, ctx) { … } }"]
    );
}

#[test]
fn imports_are_checked_on_both_sides() {
    let worker = format!("import _ from \"lodash\";\n{WORKER}");
    let app = format!("import htm from \"https://esm.sh/htm\";\n{APP_JS}");
    let got = check(&small_app(&[
        ("worker.js", &worker),
        ("public/app.js", &app),
    ]));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("public/app.js:1: import \"https://esm.sh/htm\" loads code from a CDN"),
        "{got:?}"
    );
    assert!(got[0].contains("\"/_kiln/vendor/htm.mjs\""), "{got:?}");
    assert_eq!(
        got[1],
        "worker.js:1: import \"lodash\" is not available; import only ./_kiln/runtime.js or the app's own modules"
    );
}

#[test]
fn front_end_calls_must_match_worker_routes() {
    let app = APP_JS.replace("fetch(\"/api/todos\")", "fetch(\"/api/todo\")");
    let got = check(&small_app(&[("public/app.js", &app)]));
    assert_eq!(
        got,
        ["public/app.js:2: the front end calls \"/api/todo\" but no worker route serves it; did you mean \"/api/todos\"? worker routes: /api/todos, /api/todos/:id"]
    );
}

#[test]
fn routes_are_not_checked_when_the_worker_does_not_parse() {
    let app = APP_JS.replace("fetch(\"/api/todos\")", "fetch(\"/api/todo\")");
    let worker = WORKER.replace("export default {", "export default {{");
    let got = check(&small_app(&[
        ("public/app.js", &app),
        ("worker.js", &worker),
    ]));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("syntax error"), "{got:?}");
}

#[test]
fn routes_are_not_checked_when_the_worker_names_none() {
    let worker = "export default { fetch(request) { const [, , what] = new URL(request.url).pathname.split(\"/\"); return new Response(what); } };\n";
    assert_eq!(
        check(&small_app(&[("worker.js", worker)])),
        Vec::<String>::new()
    );
}

#[test]
fn migrations_are_checked_in_order_against_the_plan() {
    let files = small_app(&[
        (
            "migrations/0002_more.sql",
            "PRAGMA foreign_keys = ON;\nDROP TABLE todos;\n",
        ),
        ("migrations/notes.txt", "x"),
    ]);
    let report = validate_app(&files, &["todos", "tags"], &Limits::default());
    let got: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(
        got[0].starts_with("migrations/0002_more.sql: the plan's table tags is never created"),
        "{got:#?}"
    );
    assert!(
        got[1].starts_with("migrations/0002_more.sql:1: PRAGMA is not allowed"),
        "{got:#?}"
    );
    assert!(
        got[2].starts_with("migrations/0002_more.sql:2: DROP TABLE todos would delete"),
        "{got:#?}"
    );
    assert!(
        got[3].starts_with("migrations/notes.txt: migration path"),
        "{got:#?}"
    );
    assert_eq!(report.migrations_checked, 2);
}

#[test]
fn paths_outside_the_layout_are_refused() {
    let got = check(&small_app(&[
        ("wrangler.toml", "name = \"x\"\n"),
        (".env", "A=1\n"),
    ]));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with(".env: file path '.env' has a hidden segment"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("wrangler.toml: file path 'wrangler.toml' is outside the app layout"),
        "{got:?}"
    );
}

#[test]
fn a_file_given_twice_is_reported() {
    let mut files = small_app(&[]);
    files.push(("public/app.js", APP_JS));
    let got = check(&files);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("public/app.js: the file is given more than once"),
        "{got:?}"
    );
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_files: 3,
        max_file_bytes: 100,
        max_total_bytes: 10_000,
    };
    let report = validate_app(&small_app(&[]), &[], &limits);
    let got: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(got.len(), 3, "{got:#?}");
    assert_eq!(
        got[0],
        "the app has 4 files; at most 3 are allowed: remove files it does not need"
    );
    let app_bytes = APP_JS.len();
    assert!(
        got[1].starts_with(&format!(
            "public/app.js: the file has {app_bytes} bytes; at most 100"
        )),
        "{got:#?}"
    );
    assert!(got[2].starts_with("worker.js: the file has"), "{got:#?}");
    // Over the count, nothing else is checked.
    assert_eq!(report.modules_parsed, 0);

    let limits = Limits {
        max_files: 10,
        max_file_bytes: 250,
        max_total_bytes: 400,
    };
    let report = validate_app(&small_app(&[]), &[], &limits);
    let total: usize = small_app(&[]).iter().map(|(_, c)| c.len()).sum();
    assert_eq!(report.bytes, total);
    assert_eq!(
        report.diagnostics[0].message.split(';').next(),
        Some(format!("the app's files add up to {total} bytes").as_str())
    );

    // An oversized file is reported and skipped; the others are checked.
    let limits = Limits {
        max_files: 10,
        max_file_bytes: 250,
        max_total_bytes: 10_000,
    };
    let report = validate_app(&small_app(&[]), &[], &limits);
    assert_eq!(report.affected_paths(), ["worker.js"]);
    assert_eq!(report.modules_parsed, 1);
}

#[test]
fn the_report_is_sorted_deduplicated_and_printable() {
    let app = format!("{APP_JS}fetch(\"/api/nope\");\nimport(\"/nope.js\");\n");
    let worker = format!("import \"lodash\";\n{WORKER}");
    let files = small_app(&[
        ("public/app.js", &app),
        ("worker.js", &worker),
        ("migrations/0002_x.sql", "VACUUM;"),
    ]);
    let report = validate_app(&files, &[], &Limits::default());
    let keys: Vec<(Option<&str>, Option<usize>)> = report
        .diagnostics
        .iter()
        .map(|d| (d.path.as_deref(), d.line))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(
        report.affected_paths(),
        ["migrations/0002_x.sql", "public/app.js", "worker.js"]
    );
    let text = report.to_string();
    assert_eq!(text.lines().count(), report.diagnostics.len());
    assert!(text.lines().all(|l| l.contains(": ")), "{text}");
    assert_eq!(validate_app(&files, &[], &Limits::default()), report);
}

#[test]
fn diagnostics_print_as_path_line_message() {
    let d = Diagnostic::new(DiagnosticKind::BadImport, "m")
        .with_path("worker.js")
        .at_line(3);
    assert_eq!(d.to_string(), "worker.js:3: m");
    assert_eq!(
        Diagnostic::new(DiagnosticKind::Contract, "m")
            .with_path("a")
            .to_string(),
        "a: m"
    );
    assert_eq!(
        Diagnostic::new(DiagnosticKind::Contract, "m")
            .at_line(2)
            .to_string(),
        "line 2: m"
    );
}

/// Text a model stuck in a repetition loop might write: `n` levels of each recursive construct.
fn deep(construct: &str, n: usize) -> String {
    let body = match construct {
        "binary" => format!("{}1", "1 + ".repeat(n)),
        "unary" => format!("{}1", "!".repeat(n)),
        "conditional" => format!("{}1", "a ? 1 : ".repeat(n)),
        "arrows" => format!("{}1", "a => ".repeat(n)),
        "ifs" => format!("(() => {{ {} return 1; }})()", "if (a) ".repeat(n)),
        "brackets" => format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        "calls" => format!("a{}", "(1)".repeat(n)),
        _ => unreachable!(),
    };
    format!("export default {{\n  fetch() {{\n    return {body};\n  }},\n}};\n")
}

const CONSTRUCTS: [&str; 7] = [
    "binary",
    "unary",
    "conditional",
    "arrows",
    "ifs",
    "brackets",
    "calls",
];

#[test]
fn deep_nesting_is_refused_before_it_can_overflow_the_stack() {
    for construct in CONSTRUCTS {
        // Far beyond what the parser survives on any stack.
        let source = deep(construct, 100_000);
        let got = check(&small_app(&[("worker.js", &source)]));
        assert_eq!(got.len(), 1, "{construct}: {got:?}");
        assert!(
            got[0].starts_with("worker.js:3: syntax error: the code nests too deeply here"),
            "{construct}: {got:?}"
        );
    }
}

#[test]
fn nesting_just_under_the_limit_is_parsed() {
    // Estimates count up to two per level (a bracket and the operator before it), so half the
    // limit is the deepest every construct may go; debug builds on 2 MiB test threads survive it.
    for construct in CONSTRUCTS {
        let source = deep(construct, depth::MAX_NESTING / 2 - 10);
        let got = check(&small_app(&[("worker.js", &source)]));
        assert!(
            got.iter().all(|d| !d.contains("nests too deeply")),
            "{construct}: {got:?}"
        );
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Fragments that stress the scanners: brackets, quotes, template and comment markers, regex
    /// slashes, SQL keywords, multi-byte text.
    fn soup() -> impl Strategy<Value = String> {
        let pieces = vec![
            "(",
            ")",
            "{",
            "}",
            "[",
            "]",
            "`",
            "${",
            "'",
            "\"",
            "/",
            "*",
            "//",
            "/*",
            "*/",
            "\n",
            "\\",
            "import",
            "export",
            "default",
            "fetch",
            "from",
            "\"./x.js\"",
            "\"/api/x\"",
            "`/api/${",
            "+",
            "?",
            ":",
            "=>",
            ";",
            ",",
            "a",
            "1",
            "<div>",
            "CREATE",
            "TABLE",
            "BEGIN",
            "END",
            "CASE",
            "--",
            "é",
            "日本",
            "$",
            ":id",
            "?1",
        ];
        (
            prop::collection::vec(prop::sample::select(pieces), 0..60),
            any::<bool>(),
        )
            .prop_map(|(v, spaced)| v.join(if spaced { " " } else { "" }))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn validation_is_total_and_deterministic(
            worker in soup(),
            app in soup(),
            sql in soup(),
            junk in any::<String>(),
        ) {
            let files = [
                ("worker.js", worker.as_str()),
                ("public/app.js", app.as_str()),
                ("migrations/0001_init.sql", sql.as_str()),
                ("src/x.js", junk.as_str()),
                ("migrations/0002_x.sql", junk.as_str()),
            ];
            let report = validate_app(&files, &["todos"], &Limits::default());
            prop_assert_eq!(&validate_app(&files, &["todos"], &Limits::default()), &report);
            for d in &report.diagnostics {
                prop_assert!(!d.message.is_empty());
                prop_assert!(d.line.is_none_or(|l| l >= 1));
            }
        }
    }
}

#[test]
fn code_the_cpu_guard_cannot_bound_is_refused_in_worker_modules() {
    let worker = format!(
        "{WORKER}const re = /^(\\w+\\s?)*$/;\nconst found = new RegExp(query, \"i\");\n\
         const digits = new RegExp(\"^\\\\d+$\");\nconst bad = RegExp(\"(a+)+\");\nlet __kiln_tick = () => {{}};\n"
    );
    let lines = check(&small_app(&[("worker.js", &worker)]));
    assert_eq!(
        lines,
        [
            "worker.js:10: the regular expression /^(\\w+\\s?)*$/ repeats (\\w+\\s?)*, a group that contains an unbounded quantifier, \
             so some inputs make it backtrack for minutes and stop the app; rewrite it without a quantifier inside a repeated group",
            "worker.js:11: the call new RegExp(query, \"i\") builds its pattern at run time, which cannot be checked for \
             catastrophic backtracking; use a regular-expression literal (/…/) or a string-literal pattern, or string \
             methods such as includes() to search for user text",
            "worker.js:13: the regular expression RegExp(\"(a+)+\") repeats (a+)+, a group that contains an unbounded quantifier, so some \
             inputs make it backtrack for minutes and stop the app; rewrite it without a quantifier inside a repeated group",
            "worker.js:14: the name __kiln_tick is reserved for Kiln's CPU guard; rename it (app code must not define \
             or call names starting with __kiln)",
        ]
    );
    let report = validate_app(
        &small_app(&[("worker.js", &worker)]),
        &[],
        &Limits::default(),
    );
    assert!(report
        .diagnostics
        .iter()
        .all(|d| d.kind == DiagnosticKind::Unguarded));
}

#[test]
fn the_front_end_may_use_any_regular_expression() {
    let app_js = format!(
        "{APP_JS}const re = /^(a+)+$/;\nconst found = new RegExp(query, \"i\");\nlet __kiln = 1;\n"
    );
    assert_eq!(
        check(&small_app(&[("public/app.js", &app_js)])),
        Vec::<String>::new()
    );
}

#[test]
fn a_worker_module_cannot_import_the_guard() {
    let worker = format!("import {{ reset }} from \"./_kiln_guard.js\";\n{WORKER}");
    let lines = check(&small_app(&[("worker.js", &worker)]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "worker.js:1: import \"./_kiln_guard.js\" names a module the host wraps every app with"
        ),
        "{lines:?}"
    );
}

/// `small_app` with the shipped runtime files added, as the platform validates an answer.
fn with_runtime<'a>(replace: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut files = small_app(replace);
    files.extend(runtime_files());
    files
}

#[test]
fn a_misspelt_vendor_hook_is_named_with_the_right_one() {
    let app =
        format!("import {{ useState, useCallbak }} from \"/_kiln/vendor/hooks.mjs\";\n{APP_JS}");
    // With the runtime files given (byte-identical, so not parsed again) and without them (the
    // host adds them): the same report.
    for files in [
        with_runtime(&[("public/app.js", &app)]),
        small_app(&[("public/app.js", &app)]),
    ] {
        let got = check(&files);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(
            got[0],
            "public/app.js:1: \"/_kiln/vendor/hooks.mjs\" has no export \"useCallbak\"; did you mean \"useCallback\"? \
             it exports: useCallback, useContext, useEffect, useId, useMemo, useReducer, useRef, useState, … (12 in all)"
        );
        let report = validate_app(&files, &[], &Limits::default());
        assert_eq!(report.diagnostics[0].kind, DiagnosticKind::BadImport);
        assert_eq!(
            report.modules_parsed, 2,
            "the runtime files are not parsed in the main pass"
        );
    }
}

#[test]
fn a_missing_runtime_export_is_named_with_the_nearest_ones() {
    let worker = WORKER.replace(
        "import { Router, json } from \"./_kiln/runtime.js\";",
        "import {\n  Router,\n  json,\n  listQuery2,\n  crud,\n} from \"./_kiln/runtime.js\";",
    );
    let got = check(&with_runtime(&[("worker.js", &worker)]));
    assert_eq!(got.len(), 1, "{got:#?}");
    // The line of the name, not of the import statement.
    assert!(
        got[0].starts_with(
            "worker.js:4: \"./_kiln/runtime.js\" has no export \"listQuery2\"; did you mean \"listQuery\"? it exports: listQuery, "
        ),
        "{}",
        got[0]
    );
    assert!(got[0].ends_with(" in all)"), "{}", got[0]);
    // Bounded: eight names, then how many there are.
    let listed = got[0].split("it exports: ").nth(1).unwrap();
    assert_eq!(listed.matches(", ").count(), 8, "{listed}");

    // A nested module reaches the runtime by its relative path.
    let routes =
        "import { requireUsr } from \"../_kiln/runtime.js\";\nexport const r = requireUsr;\n";
    let worker = format!("import {{ r }} from \"./src/routes.js\";\n{WORKER}");
    let got = check(&with_runtime(&[
        ("worker.js", &worker),
        ("src/routes.js", routes),
    ]));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("src/routes.js:1: \"../_kiln/runtime.js\" has no export \"requireUsr\"; did you mean \"requireUser\"?"),
        "{}",
        got[0]
    );
}

#[test]
fn a_missing_app_module_export_is_reported_at_the_import() {
    let util = "export function format(d) { return String(d); }\nfunction helper(x) { return x; }\nconst shout = (s) => s.toUpperCase();\n";
    let worker = format!(
        "import {{ format, helper }} from \"./src/util.js\";\nimport {{ formatt as f, parse }} from \"./src/util.js\";\n{WORKER}"
    );
    let got = check(&small_app(&[("worker.js", &worker), ("src/util.js", util)]));
    assert_eq!(
        got,
        [
            // A forgotten export is reported where it is fixed, so a repair sees that file.
            "src/util.js:2: \"helper\" is declared here but not exported, and worker.js imports it; write export before its declaration",
            "worker.js:2: \"./src/util.js\" has no export \"formatt\"; did you mean \"format\"? it exports: format",
            "worker.js:2: \"./src/util.js\" has no export \"parse\"; it exports: format",
        ]
    );

    // A name exported under another one is not a forgotten export.
    let renamed = "function helper(x) { return x; }\nexport { helper as help };\n";
    let worker = format!("import {{ helper }} from \"./src/util.js\";\n{WORKER}");
    assert_eq!(
        check(&small_app(&[
            ("worker.js", &worker),
            ("src/util.js", renamed)
        ])),
        ["worker.js:1: \"./src/util.js\" has no export \"helper\"; did you mean \"help\"? it exports: help"]
    );

    // The same on the front end, from a module that exports nothing.
    let app = format!("import {{ money }} from \"./lib/format.js\";\n{APP_JS}");
    let got = check(&small_app(&[
        ("public/app.js", &app),
        (
            "public/lib/format.js",
            "const money = (n) => n.toFixed(2);\n",
        ),
    ]));
    assert_eq!(
        got,
        ["public/lib/format.js:1: \"money\" is declared here but not exported, and public/app.js imports it; write export before its declaration"]
    );
    let got = check(&small_app(&[
        ("public/app.js", &app),
        ("public/lib/format.js", "window.x = 1;\n"),
    ]));
    assert_eq!(
        got,
        ["public/app.js:1: \"./lib/format.js\" has no export \"money\"; it exports nothing"]
    );
}

#[test]
fn re_export_chains_are_followed() {
    let index = "export * from \"./a.js\";\nexport { b as bee, default as B } from \"./b.js\";\nexport * as nsc from \"./c.js\";\n";
    let a = "export * from \"./c.js\";\nexport const fromA = 1;\n";
    let b = "export const b = 2;\nexport default { b };\n";
    let c = "export * from \"./a.js\";\nexport const deep = 3;\nexport default 4;\n";
    let worker_with = |imports: &str| format!("{imports}\n{WORKER}");
    let app = |worker: &str| -> Vec<String> {
        check(&small_app(&[
            ("worker.js", worker),
            ("src/index.js", index),
            ("src/a.js", a),
            ("src/b.js", b),
            ("src/c.js", c),
        ]))
    };
    // Two levels of `export *` (with a cycle between a.js and c.js), a renamed re-export, a
    // re-exported default and a namespace re-export.
    assert_eq!(
        app(&worker_with(
            "import { deep, fromA, bee, B, nsc } from \"./src/index.js\";"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        app(&worker_with("import { deeep, b } from \"./src/index.js\";")),
        [
            // b.js has it: the import names the wrong module.
            "worker.js:1: \"./src/index.js\" has no export \"b\"; \"./src/b.js\" exports it: import { b } from \"./src/b.js\"",
            "worker.js:1: \"./src/index.js\" has no export \"deeep\"; did you mean \"deep\"? it exports: B, bee, deep, fromA, nsc",
        ]
    );
    // `export *` passes no default on.
    assert_eq!(
        app(&worker_with("import A from \"./src/a.js\";")),
        ["worker.js:1: \"./src/a.js\" has no default export; import its named exports instead, as in import { deep } from \"./src/a.js\"; it exports: deep, fromA"]
    );
    // A re-export of a name the other module lacks is reported where it is written.
    let broken = index.replace("b as bee", "bb as bee");
    let got = check(&small_app(&[
        (
            "worker.js",
            &worker_with("import { bee } from \"./src/index.js\";"),
        ),
        ("src/index.js", &broken),
        ("src/a.js", a),
        ("src/b.js", b),
        ("src/c.js", c),
    ]));
    assert_eq!(
        got,
        ["src/index.js:2: \"./b.js\" has no export \"bb\"; did you mean \"b\"? it exports: b, default"]
    );
}

#[test]
fn star_chains_deeper_than_the_bound_are_not_judged() {
    // worker → m0 → m1 → … → m6: past the bound, what the chain exports is unknown, so nothing
    // is reported; within it, a missing name is.
    let modules: Vec<(String, String)> = (0..7)
        .map(|i| {
            let next = if i < 6 {
                format!("export * from \"./m{}.js\";\n", i + 1)
            } else {
                String::new()
            };
            (
                format!("src/m{i}.js"),
                format!("{next}export const v{i} = {i};\n"),
            )
        })
        .collect();
    let run = |import: &str| -> Vec<String> {
        let worker = format!("{import}\n{WORKER}");
        let mut files: Vec<(&str, &str)> = small_app(&[("worker.js", &worker)]);
        files.extend(modules.iter().map(|(p, c)| (p.as_str(), c.as_str())));
        check(&files)
    };
    assert_eq!(
        run("import { v6, nothing } from \"./src/m0.js\";"),
        Vec::<String>::new()
    );
    let got = run("import { v3, nothing } from \"./src/m3.js\";");
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with(
            "worker.js:1: \"./src/m3.js\" has no export \"nothing\"; it exports: v3, v4, v5, v6"
        ),
        "{}",
        got[0]
    );
}

#[test]
fn default_imports_need_a_default_export() {
    let app = format!(
        "import hooks from \"/_kiln/vendor/hooks.mjs\";\nimport useState from \"/_kiln/vendor/hooks.mjs\";\n\
         import {{ html }} from \"/_kiln/vendor/htm.mjs\";\nimport {{ default as htm2 }} from \"/_kiln/vendor/preact.mjs\";\n{APP_JS}"
    );
    let got = check(&with_runtime(&[("public/app.js", &app)]));
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(
        got[0].starts_with("public/app.js:1: \"/_kiln/vendor/hooks.mjs\" has no default export; import its named exports instead, as in import { "),
        "{}",
        got[0]
    );
    assert_eq!(
        got[1],
        "public/app.js:2: \"/_kiln/vendor/hooks.mjs\" has no default export; import it by name: import { useState } from \"/_kiln/vendor/hooks.mjs\""
    );
    // htm's one export is a default, and html is bound from it.
    assert_eq!(
        got[2],
        "public/app.js:3: \"/_kiln/vendor/htm.mjs\" has no export \"html\"; html comes from htm: import htm from \"/_kiln/vendor/htm.mjs\" and write const html = htm.bind(h) (h from \"/_kiln/vendor/preact.mjs\")"
    );
    assert!(
        got[3].starts_with("public/app.js:4: \"/_kiln/vendor/preact.mjs\" has no default export;"),
        "{}",
        got[3]
    );
    // A module with a default export (htm) and a worker module with one are fine.
    let app = format!("import htm from \"/_kiln/vendor/htm.mjs\";\n{APP_JS}");
    let worker = format!("import handler from \"./src/handler.js\";\n{WORKER}");
    assert_eq!(
        check(&with_runtime(&[
            ("public/app.js", &app),
            ("worker.js", &worker),
            ("src/handler.js", "export default function handler() {}\n"),
        ])),
        Vec::<String>::new()
    );
}

#[test]
fn namespace_and_bare_imports_need_no_names() {
    let app = format!(
        "import * as hooks from \"/_kiln/vendor/hooks.mjs\";\nimport \"./lib/side.js\";\n{APP_JS}"
    );
    let worker = format!(
        "import * as runtime from \"./_kiln/runtime.js\";\nexport * as everything from \"./src/util.js\";\n{WORKER}"
    );
    assert_eq!(
        check(&with_runtime(&[
            ("public/app.js", &app),
            ("public/lib/side.js", "document.title = \"x\";\n"),
            ("worker.js", &worker),
            ("src/util.js", "const quiet = 1;\n"),
        ])),
        Vec::<String>::new()
    );
}

#[test]
fn a_module_that_does_not_parse_is_not_judged_by_its_exports() {
    let worker = format!("import {{ helper }} from \"./src/util.js\";\n{WORKER}");
    let got = check(&small_app(&[
        ("worker.js", &worker),
        ("src/util.js", "export function helper( {\n"),
    ]));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("src/util.js:2: syntax error"),
        "{got:#?}"
    );
}

#[test]
fn a_changed_runtime_copy_is_judged_by_its_own_exports() {
    let shipped = runtime_files()
        .into_iter()
        .find(|(p, _)| *p == "_kiln/runtime.js")
        .unwrap()
        .1;
    let changed = format!("{shipped}\nexport const extra = 1;\n");
    let worker = WORKER.replace("{ Router, json }", "{ Router, json, extra }");
    assert_eq!(
        check(&small_app(&[
            ("worker.js", &worker),
            ("_kiln/runtime.js", &changed),
        ])),
        Vec::<String>::new()
    );
    let got = check(&with_runtime(&[("worker.js", &worker)]));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("worker.js:1: \"./_kiln/runtime.js\" has no export \"extra\";"),
        "{got:#?}"
    );
}

#[test]
fn every_offline_app_is_caught_with_a_misspelt_import() {
    for prompt in PROMPTS {
        let (mut files, tables) = offline_app(prompt);
        for (path, content) in &mut files {
            if path == "public/app.js" {
                *content = content.replacen("useEffect }", "useEfect }", 1);
            }
            if path == "worker.js" {
                *content = content.replacen("import { ", "import { Routr, ", 1);
            }
        }
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        let report = validate_app(&files, &tables, &Limits::default());
        let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 2, "{prompt}: {lines:#?}");
        assert!(
            lines[0].starts_with("public/app.js:11: \"/_kiln/vendor/hooks.mjs\" has no export \"useEfect\"; did you mean \"useEffect\"?"),
            "{prompt}: {lines:#?}"
        );
        assert!(
            lines[1].starts_with("worker.js:")
                && lines[1].contains(
                    "\"./_kiln/runtime.js\" has no export \"Routr\"; did you mean \"Router\"?"
                ),
            "{prompt}: {lines:#?}"
        );
    }
}

#[test]
fn a_name_taken_from_the_wrong_module_points_at_the_right_one() {
    let app = format!(
        "import {{ h, render, useState }} from \"/_kiln/vendor/preact.mjs\";\nimport {{ html }} from \"/_kiln/vendor/preact.mjs\";\n{APP_JS}"
    );
    let got = check(&with_runtime(&[("public/app.js", &app)]));
    assert_eq!(
        got,
        [
            "public/app.js:1: \"/_kiln/vendor/preact.mjs\" has no export \"useState\"; \"/_kiln/vendor/hooks.mjs\" exports it: import { useState } from \"/_kiln/vendor/hooks.mjs\"",
            "public/app.js:2: \"/_kiln/vendor/preact.mjs\" has no export \"html\"; html comes from htm: import htm from \"/_kiln/vendor/htm.mjs\" and write const html = htm.bind(h) (h from \"/_kiln/vendor/preact.mjs\")",
        ]
    );
    // Between the app's own modules, as the importer names them.
    let routes = "import { slugify } from \"./db.js\";\nexport const r = slugify;\n";
    let worker = format!("import {{ r }} from \"./src/routes/index.js\";\n{WORKER}");
    let got = check(&small_app(&[
        ("worker.js", &worker),
        ("src/routes/index.js", routes),
        ("src/routes/db.js", "export const db = 1;\n"),
        ("src/text.js", "export function slugify(s) { return s; }\n"),
    ]));
    assert_eq!(
        got,
        ["src/routes/index.js:1: \"./db.js\" has no export \"slugify\"; \"../text.js\" exports it: import { slugify } from \"../text.js\""]
    );
    // A module with a default export only.
    let worker = format!("import {{ handler }} from \"./src/handler.js\";\n{WORKER}");
    let got = check(&small_app(&[
        ("worker.js", &worker),
        ("src/handler.js", "export default function handle() {}\n"),
    ]));
    assert_eq!(
        got,
        ["worker.js:1: \"./src/handler.js\" has no export \"handler\"; it has only a default export: import handler from \"./src/handler.js\""]
    );
}

#[test]
fn the_runtime_internal_names_are_not_offered_for_export() {
    // runtime.js declares toBase64Url without exporting it: the fix is in the importer (the
    // runtime is not the app's to change).
    let worker = WORKER.replace("{ Router, json }", "{ Router, json, toBase64Url }");
    let got = check(&with_runtime(&[("worker.js", &worker)]));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with(
            "worker.js:1: \"./_kiln/runtime.js\" has no export \"toBase64Url\"; it exports: "
        ),
        "{}",
        got[0]
    );
}
