//! Prompt sizes and tokens per build for five standard prompts, through the real generation
//! session (`generation::session`) with the real prompt templates.
//!
//! ```text
//! cargo run --release -p generation --example bench_tokens
//! ```
//!
//! The model is a stand-in that answers the way the local test server does: the offline planner's
//! plan (in a code fence, with a line of prose) and the offline generator's `worker.js`,
//! migration and `public/app.js`. Input sizes are exact (the characters Kiln sends); token counts
//! are estimated at four characters per token, the rule the session itself uses when a provider
//! reports no usage. Output tokens therefore measure answers the size of the offline generator's
//! files, not a particular model's. Costs use GLM-4.7-Flash's prices ($0.06 / $0.40 per million
//! input / output tokens).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use generation::model::{
    estimate_tokens, CallError, ChatModel, ChatRequest, Reply, DEFAULT_CALL_RETRY,
    GLM_47_FLASH_PRICING,
};
use generation::session::{Session, MODEL_FILES};
use plan::Plan;
use planner::plan_from_prompt;
use scaffold::generate;

const PROMPTS: [&str; 5] = [
    "a task manager with projects and tasks",
    "a habit tracker with daily check-ins and notes",
    "a recipe book with ingredients, steps and ratings",
    "a photo journal where I upload pictures with captions",
    "a small CRM with companies, contacts and deals",
];

/// Answers like the local test server, and remembers what it was sent.
struct StandIn {
    sent: RefCell<Vec<(String, usize, usize)>>,
}

impl ChatModel for StandIn {
    fn provider(&self) -> &str {
        "stand-in"
    }
    fn model(&self) -> &str {
        "offline-sized answers"
    }
    async fn complete(&self, request: &ChatRequest) -> Result<Reply, CallError> {
        let system = &request.messages[0].content;
        let user = &request.messages[1].content;
        let answer = if system.starts_with("You plan") {
            let plan = plan_from_prompt(user).map_err(|e| CallError::Terminal(e.to_string()))?;
            format!(
                "Here is the plan:\n```json\n{}\n```\n",
                serde_json::to_string_pretty(&plan).unwrap()
            )
        } else {
            let line = user.lines().nth(1).unwrap_or_default();
            let plan: Plan =
                serde_json::from_str(line).map_err(|e| CallError::Terminal(e.to_string()))?;
            let valid = plan
                .validate()
                .map_err(|_| CallError::Terminal("invalid plan".into()))?;
            let mut text = String::from("Here are the files.\n");
            for (path, content) in generate(&valid) {
                if MODEL_FILES.contains(&path.as_str()) {
                    text.push_str(&format!(
                        "=== FILE: {path} ===\n{content}=== END FILE ===\n"
                    ));
                }
            }
            text
        };
        let kind = if system.starts_with("You plan") {
            "plan"
        } else {
            "codegen"
        };
        self.sent
            .borrow_mut()
            .push((kind.to_string(), request.chars(), answer.chars().count()));
        Ok(Reply {
            content: answer,
            finish_reason: Some("stop".into()),
            usage: None,
            reasoning_chars: 0,
        })
    }
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

fn main() {
    println!("| prompt | plan in (chars / tok) | plan out tok | codegen in (chars / tok) | codegen out tok | total tok | cost (USD) | + one repair of worker.js (tok) | later edit in (tok) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut totals = Vec::new();
    for prompt in PROMPTS {
        let model = StandIn {
            sent: RefCell::new(Vec::new()),
        };
        let mut session = Session::new(&model, 8192, true, DEFAULT_CALL_RETRY, |_| {
            std::future::ready(())
        });
        let plan = block_on(session.plan(prompt, None)).expect("plan");
        let code = block_on(session.code(&plan)).expect("code");
        let sent = model.sent.borrow();
        let (plan_in, plan_out) = (sent[0].1, sent[0].2);
        let (code_in, code_out) = (sent[1].1, sent[1].2);
        let tokens: u64 = [plan_in, plan_out, code_in, code_out]
            .iter()
            .map(|c| estimate_tokens(*c))
            .sum();
        let cost = GLM_47_FLASH_PRICING.cost_nano_usd(
            estimate_tokens(plan_in) + estimate_tokens(code_in),
            estimate_tokens(plan_out) + estimate_tokens(code_out),
        ) as f64
            / 1e9;
        // A repair round sends the repair template, the diagnostics and worker.js, and gets
        // worker.js back.
        let worker = code.files.get("worker.js").map_or(0, |w| w.chars().count());
        let repair_in = generation::prompts::repair_system(8192)
            .unwrap()
            .chars()
            .count()
            + 120
            + worker;
        let repair = estimate_tokens(repair_in) + estimate_tokens(worker);
        // An edit-mode request on the live app sends the edit template, the request and the
        // editable files (the offline generator's index.html and styles.css included).
        let editable: usize = generate(&plan)
            .iter()
            .filter(|(p, _)| generation::session::EDITABLE_FILES.contains(&p.as_str()))
            .map(|(p, c)| c.chars().count() + p.len() + 40)
            .sum();
        let edit_in = estimate_tokens(
            generation::prompts::edit_system(8192)
                .unwrap()
                .chars()
                .count()
                + 60
                + editable,
        );
        println!(
            "| {prompt} | {plan_in} / {} | {} | {code_in} / {} | {} | {tokens} | {cost:.5} | +{repair} | {edit_in} |",
            estimate_tokens(plan_in),
            estimate_tokens(plan_out),
            estimate_tokens(code_in),
            estimate_tokens(code_out),
        );
        totals.push(tokens);
        let _: &BTreeMap<String, String> = &code.files;
    }
    let max = totals.iter().max().unwrap();
    let mean = totals.iter().sum::<u64>() as f64 / totals.len() as f64;
    println!(
        "\nmean {mean:.0} tokens per build, max {max}; goal: under 15,000 in and out together"
    );
    for t in generation::prompts::ALL
        .iter()
        .chain([&generation::prompts::CONTRACT])
    {
        println!(
            "template {}: {} chars (~{} tokens), hash {}",
            t.name,
            t.text.chars().count(),
            estimate_tokens(t.text.chars().count()),
            t.hash()
        );
    }
}
