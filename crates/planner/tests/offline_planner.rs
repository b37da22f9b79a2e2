//! The offline planner: example prompts give sensible plans, every prompt gives a valid plan, and
//! planning is deterministic.

use plan::{FieldKind, Plan};
use planner::{plan_from_prompt, PromptError, MAX_PROMPT_CHARS};
use proptest::prelude::*;

fn plan(prompt: &str) -> Plan {
    let plan = plan_from_prompt(prompt).unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
    if let Err(errors) = plan.validate() {
        panic!("{prompt:?} gave an invalid plan: {errors:?}\n{plan:#?}");
    }
    plan
}

fn tables(plan: &Plan) -> Vec<&str> {
    plan.entities.iter().map(|e| e.name.as_str()).collect()
}

fn field<'a>(plan: &'a Plan, table: &str, name: &str) -> Option<&'a FieldKind> {
    plan.entities
        .iter()
        .find(|e| e.name == table)?
        .fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| &f.kind)
}

/// Prompts and the tables (and `table.field`s) their plan must contain. Tables carry the user's
/// own word (issue 14): "a bug tracker" has `bugs`, "my dogs" are `dogs`, "my runs" are `runs`.
const VARIED: &[(&str, &[&str])] = &[
    ("a todo list", &["tasks", "tasks.done"]),
    (
        "an app to track my plants and when I water them",
        &["plants"],
    ),
    (
        "a simple CRM for my small business to manage clients and deals",
        &["clients", "deals", "deals.client_id"],
    ),
    ("a workout log", &["workouts", "workouts.date"]),
    ("a reading list for books I want to read", &["books"]),
    (
        "keep track of my vinyl record collection with artist, year and condition",
        &[
            "vinyl_records",
            "vinyl_records.artist",
            "vinyl_records.year",
            "vinyl_records.condition",
        ],
    ),
    (
        "an expense tracker with categories",
        &["expenses", "expenses.category", "expenses.amount"],
    ),
    ("a journal", &["entries", "entries.date"]),
    (
        "a shopping list",
        &["shopping_items", "shopping_items.bought"],
    ),
    (
        "a bug tracker for my side projects",
        &["bugs", "projects", "bugs.project_id", "bugs.status"],
    ),
    (
        "a meal planner with recipes",
        &["meals", "recipes", "meals.recipe_id"],
    ),
    (
        "an event planner for a wedding with guests",
        &["events", "guests", "guests.event_id"],
    ),
    (
        "a pet care tracker with vet appointments",
        &["pets", "appointments", "appointments.date"],
    ),
    ("track my daily water intake", &["water_intakes"]),
    (
        "an invoice app for freelancers with clients",
        &["invoices", "clients", "invoices.client_id"],
    ),
    (
        "a movie watchlist with ratings",
        &["movies", "movies.rating"],
    ),
    (
        "a contact book with birthdays and phone numbers",
        &["contacts", "contacts.birthday", "contacts.phone"],
    ),
    (
        "inventory for my online shop with suppliers and products",
        &["suppliers", "products", "products.supplier_id"],
    ),
    (
        "I want to log my runs with distance and time",
        &["runs", "runs.distance_km", "runs.time"],
    ),
    ("a kanban board for my team", &["tasks"]),
    (
        "A tool to organize my recipes, ingredients and weekly meal plans.",
        &["recipes", "ingredients", "meals", "ingredients.recipe_id"],
    ),
    (
        "a tracker for my dogs and their vet visits",
        &["dogs", "vet_visits", "vet_visits.dog_id"],
    ),
    (
        "a study planner where each course has exams with dates and scores",
        &["courses", "exams", "exams.course_id", "exams.date"],
    ),
    ("a plant diary with photos", &["plants"]),
    // Writing: titled bodies, comments on what they comment on; "poetry", "blog" and
    // "guestbook" name a domain, so a short prompt still gets the records it implies.
    ("a poetry blog", &["poems", "poems.title", "poems.body"]),
    ("a blog", &["posts", "posts.title", "posts.body"]),
    (
        "a simple blog with posts and comments",
        &["posts", "comments", "comments.post_id", "comments.body"],
    ),
    (
        "a place to share short stories",
        &["stories", "stories.title", "stories.body"],
    ),
    (
        "a guestbook",
        &["messages", "messages.name", "messages.message"],
    ),
    ("Ich möchte eine App für Rezepte", &[]),
    ("app", &["items"]),
];

#[test]
fn the_people_who_read_an_app_are_not_records_of_it() {
    let blog = plan("a poetry blog where visitors can read poems and leave comments");
    assert_eq!(tables(&blog), ["poems", "comments"]);
    assert_eq!(
        field(&blog, "comments", "poem_id"),
        Some(&FieldKind::Reference("poems".into()))
    );
    let recipes = plan("a recipe app where readers can rate recipes");
    assert_eq!(tables(&recipes), ["recipes"]);
    // Without a modal, guests are records: a wedding's guest list.
    let wedding = plan("a wedding planner with a guest list");
    assert_eq!(tables(&wedding), ["guests"]);
}

#[test]
fn the_reference_prompts_give_the_expected_plans() {
    let tasks = plan("a task manager with projects and tasks");
    assert_eq!(tables(&tasks), ["projects", "tasks"]);
    assert_eq!(field(&tasks, "tasks", "title"), Some(&FieldKind::Text));
    assert_eq!(field(&tasks, "tasks", "done"), Some(&FieldKind::Boolean));
    assert_eq!(field(&tasks, "tasks", "due_date"), Some(&FieldKind::Date));
    assert_eq!(
        field(&tasks, "tasks", "project_id"),
        Some(&FieldKind::Reference("projects".into()))
    );

    let recipes = plan("a recipe book with ingredients and ratings");
    assert_eq!(tables(&recipes), ["recipes"]);
    assert_eq!(field(&recipes, "recipes", "title"), Some(&FieldKind::Text));
    assert_eq!(
        field(&recipes, "recipes", "ingredients"),
        Some(&FieldKind::LongText)
    );
    assert_eq!(
        field(&recipes, "recipes", "rating"),
        Some(&FieldKind::Rating)
    );

    let bakery = plan("an inventory tracker for a bakery");
    assert_eq!(tables(&bakery), ["items"]);
    assert_eq!(
        field(&bakery, "items", "quantity"),
        Some(&FieldKind::Integer)
    );
    assert_eq!(field(&bakery, "items", "unit"), Some(&FieldKind::Text));
    assert_eq!(field(&bakery, "items", "price"), Some(&FieldKind::Number));

    let habits = plan("a habit tracker");
    assert_eq!(tables(&habits), ["habits", "check_ins"]);
    assert_eq!(
        field(&habits, "check_ins", "habit_id"),
        Some(&FieldKind::Reference("habits".into()))
    );
}

#[test]
fn varied_prompts_give_valid_sensible_plans() {
    for (prompt, expected) in VARIED {
        let p = plan(prompt);
        println!("{prompt:?} → {} {:?}", p.app_name, tables(&p));
        for want in *expected {
            match want.split_once('.') {
                Some((table, name)) => assert!(
                    field(&p, table, name).is_some(),
                    "{prompt:?}: expected field {want}, got {:#?}",
                    p.entities
                ),
                None => assert!(
                    tables(&p).contains(want),
                    "{prompt:?}: expected table {want}, got {:?}",
                    tables(&p)
                ),
            }
        }
        assert!(!p.pages.is_empty() && !p.features.is_empty() && !p.summary.is_empty());
        assert!(p.auth, "generated apps always have accounts");
    }
    assert!(plan("a plant diary with photos").file_storage);
}

#[test]
fn planning_is_deterministic() {
    for (prompt, _) in VARIED {
        assert_eq!(plan_from_prompt(prompt), plan_from_prompt(prompt));
    }
}

#[test]
fn empty_and_oversized_prompts_are_refused_with_clear_errors() {
    assert_eq!(plan_from_prompt(""), Err(PromptError::Empty));
    assert_eq!(plan_from_prompt("   \n "), Err(PromptError::Empty));
    let long = "a".repeat(MAX_PROMPT_CHARS + 1);
    let err = plan_from_prompt(&long).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the prompt is 20001 characters; the limit is 20000, so shorten it"
    );
    assert!(plan_from_prompt(&"recipes ".repeat(2_500)).is_ok());
}

/// Words that steer the planner, mixed with noise, so random prompts reach every branch.
const VOCABULARY: &[&str] = &[
    "a",
    "an",
    "the",
    "my",
    "our",
    "their",
    "each",
    "every",
    "with",
    "for",
    "of",
    "and",
    "or",
    "to",
    "that",
    "where",
    "has",
    "track",
    "manage",
    "log",
    "list",
    "keep",
    "record",
    "records",
    "book",
    "app",
    "tracker",
    "manager",
    "journal",
    "inventory",
    "tasks",
    "projects",
    "recipes",
    "ingredients",
    "ratings",
    "habits",
    "check-ins",
    "notes",
    "users",
    "orders",
    "order",
    "groups",
    "select",
    "table",
    "index",
    "from",
    "sqlite_master",
    "id",
    "user_id",
    "created_at",
    "date",
    "dates",
    "price",
    "photos",
    "categories",
    "values",
    "key",
    "default",
    "rowid",
    "migrations",
    "sessions",
    "_kiln",
    "d1_x",
    "api",
    "kiln_x",
    "x",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "guests",
    "visits",
    "plants",
    "ies",
    "s",
    "es",
    "ses",
    "people",
    "children",
    "data",
    ",",
    ".",
    ";",
    ":",
    "!",
    "?",
    "(",
    ")",
    "&",
    "/",
    "\n",
    "'",
    "\u{2028}",
    "é",
    "食谱",
];

fn prompt_strategy() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => prop::sample::select(VOCABULARY).prop_map(str::to_string),
        2 => "[a-z]{1,14}",
        1 => "[A-Za-z0-9_-]{1,50}",
        1 => "\\PC{1,8}",
    ];
    prop::collection::vec(word, 1..60).prop_map(|words| words.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn every_non_empty_prompt_gives_a_valid_plan(prompt in prompt_strategy()) {
        match plan_from_prompt(&prompt) {
            Ok(plan) => {
                if let Err(errors) = plan.validate() {
                    prop_assert!(false, "{prompt:?} gave an invalid plan: {errors:?}");
                }
                prop_assert_eq!(plan_from_prompt(&prompt), Ok(plan));
            }
            Err(e) => prop_assert!(prompt.trim().is_empty(), "{prompt:?} was refused: {e}"),
        }
    }

    #[test]
    fn any_text_gives_a_plan_or_a_clear_refusal(prompt in "\\PC{0,300}") {
        match plan_from_prompt(&prompt) {
            Ok(plan) => prop_assert!(plan.validate().is_ok()),
            Err(PromptError::Empty) => prop_assert!(prompt.trim().is_empty()),
            Err(e) => prop_assert!(false, "unexpected refusal {e}"),
        }
    }
}
