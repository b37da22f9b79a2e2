//! Runs the CPU and memory guard's JavaScript tests (`tests/generated-app/guard.test.mjs`, Node's
//! built-in test runner) on runaway samples instrumented by `validation::sandbox::instrument`.
//! Skipped when `node` is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use validation::sandbox::instrument;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn instrumented_samples() -> String {
    let samples = std::fs::read_to_string(root().join("tests/generated-app/guard-samples.js"))
        .expect("read the samples");
    instrument("samples.js", &samples).expect("instrument the samples")
}

#[test]
fn the_hand_instrumented_copy_in_the_javascript_test_matches_instrument() {
    let test = std::fs::read_to_string(root().join("tests/generated-app/guard.test.mjs"))
        .expect("read the test");
    for line in instrumented_samples().lines().skip(3) {
        assert!(
            test.contains(line),
            "guard.test.mjs lacks this line of the instrumented samples:\n{line}"
        );
    }
}

#[test]
fn the_guard_javascript_tests_pass_on_instrumented_code() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node is not installed: skipping the guard JavaScript tests");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiln-guard-samples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let samples = dir.join("samples.js");
    std::fs::write(&samples, instrumented_samples()).expect("write the samples");
    let out = Command::new("node")
        .arg("--test")
        .arg(root().join("tests/generated-app/guard.test.mjs"))
        .env("KILN_GUARD_SAMPLES", &samples)
        .output()
        .expect("run node --test");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "guard JavaScript tests failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
