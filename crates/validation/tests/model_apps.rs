//! The hand-written, model-style app answers in `tests/fixtures/model-apps/` (see its README),
//! natively: the plan reader, the file parser, the validator and the repair edit take each one
//! from the model's text to an app that passes validation, with exactly the slips the README
//! names. The e2e scenarios `model::an_app_written_like_a_model_with_its_slips_is_built`
//! (reading list) and `model::a_model_written_blog_with_public_poems_keeps_visitors_out_of_writing`
//! (poetry blog) build the same answers through the pipeline.

use std::collections::BTreeMap;

use generation::files::{apply_edits, FileParser};
use generation::session::{assemble, read_plan, MODEL_FILES};
use validation::{validate_app, Limits};

const PLAN: &str = include_str!("../../../tests/fixtures/model-apps/reading-list/plan.txt");
const CODEGEN: &str = include_str!("../../../tests/fixtures/model-apps/reading-list/codegen.txt");
const REPAIR: &str = include_str!("../../../tests/fixtures/model-apps/reading-list/repair.txt");

fn diagnostics(tables: &[&str], files: &BTreeMap<String, String>) -> Vec<String> {
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    validate_app(&pairs, tables, &Limits::default())
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_reading_list_written_like_a_model_validates_after_one_repair() {
    let plan = read_plan(PLAN).expect("the plan reads, slips and all");
    let paths: Vec<&str> = plan.plan().pages.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/my-books", "/shelves"],
        "page paths are normalised"
    );
    assert!(plan.plan().auth);

    let parsed = FileParser::parse(CODEGEN);
    assert!(!parsed.truncated());
    let model: BTreeMap<String, String> = parsed
        .files
        .iter()
        .map(|f| (f.path.clone(), f.content.clone()))
        .collect();
    assert_eq!(model.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut m = MODEL_FILES.to_vec();
        m.sort();
        m
    });
    assert!(!model["worker.js"].contains("```"), "fences are dropped");
    let mut app: BTreeMap<String, String> = assemble(&plan, &model).into_iter().collect();
    let tables = ["shelves", "books"];
    let found = diagnostics(&tables, &app);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("public/app.js:1: import \"preact\""),
        "{found:#?}"
    );

    let repair = FileParser::parse(REPAIR);
    assert_eq!(repair.edits.len(), 1);
    let fixed = apply_edits(&app["public/app.js"], &repair.edits[0].blocks).unwrap();
    app.insert("public/app.js".into(), fixed);
    assert_eq!(diagnostics(&tables, &app), Vec::<String>::new());
}

/// Reads a model-style plan and codegen answer from `tests/fixtures/model-apps/<app>/` and
/// returns the plan and the assembled app (model files plus what Kiln supplies).
fn build(plan: &str, codegen: &str) -> (plan::ValidPlan, BTreeMap<String, String>) {
    let plan = read_plan(plan).expect("the plan reads, slips and all");
    let parsed = FileParser::parse(codegen);
    assert!(!parsed.truncated());
    let model: BTreeMap<String, String> = parsed
        .files
        .iter()
        .map(|f| (f.path.clone(), f.content.clone()))
        .collect();
    let mut expected = MODEL_FILES.to_vec();
    expected.sort();
    assert_eq!(
        model.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    for (path, content) in &model {
        assert!(!content.contains("```"), "{path}: fences are dropped");
    }
    let app = assemble(&plan, &model).into_iter().collect();
    (plan, app)
}

/// Applies every edit of a repair answer to the app.
fn repair(app: &mut BTreeMap<String, String>, answer: &str) {
    let parsed = FileParser::parse(answer);
    assert!(!parsed.edits.is_empty(), "the repair answer has edits");
    for edit in &parsed.edits {
        let fixed = apply_edits(&app[&edit.path], &edit.blocks).unwrap();
        app.insert(edit.path.clone(), fixed);
    }
}

const POETRY_PLAN: &str = include_str!("../../../tests/fixtures/model-apps/poetry-blog/plan.txt");
const POETRY_CODEGEN: &str =
    include_str!("../../../tests/fixtures/model-apps/poetry-blog/codegen.txt");
const POETRY_REPAIR: &str =
    include_str!("../../../tests/fixtures/model-apps/poetry-blog/repair.txt");

#[test]
fn the_poetry_blog_written_like_a_model_validates_after_one_repair() {
    use plan::Visibility;
    let (plan, mut app) = build(POETRY_PLAN, POETRY_CODEGEN);
    let p = plan.plan();
    assert!(p.auth, "auth defaults to true when the model leaves it out");
    let paths: Vec<&str> = p.pages.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["/", "/comments"], "page paths are normalised");
    let vis: Vec<Visibility> = p.entities.iter().map(|e| e.visibility).collect();
    assert_eq!(vis, [Visibility::Public, Visibility::Shared]);
    let theme = p.theme.as_ref().expect("the theme is kept");
    assert_eq!(theme.tagline, "Short poems, read slowly");

    let tables = ["poems", "comments"];
    let found = diagnostics(&tables, &app);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("public/app.js:"), "{found:#?}");
    assert!(found[0].contains("/api/poem/"), "{found:#?}");

    repair(&mut app, POETRY_REPAIR);
    assert_eq!(diagnostics(&tables, &app), Vec::<String>::new());
}

const TRACKER_PLAN: &str =
    include_str!("../../../tests/fixtures/model-apps/issue-tracker/plan.txt");
const TRACKER_CODEGEN: &str =
    include_str!("../../../tests/fixtures/model-apps/issue-tracker/codegen.txt");
const TRACKER_REPAIR: &str =
    include_str!("../../../tests/fixtures/model-apps/issue-tracker/repair.txt");

#[test]
fn the_issue_tracker_written_like_a_model_validates_after_one_repair() {
    use plan::{FieldKind, Visibility};
    let (plan, mut app) = build(TRACKER_PLAN, TRACKER_CODEGEN);
    let p = plan.plan();
    let tables: Vec<&str> = p.entities.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(tables, ["projects", "issues"], "`Issues` is normalised");
    assert_eq!(p.pages[0].entity.as_deref(), Some("issues"));
    assert!(p
        .entities
        .iter()
        .all(|e| e.visibility == Visibility::Shared));
    let status = &p.entities[1].fields[2];
    assert_eq!(status.kind, FieldKind::Choice);
    assert_eq!(status.values, ["open", "in progress", "closed"]);

    let found = diagnostics(&tables, &app);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("worker.js:"), "{found:#?}");
    assert!(
        found[0].contains("calls the database directly"),
        "{found:#?}"
    );

    repair(&mut app, TRACKER_REPAIR);
    assert_eq!(diagnostics(&tables, &app), Vec::<String>::new());
    assert!(!app["worker.js"].contains("/api/stats"));
}
