//! Prompt → plan, deterministically and without a model.
//!
//! The prompt is read as a stream of noun phrases. Each phrase is judged by its last noun (the
//! head) and by the words around it: after "track", "manage", "of" … it names records to keep
//! (an entity); after "with" (or inside parentheses) it describes the record just mentioned
//! (fields), unless it is itself a collection with attributes of its own ("ingredients *with*
//! quantity"); after "in each", "per", "at each" … it names the record the previous one belongs
//! to (a reference: "appliances in each room"); after "for a" it names the audience (part of the
//! app name). Entities keep the user's own word ("issues", "dogs", "waterings"); the
//! [`lexicon`](super::lexicon) only supplies good default fields for words it knows ("recipes"
//! get ingredients and a rating). Field kinds follow the words: dates, amounts, counts, yes/no
//! ("returned yes/no", "whether I applied"), ratings, and choices with the values the prompt
//! lists ("status (open, in progress, done)") or sensible defaults (status, priority, severity).
//! A prompt with no usable noun gets an `items` entity, so every prompt yields a plan, and every
//! plan passes [`Plan::validate`] (property tested). The planner reads English only.
//!
//! Key decision: no randomness and no model means the same prompt always gives the same plan;
//! the offline provider exists for local development, tests and as a fallback, so it favours a
//! small, always-working app over guessing ambitiously. Its fidelity is measured on a corpus of
//! prompts (`tests/fixtures/planner/`, `bench_planner`, BENCHMARKS.md).

use super::lexicon::{
    self, default_choices, EntityConcept, FieldConcept, Kind, APP_WORDS, AUDIENCE_WORDS,
    BOOLEAN_WORDS, CHOICE_WORDS, CLAUSE_ENDS, COMPOUNDS, DOMAIN_WORDS, DUAL_WORDS, ENTITY_LEADS,
    FILE_WORDS, INTEGER_WORDS, LINK_WORDS, LOG_WORDS, MODALS, NUMBER_WORDS, RATE_WORDS, TIME_UNITS,
    VERB_CONTEXT, VIEWERS, WITH_LEADS,
};
use super::words::{
    is_plural, is_stop_word, plural, sentence_case, singular, title_case, tokenize, Token,
};
use plan::{
    is_identifier, is_sql_keyword, Entity, Field, FieldKind, Page, Plan, AUTOMATIC_COLUMNS,
    MAX_CHOICES, MAX_CHOICE_CHARS, MAX_FEATURES, MAX_IDENT_LEN, MAX_NAME_CHARS, RESERVED_TABLES,
};

/// Longest accepted prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 20_000;

/// Most entities the offline planner puts in one plan (the schema allows more; a small app is
/// easier to use and to review).
const PLANNED_ENTITIES: usize = 10;
/// Most fields the offline planner gives one entity.
const PLANNED_FIELDS: usize = 20;

/// Why a prompt was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// Nothing but whitespace.
    #[error("the prompt is empty; describe the app you want, e.g. 'a recipe book with ratings'")]
    Empty,
    /// Over [`MAX_PROMPT_CHARS`].
    #[error("the prompt is {0} characters; the limit is {MAX_PROMPT_CHARS}, so shorten it")]
    TooLong(usize),
}

/// Plans an app for a prompt. Deterministic: the same prompt always gives the same plan, and the
/// plan always passes [`Plan::validate`].
pub fn plan_from_prompt(prompt: &str) -> Result<Plan, PromptError> {
    let chars = prompt.chars().count();
    if chars > MAX_PROMPT_CHARS {
        return Err(PromptError::TooLong(chars));
    }
    if prompt.trim().is_empty() {
        return Err(PromptError::Empty);
    }
    let (text, choices) = extract_choices(&super::intent::without_style(&without_styling(prompt)));
    let mut reader = Reader {
        choices,
        ..Reader::default()
    };
    reader.read(&merge_compounds(tokenize(&text)));
    let mut plan = reader.into_plan();
    super::intent::apply(prompt, &mut plan);
    Ok(plan)
}

/// Drops the sentences about looks ("Use lavender for the background and indigo for
/// components"): they name colours, not records.
fn without_styling(prompt: &str) -> String {
    let mut out = String::with_capacity(prompt.len());
    for sentence in prompt.split_inclusive(['.', '!', '?', '\n']) {
        let lower = sentence.to_lowercase();
        let styling = [
            "background",
            "component color",
            "components",
            "color scheme",
            "theme",
            " colour",
            " color",
            "layout",
            "buttons",
        ]
        .iter()
        .any(|w| lower.contains(w));
        if !styling {
            out.push_str(sentence);
        }
    }
    out
}

/// Finds value lists for choice words ("status (open, in progress, done)", "priority: low,
/// normal, urgent") and removes them from the text, so their values do not read as records.
/// Returns the text and `(singular word, values)` pairs.
fn extract_choices(prompt: &str) -> (String, Vec<(String, Vec<String>)>) {
    let mut text = prompt.to_string();
    let mut found = Vec::new();
    // Parenthesised lists, innermost first.
    let mut from = 0;
    while let Some(open) = text[from..].find('(').map(|i| i + from) {
        let rest = &text[open + 1..];
        let close = rest.find(')');
        let nested = rest.find('(');
        let Some(close) = close.map(|c| c + open + 1) else {
            break;
        };
        if nested.is_some_and(|n| n + open + 1 < close) {
            from = open + 1;
            continue;
        }
        match choice_before(&text[..open]).zip(split_values(&text[open + 1..close])) {
            Some((word, values)) => {
                found.push((word, values));
                text.replace_range(open..=close, " ");
                from = 0;
            }
            None => from = open + 1,
        }
    }
    // "word: a, b, c" up to the end of the clause.
    let mut from = 0;
    while let Some(colon) = text[from..].find(':').map(|i| i + from) {
        let end = text[colon + 1..]
            .find([';', '.', ')', '\n', '('])
            .map_or(text.len(), |e| e + colon + 1);
        match choice_before(&text[..colon]).zip(split_values(&text[colon + 1..end])) {
            Some((word, values)) => {
                found.push((word, values));
                text.replace_range(colon..end, " ");
            }
            None => from = colon + 1,
        }
        if from >= text.len() {
            break;
        }
    }
    (text, found)
}

/// The choice word right before a list, if any.
fn choice_before(text: &str) -> Option<String> {
    let word: String = text
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_ascii_lowercase();
    let one = singular(&word);
    CHOICE_WORDS.contains(&one.as_str()).then_some(one)
}

/// "open, in progress or done" → its values; `None` unless it is a short list of short items.
fn split_values(list: &str) -> Option<Vec<String>> {
    let list = list
        .replace(" or ", ",")
        .replace(" and ", ",")
        .replace('/', ",");
    let mut values: Vec<String> = Vec::new();
    for item in list.split(',') {
        let item = item.trim().trim_matches(['"', '\'', '`', '“', '”']).trim();
        let item = item
            .strip_prefix("or ")
            .or_else(|| item.strip_prefix("and "))
            .unwrap_or(item)
            .trim();
        if item.is_empty() || matches!(item, "etc" | "etc." | "…" | "...") {
            continue;
        }
        let words = item.split_whitespace().count();
        if words > 4
            || item.chars().count() > MAX_CHOICE_CHARS
            || item.chars().any(|c| c.is_control())
        {
            return None;
        }
        if values.iter().all(|v| !v.eq_ignore_ascii_case(item)) {
            values.push(item.to_string());
        }
    }
    (values.len() >= 2 && values.len() <= MAX_CHOICES).then_some(values)
}

/// Joins two-word phrases from [`COMPOUNDS`] into one token (`check in` → `checkin`); an empty
/// replacement drops the phrase (`sign up`). Also reads `yes/no` as one word and "times per day"
/// (a measure per unit of time) as one field name.
fn merge_compounds(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let word = |k: usize| match tokens.get(k) {
            Some(Token::Word(w)) => Some(w.as_str()),
            _ => None,
        };
        if let (Some(a), Some(b)) = (word(i), word(i + 1)) {
            if let Some((_, _, joined)) = COMPOUNDS.iter().find(|(x, y, _)| *x == a && *y == b) {
                if !joined.is_empty() {
                    out.push(Token::Word(joined.to_string()));
                }
                i += 2;
                continue;
            }
        }
        if word(i) == Some("yes")
            && tokens.get(i + 1) == Some(&Token::Break('/'))
            && word(i + 2) == Some("no")
        {
            out.push(Token::Word("yesno".into()));
            i += 3;
            continue;
        }
        if let (Some("number"), Some("of"), Some(what)) = (word(i), word(i + 1), word(i + 2)) {
            out.push(Token::Word(format!("{}_count", singular(what))));
            i += 3;
            continue;
        }
        if let (Some(a), Some("per"), Some(unit)) = (word(i), word(i + 1), word(i + 2)) {
            if RATE_WORDS.contains(&singular(a).as_str())
                && TIME_UNITS.contains(&singular(unit).as_str())
            {
                out.push(Token::Word(format!("{a}_per_{}", singular(unit))));
                i += 3;
                continue;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// What the current noun phrase is, judged by the words before it.
#[derive(Debug, Clone, PartialEq)]
enum Clause {
    /// Records to keep: "track *expenses*", "a list of *books*", the prompt's subject.
    Records,
    /// Describes the host: "recipes with *ratings*".
    With(Host),
    /// "for *a bakery*", "for freelancers" (audience) or "for *my plants*" (records: plural
    /// after a possessive). `mine` is set once "my", "our", … follows the "for".
    For {
        /// A possessive came after "for".
        mine: bool,
    },
    /// A relative or purpose clause: "… that *reminds* me": unknown nouns are ignored.
    Other,
}

/// What a with-clause describes.
#[derive(Debug, Clone, PartialEq)]
enum Host {
    /// An entity, by table name.
    Entity(String),
    /// The app as a whole ("an app with …"): its nouns are entities.
    App,
}

/// A field being planned.
#[derive(Debug, Clone)]
struct DraftField {
    name: String,
    kind: FieldKind,
    required: bool,
    /// The values of a choice field.
    values: Vec<String>,
}

/// An entity being planned.
#[derive(Debug, Clone)]
struct DraftEntity {
    table: String,
    label: String,
    fields: Vec<DraftField>,
    concept: Option<&'static EntityConcept>,
    /// A guess from the app's own name ("*study* planner"); dropped if the prompt names real
    /// records and nothing was added to it.
    provisional: bool,
    /// Implied by a domain word or the app word ("a *kanban* app", "a hiking *journal*"), not
    /// named: dropped if the prompt names records of its own and nothing was added to it.
    implied: bool,
    /// How many fields it started with.
    initial_fields: usize,
}

impl DraftEntity {
    /// Adds a field; a field of the same name is kept, except that values the prompt lists turn
    /// it into a choice.
    fn add_field(&mut self, field: DraftField) {
        if let Some(existing) = self.fields.iter_mut().find(|f| f.name == field.name) {
            if field.kind == FieldKind::Choice && !field.values.is_empty() {
                existing.kind = FieldKind::Choice;
                existing.values = field.values;
            } else if field.kind == FieldKind::Boolean {
                existing.kind = FieldKind::Boolean;
                existing.values.clear();
            }
            return;
        }
        if self.fields.len() < PLANNED_FIELDS {
            self.fields.push(field);
        }
    }

    /// Whether `word` (singular) names this entity: its table or one of its concept's words.
    fn named_by(&self, word: &str) -> bool {
        singular_table(&self.table) == word
            || self.table.rsplit('_').next().map(singular).as_deref() == Some(word)
    }
}

/// `review_results` → `review_result`.
fn singular_table(table: &str) -> String {
    match table.rsplit_once('_') {
        Some((head, last)) => format!("{head}_{}", singular(last)),
        None => singular(table),
    }
}

/// The app phrase: "*task manager*", "*vinyl record collection*".
#[derive(Debug, Clone)]
struct AppPhrase {
    words: Vec<String>,
}

/// How a phrase relates to the one before it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
    /// No link word.
    None,
    /// "per", "each", "every": the phrase names what the previous record belongs to, new or not.
    Strong,
    /// "of a", "to a", "by a": a link only to a record already named.
    Weak,
}

#[derive(Default)]
struct Reader {
    entities: Vec<DraftEntity>,
    /// Fields whose record is not known yet; they go to the main entity.
    pending: Vec<DraftField>,
    /// (child, parent) links from "… and *their* …", "… with guests", "… in each room".
    links: Vec<(String, String)>,
    app: Option<AppPhrase>,
    app_is_log: bool,
    audience: Option<String>,
    file_storage: bool,
    last_host: Option<Host>,
    /// The current phrase follows "each"/"every" at the start of a clause: it names records of
    /// its own ("where each *course* has exams"), even inside a with-clause.
    each: bool,
    /// Value lists the prompt gives for choice words.
    choices: Vec<(String, Vec<String>)>,
    /// The entity the previous phrase named, if it named one.
    previous_entity: Option<String>,
    /// The previous phrase was a log ("a log *of* …"): its records are dated.
    after_log: bool,
    /// A "yes/no", "whether" or "flag" asks for a boolean: the next field is one.
    pending_boolean: bool,
    /// The field the previous phrase added: (table, column).
    previous_field: Option<(String, String)>,
    /// A with-clause turned out to list records ("with *projects* and tasks"): the rest of it
    /// lists records too.
    records_listed: bool,
}

impl Reader {
    fn read(&mut self, tokens: &[Token]) {
        let mut clause = Clause::Records;
        let mut stack: Vec<Clause> = Vec::new();
        let mut run: Vec<String> = Vec::new();
        let mut lead: Vec<String> = Vec::new();
        let mut possessive = false;
        let mut previous: Option<&str> = None;
        for (i, token) in tokens.iter().enumerate() {
            match token {
                Token::Break(c) => {
                    let next = next_lead(tokens, i);
                    self.flush(std::mem::take(&mut run), &clause, possessive, &lead, &next);
                    if std::mem::take(&mut self.records_listed) {
                        clause = Clause::With(Host::App);
                    }
                    lead.clear();
                    possessive = false;
                    self.each = false;
                    match c {
                        '(' => {
                            stack.push(clause.clone());
                            clause = Clause::With(self.with_host());
                        }
                        ')' => clause = stack.pop().unwrap_or(Clause::Other),
                        ':' => {
                            stack.clear();
                            clause = Clause::Records;
                            self.previous_entity = None;
                        }
                        '.' | '!' | '?' | ';' | '\n' => {
                            stack.clear();
                            clause = Clause::Other;
                            self.previous_entity = None;
                            self.pending_boolean = false;
                        }
                        _ => lead.push(c.to_string()),
                    }
                    previous = None;
                }
                Token::Word(w) => {
                    let verb = DUAL_WORDS.contains(&w.as_str())
                        && previous.is_none_or(|p| VERB_CONTEXT.contains(&p));
                    let before_yes_no = matches!(
                        tokens.get(i + 1),
                        Some(Token::Word(n)) if matches!(n.as_str(), "yesno" | "flag" | "checkbox" | "toggle")
                    );
                    let boolean_word = (self.pending_boolean || before_yes_no)
                        && BOOLEAN_WORDS.contains(&w.as_str());
                    if w == "yesno" || matches!(w.as_str(), "flag" | "checkbox" | "toggle") {
                        if !run.is_empty() {
                            let next = next_lead(tokens, i);
                            self.flush(std::mem::take(&mut run), &clause, possessive, &lead, &next);
                        }
                        lead.clear();
                        self.yes_no();
                    } else if boolean_word || (!verb && is_content(w)) {
                        run.push(w.clone());
                    } else {
                        if !run.is_empty() {
                            let next = next_lead(tokens, i);
                            self.flush(std::mem::take(&mut run), &clause, possessive, &lead, &next);
                            lead.clear();
                        }
                        if std::mem::take(&mut self.records_listed) {
                            clause = Clause::With(Host::App);
                        }
                        possessive = false;
                        let w = w.as_str();
                        lead.push(w.to_string());
                        if w == "whether" {
                            self.pending_boolean = true;
                        }
                        if WITH_LEADS.contains(&w) || w == "have" {
                            clause = Clause::With(self.with_host());
                            self.each = false;
                        } else if w == "for" {
                            if self.previous_entity.is_none() {
                                clause = Clause::For { mine: false };
                            }
                        } else if ENTITY_LEADS.contains(&w) || verb {
                            if !(w == "of" && self.previous_entity.is_some()) {
                                clause = Clause::Records;
                            }
                        } else if CLAUSE_ENDS.contains(&w) {
                            clause = Clause::Other;
                        } else {
                            if matches!(w, "my" | "our" | "your" | "his" | "her" | "their")
                                && matches!(clause, Clause::For { .. })
                            {
                                clause = Clause::For { mine: true };
                            }
                            if matches!(w, "their" | "its") {
                                possessive = true;
                            }
                            if matches!(w, "each" | "every")
                                && !lead.iter().any(|l| LINK_WORDS.contains(&l.as_str()))
                            {
                                self.each = true;
                            }
                        }
                    }
                    previous = Some(w.as_str());
                }
            }
        }
        self.flush(run, &clause, possessive, &lead, &[]);
    }

    /// What a with-clause describes: the last entity, or the app.
    fn with_host(&self) -> Host {
        self.last_host.clone().unwrap_or(Host::App)
    }

    /// Whether `table` is only a guess (from the app's name or a domain word).
    fn is_guess(&self, table: &str) -> bool {
        self.entities
            .iter()
            .any(|e| e.table == table && (e.provisional || e.implied))
    }

    /// "yes/no", "flag", "checkbox": the field just named is a boolean, or the next one will be.
    fn yes_no(&mut self) {
        if let Some((table, column)) = self.previous_field.take() {
            if let Some(e) = self.entities.iter_mut().find(|e| e.table == table) {
                if let Some(f) = e.fields.iter_mut().find(|f| f.name == column) {
                    f.kind = FieldKind::Boolean;
                    f.values.clear();
                    return;
                }
            }
        }
        self.pending_boolean = true;
    }

    /// Handles one noun phrase (a run of content words) with the link words before it (`lead`)
    /// and after it (`next`).
    fn flush(
        &mut self,
        mut words: Vec<String>,
        clause: &Clause,
        possessive: bool,
        lead: &[String],
        next: &[String],
    ) {
        if words.is_empty() {
            return;
        }
        let before = words.len();
        words.retain(|w| !FILE_WORDS.contains(&singular(w).as_str()));
        if words.len() != before {
            self.file_storage = true;
        }
        let Some(last) = words.last().cloned() else {
            return;
        };
        // "visitors can read poems", "readers may comment": the people using the app, not
        // records it keeps (the visibility they imply is read by `intent`).
        if next.first().is_some_and(|n| MODALS.contains(&n.as_str()))
            && VIEWERS.contains(&singular(&last).as_str())
        {
            return;
        }
        let previous_entity = self.previous_entity.take();
        self.previous_field = None;
        let after_log = std::mem::take(&mut self.after_log) && lead.iter().any(|l| l == "of");
        let app_word = (APP_WORDS.contains(&last.as_str())
            || (APP_WORDS.contains(&singular(&last).as_str()) && !is_plural(&last)))
            && self.entity_named(&singular(&last)).is_none();
        if app_word {
            let is_log = LOG_WORDS.contains(&singular(&last).as_str());
            self.app_phrase(words, possessive);
            self.after_log = is_log && next.first().is_some_and(|n| n == "of");
            return;
        }
        // "appliances in each room", "budgets per category", "loans of a tool to a neighbour".
        if let Some(child) = previous_entity {
            let link = link_kind(lead);
            if link != Link::None && self.linked_phrase(&words, &child, link) {
                self.previous_entity = Some(child.clone());
                self.last_host = Some(Host::Entity(child));
                return;
            }
        }
        let boolean = std::mem::take(&mut self.pending_boolean);
        let made = self.noun_phrase(&words, clause, possessive, after_log, next, boolean);
        if made {
            if let Some(Host::Entity(table)) = &self.last_host {
                self.previous_entity = Some(table.clone());
            }
        }
    }

    /// A phrase after a link word: the record the previous one (`child`) belongs to, or a field
    /// of it ("for a date"). Returns whether the phrase was used.
    fn linked_phrase(&mut self, words: &[String], child: &str, link: Link) -> bool {
        let singulars: Vec<String> = words.iter().map(|w| singular(w)).collect();
        // A record already named ("each member's house" names members).
        for s in singulars.iter().rev() {
            if let Some(parent) = self.entity_named(s) {
                if parent != child {
                    self.links.push((child.to_string(), parent));
                }
                return true;
            }
        }
        let Some(head_at) = (0..words.len()).rev().find(|&i| {
            plausible_noun_word(&words[i], &singulars[i])
                || lexicon::entity_concept(&singulars[i]).is_some()
        }) else {
            return false;
        };
        let head = singulars[head_at].as_str();
        if TIME_UNITS.contains(&head) {
            return link == Link::Strong;
        }
        if let Some(concept) = lexicon::field_concept(head) {
            if lexicon::entity_concept(head).is_none() {
                self.mention_field(concept, None, Some(child), head);
                return true;
            }
        }
        if link != Link::Strong {
            return false;
        }
        let made = match lexicon::entity_concept(head) {
            Some(concept) => self.mention_concept(concept, Some(&words[head_at]), false),
            None => self.mention_generic(head, None, false, false, false),
        };
        if made {
            if let Some(Host::Entity(parent)) = self.last_host.clone() {
                if parent != child {
                    self.links.push((child.to_string(), parent));
                }
            }
        }
        made
    }

    /// The table of an entity already planned that `word` (singular) names.
    fn entity_named(&self, word: &str) -> Option<String> {
        self.entities
            .iter()
            .find(|e| singular_table(&e.table) == word)
            .or_else(|| {
                self.entities
                    .iter()
                    .find(|e| !e.provisional && !e.implied && e.named_by(word))
            })
            .or_else(|| {
                let concept = lexicon::entity_concept(word)?;
                self.entities
                    .iter()
                    .find(|e| e.concept.is_some_and(|c| std::ptr::eq(c, concept)))
            })
            .map(|e| e.table.clone())
    }

    /// "task manager", "recipe book", "a tracker": the app's own name, maybe with its records.
    fn app_phrase(&mut self, words: Vec<String>, possessive: bool) {
        let app_word = singular(words.last().expect("non-empty"));
        let modifiers = &words[..words.len() - 1];
        let is_log = LOG_WORDS.contains(&app_word.as_str());
        let first = self.app.is_none();
        // "The mini-program should …": the app again, not records.
        if let Some(app) = &self.app {
            if words.len() <= app.words.len() && app.words.ends_with(&words) {
                return;
            }
        }
        if first {
            self.app = Some(AppPhrase {
                words: words.clone(),
            });
            self.app_is_log = is_log;
        }
        let before = self.entities.len();
        let found =
            !modifiers.is_empty() && self.name_phrase(modifiers, possessive, first && is_log);
        // A generic entity guessed from the app's name is kept only if nothing better turns up.
        // ("a *polls* website" names records: a plural is not a guess.)
        let named = modifiers.last().is_some_and(|m| is_plural(m));
        if first && !named {
            for e in &mut self.entities[before..] {
                e.provisional = e.concept.is_none();
            }
        }
        if !found {
            // "an inventory", "a mood journal": the app word itself may name the records.
            if let Some(concept) = lexicon::entity_concept(&app_word) {
                self.mention_concept(concept, None, possessive);
            } else if self.last_host.is_none() {
                self.last_host = Some(Host::App);
            }
        }
    }

    /// The words before an app word ("*pet care* tracker", "*gift* list"): a known concept
    /// anywhere in them, or the last plausible noun. Returns whether it produced an entity.
    fn name_phrase(&mut self, words: &[String], possessive: bool, entries: bool) -> bool {
        let singulars: Vec<String> = words.iter().map(|w| singular(w)).collect();
        let mut produced = false;
        for (i, s) in singulars.iter().enumerate() {
            if let Some(concept) =
                lexicon::entity_concept(s).or_else(|| lexicon::entity_concept(&words[i]))
            {
                produced |= self.mention_concept(concept, Some(&words[i]), possessive);
            }
        }
        if produced {
            return true;
        }
        let Some(head_at) = (0..words.len()).rev().find(|&i| {
            plausible_noun_word(&words[i], &singulars[i])
                && !APP_WORDS.contains(&singulars[i].as_str())
        }) else {
            return false;
        };
        // "a restaurant *reservations* app": a plural names the records by itself.
        let modifier = head_at
            .checked_sub(1)
            .filter(|_| !is_plural(&words[head_at]))
            .map(|j| singulars[j].as_str())
            .filter(|m| plausible_noun(m));
        self.mention_generic(&singulars[head_at], modifier, possessive, entries, entries)
    }

    /// Handles a noun phrase by its head; returns whether it named an entity.
    fn noun_phrase(
        &mut self,
        words: &[String],
        clause: &Clause,
        possessive: bool,
        dated: bool,
        next: &[String],
        boolean: bool,
    ) -> bool {
        let singulars: Vec<String> = words.iter().map(|w| singular(w)).collect();
        let host = match clause {
            Clause::With(Host::Entity(table)) => Some(table.clone()),
            _ => None,
        };
        // A field asked for as yes/no: "whether I *applied*", "a yes/no for *finished*".
        if boolean {
            if let Some(word) = words.iter().rev().find(|w| !is_stop_word(w)) {
                let target = host.clone().or_else(|| self.host_table());
                if let (Some(table), Some(name)) = (target, safe_column(word)) {
                    self.add_field_to(&table, name, FieldKind::Boolean, Vec::new());
                    return false;
                }
            }
        }
        // "doses *taken*", "books *read*": a trailing participle describes the noun before it.
        let Some(head_at) = (0..words.len()).rev().find(|&i| {
            let s = singulars[i].as_str();
            let participle = i > 0 && BOOLEAN_WORDS.contains(&s) && !boolean;
            !participle
                && (plausible_noun_word(&words[i], s)
                    || lexicon::entity_concept(s).is_some()
                    || lexicon::field_concept(s).is_some()
                    || BOOLEAN_WORDS.contains(&s)
                    || s.contains("_per_")
                    || s.ends_with("_count"))
        }) else {
            // "for a wedding": the audience, part of the app's name.
            if matches!(clause, Clause::For { .. }) && self.audience.is_none() {
                self.audience = Some(words.join(" "));
            }
            return false;
        };
        let head_word = words[head_at].as_str();
        let head = singulars[head_at].as_str();
        // "customer information", "volunteer management", "booking records": the record is the
        // word before; "types of …" alone names nothing.
        let skip_alone =
            SKIP_ALONE.contains(&head) && head_at == 0 && next.first().is_some_and(|n| n == "of");
        if META_HEADS.contains(&head) || skip_alone {
            if head_at == 0 {
                return false;
            }
            let rest = words[..head_at].to_vec();
            let rest: Vec<String> = match rest.last() {
                Some(last)
                    if !is_plural(last)
                        && !DOMAIN_WORDS.contains(&singular(last).as_str())
                        && lexicon::field_concept(last).is_none() =>
                {
                    let mut r = rest.clone();
                    *r.last_mut().expect("non-empty") = plural(last);
                    r
                }
                _ => rest,
            };
            return self.noun_phrase(&rest, clause, possessive, dated, next, boolean);
        }
        let entity = lexicon::entity_concept(head).or_else(|| lexicon::entity_concept(head_word));
        let field = lexicon::field_concept(head);
        let plural_head = is_plural(head_word);
        // The word before a value's noun names it more precisely ("viewing date", "hourly
        // rate", "example sentence").
        let field_modifier = head_at
            .checked_sub(1)
            .map(|j| singulars[j].as_str())
            .filter(|m| {
                m.len() >= 3
                    && m.bytes().all(|b| b.is_ascii_lowercase())
                    && !is_stop_word(m)
                    && lexicon::entity_concept(m).is_none()
                    && !BOOLEAN_WORDS.contains(m)
            });
        // "to-do items", "diary entries": a generic head takes its modifier's concept.
        if matches!(head, "item" | "entry" | "thing" | "element") && head_at > 0 {
            let m = singulars[head_at - 1].as_str();
            if let Some(concept) = lexicon::entity_concept(m) {
                if !std::ptr::eq(concept, entity.unwrap_or(concept)) || entity.is_none() {
                    return self.mention_concept(concept, Some(&words[head_at - 1]), possessive);
                }
            }
        }
        // "contest results" once contests are planned: results that belong to a contest.
        if head_at > 0 && lexicon::entity_concept(head).is_none() {
            if let Some(owner) = self.entity_named(&singulars[head_at - 1]) {
                // "service status", "tool name": a value of that record.
                let value = !plural_head
                    || field.is_some_and(|c| !matches!(c.kind, Kind::Text | Kind::LongText))
                    || kind_of(head, None).is_some();
                if value {
                    match field {
                        Some(concept) => self.mention_field(concept, None, Some(&owner), head),
                        None => self.plain_field(&owner, head, head_word, None),
                    }
                    return false;
                }
                let made = self.mention_generic(head, None, possessive, false, dated);
                if made {
                    if let Some(table) = self.host_table() {
                        if table != owner {
                            self.links.push((table, owner));
                        }
                    }
                }
                return made;
            }
        }
        let modifier = head_at
            .checked_sub(1)
            .map(|j| singulars[j].as_str())
            .filter(|m| {
                plausible_noun(m)
                    && !DOMAIN_WORDS.contains(m)
                    && (entity.is_none() || lexicon::entity_concept(m).is_none())
            });
        // "ingredients with quantity", "comments on each issue": a collection with attributes
        // or a parent of its own is a record, whatever its word.
        let has_own = next.first().is_some_and(|n| {
            WITH_LEADS.contains(&n.as_str()) || n == "have" || n == "per" || n == "("
        }) || next.iter().any(|n| matches!(n.as_str(), "each" | "every"));
        let record_word = plural_head && (has_own || entity.is_some() && field.is_none());

        match clause {
            Clause::With(Host::Entity(table)) if !self.each && !record_word => {
                let table = table.clone();
                // "transactions with amount, date and category": a record already planned is a
                // reference.
                if !plural_head {
                    if let Some(parent) = self.entity_named(head) {
                        if parent != table {
                            self.links.push((table, parent));
                        }
                        return false;
                    }
                }
                let measure = is_measure(head, modifier, field);
                // A guessed host ("a job application tracker with *companies* and …") lists
                // records; a named one owns them.
                let guessed = self.is_guess(&table);
                let property = if guessed && plural_head {
                    measure
                } else {
                    field.is_some()
                        || head.contains("_per_")
                        || kind_of(head, modifier).is_some()
                        || !plural_head
                };
                if !property {
                    // "events with guests": a plural is a collection of its own, belonging to
                    // the host.
                    let made = match entity {
                        Some(concept) => self.mention_concept(concept, Some(head_word), false),
                        None => self.mention_generic(head, modifier, false, false, false),
                    };
                    if made {
                        if guessed {
                            self.records_listed = true;
                        } else {
                            self.link_last_to(&table);
                        }
                    }
                    return made;
                }
                // A property of the host: "records with artist and condition".
                match field {
                    Some(concept) => {
                        self.mention_field(concept, field_modifier, Some(&table), head)
                    }
                    None => self.plain_field(&table, head, head_word, field_modifier),
                }
                false
            }
            Clause::With(Host::Entity(table)) if !self.each => {
                let table = table.clone();
                let made = self.record(head, head_word, modifier, entity, false, false);
                if made {
                    match entity {
                        // "a task manager with projects and tasks": known records are listed,
                        // not owned; the rest of the clause lists records too.
                        Some(_) => self.records_listed = true,
                        None => self.link_last_to(&table),
                    }
                    if self.host_table().as_deref() == Some(table.as_str()) {
                        self.records_listed = true;
                    }
                }
                made
            }
            Clause::For { mine } if !plural_head || (!*mine && AUDIENCE_WORDS.contains(&head)) => {
                // "for a book club" still names books; "for a bakery" is an audience.
                if let Some(concept) = entity {
                    return self.mention_concept(concept, Some(head_word), possessive);
                }
                if self.audience.is_none() {
                    self.audience = Some(words.join(" "));
                }
                false
            }
            Clause::Other => match entity {
                Some(concept) if plural_head || field.is_none() => {
                    self.mention_concept(concept, Some(head_word), possessive)
                }
                _ => false,
            },
            _ => {
                // Records: "track *expenses*", "an app with *decks*, *cards* …". A plural names
                // records unless it is a measure ("dates", "prices", "ratings").
                let measure = field.is_some_and(|c| !matches!(c.kind, Kind::Text | Kind::LongText))
                    || matches!(head, "note" | "tag" | "detail" | "description" | "keyword");
                let as_field = if plural_head {
                    measure && !record_word && entity.is_none()
                } else {
                    // A known value word waits for its record when none is named yet ("add a
                    // *priority* to tasks"); other value words need a record already.
                    entity.is_none()
                        && (field.is_some()
                            || (kind_of(head, modifier).is_some() && self.host_table().is_some()))
                };
                if as_field {
                    let host = self.host_table();
                    match (field, host) {
                        (Some(concept), host) => {
                            self.mention_field(concept, field_modifier, host.as_deref(), head)
                        }
                        (None, Some(table)) => {
                            self.plain_field(&table, head, head_word, field_modifier)
                        }
                        (None, None) => {}
                    }
                    return false;
                }
                // A singular unknown noun ("manage insurance *business*") names records only
                // while nothing else does: later ones are usually activities, not tables.
                if !plural_head
                    && plural(head) != head
                    && entity.is_none()
                    && !dated
                    && self.entities.iter().any(|e| !e.provisional && !e.implied)
                {
                    return false;
                }
                self.record(head, head_word, modifier, entity, possessive, dated)
            }
        }
    }

    /// The table of the current host entity, if any.
    fn host_table(&self) -> Option<String> {
        match &self.last_host {
            Some(Host::Entity(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// The last mentioned entity belongs to `parent`.
    fn link_last_to(&mut self, parent: &str) {
        if let Some(Host::Entity(child)) = self.last_host.clone() {
            if child != parent {
                self.links.push((child, parent.to_string()));
            }
        }
    }

    /// An entity for a head noun: its concept's fields under the user's word, or generic.
    fn record(
        &mut self,
        head: &str,
        head_word: &str,
        modifier: Option<&str>,
        entity: Option<&'static EntityConcept>,
        possessive: bool,
        dated: bool,
    ) -> bool {
        let made = match entity {
            Some(concept) => {
                let word = match modifier {
                    Some(m) if matches!(head, "entry" | "item" | "record" | "log" | "type") => {
                        format!("{m}_{head_word}")
                    }
                    _ => head_word.to_string(),
                };
                self.mention_concept(concept, Some(&word), possessive)
            }
            None => self.mention_generic(head, modifier, possessive, false, dated),
        };
        if made && dated {
            self.date_and_link_log();
        }
        made
    }

    /// A record from "a log of X": dated, and linked to the app's first record if there is one
    /// ("my plants, and a log of waterings").
    fn date_and_link_log(&mut self) {
        let Some(table) = self.host_table() else {
            return;
        };
        let first = self
            .entities
            .iter()
            .find(|e| e.table != table && !e.provisional)
            .map(|e| e.table.clone());
        if let Some(e) = self.entities.iter_mut().find(|e| e.table == table) {
            if !e.fields.iter().any(|f| f.kind == FieldKind::Date) {
                e.fields.insert(
                    0,
                    DraftField {
                        name: "date".into(),
                        kind: FieldKind::Date,
                        required: true,
                        values: Vec::new(),
                    },
                );
            }
        }
        if let Some(parent) = first {
            self.links.push((table, parent));
        }
    }

    /// A field named by an unknown noun ("with *artist*", "*elevation gain*"), its kind from the
    /// word.
    fn plain_field(&mut self, table: &str, head: &str, head_word: &str, modifier: Option<&str>) {
        let kind = kind_of(head, modifier).unwrap_or(FieldKind::Text);
        // Counts keep their plural ("bedrooms", "points"); other values are singular.
        let head = if kind == FieldKind::Integer && is_plural(head_word) && !head.contains('_') {
            head_word
        } else {
            head
        };
        let name = match modifier {
            Some(m) => format!("{m}_{head}"),
            None => head.to_string(),
        };
        let Some(name) = safe_column(&name) else {
            return;
        };
        let (kind, values) = self.choice_for(&[head], kind);
        self.add_field_to(table, name, kind, values);
    }

    /// Listed values for `words` turn `kind` into a choice; a choice without values gets the
    /// defaults, or becomes text.
    fn choice_for(&self, words: &[&str], kind: FieldKind) -> (FieldKind, Vec<String>) {
        for w in words {
            if let Some((_, values)) = self.choices.iter().find(|(c, _)| c == w) {
                return (FieldKind::Choice, values.clone());
            }
        }
        if kind == FieldKind::Choice {
            for w in words {
                if let Some(values) = default_choices(w) {
                    return (
                        FieldKind::Choice,
                        values.iter().map(|v| v.to_string()).collect(),
                    );
                }
            }
            return (FieldKind::Text, Vec::new());
        }
        (kind, Vec::new())
    }

    fn add_field_to(&mut self, table: &str, name: String, kind: FieldKind, values: Vec<String>) {
        if let Some(e) = self.entities.iter_mut().find(|e| e.table == table) {
            e.add_field(DraftField {
                name: name.clone(),
                kind,
                required: false,
                values,
            });
            self.previous_field = Some((table.to_string(), name));
        }
    }

    /// An entity from a concept, under the user's word (`issues`, `dogs`) unless the word names
    /// a domain ("a todo list" → `tasks`). Returns whether it is in the plan.
    fn mention_concept(
        &mut self,
        concept: &'static EntityConcept,
        word: Option<&str>,
        possessive: bool,
    ) -> bool {
        let user_table = word
            .filter(|w| {
                let s = singular(w);
                !DOMAIN_WORDS.contains(&s.as_str()) && !DOMAIN_WORDS.contains(w)
            })
            .and_then(|w| {
                let s = singular(w);
                safe_table(&plural(&s))
            });
        let (table, label) = match user_table {
            Some(t) if t != concept.table => {
                let label = sentence_case(&t.replace('_', " "));
                (t, label)
            }
            _ => (concept.table.to_string(), concept.label.to_string()),
        };
        let fields = concept
            .fields
            .iter()
            .map(|f| {
                let (kind, values) = self.choice_for(&[f.name], f.kind.field_kind());
                DraftField {
                    name: f.name.to_string(),
                    kind,
                    required: f.required,
                    values,
                }
            })
            .collect();
        let implied = word.is_none_or(|w| {
            let s = singular(w);
            DOMAIN_WORDS.contains(&s.as_str()) || DOMAIN_WORDS.contains(&w)
        });
        let initial_fields = concept.fields.len();
        let entity = DraftEntity {
            table,
            label,
            fields,
            concept: Some(concept),
            provisional: false,
            implied,
            initial_fields,
        };
        let made = self.mention(entity, possessive);
        for companion in concept.companions {
            if let Some(c) = lexicon::entity_by_table(companion) {
                let present = self
                    .entities
                    .iter()
                    .any(|e| e.table == c.table || e.concept.is_some_and(|k| std::ptr::eq(k, c)));
                if !present {
                    let last_host = self.last_host.clone();
                    self.mention_concept(c, None, false);
                    if let Some(e) = self.entities.iter_mut().find(|e| e.table == c.table) {
                        e.implied = false;
                    }
                    // A companion is implied, not mentioned: it does not host what follows.
                    self.last_host = last_host;
                }
            }
        }
        made
    }

    fn mention_generic(
        &mut self,
        head: &str,
        modifier: Option<&str>,
        possessive: bool,
        entries: bool,
        dated: bool,
    ) -> bool {
        let base = match modifier {
            Some(m) if !m.ends_with("ing") || entries => format!("{m}_{head}"),
            _ => head.to_string(),
        };
        let candidate = if entries {
            format!("{base}_entries")
        } else {
            plural(&base)
        };
        let Some(table) = safe_table(&candidate) else {
            return false;
        };
        let first = if entries || dated {
            DraftField {
                name: "date".into(),
                kind: FieldKind::Date,
                required: true,
                values: Vec::new(),
            }
        } else {
            DraftField {
                name: "name".into(),
                kind: FieldKind::Text,
                required: true,
                values: Vec::new(),
            }
        };
        let fields = vec![
            first,
            DraftField {
                name: "notes".into(),
                kind: FieldKind::LongText,
                required: false,
                values: Vec::new(),
            },
        ];
        let label = sentence_case(&table.replace('_', " "));
        let entity = DraftEntity {
            table,
            label,
            fields,
            concept: None,
            provisional: false,
            implied: false,
            initial_fields: 2,
        };
        self.mention(entity, possessive)
    }

    /// Records an entity mention (merging repeats) and makes it the host of what follows.
    /// Returns whether the entity is in the plan.
    fn mention(&mut self, entity: DraftEntity, possessive: bool) -> bool {
        let table = entity.table.clone();
        if possessive {
            if let Some(Host::Entity(parent)) = &self.last_host {
                if *parent != table {
                    self.links.push((table.clone(), parent.clone()));
                }
            }
        }
        if let Some(existing) = self.entities.iter_mut().find(|e| e.table == table) {
            if !entity.implied {
                existing.provisional = false;
                existing.implied = false;
            }
        } else {
            if self.entities.len() >= PLANNED_ENTITIES {
                return false;
            }
            self.entities.push(entity);
        }
        self.last_host = Some(Host::Entity(table));
        true
    }

    fn mention_field(
        &mut self,
        concept: &FieldConcept,
        modifier: Option<&str>,
        host: Option<&str>,
        word: &str,
    ) {
        let target = host.map(str::to_string).or_else(|| self.host_table());
        // The user's word names the column ("cost" stays cost, a number), unless it is the
        // concept's own name in another form ("ingredients"), an abbreviation ("qty"), or the
        // entity already has the concept's column.
        let has_concept_column = target.as_ref().is_some_and(|t| {
            self.entities
                .iter()
                .any(|e| &e.table == t && e.fields.iter().any(|f| f.name == concept.name))
        });
        let own_word = !has_concept_column
            && concept.words.first() != Some(&word)
            && singular(concept.name) != word
            && plausible_shape(word)
            && !matches!(
                word,
                "duedate"
                    | "due"
                    | "birthdate"
                    | "qty"
                    | "kcal"
                    | "km"
                    | "mile"
                    | "kilometer"
                    | "kilometre"
                    | "star"
                    | "fave"
                    | "telephone"
                    | "mobile"
                    | "minute"
                    | "hour"
                    | "calorie"
                    | "serving"
                    | "yesno"
                    | "importance"
                    | "urgency"
                    | "state"
            );
        let base = if own_word { word } else { concept.name };
        // "watering dates" → watering_date; "due date" is already one token.
        let prefixed = modifier
            .filter(|_| {
                matches!(
                    concept.kind,
                    Kind::Date | Kind::Number | Kind::Integer | Kind::Text
                ) && concept.name != "yes_no"
            })
            .and_then(|m| safe_column(&format!("{m}_{base}")));
        let Some(name) = prefixed.or_else(|| safe_column(base)) else {
            return;
        };
        let words: Vec<&str> = concept.words.to_vec();
        let (kind, values) = self.choice_for(&words, concept.kind.field_kind());
        let field = DraftField {
            name: name.clone(),
            kind,
            required: false,
            values,
        };
        match target {
            Some(table) => {
                if let Some(e) = self.entities.iter_mut().find(|e| e.table == table) {
                    e.add_field(field);
                    self.previous_field = Some((table, name));
                }
            }
            None => self.pending.push(field),
        }
    }

    fn into_plan(mut self) -> Plan {
        // Guesses from the app's name go if real records were named and the guess got nothing.
        let defaults_only = |e: &DraftEntity| {
            e.fields
                .iter()
                .all(|f| ["name", "notes", "date"].contains(&f.name.as_str()))
        };
        if self.entities.iter().any(|e| !e.provisional) {
            let dropped: Vec<String> = self
                .entities
                .iter()
                .filter(|e| e.provisional && defaults_only(e))
                .map(|e| e.table.clone())
                .collect();
            let named = self.entities.iter().any(|e| !e.provisional && !e.implied);
            let mut dropped = dropped;
            if named {
                dropped.extend(
                    self.entities
                        .iter()
                        .filter(|e| {
                            let duplicate = self.entities.iter().any(|o| {
                                o.table != e.table
                                    && !o.implied
                                    && o.concept.is_some()
                                    && o.concept.map(|c| c.table) == e.concept.map(|c| c.table)
                            });
                            e.implied && (duplicate || e.fields.len() <= e.initial_fields)
                        })
                        .filter(|e| {
                            !self
                                .links
                                .iter()
                                .any(|(c, p)| c == &e.table || p == &e.table)
                        })
                        .map(|e| e.table.clone()),
                );
            }
            self.entities.retain(|e| !dropped.contains(&e.table));
            self.links
                .retain(|(child, parent)| !dropped.contains(child) && !dropped.contains(parent));
        }
        if self.entities.is_empty() {
            let log = self.app_is_log;
            self.mention_generic("item", None, false, false, false);
            if log {
                self.entities[0].fields.insert(
                    1,
                    DraftField {
                        name: "date".into(),
                        kind: FieldKind::Date,
                        required: false,
                        values: Vec::new(),
                    },
                );
            }
        }
        let pending = std::mem::take(&mut self.pending);
        for field in pending {
            self.entities[0].add_field(field);
        }
        let main_concept = self.entities[0].concept;
        let main_label = self.entities[0].label.clone();

        // References: concept parents (first present wins), then "their" and "with" links.
        // "posts and comments": comments, replies, reviews … are about the record named just
        // before them when nothing else says what they belong to.
        for i in 1..self.entities.len() {
            let table = self.entities[i].table.clone();
            let last = singular(table.rsplit('_').next().unwrap_or(&table));
            let linked = self.links.iter().any(|(c, _)| c == &table);
            if ATTACHED_WORDS.contains(&last.as_str()) && !linked {
                let parent = self.entities[i - 1].table.clone();
                self.links.push((table, parent));
            }
        }
        // A concept's parent is the entity with that table or of that concept ("meetings" are
        // events, so they may belong to "members").
        let owners: Vec<(String, Option<&'static str>)> = self
            .entities
            .iter()
            .map(|e| (e.table.clone(), e.concept.map(|c| c.table)))
            .collect();
        for entity in &mut self.entities {
            if let Some(concept) = entity.concept {
                let parent = concept.parents.iter().find_map(|p| {
                    owners
                        .iter()
                        .find(|(t, c)| t == p || *c == Some(*p))
                        .map(|(t, _)| t.clone())
                });
                if let Some(parent) = parent {
                    add_reference(entity, &parent, concept.parent_required);
                }
            }
        }
        for (child, parent) in std::mem::take(&mut self.links) {
            if let Some(entity) = self.entities.iter_mut().find(|e| e.table == child) {
                add_reference(entity, &parent, false);
            }
        }

        let app_name = self.app_name(main_concept, &main_label);
        let entities = order_parents_first(std::mem::take(&mut self.entities));
        let labels: Vec<String> = entities.iter().map(|e| e.label.to_lowercase()).collect();
        let summary = format!(
            "{app_name} keeps {}. Everyone signs up with an email and password and sees only their own records.",
            join_and(&labels)
        );
        let mut features = vec!["Sign up and sign in with email and password".to_string()];
        for e in &entities {
            let singular_label = singular(&e.label.to_lowercase());
            features.push(format!("Add, edit and delete {}", e.label.to_lowercase()));
            for f in &e.fields {
                match &f.kind {
                    FieldKind::Boolean => features.push(format!(
                        "Mark {singular_label} as {}",
                        f.name.replace('_', " ")
                    )),
                    FieldKind::Rating => {
                        features.push(format!("Rate {} from 1 to 5 stars", e.label.to_lowercase()))
                    }
                    FieldKind::Reference(parent) => features.push(format!(
                        "Link each {singular_label} to one of your {}",
                        parent.replace('_', " ")
                    )),
                    _ => {}
                }
            }
        }
        if self.file_storage {
            features.push("Upload, download and delete your own files".into());
        }
        features.truncate(MAX_FEATURES);

        let pages = entities
            .iter()
            .map(|e| Page {
                name: e.label.clone(),
                path: format!("/{}", e.table.replace('_', "-")),
                entity: Some(e.table.clone()),
            })
            .collect();
        Plan {
            app_name,
            summary,
            pages,
            entities: entities
                .into_iter()
                .map(|e| Entity {
                    name: e.table,
                    label: e.label,
                    fields: e
                        .fields
                        .into_iter()
                        .map(|f| Field {
                            name: f.name,
                            kind: f.kind,
                            required: f.required,
                            values: f.values,
                        })
                        .collect(),
                    visibility: Default::default(),
                })
                .collect(),
            features,
            auth: true,
            file_storage: self.file_storage,
            theme: None,
        }
    }

    fn app_name(&self, main: Option<&'static EntityConcept>, main_label: &str) -> String {
        let from_phrase = self
            .app
            .as_ref()
            .filter(|a| a.words.len() >= 2)
            .map(|a| title_case(&a.words.join(" ")));
        let name = match (from_phrase, main) {
            (Some(name), _) => match &self.audience {
                Some(audience) if audience.split(' ').count() <= 2 => {
                    format!("{} {name}", title_case(audience))
                }
                _ => name,
            },
            (None, Some(concept)) => concept.app_name.to_string(),
            (None, None) => format!(
                "{} Tracker",
                title_case(&singular(&main_label.to_lowercase()))
            ),
        };
        let name = name.replace("Crm", "CRM").replace("Todo", "To-do");
        shorten_words(&name, MAX_NAME_CHARS)
    }
}

/// Nouns that stand for the word before them: "customer *information*" names customers.
const META_HEADS: &[&str] = &[
    "information",
    "info",
    "management",
    "data",
    "detail",
    "functionality",
    "feature",
    "record",
    "content",
    "section",
    "process",
    "module",
    "panel",
    "center",
    "centre",
    "function",
    "request",
    "history",
    "list",
    "form",
    "submission",
    "generation",
    "modification",
    "identification",
    "wizard",
    "creator",
    "selection",
    "recording",
    "inquiry",
];

/// Records that are about another record: "posts and *comments*".
const ATTACHED_WORDS: &[&str] = &[
    "comment", "reply", "review", "answer", "vote", "reaction", "like", "response",
];

/// Nouns that name nothing on their own ("browse different *types* of apartments").
const SKIP_ALONE: &[&str] = &[
    "type",
    "kind",
    "variety",
    "range",
    "number",
    "lot",
    "group",
    "set",
    "way",
    "everything",
];

/// The function words after the token at `at` (which ended a phrase), up to the next content
/// word or sentence break: "with", "in each", "per", ",".
fn next_lead(tokens: &[Token], at: usize) -> Vec<String> {
    let mut out = Vec::new();
    for token in &tokens[at..] {
        match token {
            Token::Break(c @ (',' | '(' | '&' | '/')) => out.push(c.to_string()),
            Token::Break(_) => break,
            Token::Word(w) if is_content(w) && !LINK_WORDS.contains(&w.as_str()) => break,
            Token::Word(w) => out.push(w.clone()),
        }
        if out.len() >= 4 {
            break;
        }
    }
    out
}

/// How the words between two phrases link them: "per", "in each" (strong), "of a", "to a"
/// (weak), or not at all ("and", ",").
fn link_kind(lead: &[String]) -> Link {
    let has = |w: &str| lead.iter().any(|l| l == w);
    if lead.is_empty() || has(",") || has("and") || has("or") || has("with") || has("(") {
        return Link::None;
    }
    let linking = lead.iter().any(|l| LINK_WORDS.contains(&l.as_str()));
    if has("per") || (linking && (has("each") || has("every"))) {
        Link::Strong
    } else if LINK_WORDS.contains(&lead[0].as_str()) {
        Link::Weak
    } else {
        Link::None
    }
}

/// The kind a field's words suggest: "returned" a boolean, "rent" a number, "bedrooms" a
/// whole number, "times per day" a whole number.
fn kind_of(head: &str, modifier: Option<&str>) -> Option<FieldKind> {
    let compound = modifier.map(|m| format!("{m}_{head}"));
    if head.contains("_per_")
        || head.ends_with("_count")
        || compound.as_deref() == Some("party_size")
    {
        return Some(FieldKind::Integer);
    }
    if BOOLEAN_WORDS.contains(&head) {
        return Some(FieldKind::Boolean);
    }
    if head.ends_with("date") || matches!(head, "deadline" | "birthday" | "anniversary") {
        return Some(FieldKind::Date);
    }
    if INTEGER_WORDS.contains(&head) {
        return Some(FieldKind::Integer);
    }
    if NUMBER_WORDS.contains(&head) {
        return Some(FieldKind::Number);
    }
    if default_choices(head).is_some() {
        return Some(FieldKind::Choice);
    }
    None
}

/// Whether a word can be used as a generic noun: no digits-only, gerunds, participles or adverbs.
/// Plural gerunds are nouns ("waterings", "feedings", "listings").
fn plausible_noun_word(word: &str, singular_form: &str) -> bool {
    plausible_noun(singular_form)
        || (is_plural(word) && !is_stop_word(word) && plausible_shape(singular_form))
        || (word.ends_with("ings")
            && word.len() >= 7
            && word.bytes().all(|b| b.is_ascii_lowercase())
            && !is_stop_word(singular_form)
            && !is_stop_word(word))
}

/// Whether a plural names values of a record rather than records: "dates", "prices",
/// "ratings", "notes", "tags".
fn is_measure(head: &str, modifier: Option<&str>, field: Option<&FieldConcept>) -> bool {
    field.is_some_and(|c| !matches!(c.kind, Kind::Text | Kind::LongText))
        || matches!(head, "note" | "tag" | "detail" | "description" | "keyword")
        || (field.is_none() && kind_of(head, modifier).is_some())
}

/// Whether a word has the shape of a noun: letters, not a gerund, participle or adverb.
fn plausible_shape(word: &str) -> bool {
    word.len() >= 3
        && word.len() <= 24
        && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && !word.starts_with('_')
        && !word.ends_with('_')
        && !word.contains("_per_")
        && !word.ends_with("ing")
        && !(word.ends_with("ed") && word.len() >= 5 && !word.ends_with("eed"))
        && (!word.ends_with("ly")
            || matches!(
                word,
                "reply"
                    | "supply"
                    | "family"
                    | "assembly"
                    | "anomaly"
                    | "butterfly"
                    | "rally"
                    | "ally"
                    | "lily"
                    | "jelly"
                    | "belly"
                    | "monopoly"
                    | "fly"
            ))
}

/// Whether a word can be used as a generic noun: no digits-only, gerunds, participles or adverbs.
fn plausible_noun(word: &str) -> bool {
    plausible_shape(word) && !is_stop_word(word)
}

/// Whether a word belongs to a noun phrase.
fn is_content(word: &str) -> bool {
    let s = singular(word);
    APP_WORDS.contains(&word)
        || lexicon::entity_concept(&s).is_some()
        || lexicon::entity_concept(word).is_some()
        || lexicon::field_concept(&s).is_some()
        || FILE_WORDS.contains(&s.as_str())
        || !is_stop_word(word)
}

/// A table name from a candidate, or `None` if it cannot be made safe.
fn safe_table(candidate: &str) -> Option<String> {
    let mut name = candidate.to_string();
    if name.len() > MAX_IDENT_LEN {
        name.truncate(MAX_IDENT_LEN);
        name = name.trim_end_matches('_').to_string();
    }
    let reserved = |n: &str| {
        !is_identifier(n)
            || is_sql_keyword(n)
            || RESERVED_TABLES.contains(&n)
            || ["sqlite_", "kiln_", "d1_"].iter().any(|p| n.starts_with(p))
    };
    if !reserved(&name) {
        return Some(name);
    }
    let fallback = format!("my_{name}");
    (!reserved(&fallback)).then_some(fallback)
}

/// A column name from a candidate, or `None` if it cannot be made safe.
fn safe_column(candidate: &str) -> Option<String> {
    let ok = |n: &str| {
        is_identifier(n)
            && !is_sql_keyword(n)
            && !AUTOMATIC_COLUMNS.contains(&n)
            && !["sqlite_", "kiln_", "d1_"].iter().any(|p| n.starts_with(p))
    };
    if ok(candidate) {
        return Some(candidate.to_string());
    }
    let suffixed = format!("{candidate}_value");
    ok(&suffixed).then_some(suffixed)
}

fn add_reference(entity: &mut DraftEntity, parent: &str, required: bool) {
    if entity.table == parent
        || entity
            .fields
            .iter()
            .any(|f| f.kind == FieldKind::Reference(parent.to_string()))
    {
        return;
    }
    let Some(name) = safe_column(&format!("{}_id", singular(parent))) else {
        return;
    };
    if entity.fields.iter().any(|f| f.name == name) {
        return;
    }
    let field = DraftField {
        name,
        kind: FieldKind::Reference(parent.to_string()),
        required,
        values: Vec::new(),
    };
    // A required parent is the first thing to choose in the form; an optional one comes last.
    if required {
        entity.fields.insert(0, field);
    } else {
        entity.fields.push(field);
    }
    entity.fields.truncate(PLANNED_FIELDS);
}

/// Stable order with every referenced table before the tables that reference it, so the schema
/// and the navigation read from parent to child. Cycles keep their mention order.
fn order_parents_first(entities: Vec<DraftEntity>) -> Vec<DraftEntity> {
    let mut remaining = entities;
    let mut ordered: Vec<DraftEntity> = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|e| {
            e.fields.iter().all(|f| match &f.kind {
                FieldKind::Reference(p) => {
                    p == &e.table
                        || ordered.iter().any(|o| &o.table == p)
                        || remaining.iter().all(|r| &r.table != p)
                }
                _ => true,
            })
        });
        ordered.push(remaining.remove(ready.unwrap_or(0)));
    }
    ordered
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Cuts `text` at a word boundary to at most `max` characters.
fn shorten_words(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        let extra = if out.is_empty() { 0 } else { 1 } + word.chars().count();
        if out.chars().count() + extra > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        "My App".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(prompt: &str) -> Vec<(String, Vec<String>)> {
        let plan = plan_from_prompt(prompt).expect("plan");
        plan.validate().expect("valid");
        plan.entities
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.fields
                        .iter()
                        .map(|f| match &f.kind {
                            FieldKind::Reference(t) => format!("{}->{t}", f.name),
                            k => format!("{}:{}", f.name, k.runtime_name()),
                        })
                        .collect(),
                )
            })
            .collect()
    }

    fn tables(prompt: &str) -> Vec<String> {
        shape(prompt).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn a_task_manager_has_projects_and_tasks_linked_to_projects() {
        let plan = plan_from_prompt("a task manager with projects and tasks").unwrap();
        assert_eq!(plan.app_name, "Task Manager");
        assert_eq!(
            shape("a task manager with projects and tasks"),
            vec![
                (
                    "projects".to_string(),
                    vec!["name:text".to_string(), "description:long_text".into()]
                ),
                (
                    "tasks".to_string(),
                    vec![
                        "title:text".to_string(),
                        "done:boolean".into(),
                        "due_date:date".into(),
                        "notes:long_text".into(),
                        "project_id->projects".into()
                    ]
                ),
            ]
        );
    }

    #[test]
    fn a_recipe_book_keeps_ingredients_and_ratings_on_recipes() {
        let plan = plan_from_prompt("a recipe book with ingredients and ratings").unwrap();
        assert_eq!(plan.app_name, "Recipe Book");
        let got = shape("a recipe book with ingredients and ratings");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "recipes");
        for f in ["title:text", "ingredients:long_text", "rating:rating"] {
            assert!(got[0].1.contains(&f.to_string()), "{f} in {got:?}");
        }
    }

    #[test]
    fn an_inventory_tracker_for_a_bakery_has_items_with_quantities_and_prices() {
        let plan = plan_from_prompt("an inventory tracker for a bakery").unwrap();
        assert_eq!(plan.app_name, "Bakery Inventory Tracker");
        let got = shape("an inventory tracker for a bakery");
        assert_eq!(got[0].0, "items");
        for f in ["name:text", "quantity:integer", "unit:text", "price:number"] {
            assert!(got[0].1.contains(&f.to_string()), "{f} in {got:?}");
        }
    }

    #[test]
    fn a_habit_tracker_has_habits_and_check_ins() {
        assert_eq!(
            shape("a habit tracker"),
            vec![
                (
                    "habits".to_string(),
                    vec![
                        "name:text".to_string(),
                        "description:long_text".into(),
                        "times_per_week:integer".into()
                    ]
                ),
                (
                    "check_ins".to_string(),
                    vec![
                        "habit_id->habits".to_string(),
                        "date:date".into(),
                        "note:text".into()
                    ]
                ),
            ]
        );
    }

    #[test]
    fn unknown_nouns_become_generic_entities_and_fields() {
        assert_eq!(
            shape("keep track of my vinyl record collection with artist, year and condition"),
            vec![(
                "vinyl_records".to_string(),
                vec![
                    "name:text".to_string(),
                    "notes:long_text".into(),
                    "artist:text".into(),
                    "year:integer".into(),
                    "condition:text".into()
                ]
            )]
        );
        // The user's own word, with the known concept's fields (issue 14: "dogs" stay dogs).
        assert_eq!(
            tables("a tracker for my dogs and their vet visits"),
            vec!["dogs", "vet_visits"]
        );
        assert!(shape("a tracker for my dogs and their vet visits")[0]
            .1
            .contains(&"species:text".to_string()));
        assert!(shape("a tracker for my dogs and their vet visits")[1]
            .1
            .contains(&"dog_id->dogs".to_string()));
    }

    #[test]
    fn a_request_without_usable_nouns_gets_an_items_entity() {
        assert_eq!(
            shape("make me something nice"),
            vec![(
                "items".to_string(),
                vec!["name:text".to_string(), "notes:long_text".into()]
            )]
        );
    }

    #[test]
    fn audience_and_purpose_clauses_do_not_become_entities() {
        assert_eq!(
            tables("a simple CRM for my small business to manage clients and deals"),
            vec!["clients", "deals"]
        );
        assert_eq!(
            tables("an app to track my plants and when I water them"),
            vec!["plants"]
        );
        let wedding = plan_from_prompt("an event planner for a wedding with guests").unwrap();
        assert_eq!(wedding.app_name, "Wedding Event Planner");
    }

    #[test]
    fn a_guess_from_the_app_name_gives_way_to_named_records() {
        assert_eq!(
            tables("a study planner where each course has exams with dates and scores"),
            vec!["courses", "exams"]
        );
        assert_eq!(
            shape("a sleep log"),
            vec![(
                "sleep_entries".to_string(),
                vec!["date:date".to_string(), "notes:long_text".into()]
            )]
        );
    }

    #[test]
    fn photos_ask_for_file_storage() {
        assert!(
            plan_from_prompt("a plant tracker with photos")
                .unwrap()
                .file_storage
        );
        assert!(!plan_from_prompt("a plant tracker").unwrap().file_storage);
    }

    fn field_of(prompt: &str, table: &str, name: &str) -> Option<(FieldKind, Vec<String>)> {
        let plan = plan_from_prompt(prompt).expect("plan");
        plan.validate().expect("valid");
        let entity = plan.entities.iter().find(|e| e.name == table)?;
        let f = entity.fields.iter().find(|f| f.name == name)?;
        Some((f.kind.clone(), f.values.clone()))
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn listed_values_make_choice_fields_and_never_records() {
        let prompt =
            "A support desk with agents and tickets with a status (open, pending, closed) \
                      and a priority: low, normal or urgent.";
        assert_eq!(tables(prompt), ["agents", "tickets"]);
        assert_eq!(
            field_of(prompt, "tickets", "status"),
            Some((FieldKind::Choice, strings(&["open", "pending", "closed"])))
        );
        assert_eq!(
            field_of(prompt, "tickets", "priority"),
            Some((FieldKind::Choice, strings(&["low", "normal", "urgent"])))
        );
        // Status, priority and severity without values get sensible ones.
        assert_eq!(
            field_of("incidents with severity", "incidents", "severity"),
            Some((
                FieldKind::Choice,
                strings(&["low", "medium", "high", "critical"])
            ))
        );
        // A list after a word that is not a choice stays text to read; long items are no list.
        let (text, found) = extract_choices("An app: plants, waterings and notes.");
        assert_eq!(
            (text.as_str(), found.len()),
            ("An app: plants, waterings and notes.", 0)
        );
        let (_, found) =
            extract_choices("status (waiting for the landlord to call back about it, done)");
        assert!(found.is_empty(), "{found:?}");
        let (text, found) = extract_choices("songs with status (learning, ready, retired).");
        assert_eq!(text, "songs with status  .");
        assert_eq!(
            found,
            vec![(
                "status".to_string(),
                strings(&["learning", "ready", "retired"])
            )]
        );
    }

    #[test]
    fn yes_no_words_make_booleans() {
        let prompt =
            "A tool library: tools, neighbours, and loans with a due date and returned yes/no.";
        assert_eq!(
            field_of(prompt, "loans", "returned").map(|f| f.0),
            Some(FieldKind::Boolean)
        );
        assert_eq!(
            field_of(prompt, "loans", "due_date").map(|f| f.0),
            Some(FieldKind::Date)
        );
        let scholarships = "A tracker with scholarships, deadline, amount and whether I applied.";
        assert_eq!(
            field_of(scholarships, "scholarships", "applied").map(|f| f.0),
            Some(FieldKind::Boolean)
        );
        let books = "A reading list with books and authors, and a yes/no for finished.";
        assert_eq!(
            field_of(books, "books", "finished").map(|f| f.0),
            Some(FieldKind::Boolean)
        );
        let movies = "a movie watchlist with ratings and a watched flag";
        assert_eq!(
            field_of(movies, "movies", "watched").map(|f| f.0),
            Some(FieldKind::Boolean)
        );
        assert_eq!(
            field_of(movies, "movies", "rating").map(|f| f.0),
            Some(FieldKind::Rating)
        );
    }

    #[test]
    fn in_each_per_and_of_a_name_what_a_record_belongs_to() {
        let classes =
            shape("A classroom app: students, classes, and grades per student per class.");
        assert_eq!(classes[2].0, "grades");
        assert!(
            classes[2].1.contains(&"student_id->students".to_string()),
            "{classes:?}"
        );
        assert!(
            classes[2].1.contains(&"class_id->classes".to_string()),
            "{classes:?}"
        );
        let desks =
            shape("A booking app: desks, members and bookings of a desk by a member for a date.");
        assert_eq!(desks[2].0, "bookings");
        for f in ["desk_id->desks", "member_id->members", "date:date"] {
            assert!(desks[2].1.contains(&f.to_string()), "{f} in {desks:?}");
        }
        // A rate per unit of time is a count, not a link to a table of days.
        let meds = shape("A medication tracker: medications with dose and times per day.");
        assert_eq!(
            meds,
            vec![(
                "medications".to_string(),
                vec![
                    "name:text".to_string(),
                    "notes:long_text".into(),
                    "dose:text".into(),
                    "times_per_day:integer".into()
                ]
            )]
        );
    }

    #[test]
    fn a_log_of_records_is_dated_and_collections_with_attributes_are_records() {
        let plants = shape("my plants, and a log of waterings with how much water");
        assert_eq!(plants[1].0, "waterings");
        assert_eq!(plants[1].1[0], "date:date");
        assert!(plants[1].1.contains(&"plant_id->plants".to_string()));
        let recipes = shape("A recipe app where recipes have ingredients with quantity and unit.");
        assert_eq!(recipes[1].0, "ingredients");
        assert!(
            recipes[1].1.contains(&"quantity:number".to_string()),
            "{recipes:?}"
        );
        assert!(
            recipes[1].1.contains(&"recipe_id->recipes".to_string()),
            "{recipes:?}"
        );
        // Without attributes of their own, ingredients describe the recipe.
        assert_eq!(
            tables("a recipe book with ingredients and ratings"),
            ["recipes"]
        );
    }

    #[test]
    fn kinds_follow_the_words() {
        let prompt = "An apartment hunt tracker: listings with address, rent, bedrooms, \
                      viewing date and elevation gain.";
        let got = shape(prompt);
        assert_eq!(got[0].0, "listings");
        for f in [
            "address:text",
            "rent:number",
            "bedrooms:integer",
            "viewing_date:date",
            "elevation_gain:number",
        ] {
            assert!(got[0].1.contains(&f.to_string()), "{f} in {got:?}");
        }
        // A chat change names a value before its record (regression: it became a table).
        assert_eq!(
            shape("add a priority to tasks")[0]
                .1
                .last()
                .map(String::as_str),
            Some("priority:choice")
        );
        assert_eq!(tables("add a priority to tasks"), ["tasks"]);
        // A known record keeps the user's word; a domain word keeps the concept's table.
        assert_eq!(tables("an issue tracker"), ["issues"]);
        assert_eq!(tables("a todo list"), ["tasks"]);
    }

    #[test]
    fn prompts_must_be_non_empty_and_at_most_20000_characters() {
        assert_eq!(plan_from_prompt(""), Err(PromptError::Empty));
        assert_eq!(plan_from_prompt(" \n\t"), Err(PromptError::Empty));
        assert_eq!(
            plan_from_prompt(&"a".repeat(20_001)),
            Err(PromptError::TooLong(20_001))
        );
        assert!(plan_from_prompt(&"é".repeat(20_000)).is_ok());
        assert_eq!(
            PromptError::Empty.to_string(),
            "the prompt is empty; describe the app you want, e.g. 'a recipe book with ratings'"
        );
    }
}
