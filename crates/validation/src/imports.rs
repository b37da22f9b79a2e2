//! Import rules: what a worker module and a front-end module may import.
//!
//! | importer | may import |
//! |---|---|
//! | worker module (`worker.js`, `src/**`, `_kiln/runtime.js`) | relative paths to the app's worker modules (`./_kiln/runtime.js`, `./src/db.js`), and `cloudflare:workers` |
//! | front-end module (`public/**`) | `/x.js` (served from `public/x.js`) or relative paths inside `public/` |
//!
//! Nothing else: no bare specifiers (`lodash`, `node:fs`, `preact`), no URLs. Workers are
//! uploaded as the files themselves, with no `node_modules` to resolve from, and the front end's
//! content security policy allows the app's own origin only. The extension is required (browsers
//! and the Workers runtime do not guess one). Each refusal names the import and what is available
//! instead.

use std::collections::BTreeSet;

use super::js::Import;

/// Which side of the app a module runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Worker,
    FrontEnd,
}

/// The side a path's module runs on, if it is a JavaScript module at all.
pub(super) fn side_of(path: &str) -> Option<Side> {
    if !(path.ends_with(".js") || path.ends_with(".mjs")) {
        return None;
    }
    if path.starts_with("public/") {
        Some(Side::FrontEnd)
    } else if path == "worker.js" || path.starts_with("src/") || path.starts_with("_kiln/") {
        Some(Side::Worker)
    } else {
        None
    }
}

/// Most available modules named in one message.
const MAX_LISTED: usize = 6;

/// Front-end package names with their vendored replacement.
const VENDORED: [(&str, &str); 4] = [
    ("preact/hooks", "/_kiln/vendor/hooks.mjs"),
    ("htm/preact", "/_kiln/vendor/htm.mjs"),
    ("preact", "/_kiln/vendor/preact.mjs"),
    ("htm", "/_kiln/vendor/htm.mjs"),
];

/// Checks the imports of the module at `importer`; `files` are all paths of the app. Returns
/// `(byte offset, message)` per refused import.
pub(super) fn check(
    importer: &str,
    side: Side,
    imports: &[Import],
    files: &BTreeSet<&str>,
) -> Vec<(u32, String)> {
    imports
        .iter()
        .filter_map(|import| {
            let message = match &import.specifier {
                None => Some(computed(side)),
                Some(specifier) => match side {
                    Side::Worker => worker_import(importer, specifier, files),
                    Side::FrontEnd => front_end_import(importer, specifier, files),
                },
            };
            message.map(|m| (import.offset, m))
        })
        .collect()
}

/// The module an import names, when the import is one [`check`] accepts and it names a
/// JavaScript module of the app on the same side: the path whose exports the import relies on.
/// `None` for everything else (`cloudflare:workers`, refused or missing paths).
pub(super) fn target(
    importer: &str,
    side: Side,
    specifier: &str,
    files: &BTreeSet<&str>,
) -> Option<String> {
    if is_url(specifier) {
        return None;
    }
    let target = match side {
        Side::Worker if is_relative(specifier) => join(dir_of(importer), specifier)?,
        Side::Worker => return None,
        Side::FrontEnd => {
            let path = specifier.split(['?', '#']).next().unwrap_or_default();
            if let Some(absolute) = path.strip_prefix('/') {
                join("public", absolute)?
            } else if is_relative(path) {
                join(dir_of(importer), path)?
            } else {
                return None;
            }
        }
    };
    (files.contains(target.as_str()) && side_of(&target) == Some(side)).then_some(target)
}

fn computed(side: Side) -> String {
    let example = match side {
        Side::Worker => "\"./src/routes.js\"",
        Side::FrontEnd => "\"/app.js\"",
    };
    format!("import() with a computed path cannot be checked or bundled; import a fixed path such as {example}")
}

fn is_url(specifier: &str) -> bool {
    let lower = specifier.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("//")
}

fn is_relative(specifier: &str) -> bool {
    specifier.starts_with("./") || specifier.starts_with("../")
}

/// The directory of `path` (`""` at the top).
pub(super) fn dir_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Joins `base` (a directory) and a relative `specifier`, resolving `.` and `..`; `None` when it
/// climbs out of the app.
fn join(base: &str, specifier: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for segment in specifier.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// `to` as a relative specifier from a module in directory `from_dir`.
pub(super) fn relative(from_dir: &str, to: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    let target: Vec<&str> = to.split('/').collect();
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let ups = from.len() - common;
    let mut out = if ups == 0 {
        "./".to_string()
    } else {
        "../".repeat(ups)
    };
    out.push_str(&target[common..].join("/"));
    out
}

fn listed(mut names: Vec<String>) -> String {
    names.sort();
    names.dedup();
    let more = names.len() > MAX_LISTED;
    names.truncate(MAX_LISTED);
    let mut list = names.join(", ");
    if more {
        list.push_str(", …");
    }
    list
}

/// The worker modules available to `importer`, as it would import them.
fn worker_choices(importer: &str, files: &BTreeSet<&str>) -> String {
    let dir = dir_of(importer);
    let names = files
        .iter()
        .filter(|p| **p != importer && **p != "worker.js" && side_of(p) == Some(Side::Worker))
        .map(|p| relative(dir, p))
        .collect();
    listed(names)
}

fn worker_import(importer: &str, specifier: &str, files: &BTreeSet<&str>) -> Option<String> {
    if specifier == "cloudflare:workers" {
        return None;
    }
    let choices = || worker_choices(importer, files);
    if is_url(specifier) {
        return Some(format!(
            "import \"{specifier}\" loads code from the network, which a worker cannot do; import only the app's own modules: {}",
            choices()
        ));
    }
    if specifier.starts_with('/') {
        return Some(format!(
            "import \"{specifier}\" is an absolute path; worker modules import relative paths: {}",
            choices()
        ));
    }
    if !is_relative(specifier) {
        let runtime = relative(dir_of(importer), "_kiln/runtime.js");
        let own = files
            .iter()
            .filter(|p| {
                **p != importer
                    && **p != "worker.js"
                    && !p.starts_with("_kiln/")
                    && side_of(p) == Some(Side::Worker)
            })
            .map(|p| relative(dir_of(importer), p))
            .collect::<Vec<_>>();
        let own = if own.is_empty() {
            String::new()
        } else {
            format!(" ({})", listed(own))
        };
        return Some(format!(
            "import \"{specifier}\" is not available; import only {runtime} or the app's own modules{own}"
        ));
    }
    let Some(target) = join(dir_of(importer), specifier) else {
        return Some(format!(
            "import \"{specifier}\" points outside the app; available: {}",
            choices()
        ));
    };
    if files.contains(target.as_str()) {
        return match side_of(&target) {
            Some(Side::Worker) => None,
            Some(Side::FrontEnd) => Some(format!(
                "import \"{specifier}\" is a static asset under public/, not a worker module; available: {}",
                choices()
            )),
            None => Some(format!(
                "import \"{specifier}\" is not a JavaScript module (.js or .mjs); available: {}",
                choices()
            )),
        };
    }
    if let Some(with_ext) = [".js", ".mjs"]
        .iter()
        .map(|ext| format!("{target}{ext}"))
        .find(|p| files.contains(p.as_str()))
    {
        return Some(format!(
            "import \"{specifier}\" needs its file extension: \"{}\"",
            relative(dir_of(importer), &with_ext)
        ));
    }
    Some(format!(
        "import \"{specifier}\" does not match a file of the app; available: {}",
        choices()
    ))
}

/// The front-end modules available, as absolute paths (`/app.js`).
fn front_end_choices(importer: &str, files: &BTreeSet<&str>) -> String {
    let names = files
        .iter()
        .filter(|p| **p != importer && side_of(p) == Some(Side::FrontEnd))
        .filter_map(|p| p.strip_prefix("public"))
        .map(str::to_string)
        .collect();
    listed(names)
}

/// The vendored file replacing a package name or a CDN URL of it.
fn vendored_for(specifier: &str) -> Option<&'static str> {
    let lower = specifier.to_ascii_lowercase();
    if is_url(&lower) {
        // https://esm.sh/preact@10.19.3/hooks, https://unpkg.com/htm?module, …
        let after_host = lower
            .trim_start_matches("https:")
            .trim_start_matches("http:")
            .trim_start_matches("//");
        let path = after_host.split_once('/').map_or("", |(_, p)| p);
        let package = path.trim_start_matches("npm/");
        let name = package.split(['@', '/', '?']).next().unwrap_or_default();
        let hooks = package.contains("/hooks");
        return match name {
            "preact" if hooks => Some("/_kiln/vendor/hooks.mjs"),
            "preact" => Some("/_kiln/vendor/preact.mjs"),
            "htm" => Some("/_kiln/vendor/htm.mjs"),
            _ => None,
        };
    }
    VENDORED
        .iter()
        .find(|(name, _)| lower == *name)
        .map(|(_, file)| *file)
}

fn front_end_import(importer: &str, specifier: &str, files: &BTreeSet<&str>) -> Option<String> {
    let choices = || front_end_choices(importer, files);
    if is_url(specifier) {
        return Some(match vendored_for(specifier) {
            Some(file) => format!(
                "import \"{specifier}\" loads code from a CDN, which the app's content security policy blocks; import \"{file}\" (served by the app)"
            ),
            None => format!(
                "import \"{specifier}\" loads code from a CDN, which the app's content security policy blocks; import only the app's own files: {}",
                choices()
            ),
        });
    }
    let path = specifier.split(['?', '#']).next().unwrap_or_default();
    let target = if let Some(absolute) = path.strip_prefix('/') {
        join("public", absolute)
    } else if is_relative(path) {
        join(dir_of(importer), path)
    } else {
        return Some(match vendored_for(specifier) {
            Some(file) => format!(
                "import \"{specifier}\" does not resolve in the browser; import \"{file}\""
            ),
            None => format!(
                "import \"{specifier}\" is not available in the browser; import only the app's own files: {}",
                choices()
            ),
        });
    };
    match target {
        Some(t) if t.starts_with("public/") && files.contains(t.as_str()) => None,
        Some(t) if t.starts_with("public/") => {
            let missing = t.trim_start_matches("public");
            Some(format!(
                "import \"{specifier}\" does not match a file of the app (public{missing} is missing); available: {}",
                choices()
            ))
        }
        _ => Some(format!(
            "import \"{specifier}\" points outside public/; the browser can load only public/ files: {}",
            choices()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: [&str; 8] = [
        "worker.js",
        "_kiln/runtime.js",
        "src/db.js",
        "src/routes/tasks.js",
        "public/app.js",
        "public/lib/util.js",
        "public/_kiln/vendor/preact.mjs",
        "public/_kiln/vendor/hooks.mjs",
    ];

    fn refused(importer: &str, specifier: &str) -> Option<String> {
        let files: BTreeSet<&str> = APP.into_iter().collect();
        let side = side_of(importer).expect("a module");
        let import = Import {
            specifier: Some(specifier.to_string()),
            offset: 0,
            names: Vec::new(),
        };
        check(importer, side, &[import], &files)
            .pop()
            .map(|(_, m)| m)
    }

    #[test]
    fn worker_modules_import_the_runtime_and_their_own_modules() {
        for (importer, spec) in [
            ("worker.js", "./_kiln/runtime.js"),
            ("worker.js", "./src/db.js"),
            ("worker.js", "cloudflare:workers"),
            ("src/routes/tasks.js", "../db.js"),
            ("src/routes/tasks.js", "../../_kiln/runtime.js"),
        ] {
            assert_eq!(refused(importer, spec), None, "{importer} → {spec}");
        }
    }

    #[test]
    fn worker_refusals_name_the_import_and_the_choices() {
        let m = refused("worker.js", "lodash").unwrap();
        assert_eq!(
            m,
            "import \"lodash\" is not available; import only ./_kiln/runtime.js or the app's own modules (./src/db.js, ./src/routes/tasks.js)"
        );
        assert!(refused("worker.js", "node:fs")
            .unwrap()
            .contains("not available"));
        assert!(refused("worker.js", "cloudflare:sockets").is_some());
        assert!(refused("worker.js", "https://esm.sh/hono")
            .unwrap()
            .contains("network"));
        assert!(refused("worker.js", "./kiln/runtime.js")
            .unwrap()
            .contains("does not match"));
        assert!(refused("worker.js", "./src/db")
            .unwrap()
            .contains("\"./src/db.js\""));
        assert!(refused("worker.js", "../x.js")
            .unwrap()
            .contains("outside the app"));
        assert!(refused("worker.js", "./public/app.js")
            .unwrap()
            .contains("static asset under public/"));
        assert!(refused("worker.js", "/src/db.js")
            .unwrap()
            .contains("absolute"));
        let nested = refused("src/routes/tasks.js", "./db.js").unwrap();
        assert!(nested.contains("../db.js"), "{nested}");
    }

    #[test]
    fn front_end_modules_import_served_paths() {
        for spec in [
            "/_kiln/vendor/preact.mjs",
            "./lib/util.js",
            "/lib/util.js?v=2",
        ] {
            assert_eq!(refused("public/app.js", spec), None, "{spec}");
        }
        assert_eq!(refused("public/lib/util.js", "../app.js"), None);
    }

    #[test]
    fn front_end_refusals_point_at_the_vendored_files() {
        let m = refused("public/app.js", "https://esm.sh/preact@10.19.3/hooks").unwrap();
        assert!(m.contains("\"/_kiln/vendor/hooks.mjs\""), "{m}");
        let m = refused("public/app.js", "https://unpkg.com/htm?module").unwrap();
        assert!(m.contains("/_kiln/vendor/htm.mjs"), "{m}");
        let m = refused("public/app.js", "preact").unwrap();
        assert_eq!(
            m,
            "import \"preact\" does not resolve in the browser; import \"/_kiln/vendor/preact.mjs\""
        );
        let m = refused("public/app.js", "/_kiln/vendor/htm.mjs").unwrap();
        assert!(m.contains("public/_kiln/vendor/htm.mjs is missing"), "{m}");
        assert!(refused("public/app.js", "../worker.js")
            .unwrap()
            .contains("outside public/"));
        assert!(refused("public/app.js", "lodash")
            .unwrap()
            .contains("/lib/util.js"));
    }

    #[test]
    fn computed_dynamic_imports_are_refused() {
        let files: BTreeSet<&str> = APP.into_iter().collect();
        let import = Import {
            specifier: None,
            offset: 7,
            names: Vec::new(),
        };
        let got = check("worker.js", Side::Worker, &[import], &files);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 7);
    }

    #[test]
    fn relative_paths_are_computed_between_directories() {
        assert_eq!(relative("", "src/db.js"), "./src/db.js");
        assert_eq!(relative("src/routes", "src/db.js"), "../db.js");
        assert_eq!(relative("src", "_kiln/runtime.js"), "../_kiln/runtime.js");
        assert_eq!(join("src", "../../x.js"), None);
    }
}
