//! Runs every fixture in `tests/fixtures/validation/` through `validation::validate_app`
//! and checks the expectation beside it (`NAME.txt` or `NAME/` + `NAME.expect.json`; the format is
//! described in that folder's README). All failures are collected and reported together.
//!
//! `cargo test -p validation --test validation_corpus`

use std::fs;
use std::path::{Path, PathBuf};

use generation::files::FileParser;
use generation::Diagnostic;
use scaffold::runtime_files;
use serde_json::Value;
use validation::{validate_app, Limits, Report};

/// Fewest fixtures the corpus must hold (a guard against a glob that silently finds nothing).
const MIN_FIXTURES: usize = 20;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/validation")
}

/// The files of a directory fixture, as `(path relative to the fixture, content)`, sorted.
fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), String> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let content = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let relative = path
                .strip_prefix(root)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, content));
        }
    }
    Ok(())
}

/// The app files of fixture `name`: a parsed answer (`NAME.txt`) or a directory (`NAME/`).
fn app_files(name: &str, failures: &mut Vec<String>) -> Option<Vec<(String, String)>> {
    let dir = fixture_dir();
    let text_path = dir.join(format!("{name}.txt"));
    if text_path.exists() {
        let text = match fs::read_to_string(&text_path) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: cannot read {name}.txt: {e}"));
                return None;
            }
        };
        let parsed = FileParser::parse(&text);
        let unexpected: Vec<&Diagnostic> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.kind != generation::DiagnosticKind::Unterminated)
            .collect();
        if !unexpected.is_empty() {
            failures.push(format!(
                "{name}: the answer parser reported {unexpected:?}; use a directory fixture for paths it drops"
            ));
        }
        return Some(
            parsed
                .files
                .into_iter()
                .map(|f| (f.path, f.content))
                .collect(),
        );
    }
    let mut files = Vec::new();
    match read_tree(&dir.join(name), &dir.join(name), &mut files) {
        Ok(()) => Some(files),
        Err(e) => {
            failures.push(format!("{name}: no {name}.txt and {e}"));
            None
        }
    }
}

fn shown(report: &Report) -> String {
    if report.diagnostics.is_empty() {
        return "(none)".into();
    }
    report
        .diagnostics
        .iter()
        .map(|d| format!("\n    [{}] {d}", kind_name(d)))
        .collect()
}

fn kind_name(d: &Diagnostic) -> String {
    serde_json::to_value(d.kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Whether `actual` meets one expected diagnostic `{path, line, contains, kind}`.
fn meets(actual: &Diagnostic, expected: &Value) -> bool {
    let path_ok = match expected.get("path") {
        None => true,
        Some(Value::Null) => actual.path.is_none(),
        Some(p) => actual.path.as_deref() == p.as_str(),
    };
    let line_ok = match expected.get("line") {
        None => true,
        Some(Value::Null) => actual.line.is_none(),
        Some(l) => actual.line.map(|n| n as u64) == l.as_u64(),
    };
    let contains_ok = expected
        .get("contains")
        .and_then(Value::as_str)
        .is_none_or(|needle| actual.message.contains(needle));
    let kind_ok = expected
        .get("kind")
        .and_then(Value::as_str)
        .is_none_or(|kind| kind_name(actual) == kind);
    path_ok && line_ok && contains_ok && kind_ok
}

fn check_fixture(name: &str, failures: &mut Vec<String>) {
    let expect_path = fixture_dir().join(format!("{name}.expect.json"));
    let expect: Value = match fs::read_to_string(&expect_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return failures.push(format!("{name}: bad expectation: {e}")),
    };
    let Some(mut files) = app_files(name, failures) else {
        return;
    };
    if expect
        .get("runtime")
        .and_then(Value::as_bool)
        .unwrap_or(true)
    {
        for (path, content) in runtime_files() {
            if !files.iter().any(|(p, _)| p == path) {
                files.push((path.to_string(), content.to_string()));
            }
        }
    }
    let tables: Vec<String> = expect
        .get("plan_tables")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let report = validate_app(&files, &tables, &Limits::default());

    if let Some(ok) = expect.get("ok").and_then(Value::as_bool) {
        if report.is_ok() != ok {
            failures.push(format!(
                "{name}: expected ok = {ok}, got {}",
                shown(&report)
            ));
            return;
        }
    }
    let expected = expect
        .get("diagnostics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Each expected diagnostic must be met by a different actual one, in order.
    let mut used = vec![false; report.diagnostics.len()];
    for wanted in &expected {
        match report
            .diagnostics
            .iter()
            .enumerate()
            .find(|(i, d)| !used[*i] && meets(d, wanted))
        {
            Some((i, _)) => used[i] = true,
            None => failures.push(format!(
                "{name}: no diagnostic meets {wanted}; got {}",
                shown(&report)
            )),
        }
    }
    let exact = expect.get("exact").and_then(Value::as_bool).unwrap_or(true);
    if exact && report.diagnostics.len() != expected.len() {
        failures.push(format!(
            "{name}: expected {} diagnostics, got {}: {}",
            expected.len(),
            report.diagnostics.len(),
            shown(&report)
        ));
    }
    let positions: Vec<usize> = expected
        .iter()
        .filter_map(|w| report.diagnostics.iter().position(|d| meets(d, w)))
        .collect();
    if positions.windows(2).any(|w| w[0] > w[1]) {
        failures.push(format!(
            "{name}: diagnostics are not in the expected order: {}",
            shown(&report)
        ));
    }
    // Every message reads like the rest: lowercase start (a keyword or a quoted value may lead).
    for d in &report.diagnostics {
        let first = d.message.chars().next().unwrap_or(' ');
        if first.is_lowercase()
            || first.is_ascii_uppercase()
                && d.message
                    .split(' ')
                    .next()
                    .is_some_and(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            || first == '"'
        {
            continue;
        }
        failures.push(format!("{name}: message does not start lowercase: {d}"));
    }
}

#[test]
fn validation_fixtures_meet_their_expectations() {
    let mut names: Vec<String> = fs::read_dir(fixture_dir())
        .expect("the fixture folder exists")
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".expect.json"))
                .map(String::from)
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= MIN_FIXTURES,
        "only {} fixtures found in {}",
        names.len(),
        fixture_dir().display()
    );
    let mut failures = Vec::new();
    for name in &names {
        check_fixture(name, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {} validation fixtures failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
