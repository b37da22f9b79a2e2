//! What the run-time guard (`crate::sandbox`) cannot bound, refused before deployment: names that
//! would shadow or call the guard, regular expressions that can backtrack catastrophically, and
//! regular expressions built at run time.
//!
//! Key decision: a small scanner over the pattern text rather than oxc's regular-expression
//! parser, which is compiled out on purpose (size, see the `validate` docs). The question is
//! narrow, "is a group that contains an unbounded quantifier repeated?" (`(a+)+`, `(a*)*`,
//! `(\w+\s?)*`, `(.*a){2,}`), and needs only escapes, character classes and group prefixes to be
//! skipped correctly. A catastrophic match runs inside one builtin call, between two ticks of the
//! CPU guard, so it must be refused here. The check is deliberately simple: it also refuses
//! repeated groups that cannot actually backtrack badly (`([\w-]+\.)+`), and it misses other slow
//! shapes (overlapping alternatives such as `(a|a)*`).

use std::ops::Range;

/// Longest piece of source quoted in a message.
const SHOWN_CHARS: usize = 60;

/// The message for a name starting with `__kiln`, if `name` is one.
pub(super) fn reserved_name(name: &str) -> Option<String> {
    name.starts_with("__kiln").then(|| {
        format!(
            "the name {name} is reserved for Kiln's CPU guard; rename it (app code must not define or call names starting with __kiln)"
        )
    })
}

/// The message for a regular expression (`shown` is its source text, such as `/(a+)+$/` or
/// `new RegExp("(a+)+")`) whose `pattern` repeats a group with an unbounded quantifier, if it
/// does. `unicode_sets` is the `v` flag (nested character classes).
pub(super) fn backtracking(shown: &str, pattern: &str, unicode_sets: bool) -> Option<String> {
    let group = nested_quantifier(pattern, unicode_sets)?;
    Some(format!(
        "the regular expression {} repeats {}, a group that contains an unbounded quantifier, so some inputs make it backtrack for minutes and stop the app; \
         rewrite it without a quantifier inside a repeated group",
        shorten(shown),
        shorten(&pattern[group]),
    ))
}

/// The message for `RegExp(…)` whose pattern is not a literal (`shown` is the call's source).
pub(super) fn runtime_pattern(shown: &str) -> String {
    format!(
        "the call {} builds its pattern at run time, which cannot be checked for catastrophic backtracking; \
         use a regular-expression literal (/…/) or a string-literal pattern, or string methods such as includes() to search for user text",
        shorten(shown)
    )
}

/// At most [`SHOWN_CHARS`] characters of `text` on one line.
fn shorten(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// The atom a quantifier would apply to.
#[derive(Clone, Copy)]
enum Last {
    /// Nothing: the start of the pattern or a group, after `|`, or after a quantifier.
    Nothing,
    /// A character, class, escape or assertion.
    Atom,
    /// A group from byte `start` to the `)` just read, and whether it contains an unbounded
    /// quantifier.
    Group { start: usize, unbounded: bool },
}

/// A quantifier: whether it has no upper bound, and whether it allows more than one match.
struct Quantifier {
    unbounded: bool,
    repeats: bool,
    /// Byte just after it (and its lazy `?`).
    end: usize,
}

/// The first group in `pattern` that is repeated (`+`, `*`, `{n,}`, `{n,m}` with `m > 1`) while it
/// contains an unbounded quantifier (`+`, `*`, `{n,}`, lazy or not, at any depth): the byte range
/// of the group and its quantifier.
pub(super) fn nested_quantifier(pattern: &str, unicode_sets: bool) -> Option<Range<usize>> {
    let bytes = pattern.as_bytes();
    // Per open group (index 0: the whole pattern): its start and whether it contains an
    // unbounded quantifier so far.
    let mut groups: Vec<(usize, bool)> = vec![(0, false)];
    let mut last = Last::Nothing;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                // `\(`, `\+`, `\d`, `\u{…}` (its braces are no quantifier: the escape is an atom,
                // and `{…}` after it either parses as a quantifier of it or is literal).
                i = skip_escape(bytes, i);
                last = Last::Atom;
            }
            b'[' => {
                i = skip_class(bytes, i, unicode_sets);
                last = Last::Atom;
            }
            b'(' => {
                groups.push((i, false));
                i = skip_group_prefix(bytes, i + 1);
                last = Last::Nothing;
            }
            b')' => {
                if groups.len() > 1 {
                    let (start, unbounded) = groups.pop().unwrap_or((0, false));
                    if let Some(parent) = groups.last_mut() {
                        parent.1 |= unbounded;
                    }
                    last = Last::Group { start, unbounded };
                } else {
                    last = Last::Atom;
                }
                i += 1;
            }
            b'|' => {
                last = Last::Nothing;
                i += 1;
            }
            b'*' | b'+' | b'?' | b'{' => match quantifier_at(bytes, i) {
                Some(quantifier) if !matches!(last, Last::Nothing) => {
                    if quantifier.unbounded {
                        if let Some(group) = groups.last_mut() {
                            group.1 = true;
                        }
                    }
                    if let Last::Group {
                        start,
                        unbounded: true,
                    } = last
                    {
                        if quantifier.repeats {
                            return Some(start..quantifier.end);
                        }
                    }
                    last = Last::Nothing;
                    i = quantifier.end;
                }
                _ => {
                    // A literal `{` (or a stray quantifier, which the engine refuses anyway).
                    last = Last::Atom;
                    i += 1;
                }
            },
            _ => {
                last = Last::Atom;
                i += 1;
            }
        }
    }
    None
}

/// The byte after the escape starting at `i` (a `\` and the whole character after it).
fn skip_escape(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 2;
    // Continuation bytes of a multi-byte character.
    while j < bytes.len() && (bytes[j] & 0xC0) == 0x80 {
        j += 1;
    }
    j.min(bytes.len())
}

/// The byte after the character class starting at `i`; with the `v` flag classes nest.
fn skip_class(bytes: &[u8], i: usize, unicode_sets: bool) -> usize {
    let mut depth = 1usize;
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => {
                j = skip_escape(bytes, j);
                continue;
            }
            b'[' if unicode_sets => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    bytes.len()
}

/// After a `(` at `i - 1`: the byte after its prefix (`?:`, `?=`, `?!`, `?<=`, `?<!`, `?<name>`,
/// modifiers such as `?i:`), or `i` for a plain capturing group.
fn skip_group_prefix(bytes: &[u8], i: usize) -> usize {
    if bytes.get(i) != Some(&b'?') {
        return i;
    }
    let mut j = i + 1;
    match bytes.get(j) {
        Some(b':' | b'=' | b'!') => j + 1,
        Some(b'<') if matches!(bytes.get(j + 1), Some(b'=' | b'!')) => j + 2,
        Some(b'<') => {
            while j < bytes.len() && bytes[j] != b'>' {
                j += 1;
            }
            (j + 1).min(bytes.len())
        }
        _ => {
            while j < bytes.len() && !matches!(bytes[j], b':' | b')') {
                j += 1;
            }
            if bytes.get(j) == Some(&b':') {
                j + 1
            } else {
                j
            }
        }
    }
}

/// The quantifier at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy), if any.
fn quantifier_at(bytes: &[u8], i: usize) -> Option<Quantifier> {
    let (unbounded, repeats, end) = match bytes[i] {
        b'*' | b'+' => (true, true, i + 1),
        b'?' => (false, false, i + 1),
        _ => {
            let digits = |from: usize| {
                let to = bytes[from..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(bytes.len(), |n| from + n);
                (to, pattern_number(&bytes[from..to]))
            };
            let (after_min, min) = digits(i + 1);
            if after_min == i + 1 {
                return None;
            }
            match bytes.get(after_min) {
                Some(b'}') => (false, min > 1, after_min + 1),
                Some(b',') => {
                    let (after_max, max) = digits(after_min + 1);
                    if bytes.get(after_max) != Some(&b'}') {
                        return None;
                    }
                    if after_max == after_min + 1 {
                        (true, true, after_max + 1)
                    } else {
                        (false, max > 1, after_max + 1)
                    }
                }
                _ => return None,
            }
        }
    };
    let end = if bytes.get(end) == Some(&b'?') {
        end + 1
    } else {
        end
    };
    Some(Quantifier {
        unbounded,
        repeats,
        end,
    })
}

/// The value of a run of ASCII digits, saturating.
fn pattern_number(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(pattern: &str) -> Option<&str> {
        nested_quantifier(pattern, false).map(|range| &pattern[range])
    }

    #[test]
    fn repeated_groups_with_unbounded_quantifiers_are_found() {
        let cases = [
            ("(a+)+", "(a+)+"),
            ("(a+)+$", "(a+)+"),
            ("^(a*)*b", "(a*)*"),
            ("(\\w+\\s?)*", "(\\w+\\s?)*"),
            ("(.*a){2,}", "(.*a){2,}"),
            ("(?:x+y)*", "(?:x+y)*"),
            ("((ab)+c)+", "((ab)+c)+"),
            ("x(?<word>[a-z]+,)+", "(?<word>[a-z]+,)+"),
            ("(a{1,}b){1,3}", "(a{1,}b){1,3}"),
            ("(a+?)+?", "(a+?)+?"),
            ("(a|b+)*", "(a|b+)*"),
            ("((a+))*", "((a+))*"),
            ("(\\d+\\.){3}", "(\\d+\\.){3}"),
        ];
        for (pattern, group) in cases {
            assert_eq!(found(pattern), Some(group), "{pattern}");
        }
    }

    #[test]
    fn safe_patterns_are_not_refused() {
        for pattern in [
            "^\\/api\\/tasks\\/(\\d+)$",
            "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
            "(a+)?",
            "(a+){1}",
            "(a+){0,1}",
            "(ab)+",
            "(\\d{1,3}\\.){3}\\d{1,3}",
            "\\(a+\\)+",
            "[(a+)]+",
            "[\\]+(]+",
            "(?=a+)",
            "a{2,}b+",
            "a{,5}",
            "x{",
            "(a)\\1+",
            "[]+",
            "é(ü+)",
            "",
        ] {
            assert_eq!(found(pattern), None, "{pattern}");
        }
    }

    #[test]
    fn nested_classes_of_the_v_flag_are_skipped_whole() {
        assert_eq!(nested_quantifier("[[a-z]--[(]]+(b)+", true), None);
        assert!(nested_quantifier("[[a-z]--[q]](b+)+", true).is_some());
    }

    #[test]
    fn messages_name_the_value_and_the_fix() {
        let message = backtracking("/(a+)+$/", "(a+)+$", false).expect("found");
        assert_eq!(
            message,
            "the regular expression /(a+)+$/ repeats (a+)+, a group that contains an unbounded quantifier, so some inputs make it \
             backtrack for minutes and stop the app; rewrite it without a quantifier inside a repeated group"
        );
        let message = runtime_pattern(&format!("new RegExp({})", "x".repeat(100)));
        assert!(
            message.starts_with(&format!("the call new RegExp({}…", "x".repeat(49))),
            "{message}"
        );
        assert!(reserved_name("__kiln_tick").is_some());
        assert!(reserved_name("kiln").is_none());
    }
}
