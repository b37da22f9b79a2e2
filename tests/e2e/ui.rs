//! The builder UI in a real browser: `tests/ui/builder.test.mjs` (playwright-core driving
//! Debian's chromium) runs against this session and its exit code is the verdict. Its output,
//! and screenshots in `target/ui-screenshots/`, show what it saw.

use std::path::PathBuf;
use std::process::Command;

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![the_builder_takes_a_person_from_sign_up_to_a_live_app_and_shows_failures_plainly]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn the_builder_takes_a_person_from_sign_up_to_a_live_app_and_shows_failures_plainly(k: &Kiln) {
    let chromium = std::env::var("KILN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).exists(),
        "{chromium} is missing: install it with `apt-get install -y chromium` (`make test` does)"
    );
    let status = Command::new("node")
        .arg("tests/ui/builder.test.mjs")
        .arg(&k.base)
        .current_dir(root())
        .status()
        .expect("run node tests/ui/builder.test.mjs");
    assert!(
        status.success(),
        "the browser test failed ({status}); see its output above and target/ui-screenshots/"
    );
}
