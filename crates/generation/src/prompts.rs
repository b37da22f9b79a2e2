//! The prompt templates of the model-driven generator, compiled in from `prompts/*.txt`.
//!
//! A template is plain text with `{{name}}` placeholders. [`Template::render`] refuses a missing
//! or unknown value, so a template and its caller cannot drift apart silently. Every template has
//! a short content hash ([`Template::hash`]) that is recorded with each model call it served.
//!
//! Key decision: templates are files, not Rust string literals, so they can be read and reviewed
//! as prose, and `include_str!` so the Worker carries exactly the reviewed bytes (no file system
//! at run time, no drift between a deployed generator and its instructions).

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

/// One prompt template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// Short name, recorded in events (`plan`, `codegen`, `repair`, `continue`).
    pub name: &'static str,
    /// The text, with `{{placeholders}}`.
    pub text: &'static str,
    /// Fragments rendered into it (their text is part of [`Template::hash`]).
    pub includes: &'static [Template],
}

/// The app contract: every rule Kiln's checks enforce and every runtime export's behaviour.
/// Rendered into the codegen, edit and repair templates as `{{contract}}`; the prompt-contract
/// tests below fail when the validator, the runtime or the stylesheet gains something it does not
/// state.
pub const CONTRACT: Template = Template {
    name: "contract",
    text: include_str!("../../../prompts/contract.txt"),
    includes: &[],
};

/// Plans an app: the system message of the plan step.
pub const PLAN: Template = Template {
    name: "plan",
    text: include_str!("../../../prompts/plan.txt"),
    includes: &[],
};

/// Writes an app's files from a plan: the system message of the codegen step.
pub const CODEGEN: Template = Template {
    name: "codegen",
    text: include_str!("../../../prompts/codegen.txt"),
    includes: &[CONTRACT],
};

/// Fixes files that failed validation: the system message of repair steps.
pub const REPAIR: Template = Template {
    name: "repair",
    text: include_str!("../../../prompts/repair.txt"),
    includes: &[CONTRACT],
};

/// Changes a live app's code when a request leaves its plan unchanged: the system message of an
/// edit-mode codegen step.
pub const EDIT: Template = Template {
    name: "edit",
    text: include_str!("../../../prompts/edit.txt"),
    includes: &[CONTRACT],
};

/// Asks for the rest of an answer cut off at the token limit (a user message).
pub const CONTINUE: Template = Template {
    name: "continue",
    text: include_str!("../../../prompts/continue.txt"),
    includes: &[],
};

/// Every template, for listings and tests.
pub const ALL: [Template; 5] = [PLAN, CODEGEN, REPAIR, EDIT, CONTINUE];

/// The plan step's system message.
pub fn plan_system() -> Result<String, RenderError> {
    use plan::{MAX_ENTITIES, MAX_FEATURES, MAX_FIELDS, MAX_PAGES};
    PLAN.render(&[
        ("max_entities", &MAX_ENTITIES.to_string()),
        ("max_fields", &MAX_FIELDS.to_string()),
        ("max_pages", &MAX_PAGES.to_string()),
        ("max_features", &MAX_FEATURES.to_string()),
    ])
}

/// The codegen step's system message for a plan with or without file storage; `max_tokens` is
/// the output budget of one answer.
pub fn codegen_system(max_tokens: u32, file_storage: bool) -> Result<String, RenderError> {
    CODEGEN.render(&[
        ("max_tokens", &max_tokens.to_string()),
        (
            "storage_binding",
            if file_storage {
                ", env.STORAGE (R2, this app's files)"
            } else {
                ""
            },
        ),
        (
            "storage_routes",
            if file_storage {
                ", and the files API: GET /api/files (listFiles), PUT, GET and DELETE /api/files/:name (putFile, getFile, deleteFile)"
            } else {
                ""
            },
        ),
        ("contract", &CONTRACT.render(&[])?),
    ])
}

/// The edit template's system message (edit mode and plan-change revisions).
pub fn edit_system(max_tokens: u32) -> Result<String, RenderError> {
    EDIT.render(&[
        ("max_tokens", &max_tokens.to_string()),
        ("contract", &CONTRACT.render(&[])?),
    ])
}

/// The repair steps' system message.
pub fn repair_system(max_tokens: u32) -> Result<String, RenderError> {
    REPAIR.render(&[
        ("max_tokens", &max_tokens.to_string()),
        ("contract", &CONTRACT.render(&[])?),
    ])
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The template has a placeholder no value was given for.
    Missing(String),
    /// A value was given for a placeholder the template does not have.
    Unknown(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Missing(n) => write!(f, "no value for placeholder {{{{{n}}}}}"),
            RenderError::Unknown(n) => write!(f, "the template has no placeholder {{{{{n}}}}}"),
        }
    }
}

impl std::error::Error for RenderError {}

impl Template {
    /// The first 16 hex digits of the SHA-256 of the template text (followed by the text of
    /// each included fragment, so a change to the contract changes the hash of every template
    /// that carries it).
    pub fn hash(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(self.text.as_bytes());
        for part in self.includes {
            digest.update(part.text.as_bytes());
        }
        digest
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The placeholder names, in order of first appearance.
    pub fn placeholders(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        let mut rest = self.text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = &after[..end];
            if !names.contains(&name) {
                names.push(name);
            }
            rest = &after[end + 2..];
        }
        names
    }

    /// The text with every placeholder replaced. Values are inserted verbatim (never re-scanned
    /// for placeholders).
    pub fn render(&self, values: &[(&str, &str)]) -> Result<String, RenderError> {
        let map: BTreeMap<&str, &str> = values.iter().copied().collect();
        let names = self.placeholders();
        if let Some(unknown) = map.keys().find(|k| !names.contains(k)) {
            return Err(RenderError::Unknown((*unknown).to_string()));
        }
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = &after[..end];
            let value = map
                .get(name)
                .ok_or_else(|| RenderError::Missing(name.to_string()))?;
            out.push_str(&rest[..start]);
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_short_stable_and_distinct() {
        let hashes: Vec<String> = ALL.iter().map(Template::hash).collect();
        for h in &hashes {
            assert_eq!(h.len(), 16);
            assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        }
        let mut unique = hashes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ALL.len());
        assert_eq!(PLAN.hash(), PLAN.hash());
        // The contract is part of the hash of every template that carries it.
        let bare = Template {
            includes: &[],
            ..CODEGEN
        };
        assert_ne!(bare.hash(), CODEGEN.hash());
    }

    #[test]
    fn render_fills_every_placeholder_and_refuses_gaps() {
        let t = Template {
            name: "t",
            text: "a {{x}} b {{y}} c {{x}}",
            includes: &[],
        };
        assert_eq!(t.placeholders(), vec!["x", "y"]);
        assert_eq!(
            t.render(&[("x", "1"), ("y", "{{x}}")]).unwrap(),
            "a 1 b {{x}} c 1"
        );
        assert_eq!(
            t.render(&[("x", "1")]),
            Err(RenderError::Missing("y".into()))
        );
        assert_eq!(
            t.render(&[("x", "1"), ("y", "2"), ("z", "3")]),
            Err(RenderError::Unknown("z".into()))
        );
    }

    #[test]
    fn the_shipped_templates_have_the_expected_placeholders() {
        assert_eq!(
            PLAN.placeholders(),
            vec!["max_entities", "max_fields", "max_pages", "max_features"]
        );
        assert_eq!(
            CODEGEN.placeholders(),
            vec![
                "max_tokens",
                "storage_binding",
                "storage_routes",
                "contract"
            ]
        );
        assert_eq!(REPAIR.placeholders(), vec!["max_tokens", "contract"]);
        assert_eq!(EDIT.placeholders(), vec!["max_tokens", "contract"]);
        assert!(CONTRACT.placeholders().is_empty());
        for text in [
            plan_system().unwrap(),
            codegen_system(8192, true).unwrap(),
            codegen_system(8192, false).unwrap(),
            edit_system(8192).unwrap(),
            repair_system(8192).unwrap(),
        ] {
            assert!(!text.contains("{{"), "{text}");
        }
        assert_eq!(CONTINUE.placeholders(), vec!["path", "tail"]);
    }

    #[test]
    fn templates_state_the_contract_they_are_recognised_by() {
        // The first lines identify the request kind (the local test server relies on them too).
        assert!(PLAN.text.starts_with("You plan web apps for Kiln."));
        assert!(CODEGEN
            .text
            .starts_with("You write the code of web apps for Kiln."));
        assert!(REPAIR
            .text
            .starts_with("You fix the code of web apps for Kiln."));
        assert!(CONTINUE.text.starts_with("Continue"));
        assert!(CODEGEN.text.contains("=== FILE: worker.js ==="));
        assert!(CONTRACT.text.contains("./_kiln/runtime.js"));
    }
}
