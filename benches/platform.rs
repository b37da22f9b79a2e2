//! Platform benchmarks through a real `wrangler dev` (not a test: figures go to BENCHMARKS.md).
//!
//! Run with `make bench` (or `cargo bench -p kiln --bench platform`). Measures, on a fresh local
//! state: event append latency (an authenticated `POST /messages`: auth, fold from snapshot,
//! create-only R2 commit, D1 projection), reading a 1,000-event stream, and rebuilding the D1
//! projections from 10,000 events.

#[path = "../tests/e2e/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::Instant;

use serde_json::json;

pub use client::Api;
use harness::Kiln;

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
    let kiln = Kiln::start();
    let k = &kiln;
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
    let op = Some(k.operator_token.as_str());
    let mut rebuilds = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = k.api.send(
            "POST",
            "/api/admin/projections/rebuild",
            op,
            &[],
            None,
            None,
        );
        rebuilds.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "{}", r.body);
        println!("  rebuild report: {}", r.json()["report"]);
    }
    summary("projection rebuild (10,000 events, 3 runs)", rebuilds);
}
