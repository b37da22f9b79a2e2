//! Runs every fixture in `tests/fixtures/model-output/` through its parser and checks the
//! expectation beside it (`NAME.txt` + `NAME.expect.json`; the format is described in that folder's
//! README). All failures are collected and reported together, so one run shows every regression.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use generation::files::{apply_edits_report, EditBlock, FileParser, MatchStrategy, ParsedFiles};
use generation::{plan_json, sse};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/model-output")
}

/// Collects failures for one fixture.
struct Check<'a> {
    name: &'a str,
    failures: Vec<String>,
}

impl Check<'_> {
    fn fail(&mut self, message: impl AsRef<str>) {
        self.failures
            .push(format!("{}: {}", self.name, message.as_ref()));
    }

    fn expect_eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, actual: T, expected: T) {
        if actual != expected {
            self.fail(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }

    fn read(&mut self, file: &str) -> Option<Vec<u8>> {
        match fs::read(fixture_dir().join(file)) {
            Ok(bytes) => Some(bytes),
            Err(err) => {
                self.fail(format!("cannot read {file}: {err}"));
                None
            }
        }
    }

    fn read_text(&mut self, file: &str) -> Option<String> {
        let bytes = self.read(file)?;
        match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(_) => {
                self.fail(format!("{file} is not UTF-8"));
                None
            }
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn kind_name<T: serde::Serialize>(kind: &T) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn strategy_name(strategy: &MatchStrategy) -> &'static str {
    match strategy {
        MatchStrategy::Exact => "exact",
        MatchStrategy::WhitespaceInsensitive => "whitespace_insensitive",
        MatchStrategy::Fuzzy { .. } => "fuzzy",
        MatchStrategy::Append => "append",
    }
}

/// Checks the shared diagnostic expectations: `diagnostics`, `diagnostic_kinds`, `diagnostic_contains`.
fn check_diagnostics(
    check: &mut Check<'_>,
    label: &str,
    expect: &Value,
    diagnostics: &[generation::Diagnostic],
) {
    let shown = || {
        diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if let Some(n) = expect.get("diagnostics").and_then(Value::as_u64) {
        if diagnostics.len() as u64 != n {
            check.fail(format!(
                "{label}diagnostics: expected {n}, got {}: {}",
                diagnostics.len(),
                shown()
            ));
        }
    }
    if let Some(kinds) = expect.get("diagnostic_kinds") {
        let mut expected = strings(kinds);
        let mut actual: Vec<String> = diagnostics.iter().map(|d| kind_name(&d.kind)).collect();
        expected.sort();
        actual.sort();
        check.expect_eq(&format!("{label}diagnostic kinds"), actual, expected);
    }
    for needle in strings(expect.get("diagnostic_contains").unwrap_or(&Value::Null)) {
        if !diagnostics.iter().any(|d| d.message.contains(&needle)) {
            check.fail(format!(
                "{label}no diagnostic contains {needle:?}: {}",
                shown()
            ));
        }
    }
}

fn check_plan(check: &mut Check<'_>, label: &str, expect: &Value, text: &str) {
    let result = plan_json::extract_detailed(text);
    let ok = expect.get("ok").and_then(Value::as_bool).unwrap_or(true);
    match (result, ok) {
        (Ok(found), true) => {
            if let Some(equals) = expect.get("equals").and_then(Value::as_object) {
                for (pointer, wanted) in equals {
                    check.expect_eq(
                        &format!("{label}value at {pointer}"),
                        found.value.pointer(pointer),
                        Some(wanted),
                    );
                }
            }
            if let Some(repairs) = expect.get("repairs") {
                let actual: BTreeSet<String> = found.repairs.iter().map(kind_name).collect();
                let expected: BTreeSet<String> = strings(repairs).into_iter().collect();
                check.expect_eq(&format!("{label}repairs"), actual, expected);
            }
            if let Some(position) = expect.get("position") {
                let expected = serde_json::json!([found.line, found.column]);
                check.expect_eq(&format!("{label}object position"), &expected, position);
            }
        }
        (Err(err), false) => {
            let message = err.to_string();
            for needle in strings(expect.get("error_contains").unwrap_or(&Value::Null)) {
                if !message.contains(&needle) {
                    check.fail(format!("{label}error {message:?} lacks {needle:?}"));
                }
            }
            if let Some(truncated) = expect.get("truncated").and_then(Value::as_bool) {
                check.expect_eq(
                    &format!("{label}is_truncated"),
                    err.is_truncated(),
                    truncated,
                );
            }
        }
        (Ok(found), false) => check.fail(format!("{label}expected an error, got {}", found.value)),
        (Err(err), true) => check.fail(format!("{label}expected a plan, got error: {err}")),
    }
}

/// Parses `text` whole and in chunks of several sizes; the results must be identical.
fn parse_files_every_way(check: &mut Check<'_>, text: &str) -> ParsedFiles {
    let whole = FileParser::parse(text);
    for size in [1usize, 3, 64] {
        let mut parser = FileParser::new();
        let mut start = 0;
        while start < text.len() {
            let mut end = (start + size).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            parser.push(&text[start..end]);
            start = end;
        }
        if parser.finish() != whole {
            check.fail(format!(
                "parsing in {size}-byte chunks differs from parsing whole"
            ));
        }
    }
    whole
}

fn check_files(check: &mut Check<'_>, label: &str, expect: &Value, parsed: &ParsedFiles) {
    if let Some(paths) = expect.get("paths") {
        check.expect_eq(
            &format!("{label}paths"),
            parsed.paths(),
            strings(paths).iter().map(String::as_str).collect(),
        );
    }
    if let Some(truncated) = expect.get("truncated").and_then(Value::as_bool) {
        check.expect_eq(
            &format!("{label}truncated()"),
            parsed.truncated(),
            truncated,
        );
    }
    if let Some(unterminated) = expect.get("unterminated") {
        let actual: Vec<&str> = parsed
            .files
            .iter()
            .filter(|f| f.unterminated)
            .map(|f| f.path.as_str())
            .collect();
        check.expect_eq(
            &format!("{label}unterminated files"),
            actual,
            strings(unterminated).iter().map(String::as_str).collect(),
        );
    }
    let file_map = |key: &str| {
        expect
            .get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    for (path, wanted) in file_map("content") {
        match parsed.file(&path) {
            Some(file) if Some(file.content.as_str()) == wanted.as_str() => {}
            Some(file) => check.fail(format!(
                "{label}content of {path} differs:\n--- expected\n{}\n--- got\n{}",
                wanted.as_str().unwrap_or_default(),
                file.content
            )),
            None => check.fail(format!("{label}no file {path}")),
        }
    }
    for (key, present) in [("contains", true), ("not_contains", false)] {
        for (path, needles) in file_map(key) {
            let Some(file) = parsed.file(&path) else {
                check.fail(format!("{label}no file {path}"));
                continue;
            };
            for needle in strings(&needles) {
                if file.content.contains(&needle) != present {
                    check.fail(format!("{label}{path} {key} {needle:?} failed"));
                }
            }
        }
    }
    if let Some(edits) = expect.get("edits").and_then(Value::as_u64) {
        check.expect_eq(
            &format!("{label}edit count"),
            parsed.edits.len() as u64,
            edits,
        );
    }
    check_diagnostics(check, label, expect, &parsed.diagnostics);
    if let Some(needles) = expect.get("tail_contains") {
        let tail = parsed.continuation_prompt_tail().unwrap_or_default();
        for needle in strings(needles) {
            if !tail.contains(&needle) {
                check.fail(format!(
                    "{label}continuation tail lacks {needle:?}:\n{tail}"
                ));
            }
        }
    }
    if let Some(file) = expect.get("continuation").and_then(Value::as_str) {
        if let Some(text) = check.read_text(file) {
            let resumed = FileParser::resume(parsed.clone(), &text);
            let after = expect
                .get("after_continuation")
                .cloned()
                .unwrap_or(Value::Null);
            check_files(check, &format!("{label}after {file}: "), &after, &resumed);
        }
    }
}

fn check_sse(check: &mut Check<'_>, expect: &Value, bytes: &[u8]) {
    let whole = sse::collect([bytes]);
    let sizes: Vec<usize> = expect
        .get("chunk_sizes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64().map(|n| n as usize))
                .collect()
        })
        .unwrap_or_else(|| vec![1, 4, 64]);
    for size in sizes {
        if sse::collect(bytes.chunks(size)) != whole {
            check.fail(format!(
                "events differ when the stream arrives in {size}-byte chunks"
            ));
        }
    }
    if let Some(content) = expect.get("content").and_then(Value::as_str) {
        check.expect_eq("content", whole.content.as_str(), content);
    }
    if let Some(usage) = expect.get("usage") {
        let actual = whole
            .usage
            .map(|(p, c)| serde_json::json!([p, c]))
            .unwrap_or(Value::Null);
        check.expect_eq("usage", &actual, usage);
    }
    if let Some(reason) = expect.get("finish_reason") {
        check.expect_eq(
            "finish_reason",
            whole.finish_reason.as_deref(),
            reason.as_str(),
        );
    }
    if let Some(done) = expect.get("done").and_then(Value::as_bool) {
        check.expect_eq("done", whole.done, done);
    }
    if let Some(limit) = expect.get("hit_token_limit").and_then(Value::as_bool) {
        check.expect_eq("hit_token_limit", whole.hit_token_limit(), limit);
    }
    if let Some(n) = expect.get("reasoning_chars").and_then(Value::as_u64) {
        check.expect_eq("reasoning_chars", whole.reasoning_chars as u64, n);
    }
    if let Some(errors) = expect.get("errors") {
        check.expect_eq("errors", whole.errors.clone(), strings(errors));
    }
    check_diagnostics(check, "", expect, &whole.diagnostics);
    if let Some(files) = expect.get("files") {
        let parsed = parse_files_every_way(check, &whole.content);
        check_files(check, "files in content: ", files, &parsed);
    }
    if let Some(plan) = expect.get("plan") {
        check_plan(check, "plan in content: ", plan, &whole.content);
    }
}

fn check_edit(check: &mut Check<'_>, expect: &Value, text: &str) {
    let parsed = parse_files_every_way(check, text);
    check_diagnostics(check, "", expect, &parsed.diagnostics);
    if let Some(files) = expect.get("files") {
        check.expect_eq(
            "files",
            parsed.paths(),
            strings(files).iter().map(String::as_str).collect(),
        );
    }
    if let Some(n) = expect.get("edits").and_then(Value::as_u64) {
        check.expect_eq("edit count", parsed.edits.len() as u64, n);
    }
    let path = expect
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or("worker.js");
    let Some(original_file) = expect.get("original").and_then(Value::as_str) else {
        return check.fail("an edit fixture needs \"original\"");
    };
    let Some(original) = check.read_text(original_file) else {
        return;
    };
    let blocks: Vec<EditBlock> = parsed
        .edits
        .iter()
        .filter(|e| e.path == path)
        .flat_map(|e| e.blocks.iter().cloned())
        .collect();
    let ok = expect.get("ok").and_then(Value::as_bool).unwrap_or(true);
    match (apply_edits_report(&original, &blocks), ok) {
        (Ok(outcome), true) => {
            if let Some(strategies) = expect.get("strategies") {
                let actual: Vec<&str> = outcome.strategies.iter().map(strategy_name).collect();
                check.expect_eq(
                    "strategies",
                    actual,
                    strings(strategies).iter().map(String::as_str).collect(),
                );
            }
            for (key, present) in [("result_contains", true), ("result_not_contains", false)] {
                for needle in strings(expect.get(key).unwrap_or(&Value::Null)) {
                    if outcome.content.contains(&needle) != present {
                        check.fail(format!("{key} {needle:?} failed"));
                    }
                }
            }
            if expect
                .get("result_equals_original")
                .and_then(Value::as_bool)
                == Some(true)
                && outcome.content != original
            {
                check.fail("the result should equal the original");
            }
        }
        (Err(err), false) => {
            let message = err.to_string();
            for needle in strings(expect.get("error_contains").unwrap_or(&Value::Null)) {
                if !message.contains(&needle) {
                    check.fail(format!("error {message:?} lacks {needle:?}"));
                }
            }
        }
        (Ok(outcome), false) => check.fail(format!(
            "expected the edit to fail, it applied with {:?}",
            outcome.strategies
        )),
        (Err(err), true) => check.fail(format!("expected the edit to apply, got: {err}")),
    }
}

/// Files named by an expectation (originals, continuations) rather than being fixtures themselves.
fn referenced_files(expect: &Value, out: &mut BTreeSet<String>) {
    for key in ["original", "continuation"] {
        if let Some(file) = expect.get(key).and_then(Value::as_str) {
            out.insert(file.to_string());
        }
    }
    if let Some(after) = expect.get("after_continuation") {
        referenced_files(after, out);
    }
}

#[test]
fn every_model_output_fixture_meets_its_expectation() {
    let dir = fixture_dir();
    let entries: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let mut names: Vec<&str> = entries
        .iter()
        .filter_map(|f| f.strip_suffix(".expect.json"))
        .collect();
    names.sort_unstable();
    assert!(
        names.len() >= 40,
        "only {} fixtures in {}",
        names.len(),
        dir.display()
    );

    let mut failures = Vec::new();
    let mut referenced = BTreeSet::new();
    for name in &names {
        let mut check = Check {
            name,
            failures: Vec::new(),
        };
        let expect: Value = match fs::read_to_string(dir.join(format!("{name}.expect.json")))
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(err) => {
                failures.push(format!("{name}: bad expectation: {err}"));
                continue;
            }
        };
        referenced_files(&expect, &mut referenced);
        let Some(input) = check.read(&format!("{name}.txt")) else {
            failures.extend(check.failures);
            continue;
        };
        let text = String::from_utf8(input.clone());
        match (expect.get("kind").and_then(Value::as_str), text) {
            (Some("sse"), _) => check_sse(&mut check, &expect, &input),
            (Some("plan"), Ok(text)) => check_plan(&mut check, "", &expect, &text),
            (Some("files"), Ok(text)) => {
                let parsed = parse_files_every_way(&mut check, &text);
                check_files(&mut check, "", &expect, &parsed);
            }
            (Some("edit"), Ok(text)) => check_edit(&mut check, &expect, &text),
            (Some(_), Err(_)) => check.fail("input is not UTF-8"),
            (kind, _) => check.fail(format!("unknown kind {kind:?}")),
        }
        failures.extend(check.failures);
    }

    // Every file in the folder is a fixture, an expectation, a referenced sibling or the README.
    for file in &entries {
        let known = file.ends_with(".expect.json")
            || file == "README.md"
            || referenced.contains(file)
            || file
                .strip_suffix(".txt")
                .is_some_and(|stem| names.contains(&stem));
        if !known {
            failures.push(format!("{file}: not a fixture and not referenced by one"));
        }
    }

    assert!(
        failures.is_empty(),
        "{} problem(s) in {} fixtures:\n\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
}
