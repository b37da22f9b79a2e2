//! The platform Worker reaches its bindings (D1, KV, R2, Queues, Workflows, assets, service
//! bindings, Durable Objects, AI) only through `src/adapters/`. This scans every Rust file under
//! `src/` outside that folder for the ways code reaches a binding and fails naming each
//! `file:line`. Reading plain vars and secrets (`env.var`, `env.secret`) is configuration, not a
//! binding, and stays allowed.

use std::fs;
use std::path::{Path, PathBuf};

/// What reaching a binding looks like in this code base: the `worker::Env` accessors (with an
/// argument, so `batch.queue()`, the name of a consumed batch's queue, is not one), D1
/// statements, the R2 stores' constructors over a raw bucket, and the Workflow bindings, which
/// are read from the JS environment object by name.
const PATTERNS: &[(&str, &str)] = &[
    ("ctx.db()", "the platform database accessor"),
    (".d1(", "a D1 binding"),
    (".kv(", "a KV binding"),
    (".bucket(", "an R2 binding"),
    (".queue(", "a Queue producer"),
    (".assets(", "the assets binding"),
    (".service(", "a service binding"),
    (".durable_object(", "a Durable Object namespace"),
    (".ai(", "the AI binding"),
    ("get_binding", "a binding by name"),
    (".prepare(", "a D1 statement"),
    ("R2EventLog::new", "the event log over a raw bucket"),
    ("R2CodeStore::new", "the code store over a raw bucket"),
    ("\"BUILD_WORKFLOW\"", "the build Workflow binding"),
    ("\"ROLLBACK_WORKFLOW\"", "the rollback Workflow binding"),
    ("workflow_binding", "a Workflow binding"),
    ("Reflect::get(env", "a binding read from the JS environment"),
];

/// The binding accesses on one line of code (comments are not code).
fn offences_in_line(line: &str) -> Vec<&'static str> {
    let code = match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    };
    PATTERNS
        .iter()
        .filter(|(needle, _)| {
            code.match_indices(needle).any(|(i, _)| {
                // An accessor call needs an argument: `.queue()` names a consumed batch's queue.
                !(needle.ends_with('(') && code[i + needle.len()..].starts_with(')'))
            })
        })
        .map(|(_, what)| *what)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn bindings_are_touched_only_in_adapters() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let adapters = src.join("adapters");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let scanned: Vec<_> = files.iter().filter(|f| !f.starts_with(&adapters)).collect();
    assert!(
        scanned.len() > 20,
        "expected the platform's sources under {}, found {}",
        src.display(),
        scanned.len()
    );
    let mut found = Vec::new();
    for file in scanned {
        let text = fs::read_to_string(file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            for what in offences_in_line(line) {
                found.push(format!(
                    "{}:{}: {what} outside src/adapters/: {}",
                    file.strip_prefix(root).unwrap_or(file).display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "move these into an adapter under src/adapters/ and call it instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_every_kind_of_binding_access() {
    for line in [
        "    let db = ctx.db()?;",
        "    env.d1(\"DB\")?",
        "    Ok(self.env.kv(\"SESSIONS\")?)",
        "    let bucket = ctx.env.bucket(\"STORE\")?;",
        "    ctx.env.queue(BINDING)?.send(job).await?;",
        "    Ok(env.assets(\"ASSETS\")?.fetch_request(req).await?)",
        "    let admin = env.service(\"APP_ADMIN\")?;",
        "    let ns = env.durable_object(\"APPS\")?;",
        "    let ai = env.ai(\"AI\")?;",
        "    let wf: JsValue = env.get_binding(\"X\")?;",
        "    db.prepare(\"SELECT 1\")",
        "    let log = R2EventLog::new(bucket);",
        "    let store = R2CodeStore::new(bucket);",
        "    Reflect::get(env_js, &\"BUILD_WORKFLOW\".into())",
        "    Reflect::get(env_js, &\"ROLLBACK_WORKFLOW\".into())",
        "    let wf = workflow_binding(env)?;",
    ] {
        assert!(!offences_in_line(line).is_empty(), "not caught: {line}");
    }
    for line in [
        "    let queue = batch.queue();",
        "    let hooks = env.var(\"KILN_TEST_HOOKS\");",
        "    let secret = env.secret(\"AUTH_SECRET\");",
        "    let store = Store::of(&ctx.env)?;",
        "    // ctx.env.bucket(\"STORE\") is reached through build_store",
    ] {
        assert_eq!(offences_in_line(line), Vec::<&str>::new(), "{line}");
    }
}
