//! Offline planner fidelity over the corpus in `tests/fixtures/planner/corpus.json`: entity recall
//! and precision, and field recall, overall and per source (the FullStack-Bench subset is the
//! held-out part). Deterministic: the planner is a pure function.
//!
//! ```text
//! cargo run -p workflows --release --example bench_planner [-- --verbose]
//! cargo run -p workflows --release --example bench_planner -- --prompt "a habit tracker"
//! ```

use std::time::Instant;

use workflows::offline::fidelity::{parse_corpus, score, Tally};
use workflows::offline::plan_from_prompt;

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
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/planner/corpus.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let corpus = parse_corpus(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut all = Tally::default();
    let mut own = Tally::default();
    let mut fsb = Tally::default();
    let started = Instant::now();
    for case in &corpus.prompts {
        let plan = plan_from_prompt(&case.prompt).unwrap_or_else(|e| panic!("{}: {e}", case.id));
        let got = score(case, &plan);
        all.add(&got.tally);
        if case.source == "own" {
            own.add(&got.tally)
        } else {
            fsb.add(&got.tally)
        }
        let clean = got.missing.is_empty() && got.extra.is_empty() && got.missing_fields.is_empty();
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
    let elapsed = started.elapsed();
    println!(
        "planner fidelity over {} prompts ({:.1} ms in all)",
        corpus.prompts.len(),
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "{:<22} {:>8} {:>8} {:>10} {:>12}",
        "subset", "prompts", "recall", "precision", "field recall"
    );
    let count = |source: Option<&str>| {
        corpus
            .prompts
            .iter()
            .filter(|c| source.is_none_or(|s| (s == "own") == (c.source == "own")))
            .count()
    };
    for (name, t, n) in [
        ("all", all, count(None)),
        ("own (everyday)", own, count(Some("own"))),
        ("FullStack-Bench", fsb, count(Some("fsb"))),
    ] {
        println!(
            "{name:<22} {n:>8} {:>7.1}% {:>9.1}% {:>11.1}%   ({}/{} entities, {}/{} planned named, {}/{} fields)",
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
