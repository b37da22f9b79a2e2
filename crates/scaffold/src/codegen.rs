//! Valid plan → the app's own files: `worker.js`, `migrations/0001_init.sql`, and the front end
//! (`public/index.html`, `public/app.js`, `public/styles.css`).
//!
//! Key decision: the generated code is explicit (one `crud(api, "/api/<table>", …)` line per
//! entity, one `api.route(...)` line per other endpoint, one `CREATE TABLE` per entity, the data
//! model spelled out in `app.js`) but thin: validation, access rules (visibility, moderation),
//! search, hashing, tokens and SQL live in the shared runtime (ADR 0020). So the app reads like hand-written code
//! and a model can later edit it file by file, while the sensitive parts stay in reviewed code.
//! Output is a pure function of the plan: no clock, no randomness, stable ordering.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use plan::inflect::singular;
use plan::luminance;
use plan::{humanize, Density, Entity, Field, FieldKind, Plan, Theme, ThemeMode, ValidPlan};

/// The front end's generic part. `@@APP_NAME_COMMENT@@` and `@@MODEL@@` are filled in; the lines
/// between `@@FILES_START@@` and `@@FILES_END@@` stay only for plans with file storage.
const APP_TEMPLATE: &str = include_str!("templates/app.js");
/// The stylesheet; `@@THEME@@` becomes the colour variables (see [`theme_variables`]).
const STYLES_TEMPLATE: &str = include_str!("templates/styles.css");

/// Accent colours (all readable with white text); the app name picks one.
const ACCENTS: [&str; 8] = [
    "#4f46e5", "#0e7490", "#15803d", "#b45309", "#be185d", "#7c3aed", "#1d4ed8", "#c2410c",
];

/// The files generated for a plan, as `(path, content)` in a fixed order. Runtime files (the
/// same in every app) are not included: see [`super::runtime_files`].
pub fn generate(plan: &ValidPlan) -> Vec<(String, String)> {
    let model = Model::new(plan.plan());
    vec![
        ("worker.js".into(), worker_js(&model)),
        ("migrations/0001_init.sql".into(), migration_sql(&model)),
        ("public/index.html".into(), index_html(&model)),
        ("public/app.js".into(), app_js(&model)),
        ("public/styles.css".into(), styles_css(&model)),
    ]
}

/// What the templates need, derived once from the plan.
struct Model<'a> {
    plan: &'a Plan,
    entities: Vec<EntityModel<'a>>,
    pages: Vec<PageModel>,
}

struct EntityModel<'a> {
    entity: &'a Entity,
    /// Lowercase singular display name: "task", "check-in".
    singular: String,
    /// Columns of other tables that reference this one: (table, column, cascade on delete).
    referenced_by: Vec<(String, String, bool)>,
}

struct PageModel {
    name: String,
    path: String,
    entity: Option<String>,
    /// The files page (plans with file storage).
    files: bool,
}

/// `base`, or `base-2`, `base-3`, … whichever no page uses yet.
fn unique_path(pages: &[PageModel], base: &str) -> String {
    let mut path = base.to_string();
    let mut n = 2;
    while pages.iter().any(|p| p.path == path) {
        path = format!("{base}-{n}");
        n += 1;
    }
    path
}

impl<'a> Model<'a> {
    fn new(plan: &'a Plan) -> Self {
        let entities = plan
            .entities
            .iter()
            .map(|entity| EntityModel {
                entity,
                singular: singular_label(&entity.label),
                referenced_by: plan
                    .entities
                    .iter()
                    .flat_map(|other| {
                        other.fields.iter().filter_map(move |f| match &f.kind {
                            // A required reference cannot be cleared, so its rows go too.
                            FieldKind::Reference(t) if *t == entity.name => {
                                Some((other.name.clone(), f.name.clone(), f.required))
                            }
                            _ => None,
                        })
                    })
                    .collect(),
            })
            .collect();

        // Every planned page, then a page for each entity that has none, so all data is reachable.
        let mut pages: Vec<PageModel> = plan
            .pages
            .iter()
            .map(|p| PageModel {
                name: p.name.clone(),
                path: p.path.clone(),
                entity: p.entity.clone(),
                files: false,
            })
            .collect();
        for entity in &plan.entities {
            if pages
                .iter()
                .any(|p| p.entity.as_deref() == Some(&entity.name))
            {
                continue;
            }
            let path = unique_path(&pages, &format!("/{}", entity.name.replace('_', "-")));
            pages.push(PageModel {
                name: entity.label.clone(),
                path,
                entity: Some(entity.name.clone()),
                files: false,
            });
        }
        if plan.file_storage {
            let path = unique_path(&pages, "/files");
            pages.push(PageModel {
                name: "Files".into(),
                path,
                entity: None,
                files: true,
            });
        }
        Model {
            plan,
            entities,
            pages,
        }
    }
}

/// "Check-ins" → "check-in", "Shopping items" → "shopping item".
fn singular_label(label: &str) -> String {
    let lower = label.to_lowercase();
    match lower.rsplit_once(' ') {
        Some((head, last)) => format!("{head} {}", singular(last)),
        None => singular(&lower),
    }
}

/// A JavaScript string literal (JSON strings are valid JavaScript since ES2019).
fn js(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialise")
}

/// Text that is safe inside a `//` comment: no line breaks of any kind.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// How a field is labelled in the UI: `due_date` → "Due date", `project_id` → "Project".
fn field_label(field: &Field) -> String {
    let name = match field.kind {
        FieldKind::Reference(_) => field.name.strip_suffix("_id").unwrap_or(&field.name),
        _ => &field.name,
    };
    humanize(name)
}

fn field_spec(field: &Field, with_label: bool) -> String {
    let mut out = format!("{{ name: {}", js(&field.name));
    if with_label {
        out.push_str(&format!(", label: {}", js(&field_label(field))));
    }
    out.push_str(&format!(", kind: {}", js(field.kind.runtime_name())));
    if let Some(target) = field.kind.references() {
        out.push_str(&format!(", references: {}", js(target)));
    }
    if field.kind == FieldKind::Choice {
        let values: Vec<String> = field.values.iter().map(|v| js(v)).collect();
        out.push_str(&format!(", values: [{}]", values.join(", ")));
    }
    out.push_str(&format!(", required: {} }}", field.required));
    out
}

/// Replaces each marker once, in one pass over the template, so text from the plan that happens
/// to contain a marker is never substituted again.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let extra: usize = values.iter().map(|(_, v)| v.len()).sum();
    let mut out = String::with_capacity(template.len() + extra);
    let mut rest = template;
    while let Some((at, marker, value)) = values
        .iter()
        .filter_map(|(m, v)| rest.find(m).map(|at| (at, *m, *v)))
        .min_by_key(|(at, _, _)| *at)
    {
        out.push_str(&rest[..at]);
        out.push_str(value);
        rest = &rest[at + marker.len()..];
    }
    out.push_str(rest);
    out
}

/// Keeps or drops the template lines between `@@FILES_START@@` and `@@FILES_END@@` (the marker
/// lines themselves always go).
fn files_section(template: &str, keep: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut inside = false;
    for line in template.split_inclusive('\n') {
        if line.contains("@@FILES_START@@") {
            inside = true;
        } else if line.contains("@@FILES_END@@") {
            inside = false;
        } else if keep || !inside {
            out.push_str(line);
        }
    }
    out
}

// ---- worker.js ---------------------------------------------------------------------------------

fn worker_js(model: &Model) -> String {
    let plan = model.plan;
    let mut out = String::new();
    out.push_str(&format!(
        "// worker.js: the API of \"{}\", generated by Kiln's offline generator from the app plan.\n",
        comment(&plan.app_name)
    ));
    out.push_str(
        "//\n\
         // The shared runtime (./_kiln/runtime.js) does the sensitive parts: password hashing, tokens,\n\
         // input validation per field kind, and SQL with bound parameters. crud() mounts each entity's\n\
         // routes (list with ?q= search, ?<field>= filters and ?sort=; create; read; update; delete) and\n\
         // applies its visibility: private rows are their owner's only (another user's row answers\n\
         // 404), shared rows are read by every signed-in user, public rows by anyone; only a row's\n\
         // author, or the app's admin (its first account) for shared and public rows, changes it.\n",
    );
    // json, readJson and requireUser are for routes of the app's own, added by later edits.
    let mut imports = vec![
        "Router",
        "json",
        "readJson",
        "requireUser",
        "register",
        "login",
        "me",
        "defineEntity",
        "crud",
    ];
    if plan.file_storage {
        out.push_str(
            "// Bindings: DB (D1), JWT_SECRET (secret, >= 32 characters), ASSETS (the public/ files),\n\
             // STORAGE (R2, this app's files).\n",
        );
        imports.extend(["listFiles", "putFile", "getFile", "deleteFile"]);
    } else {
        out.push_str(
            "// Bindings: DB (D1), JWT_SECRET (secret, >= 32 characters), ASSETS (the public/ files).\n",
        );
    }
    out.push_str(&format!(
        "import {{ {} }} from \"./_kiln/runtime.js\";\n\n",
        imports.join(", ")
    ));
    out.push_str(
        "// The data model. These table and column names are the only identifiers that reach SQL;\n\
         // defineEntity refuses anything but plain lowercase identifiers.\n\
         const entities = {\n",
    );
    for em in &model.entities {
        let e = em.entity;
        out.push_str(&format!("  {}: defineEntity({{\n", e.name));
        out.push_str(&format!("    table: {},\n", js(&e.name)));
        out.push_str(&format!("    label: {},\n", js(&em.singular)));
        out.push_str(&format!("    visibility: {},\n", js(e.visibility.as_str())));
        out.push_str("    fields: [\n");
        for f in &e.fields {
            out.push_str(&format!("      {},\n", field_spec(f, false)));
        }
        out.push_str("    ],\n");
        if !em.referenced_by.is_empty() {
            out.push_str("    referencedBy: [\n");
            for (table, column, cascade) in &em.referenced_by {
                out.push_str(&format!(
                    "      {{ table: {}, column: {}, onDelete: {} }},\n",
                    js(table),
                    js(column),
                    js(if *cascade { "cascade" } else { "set_null" })
                ));
            }
            out.push_str("    ],\n");
        }
        out.push_str("  }),\n");
    }
    out.push_str("};\n\nconst api = new Router();\n\n");
    out.push_str(
        "// Accounts: both answer {token, user}; send the token as `Authorization: Bearer <token>`.\n\
         api.route(\"POST\", \"/api/auth/register\", register);\n\
         api.route(\"POST\", \"/api/auth/login\", login);\n\
         api.route(\"GET\", \"/api/auth/me\", me);\n\n\
         // Per entity: GET/POST /api/<table>, GET/PUT/DELETE /api/<table>/:id.\n",
    );
    for em in &model.entities {
        let t = &em.entity.name;
        out.push_str(&format!("crud(api, \"/api/{t}\", entities.{t});\n"));
    }
    if plan.file_storage {
        out.push_str(
            "\n// Files: each user's own uploads in STORAGE, at most 5 MiB each, downloaded as attachments.\n\
             api.route(\"GET\", \"/api/files\", listFiles);\n\
             api.route(\"PUT\", \"/api/files/:name\", putFile);\n\
             api.route(\"GET\", \"/api/files/:name\", getFile);\n\
             api.route(\"DELETE\", \"/api/files/:name\", deleteFile);\n",
        );
    }
    out.push_str(
        "\nexport default {\n  \
           async fetch(request, env, ctx) {\n    \
             const { pathname } = new URL(request.url);\n    \
             if (pathname === \"/api\" || pathname.startsWith(\"/api/\")) return api.handle(request, env, ctx);\n    \
             // Everything else is a static file: index.html, app.js, styles.css, /_kiln/vendor/*.\n    \
             // The host serves index.html for front-end routes such as /tasks.\n    \
             return env.ASSETS.fetch(request);\n  \
           },\n\
         };\n",
    );
    out
}

// ---- migrations/0001_init.sql --------------------------------------------------------------------

fn column_sql(field: &Field) -> String {
    let name = &field.name;
    let ty = field.kind.sql_type();
    let not_null = if field.required { " NOT NULL" } else { "" };
    match field.kind {
        FieldKind::Boolean => format!("{name} {ty} NOT NULL DEFAULT 0 CHECK ({name} IN (0, 1))"),
        FieldKind::Rating => format!("{name} {ty}{not_null} CHECK ({name} BETWEEN 1 AND 5)"),
        FieldKind::Choice => {
            let values: Vec<String> = field.values.iter().map(|v| sql_string(v)).collect();
            format!(
                "{name} {ty}{not_null} CHECK ({name} IN ({}))",
                values.join(", ")
            )
        }
        _ => format!("{name} {ty}{not_null}"),
    }
}

/// A SQL string literal: quotes doubled. Only a validated plan's choice values reach it (one line,
/// no control characters), and SQLite reads a `;` inside a literal as text.
fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn migration_sql(model: &Model) -> String {
    // Comments name no plan text (app name, labels): a `;` in them could split a statement for a
    // naive migration runner, so the file holds only fixed words and validated identifiers.
    let mut out = String::from(
        "-- migrations/0001_init.sql: generated by Kiln's offline generator from the app plan.\n\
         -- Every table but users has user_id: each row belongs to one account and the API only reads\n\
         -- and writes the signed-in user's rows. References between tables are plain INTEGER columns\n\
         -- checked by the app (same owner), so deleting a row can clear or delete what points at it in\n\
         -- one transaction instead of failing on a foreign key.\n\n\
         CREATE TABLE users (\n  \
           id INTEGER PRIMARY KEY AUTOINCREMENT,\n  \
           email TEXT NOT NULL UNIQUE,\n  \
           password_hash TEXT NOT NULL,\n  \
           created_at TEXT NOT NULL\n\
         );\n",
    );
    let mut index_names: Vec<String> = Vec::new();
    let mut index_name = |table: &str, column: &str| {
        let base = format!("idx_{table}_{column}");
        let mut name = base.clone();
        let mut n = 2;
        while index_names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        index_names.push(name.clone());
        name
    };
    for em in &model.entities {
        let e = em.entity;
        out.push_str(&format!("\nCREATE TABLE {} (\n", e.name));
        out.push_str("  id INTEGER PRIMARY KEY AUTOINCREMENT,\n");
        out.push_str("  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n");
        for f in &e.fields {
            out.push_str(&format!("  {},\n", column_sql(f)));
        }
        out.push_str("  created_at TEXT NOT NULL,\n  updated_at TEXT NOT NULL\n);\n");
        out.push_str(&format!(
            "CREATE INDEX {} ON {} (user_id, id);\n",
            index_name(&e.name, "user_id"),
            e.name
        ));
        for f in e.fields.iter().filter(|f| f.kind.references().is_some()) {
            out.push_str(&format!(
                "CREATE INDEX {} ON {} ({});\n",
                index_name(&e.name, &f.name),
                e.name,
                f.name
            ));
        }
    }
    out
}

/// The migration that takes an app's database from `old`'s schema to `new`'s: `CREATE TABLE` for new
/// entities, `ALTER TABLE … ADD COLUMN` for new fields, indexes for new references. `None` when
/// nothing is added. Used for every build of a project that already has a live version, whichever
/// generator wrote the code: applied migrations are never rewritten.
///
/// Removed entities and fields are kept in the database (their data stays; the app no longer uses
/// them). Added columns are nullable even for required fields (SQLite cannot add a `NOT NULL`
/// column without a default to a table with rows; the app's input validation enforces
/// `required`), booleans get `NOT NULL DEFAULT 0`.
pub fn upgrade_migration(old: &Plan, new: &ValidPlan) -> Option<String> {
    upgrade_migration_over(old, new, &BTreeMap::new())
}

/// [`upgrade_migration`] for a database that may have more than `old`'s schema: tables and
/// columns in `existing` (lowercase table → lowercase columns, as its migrations left it) are not
/// created again. That is the case after a rollback, when the live plan is older than the
/// database: a column a later version added is already there.
pub fn upgrade_migration_over(
    old: &Plan,
    new: &ValidPlan,
    existing: &BTreeMap<String, BTreeSet<String>>,
) -> Option<String> {
    let mut statements = Vec::new();
    let old_entity = |name: &str| old.entities.iter().find(|e| e.name == name);
    for e in &new.plan().entities {
        let in_db = existing.get(&e.name.to_ascii_lowercase());
        let known = old_entity(&e.name).is_some() || in_db.is_some();
        let has = |field: &str| {
            old_entity(&e.name).is_some_and(|b| b.fields.iter().any(|f| f.name == field))
                || in_db.is_some_and(|c| c.contains(&field.to_ascii_lowercase()))
        };
        match known {
            false => {
                let mut table = format!("CREATE TABLE {} (\n", e.name);
                table.push_str("  id INTEGER PRIMARY KEY AUTOINCREMENT,\n");
                table.push_str(
                    "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n",
                );
                for f in &e.fields {
                    table.push_str(&format!("  {},\n", column_sql(f)));
                }
                table.push_str("  created_at TEXT NOT NULL,\n  updated_at TEXT NOT NULL\n);");
                statements.push(table);
                statements.push(format!(
                    "CREATE INDEX IF NOT EXISTS idx_{0}_user_id ON {0} (user_id, id);",
                    e.name
                ));
                for f in e.fields.iter().filter(|f| f.kind.references().is_some()) {
                    statements.push(format!(
                        "CREATE INDEX IF NOT EXISTS idx_{0}_{1} ON {0} ({1});",
                        e.name, f.name
                    ));
                }
            }
            true => {
                for f in &e.fields {
                    if has(&f.name) {
                        continue;
                    }
                    let column = Field {
                        required: false,
                        ..f.clone()
                    };
                    statements.push(format!(
                        "ALTER TABLE {} ADD COLUMN {};",
                        e.name,
                        column_sql(&column)
                    ));
                    if f.kind.references().is_some() {
                        statements.push(format!(
                            "CREATE INDEX IF NOT EXISTS idx_{0}_{1} ON {0} ({1});",
                            e.name, f.name
                        ));
                    }
                }
            }
        }
    }
    if statements.is_empty() {
        return None;
    }
    Some(format!(
        "-- Upgrade generated by Kiln from the previous plan: new tables and columns only; nothing is\n\
         -- dropped, so existing rows keep their data.\n\n{}\n",
        statements.join("\n")
    ))
}

// ---- front end ------------------------------------------------------------------------------------

fn index_html(model: &Model) -> String {
    let name = html_escape(&model.plan.app_name);
    let description = html_escape(&model.plan.summary.replace('\n', " "));
    let theme = model.plan.theme.clone().unwrap_or_default();
    // The theme's mode and density as attributes that styles.css reads (the CSP allows no inline
    // styles); its colours are the variables at the top of styles.css.
    let mode = if is_dark(&theme) { "dark" } else { "light" };
    let density = match theme.density {
        Density::Comfortable => "comfortable",
        Density::Compact => "compact",
    };
    format!(
        "<!doctype html>\n\
         <html lang=\"en\" data-mode=\"{mode}\" data-density=\"{density}\">\n  \
           <head>\n    \
             <meta charset=\"utf-8\" />\n    \
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n    \
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'\" />\n    \
             <meta name=\"description\" content=\"{description}\" />\n    \
             <title>{name}</title>\n    \
             <link rel=\"stylesheet\" href=\"/styles.css\" />\n    \
             <script type=\"module\" src=\"/app.js\"></script>\n  \
           </head>\n  \
           <body>\n    \
             <div id=\"app\"><main class=\"center\"><p class=\"muted\">Loading {name}…</p></main></div>\n    \
             <noscript>{name} needs JavaScript turned on.</noscript>\n  \
           </body>\n\
         </html>\n"
    )
}

fn app_js(model: &Model) -> String {
    let plan = model.plan;
    let mut m = String::new();
    let tagline = plan.theme.as_ref().map_or("", |t| t.tagline.as_str());
    m.push_str(&format!(
        "const APP = {{ name: {}, summary: {}, tagline: {} }};\n\n",
        js(&plan.app_name),
        js(&plan.summary),
        js(tagline)
    ));
    m.push_str("const ENTITIES = [\n");
    for em in &model.entities {
        let e = em.entity;
        m.push_str("  {\n");
        m.push_str(&format!("    table: {},\n", js(&e.name)));
        m.push_str(&format!("    api: {},\n", js(&format!("/api/{}", e.name))));
        m.push_str(&format!("    label: {},\n", js(&e.label)));
        m.push_str(&format!("    singular: {},\n", js(&em.singular)));
        m.push_str(&format!("    visibility: {},\n", js(e.visibility.as_str())));
        m.push_str("    fields: [\n");
        for f in &e.fields {
            m.push_str(&format!("      {},\n", field_spec(f, true)));
        }
        m.push_str("    ],\n  },\n");
    }
    m.push_str("];\n\nconst PAGES = [\n");
    for p in &model.pages {
        let entity = p.entity.as_deref().map_or("null".to_string(), js);
        let files = if p.files { ", files: true" } else { "" };
        m.push_str(&format!(
            "  {{ name: {}, path: {}, entity: {entity}{files} }},\n",
            js(&p.name),
            js(&p.path)
        ));
    }
    m.push_str("];");
    let template = files_section(APP_TEMPLATE, plan.file_storage);
    fill(
        &template,
        &[
            (
                "@@APP_NAME_COMMENT@@",
                &comment(&plan.app_name).replace('"', "'"),
            ),
            ("@@MODEL@@", &m),
        ],
    )
}

/// Whether pages are dark: the background colour decides when the theme has one (light text on
/// a light background would be unreadable), otherwise the theme's mode.
fn is_dark(theme: &Theme) -> bool {
    match &theme.background {
        Some(background) => luminance(background) < 0.35,
        None => theme.mode == ThemeMode::Dark,
    }
}

/// The colour variables at the top of styles.css: the theme's accent and background (or an accent
/// the app name picks, and the mode's background), the text colour on the accent (dark on light
/// accents, white on dark ones), and the mode's card, text, muted and border colours.
fn theme_variables(plan: &Plan) -> String {
    let theme = plan.theme.clone().unwrap_or_default();
    let digest = Sha256::digest(plan.app_name.as_bytes());
    let dark = is_dark(&theme);
    let accent = theme
        .accent
        .unwrap_or_else(|| ACCENTS[usize::from(digest[0]) % ACCENTS.len()].to_string());
    let on_accent = if luminance(&accent) > 0.45 {
        "#111827"
    } else {
        "#ffffff"
    };
    let background = theme
        .background
        .unwrap_or_else(|| if dark { "#0f172a" } else { "#f6f7f9" }.to_string());
    let (card, text, muted, border, input) = if dark {
        ("#1e293b", "#e5e7eb", "#9ca3af", "#334155", "#0b1220")
    } else {
        ("#ffffff", "#1d2330", "#667085", "#d9dde5", "#ffffff")
    };
    format!(
        "  --accent: {accent};\n  --on-accent: {on_accent};\n  --bg: {background};\n  --card: {card};\n  \
         --text: {text};\n  --muted: {muted};\n  --border: {border};\n  --input: {input};\n  \
         color-scheme: {};",
        if dark { "dark" } else { "light" }
    )
}

fn styles_css(model: &Model) -> String {
    fill(
        STYLES_TEMPLATE,
        &[("@@THEME@@", &theme_variables(model.plan))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use plan::Page;

    fn plan() -> Plan {
        serde_json::from_str(
            r#"{"app_name": "Lists </script> & \"more\"", "summary": "s",
                "entities": [
                  {"name": "lists", "label": "Lists", "fields": [{"name": "name", "kind": "text", "required": true}]},
                  {"name": "list_items", "label": "List items", "fields": [
                    {"name": "list_id", "kind": {"reference": "lists"}, "required": true},
                    {"name": "json", "kind": "boolean"},
                    {"name": "stars", "kind": "rating"}]}
                ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn entities_without_a_page_get_one_and_paths_stay_unique() {
        let mut p = plan();
        p.file_storage = true;
        p.pages = vec![
            Page {
                name: "Home".into(),
                path: "/lists".into(),
                entity: None,
            },
            Page {
                name: "Docs".into(),
                path: "/files".into(),
                entity: None,
            },
        ];
        let valid = p.validate().unwrap();
        let model = Model::new(valid.plan());
        let pages: Vec<(&str, Option<&str>, bool)> = model
            .pages
            .iter()
            .map(|p| (p.path.as_str(), p.entity.as_deref(), p.files))
            .collect();
        assert_eq!(
            pages,
            [
                ("/lists", None, false),
                ("/files", None, false),
                ("/lists-2", Some("lists"), false),
                ("/list-items", Some("list_items"), false),
                ("/files-2", None, true),
            ]
        );
    }

    #[test]
    fn required_references_cascade_and_optional_ones_are_cleared() {
        let valid = plan().validate().unwrap();
        let worker = worker_js(&Model::new(valid.plan()));
        assert!(
            worker.contains(r#"{ table: "list_items", column: "list_id", onDelete: "cascade" }"#)
        );
    }

    #[test]
    fn names_are_escaped_for_html_and_never_break_out_of_comments() {
        let valid = plan().validate().unwrap();
        let files = generate(&valid);
        let html = &files[2].1;
        assert!(html.contains("<title>Lists &lt;/script&gt; &amp; &quot;more&quot;</title>"));
        let app = &files[3].1;
        assert!(app.contains(r#"const APP = { name: "Lists </script> & \"more\"""#));
        assert!(app.starts_with("// public/app.js: the front end of \"Lists </script> & 'more'\""));
    }

    #[test]
    fn markers_in_plan_text_are_not_substituted() {
        let mut p = plan();
        p.app_name = "@@MODEL@@".into();
        let app = app_js(&Model::new(p.validate().unwrap().plan()));
        assert_eq!(app.matches("const ENTITIES = [").count(), 1);
        assert!(app.starts_with("// public/app.js: the front end of \"@@MODEL@@\""));
    }

    #[test]
    fn file_storage_adds_the_files_api_and_page() {
        let mut p = plan();
        let without = generate(&p.validate().unwrap());
        assert!(!without[0].1.contains("/api/files"));
        assert!(!without[3].1.contains("/api/files"));
        assert!(!without[3].1.contains("@@FILES"));
        p.file_storage = true;
        let with = generate(&p.validate().unwrap());
        assert!(with[0]
            .1
            .contains(r#"api.route("PUT", "/api/files/:name", putFile);"#));
        assert!(with[3].1.contains("function FilesPage("));
        assert!(with[3]
            .1
            .contains(r#"{ name: "Files", path: "/files", entity: null, files: true }"#));
    }

    #[test]
    fn booleans_and_ratings_get_check_constraints() {
        let valid = plan().validate().unwrap();
        let sql = migration_sql(&Model::new(valid.plan()));
        assert!(sql.contains("json INTEGER NOT NULL DEFAULT 0 CHECK (json IN (0, 1)),"));
        assert!(sql.contains("stars INTEGER CHECK (stars BETWEEN 1 AND 5),"));
        assert!(sql.contains("list_id INTEGER NOT NULL,"));
        assert!(sql.contains("CREATE INDEX idx_list_items_list_id ON list_items (list_id);"));
    }

    #[test]
    fn the_theme_becomes_css_variables_and_html_attributes_never_inline_styles() {
        let mut p = plan();
        let default = generate(&p.validate().unwrap());
        assert!(default[4].1.contains("  --bg: #f6f7f9;\n"));
        assert!(default[2]
            .1
            .contains("<html lang=\"en\" data-mode=\"light\" data-density=\"comfortable\">"));
        p.theme = Some(Theme {
            accent: Some("#E6E6FA".into()),
            background: None,
            mode: ThemeMode::Dark,
            density: Density::Compact,
            tagline: "Short & \"sweet\"".into(),
        });
        let files = generate(&p.validate().unwrap());
        let css = &files[4].1;
        assert!(
            css.contains("  --accent: #e6e6fa;\n  --on-accent: #111827;\n"),
            "{css}"
        );
        assert!(css.contains("  --bg: #0f172a;\n"), "{css}");
        assert!(css.contains("color-scheme: dark;"), "{css}");
        let html = &files[2].1;
        assert!(
            html.contains("data-mode=\"dark\" data-density=\"compact\""),
            "{html}"
        );
        assert!(
            !html.contains("style=") && !html.contains("<style"),
            "the CSP forbids inline styles: {html}"
        );
        assert!(files[3].1.contains(r#"tagline: "Short & \"sweet\"""#));
        // A light background wins over "dark": light text on it would be unreadable.
        p.theme.as_mut().unwrap().background = Some("#e6e6fa".into());
        let files = generate(&p.validate().unwrap());
        assert!(files[2].1.contains("data-mode=\"light\""));
        assert!(files[4].1.contains("  --bg: #e6e6fa;\n  --card: #ffffff;"));
    }

    #[test]
    fn singular_labels_use_the_last_word() {
        assert_eq!(singular_label("Check-ins"), "check-in");
        assert_eq!(singular_label("Shopping items"), "shopping item");
        assert_eq!(singular_label("Categories"), "category");
    }

    #[test]
    fn upgrades_add_tables_and_columns_and_nothing_else() {
        let old = planner::plan_from_prompt("a task manager with tasks").unwrap();
        let new = planner::plan_from_prompt("a task manager with tasks and projects")
            .unwrap()
            .validate()
            .unwrap();
        let sql = upgrade_migration(&old, &new).expect("projects are new");
        assert!(
            sql.contains("CREATE TABLE projects (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,"),
            "{sql}"
        );
        assert!(
            sql.contains("ALTER TABLE tasks ADD COLUMN project_id INTEGER;"),
            "{sql}"
        );
        assert!(
            sql.contains("CREATE INDEX IF NOT EXISTS idx_tasks_project_id ON tasks (project_id);")
        );
        assert!(!sql.contains("DROP "));
        // Same plan: nothing to do. Fewer entities: nothing is dropped.
        assert_eq!(upgrade_migration(new.plan(), &new), None);
        let back = old.validate().unwrap();
        assert_eq!(upgrade_migration(new.plan(), &back), None);
        // Required and boolean columns can be added to tables that already have rows.
        let mut more = new.plan().clone();
        more.entities[0].fields.push(Field {
            name: "urgent".into(),
            kind: FieldKind::Boolean,
            required: true,
            values: vec![],
        });
        more.entities[0].fields.push(Field {
            name: "owner_name".into(),
            kind: FieldKind::Text,
            required: true,
            values: vec![],
        });
        more.entities[0].fields.push(Field {
            name: "stage".into(),
            kind: FieldKind::Choice,
            required: true,
            values: vec!["new".into(), "won't do".into()],
        });
        let sql = upgrade_migration(new.plan(), &more.validate().unwrap()).unwrap();
        assert!(
            sql.contains("ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1));"),
            "{sql}"
        );
        assert!(sql.contains("ADD COLUMN owner_name TEXT;"), "{sql}");
        // A choice added later keeps its CHECK (quotes doubled), nullable like any added column.
        assert!(
            sql.contains("ADD COLUMN stage TEXT CHECK (stage IN ('new', 'won''t do'));"),
            "{sql}"
        );
    }

    #[test]
    fn an_upgrade_over_a_database_ahead_of_the_live_plan_adds_only_what_is_missing() {
        // Live plan: v1's tasks (after a rollback); the database already has tasks.priority
        // from v2. A new plan with a priority and projects adds only projects.
        let old = planner::plan_from_prompt("a task manager with tasks").unwrap();
        let new = planner::plan_from_prompt("a task manager with tasks with priority and projects")
            .unwrap()
            .validate()
            .unwrap();
        let existing: BTreeMap<String, BTreeSet<String>> = [(
            "tasks".to_string(),
            ["id", "title", "priority"].map(String::from).into(),
        )]
        .into();
        let plain = upgrade_migration(&old, &new).unwrap();
        assert!(plain.contains("ADD COLUMN priority"), "{plain}");
        let over = upgrade_migration_over(&old, &new, &existing).unwrap();
        assert!(!over.contains("priority"), "{over}");
        assert!(over.contains("CREATE TABLE projects"), "{over}");
    }
}
