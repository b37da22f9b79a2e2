//! Dispatch overhead: one generated app served through dispatch, against the same app run as a
//! plain Worker (not a test: figures go to BENCHMARKS.md).
//!
//! Run with `cargo bench -p kiln --bench dispatch` (part of `make bench`). It builds "a book
//! tracker with books" with the offline generator on a fresh Kiln, exports the live version's
//! files through the versions API into a plain Worker project (`worker.js` and `_kiln/` as
//! modules, `public/` as Workers Static Assets, a local D1 `DB` with the app's migrations, a
//! `JWT_SECRET` var) and serves it with its own `wrangler dev`. A third `wrangler dev` runs the
//! dispatch Worker alone on a copy of Kiln's state, so the platform → dispatch service-binding
//! hop can be told apart from dispatch itself. One loop then alternates the three for `GET /`
//! and an authenticated `GET /api/books`, and prints a Markdown table. Last, it counts R2 reads
//! per warm request on the dispatch path by watching the local R2 blob files with inotify
//! (every R2 GET that returns a body opens its blob file once): no dispatch code is touched.
//!
//! Every `wrangler dev` runs in its own process group, and exactly that group is stopped when
//! its owner is dropped, also when the bench panics.

#[path = "../tests/e2e/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../tests/e2e/cloudflare_double.rs"]
#[allow(dead_code)]
mod cloudflare_double;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use client::{Api, Reply};
use harness::{free_port, random_hex, root, Kiln};

const PROMPT: &str = "a book tracker with books";
const WARM_UP: usize = 20;
const N: usize = 300;
const COUNTED: usize = 50;
const ROWS: [&str; 3] = ["Middlemarch", "The Dispossessed", "Bleak House"];

fn wrangler(dir: &Path) -> Command {
    let mut cmd = Command::new(root().join("node_modules/.bin/wrangler"));
    cmd.current_dir(dir)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1");
    cmd
}

/// One `wrangler dev` in its own process group; dropping it stops exactly that group.
struct Session {
    /// The process group leader (`None` for a session this bench did not start).
    child: Option<Child>,
    api: Api,
    port: u16,
    /// The Host header requests carry (`None`: the address itself).
    host: Option<String>,
    log: PathBuf,
}

impl Session {
    /// Starts `wrangler dev <args>` in `dir` on a free port, logging to `log`.
    fn start(dir: &Path, args: &[&str], persist: &Path, log: PathBuf, host: Option<&str>) -> Self {
        let port = free_port();
        let out = fs::File::create(&log).expect("create log");
        let child = wrangler(dir)
            .arg("dev")
            .args(args)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &free_port().to_string()])
            .arg("--persist-to")
            .arg(persist)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("spawn wrangler dev");
        let base = format!("http://127.0.0.1:{port}");
        Session {
            child: Some(child),
            api: Api::new(&base, port),
            port,
            host: host.map(|h| h.replace("{port}", &port.to_string())),
            log,
        }
    }

    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        let body = body.map(|b| b.to_string().into_bytes());
        self.api
            .send(method, path, token, headers, body, self.host.as_deref())
    }

    /// Polls `path` until it answers `status`; panics with the log's tail after two minutes.
    fn wait_for(&mut self, path: &str, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.api_base());
        loop {
            let mut req = agent.get(&url);
            if let Some(h) = &self.host {
                req = req.header("host", h);
            }
            if req.call().is_ok_and(|r| r.status().as_u16() == status) {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let text = fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                for l in tail.iter().rev() {
                    println!("{l}");
                }
                panic!(
                    "wrangler dev ({}) did not answer {status} on {path}",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether a live (non-zombie) process is still in the group (read from /proc, as the
    /// harness does).
    fn group_alive(&self, pgid: u32) -> bool {
        let pgid = pgid.to_string();
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

    fn signal_group(pgid: u32, sig: i32) {
        // SAFETY: kill(2) with a negative pid signals the process group we created; no memory is touched.
        unsafe {
            libc::kill(-(pgid as i32), sig);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // The child was spawned with `process_group(0)`: its pid is its group's id.
        let pgid = child.id();
        Session::signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.group_alive(pgid) && Instant::now() < deadline {
            let _ = child.try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.group_alive(pgid) {
            Session::signal_group(pgid, libc::SIGKILL);
        }
        let _ = child.wait();
    }
}

/// A temp dir removed on drop (after the sessions using it, which are declared later).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Builds the app and waits for the build, polling; returns `(project id, slug, version)`.
fn build_app(k: &Kiln, token: &str) -> (String, String, u64) {
    let p = k.api.create_project(token, "Book Tracker");
    let id = p["id"].as_str().unwrap().to_string();
    let slug = p["slug"].as_str().unwrap().to_string();
    let r = k.api.post(
        &format!("/api/projects/{id}/builds"),
        Some(token),
        &json!({ "prompt": PROMPT }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let build = r.json()["build_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let b = k
            .api
            .get(&format!("/api/builds/{build}"), Some(token))
            .json()["build"]
            .clone();
        match b["status"].as_str() {
            Some("succeeded") => return (id, slug, b["deployed_version"].as_u64().unwrap()),
            Some("failed") => panic!("the build failed: {b:#}"),
            _ => assert!(Instant::now() < deadline, "the build did not finish: {b:#}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes version `version`'s files under `dir` and a `wrangler.toml` serving them as a plain Worker.
fn export_plain_worker(k: &Kiln, token: &str, id: &str, version: u64, dir: &Path) {
    let listed = k
        .api
        .get(&format!("/api/projects/{id}/versions"), Some(token))
        .json();
    assert!(
        listed["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == version),
        "version {version} is not listed: {listed}"
    );
    let m = k
        .api
        .get(
            &format!("/api/projects/{id}/versions/{version}"),
            Some(token),
        )
        .json();
    let files = m["manifest"]["files"].as_object().expect("manifest files");
    for path in files.keys() {
        let r = k.api.get(
            &format!("/api/projects/{id}/versions/{version}/files/{path}"),
            Some(token),
        );
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let to = dir.join(path);
        fs::create_dir_all(to.parent().unwrap()).expect("create dir");
        fs::write(&to, r.body).expect("write file");
    }
    assert!(dir.join("worker.js").exists() && dir.join("public/index.html").exists());
    // wrangler applies `migrations/NNNN_name.sql` in name order, as the generator names them.
    let config = format!(
        r#"name = "kiln-bench-plain-app"
main = "worker.js"
compatibility_date = "2026-04-01"

[assets]
directory = "public"
binding = "ASSETS"
not_found_handling = "single-page-application"
run_worker_first = ["/api/*"]

[[d1_databases]]
binding = "DB"
database_name = "app"
database_id = "00000000-0000-4000-8000-000000000001"
migrations_dir = "migrations"

[[r2_buckets]]
binding = "STORAGE"
bucket_name = "app-files"

[vars]
JWT_SECRET = "{}"
"#,
        random_hex(32)
    );
    fs::write(dir.join("wrangler.toml"), config).expect("write wrangler.toml");
}

/// Registers an app user, creates the rows and returns the user's token.
fn seed(s: &Session) -> String {
    let creds = json!({ "email": "reader@example.test", "password": "correct horse battery" });
    let r = s.send("POST", "/api/auth/register", None, Some(&creds));
    assert_eq!(r.status, 201, "register: {}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_string();
    for title in ROWS {
        let book = json!({ "title": title, "author": "someone", "rating": 4 });
        let r = s.send("POST", "/api/books", Some(&token), Some(&book));
        assert_eq!(r.status, 201, "create {title}: {}", r.body);
    }
    token
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50 and p99 in ms.
fn p50_p99(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&ms, 0.5), percentile(&ms, 0.99))
}

/// One timed request; checks it answered 200 with the expected content.
fn timed(s: &Session, path: &str, token: Option<&str>) -> f64 {
    let t = Instant::now();
    let r = s.send("GET", path, token, None);
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    if path == "/" {
        assert!(
            r.body.contains("src=\"/app.js\""),
            "GET / is not the app shell"
        );
    } else {
        assert_eq!(
            r.json().as_array().map(Vec::len),
            Some(ROWS.len()),
            "{}",
            r.body
        );
    }
    ms
}

fn main() {
    let kiln = Kiln::start();
    let token = kiln.api.new_user();
    let (id, slug, version) = build_app(&kiln, &token);
    println!("built {slug} (version {version}) from {PROMPT:?}");
    let app_host = format!("{slug}.localhost:{{port}}");

    let work = TempDir(std::env::temp_dir().join(format!(
        "kiln-bench-dispatch-{}-{}",
        std::process::id(),
        random_hex(4)
    )));
    let app_dir = work.0.join("app");
    fs::create_dir_all(&app_dir).expect("create app dir");
    export_plain_worker(&kiln, &token, &id, version, &app_dir);
    let plain_state = work.0.join("plain-state");
    let migrate = wrangler(&app_dir)
        .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
        .arg(&plain_state)
        .output()
        .expect("run wrangler d1 migrations apply");
    assert!(
        migrate.status.success(),
        "app migrations failed:\n{}{}",
        String::from_utf8_lossy(&migrate.stdout),
        String::from_utf8_lossy(&migrate.stderr)
    );

    // Kiln's platform Worker hands `<slug>.localhost` to dispatch over a service binding.
    let via_platform = Session {
        child: None,
        api: Api::new(&kiln.base, kiln.port),
        port: kiln.port,
        host: Some(app_host.replace("{port}", &kiln.port.to_string())),
        log: PathBuf::new(),
    };
    let dispatch_token = seed(&via_platform);

    // The dispatch Worker alone, on a copy of Kiln's state taken now that the app is seeded.
    let copy = work.0.join("dispatch-state");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(kiln.state_dir())
        .arg(&copy)
        .status()
        .expect("copy state");
    assert!(cp.success(), "copying the state dir failed");
    let mut direct = Session::start(
        &root(),
        &["-c", "dispatch/wrangler.toml"],
        &copy,
        work.0.join("dispatch.log"),
        Some(&app_host),
    );
    direct.wait_for("/", 200);

    let mut plain = Session::start(&app_dir, &[], &plain_state, work.0.join("plain.log"), None);
    plain.wait_for("/api/auth/me", 401);
    let plain_token = seed(&plain);

    let targets: [(&str, &Session, &str); 3] = [
        (
            "dispatch (via the platform)",
            &via_platform,
            &dispatch_token,
        ),
        ("plain Worker", &plain, &plain_token),
        ("dispatch alone (no platform hop)", &direct, &dispatch_token),
    ];
    let routes = [
        ("GET /", "/", false),
        ("GET /api/books", "/api/books", true),
    ];
    for _ in 0..WARM_UP {
        for (_, path, auth) in routes {
            for (_, s, t) in targets {
                timed(s, path, auth.then_some(t));
            }
        }
    }
    let mut samples = vec![vec![Vec::with_capacity(N); targets.len()]; routes.len()];
    for _ in 0..N {
        for (r, (_, path, auth)) in routes.iter().enumerate() {
            for (i, (_, s, t)) in targets.iter().enumerate() {
                samples[r][i].push(timed(s, path, auth.then_some(t)));
            }
        }
    }

    println!();
    println!("| route | via | p50 (ms) | p99 (ms) | ratio to plain, p50 | ratio to plain, p99 |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (r, (route, _, _)) in routes.iter().enumerate() {
        let stats: Vec<(f64, f64)> = samples[r].iter().cloned().map(p50_p99).collect();
        let (base50, base99) = stats[1];
        for ((name, _, _), (p50, p99)) in targets.iter().zip(&stats) {
            println!(
                "| `{route}` | {name} | {p50:.1} | {p99:.1} | {:.2}× | {:.2}× |",
                p50 / base50,
                p99 / base99
            );
        }
    }
    println!("\n(N = {N} of each, after {WARM_UP} of each to warm up, alternating.)");

    count_r2_reads(&kiln, &via_platform, &dispatch_token);
    drop(plain);
    drop(direct);
}

/// R2 reads per warm request on the dispatch path, from the blob files local R2 opens.
fn count_r2_reads(k: &Kiln, via_platform: &Session, token: &str) {
    let Some(blobs) = find_blob_dir(&k.state_dir().join("v3/r2")) else {
        println!("no local R2 blob directory under the state dir: R2 reads not counted");
        return;
    };
    let mut watch = inotify::Watch::open(&blobs);
    for (route, path, auth) in [
        ("GET /", "/", false),
        ("GET /api/books", "/api/books", true),
    ] {
        let token = auth.then_some(token);
        timed(via_platform, path, token);
        watch.drain();
        watch.opens = 0;
        watch.names.clear();
        for _ in 0..COUNTED {
            timed(via_platform, path, token);
            watch.drain();
        }
        println!(
            "R2 reads with a body per warm `{route}` via dispatch: {:.2} ({} blob opens in {COUNTED} requests, {} distinct objects)",
            watch.opens as f64 / COUNTED as f64,
            watch.opens,
            watch.names.len()
        );
    }
}

/// The `blobs` directory of the local R2 bucket (`…/v3/r2/<bucket>/blobs`).
fn find_blob_dir(r2: &Path) -> Option<PathBuf> {
    fs::read_dir(r2)
        .ok()?
        .flatten()
        .map(|e| e.path().join("blobs"))
        .find(|p| p.is_dir())
}

mod inotify {
    //! A minimal inotify watch counting file opens in one directory.
    //!
    //! inotify merges an event into the previous one when both are identical and the first has
    //! not been read yet, so ten reads of one blob could show as one open. Watching closes too
    //! (open, close, open, … never repeats) and reading after every request keeps each open.

    use std::collections::HashSet;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::time::{Duration, Instant};

    pub struct Watch {
        fd: i32,
        /// Opens of files in the directory since the counters were cleared.
        pub opens: usize,
        /// The files opened.
        pub names: HashSet<Vec<u8>>,
    }

    impl Watch {
        pub fn open(dir: &Path) -> Self {
            let path = CString::new(dir.as_os_str().as_bytes()).expect("path without NUL");
            // SAFETY: plain syscalls on a fd we own and a NUL-terminated path that outlives them.
            let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            assert!(fd >= 0, "inotify_init1 failed");
            let mask = libc::IN_OPEN | libc::IN_CLOSE_NOWRITE;
            // SAFETY: as above.
            let wd = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), mask) };
            assert!(wd >= 0, "inotify_add_watch on {} failed", dir.display());
            Watch {
                fd,
                opens: 0,
                names: HashSet::new(),
            }
        }

        /// Reads the events queued so far, until none has arrived for 20 ms (the opens of one
        /// request happen before its response, so this only waits out background work).
        pub fn drain(&mut self) {
            let mut buf = [0u8; 16384];
            let mut quiet_since = Instant::now();
            while quiet_since.elapsed() < Duration::from_millis(20) {
                // SAFETY: reads into a buffer we own, at most its length.
                let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                quiet_since = Instant::now();
                let mut at = 0;
                while at + 16 <= n as usize {
                    let mask = u32::from_ne_bytes(buf[at + 4..at + 8].try_into().unwrap());
                    let len =
                        u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
                    // Events on the directory itself carry no name.
                    if mask & libc::IN_OPEN != 0 && len > 0 {
                        self.opens += 1;
                        let name = &buf[at + 16..at + 16 + len];
                        let end = name.iter().position(|b| *b == 0).unwrap_or(len);
                        self.names.insert(name[..end].to_vec());
                    }
                    at += 16 + len;
                }
            }
        }
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            // SAFETY: closes the fd this value owns.
            unsafe {
                libc::close(self.fd);
            }
        }
    }
}
