//! The plan schema and its validation (identifiers, SQLite types, reserved names, limits).

use serde::{Deserialize, Serialize};

/// Most entities in one app.
pub const MAX_ENTITIES: usize = 12;
/// Most fields per entity.
pub const MAX_FIELDS: usize = 30;

/// What a field holds; decides the SQLite column type, validation and input widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Short text (≤ 500 chars).
    Text,
    /// Long text (≤ 20,000 chars).
    LongText,
    /// Whole number.
    Integer,
    /// Decimal number.
    Number,
    /// Yes/no.
    Boolean,
    /// Calendar date (YYYY-MM-DD).
    Date,
    /// 1 to 5 stars.
    Rating,
}

impl FieldKind {
    /// The SQLite column type.
    pub fn sql_type(self) -> &'static str {
        match self {
            FieldKind::Text | FieldKind::LongText | FieldKind::Date => "TEXT",
            FieldKind::Integer | FieldKind::Boolean | FieldKind::Rating => "INTEGER",
            FieldKind::Number => "REAL",
        }
    }

    /// The runtime's type name.
    pub fn runtime_name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::LongText => "longtext",
            FieldKind::Integer => "integer",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Date => "date",
            FieldKind::Rating => "rating",
        }
    }
}

/// One field of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Column name (snake_case).
    pub name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// Whether a value is required.
    #[serde(default)]
    pub required: bool,
}

/// One entity: a table plus its CRUD API and page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Table name (snake_case, plural).
    pub name: String,
    /// Fields besides the automatic id, user_id, created_at, updated_at.
    pub fields: Vec<Field>,
}

/// An app plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Display name.
    pub app_name: String,
    /// One sentence.
    pub summary: String,
    /// The data model; one page per entity.
    pub entities: Vec<Entity>,
    /// Feature notes shown in the plan.
    #[serde(default)]
    pub features: Vec<String>,
    /// Sign-up/sign-in (always on for generated apps).
    #[serde(default = "yes")]
    pub auth: bool,
    /// File uploads.
    #[serde(default)]
    pub file_storage: bool,
}

fn yes() -> bool {
    true
}

/// A plan problem, naming the value and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// A plan that passed [`Plan::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPlan(Plan);

impl ValidPlan {
    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.0
    }
}

const RESERVED: &[&str] = &[
    "users",
    "sessions",
    "migrations",
    "select",
    "table",
    "order",
    "group",
    "index",
    "where",
    "from",
    "insert",
    "update",
    "delete",
    "create",
    "drop",
    "alter",
    "join",
    "limit",
    "values",
    "default",
    "primary",
    "key",
    "check",
    "references",
];
const AUTOMATIC: &[&str] = &["id", "user_id", "created_at", "updated_at"];

fn identifier(kind: &str, name: &str) -> Result<(), PlanError> {
    let ok = (1..=40).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(PlanError(format!("{kind} name '{name}' is not valid; use 1-40 lowercase letters, digits or '_', starting with a letter")));
    }
    if name.starts_with("sqlite_") || name.starts_with("_kiln") {
        return Err(PlanError(format!(
            "{kind} name '{name}' uses a reserved prefix; rename it"
        )));
    }
    if RESERVED.contains(&name) {
        return Err(PlanError(format!(
            "{kind} name '{name}' is reserved; use '{name}_list' or another name"
        )));
    }
    Ok(())
}

impl Plan {
    /// Checks every rule; returns all problems at once.
    pub fn validate(&self) -> Result<ValidPlan, Vec<PlanError>> {
        let mut errors = Vec::new();
        if self.app_name.trim().is_empty() || self.app_name.chars().count() > 80 {
            errors.push(PlanError("app name must be 1 to 80 characters".into()));
        }
        if self.entities.is_empty() {
            errors.push(PlanError(
                "the plan has no entities; an app needs at least one thing to store".into(),
            ));
        }
        if self.entities.len() > MAX_ENTITIES {
            errors.push(PlanError(format!(
                "the plan has {} entities; the limit is {MAX_ENTITIES}",
                self.entities.len()
            )));
        }
        let mut seen = Vec::new();
        for e in &self.entities {
            if let Err(err) = identifier("table", &e.name) {
                errors.push(err);
            }
            if seen.contains(&e.name) {
                errors.push(PlanError(format!("table '{}' appears twice", e.name)));
            }
            seen.push(e.name.clone());
            if e.fields.is_empty() || e.fields.len() > MAX_FIELDS {
                errors.push(PlanError(format!(
                    "table '{}' must have 1 to {MAX_FIELDS} fields",
                    e.name
                )));
            }
            let mut cols = Vec::new();
            for f in &e.fields {
                if AUTOMATIC.contains(&f.name.as_str()) {
                    errors.push(PlanError(format!(
                        "column '{}.{}' is added automatically; remove it",
                        e.name, f.name
                    )));
                } else if let Err(err) = identifier("column", &f.name) {
                    errors.push(err);
                }
                if cols.contains(&f.name) {
                    errors.push(PlanError(format!(
                        "column '{}.{}' appears twice",
                        e.name, f.name
                    )));
                }
                cols.push(f.name.clone());
            }
        }
        if errors.is_empty() {
            Ok(ValidPlan(self.clone()))
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(table: &str, column: &str) -> Plan {
        Plan {
            app_name: "A".into(),
            summary: "s".into(),
            entities: vec![Entity {
                name: table.into(),
                fields: vec![Field {
                    name: column.into(),
                    kind: FieldKind::Text,
                    required: true,
                }],
            }],
            features: vec![],
            auth: true,
            file_storage: false,
        }
    }

    #[test]
    fn good_identifiers_pass() {
        assert!(plan("tasks", "title").validate().is_ok());
        assert!(plan("check_ins", "note_2").validate().is_ok());
    }

    #[test]
    fn bad_identifiers_and_reserved_names_are_rejected_with_the_name() {
        for (t, c, needle) in [
            ("order", "title", "'order' is reserved"),
            ("users", "title", "'users' is reserved"),
            ("Tasks", "title", "'Tasks' is not valid"),
            ("tasks", "id", "added automatically"),
            ("tasks", "drop table", "not valid"),
            ("sqlite_master", "x", "reserved prefix"),
            ("1tasks", "x", "not valid"),
        ] {
            let errs = plan(t, c).validate().unwrap_err();
            assert!(
                errs.iter().any(|e| e.0.contains(needle)),
                "{t}.{c}: {errs:?}"
            );
        }
    }
}
