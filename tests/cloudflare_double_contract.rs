//! Runs the Cloudflare API double's contract tests (`tests/cloudflare-double/test/`, Node's test
//! runner against a real `wrangler dev` of the double) as part of `cargo test`: the envelope,
//! the error codes (bad auth → 10000, duplicate D1 name → 7502, missing database → 7404), the
//! request-shape checks (multipart `metadata`, upload tokens) and the dispatch emulation.

use std::path::Path;
use std::process::Command;

#[test]
fn the_cloudflare_api_double_keeps_the_documented_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("node_modules/.bin/wrangler").exists(),
        "wrangler is missing: run `npm ci` (make test does)"
    );
    let out = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg(root.join("tests/cloudflare-double/test/contract.test.mjs"))
        .current_dir(root)
        .output()
        .expect("run node --test");
    assert!(
        out.status.success(),
        "the double's contract tests failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
