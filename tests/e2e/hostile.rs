//! A hostile app: its `worker.js` is written (through the real model path, by the scripted model
//! server) to try every escape route it can reach from its isolate. Every attempt must fail: a
//! second app's rows and files stay unread and unchanged, and the platform and the other app keep
//! serving. Threat model: docs/adr/0011-app-isolation.md.

use serde_json::{json, Value};

use crate::builds::{app_post, app_send, app_user, request_build, wait_for_build};
use crate::model_server::{Behaviour, Kind};
use crate::{model_scenarios, Kiln, ModelServer, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    model_scenarios![
        a_hostile_app_cannot_read_or_change_another_app_by_any_route,
        a_hostile_app_that_loops_or_allocates_is_stopped_and_everyone_else_keeps_serving,
        code_that_imports_modules_at_run_time_is_refused_before_it_is_deployed,
    ]
}

/// Probe routes appended to the generated `worker.js`. Each attempt reports what it got; the test
/// decides what counts as an escape. Nothing here names the app secret or the host's modules
/// literally, nor calls `env.DB.prepare` written out: the validator refuses those, and a real
/// attacker would not write them either.
/// Reaching the network or other code by dynamic `import()`: refused before anything is deployed
/// (a computed path cannot be checked, and a literal one must be the app's own module).
const IMPORT_PROBES: &str = r#"
api.route("GET", "/api/probe/import", async ({ url }) => {
  const sockets = await import("cloudflare:" + "sockets");
  const s = sockets.connect("127.0.0.1:" + url.port);
  await s.opened;
  const fs = await import(url.searchParams.get("module"));
  return json(200, Object.keys(fs));
});
"#;

const PROBES: &str = r#"
// ---- probes -------------------------------------------------------------------------------
async function attempt(name, f) {
  try {
    const value = await f();
    return { name, ok: true, value };
  } catch (e) {
    return { name, ok: false, error: String((e && e.message) || e).slice(0, 300) };
  }
}
async function answer(r) {
  return { status: r.status, body: (await r.text()).slice(0, 4000) };
}
api.route("GET", "/api/probe/escape", async ({ env, url }) => {
  const victim = url.searchParams.get("victim");
  const vslug = url.searchParams.get("slug");
  const port = url.port;
  const sql = JSON.stringify({ sql: "SELECT email, password_hash FROM users", params: [] });
  const out = [];
  const targets = [
    "http://internal.kiln/apps/" + victim + "/db/query",
    "http://internal.kiln/apps/" + victim + "/db/destroy",
    "http://" + vslug + ".localhost:" + port + "/",
    "http://" + vslug + ".localhost:" + port + "/app.js",
    "http://localhost:" + port + "/api/_test/apps/" + victim + "/query",
    "http://x/../../versions/" + victim + "/00000001.json",
    "http://x/%2e%2e/%2e%2e/secrets/" + victim,
    "http://x/..%2f..%2fsecrets%2f" + victim,
    "http://x/public/../../apps/" + vslug + ".json",
  ];
  for (const t of targets) {
    out.push(await attempt("assets GET " + t, async () => answer(await env.ASSETS.fetch(t))));
    out.push(await attempt("assets POST " + t, async () => answer(await env.ASSETS.fetch(t, { method: "POST", body: sql }))));
  }
  const keys = ["../" + victim + "/x", "/appfiles/" + victim + "/x", "a/../../" + victim + "/x", "..\\" + victim, "./x", "x//y", "a/./b"];
  for (const k of keys) {
    out.push(await attempt("storage put " + k, async () => (await env.STORAGE.put(k, "owned")).key));
    out.push(await attempt("storage get " + k, async () => { const o = await env.STORAGE.get(k); return o ? o.text() : null; }));
    out.push(await attempt("storage delete " + k, async () => { await env.STORAGE.delete(k); return "deleted"; }));
  }
  // Keys that look like escapes but are plain names inside the app's own prefix.
  for (const k of ["..%2f" + victim + "%2fx", "appfiles/" + victim + "/x"]) {
    out.push(await attempt("storage own put " + k, async () => (await env.STORAGE.put(k, "mine")).key));
  }
  for (const prefix of ["", "../", "../" + victim + "/", "/", "..%2f"]) {
    out.push(await attempt("storage list " + prefix, async () => (await env.STORAGE.list({ prefix })).objects.map((o) => o.key)));
  }
  out.push(await attempt("storage list forged cursor", async () => (await env.STORAGE.list({ cursor: "appfiles/" + victim + "/" })).objects.map((o) => o.key)));
  out.push(await attempt("storage rpc put", async () => (await env.STORAGE.rpc.put("../" + victim + "/y", "owned")).key));
  out.push(await attempt("fetch platform", async () => answer(await fetch("http://localhost:" + port + "/api/health"))));
  out.push(await attempt("fetch other app", async () => answer(await fetch("http://" + vslug + ".localhost:" + port + "/"))));
  out.push(await attempt("fetch internal", async () => answer(await fetch("http://internal.kiln/apps/" + victim + "/db/query", { method: "POST", body: sql }))));
  out.push(await attempt("env keys", async () => Object.keys(env).sort()));
  out.push(await attempt("env binding names", async () => Object.keys(env).map((k) => typeof env[k])));
  out.push(await attempt("globalThis names", async () => Object.getOwnPropertyNames(globalThis)));
  // Through an alias: the validator refuses env.DB.prepare(…) written out (app code reaches data
  // through the runtime), and an attacker would write it this way.
  const db = env.DB;
  out.push(await attempt("db attach", async () => { await db.prepare("ATTACH DATABASE '" + victim + "' AS v").run(); return "attached"; }));
  out.push(await attempt("db users", async () => (await db.prepare("SELECT email FROM users").all()).results.map((r) => r.email)));
  out.push(await attempt("db tables", async () => (await db.prepare("SELECT name FROM sqlite_master").all()).results.map((r) => r.name)));
  out.push(await attempt("db rpc destroy", async () => String(await env.DB.rpc.destroy(victim))));
  out.push(await attempt("db rpc migrate", async () => String(await env.DB.rpc.migrate(victim, []))));
  out.push(await attempt("db rpc fetch", async () => answer(await env.DB.rpc.fetch("http://db/query", { method: "POST", body: sql }))));
  return json(200, out);
});
api.route("GET", "/api/probe/loop", async () => { let n = 0; while (true) { n++; } });
api.route("GET", "/api/probe/catching-loop", async () => {
  for (;;) { try { for (;;) {} } catch (e) { /* keep going */ } }
});
api.route("GET", "/api/probe/recursion", async () => { const f = (n) => f(n + 1) + 1; return json(200, f(0)); });
api.route("GET", "/api/probe/alloc-loop", async () => { const kept = []; for (;;) kept.push(new Array(1e6).fill(1.5)); });
api.route("GET", "/api/probe/big-buffer", async () => json(200, new Uint8Array(2 ** 31).length));
api.route("GET", "/api/probe/big-string", async () => json(200, "x".repeat(2 ** 28).length));
"#;

fn new_project(k: &Kiln, token: &str, name: &str) -> (String, String) {
    let p = k.api.create_project(token, name);
    (
        p["id"].as_str().unwrap().to_string(),
        p["slug"].as_str().unwrap().to_string(),
    )
}

/// Builds a notes app with file attachments through the model; `Append` scripts a hostile
/// addition to its worker.js.
fn build(k: &Kiln, m: &ModelServer, token: &str, name: &str, hostile: bool) -> (String, String) {
    build_from(
        k,
        m,
        token,
        name,
        "a notes app with file attachments",
        hostile,
    )
}

fn build_from(
    k: &Kiln,
    m: &ModelServer,
    token: &str,
    name: &str,
    prompt: &str,
    hostile: bool,
) -> (String, String) {
    if hostile {
        m.script(
            Kind::Codegen,
            vec![Behaviour::Append {
                path: "worker.js".into(),
                text: PROBES.into(),
            }],
        );
    }
    let (id, slug) = new_project(k, token, name);
    let build = request_build(k, token, &id, prompt, &[]);
    let b = wait_for_build(k, token, &build);
    assert_eq!(b["status"], "succeeded", "{b:#}\n{}", m.summary());
    (id, slug)
}

/// The victim's observable state: its users and notes (through the operator's test hook) and its
/// file, through its own API.
fn victim_state(k: &Kiln, id: &str, slug: &str, user: &str) -> Value {
    let q = |sql: &str| {
        let r = k.api.post(
            &format!("/api/_test/apps/{id}/query"),
            None,
            &json!({ "sql": sql }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["results"].clone()
    };
    let host = format!("{slug}.localhost:{}", k.port);
    let file = k.api.send(
        "GET",
        "/api/files/secret.txt",
        Some(user),
        &[],
        None,
        Some(&host),
    );
    let files = k
        .api
        .send("GET", "/api/files", Some(user), &[], None, Some(&host));
    assert_eq!(files.status, 200, "listing files works: {}", files.body);
    json!({
        "users": q("SELECT id, email, password_hash FROM users ORDER BY id"),
        "recipes": q("SELECT * FROM recipes ORDER BY id"),
        "file": [file.status, file.body],
        "files": files.json().as_array().unwrap().iter().map(|f| f["name"].clone()).collect::<Vec<_>>(),
    })
}

fn probe<'a>(results: &'a [Value], name: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no probe named {name}"))
}

fn a_hostile_app_cannot_read_or_change_another_app_by_any_route(k: &Kiln, m: &ModelServer) {
    m.reset();
    let owner = k.api.new_user();
    // The victim: a working app (another kind of app, so its files differ) with a user, a row
    // and a file.
    let (victim, vslug) = build_from(
        k,
        m,
        &owner,
        "Victim Recipes",
        "a recipe box with recipes and file attachments",
        false,
    );
    let vuser = app_user(k, &vslug, "victim@example.com");
    let note = app_post(
        k,
        &vslug,
        "/api/recipes",
        Some(&vuser),
        &json!({ "title": "victim's secret note" }),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let host = format!("{vslug}.localhost:{}", k.port);
    let put = k.api.send(
        "PUT",
        "/api/files/secret.txt",
        Some(&vuser),
        &[("content-type", "text/plain")],
        Some(b"victim's file".to_vec()),
        Some(&host),
    );
    assert_eq!(put.status, 201, "{}", put.body);
    let before = victim_state(k, &victim, &vslug, &vuser);
    assert_eq!(before["files"], json!(["secret.txt"]), "{before}");

    // The attacker: another user's app whose worker.js carries the probes.
    let attacker_owner = k.api.new_user();
    let (_attacker, aslug) = build(k, m, &attacker_owner, "Hostile Notes", true);
    let auser = app_user(k, &aslug, "attacker@example.com");
    let r = app_send(
        k,
        &aslug,
        "GET",
        &format!("/api/probe/escape?victim={victim}&slug={vslug}"),
        Some(&auser),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json().as_array().unwrap().clone();
    if std::env::var_os("KILN_E2E_VERBOSE").is_some() {
        println!("{}", serde_json::to_string_pretty(&results).unwrap());
    }
    let everything = r.body.clone();

    // Nothing the probes got contains anything of the victim's.
    for marker in [
        "victim@example.com",
        "victim's secret note",
        "victim's file",
        "/api/recipes",
        "Recipe",
    ] {
        assert!(
            !everything.contains(marker),
            "the probes reached '{marker}': {everything}"
        );
    }
    let vhash = before["users"][0]["password_hash"].as_str().unwrap();
    assert!(!everything.contains(vhash), "a password hash leaked");

    // ASSETS: reads are the attacker's own files by path (never another host, never an internal
    // API); writes are refused.
    for t in results
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("assets "))
    {
        let name = t["name"].as_str().unwrap();
        assert_eq!(t["ok"], true, "{t}");
        let status = t["value"]["status"].as_u64().unwrap();
        if name.starts_with("assets POST") {
            assert_eq!(status, 405, "{t}");
        } else {
            assert!(matches!(status, 200 | 404), "{t}");
            if status == 200 {
                assert!(
                    !t["value"]["body"].as_str().unwrap().contains("\"results\""),
                    "{t}"
                );
            }
        }
    }
    // STORAGE: every key or prefix that would leave the app's prefix is refused.
    for t in results.iter().filter(|r| {
        let n = r["name"].as_str().unwrap();
        (n.starts_with("storage put")
            || n.starts_with("storage get")
            || n.starts_with("storage delete"))
            && !n.starts_with("storage own")
    }) {
        assert_eq!(t["ok"], false, "{t}");
        assert!(t["error"].as_str().unwrap().contains("not allowed"), "{t}");
    }
    for t in results
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("storage own put"))
    {
        assert_eq!(
            t["ok"], true,
            "a plain name inside the app's own prefix is fine: {t}"
        );
    }
    for t in results
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("storage list"))
    {
        if t["ok"] == true {
            let keys = t["value"].as_array().unwrap();
            assert!(
                keys.iter()
                    .all(|k| !k.as_str().unwrap().contains("secret.txt")),
                "{t}"
            );
        }
    }
    assert_eq!(probe(&results, "storage list ../")["ok"], false);
    assert_eq!(probe(&results, "storage rpc put")["ok"], false);
    // No network: fetch() fails (connect() needs an import, refused at validation: see below).
    for name in ["fetch platform", "fetch other app", "fetch internal"] {
        let t = probe(&results, name);
        assert_eq!(t["ok"], false, "{t}");
    }
    // The app sees its four bindings and nothing of the host's.
    assert_eq!(
        probe(&results, "env keys")["value"],
        json!(["ASSETS", "DB", "JWT_SECRET", "STORAGE"])
    );
    let globals = probe(&results, "globalThis names")["value"].to_string();
    for host_name in [
        "STORE",
        "APP_DB",
        "LOADER",
        "APP_ADMIN",
        "DISPATCH",
        "AppAdmin",
    ] {
        assert!(!globals.contains(&format!("\"{host_name}\"")), "{globals}");
    }
    // The database is the app's own: no ATTACH, no admin methods, only its own users.
    assert_eq!(probe(&results, "db attach")["ok"], false);
    assert_eq!(
        probe(&results, "db users")["value"],
        json!(["attacker@example.com"])
    );
    for name in ["db rpc destroy", "db rpc migrate", "db rpc fetch"] {
        assert_eq!(
            probe(&results, name)["ok"],
            false,
            "{}",
            probe(&results, name)
        );
    }

    // The victim is unchanged and still serving; so is the platform.
    let after = victim_state(k, &victim, &vslug, &vuser);
    assert_eq!(before, after);
    assert_eq!(k.api.get_app(&vslug, "/").status, 200);
    assert_eq!(k.api.try_get_status("/api/health"), Some(200));
}

fn a_hostile_app_that_loops_or_allocates_is_stopped_and_everyone_else_keeps_serving(
    k: &Kiln,
    m: &ModelServer,
) {
    m.reset();
    let owner = k.api.new_user();
    let (_, vslug) = build(k, m, &owner, "Bystander Notes", false);
    let vuser = app_user(k, &vslug, "bystander@example.com");
    assert_eq!(
        app_post(
            k,
            &vslug,
            "/api/notes",
            Some(&vuser),
            &json!({ "title": "still here" })
        )
        .status,
        201
    );
    let (_, aslug) = build(k, m, &k.api.new_user(), "Spinning Notes", true);
    let auser = app_user(k, &aslug, "spinner@example.com");
    for path in [
        "/api/probe/loop",
        "/api/probe/catching-loop",
        "/api/probe/alloc-loop",
        "/api/probe/big-buffer",
        "/api/probe/big-string",
    ] {
        let r = app_send(k, &aslug, "GET", path, Some(&auser), None);
        println!("  {path}: {} {}", r.status, r.body);
        assert_eq!(
            r.status, 503,
            "{path} must be stopped by a budget, not succeed or hang: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["code"], "app_limit", "{path}: {}", r.body);
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            message.contains("CPU budget")
                || message.contains("bytes exceeds")
                || message.contains("in one request exceed"),
            "{path}: {message}"
        );
        everyone_else_serves(k, path, &vslug, &vuser, &aslug, &auser);
    }
    // Unbounded recursion ends in the engine's own stack limit (a RangeError, so a plain 500).
    let r = app_send(k, &aslug, "GET", "/api/probe/recursion", Some(&auser), None);
    assert!(matches!(r.status, 500 | 503), "{}: {}", r.status, r.body);
    everyone_else_serves(k, "/api/probe/recursion", &vslug, &vuser, &aslug, &auser);
}

/// After an attack on `path`, the platform, the bystander and the attacker's ordinary routes all
/// answer.
fn everyone_else_serves(k: &Kiln, path: &str, vslug: &str, vuser: &str, aslug: &str, auser: &str) {
    {
        // Everyone else keeps serving after each attempt.
        assert_eq!(
            k.api.try_get_status("/api/health"),
            Some(200),
            "after {path}"
        );
        let list = app_send(k, vslug, "GET", "/api/notes", Some(vuser), None);
        assert_eq!(list.status, 200, "after {path}: {}", list.body);
        assert!(list.body.contains("still here"));
        // And the hostile app itself still answers its ordinary routes.
        assert_eq!(
            app_send(k, aslug, "GET", "/api/notes", Some(auser), None).status,
            200
        );
    }
}

fn code_that_imports_modules_at_run_time_is_refused_before_it_is_deployed(
    k: &Kiln,
    m: &ModelServer,
) {
    m.reset();
    // The first answer and both repairs carry the probes (the scripted server's repairs give back
    // the files of the last codegen answer).
    m.script(
        Kind::Codegen,
        vec![Behaviour::Append {
            path: "worker.js".into(),
            text: IMPORT_PROBES.into(),
        }],
    );
    let token = k.api.new_user();
    let (id, slug) = new_project(k, &token, "Importing Notes");
    let build = request_build(k, &token, &id, "a notes app with file attachments", &[]);
    let b = wait_for_build(k, &token, &build);
    assert_eq!(b["status"], "failed", "{b:#}");
    assert_eq!(b["error"]["step"], "validate", "{b:#}");
    let reason = b["error"]["reason"].as_str().unwrap();
    assert!(reason.contains("import() with a computed path"), "{reason}");
    assert_eq!(
        k.api.get_app(&slug, "/").status,
        404,
        "nothing was deployed"
    );
}
