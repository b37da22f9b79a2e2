//! Imported names: every name a module takes from another module of the app with a static
//! `import { a, b as c } from "X"`, `import d from "X"` or `export { a } from "X"` must be
//! exported by X, or the module graph fails to link at run time (a blank front end, or a Worker
//! that does not load) where no repair round sees it.
//!
//! X is any module an accepted import resolves to (see `imports::target`): the app's own
//! modules and the shipped runtime files ([`runtime_files`]), which count whether the app holds
//! a byte-identical copy (not parsed again in the main pass) or none at all (the host adds them).
//! What a module exports is read from its top-level statements (`js::Exports`); `export * from`
//! adds the names of the modules it names, followed at most [`MAX_STAR_DEPTH`] levels deep. A
//! default import needs an `export default` (or `export { x as default }`); `export *` never
//! passes one on. Namespace imports (`import * as x`) take no name and need nothing.
//!
//! Each message names the missing name and the module, and then the likeliest fix: a name the
//! app's own module X declares without `export` is reported in X, at the declaration (a repair
//! round sees the files its diagnostics name, and that is the file to change); a name another
//! module on the same side exports points at that module (`useState` is in hooks.mjs, not
//! preact.mjs); otherwise the nearest names by edit distance (`did you mean "listQuery"?`) and at
//! most [`MAX_LISTED`] of X's exports, nearest first.
//!
//! Nothing is reported when any part of X's exports is unknown: X does not parse (its syntax
//! error is reported instead), is too large to check, or star-exports a module that cannot be
//! read, or the chain is deeper than [`MAX_STAR_DEPTH`].
//!
//! The shipped runtime files' exports are parsed once per process (per isolate in a Worker) and
//! kept in a `OnceLock` ([`shipped`]): each file the first time an import needs it.
//!
//! [`runtime_files`]: scaffold::runtime_files

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use scaffold::runtime_files;

use super::imports::{self, Side};
use super::js::{self, Exports, Goal, Import, Wanted};

/// How many `export * from` levels are followed from the imported module.
pub(super) const MAX_STAR_DEPTH: usize = 4;

/// Most export names listed in one message.
const MAX_LISTED: usize = 8;

/// How a module at `path` on `side` is parsed.
pub(super) fn goal_of(path: &str, side: Side) -> Goal {
    if side == Side::FrontEnd && path.ends_with(".js") {
        Goal::Unambiguous
    } else {
        Goal::Module
    }
}

/// One shipped runtime module and its exports, parsed on first use.
struct Shipped {
    path: &'static str,
    content: &'static str,
    exports: OnceLock<Option<Exports>>,
}

/// The exports of the shipped runtime module at `path` (`None` for other paths).
fn shipped(path: &str) -> Option<&'static Exports> {
    static SHIPPED: OnceLock<Vec<Shipped>> = OnceLock::new();
    let files = SHIPPED.get_or_init(|| {
        runtime_files()
            .into_iter()
            .filter(|(path, _)| imports::side_of(path).is_some())
            .map(|(path, content)| Shipped {
                path,
                content,
                exports: OnceLock::new(),
            })
            .collect()
    });
    let file = files.iter().find(|f| f.path == path)?;
    file.exports
        .get_or_init(|| {
            let side = imports::side_of(file.path)?;
            js::exports_of(file.content, goal_of(file.path, side))
        })
        .as_ref()
}

/// Everything a module exports, star exports followed.
#[derive(Debug, Clone)]
struct Resolved {
    names: BTreeSet<String>,
    /// Names the module declares at the top level without exporting them, with their offsets.
    declared: BTreeMap<String, u32>,
}

/// The modules of one app, as far as their exports go.
pub(super) struct Modules<'a> {
    /// Exports of the modules parsed in this run; `None` for one with a syntax error.
    parsed: BTreeMap<&'a str, Option<Exports>>,
    /// The app's files as given.
    app: &'a BTreeMap<&'a str, &'a str>,
    /// Every path present: the app's and the runtime's.
    present: &'a BTreeSet<&'a str>,
    /// The shipped runtime files.
    runtime: &'a BTreeMap<&'a str, &'a str>,
    resolved: BTreeMap<String, Option<Resolved>>,
}

impl<'a> Modules<'a> {
    pub(super) fn new(
        app: &'a BTreeMap<&'a str, &'a str>,
        present: &'a BTreeSet<&'a str>,
        runtime: &'a BTreeMap<&'a str, &'a str>,
    ) -> Self {
        Modules {
            parsed: BTreeMap::new(),
            app,
            present,
            runtime,
            resolved: BTreeMap::new(),
        }
    }

    /// Records what the module at `path` exports (`None`: it did not parse).
    pub(super) fn parsed(&mut self, path: &'a str, exports: Option<Exports>) {
        self.parsed.insert(path, exports);
    }

    /// The module's own exports, when known.
    fn exports(&self, path: &str) -> Option<&Exports> {
        if let Some(parsed) = self.parsed.get(path) {
            return parsed.as_ref();
        }
        match (self.app.get(path), self.runtime.get(path)) {
            // Identical to the shipped file, or absent (the host adds it).
            (Some(content), Some(shipped_content)) if content == shipped_content => shipped(path),
            (None, Some(_)) => shipped(path),
            // Not parsed (too large, not a module): unknown.
            _ => None,
        }
    }

    /// Every name `path` exports, `export *` followed; `None` when any part is unknown.
    fn resolve(&mut self, path: &str) -> Option<Resolved> {
        if let Some(done) = self.resolved.get(path) {
            return done.clone();
        }
        let mut names = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let resolved = self.collect(path, 0, &mut seen, &mut names).and_then(|()| {
            Some(Resolved {
                names,
                declared: self.exports(path)?.declared.clone(),
            })
        });
        self.resolved.insert(path.to_string(), resolved.clone());
        resolved
    }

    fn collect(
        &self,
        path: &str,
        depth: usize,
        seen: &mut BTreeSet<String>,
        names: &mut BTreeSet<String>,
    ) -> Option<()> {
        if !seen.insert(path.to_string()) {
            // A cycle: this module's names are already counted.
            return Some(());
        }
        let exports = self.exports(path)?;
        names.extend(
            exports
                .names
                .iter()
                .filter(|name| depth == 0 || *name != "default")
                .cloned(),
        );
        if exports.stars.is_empty() {
            return Some(());
        }
        if depth >= MAX_STAR_DEPTH {
            return None;
        }
        let side = imports::side_of(path)?;
        for star in &exports.stars {
            let target = imports::target(path, side, star, self.present)?;
            self.collect(&target, depth + 1, seen, names)?;
        }
        Some(())
    }

    /// Checks the names `import` (an import of the module at `importer`) takes from the module
    /// it names: a finding per missing name.
    pub(super) fn check(&mut self, importer: &str, side: Side, import: &Import) -> Vec<Finding> {
        if import.names.is_empty() {
            return Vec::new();
        }
        let Some(specifier) = import.specifier.as_deref() else {
            return Vec::new();
        };
        let Some(target) = imports::target(importer, side, specifier, self.present) else {
            return Vec::new();
        };
        let Some(resolved) = self.resolve(&target) else {
            return Vec::new();
        };
        import
            .names
            .iter()
            .filter(|wanted| !resolved.names.contains(&wanted.name))
            .map(|wanted| {
                // A forgotten `export` in the app's own module is fixed there (the runtime's
                // internal names are not for import).
                let declared = resolved
                    .declared
                    .get(&wanted.name)
                    .filter(|_| !self.runtime.contains_key(target.as_str()));
                if let Some(&offset) = declared {
                    return Finding {
                        path: target.clone(),
                        offset,
                        message: format!(
                            "\"{}\" is declared here but not exported, and {importer} imports it; write export before its declaration",
                            wanted.name
                        ),
                    };
                }
                let elsewhere = if wanted.name == "default" {
                    None
                } else {
                    self.elsewhere(importer, side, &target, &wanted.name)
                };
                let slip = Slip {
                    specifier,
                    side,
                    wanted,
                    elsewhere,
                };
                Finding {
                    path: importer.to_string(),
                    offset: wanted.offset,
                    message: slip.message(&resolved),
                }
            })
            .collect()
    }

    /// Another module on `side` that exports `name` itself, as `importer` would name it: the
    /// name was taken from the wrong module (`useState` from preact.mjs instead of hooks.mjs).
    fn elsewhere(&self, importer: &str, side: Side, target: &str, name: &str) -> Option<String> {
        let path = self.present.iter().copied().find(|p| {
            *p != target
                && *p != importer
                && imports::side_of(p) == Some(side)
                && self.exports(p).is_some_and(|e| e.names.contains(name))
        })?;
        Some(match side {
            Side::Worker => imports::relative(imports::dir_of(importer), path),
            Side::FrontEnd => path.strip_prefix("public").unwrap_or(path).to_string(),
        })
    }
}

/// A missing name, reported in the file to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    /// The importing module, or the imported one when the fix is an `export` there.
    pub path: String,
    /// Byte offset in that file.
    pub offset: u32,
    pub message: String,
}

/// One name a module does not export, with what is known to fix it.
struct Slip<'s> {
    /// The import's specifier, as written.
    specifier: &'s str,
    side: Side,
    wanted: &'s Wanted,
    /// Another module that exports the name, as the importer would name it.
    elsewhere: Option<String>,
}

impl Slip<'_> {
    fn message(&self, resolved: &Resolved) -> String {
        let (specifier, wanted) = (self.specifier, self.wanted);
        if wanted.name == "default" {
            return missing_default(specifier, wanted, &resolved.names);
        }
        let head = format!("\"{specifier}\" has no export \"{}\"", wanted.name);
        if let Some(other) = &self.elsewhere {
            return format!(
                "{head}; \"{other}\" exports it: import {{ {} }} from \"{other}\"",
                wanted.name
            );
        }
        if wanted.name == "html" && self.side == Side::FrontEnd {
            return format!(
                "{head}; html comes from htm: import htm from \"/_kiln/vendor/htm.mjs\" and write const html = htm.bind(h) (h from \"/_kiln/vendor/preact.mjs\")"
            );
        }
        missing_name(&head, specifier, wanted, &resolved.names)
    }
}

/// The message for a default import of a module without a default export.
fn missing_default(specifier: &str, wanted: &Wanted, names: &BTreeSet<String>) -> String {
    let named: Vec<&str> = names.iter().map(String::as_str).collect();
    let fix = if named.contains(&wanted.local.as_str()) {
        format!(
            "import it by name: import {{ {} }} from \"{specifier}\"",
            wanted.local
        )
    } else if named.is_empty() {
        "it exports nothing".to_string()
    } else {
        format!(
            "import its named exports instead, as in import {{ {} }} from \"{specifier}\"; it exports: {}",
            closest(&wanted.local, &named, 1).join(", "),
            listed(&wanted.local, &named)
        )
    };
    format!("\"{specifier}\" has no default export; {fix}")
}

/// The message for a named import the module lacks: a near name, or what it does export.
fn missing_name(head: &str, specifier: &str, wanted: &Wanted, names: &BTreeSet<String>) -> String {
    let named: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "default")
        .collect();
    if named.is_empty() && names.contains("default") {
        return format!(
            "{head}; it has only a default export: import {} from \"{specifier}\"",
            wanted.local
        );
    }
    let mut message = head.to_string();
    let near = near(&wanted.name, &named);
    if !near.is_empty() {
        let quoted: Vec<String> = near.iter().map(|n| format!("\"{n}\"")).collect();
        message.push_str(&format!("; did you mean {}?", quoted.join(" or ")));
    }
    // After a question mark the list follows without a semicolon.
    let joint = if near.is_empty() { "; " } else { " " };
    if names.is_empty() {
        message.push_str(&format!("{joint}it exports nothing"));
    } else {
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        message.push_str(&format!(
            "{joint}it exports: {}",
            listed(&wanted.name, &all)
        ));
    }
    message
}

/// The names close enough to `wanted` to be what was meant (a typo, a wrong case), nearest
/// first, at most three.
fn near<'n>(wanted: &str, names: &[&'n str]) -> Vec<&'n str> {
    let allowed = (wanted.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (distance(wanted, n), *n))
        .filter(|(d, _)| *d <= allowed)
        .collect();
    scored.sort();
    let Some(&(best, _)) = scored.first() else {
        return Vec::new();
    };
    scored
        .into_iter()
        .take_while(|(d, _)| *d == best)
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

/// The `count` names nearest to `wanted`, nearest first (ties alphabetical).
fn closest<'n>(wanted: &str, names: &[&'n str], count: usize) -> Vec<&'n str> {
    let mut scored: Vec<(usize, &str)> = names.iter().map(|n| (distance(wanted, n), *n)).collect();
    scored.sort();
    scored.into_iter().take(count).map(|(_, n)| n).collect()
}

/// `names` for a message: all of them, sorted, when few; otherwise the [`MAX_LISTED`] nearest
/// to `wanted` and how many there are.
fn listed(wanted: &str, names: &[&str]) -> String {
    if names.len() <= MAX_LISTED {
        let mut all = names.to_vec();
        all.sort_unstable();
        return all.join(", ");
    }
    format!(
        "{}, … ({} in all)",
        closest(wanted, names, MAX_LISTED).join(", "),
        names.len()
    )
}

/// Edit distance (insertions, deletions, substitutions), ignoring case: a wrong case is the
/// closest of slips.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits_and_ignores_case() {
        assert_eq!(distance("useCallbak", "useCallback"), 1);
        assert_eq!(distance("listQuery2", "listQuery"), 1);
        assert_eq!(distance("usestate", "useState"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn near_names_are_typos_not_strangers() {
        let names = ["useCallback", "useContext", "useEffect", "useState"];
        assert_eq!(near("useCallbak", &names), ["useCallback"]);
        assert_eq!(near("useStat", &names), ["useState"]);
        assert!(near("render", &names).is_empty());
        assert!(near("x", &["y", "zz"]).len() == 1);
    }

    #[test]
    fn long_lists_are_bounded_to_the_nearest_names() {
        let names: Vec<String> = (0..30).map(|i| format!("name{i:02}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let shown = listed("name07x", &names);
        assert!(shown.starts_with("name07, "), "{shown}");
        assert!(shown.ends_with(", … (30 in all)"), "{shown}");
        assert_eq!(shown.matches(", ").count(), MAX_LISTED);
        assert_eq!(listed("a", &["c", "b"]), "b, c");
    }

    #[test]
    fn the_shipped_runtime_exports_are_read_once() {
        let runtime = shipped("_kiln/runtime.js").expect("the runtime parses");
        for name in ["crud", "json", "listQuery", "Router", "requireUser"] {
            assert!(runtime.names.contains(name), "{name}");
        }
        let hooks = shipped("public/_kiln/vendor/hooks.mjs").expect("hooks parse");
        assert!(hooks.names.contains("useCallback"));
        assert!(!hooks.names.contains("default"));
        let htm = shipped("public/_kiln/vendor/htm.mjs").expect("htm parses");
        assert!(htm.names.contains("default"));
        assert!(std::ptr::eq(runtime, shipped("_kiln/runtime.js").unwrap()));
        assert!(shipped("public/_kiln/vendor/LICENSES.txt").is_none());
        assert!(shipped("worker.js").is_none());
    }
}
