//! What changed between a live app's plan and the plan of a change request, and whether the
//! change is to the plan's *structure* or only to its prose.
//!
//! Structure is what the code depends on: entities, their fields (names, kinds, whether
//! required), pages (paths and the entity each shows), file storage, auth, and any setting the
//! plan gains later (visibility, theme, …). Prose is what people read and the code does not
//! branch on: the app name, the summary, the feature lines, entity labels and page names.
//!
//! Key decision: the structure is the plan's JSON with the prose keys removed, rather than a
//! list of structural keys. A setting added to the plan later counts as structure from the day it
//! exists (the safe side: its change is sent to the model as a plan change instead of being
//! ignored), and only prose has to be named here.
//!
//! Kiln uses this to choose how a build on a live app changes the code (see
//! `generate::session`): same structure → the request alone, as edits of the live files; another
//! structure → the live files, the request and [`changes`], as edits too. Starting over from the
//! plan is only for an app without a live version.

use serde_json::{Map, Value};

use plan::Plan;

/// Top-level plan keys that are prose.
const PROSE: [&str; 3] = ["app_name", "summary", "features"];

/// The plan's structure: its JSON without the prose (see the module docs).
pub fn structure(plan: &Plan) -> Value {
    let mut value = serde_json::to_value(plan).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for key in PROSE {
            map.remove(key);
        }
        strip(map, "entities", "label");
        strip(map, "pages", "name");
    }
    value
}

fn strip(map: &mut Map<String, Value>, list: &str, key: &str) {
    if let Some(Value::Array(items)) = map.get_mut(list) {
        for item in items {
            if let Value::Object(o) = item {
                o.remove(key);
            }
        }
    }
}

/// Whether two plans have the same structure (they may differ in prose).
pub fn same_structure(a: &Plan, b: &Plan) -> bool {
    structure(a) == structure(b)
}

/// The changes from `old` to `new`, one line each, structure first, for a model's prompt and the
/// build's record. Empty when the plans are equal.
pub fn changes(old: &Plan, new: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for e in &new.entities {
        match old.entities.iter().find(|o| o.name == e.name) {
            None => out.push(format!(
                "new entity {} with fields {}",
                e.name,
                e.fields
                    .iter()
                    .map(|f| format!("{} ({})", f.name, kind(&f.kind)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(o) => {
                for f in &e.fields {
                    match o.fields.iter().find(|of| of.name == f.name) {
                        None => out.push(format!(
                            "entity {}: new field {} ({}{})",
                            e.name,
                            f.name,
                            kind(&f.kind),
                            if f.required { ", required" } else { "" }
                        )),
                        Some(of) if of.kind != f.kind => out.push(format!(
                            "entity {}: field {} changes kind from {} to {}",
                            e.name,
                            f.name,
                            kind(&of.kind),
                            kind(&f.kind)
                        )),
                        Some(of) if of.required != f.required => out.push(format!(
                            "entity {}: field {} is now {}",
                            e.name,
                            f.name,
                            if f.required { "required" } else { "optional" }
                        )),
                        Some(of) if of != f => out.push(format!(
                            "entity {}: field {} changes: {}",
                            e.name,
                            f.name,
                            serde_json::to_string(f).unwrap_or_default()
                        )),
                        Some(_) => {}
                    }
                }
                for of in &o.fields {
                    if !e.fields.iter().any(|f| f.name == of.name) {
                        out.push(format!(
                            "entity {}: field {} is removed (its column stays in the database)",
                            e.name, of.name
                        ));
                    }
                }
                if o.label != e.label {
                    out.push(format!(
                        "entity {}: label \"{}\" becomes \"{}\"",
                        e.name, o.label, e.label
                    ));
                }
            }
        }
    }
    for o in &old.entities {
        if !new.entities.iter().any(|e| e.name == o.name) {
            out.push(format!(
                "entity {} is removed (its table stays in the database)",
                o.name
            ));
        }
    }
    for p in &new.pages {
        match old.pages.iter().find(|o| o.path == p.path) {
            None => out.push(format!(
                "new page {} \"{}\"{}",
                p.path,
                p.name,
                p.entity
                    .as_deref()
                    .map(|e| format!(" showing {e}"))
                    .unwrap_or_default()
            )),
            Some(o) if o != p => out.push(format!(
                "page {} changes: {}",
                p.path,
                serde_json::to_string(p).unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    for o in &old.pages {
        if !new.pages.iter().any(|p| p.path == o.path) {
            out.push(format!("page {} is removed", o.path));
        }
    }
    if old.file_storage != new.file_storage {
        out.push(format!("file_storage becomes {}", new.file_storage));
    }
    if old.auth != new.auth {
        out.push(format!("auth becomes {}", new.auth));
    }
    // Settings without a line of their own above (anything the plan gains later).
    let (a, b) = (structure(old), structure(new));
    if let (Value::Object(a), Value::Object(b)) = (&a, &b) {
        let known = ["entities", "pages", "file_storage", "auth"];
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for key in keys.into_iter().filter(|k| !known.contains(&k.as_str())) {
            if a.get(key) != b.get(key) {
                out.push(format!(
                    "{key} becomes {}",
                    b.get(key).map(Value::to_string).unwrap_or("unset".into())
                ));
            }
        }
    }
    if old.app_name != new.app_name {
        out.push(format!(
            "app name \"{}\" becomes \"{}\"",
            old.app_name, new.app_name
        ));
    }
    if old.summary != new.summary {
        out.push(format!("summary: {}", new.summary));
    }
    for f in &new.features {
        if !old.features.contains(f) {
            out.push(format!("new feature line: {f}"));
        }
    }
    out
}

fn kind(k: &plan::FieldKind) -> String {
    match k.references() {
        Some(table) => format!("reference to {table}"),
        None => serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| serde_json::to_string(k).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(prompt: &str) -> Plan {
        planner::plan_from_prompt(prompt)
            .unwrap()
            .validate()
            .unwrap()
            .into_plan()
    }

    #[test]
    fn prose_changes_keep_the_structure() {
        let old = plan("a reading list with books");
        let mut new = old.clone();
        new.features.push("Show a welcome line at the top".into());
        new.summary = "A reading list that greets you.".into();
        new.app_name = "My Books".into();
        new.entities[0].label = "Reads".into();
        new.pages[0].name = "Reads".into();
        assert!(same_structure(&old, &new));
        let lines = changes(&old, &new);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("new feature line: Show a welcome")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.contains("app name")), "{lines:?}");
    }

    #[test]
    fn schema_pages_and_settings_are_structure_and_each_change_is_named() {
        let old = plan("a reading list with books");
        let table = old.entities[0].name.clone();

        let mut new = old.clone();
        new.entities[0].fields.push(plan::Field {
            name: "shelf_note".into(),
            kind: plan::FieldKind::LongText,
            required: false,
            values: vec![],
        });
        assert!(!same_structure(&old, &new));
        assert_eq!(
            changes(&old, &new),
            vec![format!("entity {table}: new field shelf_note (long_text)")]
        );

        let mut new = old.clone();
        new.entities[0].fields[0].required = !new.entities[0].fields[0].required;
        assert!(!same_structure(&old, &new));
        assert!(changes(&old, &new)[0].contains("is now"));

        let mut new = old.clone();
        new.entities[0].fields[0].kind = plan::FieldKind::Integer;
        assert!(!same_structure(&old, &new));
        assert!(changes(&old, &new)[0].contains("changes kind"));

        let mut new = old.clone();
        new.file_storage = !old.file_storage;
        assert!(!same_structure(&old, &new));
        assert_eq!(
            changes(&old, &new),
            vec![format!("file_storage becomes {}", new.file_storage)]
        );

        let mut new = old.clone();
        new.pages[0].path = "/reading".into();
        assert!(!same_structure(&old, &new));
        let lines = changes(&old, &new);
        assert!(
            lines.iter().any(|l| l.starts_with("new page /reading")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.ends_with("is removed")), "{lines:?}");

        let (tasks, more) = (
            plan("a task manager with tasks"),
            plan("a task manager with tasks and projects"),
        );
        assert!(!same_structure(&tasks, &more));
        let lines = changes(&tasks, &more);
        assert!(
            lines.iter().any(|l| l.starts_with("new entity projects")),
            "{lines:?}"
        );
        assert!(changes(&old, &old).is_empty());
    }
}
