//! API paths: the worker's routes against the front end's calls.
//!
//! Both sides are read from literals (see [`super::js`]): any string, template or regex literal
//! in a worker module that starts with `/api` is a route the worker may serve, and any string or
//! template literal in a front-end module that starts with `/api/` is a path it may call. A call
//! must match some route segment by segment, where `:param`, `*`, regex groups and `${…}` match
//! any one segment.
//!
//! Key decision: err towards silence. A false alarm sends a correct app back to the model and
//! invites it to break something; a missed mismatch only costs a broken button. So:
//!
//! - a literal on the left of `+` (`"/api/tasks/" + id`) may be followed by more segments or a
//!   query; a template's trailing `${…}` may stand for several segments;
//! - a worker literal given to `.startsWith(…)`, a regex without `$`, a trailing `*` or a
//!   concatenated worker literal serve everything below them;
//! - `startsWith("/api/")` alone is the usual "is this an API request" guard, not a route;
//! - query strings and fragments are ignored, and so are literals with spaces (messages);
//! - when no worker route is recognised at all (a worker that splits the path by hand), calls
//!   are not checked.

use super::js::{ApiLiteral, Use, HOLE};

/// One segment of a route or call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Literal(String),
    /// `:id`, `*`, a regex group, a `${…}`: any one segment.
    Any,
}

/// A path the worker serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Route {
    pub segments: Vec<Segment>,
    /// Serves any further segments too (a prefix).
    pub open: bool,
    /// As people write it: `/api/tasks/:id`, `/api/files/*`.
    pub shown: String,
}

/// What may follow a call's segments at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tail {
    /// Nothing: the literal is the whole path.
    None,
    /// Zero or more segments (`"/api/tasks" + query`, a template ending in `${…}`).
    Any,
    /// At least one segment (`"/api/tasks/" + id`).
    Some,
}

/// A path the front end calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Call {
    pub segments: Vec<Segment>,
    pub tail: Tail,
}

/// Splits a path (after `/`, before `?` and `#`) into segments; a segment holding [`HOLE`] or
/// starting with `:` is [`Segment::Any`]. A trailing `/` gives a final empty segment.
fn segments(path: &str) -> Vec<Segment> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split('/')
        .map(|s| {
            if s.contains(HOLE) || s.starts_with(':') {
                Segment::Any
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

/// The route a worker literal stands for, if it is one.
pub(super) fn route(literal: &ApiLiteral) -> Option<Route> {
    let (mut segs, mut open) = match literal.usage {
        Use::Regex => regex_route(&literal.text)?,
        Use::Prefix | Use::Concatenated => (segments(&literal.text), true),
        Use::Whole | Use::Resource => (segments(&literal.text), false),
    };
    if segs.last() == Some(&Segment::Literal(String::new())) {
        segs.pop();
    }
    if segs.last() == Some(&Segment::Literal("*".into())) {
        segs.pop();
        open = true;
    }
    match segs.first() {
        Some(Segment::Literal(first)) if first == "api" => {}
        _ => return None,
    }
    // `/api` or `startsWith("/api/")`: the guard in front of the router, not a route.
    if segs.len() == 1 {
        return None;
    }
    let shown = match literal.usage {
        Use::Regex => {
            let mut shown = String::new();
            for segment in &segs {
                shown.push('/');
                match segment {
                    Segment::Literal(s) => shown.push_str(s),
                    Segment::Any => shown.push_str(":param"),
                }
            }
            shown
        }
        _ => {
            let path = literal.text.split(['?', '#']).next().unwrap_or_default();
            let path = path.trim_end_matches(['/', '*']);
            path.replace(HOLE, ":param")
        }
    };
    let shown = if open { format!("{shown}/*") } else { shown };
    Some(Route {
        segments: segs,
        open,
        shown,
    })
}

/// The routes a worker literal stands for: a `crud` path serves itself and `path/:id`.
pub(super) fn routes(literal: &ApiLiteral) -> Vec<Route> {
    let Some(base) = route(literal) else {
        return Vec::new();
    };
    if literal.usage != Use::Resource || base.open {
        return vec![base];
    }
    let mut item = base.clone();
    item.segments.push(Segment::Any);
    item.shown = format!("{}/:id", base.shown);
    vec![base, item]
}

/// Reads a routing regex such as `^\/api\/tasks\/(\d+)\/?$`: `\/`-separated segments, plain
/// words literal, anything else one [`Segment::Any`]; without `$` the route is open.
fn regex_route(pattern: &str) -> Option<(Vec<Segment>, bool)> {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let (body, anchored) = match body.strip_suffix('$') {
        Some(b) => (b, true),
        None => (body, false),
    };
    let body = body
        .strip_suffix("\\/?")
        .or_else(|| body.strip_suffix("\\/"))
        .unwrap_or(body);
    let rest = body.strip_prefix("\\/")?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let segs = rest
        .split("\\/")
        .map(|s| {
            if plain(s) {
                Segment::Literal(s.to_string())
            } else {
                Segment::Any
            }
        })
        .collect();
    Some((segs, !anchored))
}

/// The call a front-end literal stands for, if it is one.
pub(super) fn call(literal: &ApiLiteral) -> Option<Call> {
    if !literal.text.starts_with("/api/") || literal.usage == Use::Regex {
        return None;
    }
    let mut segs = segments(&literal.text);
    let ends_with_slash = segs.last() == Some(&Segment::Literal(String::new()));
    if ends_with_slash {
        segs.pop();
    }
    let query = literal.text.contains(['?', '#']);
    let tail = match literal.usage {
        Use::Concatenated if ends_with_slash && !query => Tail::Some,
        Use::Concatenated | Use::Prefix => Tail::Any,
        _ if literal.text.ends_with(HOLE) && !query => Tail::Any,
        _ => Tail::None,
    };
    Some(Call {
        segments: segs,
        tail,
    })
}

/// Whether `route` serves `call`.
pub(super) fn serves(route: &Route, call: &Call) -> bool {
    let same = |a: &Segment, b: &Segment| match (a, b) {
        (Segment::Literal(x), Segment::Literal(y)) => x == y,
        _ => true,
    };
    if !call
        .segments
        .iter()
        .zip(&route.segments)
        .all(|(c, r)| same(c, r))
    {
        return false;
    }
    let (c, r) = (call.segments.len(), route.segments.len());
    match c.cmp(&r) {
        std::cmp::Ordering::Equal => call.tail != Tail::Some || route.open,
        // The call's tail has to supply the route's remaining segments.
        std::cmp::Ordering::Less => call.tail != Tail::None,
        std::cmp::Ordering::Greater => route.open,
    }
}

/// A call's literal as written, `${…}` for each expression, at most 80 characters.
pub(super) fn show_call(text: &str) -> String {
    let shown: String = text.replace(HOLE, "${…}");
    match shown.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &shown[..cut]),
        None => shown,
    }
}

/// The served route closest to a call, if it is close enough to be a likely typo.
pub(super) fn closest<'a>(call_text: &str, routes: &'a [String]) -> Option<&'a String> {
    let call = call_text
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let call = call.replace(HOLE, ":param");
    routes
        .iter()
        .map(|r| (edit_distance(&call, r), r))
        .filter(|(d, _)| *d > 0 && *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, r)| r)
}

/// Levenshtein distance over characters, capped work (paths are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(120).collect();
    let b: Vec<char> = b.chars().take(120).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str, usage: Use) -> ApiLiteral {
        let text = if usage == Use::Regex {
            text.to_string()
        } else {
            text.replace('$', &HOLE.to_string())
        };
        ApiLiteral {
            text,
            offset: 0,
            usage,
        }
    }

    fn served(routes: &[(&str, Use)], call_text: &str, usage: Use) -> bool {
        let call = call(&lit(call_text, usage)).expect("a call");
        routes
            .iter()
            .filter_map(|(t, u)| route(&lit(t, *u)))
            .any(|r| serves(&r, &call))
    }

    #[test]
    fn router_patterns_match_literals_and_templates() {
        let routes = [("/api/todos", Use::Whole), ("/api/todos/:id", Use::Whole)];
        assert!(served(&routes, "/api/todos", Use::Whole));
        assert!(served(&routes, "/api/todos/$", Use::Whole));
        assert!(served(&routes, "/api/todos?limit=5", Use::Whole));
        assert!(served(&routes, "/api/todos/", Use::Concatenated));
        assert!(served(&routes, "/api/todos", Use::Concatenated));
        assert!(!served(&routes, "/api/todo", Use::Whole));
        assert!(!served(&routes, "/api/todos/$/done", Use::Whole));
        assert!(!served(&routes, "/api/todos/1/done", Use::Whole));
    }

    #[test]
    fn prefixes_regexes_and_guards() {
        let routes = [
            ("/api/", Use::Prefix),
            ("/api/files/", Use::Prefix),
            ("^\\/api\\/notes\\/(\\d+)$", Use::Regex),
            ("^\\/api\\/notes\\/?$", Use::Regex),
        ];
        assert!(served(&routes, "/api/files/a.png", Use::Whole));
        assert!(served(&routes, "/api/notes/$", Use::Whole));
        assert!(served(&routes, "/api/notes", Use::Whole));
        assert!(!served(&routes, "/api/notes/1/x", Use::Whole));
        // The `/api/` guard serves nothing by itself.
        assert!(!served(&routes, "/api/tasks", Use::Whole));
        assert_eq!(route(&lit("/api", Use::Whole)), None);
    }

    #[test]
    fn a_crud_path_serves_the_collection_and_its_items_only() {
        let routes = routes(&lit("/api/poems", Use::Resource));
        let shown: Vec<&str> = routes.iter().map(|r| r.shown.as_str()).collect();
        assert_eq!(shown, ["/api/poems", "/api/poems/:id"]);
        let served = |text: &str| {
            let c = call(&lit(text, Use::Whole)).unwrap();
            routes.iter().any(|r| serves(r, &c))
        };
        assert!(served("/api/poems"));
        assert!(served("/api/poems/$"));
        assert!(served("/api/poems?q=rain&sort=-id"));
        assert!(!served("/api/poems/$/likes"));
        assert!(!served("/api/poem"));
    }

    #[test]
    fn a_trailing_template_expression_may_be_several_segments() {
        let routes = [("/api/projects/:id/tasks", Use::Whole)];
        assert!(served(&routes, "/api/projects/$", Use::Whole));
        assert!(!served(&routes, "/api/projects", Use::Whole));
    }

    #[test]
    fn non_api_literals_are_not_calls() {
        assert_eq!(call(&lit("/apix", Use::Whole)), None);
        assert_eq!(route(&lit("/apix/y", Use::Whole)), None);
    }

    #[test]
    fn shown_forms_and_suggestions() {
        let shown = |t: &str, u: Use| route(&lit(t, u)).unwrap().shown;
        assert_eq!(shown("/api/files/:name", Use::Whole), "/api/files/:name");
        assert_eq!(shown("/api/files/", Use::Prefix), "/api/files/*");
        assert_eq!(shown("/api/$/x", Use::Whole), "/api/:param/x");
        assert_eq!(shown("^\\/api\\/n\\/(\\d+)$", Use::Regex), "/api/n/:param");
        assert_eq!(show_call(&lit("/api/a/$", Use::Whole).text), "/api/a/${…}");
        let routes = vec!["/api/todos".to_string(), "/api/auth/me".to_string()];
        assert_eq!(closest("/api/todo", &routes), Some(&routes[0]));
        assert_eq!(closest("/api/zzzzzzzz", &routes), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
