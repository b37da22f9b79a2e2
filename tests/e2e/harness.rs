//! Starts and stops one `wrangler dev` session.
//!
//! The session runs in its own process group (wrangler, its esbuild and workerd children), and
//! [`Kiln`]'s `Drop` signals exactly that group: SIGTERM, then SIGKILL if it has not exited, so
//! no process outlives the test run, whichever way it ends. Readiness is polled on
//! `/api/health`, never slept for.

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client::Api;
use crate::cloudflare_double::CloudflareDouble;

/// Where a session's builds deploy (`DEPLOY_TARGET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The dispatch Worker with a SQLite Durable Object per app and a Worker Loader.
    Local,
    /// Cloudflare's REST API, here the local double (started with the session).
    Cloudflare,
}

/// A running Kiln (platform + dispatch) on a free port with its own state.
pub struct Kiln {
    /// Base URL of the platform, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// The port, also used for app hosts (`<slug>.localhost:<port>`).
    pub port: u16,
    /// The `AUTH_SECRET` this session signs tokens with (tests mint expired tokens with it).
    pub auth_secret: String,
    /// The `OPERATOR_TOKEN` for `/api/admin/*`.
    pub operator_token: String,
    /// HTTP client for the platform.
    pub api: Api,
    child: Mutex<Child>,
    env_file: PathBuf,
    /// The Workers' configs, in `wrangler dev -c` order: the platform's, the dispatch Worker's
    /// (`dispatch/wrangler.toml`, or a copy of it with this session's `APP_*` vars, see
    /// [`dispatch_config`]) and, for a Workers AI session, the stand-in binding's.
    configs: Vec<PathBuf>,
    /// Session copies of configs, removed with the session.
    written: Vec<PathBuf>,
    state: PathBuf,
    log: PathBuf,
    /// The Cloudflare API double of a `cloudflare` session (declared last: dropped after the
    /// session's wrangler is stopped).
    double: Option<CloudflareDouble>,
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free local port")
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn wrangler() -> Command {
    let mut cmd = Command::new(root().join("node_modules/.bin/wrangler"));
    cmd.current_dir(root())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1");
    cmd
}

impl Kiln {
    /// Applies migrations to a fresh state dir, starts `wrangler dev` and waits until healthy.
    pub fn start() -> Self {
        Kiln::start_with(&[])
    }

    /// Like [`Kiln::start`], with extra `KEY=value` pairs in the env file (they reach the
    /// Worker as vars, like secrets in `.dev.vars`). Each session has its own port, inspector
    /// port and state dir, so several can run at once.
    pub fn start_with(extra_env: &[(&str, &str)]) -> Self {
        Self::start_on(Target::Local, extra_env)
    }

    /// Like [`Kiln::start_with`], deploying to `target`. A `cloudflare` session first starts its
    /// own Cloudflare API double (own process group, random token and account id) and points the
    /// platform (`DEPLOY_TARGET`, `CLOUDFLARE_API_BASE`, `CLOUDFLARE_ACCOUNT_ID`, secret
    /// `CLOUDFLARE_API_TOKEN`) and the dispatch Worker (`DISPATCH_EMULATION_URL`) at it.
    pub fn start_on(target: Target, extra_env: &[(&str, &str)]) -> Self {
        let double = (target == Target::Cloudflare).then(CloudflareDouble::start);
        let mut env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(d) = &double {
            env.extend([
                ("DEPLOY_TARGET".to_string(), "cloudflare".to_string()),
                ("CLOUDFLARE_API_BASE".to_string(), d.api_base()),
                ("CLOUDFLARE_ACCOUNT_ID".to_string(), d.account.clone()),
                ("CLOUDFLARE_API_TOKEN".to_string(), d.token.clone()),
                ("DISPATCH_EMULATION_URL".to_string(), d.dispatch_url()),
            ]);
        }
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut kiln = Self::start_serving(&pairs, None);
        kiln.double = double;
        kiln.wait_healthy(Duration::from_secs(120));
        kiln
    }

    /// Like [`Kiln::start_with`], with the Workers AI binding stand-in (`tests/ai-binding/`)
    /// started beside the platform and bound to it as `AI`; the stand-in asks the OpenAI-compatible
    /// server at `model_server` (with bearer `key`) what to answer.
    pub fn start_with_ai_binding(
        extra_env: &[(&str, &str)],
        model_server: &str,
        key: &str,
    ) -> Self {
        let kiln = Self::start_serving(extra_env, Some((model_server, key)));
        kiln.wait_healthy(Duration::from_secs(120));
        kiln
    }

    /// Like [`Kiln::start_with`], but waits only until `/api/health` answers at all (any status):
    /// for sessions that are meant to be misconfigured.
    pub fn start_answering(extra_env: &[(&str, &str)]) -> Self {
        let kiln = Self::start_serving(extra_env, None);
        kiln.wait_for(Duration::from_secs(120), |status| status.is_some());
        kiln
    }

    fn start_serving(extra_env: &[(&str, &str)], ai_binding: Option<(&str, &str)>) -> Self {
        for built in [
            "build/index.js",
            "dispatch/build/index.js",
            "web/dist/index.html",
        ] {
            assert!(
                root().join(built).exists(),
                "{built} is missing: build the Workers first (`make test` does)"
            );
        }
        let state =
            std::env::temp_dir().join(format!("kiln-e2e-{}-{}", std::process::id(), random_hex(4)));
        fs::create_dir_all(&state).expect("create state dir");
        let auth_secret = random_hex(32);
        let env_file = state.join("test.env");
        let operator_token = random_hex(24);
        let mut env = format!("AUTH_SECRET={auth_secret}\nOPERATOR_TOKEN={operator_token}\n");
        for (key, value) in extra_env {
            assert!(
                !key.contains(['=', '\n']) && !value.contains('\n'),
                "env pair {key:?} cannot be written as one KEY=value line"
            );
            env.push_str(&format!("{key}={value}\n"));
        }
        fs::write(&env_file, env).expect("write env file");
        let dispatch_config = dispatch_config(extra_env, &state);
        let mut written = Vec::new();
        if dispatch_config != Path::new("dispatch/wrangler.toml") {
            written.push(dispatch_config.clone());
        }
        let mut configs = vec![PathBuf::from("wrangler.toml"), dispatch_config];
        if let Some((url, key)) = ai_binding {
            let (platform, standin) = ai_binding_configs(&state, url, key);
            configs[0] = platform.clone();
            configs.push(standin.clone());
            written.extend([platform, standin]);
        }

        let migrate = wrangler()
            .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
            .arg(&state)
            .output()
            .expect("run wrangler d1 migrations apply");
        assert!(
            migrate.status.success(),
            "migrations failed:\n{}{}",
            String::from_utf8_lossy(&migrate.stdout),
            String::from_utf8_lossy(&migrate.stderr)
        );

        let port = free_port();
        let log = state.join("wrangler.log");
        let child = spawn(&state, &env_file, &configs, &log, port);
        let base = format!("http://127.0.0.1:{port}");
        Kiln {
            api: Api::new(&base, port),
            base,
            port,
            auth_secret,
            operator_token,
            child: Mutex::new(child),
            env_file,
            configs,
            written,
            state,
            log,
            double: None,
        }
    }

    /// The session's deploy target.
    pub fn target(&self) -> Target {
        if self.double.is_some() {
            Target::Cloudflare
        } else {
            Target::Local
        }
    }

    /// The Cloudflare API double of a `cloudflare` session.
    pub fn double(&self) -> &CloudflareDouble {
        self.double
            .as_ref()
            .expect("this session deploys locally: it has no Cloudflare API double")
    }

    /// Stops the session (like Ctrl-C or a crash) and starts it again on the same state and port,
    /// as a developer restarting `make dev` would.
    pub fn restart(&self) {
        self.stop(libc::SIGKILL);
        let child = spawn(
            &self.state,
            &self.env_file,
            &self.configs,
            &self.log,
            self.port,
        );
        *self.child.lock().unwrap() = child;
        self.wait_healthy(Duration::from_secs(120));
    }

    fn stop(&self, first_signal: i32) {
        self.signal_group(first_signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.group_alive() && Instant::now() < deadline {
            let _ = self.child.lock().unwrap().try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.group_alive() {
            self.signal_group(libc::SIGKILL);
        }
        let _ = self.child.lock().unwrap().wait();
    }

    fn wait_healthy(&self, limit: Duration) {
        self.wait_for(limit, |status| status == Some(200));
    }

    /// Polls `/api/health` until `ready(status)` holds (`None` = no answer yet).
    fn wait_for(&self, limit: Duration, ready: impl Fn(Option<u16>) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.lock().unwrap().try_wait() {
                self.print_log_tail(80);
                panic!("wrangler dev exited early with {status}");
            }
            if ready(self.api.try_get_status("/api/health")) {
                return;
            }
            if Instant::now() > deadline {
                self.print_log_tail(80);
                panic!("wrangler dev was not healthy within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Prints the end of wrangler's log (after a failure), and the double's if there is one.
    pub fn print_log_tail(&self, lines: usize) {
        if let Some(d) = &self.double {
            println!(
                "---- end of the Cloudflare API double's log ----\n{}",
                d.log_tail()
            );
        }
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        println!("---- last {lines} lines of {} ----", self.log.display());
        for l in &all[all.len().saturating_sub(lines)..] {
            println!("{l}");
        }
    }

    /// Everything wrangler has logged so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The state directory (local D1/KV/R2 files).
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    fn pgid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    fn signal_group(&self, sig: i32) {
        // SAFETY: kill(2) with a negative pid signals the process group we created; no memory is touched.
        unsafe {
            libc::kill(-(self.pgid() as i32), sig);
        }
    }

    /// Whether any live (non-zombie) process is still in the group. Reads /proc rather than
    /// `kill(-pgid, 0)`, which also counts zombies that only the container's init can reap.
    fn group_alive(&self) -> bool {
        let pgid = self.pgid().to_string();
        let Ok(dir) = fs::read_dir("/proc") else {
            return false;
        };
        dir.flatten().any(|e| {
            let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // Fields after the parenthesised command: state, ppid, pgrp, ...
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 2 && fields[2] == pgid && fields[0] != "Z"
        })
    }
}

impl Drop for Kiln {
    fn drop(&mut self) {
        self.stop(libc::SIGTERM);
        for config in &self.written {
            let _ = fs::remove_file(root().join(config));
        }
        if std::env::var_os("KILN_E2E_KEEP_STATE").is_none() {
            let _ = fs::remove_dir_all(&self.state);
        }
    }
}

/// Starts `wrangler dev` for both Workers in its own process group, logging to `log` (appended,
/// so a restart keeps the earlier output).
/// The dispatch Worker's config for a session. `wrangler dev` hands `--env-file` and `--var` to the
/// first Worker only, so the dispatch Worker's settings (`APP_*`, `DISPATCH_*`, `DEPLOY_TARGET`)
/// go into a copy of its config, written beside the original (its paths are relative to it) and
/// removed with the session.
fn dispatch_config(extra_env: &[(&str, &str)], state: &Path) -> PathBuf {
    let original = PathBuf::from("dispatch/wrangler.toml");
    let app_vars: Vec<String> = extra_env
        .iter()
        .filter(|(k, _)| {
            k.starts_with("APP_") || k.starts_with("DISPATCH_") || *k == "DEPLOY_TARGET"
        })
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect();
    if app_vars.is_empty() {
        return original;
    }
    let text = fs::read_to_string(root().join(&original)).expect("read dispatch/wrangler.toml");
    let text = text.replacen("[vars]\n", &format!("[vars]\n{}\n", app_vars.join("\n")), 1);
    let name = format!(
        "dispatch/wrangler.e2e-{}.toml",
        state.file_name().unwrap().to_string_lossy()
    );
    fs::write(root().join(&name), text).expect("write the session's dispatch config");
    PathBuf::from(name)
}

/// Session copies of the platform's config with the Workers AI stand-in bound as `AI` (a service
/// binding to its `AiBinding` entrypoint), and of the stand-in's config with the model server's
/// URL and key. Both are written beside their originals (paths in them are relative) and removed
/// with the session.
fn ai_binding_configs(state: &Path, model_server: &str, key: &str) -> (PathBuf, PathBuf) {
    let tag = state.file_name().unwrap().to_string_lossy().to_string();
    let platform = fs::read_to_string(root().join("wrangler.toml")).expect("read wrangler.toml");
    let platform = format!(
        "{platform}\n# e2e: the Workers AI binding stand-in (tests/ai-binding/).\n[[services]]\nbinding = \"AI\"\nservice = \"kiln-ai-binding\"\nentrypoint = \"AiBinding\"\n"
    );
    let platform_path = PathBuf::from(format!("wrangler.e2e-{tag}.toml"));
    fs::write(root().join(&platform_path), platform).expect("write the session's platform config");
    let original = "tests/ai-binding/wrangler.toml";
    let standin = fs::read_to_string(root().join(original)).expect("read the stand-in's config");
    let standin = standin
        .replace("\"http://127.0.0.1:9/v1\"", &format!("{model_server:?}"))
        .replace("\"unset\"", &format!("{key:?}"));
    let standin_path = PathBuf::from(format!("tests/ai-binding/wrangler.e2e-{tag}.toml"));
    fs::write(root().join(&standin_path), standin).expect("write the stand-in's session config");
    (platform_path, standin_path)
}

fn spawn(state: &Path, env_file: &Path, configs: &[PathBuf], log: &Path, port: u16) -> Child {
    let log_file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open log");
    let mut cmd = wrangler();
    cmd.arg("dev");
    for config in configs {
        cmd.arg("-c").arg(config);
    }
    cmd.args(["--ip", "127.0.0.1"])
        .args([
            "--port",
            &port.to_string(),
            "--inspector-port",
            &free_port().to_string(),
        ])
        .arg("--persist-to")
        .arg(state)
        .arg("--env-file")
        .arg(env_file)
        // Fault-injection routes exist only in test sessions.
        .args(["--var", "KILN_TEST_HOOKS:1"])
        // `/__scheduled` runs the cron handler (the stall watchdog) on request. This wrangler's
        // `/cdn-cgi/handler/scheduled` answers "exception" when static assets are configured:
        // it reaches the assets router, which has no scheduled handler.
        .arg("--test-scheduled")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .expect("spawn wrangler dev")
}
