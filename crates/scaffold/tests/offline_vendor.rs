//! The vendored front-end libraries (`prompts/runtime/vendor/`) are exactly what
//! `scripts/vendor.sh` makes from the pinned packages in node_modules. Skipped when node_modules
//! is absent (a Rust-only checkout): the copies are committed, node_modules is not.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn version(package: &str) -> String {
    let text = std::fs::read_to_string(root().join(format!("node_modules/{package}/package.json")))
        .expect("package.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
    json["version"].as_str().expect("version").to_string()
}

/// The same transformation as scripts/vendor.sh: a header, the hooks import rewritten to the
/// vendored preact, source-map comments removed.
fn expected(package: &str, license: &str, source: &str, rewrite: bool) -> String {
    let mut src =
        std::fs::read_to_string(root().join("node_modules").join(source)).expect("source");
    if rewrite {
        src = src.replace(r#"from"preact""#, r#"from"./preact.mjs""#);
    }
    let mut body = src
        .split('\n')
        .filter(|l| !l.starts_with("//# sourceMappingURL="))
        .collect::<Vec<_>>()
        .join("\n");
    if !body.ends_with('\n') {
        body.push('\n');
    }
    format!(
        "/* {package} {} ({license}), vendored by scripts/vendor.sh; license text in LICENSES.txt */\n{body}",
        version(package)
    )
}

#[test]
fn vendored_libraries_match_node_modules() {
    if !root().join("node_modules/preact/package.json").exists() {
        eprintln!(
            "node_modules is absent: skipping the vendored-copy check (run npm ci to enable it)"
        );
        return;
    }
    let vendor = root().join("prompts/runtime/vendor");
    let cases = [
        (
            "preact.mjs",
            expected(
                "preact",
                "MIT License",
                "preact/dist/preact.module.js",
                false,
            ),
        ),
        (
            "hooks.mjs",
            expected(
                "preact",
                "MIT License",
                "preact/hooks/dist/hooks.module.js",
                true,
            ),
        ),
        (
            "htm.mjs",
            expected("htm", "Apache License 2.0", "htm/dist/htm.module.js", false),
        ),
    ];
    for (file, want) in cases {
        let got = std::fs::read_to_string(vendor.join(file)).expect("vendored file");
        assert!(
            got == want,
            "prompts/runtime/vendor/{file} differs from node_modules; run scripts/vendor.sh"
        );
    }
    let licenses = std::fs::read_to_string(vendor.join("LICENSES.txt")).expect("LICENSES.txt");
    for package in ["preact", "htm"] {
        let text = std::fs::read_to_string(root().join(format!("node_modules/{package}/LICENSE")))
            .unwrap();
        assert!(
            licenses.contains(text.trim_end()),
            "LICENSES.txt lacks the {package} license; run scripts/vendor.sh"
        );
        assert!(licenses.contains(&format!("{package} {}", version(package))));
    }
}

#[test]
fn package_json_pins_exact_versions_of_the_vendored_libraries() {
    let text = std::fs::read_to_string(root().join("package.json")).expect("package.json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (package, file) in [("preact", "preact.mjs"), ("htm", "htm.mjs")] {
        let pinned = json["devDependencies"][package]
            .as_str()
            .unwrap_or_else(|| panic!("package.json does not list {package}"));
        assert!(
            pinned.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "{package} must be pinned exactly, not {pinned:?}"
        );
        let vendored =
            std::fs::read_to_string(root().join(format!("prompts/runtime/vendor/{file}"))).unwrap();
        assert!(
            vendored.starts_with(&format!("/* {package} {pinned} ")),
            "the vendored {package} is not version {pinned}; run npm ci && scripts/vendor.sh"
        );
    }
}
