//! Prompt-contract tests: the prompts state every rule Kiln's checks enforce and document every
//! export of the runtime and every class of the stylesheet, read from the sources themselves, so
//! a change to the validator, the runtime, the stylesheet or the app's security headers fails
//! here until the prompts say it. The offline generator's output follows the same rules.

use std::collections::BTreeSet;

use generation::files::{MAX_FILES, MAX_FILE_BYTES};
use generation::prompts;
use generation::DiagnosticKind;
use plan::{
    AUTOMATIC_COLUMNS, MAX_ENTITIES, MAX_FEATURES, MAX_FIELDS, MAX_IDENT_LEN, MAX_NAME_CHARS,
    MAX_PAGES, MAX_SUMMARY_CHARS, RESERVED_TABLES,
};

const RUNTIME: &str = include_str!("../../../prompts/runtime/runtime.js");
const STYLES: &str = include_str!("../../scaffold/src/templates/styles.css");
const APP_HEADERS: &str = include_str!("../../../dispatch/src/headers.rs");

/// The system messages that ask for code, rendered as they are sent.
fn code_prompts() -> Vec<(&'static str, String)> {
    vec![
        ("codegen", prompts::codegen_system(8192, false).unwrap()),
        (
            "codegen+files",
            prompts::codegen_system(8192, true).unwrap(),
        ),
        ("edit", prompts::edit_system(8192).unwrap()),
        ("repair", prompts::repair_system(8192).unwrap()),
    ]
}

/// Whether `word` appears in `text` as a whole word (not inside a longer identifier).
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Every name `runtime.js` exports (`export function|async function|class|const NAME`).
fn runtime_exports() -> Vec<String> {
    RUNTIME
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|rest| {
            let rest = rest.strip_prefix("async ").unwrap_or(rest);
            let rest = ["function ", "class ", "const ", "let "]
                .iter()
                .find_map(|k| rest.strip_prefix(k))?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// Every class a selector of the stylesheet names (comments removed).
fn stylesheet_classes() -> BTreeSet<String> {
    let mut css = String::new();
    let mut rest = STYLES;
    while let Some(start) = rest.find("/*") {
        css.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    css.push_str(rest);
    let mut classes = BTreeSet::new();
    // Selectors are the text before each `{`, after the previous `}` or `{`.
    for block in css.split('}') {
        for selector in block.split('{').rev().skip(1) {
            for (i, c) in selector.char_indices() {
                if c != '.' {
                    continue;
                }
                let name: String = selector[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                // `.5rem` inside a media query is a number, not a class.
                if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
                    classes.insert(name);
                }
            }
        }
    }
    classes
}

#[test]
fn the_parsers_of_the_sources_find_what_they_should() {
    let exports = runtime_exports();
    for name in [
        "Router",
        "json",
        "defineEntity",
        "list",
        "notFound",
        "MAX_TEXT",
        "putFile",
    ] {
        assert!(
            exports.iter().any(|e| e == name),
            "{name} not found in {exports:?}"
        );
    }
    let classes = stylesheet_classes();
    for name in ["card", "topbar", "record-actions", "center", "checkbox"] {
        assert!(classes.contains(name), "{name} not found in {classes:?}");
    }
    assert!(!classes.contains("css"), "comments are not selectors");
}

#[test]
fn every_runtime_export_is_documented_in_every_code_prompt() {
    for (name, text) in code_prompts() {
        let missing: Vec<String> = runtime_exports()
            .into_iter()
            .filter(|e| !has_word(&text, e))
            .collect();
        assert!(
            missing.is_empty(),
            "the {name} prompt does not document {missing:?}"
        );
    }
}

#[test]
fn every_class_of_the_stylesheet_is_named_in_every_code_prompt() {
    for (name, text) in code_prompts() {
        let missing: Vec<String> = stylesheet_classes()
            .into_iter()
            .filter(|c| !has_word(&text, c))
            .collect();
        assert!(
            missing.is_empty(),
            "the {name} prompt does not name {missing:?}"
        );
    }
}

#[test]
fn the_content_security_policy_of_app_pages_is_stated() {
    // The directives of `csp()` in the dispatch Worker's headers, except `frame-ancestors`
    // (about who may frame the app, nothing the app's code can break).
    let start = APP_HEADERS
        .find("\"default-src")
        .expect("the policy literal");
    let end = APP_HEADERS[start..].find("frame-ancestors").unwrap() + start;
    let policy = APP_HEADERS[start + 1..end].replace("\\\n", " ");
    let directives: Vec<String> = policy
        .split(';')
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|d| !d.is_empty())
        .collect();
    assert!(directives.len() >= 5, "{directives:?}");
    for (name, text) in code_prompts() {
        for d in &directives {
            assert!(text.contains(d.as_str()), "the {name} prompt lacks `{d}`");
        }
        for consequence in [
            "no inline <script>",
            "no style=\"\" attribute",
            "no <style> element",
        ] {
            assert!(
                text.contains(consequence),
                "the {name} prompt lacks `{consequence}`"
            );
        }
    }
}

/// What a prompt must say for the validator's rules of each kind. An exhaustive `match`: a new
/// kind of check does not compile until it is given its sentences here (and in the prompts).
fn rule_phrases(kind: DiagnosticKind) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match kind {
        DiagnosticKind::UnsafePath => s(&[
            "letters, digits, '.', '_', '-' and '/'",
            "no '..'",
            "migrations/NNNN_name.sql",
            "under _kiln/",
        ]),
        DiagnosticKind::DuplicateFile
        | DiagnosticKind::MissingEndMarker
        | DiagnosticKind::Unterminated => s(&["=== FILE: ", "=== END FILE ==="]),
        DiagnosticKind::MalformedEdit => s(&["<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"]),
        DiagnosticKind::LimitExceeded => vec![format!(
            "At most {MAX_FILES} files, {} MiB each",
            MAX_FILE_BYTES / (1024 * 1024)
        )],
        // About the transport and the parser's tolerance, nothing a model can follow.
        DiagnosticKind::DroppedText
        | DiagnosticKind::MalformedEvent
        | DiagnosticKind::InvalidUtf8 => Vec::new(),
        DiagnosticKind::SyntaxError => s(&["no JSX", "SQLite"]),
        DiagnosticKind::Contract => s(&["export default", "Every plan table must be created"]),
        DiagnosticKind::BadImport => s(&[
            "\"./_kiln/runtime.js\"",
            "\"cloudflare:workers\"",
            "\"/_kiln/vendor/preact.mjs\"",
            "\"/_kiln/vendor/hooks.mjs\"",
            "\"/_kiln/vendor/htm.mjs\"",
            "with the extension",
            "no bare names",
            "no URLs",
            "no import() with a computed path",
        ]),
        DiagnosticKind::UnknownRoute => s(&["must be served by a route in worker.js"]),
        DiagnosticKind::ForbiddenSql => s(&[
            "PRAGMA",
            "ATTACH",
            "DETACH",
            "VACUUM",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT",
            "DROP TABLE of a plan table",
            "DELETE without WHERE",
            "? placeholders",
        ]),
        DiagnosticKind::Unguarded => s(&["__kiln", "(a+)+", "new RegExp(x)"]),
        DiagnosticKind::PlatformInternal => s(&["JWT_SECRET", "_kiln_*.js"]),
    }
}

#[test]
fn every_rule_the_validator_enforces_is_stated_in_every_code_prompt() {
    let kinds = [
        DiagnosticKind::UnsafePath,
        DiagnosticKind::DuplicateFile,
        DiagnosticKind::MissingEndMarker,
        DiagnosticKind::Unterminated,
        DiagnosticKind::DroppedText,
        DiagnosticKind::MalformedEdit,
        DiagnosticKind::LimitExceeded,
        DiagnosticKind::MalformedEvent,
        DiagnosticKind::InvalidUtf8,
        DiagnosticKind::SyntaxError,
        DiagnosticKind::Contract,
        DiagnosticKind::BadImport,
        DiagnosticKind::UnknownRoute,
        DiagnosticKind::ForbiddenSql,
        DiagnosticKind::Unguarded,
        DiagnosticKind::PlatformInternal,
    ];
    for (name, text) in code_prompts() {
        for kind in kinds {
            // Codegen answers whole files only; edits are for the edit and repair prompts.
            if kind == DiagnosticKind::MalformedEdit && name.starts_with("codegen") {
                continue;
            }
            for phrase in rule_phrases(kind) {
                assert!(
                    text.contains(&phrase),
                    "the {name} prompt does not state the {kind:?} rule `{phrase}`"
                );
            }
        }
    }
}

#[test]
fn the_runtime_behaviour_a_model_would_otherwise_guess_is_stated() {
    for (name, text) in code_prompts() {
        for fact in [
            // list() and the page
            "a plain array of the user's rows, newest first",
            "default 100",
            "default 0",
            // notFound returns, parseId throws
            "notFound(entity) RETURNS a 404 HttpError",
            "throw notFound(tasks)",
            // missing rows
            "or null when there is none or it belongs to another user",
            "the updated row, or null",
            "true, or false when there was no row",
            // auth
            "me answers {user}; user is {id, email, created_at, admin}",
            // visibility and the declarative routes
            "403 forbidden for a row the user may read but not change",
            "one line per entity",
            // references
            "named exactly as the plan's field (e.g. project_id)",
            "referencedBy lists every column of another table that references this one (required whenever one does)",
            // validateInput and null
            "never null",
            "A field that is null, missing or blank text is empty",
            // deep links
            "gets public/index.html",
        ] {
            assert!(text.contains(fact), "the {name} prompt does not say `{fact}`");
        }
    }
}

#[test]
fn the_plan_prompt_states_every_plan_rule() {
    let text = prompts::plan_system().unwrap();
    for phrase in [
        "\"auth\": true",
        "no \"_\"",
        "lowercase letters, digits and \"-\"",
        "/api",
        "/_kiln",
        "no trailing \"/\"",
        "sqlite_",
        "_kiln",
        "kiln_",
        "_cf_",
        "d1_",
        "not SQL keywords",
        "at least one field",
    ] {
        assert!(text.contains(phrase), "the plan prompt lacks `{phrase}`");
    }
    for column in AUTOMATIC_COLUMNS.iter().chain(RESERVED_TABLES.iter()) {
        assert!(
            has_word(&text, column),
            "the plan prompt does not name {column}"
        );
    }
    for limit in [
        format!("At most {MAX_ENTITIES} entities, {MAX_FIELDS} fields each, {MAX_PAGES} pages, {MAX_FEATURES} features"),
        format!("at most {MAX_IDENT_LEN} characters"),
        format!("at most {MAX_NAME_CHARS} characters"),
        format!("summary at most {MAX_SUMMARY_CHARS} characters"),
    ] {
        assert!(text.contains(&limit), "the plan prompt lacks `{limit}`");
    }
    for kind in [
        "text",
        "long_text",
        "integer",
        "number",
        "boolean",
        "date",
        "rating",
        "reference",
    ] {
        assert!(
            text.contains(&format!("\"{kind}\"")),
            "the plan prompt lacks the kind {kind}"
        );
    }
}

#[test]
fn the_edit_prompt_allows_an_explicit_no_change_and_states_plan_changes() {
    let text = prompts::edit_system(8192).unwrap();
    assert!(text.contains("\n=== NO CHANGE ===\n"));
    assert!(generation::files::says_no_change("=== NO CHANGE ==="));
    assert!(text.contains("Never invent a change"));
    assert!(text.contains("\"Plan changes:\""));
    for (name, text) in code_prompts() {
        assert!(
            text.contains("holds at most 8192 tokens"),
            "the {name} prompt has no budget"
        );
    }
}

/// Names imported from each module in a front-end file: `import { a, b } from "m"` and
/// `import x from "m"`.
fn imports(source: &str) -> Vec<(String, Vec<String>)> {
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .filter_map(|rest| {
            let (names, module) = rest.split_once(" from ")?;
            let module = module
                .trim()
                .trim_end_matches(';')
                .trim_matches('"')
                .to_string();
            let names = names
                .trim()
                .trim_start_matches('{')
                .trim_end_matches('}')
                .split(',')
                .map(|n| n.split(" as ").next().unwrap().trim().to_string())
                .filter(|n| !n.is_empty())
                .collect();
            Some((module, names))
        })
        .collect()
}

#[test]
fn the_offline_generator_follows_the_prompts_own_rules() {
    let allowed_front: [(&str, &[&str]); 3] = [
        ("/_kiln/vendor/preact.mjs", &["h", "render"]),
        ("/_kiln/vendor/hooks.mjs", &["useState", "useEffect"]),
        ("/_kiln/vendor/htm.mjs", &["htm"]),
    ];
    let exports = runtime_exports();
    let contract = prompts::codegen_system(8192, true).unwrap();
    for prompt in [
        "a task manager with projects and tasks",
        "a photo gallery where people upload pictures",
        "a habit tracker with check-ins and ratings",
    ] {
        let plan = planner::plan_from_prompt(prompt)
            .unwrap()
            .validate()
            .unwrap();
        let files: std::collections::BTreeMap<String, String> =
            scaffold::generate(&plan).into_iter().collect();
        for (module, names) in imports(&files["public/app.js"]) {
            let allowed = allowed_front
                .iter()
                .find(|(m, _)| *m == module)
                .unwrap_or_else(|| panic!("{prompt}: app.js imports {module}"));
            for n in names {
                assert!(
                    allowed.1.contains(&n.as_str()),
                    "{prompt}: app.js imports {n} from {module}"
                );
                assert!(
                    contract.contains(&n),
                    "{prompt}: the prompt does not offer {n}"
                );
            }
        }
        for (module, names) in imports(&files["worker.js"]) {
            assert_eq!(module, "./_kiln/runtime.js", "{prompt}");
            for n in names {
                assert!(exports.contains(&n), "{prompt}: worker.js imports {n}");
            }
        }
        for page in ["public/index.html", "public/app.js"] {
            let text = &files[page];
            assert!(
                !text.contains("style=\""),
                "{prompt}: {page} has a style attribute"
            );
            assert!(
                !text.contains("<style"),
                "{prompt}: {page} has a style element"
            );
        }
        let html = &files["public/index.html"];
        for script in html.split("<script").skip(1) {
            assert!(
                script.contains("src="),
                "{prompt}: index.html has an inline script"
            );
        }
        let sql = &files["migrations/0001_init.sql"];
        for line in sql.lines().map(str::trim) {
            let statement_start = line.starts_with("CREATE ")
                || line.starts_with("--")
                || line.is_empty()
                || !line.chars().next().is_some_and(|c| c.is_ascii_uppercase());
            assert!(
                statement_start || line.starts_with(")"),
                "{prompt}: migration line {line}"
            );
        }
        for p in &plan.plan().pages {
            assert!(!p.path.contains('_'), "{prompt}: page path {}", p.path);
        }
    }
}
