//! The README's first command, `make dev` (scripts/dev.sh), run as a person runs it: with
//! `DEPLOY_TARGET=cloudflare` it starts the Cloudflare API double next to Kiln, a prompt becomes
//! a live app through the double's REST API, and stopping the command stops the double too.
//!
//! The scenario ignores the session it is given: it starts its own `scripts/dev.sh` in its own
//! process group, on free ports and a fresh state dir, and stops exactly that group.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{free_port, random_hex, root};
use crate::{scenarios, Api, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![make_dev_on_the_cloudflare_target_builds_an_app_through_the_double_and_stops_it]
}

/// `scripts/dev.sh` in its own process group; the group is stopped when this is dropped.
struct DevServer {
    child: Child,
}

impl DevServer {
    fn stop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: signals the process group this test started, nothing else.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

fn answers(url: &str) -> bool {
    agent().get(url).call().is_ok_and(|r| r.status() == 200)
}

fn poll(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn make_dev_on_the_cloudflare_target_builds_an_app_through_the_double_and_stops_it(_k: &Kiln) {
    let (port, cf_port) = (free_port(), free_port());
    let state = std::env::temp_dir().join(format!("kiln-make-dev-{}", random_hex(4)));
    let log = std::fs::File::create(std::env::temp_dir().join(format!("kiln-make-dev-{port}.log")))
        .expect("log file");
    let child = Command::new("bash")
        .arg(root().join("scripts/dev.sh"))
        .current_dir(root())
        .env("DEPLOY_TARGET", "cloudflare")
        .env("PORT", port.to_string())
        .env("CF_API_PORT", cf_port.to_string())
        .env("KILN_STATE", &state)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start scripts/dev.sh");
    let mut dev = DevServer { child };
    let base = format!("http://127.0.0.1:{port}");
    let double = format!("http://127.0.0.1:{cf_port}/__double/health");
    poll(
        "make dev answers /api/health",
        Duration::from_secs(240),
        || answers(&format!("{base}/api/health")),
    );
    assert!(answers(&double), "the double answers its health check");

    let api = Api::new(&base, port);
    let token = api.new_user();
    let project = api.create_project(&token, "Dev Poems");
    let (id, slug) = (
        project["id"].as_str().unwrap().to_string(),
        project["slug"].as_str().unwrap().to_string(),
    );
    let r = api.post(
        &format!("/api/projects/{id}/builds"),
        Some(&token),
        &serde_json::json!({ "prompt": "a poetry blog that visitors can read without signing in" }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let build = r.json()["build_id"].as_str().unwrap().to_string();
    let mut status = String::new();
    poll("the build ends", Duration::from_secs(180), || {
        let b = api.get(&format!("/api/builds/{build}"), Some(&token));
        status = b.json()["build"]["status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        matches!(status.as_str(), "succeeded" | "failed" | "cancelled")
    });
    assert_eq!(
        status, "succeeded",
        "the build under make dev's cloudflare target"
    );
    let calls = agent()
        .get(&format!("http://127.0.0.1:{cf_port}/__double/calls"))
        .call()
        .expect("calls")
        .body_mut()
        .read_to_string()
        .expect("calls body");
    for call in [
        "/d1/database",
        "/assets-upload-session",
        "/workers/dispatch/namespaces/",
    ] {
        assert!(calls.contains(call), "no {call} call in {calls}");
    }
    let page = api.get_app(&slug, "/");
    assert_eq!(
        page.status, 200,
        "the app answers at its host: {}",
        page.body
    );
    let plan = api
        .get(&format!("/api/builds/{build}/plan"), Some(&token))
        .json()["plan"]
        .clone();
    let public = plan["entities"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["visibility"] == "public"))
        .unwrap_or_else(|| panic!("the plan has a public entity: {plan}"));
    let list = api.get_app(&slug, &format!("/api/{}", public["name"].as_str().unwrap()));
    assert_eq!(
        list.status, 200,
        "a visitor reads the public list: {}",
        list.body
    );

    dev.stop();
    poll(
        "the double stops with make dev",
        Duration::from_secs(20),
        || !answers(&double),
    );
    let _ = std::fs::remove_dir_all(&state);
}
