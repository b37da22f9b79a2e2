//! The app plan: what a generated app contains (entities, fields, pages), and its validation.
//!
//! A plan comes from a model or from the offline planner, so it is untrusted input. Every name in
//! it ends up inside SQL and JavaScript, so [`Plan::validate`] is the one gate: it checks
//! identifiers, reserved names, references and limits and returns a [`ValidPlan`], the only type
//! code generation accepts ("parse, don't validate"). Errors are collected, not short-circuited,
//! so a model's repair prompt can list every problem at once.
//!
//! Key decision: identifiers are deliberately narrow (`^[a-z][a-z0-9_]{0,39}$`, no SQL keywords)
//! so that generated SQL can interpolate table and column names without quoting, and every
//! *value* travels as a bound parameter. The JSON form is tolerant of the field names models
//! tend to use (`name`/`table`/`type`/`storage`, lower-case kind aliases) but strict about values.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub mod inflect;

/// Most entities (tables) in one plan.
pub const MAX_ENTITIES: usize = 12;
/// Most fields per entity (besides the automatic columns).
pub const MAX_FIELDS: usize = 30;
/// Most pages in one plan.
pub const MAX_PAGES: usize = 20;
/// Most feature lines in one plan.
pub const MAX_FEATURES: usize = 20;
/// Longest identifier (table or column name), in bytes.
pub const MAX_IDENT_LEN: usize = 40;
/// Longest app name, label or page name, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// Longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 500;
/// Longest feature line, in characters.
pub const MAX_FEATURE_CHARS: usize = 200;
/// Most values of one `choice` field.
pub const MAX_CHOICES: usize = 30;
/// Longest value of a `choice` field, in characters.
pub const MAX_CHOICE_CHARS: usize = 60;

/// Columns every entity table gets automatically; a plan may not declare them.
pub const AUTOMATIC_COLUMNS: [&str; 4] = ["id", "user_id", "created_at", "updated_at"];

/// Table names Kiln's app runtime owns or may own later (accounts, sessions, migration state).
pub const RESERVED_TABLES: [&str; 3] = ["users", "sessions", "migrations"];

/// Name prefixes owned by SQLite, D1, Cloudflare or Kiln.
const RESERVED_PREFIXES: [(&str, &str); 5] = [
    ("sqlite_", "sqlite"),
    ("_kiln", "kiln"),
    ("kiln_", "kiln"),
    ("_cf_", "cloudflare"),
    ("d1_", "d1"),
];

/// Every SQLite keyword (<https://sqlite.org/lang_keywords.html>), plus the implicit row-id
/// column names. Any of them as a bare identifier would need quoting or change a statement's
/// meaning, so none is allowed.
const SQL_KEYWORDS: [&str; 150] = [
    "abort",
    "action",
    "add",
    "after",
    "all",
    "alter",
    "always",
    "analyze",
    "and",
    "as",
    "asc",
    "attach",
    "autoincrement",
    "before",
    "begin",
    "between",
    "by",
    "cascade",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "commit",
    "conflict",
    "constraint",
    "create",
    "cross",
    "current",
    "current_date",
    "current_time",
    "current_timestamp",
    "database",
    "default",
    "deferrable",
    "deferred",
    "delete",
    "desc",
    "detach",
    "distinct",
    "do",
    "drop",
    "each",
    "else",
    "end",
    "escape",
    "except",
    "exclude",
    "exclusive",
    "exists",
    "explain",
    "fail",
    "filter",
    "first",
    "following",
    "for",
    "foreign",
    "from",
    "full",
    "generated",
    "glob",
    "group",
    "groups",
    "having",
    "if",
    "ignore",
    "immediate",
    "in",
    "index",
    "indexed",
    "initially",
    "inner",
    "insert",
    "instead",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "last",
    "left",
    "like",
    "limit",
    "match",
    "materialized",
    "natural",
    "no",
    "not",
    "nothing",
    "notnull",
    "null",
    "nulls",
    "of",
    "offset",
    "on",
    "or",
    "order",
    "others",
    "outer",
    "over",
    "partition",
    "plan",
    "pragma",
    "preceding",
    "primary",
    "query",
    "raise",
    "range",
    "recursive",
    "references",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "returning",
    "right",
    "rollback",
    "row",
    "rows",
    "savepoint",
    "select",
    "set",
    "table",
    "temp",
    "temporary",
    "then",
    "ties",
    "to",
    "transaction",
    "trigger",
    "unbounded",
    "union",
    "unique",
    "update",
    "using",
    "vacuum",
    "values",
    "view",
    "virtual",
    "when",
    "where",
    "window",
    "with",
    "without",
    "rowid",
    "oid",
    "_rowid_",
];

/// Whether `word` is a SQLite keyword (or an implicit row-id name), compared case-insensitively.
pub fn is_sql_keyword(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    SQL_KEYWORDS.contains(&lower.as_str())
}

/// Whether `name` has the shape of an identifier: `^[a-z][a-z0-9_]{0,39}$`.
pub fn is_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_IDENT_LEN
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// What a field holds. Decides the SQLite column type, the server-side validation and the input
/// widget. In JSON: `"text"`, `"long_text"`, …, `"choice"` (with the field's `values`) and
/// `{"reference": "<table>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text, at most 500 characters.
    #[serde(alias = "string")]
    Text,
    /// Multi-line text, at most 20,000 characters.
    #[serde(alias = "longtext", alias = "textarea", alias = "long-text")]
    LongText,
    /// A whole number.
    #[serde(alias = "int")]
    Integer,
    /// A decimal number.
    #[serde(alias = "float", alias = "real", alias = "decimal")]
    Number,
    /// Yes or no.
    #[serde(alias = "bool")]
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A rating from 1 to 5 stars.
    Rating,
    /// One of a fixed set of texts, the field's `values` (`status`: open, in progress, done):
    /// stored as that text, checked by the database and the runtime, shown as a select.
    #[serde(alias = "enum", alias = "select", alias = "options")]
    Choice,
    /// The id of a row of another entity (the table name) owned by the same user.
    #[serde(alias = "ref")]
    Reference(String),
}

impl FieldKind {
    /// The SQLite column type this kind is stored as.
    pub fn sql_type(&self) -> &'static str {
        match self {
            FieldKind::Text | FieldKind::LongText | FieldKind::Date | FieldKind::Choice => "TEXT",
            FieldKind::Integer | FieldKind::Boolean | FieldKind::Rating => "INTEGER",
            FieldKind::Reference(_) => "INTEGER",
            FieldKind::Number => "REAL",
        }
    }

    /// The kind's name in the app runtime and the front end (`"long_text"`, `"reference"`, …).
    pub fn runtime_name(&self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::LongText => "long_text",
            FieldKind::Integer => "integer",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Date => "date",
            FieldKind::Rating => "rating",
            FieldKind::Choice => "choice",
            FieldKind::Reference(_) => "reference",
        }
    }

    /// The referenced table, for [`FieldKind::Reference`].
    pub fn references(&self) -> Option<&str> {
        match self {
            FieldKind::Reference(table) => Some(table),
            _ => None,
        }
    }
}

/// One column of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Column name: an identifier, not reserved.
    pub name: String,
    /// What it holds.
    #[serde(alias = "type")]
    pub kind: FieldKind,
    /// Whether a row must have a value (for booleans: always has one; `required` is ignored).
    #[serde(default)]
    pub required: bool,
    /// The allowed values of a [`FieldKind::Choice`] field, in display order; empty for every
    /// other kind.
    #[serde(
        default,
        alias = "options",
        alias = "choices",
        alias = "enum",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<String>,
}

/// Who reads an entity's rows. Applied by the app runtime's `crud` (ADR 0020); the author of a
/// row, and the app's admin (its first account) for non-private rows, may change it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Each user sees only their own rows (the default).
    #[default]
    #[serde(alias = "owner", alias = "personal")]
    Private,
    /// Every signed-in user reads every row; the author edits and deletes.
    #[serde(alias = "team")]
    Shared,
    /// Anyone reads, also signed out; signed-in users add rows; the author edits and deletes.
    #[serde(alias = "everyone", alias = "anyone")]
    Public,
}

impl Visibility {
    /// The name the runtime and the front end use.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Shared => "shared",
            Visibility::Public => "public",
        }
    }

    /// Whether this is the default (kept out of the JSON form, so older plans read the same).
    pub fn is_private(&self) -> bool {
        *self == Visibility::Private
    }
}

/// Light or dark pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeMode {
    /// Dark text on a light background (the default).
    #[default]
    Light,
    /// Light text on a dark background.
    Dark,
}

/// How much room the layout gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Density {
    /// Generous spacing (the default).
    #[default]
    #[serde(alias = "normal", alias = "cozy")]
    Comfortable,
    /// Tighter spacing, more rows on screen.
    #[serde(alias = "dense")]
    Compact,
}

/// How the app looks: colours, light or dark, density, and a tagline under the app's name.
/// Every part is optional; the generator picks the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theme {
    /// Buttons, links and highlights: `#rrggbb`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "accent_color"
    )]
    pub accent: Option<String>,
    /// The page background: `#rrggbb`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "background_color"
    )]
    pub background: Option<String>,
    /// Light or dark.
    #[serde(default)]
    pub mode: ThemeMode,
    /// Comfortable or compact.
    #[serde(default)]
    pub density: Density,
    /// One line shown under the app's name (at most [`MAX_TAGLINE_CHARS`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tagline: String,
}

/// Longest theme tagline, in characters.
pub const MAX_TAGLINE_CHARS: usize = 120;

/// Whether `text` is a `#rrggbb` colour.
pub fn is_hex_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// One kind of record the app stores: a table, scoped to the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Table name: snake_case, usually plural (`tasks`, `check_ins`).
    #[serde(alias = "table")]
    pub name: String,
    /// Display name, plural (`Tasks`, `Check-ins`); derived from the table name when empty.
    #[serde(default)]
    pub label: String,
    /// The user-editable columns, in display order.
    pub fields: Vec<Field>,
    /// Who reads the rows: private (default), shared or public.
    #[serde(default, skip_serializing_if = "Visibility::is_private")]
    pub visibility: Visibility,
}

/// One page of the front end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Title shown in the navigation; derived from the entity's label when empty.
    #[serde(default, alias = "title")]
    pub name: String,
    /// URL path: `/` or `/segment[/segment…]` of lowercase letters, digits and `-`.
    pub path: String,
    /// The entity this page lists and edits, if any (a table name).
    #[serde(default)]
    pub entity: Option<String>,
}

/// What to build. Produced by the planner (model or offline), approved, then turned into code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The app's display name.
    #[serde(alias = "name")]
    pub app_name: String,
    /// One or two sentences on what the app does.
    #[serde(default)]
    pub summary: String,
    /// Front-end pages, in navigation order.
    #[serde(default)]
    pub pages: Vec<Page>,
    /// The data model.
    pub entities: Vec<Entity>,
    /// What the app lets people do, one line each (shown to the user; not interpreted).
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether people sign in. Generated apps keep every row per user, so they always include
    /// sign-up/sign-in; `false` is accepted and recorded but changes nothing today.
    #[serde(default = "yes")]
    pub auth: bool,
    /// Whether the app stores uploaded files (the `STORAGE` binding): the offline generator then
    /// adds the per-user files API (`/api/files`).
    #[serde(default, alias = "storage")]
    pub file_storage: bool,
    /// How the app looks; the generator's defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<Theme>,
}

fn yes() -> bool {
    true
}

/// What kind of name a [`PlanError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// An entity's table name.
    Table,
    /// A field's column name.
    Column,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Table => "table name",
            NameKind::Column => "column name",
        })
    }
}

/// One problem with a plan. Messages are lowercase, name the offending value and say the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The name does not have the identifier shape.
    #[error("{kind} '{value}'{place} is not a valid identifier; use 1 to 40 lowercase letters, digits or underscores starting with a letter, e.g. '{fix}'")]
    InvalidName {
        /// Table or column.
        kind: NameKind,
        /// The name as given (shortened when long).
        value: String,
        /// ` in table 'x'` for columns, empty for tables.
        place: String,
        /// A valid name close to the given one.
        fix: String,
    },
    /// The name is a SQL keyword.
    #[error("{kind} '{value}'{place} is a reserved SQL word; use '{fix}'")]
    SqlKeyword {
        /// Table or column.
        kind: NameKind,
        /// The name as given.
        value: String,
        /// ` in table 'x'` for columns, empty for tables.
        place: String,
        /// A suggested replacement.
        fix: String,
    },
    /// The name is reserved by Kiln, SQLite or D1.
    #[error("{kind} '{value}'{place} is reserved by {owner}; use '{fix}'")]
    Reserved {
        /// Table or column.
        kind: NameKind,
        /// The name as given.
        value: String,
        /// ` in table 'x'` for columns, empty for tables.
        place: String,
        /// Who reserves it.
        owner: &'static str,
        /// A suggested replacement.
        fix: String,
    },
    /// The plan declares a column that every table gets automatically.
    #[error(
        "column '{column}' in table '{table}' is added automatically; remove it from the plan"
    )]
    AutomaticColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// Two entities share a table name.
    #[error("table name '{0}' is used by more than one entity; give each entity its own name")]
    DuplicateTable(String),
    /// Two fields of one entity share a name.
    #[error(
        "column '{column}' appears more than once in table '{table}'; give each field its own name"
    )]
    DuplicateColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A reference names a table that is not in the plan.
    #[error("field '{column}' in table '{table}' references '{target}', which is not an entity of this plan; use one of: {known}")]
    UnknownReference {
        /// The table with the reference.
        table: String,
        /// The reference column.
        column: String,
        /// The missing table.
        target: String,
        /// The plan's table names, comma-separated.
        known: String,
    },
    /// A page shows an entity that is not in the plan.
    #[error(
        "page '{page}' shows entity '{entity}', which is not in the plan; use one of: {known}"
    )]
    UnknownPageEntity {
        /// The page's path.
        page: String,
        /// The missing table.
        entity: String,
        /// The plan's table names, comma-separated.
        known: String,
    },
    /// A page path has the wrong shape or collides with the app's own routes.
    #[error("page path '{path}' {reason}")]
    InvalidPagePath {
        /// The path as given.
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Two pages share a path.
    #[error("page path '{0}' is used by more than one page; give each page its own path")]
    DuplicatePagePath(String),
    /// The plan has no entities.
    #[error("the plan has no entities; add at least one, e.g. 'items' with a 'name' field")]
    NoEntities,
    /// An entity has no fields.
    #[error("table '{0}' has no fields; add at least one, e.g. 'name' (text)")]
    NoFields(String),
    /// A `choice` field's values are missing or wrong, or another kind has values.
    #[error("field '{column}' in table '{table}' {problem}")]
    InvalidChoices {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A list is over its limit.
    #[error("the plan has {count} {what}; the limit is {limit}, so merge or drop some")]
    TooMany {
        /// What is counted (`entities`, `fields in table 'x'`, `pages`, `features`).
        what: String,
        /// How many there are.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A non-private entity references a private one, whose rows its readers cannot see.
    #[error("field '{column}' in {visibility} table '{table}' references private table '{target}', whose rows other people cannot see; make '{target}' {visibility} too, or '{table}' private")]
    HiddenReference {
        /// The table with the reference.
        table: String,
        /// Its visibility.
        visibility: &'static str,
        /// The reference column.
        column: String,
        /// The private table.
        target: String,
    },
    /// A theme colour is not `#rrggbb`.
    #[error("theme {what} '{value}' is not a colour; use six hex digits like '#4f46e5'")]
    InvalidColour {
        /// `accent` or `background`.
        what: &'static str,
        /// The value as given.
        value: String,
    },
    /// A display text is empty, too long or has control characters.
    #[error("{what} {problem}")]
    InvalidText {
        /// Which text (`app name`, `label of table 'x'`, …).
        what: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

/// A plan that passed [`Plan::validate`], with labels and page names filled in. Only code in this
/// module can make one, so holding one proves the names in it are safe to put into SQL and JS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidPlan(Plan);

impl ValidPlan {
    /// The validated, normalised plan.
    pub fn plan(&self) -> &Plan {
        &self.0
    }

    /// Gives the plan back.
    pub fn into_plan(self) -> Plan {
        self.0
    }

    /// The entity with this table name.
    pub fn entity(&self, table: &str) -> Option<&Entity> {
        self.0.entities.iter().find(|e| e.name == table)
    }
}

impl Plan {
    /// Checks every rule and returns the normalised plan, or every problem found.
    ///
    /// Normalisation only fills blanks: an empty entity label becomes the title-cased table name
    /// and an empty page name becomes its entity's label (or the app name).
    pub fn validate(&self) -> Result<ValidPlan, Vec<PlanError>> {
        let mut errors = Vec::new();
        let mut plan = self.clone();

        check_text(&mut errors, "app name", &plan.app_name, MAX_NAME_CHARS);
        if plan.summary.chars().count() > MAX_SUMMARY_CHARS {
            errors.push(PlanError::InvalidText {
                what: "summary".into(),
                problem: format!(
                    "is {} characters; shorten it to at most {MAX_SUMMARY_CHARS}",
                    plan.summary.chars().count()
                ),
            });
        }
        if plan
            .summary
            .chars()
            .any(|c| c != '\n' && is_line_break_or_control(c))
        {
            errors.push(PlanError::InvalidText {
                what: "summary".into(),
                problem: "contains control characters; use plain text".into(),
            });
        }
        if plan.features.len() > MAX_FEATURES {
            errors.push(too_many("features", plan.features.len(), MAX_FEATURES));
        }
        for (i, feature) in plan.features.iter().enumerate() {
            let what = format!("feature {}", i + 1);
            check_text(&mut errors, &what, feature, MAX_FEATURE_CHARS);
        }

        if plan.entities.is_empty() {
            errors.push(PlanError::NoEntities);
        }
        if plan.entities.len() > MAX_ENTITIES {
            errors.push(too_many("entities", plan.entities.len(), MAX_ENTITIES));
        }
        let tables: Vec<String> = plan.entities.iter().map(|e| e.name.clone()).collect();
        let known = tables.join(", ");
        let mut seen_tables = BTreeSet::new();
        for entity in &mut plan.entities {
            check_name(&mut errors, NameKind::Table, &entity.name, "");
            if !seen_tables.insert(entity.name.clone()) {
                errors.push(PlanError::DuplicateTable(entity.name.clone()));
            }
            if entity.label.trim().is_empty() {
                entity.label = humanize(&entity.name);
            }
            let what = format!("label of table '{}'", shown(&entity.name));
            check_text(&mut errors, &what, &entity.label, MAX_NAME_CHARS);

            if entity.fields.is_empty() {
                errors.push(PlanError::NoFields(entity.name.clone()));
            }
            if entity.fields.len() > MAX_FIELDS {
                let what = format!("fields in table '{}'", shown(&entity.name));
                errors.push(too_many(&what, entity.fields.len(), MAX_FIELDS));
            }
            let place = format!(" in table '{}'", shown(&entity.name));
            let mut seen_columns = BTreeSet::new();
            for field in &mut entity.fields {
                check_choices(&mut errors, &entity.name, field);
                if AUTOMATIC_COLUMNS.contains(&field.name.as_str()) {
                    errors.push(PlanError::AutomaticColumn {
                        table: entity.name.clone(),
                        column: field.name.clone(),
                    });
                } else {
                    check_name(&mut errors, NameKind::Column, &field.name, &place);
                }
                if !seen_columns.insert(field.name.clone()) {
                    errors.push(PlanError::DuplicateColumn {
                        table: entity.name.clone(),
                        column: field.name.clone(),
                    });
                }
                if let FieldKind::Reference(target) = &field.kind {
                    if !tables.contains(target) {
                        errors.push(PlanError::UnknownReference {
                            table: entity.name.clone(),
                            column: field.name.clone(),
                            target: shown(target),
                            known: known.clone(),
                        });
                    }
                }
            }
        }

        for entity in &plan.entities {
            if entity.visibility.is_private() {
                continue;
            }
            for field in &entity.fields {
                let Some(target) = field.kind.references() else {
                    continue;
                };
                if let Some(target) = plan.entities.iter().find(|e| e.name == target) {
                    if target.visibility.is_private() {
                        errors.push(PlanError::HiddenReference {
                            table: entity.name.clone(),
                            visibility: entity.visibility.as_str(),
                            column: field.name.clone(),
                            target: target.name.clone(),
                        });
                    }
                }
            }
        }
        if let Some(theme) = &mut plan.theme {
            for (what, colour) in [
                ("accent", &mut theme.accent),
                ("background", &mut theme.background),
            ] {
                if let Some(value) = colour {
                    if is_hex_colour(value.trim()) {
                        *value = value.trim().to_ascii_lowercase();
                    } else {
                        errors.push(PlanError::InvalidColour {
                            what,
                            value: shown(value),
                        });
                    }
                }
            }
            if !theme.tagline.is_empty() {
                check_text(
                    &mut errors,
                    "theme tagline",
                    &theme.tagline,
                    MAX_TAGLINE_CHARS,
                );
            }
        }

        if plan.pages.len() > MAX_PAGES {
            errors.push(too_many("pages", plan.pages.len(), MAX_PAGES));
        }
        let mut seen_paths = BTreeSet::new();
        for page in &mut plan.pages {
            check_page_path(&mut errors, &page.path);
            if !seen_paths.insert(page.path.clone()) {
                errors.push(PlanError::DuplicatePagePath(shown(&page.path)));
            }
            if let Some(table) = &page.entity {
                match self.entities.iter().find(|e| &e.name == table) {
                    Some(entity) if page.name.trim().is_empty() => {
                        page.name = if entity.label.trim().is_empty() {
                            humanize(&entity.name)
                        } else {
                            entity.label.clone()
                        };
                    }
                    Some(_) => {}
                    None => errors.push(PlanError::UnknownPageEntity {
                        page: shown(&page.path),
                        entity: shown(table),
                        known: known.clone(),
                    }),
                }
            }
            if page.name.trim().is_empty() {
                page.name = if page.path == "/" {
                    "Home".into()
                } else {
                    humanize(page.path.rsplit('/').next().unwrap_or("page"))
                };
            }
            let what = format!("name of page '{}'", shown(&page.path));
            check_text(&mut errors, &what, &page.name, MAX_NAME_CHARS);
        }

        if errors.is_empty() {
            Ok(ValidPlan(plan))
        } else {
            Err(errors)
        }
    }
}

/// Checks a field's `values` (trimming each): a `choice` needs 1 to [`MAX_CHOICES`] distinct,
/// one-line values of at most [`MAX_CHOICE_CHARS`] characters; other kinds take none.
fn check_choices(errors: &mut Vec<PlanError>, table: &str, field: &mut Field) {
    let mut fail = |problem: String| {
        errors.push(PlanError::InvalidChoices {
            table: shown(table),
            column: shown(&field.name),
            problem,
        })
    };
    if field.kind != FieldKind::Choice {
        if !field.values.is_empty() {
            fail(format!(
                "is a {} field but has values; values are only for 'choice' fields, so make it a choice or remove them",
                field.kind.runtime_name()
            ));
        }
        return;
    }
    for value in &mut field.values {
        *value = value.trim().to_string();
    }
    if field.values.is_empty() {
        fail("is a choice with no values; list them, e.g. \"values\": [\"open\", \"done\"]".into());
    }
    if field.values.len() > MAX_CHOICES {
        fail(format!(
            "has {} values; the limit is {MAX_CHOICES}, so merge some or make it a text field",
            field.values.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, value) in field.values.iter().enumerate() {
        let n = i + 1;
        if value.is_empty() {
            fail(format!(
                "has an empty value (number {n}); remove it or give it a name"
            ));
        } else if value.chars().count() > MAX_CHOICE_CHARS {
            fail(format!(
                "has a value of {} characters ('{}'); shorten it to at most {MAX_CHOICE_CHARS}",
                value.chars().count(),
                shown(value)
            ));
        } else if value.chars().any(is_line_break_or_control) {
            fail(format!(
                "has a value with control characters (number {n}); use one line of plain text"
            ));
        } else if !seen.insert(value.to_lowercase()) {
            fail(format!(
                "lists '{}' more than once; give each value once",
                shown(value)
            ));
        }
    }
}

fn too_many(what: &str, count: usize, limit: usize) -> PlanError {
    PlanError::TooMany {
        what: what.to_string(),
        count,
        limit,
    }
}

/// A value for an error message: long or odd values are cut so messages stay readable.
fn shown(value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.chars().count() > 60 {
        format!("{}…", clean.chars().take(57).collect::<String>())
    } else {
        clean
    }
}

/// Control characters and the Unicode line/paragraph separators, which end a JavaScript line
/// comment: display texts are copied into generated code, so none of them may hide a line break.
fn is_line_break_or_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

fn check_text(errors: &mut Vec<PlanError>, what: &str, text: &str, max: usize) {
    let problem = if text.trim().is_empty() {
        Some("is empty; give it a short name".to_string())
    } else if text.chars().count() > max {
        Some(format!(
            "is {} characters; shorten it to at most {max}",
            text.chars().count()
        ))
    } else if text.chars().any(is_line_break_or_control) {
        Some("contains control characters (such as line breaks); use one line of plain text".into())
    } else {
        None
    };
    if let Some(problem) = problem {
        errors.push(PlanError::InvalidText {
            what: what.to_string(),
            problem,
        });
    }
}

fn check_name(errors: &mut Vec<PlanError>, kind: NameKind, value: &str, place: &str) {
    let lower = value.to_ascii_lowercase();
    if let Some((prefix, owner)) = RESERVED_PREFIXES.iter().find(|(p, _)| lower.starts_with(p)) {
        let rest = sanitize_identifier(&lower[prefix.len()..]);
        let fix =
            if rest.is_empty() || is_sql_keyword(&rest) || RESERVED_TABLES.contains(&rest.as_str())
            {
                format!("app_{}", rest.trim_start_matches('_'))
                    .trim_end_matches('_')
                    .to_string()
            } else {
                rest
            };
        errors.push(PlanError::Reserved {
            kind,
            value: shown(value),
            place: place.to_string(),
            owner,
            fix,
        });
        return;
    }
    if !is_identifier(value) {
        errors.push(PlanError::InvalidName {
            kind,
            value: shown(value),
            place: place.to_string(),
            fix: sanitize_identifier(value),
        });
        return;
    }
    if is_sql_keyword(value) {
        errors.push(PlanError::SqlKeyword {
            kind,
            value: value.to_string(),
            place: place.to_string(),
            fix: keyword_fix(kind, value),
        });
        return;
    }
    if kind == NameKind::Table && RESERVED_TABLES.contains(&value) {
        errors.push(PlanError::Reserved {
            kind,
            value: value.to_string(),
            place: place.to_string(),
            owner: "kiln's app runtime",
            fix: format!("app_{value}"),
        });
    }
}

/// A replacement for a keyword used as a name: tables get their plural, columns a suffix.
fn keyword_fix(kind: NameKind, word: &str) -> String {
    match kind {
        NameKind::Table => {
            let plural = if word.ends_with('s') {
                format!("{word}_items")
            } else {
                format!("{word}s")
            };
            if is_sql_keyword(&plural) {
                format!("{word}_items")
            } else {
                plural
            }
        }
        NameKind::Column => match word {
            "order" => "sort_order".into(),
            "index" => "position".into(),
            "group" => "group_name".into(),
            "key" => "key_name".into(),
            "default" => "is_default".into(),
            "check" => "is_checked".into(),
            "from" => "from_date".into(),
            "to" => "to_date".into(),
            "end" => "end_date".into(),
            "current" => "is_current".into(),
            "temp" => "temperature".into(),
            "desc" => "description".into(),
            "values" => "amount".into(),
            _ => format!("{word}_value"),
        },
    }
}

/// The closest identifier to `raw`: lowercase ASCII, runs of other characters as one `_`, a
/// leading letter, at most [`MAX_IDENT_LEN`] bytes. Never empty (falls back to `items`).
pub fn sanitize_identifier(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_matches('_').to_string();
    if out.is_empty() {
        return "items".into();
    }
    if !out.as_bytes()[0].is_ascii_lowercase() {
        out.insert_str(0, "n_");
    }
    out.truncate(MAX_IDENT_LEN);
    out.trim_end_matches('_').to_string()
}

/// `check_ins` → `Check ins`: the default display name for an identifier.
pub fn humanize(ident: &str) -> String {
    let words: Vec<&str> = ident
        .split(['_', '-', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Items".into(),
    }
}

fn check_page_path(errors: &mut Vec<PlanError>, path: &str) {
    let reason = if path.chars().count() > MAX_NAME_CHARS {
        Some(format!(
            "is longer than {MAX_NAME_CHARS} characters; use a short path such as '/tasks'"
        ))
    } else if path == "/" {
        None
    } else if !path.starts_with('/') || path.ends_with('/') {
        Some("must start with '/' and not end with '/', e.g. '/tasks'".to_string())
    } else if path[1..].split('/').any(|s| {
        s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }) {
        Some(
            "may only use lowercase letters, digits and '-' between single slashes, e.g. '/check-ins'"
                .to_string(),
        )
    } else if path == "/api"
        || path.starts_with("/api/")
        || path == "/_kiln"
        || path.starts_with("/_kiln/")
    {
        Some("collides with the app's own routes (/api, /_kiln); choose another path".to_string())
    } else {
        None
    };
    if let Some(reason) = reason {
        errors.push(PlanError::InvalidPagePath {
            path: shown(path),
            reason,
        });
    }
}

/// Relative luminance of `#rrggbb` (0 black to 1 white), sRGB.
pub fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let v =
            u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0) as f64 / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind) -> Field {
        Field {
            name: name.into(),
            kind,
            required: false,
            values: vec![],
        }
    }

    fn plan_with(entities: Vec<Entity>) -> Plan {
        Plan {
            app_name: "Test".into(),
            summary: String::new(),
            pages: vec![],
            entities,
            features: vec![],
            auth: true,
            file_storage: false,
            theme: None,
        }
    }

    fn entity(name: &str, fields: Vec<Field>) -> Entity {
        Entity {
            name: name.into(),
            label: String::new(),
            fields,
            visibility: Visibility::Private,
        }
    }

    fn messages(plan: &Plan) -> Vec<String> {
        match plan.validate() {
            Ok(_) => vec![],
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn table_names_are_checked_against_the_identifier_rules_and_reserved_words() {
        let cases: &[(&str, Option<&str>)] = &[
            ("tasks", None),
            ("check_ins", None),
            ("a", None),
            ("x1234567890123456789012345678901234567", None),
            ("order", Some("table name 'order' is a reserved SQL word; use 'orders'")),
            ("select", Some("table name 'select' is a reserved SQL word; use 'selects'")),
            ("table", Some("reserved SQL word; use 'tables'")),
            ("group", Some("use 'group_items'")),
            ("index", Some("reserved SQL word")),
            ("where", Some("reserved SQL word")),
            ("from", Some("reserved SQL word")),
            ("users", Some("table name 'users' is reserved by kiln's app runtime; use 'app_users'")),
            ("sessions", Some("reserved by kiln's app runtime")),
            ("migrations", Some("reserved by kiln's app runtime")),
            ("sqlite_master", Some("table name 'sqlite_master' is reserved by sqlite; use 'master'")),
            ("_kiln_meta", Some("reserved by kiln; use 'meta'")),
            ("d1_migrations", Some("reserved by d1; use 'app_migrations'")),
            ("Tasks", Some("table name 'Tasks' is not a valid identifier; use 1 to 40 lowercase letters, digits or underscores starting with a letter, e.g. 'tasks'")),
            ("order items", Some("e.g. 'order_items'")),
            ("1st", Some("e.g. 'n_1st'")),
            ("", Some("table name '' is not a valid identifier")),
            ("tâches", Some("e.g. 't_ches'")),
            ("x12345678901234567890123456789012345678901", Some("not a valid identifier")),
        ];
        for (name, expected) in cases {
            let plan = plan_with(vec![entity(name, vec![field("title", FieldKind::Text)])]);
            let got = messages(&plan);
            match expected {
                None => assert!(got.is_empty(), "{name:?} should be valid, got {got:?}"),
                Some(text) => assert!(
                    got.iter().any(|m| m.contains(text)),
                    "{name:?}: expected a message containing {text:?}, got {got:?}"
                ),
            }
        }
    }

    #[test]
    fn column_names_are_checked_and_automatic_columns_are_refused() {
        let cases: &[(&str, Option<&str>)] = &[
            ("title", None),
            ("due_date", None),
            ("user", None),
            (
                "order",
                Some(
                    "column name 'order' in table 'tasks' is a reserved SQL word; use 'sort_order'",
                ),
            ),
            ("group", Some("use 'group_name'")),
            ("rowid", Some("reserved SQL word")),
            (
                "id",
                Some(
                    "column 'id' in table 'tasks' is added automatically; remove it from the plan",
                ),
            ),
            ("user_id", Some("added automatically")),
            ("created_at", Some("added automatically")),
            ("updated_at", Some("added automatically")),
            ("DueDate", Some("e.g. 'duedate'")),
            ("sqlite_x", Some("reserved by sqlite")),
        ];
        for (name, expected) in cases {
            let plan = plan_with(vec![entity("tasks", vec![field(name, FieldKind::Text)])]);
            let got = messages(&plan);
            match expected {
                None => assert!(got.is_empty(), "{name:?} should be valid, got {got:?}"),
                Some(text) => assert!(
                    got.iter().any(|m| m.contains(text)),
                    "{name:?}: expected a message containing {text:?}, got {got:?}"
                ),
            }
        }
    }

    #[test]
    fn references_must_name_an_entity_of_the_plan() {
        let plan = plan_with(vec![entity(
            "tasks",
            vec![field("project_id", FieldKind::Reference("projects".into()))],
        )]);
        assert_eq!(
            messages(&plan),
            vec!["field 'project_id' in table 'tasks' references 'projects', which is not an entity of this plan; use one of: tasks"]
        );
        let mut ok = plan.clone();
        ok.entities
            .push(entity("projects", vec![field("name", FieldKind::Text)]));
        assert!(messages(&ok).is_empty());
    }

    #[test]
    fn limits_are_enforced() {
        let many_fields: Vec<Field> = (0..31)
            .map(|i| field(&format!("f{i}"), FieldKind::Text))
            .collect();
        let got = messages(&plan_with(vec![entity("things", many_fields)]));
        assert_eq!(
            got,
            vec![
                "the plan has 31 fields in table 'things'; the limit is 30, so merge or drop some"
            ]
        );

        let many_entities: Vec<Entity> = (0..13)
            .map(|i| entity(&format!("t{i}"), vec![field("name", FieldKind::Text)]))
            .collect();
        let got = messages(&plan_with(many_entities));
        assert_eq!(
            got,
            vec!["the plan has 13 entities; the limit is 12, so merge or drop some"]
        );

        let mut plan = plan_with(vec![entity("things", vec![field("name", FieldKind::Text)])]);
        plan.pages = (0..21)
            .map(|i| Page {
                name: format!("P{i}"),
                path: format!("/p{i}"),
                entity: None,
            })
            .collect();
        assert_eq!(
            messages(&plan),
            vec!["the plan has 21 pages; the limit is 20, so merge or drop some"]
        );

        assert_eq!(
            messages(&plan_with(vec![])),
            vec!["the plan has no entities; add at least one, e.g. 'items' with a 'name' field"]
        );
        assert_eq!(
            messages(&plan_with(vec![entity("things", vec![])])),
            vec!["table 'things' has no fields; add at least one, e.g. 'name' (text)"]
        );
    }

    #[test]
    fn duplicates_are_reported() {
        let plan = plan_with(vec![
            entity(
                "things",
                vec![
                    field("name", FieldKind::Text),
                    field("name", FieldKind::Date),
                ],
            ),
            entity("things", vec![field("name", FieldKind::Text)]),
        ]);
        let got = messages(&plan);
        assert!(got.contains(
            &"table name 'things' is used by more than one entity; give each entity its own name"
                .to_string()
        ));
        assert!(got.contains(
            &"column 'name' appears more than once in table 'things'; give each field its own name"
                .to_string()
        ));
    }

    #[test]
    fn page_paths_and_entities_are_checked() {
        let mut plan = plan_with(vec![entity("things", vec![field("name", FieldKind::Text)])]);
        let page = |name: &str, path: &str, entity: Option<&str>| Page {
            name: name.into(),
            path: path.into(),
            entity: entity.map(str::to_string),
        };
        plan.pages = vec![
            page("", "/things", Some("things")),
            page("Bad", "things", None),
            page("Api", "/api/x", None),
            page("Caps", "/Things", None),
            page("Ghost", "/ghosts", Some("ghosts")),
            page("Again", "/things", None),
        ];
        let got = messages(&plan);
        assert_eq!(
            got,
            vec![
                "page path 'things' must start with '/' and not end with '/', e.g. '/tasks'",
                "page path '/api/x' collides with the app's own routes (/api, /_kiln); choose another path",
                "page path '/Things' may only use lowercase letters, digits and '-' between single slashes, e.g. '/check-ins'",
                "page '/ghosts' shows entity 'ghosts', which is not in the plan; use one of: things",
                "page path '/things' is used by more than one page; give each page its own path",
            ]
        );
    }

    #[test]
    fn validation_fills_in_blank_labels_and_page_names() {
        let mut plan = plan_with(vec![entity(
            "check_ins",
            vec![field("date", FieldKind::Date)],
        )]);
        plan.pages = vec![Page {
            name: " ".into(),
            path: "/check-ins".into(),
            entity: Some("check_ins".into()),
        }];
        let valid = plan.validate().expect("valid");
        assert_eq!(valid.plan().entities[0].label, "Check ins");
        assert_eq!(valid.plan().pages[0].name, "Check ins");
    }

    #[test]
    fn texts_are_checked() {
        let mut plan = plan_with(vec![entity("things", vec![field("name", FieldKind::Text)])]);
        plan.app_name = "  ".into();
        plan.features = vec!["line\nbreak".into(), "js\u{2028}comment".into()];
        plan.summary = "x".repeat(501);
        let got = messages(&plan);
        assert_eq!(
            got,
            vec![
                "app name is empty; give it a short name",
                "summary is 501 characters; shorten it to at most 500",
                "feature 1 contains control characters (such as line breaks); use one line of plain text",
                "feature 2 contains control characters (such as line breaks); use one line of plain text",
            ]
        );
    }

    #[test]
    fn the_json_form_round_trips_and_accepts_model_spellings() {
        let json = r#"{
            "name": "Todo", "storage": false,
            "entities": [{"table": "todos", "fields": [
                {"name": "title", "type": "string", "required": true},
                {"name": "done", "type": "bool"},
                {"name": "list_id", "kind": {"reference": "lists"}},
                {"name": "body", "kind": "long_text"}
            ]}, {"name": "lists", "label": "Lists", "fields": [{"name": "name", "kind": "text"}]}],
            "pages": [{"title": "Todos", "path": "/", "entity": "todos"}]
        }"#;
        let plan: Plan = serde_json::from_str(json).expect("parses");
        assert!(plan.auth, "auth defaults to true");
        assert_eq!(plan.entities[0].fields[0].kind, FieldKind::Text);
        assert_eq!(plan.entities[0].fields[1].kind, FieldKind::Boolean);
        assert_eq!(
            plan.entities[0].fields[2].kind,
            FieldKind::Reference("lists".into())
        );
        let valid = plan.validate().expect("valid");
        let text = serde_json::to_string(valid.plan()).unwrap();
        assert!(text.contains(r#""kind":{"reference":"lists"}"#), "{text}");
        assert!(text.contains(r#""kind":"long_text""#), "{text}");
        let back: Plan = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, valid.plan());
    }

    #[test]
    fn visibility_and_theme_are_read_checked_and_left_out_when_default() {
        let plan: Plan = serde_json::from_str(
            r##"{"app_name": "Poems", "entities": [
                 {"name": "poems", "visibility": "public", "fields": [{"name": "title", "kind": "text"},
                   {"name": "book_id", "kind": {"reference": "books"}}]},
                 {"name": "books", "fields": [{"name": "title", "kind": "text"}]},
                 {"name": "notes", "visibility": "team", "fields": [{"name": "text", "kind": "text"}]}],
               "theme": {"accent": " #4F46E5 ", "background": "lavender", "mode": "dark",
                         "density": "dense", "tagline": "Words that last"}}"##,
        )
        .unwrap();
        assert_eq!(plan.entities[0].visibility, Visibility::Public);
        assert_eq!(plan.entities[1].visibility, Visibility::Private);
        assert_eq!(
            plan.entities[2].visibility,
            Visibility::Shared,
            "alias team"
        );
        let errors: Vec<String> = plan
            .validate()
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "field 'book_id' in public table 'poems' references private table 'books', whose rows other people cannot see; make 'books' public too, or 'poems' private",
                "theme background 'lavender' is not a colour; use six hex digits like '#4f46e5'",
            ]
        );
        let mut fixed = plan.clone();
        fixed.entities[1].visibility = Visibility::Public;
        fixed.theme.as_mut().unwrap().background = Some("#e6e6fa".into());
        let valid = fixed.validate().unwrap();
        let theme = valid.plan().theme.as_ref().unwrap();
        assert_eq!(
            theme.accent.as_deref(),
            Some("#4f46e5"),
            "trimmed and lowercased"
        );
        assert_eq!(
            (theme.mode, theme.density),
            (ThemeMode::Dark, Density::Compact)
        );
        fixed.theme.as_mut().unwrap().tagline = "x".repeat(MAX_TAGLINE_CHARS + 1);
        assert!(messages(&fixed)[0].starts_with("theme tagline is 121 characters"));
        // Private entities and no theme: the JSON form is what it was before either existed.
        let old = plan_with(vec![entity("notes", vec![field("text", FieldKind::Text)])]);
        let text = serde_json::to_string(&old).unwrap();
        assert!(
            !text.contains("visibility") && !text.contains("theme"),
            "{text}"
        );
        assert!(serde_json::from_str::<Plan>(r#"{"app_name": "A", "entities": [{"name": "a", "visibility": "secret", "fields": []}]}"#).is_err());
    }

    #[test]
    fn choice_fields_need_distinct_short_values_and_other_kinds_take_none() {
        let with = |kind: FieldKind, values: &[&str]| {
            let mut f = field("status", kind);
            f.values = values.iter().map(|v| v.to_string()).collect();
            messages(&plan_with(vec![entity("issues", vec![f])]))
        };
        assert!(with(FieldKind::Choice, &["open", "in progress", "done"]).is_empty());
        assert!(with(FieldKind::Choice, &["it's done; really", "fermé"]).is_empty());
        let long = "x".repeat(61);
        let many: Vec<String> = (0..31).map(|i| format!("v{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let cases: Vec<(FieldKind, Vec<&str>, &str)> = vec![
            (FieldKind::Choice, vec![], "field 'status' in table 'issues' is a choice with no values; list them, e.g. \"values\": [\"open\", \"done\"]"),
            (FieldKind::Choice, vec!["open", " "], "field 'status' in table 'issues' has an empty value (number 2); remove it or give it a name"),
            (FieldKind::Choice, vec!["open", "Open "], "field 'status' in table 'issues' lists 'Open' more than once; give each value once"),
            (FieldKind::Choice, vec!["a", &long], "field 'status' in table 'issues' has a value of 61 characters ('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'); shorten it to at most 60"),
            (FieldKind::Choice, vec!["a", "line\nbreak"], "field 'status' in table 'issues' has a value with control characters (number 2); use one line of plain text"),
            (FieldKind::Choice, many, "field 'status' in table 'issues' has 31 values; the limit is 30, so merge some or make it a text field"),
            (FieldKind::Text, vec!["open"], "field 'status' in table 'issues' is a text field but has values; values are only for 'choice' fields, so make it a choice or remove them"),
        ];
        for (kind, values, expected) in cases {
            assert_eq!(with(kind, &values), vec![expected.to_string()]);
        }
    }

    #[test]
    fn choice_values_are_trimmed_and_read_in_the_spellings_models_use() {
        let json = r#"{"name": "Issues", "entities": [{"name": "issues", "fields": [
            {"name": "status", "kind": "choice", "values": [" open ", "done"]},
            {"name": "severity", "type": "enum", "options": ["low", "high"]},
            {"name": "title", "kind": "text"}
        ]}]}"#;
        let plan: Plan = serde_json::from_str(json).expect("parses");
        let valid = plan.validate().expect("valid");
        let fields = &valid.plan().entities[0].fields;
        assert_eq!(fields[0].values, ["open", "done"]);
        assert_eq!(fields[1].kind, FieldKind::Choice);
        assert_eq!(fields[1].values, ["low", "high"]);
        let text = serde_json::to_string(valid.plan()).unwrap();
        assert!(
            text.contains(
                r#"{"name":"status","kind":"choice","required":false,"values":["open","done"]}"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"{"name":"title","kind":"text","required":false}"#),
            "non-choice fields carry no values: {text}"
        );
        assert_eq!(FieldKind::Choice.sql_type(), "TEXT");
        assert_eq!(FieldKind::Choice.runtime_name(), "choice");
    }

    #[test]
    fn sql_types_follow_the_kind() {
        assert_eq!(FieldKind::Text.sql_type(), "TEXT");
        assert_eq!(FieldKind::LongText.sql_type(), "TEXT");
        assert_eq!(FieldKind::Date.sql_type(), "TEXT");
        assert_eq!(FieldKind::Integer.sql_type(), "INTEGER");
        assert_eq!(FieldKind::Boolean.sql_type(), "INTEGER");
        assert_eq!(FieldKind::Rating.sql_type(), "INTEGER");
        assert_eq!(FieldKind::Reference("x".into()).sql_type(), "INTEGER");
        assert_eq!(FieldKind::Number.sql_type(), "REAL");
    }

    #[test]
    fn sanitize_identifier_always_yields_an_identifier() {
        for raw in [
            "",
            "___",
            "Hello World!",
            "9lives",
            "ÄÖÜ",
            &"a".repeat(80),
            "a__b",
        ] {
            let out = sanitize_identifier(raw);
            assert!(is_identifier(&out), "{raw:?} → {out:?}");
        }
    }
}
