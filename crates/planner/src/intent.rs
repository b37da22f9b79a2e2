//! What a prompt says beyond its records: who reads them (each entity's [`Visibility`]) and how
//! the app looks (its [`Theme`]). Both are read from plain words after the planner has found the
//! entities, and change nothing when the prompt says nothing about them.
//!
//! Key decision: only explicit words count. "a blog" alone stays private (today's behaviour);
//! "a blog that visitors can read", "public recipes", "everyone can see" make entities public;
//! "shared with the team" makes them shared. Words in the same sentence or clause as an entity's
//! name apply to that entity; when no entity is named near them, they apply to every entity. A
//! shared or public entity that references a private one lifts it to its own visibility, so
//! readers can always see what a row points at (plan validation requires that).

use super::words::singular;
use plan::luminance;
use plan::{Density, Plan, Theme, ThemeMode, Visibility};

/// Phrases that mean "anyone reads this, also signed out".
const PUBLIC: [&str; 16] = [
    "public",
    "visitor",
    "everyone can",
    "anyone can",
    "without signing",
    "without sign",
    "without logging",
    "without log",
    "without an account",
    "without registering",
    "signed out",
    "signed-out",
    "logged out",
    "the world",
    "the public",
    "guests can",
];

/// Phrases that mean "every signed-in user reads this".
const SHARED: [&str; 12] = [
    "shared with",
    "share with",
    "share them",
    "share it",
    "the team",
    "my team",
    "our team",
    "team members",
    "teammates",
    "colleagues",
    "coworkers",
    "every member",
];

/// Colour words and their hex values; two-word names first so "light blue" wins over "blue".
const COLOURS: [(&str, &str); 48] = [
    ("light blue", "#93c5fd"),
    ("sky blue", "#0ea5e9"),
    ("navy blue", "#1e3a8a"),
    ("dark blue", "#1e40af"),
    ("light green", "#86efac"),
    ("dark green", "#166534"),
    ("forest green", "#166534"),
    ("light pink", "#fbcfe8"),
    ("hot pink", "#db2777"),
    ("light gray", "#e5e7eb"),
    ("light grey", "#e5e7eb"),
    ("dark gray", "#374151"),
    ("dark grey", "#374151"),
    ("off white", "#faf9f6"),
    ("lavender", "#e6e6fa"),
    ("indigo", "#4f46e5"),
    ("violet", "#7c3aed"),
    ("purple", "#7e22ce"),
    ("lilac", "#c8a2c8"),
    ("plum", "#8e4585"),
    ("blue", "#2563eb"),
    ("navy", "#1e3a8a"),
    ("teal", "#0d9488"),
    ("turquoise", "#0891b2"),
    ("cyan", "#0891b2"),
    ("aqua", "#06b6d4"),
    ("green", "#16a34a"),
    ("emerald", "#059669"),
    ("mint", "#d1fae5"),
    ("olive", "#4d7c0f"),
    ("lime", "#65a30d"),
    ("yellow", "#ca8a04"),
    ("gold", "#b45309"),
    ("amber", "#d97706"),
    ("orange", "#ea580c"),
    ("coral", "#f97360"),
    ("peach", "#ffe5b4"),
    ("red", "#dc2626"),
    ("crimson", "#be123c"),
    ("maroon", "#7f1d1d"),
    ("pink", "#ec4899"),
    ("rose", "#e11d48"),
    ("brown", "#92400e"),
    ("beige", "#f5f5dc"),
    ("cream", "#fffdd0"),
    ("white", "#ffffff"),
    ("black", "#111111"),
    ("gray", "#6b7280"),
];

/// Words after (or before) a colour that make it the page background.
const BACKGROUND_WORDS: [&str; 5] = ["background", "backgrounds", "backdrop", "page", "pages"];
/// Words after a colour that make it the accent.
const ACCENT_WORDS: [&str; 10] = [
    "components",
    "component",
    "buttons",
    "button",
    "accent",
    "accents",
    "links",
    "highlights",
    "headers",
    "header",
];

/// Sets visibility and theme on a plan made from `prompt`.
pub(super) fn apply(prompt: &str, plan: &mut Plan) {
    let choice = visibilities(prompt, plan);
    for (entity, visibility) in plan.entities.iter_mut().zip(choice) {
        entity.visibility = visibility;
    }
    lift_referenced(plan);
    if plan.entities.iter().any(|e| !e.visibility.is_private()) {
        plan.summary = summary(plan);
    }
    plan.theme = theme_from_prompt(prompt);
}

/// Lowercase words and the clauses they sit in: a clause ends at `.`, `,`, `;`, `:`, `!`, `?`
/// or a line break.
fn clauses(prompt: &str) -> Vec<String> {
    prompt
        .to_lowercase()
        .split(['.', ',', ';', ':', '!', '?', '\n'])
        .map(|c| format!(" {} ", c.split_whitespace().collect::<Vec<_>>().join(" ")))
        .filter(|c| !c.trim().is_empty())
        .collect()
}

/// Whether `clause` names the entity (its table name or label, plural or singular).
fn names(clause: &str, table: &str, label: &str) -> bool {
    let mut forms = Vec::new();
    for text in [table.replace('_', " "), label.to_lowercase()] {
        forms.push(singular(&text));
        forms.push(text);
    }
    forms
        .iter()
        .any(|f| !f.is_empty() && clause.contains(&format!(" {f}")))
}

fn mentions(clause: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| {
        clause.contains(p)
            && !clause.contains(&format!("not {p}"))
            && !clause.contains(&format!("non-{p}"))
            && !clause.contains(&format!("non {p}"))
    })
}

/// The visibility of each entity of `plan`, in order, as the prompt's words decide.
pub(super) fn visibilities(prompt: &str, plan: &Plan) -> Vec<Visibility> {
    let clauses = clauses(prompt);
    let mut out = vec![Visibility::Private; plan.entities.len()];
    for (phrases, visibility) in [
        (&SHARED[..], Visibility::Shared),
        (&PUBLIC[..], Visibility::Public),
    ] {
        let said: Vec<&String> = clauses.iter().filter(|c| mentions(c, phrases)).collect();
        if said.is_empty() {
            continue;
        }
        let named: Vec<usize> = plan
            .entities
            .iter()
            .enumerate()
            .filter(|(_, e)| said.iter().any(|c| names(c, &e.name, &e.label)))
            .map(|(i, _)| i)
            .collect();
        let chosen: Vec<usize> = if named.is_empty() {
            (0..plan.entities.len()).collect()
        } else {
            named
        };
        for i in chosen {
            out[i] = visibility;
        }
    }
    out
}

/// A shared or public entity that references a private one lifts it to its own visibility
/// (public over shared), until nothing changes.
fn lift_referenced(plan: &mut Plan) {
    let rank = |v: Visibility| match v {
        Visibility::Private => 0,
        Visibility::Shared => 1,
        Visibility::Public => 2,
    };
    loop {
        let mut changed = false;
        for i in 0..plan.entities.len() {
            let visibility = plan.entities[i].visibility;
            let targets: Vec<String> = plan.entities[i]
                .fields
                .iter()
                .filter_map(|f| f.kind.references().map(str::to_string))
                .collect();
            for target in targets {
                if let Some(t) = plan.entities.iter_mut().find(|e| e.name == target) {
                    if rank(t.visibility) < rank(visibility) {
                        t.visibility = visibility;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The summary of a plan with shared or public data: what it keeps and who reads what.
fn summary(plan: &Plan) -> String {
    let labels = |v: Visibility| -> Vec<String> {
        plan.entities
            .iter()
            .filter(|e| e.visibility == v)
            .map(|e| e.label.to_lowercase())
            .collect()
    };
    let all: Vec<String> = plan
        .entities
        .iter()
        .map(|e| e.label.to_lowercase())
        .collect();
    let mut out = format!("{} keeps {}.", plan.app_name, join_and(&all));
    let public = labels(Visibility::Public);
    if !public.is_empty() {
        out.push_str(&format!(
            " Anyone can read the {} without signing in; signed-in people add their own.",
            join_and(&public)
        ));
    }
    let shared = labels(Visibility::Shared);
    if !shared.is_empty() {
        out.push_str(&format!(
            " Every signed-in member sees all {}.",
            join_and(&shared)
        ));
    }
    let private = labels(Visibility::Private);
    if !private.is_empty() {
        out.push_str(&format!(
            " Each person's {} stay their own.",
            join_and(&private)
        ));
    }
    out.push_str(" Authors edit their own entries; the first account is the admin and moderates.");
    out
}

/// The theme the prompt asks for, or None when it names no colour, mode, density or tagline.
pub(super) fn theme_from_prompt(prompt: &str) -> Option<Theme> {
    let lower = prompt.to_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    let mut theme = Theme::default();
    let mut said = false;
    let mut loose: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let found = COLOURS.iter().find(|(name, _)| {
            let parts: Vec<&str> = name.split(' ').collect();
            words.len() >= i + parts.len()
                && parts.iter().enumerate().all(|(k, p)| words[i + k] == *p)
        });
        let Some((name, hex)) = found else {
            i += 1;
            continue;
        };
        let len = name.split(' ').count();
        let after: Vec<&str> = words[i + len..]
            .iter()
            .take(2)
            .map(String::as_str)
            .collect();
        let before = if i >= 2 { words[i - 2].as_str() } else { "" };
        let is = |set: &[&str]| after.iter().any(|w| set.contains(w));
        if is(&BACKGROUND_WORDS) || (before == "background" && i >= 1 && words[i - 1] == "of") {
            theme.background.get_or_insert_with(|| hex.to_string());
        } else if is(&ACCENT_WORDS) {
            theme.accent.get_or_insert_with(|| hex.to_string());
        } else if i >= 1 && words[i - 1] == "in" {
            // "in teal": the app's colour. A colour elsewhere ("red wines") describes records.
            loose.push(hex);
        } else {
            i += len;
            continue;
        }
        said = true;
        i += len;
    }
    for hex in loose {
        if theme.accent.is_none() {
            theme.accent = Some(hex.to_string());
        }
    }
    let has = |w: &str| words.iter().any(|x| x == w);
    let dark_colour = |w: &str| {
        COLOURS
            .iter()
            .any(|(n, _)| n.starts_with("dark ") && n.ends_with(w))
    };
    let dark_word = words
        .windows(2)
        .any(|p| p[0] == "dark" && !dark_colour(&p[1]))
        || words.last().is_some_and(|w| w == "dark");
    if dark_word || has("night") {
        theme.mode = ThemeMode::Dark;
        said = true;
    } else if let Some(bg) = &theme.background {
        if luminance(bg) < 0.2 {
            theme.mode = ThemeMode::Dark;
        }
    }
    if has("compact") || has("dense") || has("condensed") {
        theme.density = Density::Compact;
        said = true;
    }
    if let Some(tagline) = quoted_after(prompt, "tagline") {
        theme.tagline = tagline;
        said = true;
    }
    said.then_some(theme)
}

/// Nouns that a colour before them makes part of the look ("indigo buttons").
const STYLED: [&str; 18] = [
    "background",
    "backgrounds",
    "backdrop",
    "components",
    "component",
    "buttons",
    "button",
    "accent",
    "accents",
    "links",
    "highlights",
    "theme",
    "colour",
    "colours",
    "color",
    "colors",
    "mode",
    "text",
];
/// Words that describe the look wherever they are.
const LOOK: [&str; 4] = ["dark", "compact", "dense", "condensed"];

fn is_colour_word(word: &str) -> bool {
    COLOURS
        .iter()
        .any(|(name, _)| name.split(' ').any(|p| p == word))
}

/// The prompt without what only describes the look, so the planner does not read "indigo
/// buttons" or "a lavender background" as records: colour names followed by what they colour
/// (or after "in": "in teal"), that noun, "dark", "compact", a quoted tagline. Other words,
/// "a sewing box with buttons" or "red wine", stay. Punctuation stays.
pub(super) fn without_style(prompt: &str) -> String {
    let mut text = prompt.to_string();
    if let Some(tagline) = quoted_after(prompt, "tagline") {
        if let Some(at) = text.to_lowercase().find("tagline") {
            if let Some(i) = text[at..].find(&tagline) {
                let mut end = (at + i + tagline.len() + 1).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, " ");
            }
        }
    }
    // Pieces: words and the text between them.
    let mut pieces: Vec<(bool, &str)> = Vec::new();
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        let word_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        if word_end > 0 {
            pieces.push((true, &rest[..word_end]));
            rest = &rest[word_end..];
        } else {
            pieces.push((false, &rest[..c.len_utf8()]));
            rest = &rest[c.len_utf8()..];
        }
    }
    let words: Vec<(usize, String)> = pieces
        .iter()
        .enumerate()
        .filter(|(_, (w, _))| *w)
        .map(|(i, (_, t))| (i, t.to_lowercase()))
        .collect();
    let mut drop = vec![false; pieces.len()];
    for (k, (i, word)) in words.iter().enumerate() {
        if LOOK.contains(&word.as_str()) {
            drop[*i] = true;
            continue;
        }
        if !is_colour_word(word) {
            continue;
        }
        // The colour phrase: this and following colour words, then what they colour.
        let mut j = k;
        while j + 1 < words.len() && is_colour_word(&words[j + 1].1) {
            j += 1;
        }
        let after_in = k > 0 && words[k - 1].1 == "in";
        let styled = words
            .get(j + 1)
            .is_some_and(|(_, w)| STYLED.contains(&w.as_str()));
        let of_background =
            k >= 2 && words[k - 1].1 == "of" && STYLED.contains(&words[k - 2].1.as_str());
        if styled || after_in || of_background {
            for (i2, _) in &words[k..=j] {
                drop[*i2] = true;
            }
            if styled {
                drop[words[j + 1].0] = true;
            }
            if of_background {
                drop[words[k - 2].0] = true;
            }
        }
    }
    pieces
        .iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|((_, t), _)| *t)
        .collect()
}

/// The text in quotes after `keyword` (`tagline "Words that last"`), at most 120 characters.
fn quoted_after(prompt: &str, keyword: &str) -> Option<String> {
    let at = prompt.to_lowercase().find(keyword)?;
    let rest = prompt.get(at + keyword.len()..)?;
    let open = rest.find(['"', '“'])?;
    if rest[..open].chars().count() > 12 {
        return None;
    }
    let body = &rest[open + rest[open..].chars().next()?.len_utf8()..];
    let close = body.find(['"', '”'])?;
    let text: String = body[..close]
        .chars()
        .filter(|c| !c.is_control())
        .take(plan::MAX_TAGLINE_CHARS)
        .collect();
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan_from_prompt;

    fn visibility_of(prompt: &str) -> Vec<(String, Visibility)> {
        let plan = plan_from_prompt(prompt).unwrap();
        plan.validate().expect("the plan stays valid");
        plan.entities
            .into_iter()
            .map(|e| (e.name, e.visibility))
            .collect()
    }

    #[test]
    fn explicit_words_make_entities_public_or_shared_and_nothing_else_does() {
        for prompt in [
            "a poetry blog with poems that visitors can read without signing in",
            "a recipe site where everyone can see the recipes",
            "public recipes with ingredients",
        ] {
            let v = visibility_of(prompt);
            assert!(
                v.iter().all(|(_, v)| *v == Visibility::Public),
                "{prompt}: {v:?}"
            );
        }
        let v = visibility_of("a task manager with tasks shared with the team");
        assert!(v.iter().all(|(_, v)| *v == Visibility::Shared), "{v:?}");
        for prompt in [
            "a blog with posts",
            "a task manager with projects and tasks",
        ] {
            let v = visibility_of(prompt);
            assert!(
                v.iter().all(|(_, v)| *v == Visibility::Private),
                "{prompt}: {v:?}"
            );
        }
        let v = visibility_of("a recipe book that is not public");
        assert!(v.iter().all(|(_, v)| *v == Visibility::Private), "{v:?}");
    }

    #[test]
    fn words_near_one_entity_apply_to_it_and_references_are_lifted() {
        let plan = plan_from_prompt(
            "a task manager with projects and tasks. Projects are shared with the team.",
        )
        .unwrap();
        let of = |name: &str| {
            plan.entities
                .iter()
                .find(|e| e.name == name)
                .unwrap()
                .visibility
        };
        assert_eq!(of("projects"), Visibility::Shared);
        // Tasks reference projects; private tasks may point at shared projects.
        assert_eq!(of("tasks"), Visibility::Private);
        plan.validate().unwrap();
        assert!(
            plan.summary
                .contains("Every signed-in member sees all projects"),
            "{}",
            plan.summary
        );

        let mut plan = plan_from_prompt("a task manager with projects and tasks").unwrap();
        plan.entities
            .iter_mut()
            .find(|e| e.name == "tasks")
            .unwrap()
            .visibility = Visibility::Public;
        lift_referenced(&mut plan);
        assert!(plan
            .entities
            .iter()
            .all(|e| e.visibility == Visibility::Public));
    }

    #[test]
    fn themes_come_from_colour_mode_and_density_words() {
        let t = theme_from_prompt("a journal with a lavender background and indigo components")
            .unwrap();
        assert_eq!(t.background.as_deref(), Some("#e6e6fa"));
        assert_eq!(t.accent.as_deref(), Some("#4f46e5"));
        assert_eq!(t.mode, ThemeMode::Light);
        let t = theme_from_prompt("a dark, compact habit tracker in teal").unwrap();
        assert_eq!((t.mode, t.density), (ThemeMode::Dark, Density::Compact));
        assert_eq!(t.accent.as_deref(), Some("#0d9488"));
        let t =
            theme_from_prompt("notes on a background of navy blue with orange buttons").unwrap();
        assert_eq!(t.background.as_deref(), Some("#1e3a8a"));
        assert_eq!(t.accent.as_deref(), Some("#ea580c"));
        assert_eq!(
            t.mode,
            ThemeMode::Dark,
            "a dark background makes a dark theme"
        );
        let t = theme_from_prompt("a reading list in dark green").unwrap();
        assert_eq!(theme_from_prompt("a cellar of red wines"), None);
        assert_eq!(
            (t.mode, t.accent.as_deref()),
            (ThemeMode::Light, Some("#166534"))
        );
        let t = theme_from_prompt("a poetry blog with the tagline \"Words that last\"").unwrap();
        assert_eq!(t.tagline, "Words that last");
        assert_eq!(
            theme_from_prompt("a task manager with projects and tasks"),
            None
        );
        // Every derived theme validates.
        let mut plan =
            plan_from_prompt("a lavender journal with indigo buttons, dark and compact").unwrap();
        plan.validate().unwrap();
        plan.theme.as_mut().unwrap().accent = Some("indigo".into());
        let errors = plan.validate().unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .contains("theme accent 'indigo' is not a colour"),
            "{errors:?}"
        );
    }

    #[test]
    fn style_words_are_not_read_as_records() {
        assert_eq!(
            without_style("a journal with a lavender background and indigo components."),
            "a journal with a   and  ."
        );
        let plan = plan_from_prompt(
            "a team wiki with pages, lavender background and indigo buttons, dark and compact",
        )
        .unwrap();
        let names: Vec<&str> = plan.entities.iter().map(|e| e.name.as_str()).collect();
        assert!(
            !names
                .iter()
                .any(|n| n.contains("indigo") || n.contains("button")),
            "{names:?}"
        );
        for e in &plan.entities {
            assert!(
                !e.fields
                    .iter()
                    .any(|f| ["background", "compact", "dark"].contains(&f.name.as_str())),
                "{:?}",
                e.fields
            );
        }
        let theme = plan.theme.unwrap();
        assert_eq!(theme.background.as_deref(), Some("#e6e6fa"));
        assert_eq!(theme.accent.as_deref(), Some("#4f46e5"));
        assert_eq!(
            (theme.mode, theme.density),
            (ThemeMode::Dark, Density::Compact)
        );
        // Words that merely contain a colour, and colours that describe records, stay.
        for prompt in [
            "a redwood tracker",
            "a sewing box with buttons",
            "a cellar of red wines",
        ] {
            assert_eq!(without_style(prompt), prompt);
        }
        assert_eq!(without_style("notes in teal, dark"), "notes in , ");
    }

    #[test]
    fn luminance_orders_dark_and_light() {
        assert!(luminance("#111111") < 0.2);
        assert!(luminance("#e6e6fa") > 0.6);
        assert!((luminance("#ffffff") - 1.0).abs() < 1e-9);
    }
}
