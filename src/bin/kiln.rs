//! `kiln`: the command line for programs and people who prefer a terminal.
//!
//! ```text
//! kiln login [EMAIL]                 sign in (password on stdin) and keep the session token
//! kiln projects                      list projects
//! kiln new NAME                      create a project
//! kiln build PROJECT PROMPT [--wait] request a build (PROJECT is an id or a slug)
//! kiln chat PROJECT MESSAGE [--wait] post a chat message that changes the app
//! kiln logs PROJECT [BUILD]          follow a build live (SSE), a progress line per step
//! kiln open PROJECT                  print the live app's URL and open it
//! kiln rollback PROJECT VERSION [--wait]  make an earlier version live again
//! kiln cancel BUILD                  cancel a build in progress (the live version stays)
//! ```
//!
//! Options: `--json` (machine-readable output), `--url URL` (default `$KILN_URL` or
//! `http://localhost:8787`), `--header 'Name: value'` (extra request header, repeatable).
//! The token comes from `$KILN_TOKEN` (an API token, `kiln_…`) or from `kiln login`, which keeps it
//! in `$XDG_CONFIG_HOME/kiln/token` (or `~/.config/kiln/token`) with mode 0600.
//!
//! Exit codes, for CI: 0 done (a waited-for build succeeded), 1 the build failed or the API
//! refused the request, 2 usage error.
//!
//! Key decision: a small blocking client (ureq) and hand-parsed arguments: the CLI has a dozen
//! flags, and an argument-parsing framework would outweigh the program.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::run(std::env::args().skip(1).collect()));
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::io::{BufRead, BufReader, Write};
    use std::time::Duration;

    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
    use serde_json::{json, Value};

    const USAGE: &str = "usage: kiln [--json] [--url URL] [--header 'Name: value'] <command>
commands:
  login [EMAIL]                  sign in (password on stdin); keeps the token for later commands
  projects                       list projects
  new NAME                       create a project
  build PROJECT PROMPT [--wait]  request a build; PROJECT is an id or a slug
  chat PROJECT MESSAGE [--wait]  post a chat message that changes the app
  logs PROJECT [BUILD]           follow a build live, a line per step
  open PROJECT                   print the live app's URL and open it
  rollback PROJECT VERSION [--wait]  make an earlier version live again (data and schema stay)
  cancel BUILD                   cancel a build in progress; the live version stays
environment: KILN_URL, KILN_TOKEN (an API token)";

    /// The pipeline's steps, in order (the progress view has a line for each).
    const STEPS: [&str; 8] = [
        "plan",
        "codegen",
        "validate",
        "create-db",
        "migrate",
        "upload-assets",
        "deploy",
        "record",
    ];

    /// Why the program stops.
    enum Exit {
        /// Bad arguments (exit 2).
        Usage(String),
        /// The API refused or could not be reached, or the build failed (exit 1).
        Failed(String),
    }

    struct Opts {
        json: bool,
        url: String,
        headers: Vec<(String, String)>,
        wait: bool,
        args: Vec<String>,
    }

    fn parse(raw: Vec<String>) -> Result<Opts, Exit> {
        let mut o = Opts {
            json: false,
            url: std::env::var("KILN_URL").unwrap_or_else(|_| "http://localhost:8787".into()),
            headers: Vec::new(),
            wait: false,
            args: Vec::new(),
        };
        let mut it = raw.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--json" => o.json = true,
                "--wait" => o.wait = true,
                "--url" => {
                    o.url = it
                        .next()
                        .ok_or_else(|| Exit::Usage("--url needs a value".into()))?
                }
                "--header" => {
                    let h = it
                        .next()
                        .ok_or_else(|| Exit::Usage("--header needs 'Name: value'".into()))?;
                    let (name, value) = h.split_once(':').ok_or_else(|| {
                        Exit::Usage(format!("--header '{h}' is not 'Name: value'"))
                    })?;
                    o.headers.push((name.trim().into(), value.trim().into()));
                }
                "-h" | "--help" => return Err(Exit::Usage(String::new())),
                flag if flag.starts_with("--") => {
                    return Err(Exit::Usage(format!("unknown option {flag}")))
                }
                _ => o.args.push(a),
            }
        }
        o.url = o.url.trim_end_matches('/').to_string();
        Ok(o)
    }

    /// Runs the command; the process exit code.
    pub fn run(raw: Vec<String>) -> i32 {
        let outcome = parse(raw).and_then(|o| command(&o));
        match outcome {
            Ok(code) => code,
            Err(Exit::Usage(m)) => {
                if !m.is_empty() {
                    eprintln!("kiln: {m}");
                }
                eprintln!("{USAGE}");
                2
            }
            Err(Exit::Failed(m)) => {
                eprintln!("kiln: {m}");
                1
            }
        }
    }

    fn token_path() -> Option<std::path::PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config"))
            })?;
        Some(base.join("kiln").join("token"))
    }

    fn token() -> Result<String, Exit> {
        if let Ok(t) = std::env::var("KILN_TOKEN") {
            if !t.trim().is_empty() {
                return Ok(t.trim().to_string());
            }
        }
        token_path()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Exit::Failed(
                    "not signed in: run `kiln login` or set KILN_TOKEN to an API token".into(),
                )
            })
    }

    struct Api<'a> {
        o: &'a Opts,
        agent: ureq::Agent,
        token: Option<String>,
    }

    impl<'a> Api<'a> {
        fn new(o: &'a Opts, token: Option<String>) -> Self {
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(None)
                .build()
                .new_agent();
            Self { o, agent, token }
        }

        /// Sends a request; the parsed JSON body of a 2xx answer, or the API's error message.
        fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Exit> {
            let url = format!("{}{path}", self.o.url);
            let mut req = ureq::http::Request::builder().method(method).uri(&url);
            if let Some(t) = &self.token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            for (n, v) in &self.o.headers {
                req = req.header(n.as_str(), v.as_str());
            }
            let sent = match body {
                Some(b) => self.agent.run(
                    req.header("content-type", "application/json")
                        .body(b.to_string())
                        .map_err(|e| Exit::Usage(e.to_string()))?,
                ),
                None => self
                    .agent
                    .run(req.body(()).map_err(|e| Exit::Usage(e.to_string()))?),
            };
            let mut resp = sent.map_err(|e| Exit::Failed(format!("cannot reach {url}: {e}")))?;
            let status = resp.status().as_u16();
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(value);
            }
            let message = value["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(200).collect());
            Err(Exit::Failed(format!(
                "{method} {path}: {status}: {message}"
            )))
        }
    }

    fn print(o: &Opts, value: &Value, human: impl FnOnce() -> String) {
        if o.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
    }

    fn arg<'o>(o: &'o Opts, i: usize, what: &str) -> Result<&'o str, Exit> {
        o.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| Exit::Usage(format!("missing {what}")))
    }

    /// A project by id or slug.
    fn project(api: &Api, wanted: &str) -> Result<Value, Exit> {
        let all = api.call("GET", "/api/projects", None)?;
        all["projects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["id"] == wanted || p["slug"] == wanted)
            .cloned()
            .ok_or_else(|| {
                Exit::Failed(format!(
                    "no project '{wanted}' (give its id or slug; see `kiln projects`)"
                ))
            })
    }

    fn command(o: &Opts) -> Result<i32, Exit> {
        let Some(cmd) = o.args.first().map(String::as_str) else {
            return Err(Exit::Usage("missing command".into()));
        };
        match cmd {
            "login" => login(o),
            "projects" => {
                let api = Api::new(o, Some(token()?));
                let all = api.call("GET", "/api/projects", None)?;
                print(o, &all["projects"], || {
                    let rows: Vec<String> = all["projects"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| {
                            format!(
                                "{}  {:<24} {}",
                                p["id"].as_str().unwrap_or(""),
                                p["slug"].as_str().unwrap_or(""),
                                p["name"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    if rows.is_empty() {
                        "no projects yet: `kiln new NAME`".into()
                    } else {
                        rows.join("\n")
                    }
                });
                Ok(0)
            }
            "new" => {
                let name = arg(o, 1, "NAME")?;
                let api = Api::new(o, Some(token()?));
                let created = api.call("POST", "/api/projects", Some(&json!({ "name": name })))?;
                let p = &created["project"];
                print(o, p, || {
                    format!(
                        "created {} ({})  {}",
                        p["slug"].as_str().unwrap_or(""),
                        p["id"].as_str().unwrap_or(""),
                        p["url"].as_str().unwrap_or("")
                    )
                });
                Ok(0)
            }
            "build" | "chat" => {
                let api = Api::new(o, Some(token()?));
                let p = project(&api, arg(o, 1, "PROJECT")?)?;
                let text = arg(o, 2, if cmd == "build" { "PROMPT" } else { "MESSAGE" })?;
                let id = p["id"].as_str().unwrap_or_default();
                let (path, body) = if cmd == "build" {
                    (
                        format!("/api/projects/{id}/builds"),
                        json!({ "prompt": text }),
                    )
                } else {
                    (
                        format!("/api/projects/{id}/chat"),
                        json!({ "message": text }),
                    )
                };
                let started = api.call("POST", &path, Some(&body))?;
                let build = started["build_id"].as_str().unwrap_or_default().to_string();
                if !o.wait {
                    print(o, &started, || {
                        format!(
                            "build {build} requested; follow it with `kiln logs {} {build}`",
                            p["slug"].as_str().unwrap_or(id)
                        )
                    });
                    return Ok(0);
                }
                follow(o, &api, &p, &build)
            }
            "logs" => {
                let api = Api::new(o, Some(token()?));
                let p = project(&api, arg(o, 1, "PROJECT")?)?;
                let build = match o.args.get(2) {
                    Some(b) => b.clone(),
                    None => {
                        let id = p["id"].as_str().unwrap_or_default();
                        let list = api.call("GET", &format!("/api/projects/{id}/builds"), None)?;
                        list["builds"][0]["id"]
                            .as_str()
                            .map(str::to_string)
                            .ok_or_else(|| Exit::Failed("this project has no builds yet".into()))?
                    }
                };
                follow(o, &api, &p, &build)
            }
            "open" => {
                let api = Api::new(o, Some(token()?));
                let p = project(&api, arg(o, 1, "PROJECT")?)?;
                let url = p["url"].as_str().unwrap_or_default().to_string();
                print(o, &json!({ "url": url }), || url.clone());
                if !o.json {
                    let _ = std::process::Command::new("xdg-open")
                        .arg(&url)
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn();
                }
                Ok(0)
            }
            "rollback" => {
                let api = Api::new(o, Some(token()?));
                let p = project(&api, arg(o, 1, "PROJECT")?)?;
                let version: u32 = arg(o, 2, "VERSION")?
                    .trim_start_matches('v')
                    .parse()
                    .map_err(|_| Exit::Usage("VERSION is a number, e.g. 1 or v1".into()))?;
                let id = p["id"].as_str().unwrap_or_default().to_string();
                let answer = api.call(
                    "POST",
                    &format!("/api/projects/{id}/rollback"),
                    Some(&json!({ "version": version })),
                )?;
                if answer["status"] == "unchanged" || !o.wait {
                    print(o, &answer, || {
                        answer["message"]
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("rollback to v{version} requested"))
                    });
                    return Ok(0);
                }
                wait_for_rollback(o, &api, &id, version)
            }
            "cancel" => {
                let api = Api::new(o, Some(token()?));
                let build = arg(o, 1, "BUILD")?;
                let answer = api.call("POST", &format!("/api/builds/{build}/cancel"), None)?;
                print(o, &answer, || match answer["step"].as_str() {
                    Some(step) => format!("build {build} cancelled during {step}"),
                    None => format!("build {build} cancelled"),
                });
                Ok(0)
            }
            other => Err(Exit::Usage(format!("unknown command '{other}'"))),
        }
    }

    /// Waits until `version` is live (0), or the rollback ended without it (1).
    fn wait_for_rollback(o: &Opts, api: &Api, project: &str, version: u32) -> Result<i32, Exit> {
        for _ in 0..600 {
            let p = api.call("GET", &format!("/api/projects/{project}"), None)?;
            let p = &p["project"];
            if p["live"]["version"] == version {
                print(o, &p["live"], || {
                    format!(
                        "v{version} is live again at {}",
                        p["url"].as_str().unwrap_or("")
                    )
                });
                return Ok(0);
            }
            if p["rollback"].is_null() {
                eprintln!("the rollback to v{version} did not complete; see `kiln logs` or the project's activity");
                return Ok(1);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(Exit::Failed(format!(
            "v{version} was not live after two minutes"
        )))
    }

    fn login(o: &Opts) -> Result<i32, Exit> {
        let email = match o.args.get(1) {
            Some(e) => e.clone(),
            None => {
                eprint!("Email: ");
                let _ = std::io::stderr().flush();
                read_line()?
            }
        };
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
        let password = read_line()?;
        let api = Api::new(o, None);
        let r = api.call(
            "POST",
            "/api/auth/login",
            Some(&json!({ "email": email, "password": password })),
        )?;
        let token = r["token"].as_str().unwrap_or_default();
        let path = token_path()
            .ok_or_else(|| Exit::Failed("no home directory to keep the token in".into()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Exit::Failed(format!("{}: {e}", dir.display())))?;
        }
        write_private(&path, token)
            .map_err(|e| Exit::Failed(format!("{}: {e}", path.display())))?;
        print(o, &json!({ "user": r["user"] }), || {
            format!("signed in as {}", r["user"]["email"].as_str().unwrap_or(""))
        });
        Ok(0)
    }

    fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())
    }

    fn read_line() -> Result<String, Exit> {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Exit::Failed(format!("reading stdin: {e}")))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Follows `build` of project `p` on the live event stream until it ends; 0 succeeded,
    /// 1 failed. Reconnects with `Last-Event-ID` if the stream drops.
    fn follow(o: &Opts, api: &Api, p: &Value, build: &str) -> Result<i32, Exit> {
        let project = p["id"].as_str().unwrap_or_default();
        let bars = MultiProgress::new();
        if o.json {
            bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template("{prefix:>14} {spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let lines: Vec<ProgressBar> = STEPS
            .iter()
            .map(|s| {
                let b = bars.add(ProgressBar::new_spinner());
                b.set_style(style.clone());
                b.set_prefix(s.to_string());
                b.set_message("waiting");
                b
            })
            .collect();
        let line = |step: &str| STEPS.iter().position(|s| *s == step).map(|i| &lines[i]);
        let mut last_id: Option<String> = None;
        for _attempt in 0..20 {
            let url = format!("{}/api/projects/{project}/events", o.url);
            let mut req = ureq::http::Request::builder()
                .uri(&url)
                .header("accept", "text/event-stream")
                .header(
                    "authorization",
                    format!("Bearer {}", api.token.clone().unwrap_or_default()),
                );
            if let Some(id) = &last_id {
                req = req.header("last-event-id", id.as_str());
            }
            let resp = api
                .agent
                .run(req.body(()).map_err(|e| Exit::Usage(e.to_string()))?)
                .map_err(|e| Exit::Failed(format!("cannot follow the build: {e}")))?;
            if resp.status().as_u16() != 200 {
                return Err(Exit::Failed(format!(
                    "the event stream answered {}",
                    resp.status()
                )));
            }
            let reader = BufReader::new(resp.into_body().into_reader());
            let mut data = String::new();
            for l in reader.lines() {
                let Ok(l) = l else { break };
                if let Some(id) = l.strip_prefix("id:") {
                    last_id = Some(id.trim().to_string());
                } else if let Some(d) = l.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                } else if l.is_empty() && !data.is_empty() {
                    let event: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    data.clear();
                    let d = &event["data"];
                    if d["build_id"] != build {
                        continue;
                    }
                    if o.json {
                        println!("{event}");
                    }
                    let step = d["step"].as_str().unwrap_or_default();
                    match event["type"].as_str().unwrap_or_default() {
                        "StepStarted" => {
                            if let Some(b) = line(step) {
                                b.enable_steady_tick(Duration::from_millis(120));
                                b.set_message(format!(
                                    "running (attempt {})",
                                    d["attempt"].as_u64().unwrap_or(1)
                                ));
                            }
                        }
                        "StepSucceeded" => {
                            if let Some(b) = line(step) {
                                b.finish_with_message(format!(
                                    "done in {} ms",
                                    d["duration_ms"].as_u64().unwrap_or(0)
                                ));
                            }
                        }
                        "StepFailed" => {
                            if let Some(b) = line(step) {
                                b.set_message(format!(
                                    "failed: {}",
                                    d["error"].as_str().or(d["reason"].as_str()).unwrap_or("")
                                ));
                            }
                        }
                        "BuildSucceeded" => {
                            for b in &lines {
                                if !b.is_finished() {
                                    b.finish();
                                }
                            }
                            let url = p["url"].as_str().unwrap_or_default();
                            if !o.json {
                                println!("live at {url} (version {})", d["version"]);
                            }
                            return Ok(0);
                        }
                        "BuildCancelled" => {
                            for b in &lines {
                                if !b.is_finished() {
                                    b.abandon();
                                }
                            }
                            if !o.json {
                                eprintln!("build cancelled");
                            }
                            return Ok(1);
                        }
                        "BuildFailed" => {
                            for b in &lines {
                                if !b.is_finished() {
                                    b.abandon();
                                }
                            }
                            let reason = d["reason"].as_str().unwrap_or("unknown reason");
                            let at = d["step"].as_str().unwrap_or("?");
                            if !o.json {
                                eprintln!("build failed at {at}: {reason}");
                            }
                            return Ok(1);
                        }
                        _ => {}
                    }
                }
            }
            // The stream ended before the build did: reconnect where it stopped.
            std::thread::sleep(Duration::from_millis(300));
        }
        Err(Exit::Failed(
            "the event stream kept dropping; try `kiln logs` again".into(),
        ))
    }
}
