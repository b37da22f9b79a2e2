//! The `kiln` command line against a real session: an API token in `KILN_TOKEN`, a prompt built to
//! a live app with `--wait` (exit 0), a failed build (exit 1), usage errors (exit 2), and
//! `kiln login` keeping a session token.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        the_cli_builds_a_prompt_to_a_live_app_and_exits_by_outcome,
        the_cli_signs_in_and_keeps_its_token,
        the_cli_cancels_a_build_in_progress_and_refuses_an_ended_one,
    ]
}

fn kiln(k: &Kiln, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.arg("--url")
        .arg(&k.base)
        .args(args)
        .env_remove("KILN_TOKEN")
        .env_remove("KILN_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().expect("run kiln");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("kiln finishes")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn the_cli_builds_a_prompt_to_a_live_app_and_exits_by_outcome(k: &Kiln) {
    let session = k.api.new_user();
    let token = k
        .api
        .post("/api/tokens", Some(&session), &json!({ "name": "cli" }))
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let env = [("KILN_TOKEN", token.as_str())];

    let made = kiln(k, &env, &["--json", "new", "Cli Reading"], None);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made));
    let project: Value = serde_json::from_slice(&made.stdout).unwrap();
    let slug = project["slug"].as_str().unwrap().to_string();

    let built = kiln(k, &env, &["build", &slug, "a reading list", "--wait"], None);
    assert_eq!(built.status.code(), Some(0), "{}", text(&built));
    assert!(
        String::from_utf8_lossy(&built.stdout).contains("live at"),
        "{}",
        text(&built)
    );
    assert_eq!(k.api.get_app(&slug, "/").status, 200);

    // A build that fails (a terminal fault injected in the test session) exits 1 with the reason.
    let failed = kiln(
        k,
        &env,
        &[
            "--header",
            "x-kiln-faults: migrate:1:terminal",
            "build",
            &slug,
            "a reading list with notes",
            "--wait",
        ],
        None,
    );
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("build failed at migrate"),
        "{}",
        text(&failed)
    );

    // Rolling back to the version that is live already changes nothing, and says so.
    let same = kiln(k, &env, &["rollback", &slug, "v1", "--wait"], None);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(
        String::from_utf8_lossy(&same.stdout).contains("already live"),
        "{}",
        text(&same)
    );
    assert_eq!(
        kiln(k, &env, &["rollback", &slug, "latest"], None)
            .status
            .code(),
        Some(2)
    );

    let listed = kiln(k, &env, &["--json", "projects"], None);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    let projects: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(projects[0]["slug"], slug.as_str());

    // Usage errors exit 2; API refusals exit 1 with the API's message.
    assert_eq!(kiln(k, &env, &[], None).status.code(), Some(2));
    assert_eq!(
        kiln(k, &env, &["build", &slug], None).status.code(),
        Some(2)
    );
    assert_eq!(kiln(k, &env, &["frobnicate"], None).status.code(), Some(2));
    let empty = kiln(k, &env, &["build", &slug, ""], None);
    assert_eq!(empty.status.code(), Some(1), "{}", text(&empty));
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("prompt"),
        "{}",
        text(&empty)
    );
    let missing = kiln(k, &env, &["build", "no-such-project", "x"], None);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    let signed_out = kiln(k, &[], &["projects"], None);
    assert_eq!(signed_out.status.code(), Some(1), "{}", text(&signed_out));
}

fn the_cli_signs_in_and_keeps_its_token(k: &Kiln) {
    let email = crate::client::unique_email();
    k.api.register(&email, "correct horse battery");
    let home = std::env::temp_dir().join(format!("kiln-cli-{}-{}", std::process::id(), k.port));
    std::fs::create_dir_all(&home).unwrap();
    let config = home.to_str().unwrap().to_string();
    let env = [("XDG_CONFIG_HOME", config.as_str())];
    let wrong = kiln(k, &env, &["login", &email], Some("not the password\n"));
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    let ok = kiln(k, &env, &["login", &email], Some("correct horse battery\n"));
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let token_file = home.join("kiln").join("token");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token is readable by its owner only");
    let made = kiln(k, &env, &["new", "From Login"], None);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made));
    std::fs::remove_dir_all(&home).unwrap();
}

fn the_cli_cancels_a_build_in_progress_and_refuses_an_ended_one(k: &Kiln) {
    let session = k.api.new_user();
    let env = [("KILN_TOKEN", session.as_str())];
    let made = kiln(k, &env, &["--json", "new", "Cli Cancel"], None);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made));
    let project: Value = serde_json::from_slice(&made.stdout).unwrap();
    let slug = project["slug"].as_str().unwrap().to_string();
    // The codegen step stalls (a test hook passed as an extra header), so the build is in progress.
    let requested = kiln(
        k,
        &env,
        &[
            "--json",
            "--header",
            "x-kiln-faults: codegen:1:slow",
            "build",
            &slug,
            "a reading list",
        ],
        None,
    );
    assert_eq!(requested.status.code(), Some(0), "{}", text(&requested));
    let build = serde_json::from_slice::<Value>(&requested.stdout).unwrap()["build_id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while k
        .api
        .get(&format!("/api/builds/{build}"), Some(&session))
        .json()["build"]["current_step"]
        != "codegen"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the build never reached codegen"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let cancelled = kiln(k, &env, &["cancel", &build], None);
    assert_eq!(cancelled.status.code(), Some(0), "{}", text(&cancelled));
    assert!(
        String::from_utf8_lossy(&cancelled.stdout).contains("cancelled during codegen"),
        "{}",
        text(&cancelled)
    );
    let b = k
        .api
        .get(&format!("/api/builds/{build}"), Some(&session))
        .json();
    assert_eq!(b["build"]["status"], "cancelled", "{b}");
    let next = kiln(k, &env, &["build", &slug, "a reading list", "--wait"], None);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    let newest = k
        .api
        .get(
            &format!("/api/projects/{}/builds", project["id"].as_str().unwrap()),
            Some(&session),
        )
        .json()["builds"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = kiln(k, &env, &["cancel", &newest], None);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already succeeded"),
        "{}",
        text(&refused)
    );
    let usage = kiln(k, &env, &["cancel"], None);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
}
