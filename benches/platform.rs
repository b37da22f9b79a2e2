//! Platform benchmarks through a real `wrangler dev` (not a test: figures go to BENCHMARKS.md).
//!
//! Run with `make bench` (or `cargo bench -p kiln --bench platform`). Measures, on a fresh local
//! state: event append latency (an authenticated `POST /messages`: auth, fold from snapshot,
//! create-only R2 commit, D1 projection), reading a 1,000-event stream, and rebuilding the D1
//! projections from 10,000 events. `builds-cloudflare` repeats the build section on a session
//! whose deploy target is `cloudflare` (the local Cloudflare API double, started with it).

#[path = "../tests/e2e/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../tests/e2e/cloudflare_double.rs"]
#[allow(dead_code)]
mod cloudflare_double;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::Instant;

use serde_json::json;

pub use client::Api;
use harness::{Kiln, Target};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().unwrap()
    );
}

fn post(k: &Kiln, token: &str, id: &str, i: usize) {
    let r = k.api.post(
        &format!("/api/projects/{id}/messages"),
        Some(token),
        &json!({ "content": format!("message {i}") }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

fn main() {
    // `cargo bench -p kiln --bench platform -- builds` runs one section; no argument runs all.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    if run("builds") || run("events") || run("rebuild") {
        let kiln = Kiln::start();
        if run("builds") {
            builds(&kiln);
        }
        if run("events") {
            event_log(&kiln);
        }
        if run("rebuild") {
            rebuilds(&kiln);
        }
    }
    if run("builds-cloudflare") {
        let kiln = Kiln::start_on(Target::Cloudflare, &[]);
        println!(
            "deploy target: cloudflare (REST API double at {})",
            kiln.double().url
        );
        builds(&kiln);
    }
}

fn build_until_done(
    k: &Kiln,
    token: &str,
    project: &str,
    prompt: &str,
) -> (f64, serde_json::Value) {
    let t = Instant::now();
    let r = k.api.post(
        &format!("/api/projects/{project}/builds"),
        Some(token),
        &json!({ "prompt": prompt }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["build_id"].as_str().unwrap().to_string();
    loop {
        let b = k.api.get(&format!("/api/builds/{id}"), Some(token)).json()["build"].clone();
        if b["status"] == "succeeded" {
            return (t.elapsed().as_secs_f64() * 1000.0, b);
        }
        assert_ne!(b["status"], "failed", "{b:#}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Prompt → live app with the offline generator, and requests to the deployed app.
fn builds(k: &Kiln) {
    let token = k.api.new_user();
    let prompts = [
        "a task manager with projects and tasks",
        "a recipe book with ingredients and ratings",
        "an inventory tracker for a bakery",
        "a habit tracker",
        "a reading list",
    ];
    let mut walls = Vec::new();
    let mut per_step: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut overheads = Vec::new();
    let mut last = None;
    for i in 0..10 {
        let p = k.api.create_project(&token, &format!("Bench App {i}"));
        let id = p["id"].as_str().unwrap().to_string();
        let (wall, b) = build_until_done(k, &token, &id, prompts[i % prompts.len()]);
        let mut in_steps = 0.0;
        for s in b["steps"].as_array().unwrap() {
            let ms = s["duration_ms"].as_f64().unwrap_or(0.0);
            in_steps += ms;
            per_step
                .entry(s["name"].as_str().unwrap().to_string())
                .or_default()
                .push(ms);
        }
        overheads.push((wall - in_steps).max(0.0) / wall);
        walls.push(wall);
        last = Some((
            p["slug"].as_str().unwrap().to_string(),
            id,
            b["deployed_version"].as_u64().unwrap(),
        ));
    }
    let target = format!("{:?}", k.target()).to_lowercase();
    summary(
        &format!("prompt → live (offline generator, {target} target, 10 builds)"),
        walls.clone(),
    );
    for (name, ms) in per_step {
        summary(&format!("  step {name}"), ms);
    }
    overheads.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("  share of wall time outside step bodies (queue, workflow engine, event appends, polling): p50 {:.0}%", percentile(&overheads, 0.5) * 100.0);

    // A deployed app's requests through dispatch, against the same bytes from the platform Worker.
    let (slug, id, version) = last.unwrap();
    let host = format!("{slug}.localhost:{}", k.port);
    let reg = k.api.send(
        "POST",
        "/api/auth/register",
        None,
        &[("content-type", "application/json")],
        Some(
            json!({ "email": "b@example.com", "password": "correct horse" })
                .to_string()
                .into_bytes(),
        ),
        Some(&host),
    );
    let app_token = reg.json()["token"].as_str().unwrap().to_string();
    // The last of the ten builds used prompts[4], "a reading list", whose entity is `books`.
    let table = "books".to_string();
    let time = |f: &dyn Fn() -> u16| {
        let mut v = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            assert_eq!(f(), 200);
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        v
    };
    let app_root = time(&|| k.api.send("GET", "/", None, &[], None, Some(&host)).status);
    let app_list = time(&|| {
        k.api
            .send(
                "GET",
                &format!("/api/{table}"),
                Some(&app_token),
                &[],
                None,
                Some(&host),
            )
            .status
    });
    let plain = time(&|| {
        k.api
            .get(
                &format!("/api/projects/{id}/versions/{version}/files/public/index.html"),
                Some(&token),
            )
            .status
    });
    let p50 = |v: &Vec<f64>| {
        let mut s = v.clone();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        percentile(&s, 0.5)
    };
    let ratio = p50(&app_root) / p50(&plain);
    summary(
        &format!("app GET / via dispatch ({target} target)"),
        app_root,
    );
    summary(
        &format!("app GET /api/{table} via dispatch ({target} target)"),
        app_list,
    );
    summary(
        "same index.html bytes via the platform Worker (plain Worker, R2 read)",
        plain,
    );
    println!("  dispatch / plain Worker p50 ratio for the same response: {ratio:.2}");
}

/// Event log: appends, reads, verification, projection rebuild.
fn event_log(kiln: &Kiln) {
    let k = kiln;
    let token = k.api.new_user();

    // 1. Append latency on one stream, sequential.
    let id = k.api.create_project(&token, "Bench Append")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut lat = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        post(k, &token, &id, i);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    summary("append (POST /messages, sequential, 300)", lat);

    // 2. Reading a 1,000-event stream.
    for i in 300..999 {
        post(k, &token, &id, i);
    }
    let mut reads = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = k.api.get(
            &format!("/api/projects/{id}/events?limit=1000"),
            Some(&token),
        );
        reads.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.json()["events"].as_array().unwrap().len(), 1000);
    }
    summary(
        "read 1,000-event stream (GET /events?limit=1000, 10 runs)",
        reads,
    );
    let t = Instant::now();
    let v = k
        .api
        .get(&format!("/api/projects/{id}/events/verify"), Some(&token))
        .json();
    assert_eq!(v["ok"], true);
    println!(
        "verify 1,000-event stream: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );

    // 3. Projection rebuild over 10,000 events (9 more streams of 1,000, written by 4 clients).
    let ids: Vec<String> = (0..9)
        .map(|n| {
            k.api.create_project(&token, &format!("Bench {n}"))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in ids.chunks(3) {
            let token = &token;
            s.spawn(move || {
                for id in chunk {
                    for i in 0..999 {
                        post(k, token, id, i);
                    }
                }
            });
        }
    });
    println!(
        "seeded 9,000 more events in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut rebuilds = Vec::new();
    for _ in 0..3 {
        let (ms, progress) = rebuild(k);
        rebuilds.push(ms);
        println!("  rebuild: {progress}");
    }
    summary(
        "projection rebuild (10,000 events in 10 streams, one commit per event, 3 runs)",
        rebuilds,
    );
}

/// Runs a projection rebuild to the end (start, then poll its progress); returns the wall time in
/// ms and the final progress.
fn rebuild(k: &Kiln) -> (f64, serde_json::Value) {
    let op = Some(k.operator_token.as_str());
    let t = Instant::now();
    let r = k.api.send(
        "POST",
        "/api/admin/projections/rebuild",
        op,
        &[],
        None,
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    loop {
        let p = k.api.get("/api/admin/projections/rebuild", op).json()["rebuild"].clone();
        if p["status"] == "done" {
            return (t.elapsed().as_secs_f64() * 1000.0, p);
        }
        assert_eq!(p["status"], "running", "{p}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Appends `n` synthetic events to a new project through the seeding test hook.
fn seed_project(k: &Kiln, token: &str, name: &str, n: u64) {
    let id = k.api.create_project(token, name)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut left = n;
    while left > 0 {
        let take = left.min(20_000);
        let r = k.api.post(
            &format!("/api/_test/projects/{id}/seed"),
            None,
            &json!({ "events": take }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        left -= take;
    }
}

/// Rebuilds of 10,000 and 100,000 events seeded in bulk (commits of 1,000 events), on a fresh
/// session: `cargo bench -p kiln --bench platform -- rebuild`.
fn rebuilds(k: &Kiln) {
    let token = k.api.new_user();
    let t = Instant::now();
    for n in 0..10 {
        seed_project(k, &token, &format!("Seeded {n}"), 999);
    }
    println!(
        "seeded 10,000 events (10 streams) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (ms, p) = rebuild(k);
    println!(
        "rebuild of 10,000 events: {ms:.0} ms ({} chunks) {p}",
        p["chunks"]
    );
    let t = Instant::now();
    for n in 0..10 {
        seed_project(k, &token, &format!("Seeded Large {n}"), 8_999);
    }
    println!(
        "seeded 90,000 more events (10 streams) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (ms, p) = rebuild(k);
    println!(
        "rebuild of 100,000 events: {ms:.0} ms ({} chunks) {p}",
        p["chunks"]
    );
}
