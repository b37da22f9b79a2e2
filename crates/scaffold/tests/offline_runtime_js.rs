//! Runs the app runtime's JavaScript unit tests (`tests/generated-app/runtime.test.mjs`, Node's
//! built-in test runner) as part of `cargo test`. Skipped when `node` is not installed.

use std::path::Path;
use std::process::Command;

#[test]
fn the_runtime_javascript_unit_tests_pass() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node is not installed: skipping the runtime JavaScript tests");
        return;
    }
    let tests =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/generated-app/runtime.test.mjs");
    let out = Command::new("node")
        .arg("--test")
        .arg(&tests)
        .output()
        .expect("run node --test");
    assert!(
        out.status.success(),
        "runtime JavaScript tests failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
