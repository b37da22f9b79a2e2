//! Applying SEARCH/REPLACE edits to a file, with progressively looser matching.
//!
//! Repairs are cheaper as edits than as whole files, but models copy the SEARCH text imperfectly:
//! re-indented, with a trailing space lost, or with a word changed. Each block is located by the
//! first strategy that finds it:
//!
//! 1. [`MatchStrategy::Exact`]: the lines are identical;
//! 2. [`MatchStrategy::WhitespaceInsensitive`]: identical after trimming each line; the replacement
//!    is re-indented by the difference the match revealed;
//! 3. [`MatchStrategy::Fuzzy`]: the window of the same number of lines with the best mean line
//!    similarity (normalised edit distance), if it reaches [`FUZZY_THRESHOLD`].
//!
//! Key decision: matching is line-based and must be unambiguous. A SEARCH text that fits two places
//! equally well is an error rather than a guess, because an edit applied in the wrong place yields
//! code that parses and misbehaves, the most expensive kind of bug to find later. Blocks apply in
//! order, each to the result of the previous one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Minimum mean line similarity (0–1) for a fuzzy match.
pub const FUZZY_THRESHOLD: f64 = 0.8;

/// One SEARCH/REPLACE block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditBlock {
    /// Lines to find, joined with `\n`, no final newline. Empty means "append at the end".
    pub search: String,
    /// Lines to put in their place, joined with `\n`, no final newline.
    pub replace: String,
}

/// How a block was located.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "strategy")]
pub enum MatchStrategy {
    /// The SEARCH lines appear verbatim.
    Exact,
    /// They appear once leading and trailing whitespace is ignored on every line.
    WhitespaceInsensitive,
    /// A window of lines is similar enough.
    Fuzzy {
        /// Mean line similarity of the chosen window, 0–1.
        similarity: f64,
    },
    /// The SEARCH text was empty: the replacement was appended.
    Append,
}

impl fmt::Display for MatchStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchStrategy::Exact => f.write_str("exact"),
            MatchStrategy::WhitespaceInsensitive => f.write_str("whitespace-insensitive"),
            MatchStrategy::Fuzzy { similarity } => {
                write!(f, "fuzzy, {:.0}% similar", similarity * 100.0)
            }
            MatchStrategy::Append => f.write_str("append"),
        }
    }
}

/// The edited text and how each block matched.
#[derive(Debug, Clone, PartialEq)]
pub struct EditOutcome {
    /// The file after all blocks.
    pub content: String,
    /// One strategy per block, in order.
    pub strategies: Vec<MatchStrategy>,
}

/// Why a block could not be applied. `block` is 1-based.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// No strategy located the SEARCH text.
    #[error(
        "edit block {block}: the SEARCH text was not found (the closest lines are {best_percent}% \
         similar, {threshold_percent}% needed); copy the SEARCH lines exactly from the current \
         file. It starts with: {first_line:?}",
        threshold_percent = (FUZZY_THRESHOLD * 100.0) as u8
    )]
    NotFound {
        /// Which block.
        block: usize,
        /// Best fuzzy similarity found, in percent.
        best_percent: u8,
        /// The first non-blank SEARCH line, to point the model at it.
        first_line: String,
    },
    /// The SEARCH text fits more than one place equally well.
    #[error(
        "edit block {block}: the SEARCH text matches {count} places ({strategy}); include more \
         surrounding lines so it matches exactly one"
    )]
    Ambiguous {
        /// Which block.
        block: usize,
        /// How many places it matches.
        count: usize,
        /// The strategy that found them.
        strategy: MatchStrategy,
    },
}

/// Applies `blocks` to `original` in order and returns the new text.
///
/// # Errors
///
/// [`EditError`] for the first block that matches nowhere or in several places; no partial result
/// is returned, so a failed edit never leaves a half-edited file.
///
/// ```
/// use generation::files::{apply_edits, EditBlock};
/// let edited = apply_edits(
///     "a();\n  b();\nc();\n",
///     &[EditBlock { search: "b();".into(), replace: "d();".into() }],
/// )
/// .unwrap();
/// assert_eq!(edited, "a();\n  d();\nc();\n");
/// ```
pub fn apply_edits(original: &str, blocks: &[EditBlock]) -> Result<String, EditError> {
    apply_edits_report(original, blocks).map(|outcome| outcome.content)
}

/// Like [`apply_edits`], and also reports which strategy located each block.
///
/// # Errors
///
/// As for [`apply_edits`].
pub fn apply_edits_report(original: &str, blocks: &[EditBlock]) -> Result<EditOutcome, EditError> {
    let mut content = original.to_string();
    let mut strategies = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let (next, strategy) = apply_one(&content, block, i + 1)?;
        content = next;
        strategies.push(strategy);
    }
    Ok(EditOutcome {
        content,
        strategies,
    })
}

fn apply_one(
    text: &str,
    block: &EditBlock,
    number: usize,
) -> Result<(String, MatchStrategy), EditError> {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    // A caller-built block may end with a newline; the parser's never do.
    let search_text = block.search.strip_suffix('\n').unwrap_or(&block.search);
    let replace_text = block.replace.strip_suffix('\n').unwrap_or(&block.replace);
    if search_text.trim().is_empty() {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(eol);
        }
        out.push_str(&replace_text.replace('\n', eol));
        out.push_str(eol);
        return Ok((out, MatchStrategy::Append));
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines.iter().map(|l| strip_eol(l)).collect();
    let search: Vec<&str> = search_text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let (start, strategy) = locate(&bare, &search, number)?;
    let end = start + search.len();
    let indent = match strategy {
        MatchStrategy::Exact => None,
        _ => indent_shift(&bare[start..end], &search),
    };
    let mut out = String::with_capacity(text.len() + replace_text.len());
    for line in &lines[..start] {
        out.push_str(line);
    }
    let last_had_eol = lines[end - 1].ends_with('\n');
    let replace: Vec<&str> = if replace_text.is_empty() {
        Vec::new()
    } else {
        replace_text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect()
    };
    for (i, line) in replace.iter().enumerate() {
        match &indent {
            Some((from, to)) if !line.trim().is_empty() => match line.strip_prefix(from.as_str()) {
                Some(rest) => {
                    out.push_str(to);
                    out.push_str(rest);
                }
                None => out.push_str(line),
            },
            _ => out.push_str(line),
        }
        if i + 1 < replace.len() || last_had_eol {
            out.push_str(eol);
        }
    }
    for line in &lines[end..] {
        out.push_str(line);
    }
    Ok((out, strategy))
}

fn strip_eol(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Finds the single window of `bare` that `search` matches, trying each strategy in turn.
fn locate(
    bare: &[&str],
    search: &[&str],
    block: usize,
) -> Result<(usize, MatchStrategy), EditError> {
    let m = search.len();
    let windows = if bare.len() >= m {
        bare.len() - m + 1
    } else {
        0
    };
    let exact: Vec<usize> = (0..windows)
        .filter(|&i| bare[i..i + m] == *search)
        .collect();
    let trimmed: Vec<usize> = if exact.is_empty() {
        (0..windows)
            .filter(|&i| {
                bare[i..i + m]
                    .iter()
                    .zip(search)
                    .all(|(a, b)| a.trim() == b.trim())
            })
            .collect()
    } else {
        Vec::new()
    };
    for (found, strategy) in [
        (exact, MatchStrategy::Exact),
        (trimmed, MatchStrategy::WhitespaceInsensitive),
    ] {
        match found.as_slice() {
            [] => {}
            [one] => return Ok((*one, strategy)),
            many => {
                return Err(EditError::Ambiguous {
                    block,
                    count: many.len(),
                    strategy,
                })
            }
        }
    }
    let best = best_fuzzy_window(bare, search);
    let first_line = search
        .iter()
        .find(|l| !l.trim().is_empty())
        .map_or_else(String::new, |l| l.trim().to_string());
    match best.start {
        Some(_) if best.ties > 1 => Err(EditError::Ambiguous {
            block,
            count: best.ties,
            strategy: MatchStrategy::Fuzzy {
                similarity: best.score,
            },
        }),
        Some(start) => Ok((
            start,
            MatchStrategy::Fuzzy {
                similarity: best.score,
            },
        )),
        None => Err(EditError::NotFound {
            block,
            best_percent: (best.hint * 100.0).floor().clamp(0.0, 100.0) as u8,
            first_line,
        }),
    }
}

/// The outcome of the fuzzy search.
struct FuzzyBest {
    /// Start of the best window that reached the threshold.
    start: Option<usize>,
    /// Windows tied with it.
    ties: usize,
    /// Its mean similarity.
    score: f64,
    /// The best mean similarity seen at all (over the lines compared before a window was given
    /// up), for the "N% similar" hint when nothing matched.
    hint: f64,
}

/// The best window of `search.len()` lines by mean line similarity.
///
/// A window is given up as soon as it can no longer reach the threshold or the best so far, so a
/// miss costs a few line comparisons per window instead of all of them.
fn best_fuzzy_window(bare: &[&str], search: &[&str]) -> FuzzyBest {
    const EPS: f64 = 1e-9;
    let m = search.len();
    let mut best = FuzzyBest {
        start: None,
        ties: 0,
        score: 0.0,
        hint: 0.0,
    };
    if m == 0 || bare.len() < m {
        return best;
    }
    let search: Vec<Vec<char>> = search.iter().map(|l| l.trim().chars().collect()).collect();
    let lines: Vec<Vec<char>> = bare.iter().map(|l| l.trim().chars().collect()).collect();
    let mut buf = Vec::new();
    for start in 0..=lines.len() - m {
        let mut sum = 0.0;
        let mut complete = true;
        for (j, wanted) in search.iter().enumerate() {
            sum += similarity(&lines[start + j], wanted, &mut buf);
            let reachable = (sum + (m - j - 1) as f64) / m as f64;
            // Windows that could still tie with the best are kept, so ties are counted.
            if reachable + EPS < FUZZY_THRESHOLD || reachable + EPS < best.score {
                best.hint = best.hint.max(sum / (j + 1) as f64);
                complete = false;
                break;
            }
        }
        if !complete {
            continue;
        }
        let score = sum / m as f64;
        best.hint = best.hint.max(score);
        if best.start.is_none() || score > best.score + EPS {
            best.start = Some(start);
            best.score = score;
            best.ties = 1;
        } else if (score - best.score).abs() <= EPS {
            best.ties += 1;
        }
    }
    best
}

/// 1 − edit distance / longer length; 1.0 for two empty lines.
fn similarity(a: &[char], b: &[char], row: &mut Vec<usize>) -> f64 {
    let longest = a.len().max(b.len());
    if longest == 0 || a == b {
        return 1.0;
    }
    let shorter = a.len().min(b.len());
    if shorter == 0 {
        return 0.0;
    }
    row.clear();
    row.extend(0..=b.len());
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    1.0 - row[b.len()] as f64 / longest as f64
}

/// The indentation to swap in replacement lines: (as the model wrote it, as the file has it).
fn indent_shift(found: &[&str], search: &[&str]) -> Option<(String, String)> {
    let (have, wanted) = found
        .iter()
        .zip(search)
        .find(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())?;
    let lead = |s: &str| s[..s.len() - s.trim_start().len()].to_string();
    let (from, to) = (lead(wanted), lead(have));
    (from != to).then_some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(search: &str, replace: &str) -> EditBlock {
        EditBlock {
            search: search.into(),
            replace: replace.into(),
        }
    }

    const WORKER: &str = "import { Router } from './runtime.js';\n\nconst router = new Router();\n\nrouter.get('/api/todos', async (req, env) => {\n  const { results } = await env.DB.prepare('SELECT * FROM todos').all();\n  return Response.json(results);\n});\n\nexport default { fetch: (req, env) => router.handle(req, env) };\n";

    #[test]
    fn an_exact_block_is_replaced() {
        let out = apply_edits_report(
            WORKER,
            &[block(
                "  return Response.json(results);",
                "  return Response.json({ items: results });",
            )],
        )
        .unwrap();
        assert!(out.content.contains("{ items: results }"));
        assert_eq!(out.strategies, vec![MatchStrategy::Exact]);
    }

    #[test]
    fn a_reindented_block_matches_and_the_replacement_is_reindented() {
        let out = apply_edits_report(
            WORKER,
            &[block(
                "const { results } = await env.DB.prepare('SELECT * FROM todos').all();\nreturn Response.json(results);",
                "const { results } = await env.DB.prepare('SELECT * FROM todos ORDER BY id').all();\nreturn Response.json(results);",
            )],
        )
        .unwrap();
        assert_eq!(out.strategies, vec![MatchStrategy::WhitespaceInsensitive]);
        assert!(out
            .content
            .contains("  const { results } = await env.DB.prepare('SELECT * FROM todos ORDER BY id').all();\n  return"));
    }

    #[test]
    fn a_slightly_misremembered_block_matches_fuzzily() {
        let out = apply_edits_report(
            WORKER,
            &[block(
                "router.get('/api/todos', async (request, env) => {\n  const { results } = await env.DB.prepare('SELECT * FROM todos').all();",
                "router.get('/api/todos', async (req, env) => {\n  const { results } = await env.DB.prepare('SELECT * FROM todos WHERE done = 0').all();",
            )],
        )
        .unwrap();
        match out.strategies[0] {
            MatchStrategy::Fuzzy { similarity } => assert!(similarity >= FUZZY_THRESHOLD),
            other => panic!("expected fuzzy, got {other:?}"),
        }
        assert!(out.content.contains("WHERE done = 0"));
        assert!(!out.content.contains("request, env"));
    }

    #[test]
    fn an_unrelated_block_is_not_found() {
        let err = apply_edits(WORKER, &[block("app.listen(3000);", "")]).unwrap_err();
        assert!(matches!(err, EditError::NotFound { block: 1, .. }), "{err}");
        assert!(err.to_string().contains("app.listen(3000);"));
    }

    #[test]
    fn a_block_matching_twice_is_ambiguous() {
        let err = apply_edits("}\nx\n}\n", &[block("}", "};")]).unwrap_err();
        assert!(
            matches!(err, EditError::Ambiguous { count: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn an_empty_search_appends() {
        let out = apply_edits_report("a\nb", &[block("", "c")]).unwrap();
        assert_eq!(out.content, "a\nb\nc\n");
        assert_eq!(out.strategies, vec![MatchStrategy::Append]);
    }

    #[test]
    fn blocks_apply_in_order_and_deleting_works() {
        let out = apply_edits("a\nb\nc\n", &[block("b", "B"), block("B\nc", "")]).unwrap();
        assert_eq!(out, "a\n");
    }

    #[test]
    fn crlf_files_keep_crlf() {
        let out = apply_edits("a\r\nb\r\nc\r\n", &[block("b", "x\ny")]).unwrap();
        assert_eq!(out, "a\r\nx\r\ny\r\nc\r\n");
    }

    #[test]
    fn the_last_line_without_newline_stays_without() {
        assert_eq!(apply_edits("a\nb", &[block("b", "c")]).unwrap(), "a\nc");
    }

    #[test]
    fn similarity_is_normalised_edit_distance() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        let mut buf = Vec::new();
        assert_eq!(similarity(&c("abcd"), &c("abcd"), &mut buf), 1.0);
        assert_eq!(similarity(&c("abcd"), &c("abce"), &mut buf), 0.75);
        assert_eq!(similarity(&c(""), &c("x"), &mut buf), 0.0);
    }

    proptest! {
        #[test]
        fn random_edits_never_panic(
            original in "[a-c \t\r\n{}]{0,60}",
            search in "[a-c \n{}]{0,12}",
            replace in "[a-c \n]{0,12}",
        ) {
            let _ = apply_edits(&original, &[EditBlock { search, replace }]);
        }

        #[test]
        fn a_line_taken_from_the_file_always_applies_exactly_when_unique(
            lines in proptest::collection::vec("[a-z]{3,10}", 1..20),
            pick in any::<proptest::sample::Index>(),
        ) {
            let text = lines.join("\n") + "\n";
            let i = pick.index(lines.len());
            let unique = lines.iter().filter(|l| **l == lines[i]).count() == 1;
            let result = apply_edits_report(&text, &[EditBlock { search: lines[i].clone(), replace: "X".into() }]);
            if unique {
                let out = result.unwrap();
                prop_assert_eq!(out.strategies, vec![MatchStrategy::Exact]);
                prop_assert_eq!(out.content.lines().nth(i), Some("X"));
            } else {
                let is_ambiguous = matches!(result, Err(EditError::Ambiguous { .. }));
                prop_assert!(is_ambiguous);
            }
        }
    }
}
