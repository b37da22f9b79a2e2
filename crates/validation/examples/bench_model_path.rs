//! The model path over a prompt corpus with scripted answers: per build, model calls, repair
//! rounds, input and output tokens, and for iterations whether the plan's structure changed and
//! how the code was changed.
//!
//! ```text
//! cargo run --release -p validation --example bench_model_path
//! ```
//!
//! Each corpus entry is a first build and up to two chat iterations on the live app. The builds
//! run the real conversations (`generate::session`: plan, codegen with continuations, edit,
//! revise, repair) with the real prompts, the real validator (`validate::validate_app`) between
//! codegen and each repair round (at most two, as the build driver does), and the decision the
//! codegen step makes on a live app (`plan_diff::same_structure`: edit, or revise with the plan
//! changes). The answers are scripted, written like a model's: the plan with prose around it
//! (with the slips the entry names: a page path with `_`, a forbidden import), whole files for
//! codegen and plan changes, SEARCH/REPLACE edits or `=== NO CHANGE ===` for small requests. The
//! last entries serve the hand-written model-style apps of `tests/fixtures/model-apps/` verbatim
//! (their plan, codegen and repair answers, with the slips its README lists).
//! Tokens are estimated at four characters per token (what the session records when a provider
//! reports no usage), so output tokens measure these answers, not a particular model's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use generation::files::FileParser;
use generation::model::{
    CallError, ChatModel, ChatRequest, Reply, DEFAULT_CALL_RETRY, GLM_47_FLASH_PRICING,
};
use generation::plan_diff;
use generation::session::{assemble, read_plan, Session, MODEL_FILES};
use plan::{Field, FieldKind, Plan, ValidPlan};
use planner::plan_from_prompt;
use scaffold::{generate, upgrade_migration};
use validation::{validate_app, Limits};

/// A slip the scripted model makes in its first answer of a kind.
#[derive(Clone, Copy, PartialEq)]
enum Slip {
    None,
    /// The plan's first page path is spelled from the table name (`/check_ins`).
    UnderscorePath,
    /// `worker.js` imports a package (`nanoid`); the repair answer removes it.
    PackageImport,
}

/// A change request on the live app and what the scripted planner makes of it.
struct Iteration {
    request: &'static str,
    change: fn(&mut Plan),
    /// The edit answer says `=== NO CHANGE ===`.
    no_change: bool,
}

struct Entry {
    prompt: &'static str,
    slip: Slip,
    iterations: Vec<Iteration>,
    /// Hand-written answers (plan, codegen, repair) from `tests/fixtures/model-apps/`, served
    /// verbatim instead of the generated ones; their slips are their own (see its README).
    answers: Option<Answers>,
}

/// A model-style app's verbatim answers.
#[derive(Clone, Copy)]
struct Answers {
    plan: &'static str,
    codegen: &'static str,
    repair: &'static str,
}

macro_rules! model_app {
    ($dir:literal) => {
        Some(Answers {
            plan: include_str!(concat!(
                "../../../tests/fixtures/model-apps/",
                $dir,
                "/plan.txt"
            )),
            codegen: include_str!(concat!(
                "../../../tests/fixtures/model-apps/",
                $dir,
                "/codegen.txt"
            )),
            repair: include_str!(concat!(
                "../../../tests/fixtures/model-apps/",
                $dir,
                "/repair.txt"
            )),
        })
    };
}

fn corpus() -> Vec<Entry> {
    vec![
        Entry {
            prompt: "a task manager with projects and tasks",
            slip: Slip::None,
            answers: None,
            iterations: vec![
                Iteration {
                    request: "Add a welcome line at the top",
                    change: |p| p.features.push("A welcome line at the top".into()),
                    no_change: false,
                },
                Iteration {
                    request: "Add an estimate in hours to tasks",
                    change: |p| add_field(p, "estimate_hours", FieldKind::Integer),
                    no_change: false,
                },
            ],
        },
        Entry {
            prompt: "a habit tracker with daily check-ins and notes",
            slip: Slip::PackageImport,
            answers: None,
            iterations: vec![Iteration {
                request: "Call the app Streaks",
                change: |p| p.app_name = "Streaks".into(),
                no_change: false,
            }],
        },
        Entry {
            prompt: "a recipe book with ingredients, steps and ratings",
            slip: Slip::None,
            answers: None,
            iterations: vec![Iteration {
                request: "Let me mark recipes as favourites",
                change: |p| add_field(p, "favourite", FieldKind::Boolean),
                no_change: false,
            }],
        },
        Entry {
            prompt: "a photo journal where I upload pictures with captions",
            slip: Slip::UnderscorePath,
            answers: None,
            iterations: Vec::new(),
        },
        Entry {
            prompt: "a small CRM with companies, contacts and deals",
            slip: Slip::None,
            answers: None,
            iterations: vec![Iteration {
                request: "a small CRM with companies, contacts and deals",
                change: |_| {},
                no_change: true,
            }],
        },
        Entry {
            prompt: "a reading list with shelves",
            slip: Slip::None,
            answers: model_app!("reading-list"),
            iterations: Vec::new(),
        },
        Entry {
            prompt: "a poetry blog anyone can read, with comments",
            slip: Slip::None,
            answers: model_app!("poetry-blog"),
            iterations: Vec::new(),
        },
        Entry {
            prompt: "an issue tracker for my team with status and severity",
            slip: Slip::None,
            answers: model_app!("issue-tracker"),
            iterations: Vec::new(),
        },
    ]
}

fn add_field(plan: &mut Plan, name: &str, kind: FieldKind) {
    plan.entities[0].fields.push(Field {
        name: name.into(),
        kind,
        required: false,
        values: vec![],
    });
}

/// The scripted model: answers by the system message's first line, as the test server does.
struct Scripted {
    /// The plan the next plan call answers with.
    plan: RefCell<Plan>,
    slip: RefCell<Slip>,
    no_change: RefCell<bool>,
    request: RefCell<String>,
    /// Verbatim answers for a model-style app's first build.
    answers: RefCell<Option<Answers>>,
}

const MARK: &str = "// Changed on request: ";

impl ChatModel for Scripted {
    fn provider(&self) -> &str {
        "scripted"
    }
    fn model(&self) -> &str {
        "scripted answers"
    }
    async fn complete(&self, request: &ChatRequest) -> Result<Reply, CallError> {
        let system = &request.messages[0].content;
        let user = &request.messages[1].content;
        let verbatim = *self.answers.borrow();
        let verbatim = verbatim.and_then(|a| {
            [
                ("You plan", a.plan),
                ("You write", a.codegen),
                ("You fix", a.repair),
            ]
            .into_iter()
            .find(|(head, _)| system.starts_with(head))
            .map(|(_, text)| text)
        });
        let answer = if let Some(text) = verbatim {
            text.to_string()
        } else if system.starts_with("You plan") {
            let mut plan = self.plan.borrow().clone();
            if *self.slip.borrow() == Slip::UnderscorePath {
                // Paths spelled from the table names: `/check_ins`, or `/Photos`.
                for page in &mut plan.pages {
                    if let Some(table) = &page.entity {
                        page.path = if table.contains('_') {
                            format!("/{table}")
                        } else {
                            format!("/{}{}", table[..1].to_uppercase(), &table[1..])
                        };
                    }
                }
            }
            format!(
                "Here is the plan:\n```json\n{}\n```\nLet me know if you want changes.",
                serde_json::to_string_pretty(&plan).unwrap()
            )
        } else if system.starts_with("You write") {
            let plan = plan_after(user, "Plan:")?;
            let mut text = String::from("Here are the files.\n");
            for (path, content) in generate(&plan) {
                if MODEL_FILES.contains(&path.as_str()) {
                    let slip = *self.slip.borrow() == Slip::PackageImport && path == "worker.js";
                    let head = if slip {
                        "import { nanoid } from \"nanoid\";\n"
                    } else {
                        ""
                    };
                    text.push_str(&format!(
                        "=== FILE: {path} ===\n{head}{content}=== END FILE ===\n"
                    ));
                }
            }
            text
        } else if system.starts_with("You fix") {
            // Removes the import the diagnostics name, as an edit.
            "=== EDIT: worker.js ===\n<<<<<<< SEARCH\nimport { nanoid } from \"nanoid\";\n=======\n>>>>>>> REPLACE\n=== END EDIT ===\n".to_string()
        } else if *self.no_change.borrow() {
            "The app already does this.\n=== NO CHANGE ===\n".to_string()
        } else if user.contains("\n\nPlan changes:\n") {
            // Whole worker.js and app.js for the new plan, keeping the earlier edits.
            let plan = plan_after(user, "New plan:")?;
            let current = FileParser::parse(&user[user.find("\nFiles:").unwrap_or(0)..]);
            let mut text = String::new();
            for (path, content) in generate(&plan) {
                if path == "worker.js" || path == "public/app.js" {
                    let marks: String = current
                        .file(&path)
                        .map(|f| {
                            f.content
                                .lines()
                                .take_while(|l| l.starts_with(MARK))
                                .map(|l| format!("{l}\n"))
                                .collect()
                        })
                        .unwrap_or_default();
                    text.push_str(&format!(
                        "=== FILE: {path} ===\n{marks}{content}=== END FILE ===\n"
                    ));
                }
            }
            text
        } else {
            let current = FileParser::parse(&user[user.find("\nFiles:").unwrap_or(0)..]);
            let first = current
                .file("public/app.js")
                .and_then(|f| f.content.lines().next().map(str::to_string))
                .unwrap_or_default();
            format!(
                "=== EDIT: public/app.js ===\n<<<<<<< SEARCH\n{first}\n=======\n{MARK}{}\n{first}\n>>>>>>> REPLACE\n=== END EDIT ===\n",
                self.request.borrow()
            )
        };
        Ok(Reply {
            content: answer,
            finish_reason: Some("stop".into()),
            usage: None,
            reasoning_chars: 0,
        })
    }
}

fn plan_after(user: &str, marker: &str) -> Result<ValidPlan, CallError> {
    let mut lines = user.lines();
    lines.by_ref().find(|l| l.trim() == marker);
    let plan: Plan = serde_json::from_str(lines.next().unwrap_or_default())
        .map_err(|e| CallError::Terminal(e.to_string()))?;
    plan.validate()
        .map_err(|_| CallError::Terminal("invalid plan".into()))
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn diagnostics(plan: &ValidPlan, files: &BTreeMap<String, String>) -> Vec<String> {
    let tables: Vec<&str> = plan
        .plan()
        .entities
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    validate_app(&pairs, &tables, &Limits::default())
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn main() {
    println!("| prompt | build | code changed by | structure changed | calls | repair rounds | input tok | output tok | cost (USD) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut builds, mut all_calls, mut all_in, mut all_out) = (0u64, 0u64, 0u64, 0u64);
    for entry in corpus() {
        let first = match entry.answers {
            Some(a) => read_plan(a.plan).expect("the model-style plan reads"),
            None => plan_from_prompt(entry.prompt)
                .expect("plan")
                .validate()
                .expect("valid"),
        };
        let model = Scripted {
            plan: RefCell::new(first.plan().clone()),
            slip: RefCell::new(entry.slip),
            no_change: RefCell::new(false),
            request: RefCell::new(entry.prompt.to_string()),
            answers: RefCell::new(entry.answers),
        };
        let mut live: Option<(Plan, BTreeMap<String, String>)> = None;
        let steps = std::iter::once(None).chain(entry.iterations.iter().map(Some));
        for (n, iteration) in steps.enumerate() {
            let request = iteration.map_or(entry.prompt, |i| i.request);
            if let Some(i) = iteration {
                let mut next = live.as_ref().unwrap().0.clone();
                (i.change)(&mut next);
                *model.plan.borrow_mut() = next;
                *model.no_change.borrow_mut() = i.no_change;
                *model.request.borrow_mut() = i.request.to_string();
                *model.slip.borrow_mut() = Slip::None;
                *model.answers.borrow_mut() = None;
            }
            let mut session = Session::new(&model, 8192, false, DEFAULT_CALL_RETRY, |_| {
                std::future::ready(())
            });
            let plan =
                block_on(session.plan(request, live.as_ref().map(|(p, _)| p))).expect("plan");
            // Slipped page paths were normalised, not sent back for a plan repair.
            assert!(plan
                .plan()
                .pages
                .iter()
                .all(|p| !p.path.contains('_') && p.path == p.path.to_lowercase()));
            let (mode, changed, generated) = match &live {
                None => (
                    "codegen",
                    "-".to_string(),
                    block_on(session.code(&plan)).expect("code"),
                ),
                Some((old, files)) if plan_diff::same_structure(old, plan.plan()) => {
                    let g = block_on(session.edit(request, files)).expect("edit");
                    (
                        if g.no_change { "no change" } else { "edit" },
                        "no".into(),
                        g,
                    )
                }
                Some((old, files)) => (
                    "revise",
                    format!("yes ({})", plan_diff::changes(old, plan.plan()).len()),
                    block_on(session.revise(request, files, old, &plan)).expect("revise"),
                ),
            };
            let mut app: BTreeMap<String, String> = live
                .as_ref()
                .map(|(_, f)| f.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|(p, _)| !p.starts_with("_kiln/") && !p.starts_with("public/_kiln/"))
                .collect();
            app.extend(generated.files);
            if let Some(sql) = live
                .as_ref()
                .and_then(|(old, _)| upgrade_migration(old, &plan))
            {
                let next = app.keys().filter(|p| p.starts_with("migrations/")).count() + 1;
                app.insert(format!("migrations/{next:04}_update.sql"), sql);
            }
            let mut files: BTreeMap<String, String> = assemble(&plan, &app).into_iter().collect();
            let mut repairs = 0;
            loop {
                let found = diagnostics(&plan, &files);
                if found.is_empty() {
                    break;
                }
                assert!(
                    repairs < 2,
                    "{}: still failing after 2 repairs: {found:?}",
                    entry.prompt
                );
                repairs += 1;
                let affected: BTreeMap<String, String> = files
                    .iter()
                    .filter(|(p, _)| found.iter().any(|d| d.starts_with(&format!("{p}:"))))
                    .map(|(p, c)| (p.clone(), c.clone()))
                    .collect();
                let fixed = block_on(session.repair(&affected, &found)).expect("repair");
                files.extend(fixed.files);
            }
            let input: u64 = session.calls.iter().map(|c| c.input_tokens).sum();
            let output: u64 = session.calls.iter().map(|c| c.output_tokens).sum();
            let cost = GLM_47_FLASH_PRICING.cost_nano_usd(input, output) as f64 / 1e9;
            let label = if n == 0 {
                "build".to_string()
            } else {
                format!("iteration {n}: {request}")
            };
            println!(
                "| {} | {label} | {mode} | {changed} | {} | {repairs} | {input} | {output} | {cost:.5} |",
                entry.prompt,
                session.calls.len(),
            );
            builds += 1;
            all_calls += session.calls.len() as u64;
            all_in += input;
            all_out += output;
            live = Some((plan.into_plan(), files));
        }
    }
    println!(
        "\n{builds} builds: {all_calls} model calls, {all_in} input and {all_out} output tokens in all; mean {:.0} tokens per build",
        (all_in + all_out) as f64 / builds as f64
    );
}
