//! Tests of `instrument`: exact output for small snippets, and a corpus of tricky modules that must
//! parse again with the same line count.

use oxc_allocator::Allocator;
use oxc_ast::ast::SourceType;
use oxc_parser::Parser;

use super::*;
use planner::plan_from_prompt;
use scaffold::{generate, runtime_files};

const IMPORT: &str = "import { tick as __kiln_tick } from \"./_kiln_guard.js\";";

/// Parse errors of `source` as an ES module.
fn parse_errors(source: &str) -> Vec<String> {
    let allocator = Allocator::default();
    Parser::new(&allocator, source, SourceType::mjs())
        .parse()
        .errors
        .iter()
        .map(|e| e.message.to_string())
        .collect()
}

/// Instruments `source` as worker.js and checks the result parses and keeps its line count.
fn instrumented(source: &str) -> String {
    let out = instrument("worker.js", source).unwrap_or_else(|e| panic!("{e}\n{source}"));
    let errors = parse_errors(&out);
    assert!(errors.is_empty(), "{errors:?}\n{out}");
    assert_eq!(out.lines().count(), source.lines().count(), "{out}");
    out
}

/// The instrumented body of `source`, without the import.
fn body(source: &str) -> String {
    let out = instrumented(source);
    out.strip_prefix(IMPORT)
        .unwrap_or_else(|| panic!("no import at the start: {out}"))
        .to_string()
}

#[test]
fn every_loop_form_ticks_at_the_start_of_its_body() {
    let cases = [
        ("while (a) { b(); }", "while (a) {__kiln_tick(); b(); }"),
        ("while (true) {}", "while (true) {__kiln_tick();}"),
        ("for (;;);", "for (;;){__kiln_tick();;}"),
        ("for (;;) x++;", "for (;;) {__kiln_tick();x++;}"),
        (
            "for (let i = 0; i < 3; i++) {}",
            "for (let i = 0; i < 3; i++) {__kiln_tick();}",
        ),
        (
            "for (const k in o) f(k);",
            "for (const k in o) {__kiln_tick();f(k);}",
        ),
        (
            "for (const v of list) { f(v) }",
            "for (const v of list) {__kiln_tick(); f(v) }",
        ),
        (
            "async function g() { for await (const v of s) f(v); }",
            "async function g() {__kiln_tick(); for await (const v of s) {__kiln_tick();f(v);} }",
        ),
        (
            "do x++; while (x < 3);",
            "do {__kiln_tick();x++;} while (x < 3);",
        ),
        (
            "do { x++ } while (x < 3)",
            "do {__kiln_tick(); x++ } while (x < 3)",
        ),
        (
            "while (a) while (b) c();",
            "while (a) {__kiln_tick();while (b) {__kiln_tick();c();}}",
        ),
        (
            "while (a) if (b) c(); else d();",
            "while (a) {__kiln_tick();if (b) c(); else d();}",
        ),
        ("while (a) b()\nc()", "while (a) {__kiln_tick();b()}\nc()"),
    ];
    for (source, expected) in cases {
        assert_eq!(body(source), expected, "{source}");
    }
}

#[test]
fn every_function_form_ticks_at_the_start_of_its_body() {
    let cases = [
        ("function f() { return 1; }", "function f() {__kiln_tick(); return 1; }"),
        ("const f = function () {};", "const f = function () {__kiln_tick();};"),
        ("async function f() {}", "async function f() {__kiln_tick();}"),
        ("function* g() { yield 1; }", "function* g() {__kiln_tick(); yield 1; }"),
        ("async function* g() {}", "async function* g() {__kiln_tick();}"),
        ("const o = { m() {}, get x() { return 1; }, set x(v) {} };",
         "const o = { m() {__kiln_tick();}, get x() {__kiln_tick(); return 1; }, set x(v) {__kiln_tick();} };"),
        ("class A extends B { constructor() { super(); } static s() {} #p() {} get g() { return 1; } }",
         "class A extends B { constructor() {__kiln_tick(); super(); } static s() {__kiln_tick();} #p() {__kiln_tick();} get g() {__kiln_tick(); return 1; } }"),
        ("class A { static { for (;;) break; } x = () => 1; }",
         "class A { static { for (;;) {__kiln_tick();break;} } x = () => (__kiln_tick(), 1); }"),
        ("const f = () => {};", "const f = () => {__kiln_tick();};"),
        ("const f = async (x) => { await x; };", "const f = async (x) => {__kiln_tick(); await x; };"),
        ("const f = () => ({ a: 1 });", "const f = () => (__kiln_tick(), ({ a: 1 }));"),
        ("const f = x => x * 2;", "const f = x => (__kiln_tick(), x * 2);"),
        ("const f = a => b => c;", "const f = a => (__kiln_tick(), b => (__kiln_tick(), c));"),
        ("const f = async x => await x;", "const f = async x => (__kiln_tick(), await x);"),
        ("const f = () => (a, b);", "const f = () => (__kiln_tick(), (a, b));"),
        ("export default { async fetch(r) { return r; } };",
         "export default { async fetch(r) {__kiln_tick(); return r; } };"),
    ];
    for (source, expected) in cases {
        assert_eq!(body(source), expected, "{source}");
    }
}

#[test]
fn a_tick_goes_after_the_directive_prologue() {
    assert_eq!(
        body("function f() { \"use strict\"; return 1; }"),
        "function f() { \"use strict\";__kiln_tick(); return 1; }"
    );
    assert_eq!(
        body("function f() {\n  'use strict'\n  return 1;\n}"),
        "function f() {\n  'use strict';__kiln_tick();\n  return 1;\n}"
    );
    assert_eq!(
        body("const f = () => { \"use strict\"; \"x\"; g(); };"),
        "const f = () => { \"use strict\"; \"x\";__kiln_tick(); g(); };"
    );
}

#[test]
fn labels_still_name_their_loops() {
    let source = "let n = 0;\nouter: for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) { if (j) continue outer; n++; }\n\
                  inner: while (n < 9) { n++; if (n > 5) break inner; }\n";
    let out = body(source);
    assert!(out.contains("outer: for (let i = 0; i < 3; i++) {__kiln_tick();for (let j = 0; j < 3; j++) {__kiln_tick(); if (j) continue outer; n++; }}"), "{out}");
    assert!(
        out.contains("inner: while (n < 9) {__kiln_tick(); n++;"),
        "{out}"
    );
}

#[test]
fn braces_inside_strings_templates_regexes_and_comments_are_not_bodies() {
    let source = "// while(true){ }\n/* for(;;){ */\nconst t = `{ ${ { a: 1 }.a } } while(1){`;\n\
                  const r = /[{]}\\{ while(x){/g;\nconst s = \"function(){\";\nwhile (r.test(s)) { t; }\n";
    let out = body(source);
    assert_eq!(out.matches("__kiln_tick").count(), 1, "{out}");
    assert!(
        out.contains("while (r.test(s)) {__kiln_tick(); t; }"),
        "{out}"
    );
    assert!(
        out.starts_with(
            "// while(true){ }\n/* for(;;){ */\nconst t = `{ ${ { a: 1 }.a } } while(1){`;"
        ),
        "{out}"
    );
}

#[test]
fn nested_constructs_each_get_their_tick() {
    let source = "export function outer(list) {\n  return list.map((x) => {\n    for (const y of x) {\n      \
                  while (y.next()) y.step();\n    }\n    return () => ({ x });\n  });\n}\n";
    let out = body(source);
    assert_eq!(out.matches("__kiln_tick()").count(), 5, "{out}");
    assert!(
        out.contains("while (y.next()) {__kiln_tick();y.step();}"),
        "{out}"
    );
    assert!(
        out.contains("return () => (__kiln_tick(), ({ x }));"),
        "{out}"
    );
}

#[test]
fn the_import_is_relative_to_the_module_and_keeps_the_first_line() {
    let out = instrument("src/db/query.js", "export const a = 1;\nfor (;;) {}\n").unwrap();
    assert_eq!(
        out,
        "import { tick as __kiln_tick } from \"../../_kiln_guard.js\";export const a = 1;\nfor (;;) {__kiln_tick();}\n"
    );
    let out = instrument("worker.js", "#!/usr/bin/env node\nf();\n").unwrap();
    assert_eq!(out, format!("#!/usr/bin/env node\n{IMPORT}f();\n"));
    assert_eq!(instrument("worker.js", "").unwrap(), IMPORT);
}

#[test]
fn the_same_input_gives_the_same_output() {
    let source = "const f = a => b => (c => d)(a);\nwhile (a) while (b) for (;;) x = y => z;\n";
    let first = instrumented(source);
    for _ in 0..3 {
        assert_eq!(instrumented(source), first);
    }
    assert!(first.contains("x = y => (__kiln_tick(), z);}}}"), "{first}");
}

#[test]
fn a_module_that_does_not_parse_is_refused_with_its_line() {
    let error = instrument("src/a.js", "const a = 1;\nwhile (\n").unwrap_err();
    assert!(
        matches!(error, InstrumentError::Syntax { line: 2 | 3, .. }),
        "{error}"
    );
    assert!(error.to_string().starts_with("src/a.js:"), "{error}");
}

#[test]
fn a_name_that_could_shadow_the_guard_is_refused() {
    for source in [
        "const __kiln_tick = () => {};\nwhile (true) {}\n",
        "function f() {}\n__kiln_tick = f;\n",
        "function g(__kilnx) {}\n",
    ] {
        let error = instrument("worker.js", source).unwrap_err();
        assert!(
            matches!(error, InstrumentError::Reserved { .. }),
            "{source}: {error}"
        );
    }
    let error = instrument("worker.js", "let a;\nlet __kiln = 1;\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "worker.js:2: the name __kiln is reserved for Kiln's CPU guard; rename it"
    );
}

/// The prompts of the offline generator's shapes (as in the validator's tests).
const PROMPTS: [&str; 5] = [
    "a task manager with projects and tasks",
    "a photo journal with file uploads",
    "a simple CRM for my small business to manage clients and deals",
    "a plant diary with photos",
    "make me something nice",
];

#[test]
fn the_offline_generators_worker_modules_instrument_and_parse_again() {
    for prompt in PROMPTS {
        let plan = plan_from_prompt(prompt)
            .expect("plan")
            .validate()
            .expect("valid plan");
        let files = generate(&plan);
        let mut instrumented_modules = 0;
        for (path, content) in &files {
            if path == "worker.js" || (path.starts_with("src/") && path.ends_with(".js")) {
                let out = instrument(path, content).unwrap_or_else(|e| panic!("{prompt}: {e}"));
                assert!(parse_errors(&out).is_empty(), "{prompt}: {path}");
                assert_eq!(out.lines().count(), content.lines().count());
                instrumented_modules += 1;
            }
        }
        assert!(instrumented_modules >= 1, "{prompt}");
    }
}

#[test]
fn the_shipped_runtime_instruments_and_parses_again() {
    for (path, content) in runtime_files() {
        if path == "_kiln/runtime.js" {
            let out = instrument(path, content).expect("instrument the runtime");
            assert!(out.starts_with("import { tick as __kiln_tick } from \"../_kiln_guard.js\";"));
            assert!(parse_errors(&out).is_empty());
            assert!(out.matches("__kiln_tick();").count() > 20);
        }
    }
}
