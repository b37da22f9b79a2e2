//! The offline planner against its corpus (`tests/fixtures/planner/corpus.json`, written before
//! the planner was tuned): entity recall and precision must meet issue 14's goals, every plan must
//! be valid, and the issue's own examples must come out with the user's words. The planner is a
//! pure function, so these figures are exact and the same on every run; `bench_planner` prints
//! them (BENCHMARKS.md).

use plan::{FieldKind, Plan};
use planner::fidelity::{parse_corpus, score, Corpus, Tally};
use planner::plan_from_prompt;

/// Goals from issue 14.
const RECALL_GOAL: f64 = 0.95;
const PRECISION_GOAL: f64 = 0.90;

fn corpus() -> Corpus {
    let text = include_str!("../../../tests/fixtures/planner/corpus.json");
    parse_corpus(text).expect("the corpus parses")
}

fn plan(prompt: &str) -> Plan {
    let plan = plan_from_prompt(prompt).unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
    if let Err(errors) = plan.validate() {
        panic!("{prompt:?} gave an invalid plan: {errors:?}");
    }
    plan
}

fn tally(corpus: &Corpus, source: Option<&str>) -> (Tally, Vec<String>) {
    let mut total = Tally::default();
    let mut misses = Vec::new();
    for case in &corpus.prompts {
        if source.is_some_and(|s| s != case.source) {
            continue;
        }
        let p = plan(&case.prompt);
        let got = score(case, &p);
        total.add(&got.tally);
        if !got.missing.is_empty() || !got.extra.is_empty() {
            misses.push(format!(
                "{}: missing {:?}, extra {:?}",
                case.id, got.missing, got.extra
            ));
        }
    }
    (total, misses)
}

#[test]
fn the_corpus_has_at_least_60_prompts_with_expectations_and_unique_ids() {
    let corpus = corpus();
    assert!(corpus.prompts.len() >= 60, "{}", corpus.prompts.len());
    let mut ids: Vec<&str> = corpus.prompts.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), corpus.prompts.len(), "duplicate ids");
    for case in &corpus.prompts {
        assert!(!case.entities.is_empty(), "{} expects no entity", case.id);
        assert!(
            matches!(case.source.as_str(), "own" | "FullStack-Bench"),
            "{}: {}",
            case.id,
            case.source
        );
    }
    let fsb = corpus
        .prompts
        .iter()
        .filter(|c| c.source == "FullStack-Bench")
        .count();
    assert!(fsb >= 20, "only {fsb} FullStack-Bench prompts");
}

#[test]
fn entity_recall_and_precision_over_the_corpus_meet_the_goals() {
    let corpus = corpus();
    let (all, misses) = tally(&corpus, None);
    let report = format!(
        "recall {:.1}% ({}/{}), precision {:.1}% ({}/{}), field recall {:.1}%\n{}",
        all.recall() * 100.0,
        all.found,
        all.expected,
        all.precision() * 100.0,
        all.planned_named,
        all.planned,
        all.field_recall() * 100.0,
        misses.join("\n")
    );
    assert!(all.recall() >= RECALL_GOAL, "{report}");
    assert!(all.precision() >= PRECISION_GOAL, "{report}");
    // Everyday prompts are the planner's main use: hold them to the goals on their own too.
    let (own, _) = tally(&corpus, Some("own"));
    assert!(
        own.recall() >= RECALL_GOAL && own.precision() >= PRECISION_GOAL,
        "own prompts: recall {:.3}, precision {:.3}",
        own.recall(),
        own.precision()
    );
}

fn fields(plan: &Plan, table: &str) -> Vec<(String, FieldKind, Vec<String>)> {
    plan.entities
        .iter()
        .find(|e| e.name == table)
        .unwrap_or_else(|| panic!("no {table} in {plan:#?}"))
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.kind.clone(), f.values.clone()))
        .collect()
}

fn has(plan: &Plan, table: &str, name: &str, kind: &FieldKind) -> bool {
    fields(plan, table)
        .iter()
        .any(|(n, k, _)| n == name && k == kind)
}

fn tables(plan: &Plan) -> Vec<&str> {
    plan.entities.iter().map(|e| e.name.as_str()).collect()
}

fn reference(table: &str) -> FieldKind {
    FieldKind::Reference(table.to_string())
}

#[test]
fn the_issue_examples_keep_every_named_entity_under_the_users_word() {
    let waterings = plan(
        "A plant care app: my plants, and a log of waterings with the date and how much water.",
    );
    assert_eq!(tables(&waterings), ["plants", "waterings"]);
    assert!(has(&waterings, "waterings", "date", &FieldKind::Date));
    assert!(has(
        &waterings,
        "waterings",
        "plant_id",
        &reference("plants")
    ));

    let cards = plan("A flashcard app with decks, cards with front and back, and review results.");
    assert_eq!(tables(&cards), ["decks", "cards", "results"]);
    assert!(has(&cards, "cards", "front", &FieldKind::Text));
    assert!(has(&cards, "cards", "back", &FieldKind::Text));
    assert!(has(&cards, "results", "card_id", &reference("cards")));

    let home = plan(
        "A home maintenance tracker for rooms, appliances in each room, and repairs with cost and date.",
    );
    assert_eq!(tables(&home), ["rooms", "appliances", "repairs"]);
    assert!(has(&home, "appliances", "room_id", &reference("rooms")));
    assert!(has(&home, "repairs", "cost", &FieldKind::Number));
    assert!(has(&home, "repairs", "date", &FieldKind::Date));

    let budget = plan(
        "A budgeting app with categories, monthly budgets per category, and transactions with amount, date and category.",
    );
    assert_eq!(tables(&budget), ["categories", "budgets", "transactions"]);
    assert!(has(
        &budget,
        "budgets",
        "category_id",
        &reference("categories")
    ));
    assert!(has(
        &budget,
        "transactions",
        "category_id",
        &reference("categories")
    ));
    assert!(has(&budget, "transactions", "amount", &FieldKind::Number));

    let issues = plan(
        "An issue tracker with issues (title, status (open, in progress, done), severity) and comments on each issue.",
    );
    assert_eq!(tables(&issues), ["issues", "comments"]);
    let issue_fields = fields(&issues, "issues");
    assert!(issue_fields.contains(&(
        "status".into(),
        FieldKind::Choice,
        vec!["open".into(), "in progress".into(), "done".into()]
    )));
    assert!(issue_fields.contains(&(
        "severity".into(),
        FieldKind::Choice,
        vec![
            "low".into(),
            "medium".into(),
            "high".into(),
            "critical".into()
        ]
    )));
    assert!(has(&issues, "comments", "issue_id", &reference("issues")));
}
