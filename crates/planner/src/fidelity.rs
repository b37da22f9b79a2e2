//! Plan fidelity: how well a plan keeps what a prompt named, scored against a corpus of prompts
//! with the entities and key fields a person would expect (`tests/fixtures/planner/`).
//!
//! Used by the `bench_planner` example (figures in BENCHMARKS.md) and by the test that holds the
//! offline planner to its goals. Matching follows the corpus README: a table matches an expected
//! word singular or plural (`waterings` ↔ `watering`), a field matches by name (any listed
//! spelling, singular or plural) and kind, and `ref` fields match by the table they reference.

use serde::Deserialize;

use super::words::{plural, singular};
use plan::{FieldKind, Plan};

/// The corpus file.
#[derive(Debug, Clone, Deserialize)]
pub struct Corpus {
    /// Every prompt with its expectations.
    pub prompts: Vec<Case>,
}

/// One prompt and what its plan should contain.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// `own-NN` or `fsb-NNNNNN`.
    pub id: String,
    /// `own` or `FullStack-Bench`.
    pub source: String,
    /// The prompt, verbatim.
    pub prompt: String,
    /// The entities the prompt names.
    pub entities: Vec<Expected>,
    /// Words the plan may also have as entities without counting against precision.
    #[serde(default)]
    pub optional: Vec<String>,
}

/// An expected entity: `name` lists accepted words (`a|b`), `fields` are `name:kind` specs.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// Accepted words, `|`-separated, singular or plural.
    pub name: String,
    /// Key fields, `names:kind`.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Counts behind recall and precision; they add up over cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Expected entities.
    pub expected: usize,
    /// Expected entities present in the plan.
    pub found: usize,
    /// Entities in the plan.
    pub planned: usize,
    /// Entities in the plan that the prompt named (expected or optional).
    pub planned_named: usize,
    /// Expected fields (of all expected entities).
    pub fields_expected: usize,
    /// Expected fields present, with their kind, in a matched entity.
    pub fields_found: usize,
}

impl Tally {
    /// Adds another tally.
    pub fn add(&mut self, other: &Tally) {
        self.expected += other.expected;
        self.found += other.found;
        self.planned += other.planned;
        self.planned_named += other.planned_named;
        self.fields_expected += other.fields_expected;
        self.fields_found += other.fields_found;
    }

    /// Entity recall, 0 to 1.
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.expected)
    }

    /// Entity precision, 0 to 1.
    pub fn precision(&self) -> f64 {
        ratio(self.planned_named, self.planned)
    }

    /// Field recall, 0 to 1.
    pub fn field_recall(&self) -> f64 {
        ratio(self.fields_found, self.fields_expected)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// The score of one plan against its case, with what was missed.
#[derive(Debug, Clone, Default)]
pub struct CaseScore {
    /// The counts.
    pub tally: Tally,
    /// Expected entities not in the plan.
    pub missing: Vec<String>,
    /// Planned tables the prompt did not name.
    pub extra: Vec<String>,
    /// Expected fields not found (`entity.field:kind`).
    pub missing_fields: Vec<String>,
}

/// Parses the corpus JSON.
pub fn parse_corpus(text: &str) -> Result<Corpus, String> {
    serde_json::from_str(text).map_err(|e| format!("planner corpus: {e}"))
}

/// `review_results` → `review_result`, `my_cases` → `case`: compares names singular or plural.
fn norm(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let name = name.strip_prefix("my_").unwrap_or(&name).to_string();
    let name = name.strip_suffix("_value").unwrap_or(&name).to_string();
    match name.rsplit_once('_') {
        Some((head, last)) => format!("{head}_{}", singular(last)),
        None => singular(&name),
    }
}

fn matches_any(pattern: &str, name: &str) -> bool {
    let clean = |s: &str| s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let forms = [clean(name), norm(name)];
    pattern.split('|').any(|alt| {
        [clean(alt), norm(alt), plural(&clean(alt))]
            .iter()
            .any(|a| forms.contains(a))
    })
}

fn kind_matches(want: &str, kind: &FieldKind) -> bool {
    match want {
        "text" => matches!(kind, FieldKind::Text | FieldKind::LongText),
        "number" => matches!(kind, FieldKind::Number | FieldKind::Integer),
        other => kind.runtime_name() == other,
    }
}

/// Scores `plan` against `case`.
pub fn score(case: &Case, plan: &Plan) -> CaseScore {
    let mut out = CaseScore::default();
    let tables: Vec<&str> = plan.entities.iter().map(|e| e.name.as_str()).collect();
    let mut used = vec![false; tables.len()];
    out.tally.expected = case.entities.len();
    out.tally.planned = tables.len();
    for expected in &case.entities {
        out.tally.fields_expected += expected.fields.len();
        let hit = tables
            .iter()
            .enumerate()
            .position(|(i, t)| !used[i] && matches_any(&expected.name, t));
        let Some(i) = hit else {
            out.missing.push(expected.name.clone());
            for f in &expected.fields {
                out.missing_fields.push(format!("{}.{f}", expected.name));
            }
            continue;
        };
        used[i] = true;
        out.tally.found += 1;
        let entity = &plan.entities[i];
        for spec in &expected.fields {
            let (names, kind) = spec.split_once(':').unwrap_or((spec.as_str(), "text"));
            let found = entity.fields.iter().any(|f| match (&f.kind, kind) {
                (FieldKind::Reference(target), "ref") => matches_any(names, target),
                (_, "ref") => false,
                (k, want) => matches_any(names, &f.name) && kind_matches(want, k),
            });
            if found {
                out.tally.fields_found += 1;
            } else {
                out.missing_fields.push(format!("{}.{spec}", entity.name));
            }
        }
    }
    for (i, table) in tables.iter().enumerate() {
        let named = used[i]
            || case.entities.iter().any(|e| matches_any(&e.name, table))
            || case.optional.iter().any(|o| matches_any(o, table));
        if named {
            out.tally.planned_named += 1;
        } else {
            out.extra.push(table.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use plan::{Entity, Field};

    fn plan(entities: &[(&str, &[(&str, FieldKind)])]) -> Plan {
        Plan {
            app_name: "T".into(),
            summary: String::new(),
            pages: vec![],
            entities: entities
                .iter()
                .map(|(name, fields)| Entity {
                    name: name.to_string(),
                    label: String::new(),
                    fields: fields
                        .iter()
                        .map(|(n, k)| Field {
                            name: n.to_string(),
                            kind: k.clone(),
                            required: false,
                            values: vec![],
                        })
                        .collect(),
                    visibility: Default::default(),
                })
                .collect(),
            features: vec![],
            auth: true,
            file_storage: false,
            theme: None,
        }
    }

    #[test]
    fn names_match_singular_or_plural_and_kinds_and_references_are_checked() {
        let case: Case = serde_json::from_str(
            r#"{"id": "x", "source": "own", "prompt": "p",
                "entities": [
                  {"name": "deck", "fields": ["name|title:text"]},
                  {"name": "card", "fields": ["front:text", "deck:ref", "due:date"]},
                  {"name": "review_result|review"}
                ],
                "optional": ["tag"]}"#,
        )
        .unwrap();
        let got = score(
            &case,
            &plan(&[
                ("decks", &[("title", FieldKind::LongText)]),
                (
                    "cards",
                    &[
                        ("front", FieldKind::Text),
                        ("deck_id", FieldKind::Reference("decks".into())),
                        ("due", FieldKind::Text),
                    ],
                ),
                ("tags", &[]),
                ("flashcards", &[]),
            ]),
        );
        assert_eq!(
            got.tally,
            Tally {
                expected: 3,
                found: 2,
                planned: 4,
                planned_named: 3,
                fields_expected: 4,
                fields_found: 3,
            }
        );
        assert_eq!(got.missing, ["review_result|review"]);
        assert_eq!(got.extra, ["flashcards"]);
        assert_eq!(got.missing_fields, ["cards.due:date"]);
        assert!((got.tally.recall() - 2.0 / 3.0).abs() < 1e-9);
        assert!((got.tally.precision() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn the_corpus_file_parses_and_has_at_least_60_prompts() {
        let text = include_str!("../../../tests/fixtures/planner/corpus.json");
        let corpus = parse_corpus(text).expect("corpus parses");
        assert!(corpus.prompts.len() >= 60, "{}", corpus.prompts.len());
        assert!(parse_corpus("{")
            .unwrap_err()
            .starts_with("planner corpus: "));
    }
}
