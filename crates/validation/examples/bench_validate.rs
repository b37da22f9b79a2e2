//! Throughput of `validation::validate_app` on the offline generator's app for "a task
//! manager with projects and tasks".
//!
//! ```text
//! cargo run --release -p validation --example bench_validate
//! ```
//!
//! Two figures: the app as shipped (the byte-identical runtime files are skipped), and the same
//! app with every runtime file changed by one trailing newline, so every module is parsed (what a
//! model-written app costs at most per byte). Before them, the first call in the process alone:
//! it also parses the shipped runtime files' export lists, which later calls reuse.

use std::hint::black_box;
use std::time::{Duration, Instant};

use planner::plan_from_prompt;
use scaffold::{generate, runtime_files};
use validation::{validate_app, Limits};

const PROMPT: &str = "a task manager with projects and tasks";

/// Runs for at least this long per figure.
const MIN_TIME: Duration = Duration::from_secs(2);

fn main() {
    let plan = plan_from_prompt(PROMPT)
        .expect("plan")
        .validate()
        .expect("valid plan");
    let tables: Vec<String> = plan
        .plan()
        .entities
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let app: Vec<(String, String)> = generate(&plan)
        .into_iter()
        .chain(
            runtime_files()
                .into_iter()
                .map(|(p, c)| (p.to_string(), c.to_string())),
        )
        .collect();
    let changed: Vec<(String, String)> = app
        .iter()
        .map(|(p, c)| {
            let shipped = runtime_files().iter().any(|(rp, _)| rp == p);
            (
                p.clone(),
                if shipped { format!("{c}\n") } else { c.clone() },
            )
        })
        .collect();

    println!("validate_app on the offline app for {PROMPT:?}");
    let start = Instant::now();
    let first = validate_app(&app, &tables, &Limits::default());
    let first_time = start.elapsed();
    assert!(
        first.is_ok(),
        "the offline app should validate clean:\n{first}"
    );
    println!(
        "  {:<20} {:>7.3} ms (the runtime files' export lists parsed and kept)",
        "first call",
        first_time.as_secs_f64() * 1e3
    );
    for (label, files) in [("as shipped", &app), ("every module parsed", &changed)] {
        let report = validate_app(files, &tables, &Limits::default());
        assert!(
            report.is_ok(),
            "the offline app should validate clean:\n{report}"
        );
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < MIN_TIME {
            black_box(validate_app(black_box(files), &tables, &Limits::default()));
            runs += 1;
        }
        let per_app = start.elapsed().as_secs_f64() / f64::from(runs);
        let parsed_bytes: usize = files
            .iter()
            .filter(|(p, c)| {
                let js = p.ends_with(".js") || p.ends_with(".mjs");
                let skipped = runtime_files().iter().any(|(rp, rc)| rp == p && rc == c);
                (js && !skipped) || p.starts_with("migrations/")
            })
            .map(|(_, c)| c.len())
            .sum();
        println!(
            "  {label:<20} {:>3} modules parsed, {:>6.1} KB checked of {:>6.1} KB: {:>7.3} ms per app, {:>6.1} MB/s checked ({runs} runs)",
            report.modules_parsed,
            parsed_bytes as f64 / 1024.0,
            report.bytes as f64 / 1024.0,
            per_app * 1e3,
            parsed_bytes as f64 / per_app / 1e6,
        );
    }
}
