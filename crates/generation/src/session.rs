//! Model-driven generation: the plan, codegen and repair conversations, written once against the
//! [`ChatModel`] port and tested natively with scripted models.
//!
//! - [`Session::plan`]: request → plan JSON (structured output when enabled, tolerant extraction
//!   always) → schema → [`Plan::validate`]; an invalid plan gets one repair request listing every
//!   error, then the step fails terminally with those errors.
//! - [`Session::code`]: plan → the app's own files in the multi-file format
//!   ([`super::files`]); an answer cut off at the token limit gets continuation requests
//!   (at most [`MAX_CONTINUATIONS`]) that resume the unfinished file.
//! - [`Session::repair`]: diagnostics + only the affected files → whole files or SEARCH/REPLACE
//!   edits, applied to those files.
//!
//! Every call is recorded ([`CallRecord`]: template, template hash, tokens, whether the tokens
//! were estimated) for the build's events and cost accounting, also when the step fails.
//!
//! Key decision: the model writes only what is specific to the app (`worker.js`, the migration,
//! `public/app.js`); [`assemble`] adds the reviewed runtime and the plan's HTML shell and
//! stylesheet. That keeps both the prompt and the answer small (see BENCHMARKS.md for tokens per
//! build), and nothing security-sensitive is left to the model.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::files::{apply_edits, says_no_change, FileParser, ParsedFiles};
use super::{plan_diff, plan_json, Diagnostic};
use crate::model::{
    complete_with_retries, estimate_tokens, CallError, CallRetry, ChatModel, ChatRequest, Message,
    Role,
};
use crate::prompts::{self, Template, CODEGEN, CONTINUE, EDIT, PLAN, REPAIR};
use plan::{Plan, ValidPlan};

/// Most continuation requests for one answer. Continuing is the normal path for a large app, not
/// a rescue: the prompts state the per-answer budget and ask for whole files, and a plan at the
/// entity limit needs about four answers of 8,192 tokens (six give room for a verbose model).
pub const MAX_CONTINUATIONS: u32 = 6;

/// The files the model writes; everything else comes from Kiln.
pub const MODEL_FILES: [&str; 3] = ["worker.js", "migrations/0001_init.sql", "public/app.js"];

/// The files an edit may change (the data model, and so the migrations, stays as it is).
pub const EDITABLE_FILES: [&str; 4] = [
    "worker.js",
    "public/app.js",
    "public/styles.css",
    "public/index.html",
];

/// Whether an edit may send and change `path`: the [`EDITABLE_FILES`] and the app's own modules
/// under `src/` and `public/`; never migrations (Kiln writes those) or the runtime.
pub fn is_editable(path: &str) -> bool {
    EDITABLE_FILES.contains(&path)
        || (path.starts_with("src/") && path.ends_with(".js"))
        || (path.starts_with("public/")
            && !path.starts_with("public/_kiln/")
            && (path.ends_with(".js") || path.ends_with(".mjs") || path.ends_with(".css")))
}

/// Output budget of the plan call: a plan is a few hundred tokens.
const PLAN_MAX_TOKENS: u32 = 2_048;

/// One model call, for events and accounting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Template that framed the call (`plan`, `codegen`, `repair`, `continue`).
    pub template: String,
    /// Its hash ([`Template::hash`]).
    pub template_hash: String,
    /// Input tokens (reported, or estimated from characters).
    pub input_tokens: u64,
    /// Output tokens (reported, or estimated).
    pub output_tokens: u64,
    /// True when the provider reported no usage and the counts are estimates.
    pub estimated: bool,
    /// The provider's finish reason; `None` when the call failed.
    pub finish_reason: Option<String>,
    /// Characters sent.
    pub prompt_chars: u64,
    /// Failed attempts before this one succeeded (or before giving up).
    pub retries: u32,
    /// The final error, when the call failed.
    pub error: Option<String>,
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenError {
    /// What went wrong, for the build's failure reason.
    pub message: String,
    /// Whether running the step again may help.
    pub retryable: bool,
}

impl GenError {
    fn terminal(message: impl Into<String>) -> Self {
        GenError {
            message: message.into(),
            retryable: false,
        }
    }
    fn retryable(message: impl Into<String>) -> Self {
        GenError {
            message: message.into(),
            retryable: true,
        }
    }
}

impl From<CallError> for GenError {
    fn from(e: CallError) -> Self {
        GenError {
            retryable: e.is_retryable(),
            message: e.message().to_string(),
        }
    }
}

/// Files written by the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Path → content, only the files the answer contained (or edited).
    pub files: BTreeMap<String, String>,
    /// What the parser tolerated or dropped.
    pub diagnostics: Vec<Diagnostic>,
    /// Continuation requests made.
    pub continuations: u32,
    /// True when an edit answer said explicitly that the request needs no change.
    pub no_change: bool,
}

/// One generation conversation with a model.
pub struct Session<'m, M, S> {
    model: &'m M,
    max_tokens: u32,
    json_schema: bool,
    retry: CallRetry,
    sleep: S,
    /// Every call made so far.
    pub calls: Vec<CallRecord>,
}

impl<'m, M, S, F> Session<'m, M, S>
where
    M: ChatModel,
    S: Fn(u64) -> F,
    F: Future<Output = ()>,
{
    /// A session; `sleep(ms)` waits between retries.
    pub fn new(
        model: &'m M,
        max_tokens: u32,
        json_schema: bool,
        retry: CallRetry,
        sleep: S,
    ) -> Self {
        Session {
            model,
            max_tokens,
            json_schema,
            retry,
            sleep,
            calls: Vec::new(),
        }
    }

    async fn call(
        &mut self,
        template: Template,
        request: ChatRequest,
    ) -> Result<crate::model::Reply, GenError> {
        let (result, failures) =
            complete_with_retries(self.model, &request, self.retry, &self.sleep).await;
        let prompt_chars = request.chars() as u64;
        let mut record = CallRecord {
            template: template.name.to_string(),
            template_hash: template.hash(),
            input_tokens: estimate_tokens(prompt_chars as usize),
            output_tokens: 0,
            estimated: true,
            finish_reason: None,
            prompt_chars,
            retries: failures.len() as u32,
            error: None,
        };
        match result {
            Ok(reply) => {
                match reply.usage {
                    Some((input, output)) => {
                        record.input_tokens = input;
                        record.output_tokens = output;
                        record.estimated = false;
                    }
                    None => {
                        record.output_tokens =
                            estimate_tokens(reply.content.chars().count() + reply.reasoning_chars);
                    }
                }
                record.finish_reason = reply.finish_reason.clone();
                self.calls.push(record);
                Ok(reply)
            }
            Err(e) => {
                // A failed call is still recorded; its input may have been billed.
                record.error = Some(e.message().to_string());
                self.calls.push(record);
                Err(e.into())
            }
        }
    }

    fn request(
        &self,
        messages: Vec<Message>,
        max_tokens: u32,
        schema: Option<Value>,
    ) -> ChatRequest {
        ChatRequest {
            messages,
            max_tokens,
            temperature: 0.2,
            json_schema: schema,
        }
    }

    /// Plans an app for `request`, or changes `current` as requested.
    pub async fn plan(
        &mut self,
        request: &str,
        current: Option<&Plan>,
    ) -> Result<ValidPlan, GenError> {
        let system = prompts::plan_system().map_err(|e| GenError::terminal(e.to_string()))?;
        let user = match current {
            None => request.to_string(),
            Some(plan) => format!(
                "Current plan:\n{}\n\nChange request:\n{request}",
                serde_json::to_string(plan).map_err(|e| GenError::terminal(e.to_string()))?
            ),
        };
        let schema = self.json_schema.then(plan_schema);
        let budget = PLAN_MAX_TOKENS.min(self.max_tokens);
        let mut messages = vec![
            Message::new(Role::System, system),
            Message::new(Role::User, user),
        ];
        let reply = self
            .call(PLAN, self.request(messages.clone(), budget, schema.clone()))
            .await?;
        let errors = match read_plan(&reply.content) {
            Ok(plan) => return Ok(plan),
            Err(errors) => errors,
        };
        messages.push(Message::new(Role::Assistant, reply.content));
        messages.push(Message::new(
            Role::User,
            format!(
                "That plan has these problems:\n{}\nAnswer with the whole corrected JSON object only.",
                bullet(&errors)
            ),
        ));
        let reply = self
            .call(PLAN, self.request(messages, budget, schema))
            .await?;
        read_plan(&reply.content).map_err(|again| {
            GenError::terminal(format!(
                "the model's plan is still invalid after one repair: {}",
                again.join("; ")
            ))
        })
    }

    /// Writes the app's own files for a validated plan.
    pub async fn code(&mut self, plan: &ValidPlan) -> Result<Generated, GenError> {
        let storage = plan.plan().file_storage;
        let system = prompts::codegen_system(self.max_tokens, storage)
            .map_err(|e| GenError::terminal(e.to_string()))?;
        let plan_line =
            serde_json::to_string(plan.plan()).map_err(|e| GenError::terminal(e.to_string()))?;
        let messages = vec![
            Message::new(Role::System, system),
            Message::new(
                Role::User,
                format!("Plan:\n{plan_line}\n\nWrite the files."),
            ),
        ];
        let (parsed, _) = self.files_answer(CODEGEN, messages).await?;
        let (generated, _) = collect(parsed, &BTreeMap::new());
        if generated.files.is_empty() {
            return Err(GenError::retryable(
                "the model answered without any files in the `=== FILE: path ===` format",
            ));
        }
        Ok(generated)
    }

    /// Changes a live app's files for a request that leaves its plan's structure as it is
    /// (see [`plan_diff`]). `files` are the app's current files; only the editable ones
    /// ([`is_editable`]) are sent, and only those can change. Returns the changed files; an
    /// explicit `=== NO CHANGE ===` answer gives none, with [`Generated::no_change`] set.
    pub async fn edit(
        &mut self,
        request: &str,
        files: &BTreeMap<String, String>,
    ) -> Result<Generated, GenError> {
        self.change(format!("Request:\n{request}"), files).await
    }

    /// Changes a live app's files for a request that changed its plan's structure: the model gets
    /// the request, the plan changes ([`plan_diff::changes`]), the new plan and the current
    /// editable files, and answers with edits, so earlier changes to the code survive. Kiln writes
    /// the migration for new tables and columns.
    pub async fn revise(
        &mut self,
        request: &str,
        files: &BTreeMap<String, String>,
        old: &Plan,
        new: &ValidPlan,
    ) -> Result<Generated, GenError> {
        let plan_line =
            serde_json::to_string(new.plan()).map_err(|e| GenError::terminal(e.to_string()))?;
        let head = format!(
            "Request:\n{request}\n\nPlan changes:\n{}\nNew plan:\n{plan_line}",
            bullet(&plan_diff::changes(old, new.plan()))
        );
        self.change(head, files).await
    }

    async fn change(
        &mut self,
        head: String,
        files: &BTreeMap<String, String>,
    ) -> Result<Generated, GenError> {
        let editable: BTreeMap<String, String> = files
            .iter()
            .filter(|(p, _)| is_editable(p))
            .map(|(p, c)| (p.clone(), c.clone()))
            .collect();
        let system =
            prompts::edit_system(self.max_tokens).map_err(|e| GenError::terminal(e.to_string()))?;
        let messages = vec![
            Message::new(Role::System, system),
            Message::new(
                Role::User,
                format!("{head}\n\nFiles:\n{}", file_blocks(&editable)),
            ),
        ];
        let (parsed, text) = self.files_answer(EDIT, messages).await?;
        let answered = !parsed.0.files.is_empty() || !parsed.0.edits.is_empty();
        let (mut generated, edit_errors) = collect(parsed, &editable);
        generated
            .files
            .retain(|p, c| is_editable(p) && editable.get(p) != Some(c));
        if !generated.files.is_empty() {
            return Ok(generated);
        }
        // Edits that do not apply are worth another try.
        if !edit_errors.is_empty() {
            return Err(GenError::retryable(format!(
                "the edits did not apply: {}",
                edit_errors.join("; ")
            )));
        }
        if says_no_change(&text) || answered {
            // Said so explicitly, or blocks that leave every file as it was.
            generated.no_change = true;
            return Ok(generated);
        }
        Err(GenError::retryable(
            "the edit answer had no `=== EDIT: path ===` or `=== FILE: path ===` blocks and no `=== NO CHANGE ===` line",
        ))
    }

    /// Fixes `affected` files (path → content) for `diagnostics`; returns the changed files.
    pub async fn repair(
        &mut self,
        affected: &BTreeMap<String, String>,
        diagnostics: &[String],
    ) -> Result<Generated, GenError> {
        let system = prompts::repair_system(self.max_tokens)
            .map_err(|e| GenError::terminal(e.to_string()))?;
        let messages = vec![
            Message::new(Role::System, system),
            Message::new(
                Role::User,
                format!(
                    "Diagnostics:\n{}\n\nFiles:\n{}",
                    bullet(diagnostics),
                    file_blocks(affected)
                ),
            ),
        ];
        let (parsed, _) = self.files_answer(REPAIR, messages).await?;
        let (generated, edit_errors) = collect(parsed, affected);
        if generated.files.is_empty() {
            let why = if edit_errors.is_empty() {
                "the repair answer had no files or edits".to_string()
            } else {
                format!("the repair edits did not apply: {}", edit_errors.join("; "))
            };
            return Err(GenError::retryable(why));
        }
        Ok(generated)
    }

    /// One files answer, continued while it was cut off at the token limit; also gives the
    /// whole answer text.
    async fn files_answer(
        &mut self,
        template: Template,
        messages: Vec<Message>,
    ) -> Result<((ParsedFiles, u32), String), GenError> {
        let reply = self
            .call(
                template,
                self.request(messages.clone(), self.max_tokens, None),
            )
            .await?;
        let mut text = reply.content;
        let mut cut = reply
            .finish_reason
            .as_deref()
            .is_some_and(|r| matches!(r, "length" | "max_tokens"));
        let mut parsed = FileParser::parse(&text);
        let mut continuations = 0;
        while (parsed.truncated() || cut) && continuations < MAX_CONTINUATIONS {
            let (path, tail) = match (parsed.unfinished_path(), parsed.continuation_prompt_tail()) {
                (Some(p), Some(t)) => (p.to_string(), t),
                _ => ("the answer".to_string(), last_lines(&text, 20)),
            };
            let ask = CONTINUE
                .render(&[("path", &path), ("tail", &tail)])
                .map_err(|e| GenError::terminal(e.to_string()))?;
            let mut more = messages.clone();
            more.push(Message::new(Role::Assistant, text.clone()));
            more.push(Message::new(Role::User, ask));
            let reply = self
                .call(CONTINUE, self.request(more, self.max_tokens, None))
                .await?;
            cut = reply.hit_token_limit();
            parsed = FileParser::resume(parsed, &reply.content);
            text.push_str(&reply.content);
            continuations += 1;
        }
        if parsed.truncated() {
            return Err(GenError::retryable(format!(
                "the answer was still cut off in {} after {continuations} continuations",
                parsed.unfinished_path().unwrap_or("a file")
            )));
        }
        Ok(((parsed, continuations), text))
    }
}

/// Files and applied edits of an answer; edits apply to `base`. Returns edit errors separately.
fn collect(
    (parsed, continuations): (ParsedFiles, u32),
    base: &BTreeMap<String, String>,
) -> (Generated, Vec<String>) {
    let mut files = BTreeMap::new();
    for f in parsed.files {
        files.insert(f.path, f.content);
    }
    let mut errors = Vec::new();
    for edit in parsed.edits {
        let Some(original) = files.get(&edit.path).or_else(|| base.get(&edit.path)) else {
            errors.push(format!("{}: edited, but no such file was given", edit.path));
            continue;
        };
        match apply_edits(original, &edit.blocks) {
            Ok(content) => {
                files.insert(edit.path, content);
            }
            Err(e) => errors.push(format!("{}: {e}", edit.path)),
        }
    }
    (
        Generated {
            files,
            diagnostics: parsed.diagnostics,
            continuations,
            no_change: false,
        },
        errors,
    )
}

/// Reads a plan answer: JSON (tolerantly extracted) → schema → validation. Errors are complete
/// sentences for the repair request.
pub fn read_plan(answer: &str) -> Result<ValidPlan, Vec<String>> {
    let value = plan_json::extract(answer).map_err(|e| vec![e.to_string()])?;
    let mut plan: Plan = serde_json::from_value(value)
        .map_err(|e| vec![format!("the plan does not match the schema: {e}")])?;
    normalise_plan(&mut plan);
    plan.validate()
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

/// Fixes what a model commonly misspells in a plan and what has exactly one right spelling:
/// table and column names in another case or with spaces or `-` (`Tasks`, `Due Date`,
/// `check-ins`) become snake_case, everywhere they are used (references, pages), and page paths
/// are normalised ([`normalise_page_path`]). A name that would still be invalid, or that would
/// collide with another, is left for validation to report.
pub fn normalise_plan(plan: &mut Plan) {
    use plan::{is_identifier, FieldKind};
    let snake = |name: &str| -> Option<String> {
        if is_identifier(name) {
            return None;
        }
        let fixed: String = name
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        is_identifier(&fixed).then_some(fixed)
    };
    let mut tables = BTreeMap::new();
    for entity in &plan.entities {
        if let Some(fixed) = snake(&entity.name) {
            if !plan.entities.iter().any(|e| e.name == fixed) {
                tables.insert(entity.name.clone(), fixed);
            }
        }
    }
    for entity in &mut plan.entities {
        if let Some(fixed) = tables.get(&entity.name) {
            entity.name = fixed.clone();
        }
        let names: Vec<String> = entity.fields.iter().map(|f| f.name.clone()).collect();
        for field in &mut entity.fields {
            if let Some(fixed) = snake(&field.name) {
                if !names.contains(&fixed) {
                    field.name = fixed;
                }
            }
            if let FieldKind::Reference(target) = &mut field.kind {
                if let Some(fixed) = tables.get(target.as_str()) {
                    *target = fixed.clone();
                }
            }
        }
    }
    for page in &mut plan.pages {
        if let Some(fixed) = page.entity.as_ref().and_then(|e| tables.get(e)) {
            page.entity = Some(fixed.clone());
        }
        page.path = normalise_page_path(&page.path);
    }
}

/// A page path as the plan rules want it, when only its spelling is off: page paths are usually
/// derived from entity names (`/check_ins`), so `_` and spaces become `-`, letters are lowercased,
/// a missing leading `/` is added and a trailing one removed. Anything else is left for
/// validation to report.
pub fn normalise_page_path(path: &str) -> String {
    let trimmed = path.trim();
    let mut out: String = trimmed
        .chars()
        .map(|c| match c {
            '_' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    while out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// Files in the multi-file format, for a prompt.
fn file_blocks(files: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (path, content) in files {
        out.push_str(&format!("=== FILE: {path} ===\n{content}"));
        if !content.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("=== END FILE ===\n");
    }
    out
}

fn bullet(lines: &[String]) -> String {
    lines.iter().map(|l| format!("- {l}\n")).collect()
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The plan's JSON Schema, for providers with structured output.
pub fn plan_schema() -> Value {
    let kind = json!({
        "anyOf": [
            { "type": "string", "enum": ["text", "long_text", "integer", "number", "boolean", "date", "rating", "choice"] },
            { "type": "object", "properties": { "reference": { "type": "string" } }, "required": ["reference"] }
        ]
    });
    json!({
        "type": "object",
        "properties": {
            "app_name": { "type": "string" },
            "summary": { "type": "string" },
            "entities": { "type": "array", "items": {
                "type": "object",
                "properties": {
                    "name": { "type": "string" },
                    "label": { "type": "string" },
                    "fields": { "type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "name": { "type": "string" },
                            "kind": kind,
                            "required": { "type": "boolean" },
                            "values": { "type": "array", "items": { "type": "string" } }
                        },
                        "required": ["name", "kind"]
                    }}
                },
                "required": ["name", "fields"]
            }},
            "pages": { "type": "array", "items": {
                "type": "object",
                "properties": { "name": { "type": "string" }, "path": { "type": "string" }, "entity": { "type": "string" } },
                "required": ["path"]
            }},
            "features": { "type": "array", "items": { "type": "string" } },
            "auth": { "type": "boolean" },
            "file_storage": { "type": "boolean" }
        },
        "required": ["app_name", "entities"]
    })
}

/// The complete app: the model's files, then the plan's HTML shell and stylesheet where the model
/// wrote none, then the runtime (always Kiln's own: a model file under `_kiln/` or
/// `public/_kiln/` is dropped).
pub fn assemble(plan: &ValidPlan, model_files: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let reserved = |p: &str| p.starts_with("_kiln/") || p.starts_with("public/_kiln/");
    let mut out: BTreeMap<String, String> = model_files
        .iter()
        .filter(|(p, _)| !reserved(p))
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect();
    for (path, content) in scaffold::generate(plan) {
        if matches!(path.as_str(), "public/index.html" | "public/styles.css") {
            out.entry(path).or_insert(content);
        }
    }
    for (path, content) in scaffold::runtime_files() {
        out.insert(path.to_string(), content.to_string());
    }
    out.into_iter().collect()
}

/// Files the contract needs that the model did not write, as diagnostics for a repair.
pub fn missing_model_files(files: &BTreeMap<String, String>) -> Vec<String> {
    let mut missing = Vec::new();
    if !files.contains_key("worker.js") {
        missing.push(
            "worker.js: missing; write the worker module with `export default { fetch }`"
                .to_string(),
        );
    }
    if !files
        .keys()
        .any(|p| p.starts_with("migrations/") && p.ends_with(".sql"))
    {
        missing.push("migrations/0001_init.sql: missing; write the tables of the plan".to_string());
    }
    if !files.contains_key("public/app.js") {
        missing.push(
            "public/app.js: missing; write the front end (index.html loads /app.js)".to_string(),
        );
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::{answer, block_on, no_sleep, Scripted};
    use crate::model::{error_for_status, Reply, DEFAULT_CALL_RETRY};

    fn offline_plan(prompt: &str) -> ValidPlan {
        planner::plan_from_prompt(prompt)
            .unwrap()
            .validate()
            .unwrap()
    }

    fn files_answer(plan: &ValidPlan) -> String {
        let mut text = String::from("Here are the files.\n");
        for (path, content) in scaffold::generate(plan) {
            if MODEL_FILES.contains(&path.as_str()) {
                text.push_str(&format!(
                    "=== FILE: {path} ===\n{content}=== END FILE ===\n"
                ));
            }
        }
        text
    }

    fn session(m: &Scripted) -> Session<'_, Scripted, fn(u64) -> std::future::Ready<()>> {
        Session::new(
            m,
            8192,
            true,
            DEFAULT_CALL_RETRY,
            |_| std::future::ready(()),
        )
    }

    #[test]
    fn plan_from_a_chatty_answer_records_the_call() {
        let plan = offline_plan("a recipe book");
        let text = format!(
            "Sure! Here is the plan:\n```json\n{}\n```\nEnjoy.",
            serde_json::to_string_pretty(plan.plan()).unwrap()
        );
        let m = Scripted::new(vec![answer(&text)]);
        let mut s = session(&m);
        let got = block_on(s.plan("a recipe book", None)).unwrap();
        assert_eq!(got.plan(), plan.plan());
        assert_eq!(s.calls.len(), 1);
        let c = &s.calls[0];
        assert_eq!(c.template, "plan");
        assert_eq!(c.template_hash, PLAN.hash());
        assert!(!c.estimated);
        let req = &m.requests.borrow()[0];
        assert!(req.json_schema.is_some());
        assert_eq!(req.messages[1].content, "a recipe book");
        assert!(req.messages[0]
            .content
            .contains(&format!("At most {} entities", plan::MAX_ENTITIES)));
    }

    #[test]
    fn an_invalid_plan_gets_one_repair_with_every_error_then_fails_terminally() {
        let bad = r#"{"app_name": "X", "entities": [{"name": "Bad Name!", "fields": [{"name": "order", "kind": "text"}]}]}"#;
        let good = serde_json::to_string(offline_plan("a notes app").plan()).unwrap();
        let m = Scripted::new(vec![answer(bad), answer(&good)]);
        let mut s = session(&m);
        assert!(block_on(s.plan("a notes app", None)).is_ok());
        let repair = &m.requests.borrow()[1];
        assert_eq!(repair.messages.len(), 4);
        assert_eq!(repair.messages[2].content, bad);
        let ask = &repair.messages[3].content;
        assert!(ask.contains("Bad Name!") && ask.contains("order"), "{ask}");

        let m = Scripted::new(vec![answer(bad), answer("no idea")]);
        let mut s = session(&m);
        let e = block_on(s.plan("a notes app", None)).unwrap_err();
        assert!(!e.retryable);
        assert!(
            e.message.contains("still invalid after one repair"),
            "{}",
            e.message
        );
        assert_eq!(s.calls.len(), 2);
    }

    #[test]
    fn a_change_request_carries_the_current_plan() {
        let plan = offline_plan("a habit tracker");
        let m = Scripted::new(vec![answer(&serde_json::to_string(plan.plan()).unwrap())]);
        let mut s = session(&m);
        block_on(s.plan("add a notes field", Some(plan.plan()))).unwrap();
        let user = &m.requests.borrow()[0].messages[1].content;
        assert!(user.starts_with("Current plan:\n{"));
        assert!(user.ends_with("Change request:\nadd a notes field"));
    }

    #[test]
    fn codegen_asks_for_the_app_files_and_assembles_a_complete_app() {
        let plan = offline_plan("a task manager with projects and tasks");
        let m = Scripted::new(vec![answer(&files_answer(&plan))]);
        let mut s = session(&m);
        let got = block_on(s.code(&plan)).unwrap();
        assert_eq!(
            got.files.keys().collect::<Vec<_>>(),
            vec!["migrations/0001_init.sql", "public/app.js", "worker.js"]
        );
        assert!(missing_model_files(&got.files).is_empty());
        let user = &m.requests.borrow()[0].messages[1].content;
        assert!(user.starts_with("Plan:\n{\"app_name\""));
        assert_eq!(
            user.lines()
                .nth(1)
                .map(|l| serde_json::from_str::<Plan>(l).is_ok()),
            Some(true)
        );
        let app = assemble(&plan, &got.files);
        let offline: BTreeMap<String, String> = scaffold::generate(&plan)
            .into_iter()
            .chain(
                scaffold::runtime_files()
                    .into_iter()
                    .map(|(p, c)| (p.to_string(), c.to_string())),
            )
            .collect();
        assert_eq!(app.into_iter().collect::<BTreeMap<_, _>>(), offline);
    }

    #[test]
    fn a_cut_off_answer_is_continued_and_merged() {
        let plan = offline_plan("a task manager");
        let full = files_answer(&plan);
        let cut = full.len() * 2 / 3;
        let cut = (cut..full.len())
            .find(|i| full.is_char_boundary(*i))
            .unwrap();
        let first = Ok(Reply {
            content: full[..cut].to_string(),
            finish_reason: Some("length".into()),
            usage: None,
            reasoning_chars: 0,
        });
        let m = Scripted::new(vec![first, answer(&full[cut..])]);
        let mut s = session(&m);
        let got = block_on(s.code(&plan)).unwrap();
        assert_eq!(got.continuations, 1);
        let whole = FileParser::parse(&full);
        for f in whole.files {
            assert_eq!(got.files.get(&f.path), Some(&f.content), "{}", f.path);
        }
        let calls: Vec<&str> = s.calls.iter().map(|c| c.template.as_str()).collect();
        assert_eq!(calls, vec!["codegen", "continue"]);
        assert!(s.calls[0].estimated, "no usage reported → estimate");
        let ask = &m.requests.borrow()[1];
        assert_eq!(ask.messages.len(), 4);
        assert_eq!(ask.messages[2].content, full[..cut]);
        assert!(ask.messages[3].content.starts_with("Continue exactly"));
    }

    #[test]
    fn provider_errors_are_retried_then_classified() {
        let plan = offline_plan("a task manager");
        let m = Scripted::new(vec![
            Err(error_for_status("openai", 429, "slow down", Some("0"))),
            answer(&files_answer(&plan)),
        ]);
        let mut s = session(&m);
        block_on(s.code(&plan)).unwrap();
        assert_eq!(s.calls[0].retries, 1);

        let m = Scripted::new(vec![Err(error_for_status(
            "openai",
            401,
            r#"{"error":{"message":"Incorrect API key"}}"#,
            None,
        ))]);
        let mut s = session(&m);
        let e = block_on(s.code(&plan)).unwrap_err();
        assert!(!e.retryable);
        assert!(e.message.contains("Incorrect API key"));
        assert_eq!(s.calls[0].error.as_deref(), Some(e.message.as_str()));

        let m = Scripted::new(vec![answer("I cannot do that.")]);
        let e = block_on(session(&m).code(&plan)).unwrap_err();
        assert!(e.retryable);
    }

    #[test]
    fn repair_sends_only_the_affected_files_and_applies_edits() {
        let affected: BTreeMap<String, String> = [(
            "worker.js".to_string(),
            "import { nanoid } from \"nanoid\";\nexport default { fetch() {} };\n".to_string(),
        )]
        .into();
        let edit = "=== EDIT: worker.js ===\n<<<<<<< SEARCH\nimport { nanoid } from \"nanoid\";\n=======\n>>>>>>> REPLACE\n=== END EDIT ===\n";
        let m = Scripted::new(vec![answer(edit)]);
        let mut s = session(&m);
        let got = block_on(s.repair(
            &affected,
            &["worker.js:1: import \"nanoid\" is not available".to_string()],
        ))
        .unwrap();
        assert_eq!(got.files["worker.js"], "export default { fetch() {} };\n");
        let req = &m.requests.borrow()[0];
        assert!(req.messages[0].content.starts_with("You fix the code"));
        assert!(req.messages[1]
            .content
            .contains("- worker.js:1: import \"nanoid\""));
        assert!(req.messages[1]
            .content
            .contains("=== FILE: worker.js ===\nimport { nanoid }"));
        assert_eq!(s.calls[0].template, "repair");

        let m = Scripted::new(vec![answer("=== EDIT: worker.js ===\n<<<<<<< SEARCH\nnot there at all, really\n=======\nx\n>>>>>>> REPLACE\n=== END EDIT ===\n")]);
        let e = block_on(session(&m).repair(&affected, &["x".into()])).unwrap_err();
        assert!(e.message.contains("did not apply"), "{}", e.message);
    }

    #[test]
    fn assemble_never_takes_runtime_files_from_the_model() {
        let plan = offline_plan("a task manager");
        let mut files = BTreeMap::new();
        files.insert("_kiln/runtime.js".to_string(), "evil".to_string());
        files.insert("public/index.html".to_string(), "<p>mine</p>".to_string());
        let app: BTreeMap<_, _> = assemble(&plan, &files).into_iter().collect();
        assert_ne!(app["_kiln/runtime.js"], "evil");
        assert_eq!(app["public/index.html"], "<p>mine</p>");
        assert!(app.contains_key("public/styles.css"));
        assert_eq!(missing_model_files(&files).len(), 3);
        let _ = no_sleep;
    }

    #[test]
    fn an_edit_sends_only_editable_files_and_keeps_only_real_changes() {
        let plan = offline_plan("a task manager");
        let files: BTreeMap<String, String> = scaffold::generate(&plan).into_iter().collect();
        let first = files["public/app.js"].lines().next().unwrap().to_string();
        let answer_text = format!(
            "Sure.\n=== EDIT: public/app.js ===\n<<<<<<< SEARCH\n{first}\n=======\n// Welcome!\n{first}\n>>>>>>> REPLACE\n=== END EDIT ===\n=== FILE: migrations/0002_x.sql ===\nDROP TABLE tasks;\n=== END FILE ===\n"
        );
        let m = Scripted::new(vec![answer(&answer_text)]);
        let mut s = session(&m);
        let got = block_on(s.edit("add a welcome line", &files)).unwrap();
        assert_eq!(got.files.keys().collect::<Vec<_>>(), vec!["public/app.js"]);
        assert!(got.files["public/app.js"].starts_with("// Welcome!\n"));
        let req = &m.requests.borrow()[0];
        assert!(req.messages[0].content.starts_with("You change the code"));
        let user = &req.messages[1].content;
        assert!(user.starts_with("Request:\nadd a welcome line\n\nFiles:\n"));
        assert!(user.contains("=== FILE: worker.js ==="));
        assert!(
            !user.contains("=== FILE: migrations/"),
            "the data model is not sent"
        );
        assert_eq!(s.calls[0].template, "edit");

        // "No change" is an answer when it is said explicitly; prose alone is not.
        let m = Scripted::new(vec![answer("It is already there.\n=== NO CHANGE ===\n")]);
        let same = block_on(session(&m).edit("nothing", &files)).unwrap();
        assert!(same.files.is_empty() && same.no_change);
        let m = Scripted::new(vec![answer("Nothing to change.")]);
        let e = block_on(session(&m).edit("nothing", &files)).unwrap_err();
        assert!(e.retryable);
        assert!(e.message.contains("=== NO CHANGE ==="), "{}", e.message);

        let miss = "=== EDIT: public/app.js ===\n<<<<<<< SEARCH\nno such line anywhere in it\n=======\nx\n>>>>>>> REPLACE\n=== END EDIT ===\n";
        let m = Scripted::new(vec![answer(miss)]);
        let e = block_on(session(&m).edit("change it", &files)).unwrap_err();
        assert!(e.retryable);
        assert!(e.message.contains("did not apply"), "{}", e.message);
    }

    #[test]
    fn a_structural_change_sends_the_live_files_and_the_plan_diff_and_keeps_earlier_edits() {
        let old = offline_plan("a reading list with books");
        let mut files: BTreeMap<String, String> = scaffold::generate(&old).into_iter().collect();
        let app = files["public/app.js"].clone();
        files.insert("public/app.js".into(), format!("// Welcome!\n{app}"));
        let mut new = old.plan().clone();
        new.entities[0].fields.push(plan::Field {
            name: "shelf_note".into(),
            kind: plan::FieldKind::LongText,
            required: false,
            values: vec![],
        });
        let new = new.validate().unwrap();
        let first_worker_line = files["worker.js"].lines().next().unwrap().to_string();
        let edit = format!(
            "=== EDIT: worker.js ===\n<<<<<<< SEARCH\n{first_worker_line}\n=======\n{first_worker_line}\n// notes\n>>>>>>> REPLACE\n=== END EDIT ===\n"
        );
        let m = Scripted::new(vec![answer(&edit)]);
        let mut s = session(&m);
        let got = block_on(s.revise("add notes to books", &files, old.plan(), &new)).unwrap();
        assert_eq!(got.files.keys().collect::<Vec<_>>(), vec!["worker.js"]);
        let req = &m.requests.borrow()[0];
        let user = &req.messages[1].content;
        assert!(
            user.starts_with("Request:\nadd notes to books\n\nPlan changes:\n- entity "),
            "{user}"
        );
        assert!(
            user.contains(": new field shelf_note (long_text)\n"),
            "{user}"
        );
        assert!(user.contains("New plan:\n{\"app_name\""), "{user}");
        assert!(
            user.contains("=== FILE: public/app.js ===\n// Welcome!\n"),
            "the edited file is sent"
        );
        assert!(!user.contains("=== FILE: migrations/"));
        assert!(req.messages[0].content.contains("Plan changes:"));
        assert_eq!(s.calls[0].template, "edit");
    }

    #[test]
    fn page_paths_derived_from_entity_names_are_normalised_not_rejected() {
        let text = r#"{"app_name": "Habits", "entities": [{"name": "check_ins", "fields": [{"name": "day", "kind": "date"}]}],
            "pages": [{"name": "Check-ins", "path": "/Check_Ins/", "entity": "check_ins"}, {"path": "my log", "entity": "check_ins"}]}"#;
        let plan = read_plan(text).unwrap();
        let paths: Vec<&str> = plan.plan().pages.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/check-ins", "/my-log"]);
        // Names in another case or with spaces become snake_case wherever they are used.
        let text = r#"{"app_name": "Trips", "entities": [
            {"name": "Trips", "fields": [{"name": "Start Date", "kind": "date"}]},
            {"name": "check-ins", "fields": [{"name": "trip_id", "kind": {"reference": "Trips"}}, {"name": "Note", "kind": "text"}]}],
            "pages": [{"path": "/Trips", "entity": "Trips"}, {"path": "/check_ins", "entity": "check-ins"}]}"#;
        let plan = read_plan(text).unwrap();
        let p = plan.plan();
        assert_eq!(p.entities[0].name, "trips");
        assert_eq!(p.entities[0].fields[0].name, "start_date");
        assert_eq!(p.entities[1].name, "check_ins");
        assert_eq!(
            p.entities[1].fields[0].kind,
            plan::FieldKind::Reference("trips".into())
        );
        assert_eq!(p.entities[1].fields[1].name, "note");
        assert_eq!(p.pages[0].entity.as_deref(), Some("trips"));
        assert_eq!(p.pages[1].path, "/check-ins");
        // What cannot be normalised is still reported.
        let bad = r#"{"app_name": "X", "entities": [{"name": "items", "fields": [{"name": "title", "kind": "text"}]}], "pages": [{"path": "/api/items", "entity": "items"}]}"#;
        let errors = read_plan(bad).unwrap_err();
        assert!(errors[0].contains("/api"), "{errors:?}");
    }

    #[test]
    fn the_prompts_state_the_output_budget_and_continuing_is_the_normal_path() {
        let plan = offline_plan("a task manager with projects, tasks, notes and tags");
        let full = files_answer(&plan);
        // Three answers: two cut off at the token limit, the last one finishing.
        let cuts: Vec<usize> = [full.len() / 3, full.len() * 2 / 3]
            .iter()
            .map(|c| {
                (*c..full.len())
                    .find(|i| full.is_char_boundary(*i))
                    .unwrap()
            })
            .collect();
        let part = |a: usize, b: usize, cut: bool| {
            Ok(Reply {
                content: full[a..b].to_string(),
                finish_reason: Some(if cut { "length" } else { "stop" }.into()),
                usage: Some((100, 8192)),
                reasoning_chars: 0,
            })
        };
        let m = Scripted::new(vec![
            part(0, cuts[0], true),
            part(cuts[0], cuts[1], true),
            part(cuts[1], full.len(), false),
        ]);
        let mut s = Session::new(&m, 4096, false, DEFAULT_CALL_RETRY, |_| {
            std::future::ready(())
        });
        let got = block_on(s.code(&plan)).unwrap();
        assert_eq!(got.continuations, 2);
        for f in FileParser::parse(&full).files {
            assert_eq!(got.files.get(&f.path), Some(&f.content), "{}", f.path);
        }
        let requests = m.requests.borrow();
        assert!(requests[0].messages[0]
            .content
            .contains("each answer holds at most 4096 tokens"));
        assert_eq!(requests[0].max_tokens, 4096);
    }
}
