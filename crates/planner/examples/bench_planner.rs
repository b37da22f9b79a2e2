//! Offline planner fidelity over the corpus in `tests/fixtures/planner/`: entity recall and
//! precision, and field recall, overall and per source. `corpus.json` was written before the
//! planner was tuned (its FullStack-Bench prompts guided the tuning too); `heldout.json` holds
//! FullStack-Bench instructions never used for tuning and is reported on its own line.
//! Deterministic: the planner is a pure function.
//!
//! ```text
//! cargo run -p planner --release --example bench_planner [-- --verbose]
//! cargo run -p planner --release --example bench_planner -- --prompt "a habit tracker"
//! ```

use std::time::Instant;

use planner::fidelity::{parse_corpus, score, Case, Tally};
use planner::plan_from_prompt;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--prompt") {
        // One prompt's plan, for looking at what the planner makes of it.
        let prompt = args.get(at + 1).map_or("", String::as_str);
        match plan_from_prompt(prompt) {
            Ok(plan) => println!(
                "{}",
                serde_json::to_string_pretty(&plan).expect("plans serialise")
            ),
            Err(e) => eprintln!("{e}"),
        }
        return;
    }
    let verbose = args.iter().any(|a| a == "--verbose" || a == "-v");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/planner");
    let load = |name: &str| -> Vec<Case> {
        let path = format!("{dir}/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        parse_corpus(&text)
            .unwrap_or_else(|e| panic!("{e}"))
            .prompts
    };
    let corpus = load("corpus.json");
    let heldout = load("heldout.json");

    let started = Instant::now();
    let mut rows: Vec<(&str, Tally, usize)> = Vec::new();
    let run = |cases: &[Case], keep: &dyn Fn(&Case) -> bool| -> (Tally, usize) {
        let mut t = Tally::default();
        let mut n = 0;
        for case in cases.iter().filter(|c| keep(c)) {
            let plan =
                plan_from_prompt(&case.prompt).unwrap_or_else(|e| panic!("{}: {e}", case.id));
            let got = score(case, &plan);
            t.add(&got.tally);
            n += 1;
            let clean =
                got.missing.is_empty() && got.extra.is_empty() && got.missing_fields.is_empty();
            if verbose && !clean {
                let tables: Vec<&str> = plan.entities.iter().map(|e| e.name.as_str()).collect();
                println!(
                    "{} {:?}\n  planned {tables:?}",
                    case.id,
                    shorten(&case.prompt)
                );
                if !got.missing.is_empty() {
                    println!("  missing {:?}", got.missing);
                }
                if !got.extra.is_empty() {
                    println!("  extra   {:?}", got.extra);
                }
                if !got.missing_fields.is_empty() {
                    println!("  fields  {:?}", got.missing_fields);
                }
            }
        }
        (t, n)
    };
    let (all, n_all) = run(&corpus, &|_| true);
    let elapsed = started.elapsed();
    let (own, n_own) = run(&corpus, &|c| c.source == "own");
    let (fsb, n_fsb) = run(&corpus, &|c| c.source != "own");
    let (held, n_held) = run(&heldout, &|_| true);
    rows.push(("corpus, all", all, n_all));
    rows.push(("  own (everyday)", own, n_own));
    rows.push(("  FullStack-Bench", fsb, n_fsb));
    rows.push(("held-out FullStack-Bench", held, n_held));

    println!(
        "planner fidelity ({n_all} corpus prompts planned in {:.1} ms)",
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "{:<26} {:>7} {:>7} {:>9} {:>12}",
        "subset", "prompts", "recall", "precision", "field recall"
    );
    for (name, t, n) in rows {
        println!(
            "{name:<26} {n:>7} {:>6.1}% {:>8.1}% {:>11.1}%   ({}/{} entities, {}/{} planned named, {}/{} fields)",
            t.recall() * 100.0,
            t.precision() * 100.0,
            t.field_recall() * 100.0,
            t.found,
            t.expected,
            t.planned_named,
            t.planned,
            t.fields_found,
            t.fields_expected
        );
    }
}

fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(110).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}
