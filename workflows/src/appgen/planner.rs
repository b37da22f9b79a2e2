//! Prompt → plan, deterministically and without a model.
//!
//! It recognises common kinds of app by keyword (tasks, recipes, inventory, habits, notes,
//! contacts, expenses, books, workouts, events) and otherwise builds a plan around the main noun
//! of the request, so every prompt gets a sensible, valid plan.

use super::plan::{Entity, Field, FieldKind, Plan};

/// Longest accepted prompt.
pub const MAX_PROMPT_CHARS: usize = 20_000;

/// Why a prompt was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// Nothing to plan.
    #[error("the prompt is empty; describe the app you want")]
    Empty,
    /// Too long.
    #[error("the prompt is {0} characters; the limit is {MAX_PROMPT_CHARS}")]
    TooLong(usize),
}

fn f(name: &str, kind: FieldKind, required: bool) -> Field {
    Field {
        name: name.into(),
        kind,
        required,
    }
}

fn entity(name: &str, fields: Vec<Field>) -> Entity {
    Entity {
        name: name.into(),
        fields,
    }
}

use FieldKind::*;

/// Known kinds of app: trigger words, app name, entities.
fn archetypes() -> Vec<(&'static [&'static str], &'static str, Vec<Entity>)> {
    vec![
        (
            &["task", "todo", "to-do", "kanban"],
            "Task Manager",
            vec![
                entity(
                    "projects",
                    vec![f("name", Text, true), f("description", LongText, false)],
                ),
                entity(
                    "tasks",
                    vec![
                        f("title", Text, true),
                        f("done", Boolean, false),
                        f("due", Date, false),
                        f("project_id", Integer, false),
                        f("notes", LongText, false),
                    ],
                ),
            ],
        ),
        (
            &["recipe", "cook", "meal"],
            "Recipe Book",
            vec![entity(
                "recipes",
                vec![
                    f("title", Text, true),
                    f("ingredients", LongText, false),
                    f("instructions", LongText, false),
                    f("rating", Rating, false),
                    f("minutes", Integer, false),
                ],
            )],
        ),
        (
            &["inventory", "stock", "warehouse", "bakery", "pantry"],
            "Inventory",
            vec![entity(
                "items",
                vec![
                    f("name", Text, true),
                    f("quantity", Integer, false),
                    f("unit", Text, false),
                    f("price", Number, false),
                    f("reorder_at", Integer, false),
                    f("notes", LongText, false),
                ],
            )],
        ),
        (
            &["habit", "streak"],
            "Habit Tracker",
            vec![
                entity(
                    "habits",
                    vec![f("name", Text, true), f("goal", Text, false)],
                ),
                entity(
                    "check_ins",
                    vec![
                        f("habit_id", Integer, true),
                        f("day", Date, true),
                        f("done", Boolean, false),
                        f("note", Text, false),
                    ],
                ),
            ],
        ),
        (
            &["note", "journal", "diary"],
            "Notes",
            vec![entity(
                "notes",
                vec![
                    f("title", Text, true),
                    f("body", LongText, false),
                    f("pinned", Boolean, false),
                ],
            )],
        ),
        (
            &["contact", "crm", "client", "customer"],
            "Contacts",
            vec![entity(
                "contacts",
                vec![
                    f("name", Text, true),
                    f("email", Text, false),
                    f("phone", Text, false),
                    f("company", Text, false),
                    f("notes", LongText, false),
                ],
            )],
        ),
        (
            &["expense", "budget", "spending", "finance"],
            "Expenses",
            vec![entity(
                "expenses",
                vec![
                    f("description", Text, true),
                    f("amount", Number, true),
                    f("category", Text, false),
                    f("day", Date, false),
                ],
            )],
        ),
        (
            &["book", "reading", "library"],
            "Reading List",
            vec![entity(
                "books",
                vec![
                    f("title", Text, true),
                    f("author", Text, false),
                    f("rating", Rating, false),
                    f("finished", Boolean, false),
                    f("notes", LongText, false),
                ],
            )],
        ),
        (
            &["workout", "fitness", "exercise", "gym"],
            "Workout Log",
            vec![entity(
                "workouts",
                vec![
                    f("activity", Text, true),
                    f("minutes", Integer, false),
                    f("day", Date, false),
                    f("notes", LongText, false),
                ],
            )],
        ),
        (
            &["event", "meetup", "calendar", "booking"],
            "Events",
            vec![entity(
                "events",
                vec![
                    f("title", Text, true),
                    f("day", Date, true),
                    f("location", Text, false),
                    f("details", LongText, false),
                ],
            )],
        ),
    ]
}

const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "app",
    "application",
    "for",
    "with",
    "and",
    "or",
    "of",
    "to",
    "my",
    "our",
    "me",
    "i",
    "we",
    "that",
    "which",
    "build",
    "make",
    "create",
    "want",
    "need",
    "simple",
    "small",
    "web",
    "site",
    "website",
    "tracker",
    "manager",
    "track",
    "manage",
    "list",
    "lists",
    "please",
    "some",
    "can",
    "where",
    "users",
    "user",
    "in",
    "on",
    "by",
    "it",
    "is",
    "be",
    "should",
    "like",
];

fn plural(word: &str) -> String {
    if word.ends_with('s') {
        word.to_string()
    } else if let Some(stem) = word
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{word}s")
    }
}

fn title_case(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Plans an app for `prompt`. Always returns a plan that passes `Plan::validate`.
pub fn plan_from_prompt(prompt: &str) -> Result<Plan, PromptError> {
    let trimmed = prompt.trim();
    if trimmed.is_empty() {
        return Err(PromptError::Empty);
    }
    let n = trimmed.chars().count();
    if n > MAX_PROMPT_CHARS {
        return Err(PromptError::TooLong(n));
    }
    let lower = trimmed.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    let summary: String = trimmed.chars().take(200).collect();
    for (triggers, name, entities) in archetypes() {
        if words
            .iter()
            .any(|w| triggers.iter().any(|t| w.starts_with(t)))
        {
            let features = vec![
                "sign-up and sign-in".into(),
                format!(
                    "manage {}",
                    entities
                        .iter()
                        .map(|e| e.name.replace('_', " "))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            ];
            return Ok(Plan {
                app_name: name.into(),
                summary,
                entities,
                features,
                auth: true,
                file_storage: false,
            });
        }
    }
    // Unknown kind of app: build it around the first meaningful noun.
    let noun = words
        .iter()
        .find(|w| {
            w.len() > 2
                && !STOP.contains(w)
                && w.as_bytes()[0].is_ascii_lowercase()
                && w.bytes().all(|b| b.is_ascii_lowercase())
        })
        .copied()
        .unwrap_or("item");
    let mut table = plural(noun);
    table.truncate(30);
    if super::plan::Plan::validate(&Plan {
        app_name: "x".into(),
        summary: String::new(),
        entities: vec![entity(&table, vec![f("name", Text, true)])],
        features: vec![],
        auth: true,
        file_storage: false,
    })
    .is_err()
    {
        table = "items".into();
    }
    let app_name = title_case(&[noun, "tracker"]);
    let entities = vec![entity(
        &table,
        vec![
            f("name", Text, true),
            f("notes", LongText, false),
            f("done", Boolean, false),
        ],
    )];
    Ok(Plan {
        app_name,
        summary,
        entities,
        features: vec!["sign-up and sign-in".into(), format!("manage {table}")],
        auth: true,
        file_storage: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_requests_get_fitting_plans() {
        let p = plan_from_prompt("a task manager with projects and tasks").unwrap();
        assert_eq!(
            p.entities
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["projects", "tasks"]
        );
        let p = plan_from_prompt("a recipe book with ingredients and ratings").unwrap();
        let fields: Vec<&str> = p.entities[0]
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert!(fields.contains(&"ingredients") && fields.contains(&"rating"));
        assert_eq!(
            plan_from_prompt("an inventory tracker for a bakery")
                .unwrap()
                .entities[0]
                .name,
            "items"
        );
        assert_eq!(
            plan_from_prompt("a habit tracker").unwrap().entities.len(),
            2
        );
    }

    #[test]
    fn any_prompt_yields_a_valid_plan() {
        for p in [
            "plant watering schedule",
            "something for my band's gigs",
            "ORDER tracking",
            "Select * from users; drop table x",
            "日本語のアプリ",
            "!!!",
            "a catalogue of vintage synthesizers with prices",
            "x",
        ] {
            let plan = plan_from_prompt(p).unwrap();
            assert!(plan.validate().is_ok(), "{p}: {:?}", plan.validate());
        }
    }

    #[test]
    fn empty_and_oversize_prompts_are_refused() {
        assert_eq!(plan_from_prompt("  "), Err(PromptError::Empty));
        assert!(matches!(
            plan_from_prompt(&"a".repeat(MAX_PROMPT_CHARS + 1)),
            Err(PromptError::TooLong(_))
        ));
    }

    #[test]
    fn planning_is_deterministic() {
        assert_eq!(
            plan_from_prompt("a gig list for my band").unwrap(),
            plan_from_prompt("a gig list for my band").unwrap()
        );
    }
}
