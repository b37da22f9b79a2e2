use super::*;
use proptest::prelude::*;

fn parse(text: &str) -> ParsedFiles {
    FileParser::parse(text)
}

fn kinds(parsed: &ParsedFiles) -> Vec<DiagnosticKind> {
    parsed.diagnostics.iter().map(|d| d.kind).collect()
}

#[test]
fn files_are_read_and_prose_around_them_is_ignored() {
    let parsed = parse(
        "Sure! Here is your app.\n\n=== FILE: worker.js ===\nexport default {};\n=== END FILE ===\n\nAnd the schema:\n=== FILE: migrations/0001_init.sql ===\nCREATE TABLE t (id INTEGER);\n=== END FILE ===\nDone!",
    );
    assert_eq!(parsed.paths(), ["worker.js", "migrations/0001_init.sql"]);
    assert_eq!(parsed.files[1].content, "CREATE TABLE t (id INTEGER);\n");
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert!(!parsed.truncated());
}

#[test]
fn header_variations_are_recognised() {
    for header in [
        "=== FILE: worker.js ===",
        "===FILE: worker.js===",
        "=== file: worker.js ===",
        "  ===   FILE:   worker.js   ===  ",
        "==== FILE: `./worker.js` ====",
        "**=== FILE: worker.js ===**",
        "### === FILE: worker.js",
        "=== FILE worker.js ===",
    ] {
        let parsed = parse(&format!("{header}\nx();\n=== END FILE ===\n"));
        assert_eq!(parsed.paths(), ["worker.js"], "{header}");
        assert_eq!(parsed.files[0].content, "x();\n", "{header}");
    }
    for end in [
        "===END FILE===",
        "=== end file ===",
        "=== END ===",
        "=== END FILE: worker.js ===",
    ] {
        let parsed = parse(&format!(
            "=== FILE: worker.js ===\nx();\n{end}\ntrailing prose\n"
        ));
        assert_eq!(parsed.files[0].content, "x();\n", "{end}");
        assert!(parsed.diagnostics.is_empty(), "{end}");
    }
}

#[test]
fn lines_that_only_resemble_markers_are_content() {
    let code = "if (a\n  === b) {}\nconst s = '=== FILE';\n=======\n";
    let parsed = parse(&format!(
        "=== FILE: worker.js ===\n{code}=== END FILE ===\n"
    ));
    assert_eq!(parsed.files[0].content, code);
}

#[test]
fn a_missing_end_marker_ends_the_file_at_the_next_header() {
    let parsed = parse(
        "=== FILE: worker.js ===\na();\n=== FILE: public/app.js ===\nb();\n=== END FILE ===\n",
    );
    assert_eq!(parsed.files[0].content, "a();\n");
    assert_eq!(kinds(&parsed), [DiagnosticKind::MissingEndMarker]);
    assert_eq!(parsed.diagnostics[0].path.as_deref(), Some("worker.js"));
    assert_eq!(parsed.diagnostics[0].line, Some(1));
}

#[test]
fn an_answer_cut_off_inside_a_file_needs_a_continuation() {
    let parsed = parse("=== FILE: worker.js ===\n```js\nline1();\nline2();\nconst x = fet");
    assert!(parsed.truncated());
    assert_eq!(parsed.unfinished_path(), Some("worker.js"));
    let file = parsed.file("worker.js").unwrap();
    assert!(file.unterminated);
    assert_eq!(file.content, "line1();\nline2();\nconst x = fet");
    assert_eq!(
        parsed.continuation_prompt_tail().unwrap(),
        "line1();\nline2();\nconst x = fet"
    );
    assert_eq!(kinds(&parsed), [DiagnosticKind::Unterminated]);
}

#[test]
fn the_continuation_tail_is_the_last_twenty_lines() {
    let body: String = (1..=50).map(|i| format!("line{i}();\n")).collect();
    let parsed = parse(&format!("=== FILE: worker.js ===\n{body}"));
    let tail = parsed.continuation_prompt_tail().unwrap();
    assert!(tail.starts_with("line31();\n"), "{tail}");
    assert_eq!(tail.lines().count(), TAIL_LINES);
}

#[test]
fn a_closed_fence_at_the_end_of_the_answer_completes_the_file() {
    let parsed = parse("=== FILE: worker.js ===\n```js\nx();\n```\nThat's the worker.");
    assert!(!parsed.truncated());
    assert_eq!(parsed.files[0].content, "x();\n");
    assert!(!parsed.files[0].unterminated);
    assert_eq!(
        kinds(&parsed),
        [
            DiagnosticKind::MissingEndMarker,
            DiagnosticKind::DroppedText
        ]
    );
}

#[test]
fn a_partial_end_marker_at_the_very_end_completes_the_file() {
    let parsed = parse("=== FILE: worker.js ===\nx();\n=== END FI");
    assert!(!parsed.truncated());
    assert_eq!(parsed.files[0].content, "x();\n");
}

#[test]
fn the_last_complete_copy_of_a_duplicate_wins() {
    let parsed = parse(
        "=== FILE: worker.js ===\nv1();\n=== END FILE ===\n=== FILE: public/index.html ===\n<p>\n=== END FILE ===\n=== FILE: worker.js ===\nv2();\n=== END FILE ===\n",
    );
    assert_eq!(parsed.paths(), ["worker.js", "public/index.html"]);
    assert_eq!(parsed.files[0].content, "v2();\n");
    assert_eq!(kinds(&parsed), [DiagnosticKind::DuplicateFile]);
}

#[test]
fn a_cut_off_second_copy_keeps_the_first_but_still_asks_for_a_continuation() {
    let parsed =
        parse("=== FILE: worker.js ===\nv1();\n=== END FILE ===\n=== FILE: worker.js ===\nv2(");
    assert_eq!(parsed.files[0].content, "v1();\n");
    assert!(!parsed.files[0].unterminated);
    assert!(parsed.truncated());
    let resumed = FileParser::resume(parsed, ");\n=== END FILE ===\n");
    assert_eq!(resumed.files[0].content, "v2();\n");
    assert!(!resumed.truncated());
}

#[test]
fn crlf_and_a_bom_are_removed() {
    let parsed = parse("\u{feff}Intro\r\n=== FILE: public/style.css ===\r\nbody { margin: 0; }\r\n=== END FILE ===\r\n");
    assert_eq!(parsed.files[0].content, "body { margin: 0; }\n");
    let bom_in_file = parse("=== FILE: public/a.js ===\n\u{feff}a();\n=== END FILE ===\n");
    assert_eq!(bom_in_file.files[0].content, "a();\n");
}

#[test]
fn a_bom_split_from_the_rest_still_counts_as_a_bom() {
    let mut parser = FileParser::new();
    parser.push("");
    parser.push("\u{feff}=== FILE: worker.js ===\nx\n=== END FILE ===\n");
    assert_eq!(parser.finish().paths(), ["worker.js"]);
}

#[test]
fn unsafe_paths_are_dropped_with_a_diagnostic_and_the_block_is_swallowed() {
    let parsed = parse(
        "=== FILE: ../wrangler.toml ===\nname = \"evil\"\n=== END FILE ===\n=== FILE: worker.js ===\nok();\n=== END FILE ===\n=== FILE: .env ===\nSECRET=1\n",
    );
    assert_eq!(parsed.paths(), ["worker.js"]);
    assert_eq!(
        kinds(&parsed),
        [DiagnosticKind::UnsafePath, DiagnosticKind::UnsafePath]
    );
    assert!(parsed.diagnostics[0].message.contains("'..'"));
    assert!(parsed.diagnostics[1].message.contains("hidden"));
    assert!(!parsed.truncated(), "a dropped block cannot be continued");
}

#[test]
fn edits_are_parsed_into_blocks() {
    let parsed = parse(
        "I'll fix the route.\n=== EDIT: worker.js ===\n```js\n<<<<<<< SEARCH\n  return json(rows);\n=======\n  return json({ items: rows });\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nold();\n=======\n>>>>>>> REPLACE\n```\n=== END EDIT ===\n",
    );
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_eq!(
        parsed.edits,
        [FileEdit {
            path: "worker.js".into(),
            blocks: vec![
                EditBlock {
                    search: "  return json(rows);".into(),
                    replace: "  return json({ items: rows });".into()
                },
                EditBlock {
                    search: "old();".into(),
                    replace: String::new()
                },
            ],
        }]
    );
}

#[test]
fn an_edit_cut_off_mid_block_keeps_its_complete_blocks() {
    let parsed = parse(
        "=== EDIT: public/app.js ===\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nc\n=====",
    );
    assert_eq!(parsed.edits[0].blocks.len(), 1);
    assert_eq!(kinds(&parsed), [DiagnosticKind::MalformedEdit]);
}

#[test]
fn an_edit_without_blocks_is_reported() {
    let parsed = parse("=== EDIT: worker.js ===\nI changed the handler.\n=== END EDIT ===\n");
    assert!(parsed.edits.is_empty());
    assert_eq!(kinds(&parsed), [DiagnosticKind::MalformedEdit]);
}

#[test]
fn a_continuation_that_goes_on_mid_line_is_appended() {
    let first = parse("=== FILE: worker.js ===\nconst a = 1;\nconst b = ne");
    let done = FileParser::resume(
        first,
        "w Date();\n=== END FILE ===\n=== FILE: public/app.js ===\nx();\n=== END FILE ===\n",
    );
    assert_eq!(
        done.files[0].content,
        "const a = 1;\nconst b = new Date();\n"
    );
    assert_eq!(done.paths(), ["worker.js", "public/app.js"]);
    assert!(!done.truncated());
    assert!(!done.files[0].unterminated);
}

#[test]
fn a_continuation_repeating_the_last_lines_is_deduplicated() {
    let first = parse("=== FILE: worker.js ===\nfunction list() {\n  const rows = query('SELECT * FROM todos');\n  return new Resp");
    let done = FileParser::resume(
        first,
        "  const rows = query('SELECT * FROM todos');\n  return new Response(rows);\n}\n=== END FILE ===\n",
    );
    assert_eq!(
        done.files[0].content,
        "function list() {\n  const rows = query('SELECT * FROM todos');\n  return new Response(rows);\n}\n"
    );
}

#[test]
fn a_continuation_after_a_full_line_skips_repeated_lines() {
    let first = parse(
        "=== FILE: worker.js ===\nconst router = new Router();\nrouter.get('/api/todos', list);\n",
    );
    let done = FileParser::resume(
        first,
        "router.get('/api/todos', list);\nrouter.post('/api/todos', create);\n=== END FILE ===\n",
    );
    assert_eq!(
        done.files[0].content,
        "const router = new Router();\nrouter.get('/api/todos', list);\nrouter.post('/api/todos', create);\n"
    );
}

#[test]
fn short_repeated_lines_are_not_mistaken_for_overlap() {
    let first = parse("=== FILE: worker.js ===\nif (a) {\n  if (b) {\n  }\n");
    let done = FileParser::resume(first, "  }\n}\n=== END FILE ===\n");
    assert_eq!(done.files[0].content, "if (a) {\n  if (b) {\n  }\n  }\n}\n");
}

#[test]
fn a_continuation_that_repeats_the_header_and_restarts_replaces_the_file() {
    let first = parse("=== FILE: worker.js ===\nimport x from './x.js';\nconst a = ");
    let done = FileParser::resume(
        first,
        "Sorry, here is the whole file again:\n=== FILE: worker.js ===\nimport x from './x.js';\nconst a = 2;\n=== END FILE ===\n",
    );
    assert_eq!(
        done.files[0].content,
        "import x from './x.js';\nconst a = 2;\n"
    );
    assert!(done
        .diagnostics
        .iter()
        .all(|d| d.kind == DiagnosticKind::Unterminated));
}

#[test]
fn a_continuation_that_repeats_the_header_and_goes_on_is_merged() {
    let first =
        parse("=== FILE: worker.js ===\n```javascript\nimport x from './x.js';\nconst a = 1;\n");
    let done = FileParser::resume(
        first,
        "=== FILE: worker.js ===\n```javascript\nconst b = 2;\n```\n=== END FILE ===\n",
    );
    assert_eq!(
        done.files[0].content,
        "import x from './x.js';\nconst a = 1;\nconst b = 2;\n"
    );
}

#[test]
fn a_fenced_continuation_of_an_unfenced_file_loses_its_fence() {
    let first = parse("=== FILE: worker.js ===\nconst a = 1;\n");
    let done = FileParser::resume(
        first,
        "Continuing:\n```js\nconst b = 2;\n```\n=== END FILE ===\n",
    );
    assert_eq!(done.files[0].content, "const a = 1;\nconst b = 2;\n");
}

#[test]
fn a_continuation_that_is_cut_off_again_stays_resumable() {
    let first = parse("=== FILE: worker.js ===\na();\n");
    let second = FileParser::resume(first, "b();\nc(");
    assert!(second.truncated());
    assert_eq!(second.files[0].content, "a();\nb();\nc(");
    let third = FileParser::resume(second, ");\n=== END FILE ===\n");
    assert_eq!(third.files[0].content, "a();\nb();\nc();\n");
    assert!(!third.truncated());
}

#[test]
fn resume_survives_a_serde_round_trip() {
    let first = parse("=== FILE: worker.js ===\nconst a = 1;\nconst b = ");
    let stored = serde_json::to_string(&first).unwrap();
    let restored: ParsedFiles = serde_json::from_str(&stored).unwrap();
    assert!(restored.truncated());
    let done = FileParser::resume(restored, "2;\n=== END FILE ===\n");
    assert_eq!(done.files[0].content, "const a = 1;\nconst b = 2;\n");
}

#[test]
fn resume_without_an_unfinished_file_parses_more_files() {
    let first = parse("=== FILE: worker.js ===\na();\n=== END FILE ===\n");
    let done = FileParser::resume(
        first,
        "=== FILE: public/app.js ===\nb();\n=== END FILE ===\n",
    );
    assert_eq!(done.paths(), ["worker.js", "public/app.js"]);
}

#[test]
fn progress_is_visible_while_streaming() {
    let mut parser = FileParser::new();
    parser.push("=== FILE: worker.js ===\na();\n");
    assert_eq!(parser.current_path(), Some("worker.js"));
    assert_eq!(parser.completed_files(), 0);
    parser.push("=== END FILE ===\n");
    assert_eq!(parser.current_path(), None);
    assert_eq!(parser.completed_files(), 1);
}

#[test]
fn an_oversized_file_is_dropped() {
    let big = "x".repeat(1000);
    let body: String = std::iter::repeat_n(format!("{big}\n"), MAX_FILE_BYTES / 1000 + 2).collect();
    let parsed = parse(&format!(
        "=== FILE: public/big.txt ===\n{body}=== END FILE ===\n"
    ));
    assert!(parsed.files.is_empty());
    assert_eq!(kinds(&parsed), [DiagnosticKind::LimitExceeded]);
}

/// Lines that exercise every branch of the parser.
fn answer_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("=== FILE: worker.js ===".to_string()),
        Just("===FILE: public/app.js===".to_string()),
        Just("=== FILE: ../etc ===".to_string()),
        Just("=== END FILE ===".to_string()),
        Just("=== EDIT: worker.js ===".to_string()),
        Just("=== END EDIT ===".to_string()),
        Just("<<<<<<< SEARCH".to_string()),
        Just("=======".to_string()),
        Just(">>>>>>> REPLACE".to_string()),
        Just("```js".to_string()),
        Just("```".to_string()),
        Just("\u{feff}".to_string()),
        Just(String::new()),
        "[a-z(){};=' ]{0,20}",
        "\\PC{0,10}",
    ]
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let parsed = FileParser::parse(&text);
        let _ = parsed.continuation_prompt_tail();
        let _ = FileParser::resume(parsed, &text);
    }

    #[test]
    fn chunking_never_changes_the_result(
        lines in proptest::collection::vec(answer_line(), 0..40),
        crlf in any::<bool>(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..12),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let text = lines.join(eol);
        let whole = FileParser::parse(&text);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(text.len() + 1)).collect();
        points.push(0);
        points.push(text.len());
        points.sort_unstable();
        points.retain(|p| text.is_char_boundary(*p));
        let mut parser = FileParser::new();
        for pair in points.windows(2) {
            parser.push(&text[pair[0]..pair[1]]);
        }
        prop_assert_eq!(parser.finish(), whole.clone());
        // And resuming with anything never panics.
        let _ = FileParser::resume(whole, &text);
    }

    #[test]
    fn every_file_path_in_the_result_is_safe(lines in proptest::collection::vec(answer_line(), 0..30)) {
        let parsed = FileParser::parse(&lines.join("\n"));
        for file in &parsed.files {
            prop_assert!(check_path(&file.path).is_ok());
        }
        for edit in &parsed.edits {
            prop_assert!(check_path(&edit.path).is_ok());
        }
    }
}

#[test]
fn a_header_after_continued_code_does_not_discard_that_code() {
    let first = parse("=== FILE: worker.js ===\nline1();\n");
    let done = FileParser::resume(
        first,
        "line2();\nline3();\nline4();\nline5();\n=== FILE: worker.js ===\nline1();\nline2();\n=== END FILE ===\n",
    );
    // The continued copy (lines 1 to 5) was stored complete, then replaced by the later copy under
    // the usual duplicate rule; with a misread header it would have been lost without a warning.
    assert_eq!(done.files[0].content, "line1();\nline2();\n");
    let kinds = kinds(&done);
    assert!(
        kinds.contains(&DiagnosticKind::MissingEndMarker),
        "{kinds:?}"
    );
    assert!(kinds.contains(&DiagnosticKind::DuplicateFile), "{kinds:?}");
}

#[test]
fn an_explicit_no_change_line_is_recognised_with_the_usual_decorations() {
    use super::says_no_change;
    for yes in [
        "=== NO CHANGE ===",
        "The app already does this.\n=== NO CHANGE ===\n",
        "**=== no change ===**",
        "`=== NO_CHANGES ===`",
        "==== No-Change ====",
    ] {
        assert!(says_no_change(yes), "{yes}");
    }
    for no in [
        "No change is needed.",
        "= NO CHANGE =",
        "=== NO CHANGE HERE ===",
        "=== CHANGE ===",
        "=== FILE: worker.js ===",
    ] {
        assert!(!says_no_change(no), "{no}");
    }
}
