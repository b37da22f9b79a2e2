//! Prompt → plan, deterministically and without a model.
//!
//! The prompt is read as a stream of noun phrases. Each phrase is judged by the words in front of
//! it: after "track", "manage", "of" … it names records to keep (an entity); after "with" it
//! describes the record just mentioned (fields); after "for a" it names the audience (part of
//! the app name). Known nouns come from the [`lexicon`](super::lexicon) with good default fields
//! ("recipes" get ingredients and a rating); unknown nouns still become entities ("vet visits")
//! or text fields ("with artist and condition"). A prompt with no usable noun gets an `items`
//! entity, so every prompt yields a plan, and every plan passes [`Plan::validate`] (property
//! tested). The planner reads English only.
//!
//! Key decision: no randomness and no model means the same prompt always gives the same plan;
//! the offline provider exists for local development, tests and as a fallback, so it favours a
//! small, always-working app over guessing ambitiously.

use super::lexicon::{
    self, EntityConcept, FieldConcept, Kind, APP_WORDS, CLAUSE_ENDS, COMPOUNDS, DUAL_WORDS,
    ENTITY_LEADS, FILE_WORDS, LOG_WORDS, VERB_CONTEXT, WITH_LEADS,
};
use super::words::{
    is_plural, is_stop_word, plural, sentence_case, singular, title_case, tokenize, Token,
};
use crate::plan::{
    is_identifier, is_sql_keyword, Entity, Field, FieldKind, Page, Plan, AUTOMATIC_COLUMNS,
    MAX_FEATURES, MAX_IDENT_LEN, MAX_NAME_CHARS, RESERVED_TABLES,
};

/// Longest accepted prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 20_000;

/// Most entities the offline planner puts in one plan (the schema allows more; a small app is
/// easier to use and to review).
const PLANNED_ENTITIES: usize = 8;
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
    let mut reader = Reader::default();
    reader.read(&merge_compounds(tokenize(&super::intent::without_style(
        prompt,
    ))));
    let mut plan = reader.into_plan();
    super::intent::apply(prompt, &mut plan);
    Ok(plan)
}

/// Joins two-word phrases from [`COMPOUNDS`] into one token (`check in` → `checkin`); an empty
/// replacement drops the phrase (`sign up`).
fn merge_compounds(tokens: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let (Token::Word(a), Some(Token::Word(b))) = (&tokens[i], tokens.get(i + 1)) {
            if let Some((_, _, joined)) = COMPOUNDS.iter().find(|(x, y, _)| x == a && y == b) {
                if !joined.is_empty() {
                    out.push(Token::Word(joined.to_string()));
                }
                i += 2;
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
}

impl DraftEntity {
    fn add_field(&mut self, field: DraftField) {
        if self.fields.iter().all(|f| f.name != field.name) && self.fields.len() < PLANNED_FIELDS {
            self.fields.push(field);
        }
    }
}

/// The app phrase: "*task manager*", "*vinyl record collection*".
#[derive(Debug, Clone)]
struct AppPhrase {
    words: Vec<String>,
}

#[derive(Default)]
struct Reader {
    entities: Vec<DraftEntity>,
    /// Fields whose record is not known yet; they go to the main entity.
    pending: Vec<DraftField>,
    /// (child, parent) links from "… and *their* …" and "… with guests".
    links: Vec<(String, String)>,
    app: Option<AppPhrase>,
    app_is_log: bool,
    audience: Option<String>,
    file_storage: bool,
    last_host: Option<Host>,
    /// The current phrase follows "each"/"every": it names records of its own ("each *course*
    /// has exams"), even inside a with-clause.
    each: bool,
}

impl Reader {
    fn read(&mut self, tokens: &[Token]) {
        let mut clause = Clause::Records;
        let mut run: Vec<String> = Vec::new();
        let mut possessive = false;
        let mut previous: Option<&str> = None;
        for token in tokens {
            match token {
                Token::Break(c) => {
                    self.phrase(std::mem::take(&mut run), &clause, possessive);
                    possessive = false;
                    self.each = false;
                    if matches!(c, '.' | '!' | '?' | ';' | ':' | '\n' | '(' | ')') {
                        clause = Clause::Other;
                    }
                    previous = None;
                }
                Token::Word(w) => {
                    let verb = DUAL_WORDS.contains(&w.as_str())
                        && previous.is_none_or(|p| VERB_CONTEXT.contains(&p));
                    if !verb && is_content(w) {
                        run.push(w.clone());
                    } else {
                        self.phrase(std::mem::take(&mut run), &clause, possessive);
                        possessive = false;
                        self.each = false;
                        let w = w.as_str();
                        if WITH_LEADS.contains(&w) {
                            clause = Clause::With(self.last_host.clone().unwrap_or(Host::App));
                        } else if w == "for" {
                            clause = Clause::For { mine: false };
                        } else if ENTITY_LEADS.contains(&w) || verb {
                            clause = Clause::Records;
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
                            if matches!(w, "each" | "every") {
                                self.each = true;
                            }
                        }
                    }
                    previous = Some(w.as_str());
                }
            }
        }
        self.phrase(run, &clause, possessive);
    }

    /// Handles one noun phrase (a run of content words).
    fn phrase(&mut self, mut words: Vec<String>, clause: &Clause, possessive: bool) {
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
        if APP_WORDS.contains(&last.as_str()) || APP_WORDS.contains(&singular(&last).as_str()) {
            self.app_phrase(words, possessive);
            return;
        }
        self.noun_phrase(&words, clause, possessive, false);
    }

    /// "task manager", "recipe book", "a tracker": the app's own name, maybe with its records.
    fn app_phrase(&mut self, words: Vec<String>, possessive: bool) {
        let app_word = singular(words.last().expect("non-empty"));
        let modifiers = &words[..words.len() - 1];
        let is_log = LOG_WORDS.contains(&app_word.as_str());
        if self.app.is_none() {
            self.app = Some(AppPhrase {
                words: words.clone(),
            });
            self.app_is_log = is_log;
        }
        let before = self.entities.len();
        let found = if modifiers.is_empty() {
            false
        } else {
            self.noun_phrase(modifiers, &Clause::Records, possessive, is_log)
        };
        // A generic entity guessed from the app's name is kept only if nothing better turns up.
        for e in &mut self.entities[before..] {
            e.provisional = e.concept.is_none();
        }
        if !found {
            // "an inventory", "a mood journal": the app word itself may name the records.
            if let Some(concept) = lexicon::entity_concept(&app_word) {
                self.mention_concept(concept, possessive);
            } else if self.last_host.is_none() {
                self.last_host = Some(Host::App);
            }
        }
    }

    /// Handles a noun phrase; returns whether it produced an entity.
    fn noun_phrase(
        &mut self,
        words: &[String],
        clause: &Clause,
        possessive: bool,
        log_like: bool,
    ) -> bool {
        let singulars: Vec<String> = words.iter().map(|w| singular(w)).collect();
        let host = match clause {
            Clause::With(Host::Entity(table)) => Some(table.clone()),
            _ => None,
        };
        let mut produced_entity = false;
        let mut found_concept = false;
        for (i, s) in singulars.iter().enumerate() {
            let entity = lexicon::entity_concept(s).or_else(|| lexicon::entity_concept(&words[i]));
            let field = lexicon::field_concept(s);
            let describes_host = host.is_some() && field.is_some() && !self.each;
            match (entity, field) {
                (Some(concept), _) if !describes_host => {
                    // "for a book club" still names books; only "for a bakery" is an audience.
                    self.mention_concept(concept, possessive);
                    produced_entity = true;
                    found_concept = true;
                }
                (_, Some(concept)) => {
                    let modifier = i.checked_sub(1).map(|j| singulars[j].as_str()).filter(|m| {
                        lexicon::entity_concept(m).is_none() && lexicon::field_concept(m).is_none()
                    });
                    self.mention_field(concept, modifier, host.as_deref());
                    found_concept = true;
                }
                _ => {}
            }
        }
        if found_concept {
            return produced_entity;
        }

        // "for a wedding", "for freelancers": the audience, part of the app's name.
        let records_for_me = matches!(clause, Clause::For { mine: true })
            && words.last().is_some_and(|w| is_plural(w));
        if matches!(clause, Clause::For { .. }) && !records_for_me {
            if self.audience.is_none() {
                self.audience = Some(words.join(" "));
            }
            return false;
        }

        // No known noun: the head is the last word that is not a gerund, participle or adverb.
        let Some(head_at) = singulars.iter().rposition(|s| plausible_noun(s)) else {
            return false;
        };
        let head = singulars[head_at].as_str();
        let modifier = head_at
            .checked_sub(1)
            .map(|j| singulars[j].as_str())
            .filter(|m| plausible_noun(m) || m.ends_with("ing"));
        match clause {
            // "where each course has …": a new subject, not a property.
            Clause::With(Host::Entity(_)) if self.each => {
                self.mention_generic(head, modifier, false, false)
            }
            // "events with guests": a plural is a collection of its own, belonging to the host.
            // The rest of this with-clause still describes the host (the clause keeps it); a
            // new "with" describes the guests.
            Clause::With(Host::Entity(table)) if is_plural(&words[head_at]) => {
                let table = table.clone();
                let made = self.mention_generic(head, modifier, false, false);
                if made {
                    if let Some(Host::Entity(child)) = self.last_host.clone() {
                        if child != table {
                            self.links.push((child, table));
                        }
                    }
                }
                made
            }
            // "records with artist and condition": a singular is a property of the host.
            Clause::With(Host::Entity(table)) => {
                let table = table.clone();
                if let Some(name) = safe_column(head) {
                    self.add_to(
                        &table,
                        DraftField {
                            name,
                            kind: FieldKind::Text,
                            required: false,
                        },
                    );
                }
                false
            }
            Clause::Records | Clause::With(Host::App) | Clause::For { .. } => {
                self.mention_generic(head, modifier, possessive, log_like)
            }
            Clause::Other => false,
        }
    }

    fn mention_concept(&mut self, concept: &'static EntityConcept, possessive: bool) {
        let entity = DraftEntity {
            table: concept.table.to_string(),
            label: concept.label.to_string(),
            fields: concept
                .fields
                .iter()
                .map(|f| DraftField {
                    name: f.name.to_string(),
                    kind: f.kind.field_kind(),
                    required: f.required,
                })
                .collect(),
            concept: Some(concept),
            provisional: false,
        };
        self.mention(entity, possessive);
        for companion in concept.companions {
            if let Some(c) = lexicon::entity_by_table(companion) {
                if self.entities.iter().all(|e| e.table != c.table) {
                    let last_host = self.last_host.clone();
                    self.mention_concept(c, false);
                    // A companion is implied, not mentioned: it does not host what follows.
                    self.last_host = last_host;
                }
            }
        }
    }

    fn mention_generic(
        &mut self,
        head: &str,
        modifier: Option<&str>,
        possessive: bool,
        log_like: bool,
    ) -> bool {
        let base = match modifier {
            Some(m) if !m.ends_with("ing") => format!("{m}_{head}"),
            _ => head.to_string(),
        };
        let candidate = if log_like {
            format!("{base}_entries")
        } else {
            plural(&base)
        };
        let Some(table) = safe_table(&candidate) else {
            return false;
        };
        let first = if log_like {
            DraftField {
                name: "date".into(),
                kind: FieldKind::Date,
                required: true,
            }
        } else {
            DraftField {
                name: "name".into(),
                kind: FieldKind::Text,
                required: true,
            }
        };
        let fields = vec![
            first,
            DraftField {
                name: "notes".into(),
                kind: FieldKind::LongText,
                required: false,
            },
        ];
        let label = sentence_case(&table.replace('_', " "));
        let entity = DraftEntity {
            table,
            label,
            fields,
            concept: None,
            provisional: false,
        };
        self.mention(entity, possessive);
        true
    }

    /// Records an entity mention (merging repeats) and makes it the host of what follows.
    fn mention(&mut self, entity: DraftEntity, possessive: bool) {
        let table = entity.table.clone();
        if possessive {
            if let Some(Host::Entity(parent)) = &self.last_host {
                if *parent != table {
                    self.links.push((table.clone(), parent.clone()));
                }
            }
        }
        if self.entities.iter().all(|e| e.table != table) {
            if self.entities.len() >= PLANNED_ENTITIES {
                return;
            }
            self.entities.push(entity);
        }
        self.last_host = Some(Host::Entity(table));
    }

    fn mention_field(
        &mut self,
        concept: &FieldConcept,
        modifier: Option<&str>,
        host: Option<&str>,
    ) {
        // "watering dates" → watering_date; "due date" is already one token.
        let prefixed = modifier
            .filter(|_| {
                matches!(
                    concept.kind,
                    Kind::Date | Kind::Number | Kind::Integer | Kind::Text
                )
            })
            .and_then(|m| safe_column(&format!("{m}_{}", concept.name)));
        let Some(name) = prefixed.or_else(|| safe_column(concept.name)) else {
            return;
        };
        let field = DraftField {
            name,
            kind: concept.kind.field_kind(),
            required: false,
        };
        let target = host.map(str::to_string).or_else(|| match &self.last_host {
            Some(Host::Entity(t)) => Some(t.clone()),
            _ => None,
        });
        match target {
            Some(table) => self.add_to(&table, field),
            None => self.pending.push(field),
        }
    }

    fn add_to(&mut self, table: &str, field: DraftField) {
        if let Some(e) = self.entities.iter_mut().find(|e| e.table == table) {
            e.add_field(field);
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
            self.entities.retain(|e| !dropped.contains(&e.table));
            self.links
                .retain(|(child, parent)| !dropped.contains(child) && !dropped.contains(parent));
        }
        if self.entities.is_empty() {
            let log = self.app_is_log;
            self.mention_generic("item", None, false, false);
            if log {
                self.entities[0].fields.insert(
                    1,
                    DraftField {
                        name: "date".into(),
                        kind: FieldKind::Date,
                        required: false,
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
        let tables: Vec<String> = self.entities.iter().map(|e| e.table.clone()).collect();
        for entity in &mut self.entities {
            if let Some(concept) = entity.concept {
                if let Some(parent) = concept
                    .parents
                    .iter()
                    .find(|p| tables.iter().any(|t| t == *p))
                {
                    add_reference(entity, parent, concept.parent_required);
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

/// Whether a word can be used as a generic noun: no digits-only, gerunds, participles or adverbs.
fn plausible_noun(word: &str) -> bool {
    word.len() >= 3
        && word.len() <= 24
        && word.bytes().all(|b| b.is_ascii_lowercase())
        && !is_stop_word(word)
        && !word.ends_with("ing")
        && !word.ends_with("ed")
        && !word.ends_with("ly")
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
        assert_eq!(
            tables("a tracker for my dogs and their vet visits"),
            vec!["pets", "vet_visits"]
        );
        assert!(shape("a tracker for my dogs and their vet visits")[1]
            .1
            .contains(&"pet_id->pets".to_string()));
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
