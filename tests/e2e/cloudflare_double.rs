//! Starts and stops the local Cloudflare API double (`tests/cloudflare-double`) for a session
//! whose deploy target is `cloudflare`: its own `wrangler dev` on a free port, in its own process
//! group, with a fresh random API token and account id and its own state directory. `Drop`
//! signals exactly that group (SIGTERM, then SIGKILL).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{free_port, random_hex, root};

/// A running double.
pub struct CloudflareDouble {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The API token the double accepts (the platform's `CLOUDFLARE_API_TOKEN`).
    pub token: String,
    /// The account id the double answers for.
    pub account: String,
    child: Child,
    dir: PathBuf,
    agent: ureq::Agent,
}

impl CloudflareDouble {
    /// Starts the double and waits until it answers.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "kiln-cf-double-{}-{}",
            std::process::id(),
            random_hex(4)
        ));
        fs::create_dir_all(&dir).expect("create the double's dir");
        let token = random_hex(20);
        let account = random_hex(16);
        let env_file = dir.join("double.env");
        fs::write(
            &env_file,
            format!("CLOUDFLARE_API_TOKEN={token}\nCLOUDFLARE_ACCOUNT_ID={account}\n"),
        )
        .expect("write the double's env file");
        let port = free_port();
        let log = fs::File::create(dir.join("wrangler.log")).expect("double log");
        let child = Command::new(root().join("node_modules/.bin/wrangler"))
            .current_dir(root())
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .args(["dev", "-c", "tests/cloudflare-double/wrangler.toml"])
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &free_port().to_string()])
            .arg("--persist-to")
            .arg(dir.join("state"))
            .arg("--env-file")
            .arg(&env_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn the double's wrangler dev");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut double = CloudflareDouble {
            url: format!("http://127.0.0.1:{port}"),
            token,
            account,
            child,
            dir,
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = double.child.try_wait() {
                panic!(
                    "the double's wrangler dev exited early with {status}:\n{}",
                    double.log_tail()
                );
            }
            let ok = double
                .agent
                .get(format!("{}/__double/health", double.url))
                .call()
                .map(|r| r.status() == 200)
                .unwrap_or(false);
            if ok {
                return double;
            }
            assert!(
                Instant::now() < deadline,
                "the double did not answer within 120 s:\n{}",
                double.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `CLOUDFLARE_API_BASE` for the platform.
    pub fn api_base(&self) -> String {
        format!("{}/client/v4", self.url)
    }

    /// `DISPATCH_EMULATION_URL` for the dispatch Worker.
    pub fn dispatch_url(&self) -> String {
        format!("{}/__double/dispatch", self.url)
    }

    fn get_json(&self, path: &str) -> Value {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .unwrap_or_else(|e| panic!("GET {path} on the double: {e}"));
        let text = r.body_mut().read_to_string().expect("double body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    }

    /// `[{method, path}]` of every REST call so far.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.get_json("/__double/calls")
            .as_array()
            .expect("calls list")
            .iter()
            .map(|c| {
                (
                    c["method"].as_str().unwrap_or_default().to_string(),
                    c["path"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// A REST call with the account's token: `(status, body as JSON)`; `path` follows
    /// `/client/v4/accounts/<account>`.
    pub fn rest(&self, method: &str, path: &str) -> (u16, Value) {
        let url = format!("{}/accounts/{}{path}", self.api_base(), self.account);
        let auth = format!("Bearer {}", self.token);
        let result = match method {
            "GET" => self.agent.get(&url).header("authorization", &auth).call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("authorization", &auth)
                .call(),
            other => panic!("rest: {other} is not supported here"),
        };
        let mut r = result.unwrap_or_else(|e| panic!("{method} {path} on the double: {e}"));
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().expect("double body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// What the account holds (`GET /__double/state`).
    pub fn state(&self) -> Value {
        self.get_json("/__double/state")
    }

    /// The end of the double's log (after a failure).
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn group_alive(&self) -> bool {
        let pgid = self.child.id().to_string();
        let Ok(dir) = fs::read_dir("/proc") else {
            return false;
        };
        dir.flatten().any(|e| {
            let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 2 && fields[2] == pgid && fields[0] != "Z"
        })
    }
}

impl Drop for CloudflareDouble {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) on the process group this double was started in; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.group_alive() && Instant::now() < deadline {
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.group_alive() {
            // SAFETY: as above.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
        if std::env::var_os("KILN_E2E_KEEP_STATE").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
