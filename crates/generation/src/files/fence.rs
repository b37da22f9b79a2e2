//! Removing the markdown code fence a model wraps around a whole file.
//!
//! Models trained on chat put ```` ```js ```` around code out of habit, even inside `=== FILE ===`
//! blocks. Exactly one outer fence is removed, and only when it wraps the content; fences *inside*
//! the content stay (a README's ```` ```bash ```` examples, a JS template that renders markdown).
//!
//! Key decision: for code files a first line that is a fence can only be a wrapper (it is not valid
//! JS, SQL, HTML or CSS), so the last closing fence ends it and any prose after it is dropped. For
//! markdown files a fence on the first line may be real content, so the wrapper is only removed when
//! it is tagged `md`/`markdown` or when fence nesting shows it closes on the last line.

/// A fence line: ```` ```lang ```` or `~~~`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fence<'a> {
    ch: char,
    len: usize,
    info: &'a str,
}

/// Parses `line` as a fence line, if it is one.
pub(crate) fn fence_line(line: &str) -> Option<Fence<'_>> {
    let t = line.trim();
    let ch = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    let info = t[len..].trim();
    // Backtick fences cannot have backticks in the info string (that is inline code).
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some(Fence { ch, len, info })
}

fn closes(opener: Fence<'_>, line: &str) -> bool {
    fence_line(line).is_some_and(|f| f.ch == opener.ch && f.len >= opener.len && f.info.is_empty())
}

/// A file's content with its outer fence removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stripped {
    /// The content, blank lines around it trimmed; ends with `\n` when complete and non-empty.
    pub content: String,
    /// Non-blank lines after the closing fence that were dropped.
    pub dropped_lines: usize,
    /// An outer fence was opened *and* closed: a strong sign the file is complete.
    pub closed: bool,
}

/// Removes one outer fence from `raw` (the lines of `path` between its header and end marker).
///
/// `complete` says whether the block ended properly; for a cut-off file only the opening fence is
/// removed and its last, partial line is kept exactly as received.
pub(crate) fn strip_outer_fence(path: &str, raw: &str, complete: bool) -> Stripped {
    let raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
    let lines: Vec<&str> = raw.split('\n').collect();
    let blank = |l: &&str| l.trim().is_empty();
    let Some(first) = lines.iter().position(|l| !blank(l)) else {
        return Stripped {
            content: if complete {
                String::new()
            } else {
                raw.to_string()
            },
            dropped_lines: 0,
            closed: false,
        };
    };
    let last = lines.iter().rposition(|l| !blank(l)).unwrap_or(first);
    let Some(opener) = fence_line(lines[first]) else {
        return Stripped {
            content: join(&lines[first..], complete),
            dropped_lines: 0,
            closed: false,
        };
    };
    let lower = path.to_ascii_lowercase();
    let markdown = lower.ends_with(".md") || lower.ends_with(".markdown");
    let tagged_markdown = matches!(opener.info, "md" | "markdown");
    let wraps_whole = last > first
        && closes(opener, lines[last])
        && (!markdown || tagged_markdown || closing_line(&lines, first, opener) == Some(last));
    if wraps_whole {
        return Stripped {
            content: join(&lines[first + 1..last], true),
            dropped_lines: 0,
            closed: true,
        };
    }
    if markdown && !tagged_markdown {
        // A README that starts with a code block: the fence is content.
        return Stripped {
            content: join(&lines[first..], complete),
            dropped_lines: 0,
            closed: false,
        };
    }
    let closer = (first + 1..=last).rev().find(|&i| closes(opener, lines[i]));
    match closer {
        Some(c) if complete && !markdown => Stripped {
            content: join(&lines[first + 1..c], true),
            dropped_lines: lines[c + 1..].iter().filter(|l| !blank(l)).count(),
            closed: true,
        },
        Some(_) if !markdown => Stripped {
            content: join(&lines[first + 1..], complete),
            dropped_lines: 0,
            closed: true,
        },
        _ => Stripped {
            content: join(&lines[first + 1..], complete),
            dropped_lines: 0,
            closed: false,
        },
    }
}

/// Where the fence opened at `first` closes, following nested fences (tagged opens, bare closes).
fn closing_line(lines: &[&str], first: usize, opener: Fence<'_>) -> Option<usize> {
    let mut depth = 1usize;
    for (i, line) in lines.iter().enumerate().skip(first + 1) {
        let Some(f) = fence_line(line).filter(|f| f.ch == opener.ch) else {
            continue;
        };
        if f.info.is_empty() {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        } else {
            depth += 1;
        }
    }
    None
}

/// Joins lines; a complete file loses surrounding blank lines and ends with one newline, a
/// partial one keeps its end exactly (the continuation is appended there).
fn join(lines: &[&str], complete: bool) -> String {
    let mut lines = lines;
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines = &lines[1..];
    }
    if complete {
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines = &lines[..lines.len() - 1];
        }
        if lines.is_empty() {
            return String::new();
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    } else {
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(path: &str, raw: &str) -> (String, usize, bool) {
        let s = strip_outer_fence(path, raw, true);
        (s.content, s.dropped_lines, s.closed)
    }

    #[test]
    fn a_wrapping_fence_is_removed() {
        assert_eq!(
            strip("worker.js", "\n```javascript\nexport default {};\n```\n\n"),
            ("export default {};\n".into(), 0, true)
        );
    }

    #[test]
    fn unfenced_content_is_only_trimmed() {
        assert_eq!(
            strip("worker.js", "\n\nconst a = 1;\n  b();\n\n"),
            ("const a = 1;\n  b();\n".into(), 0, false)
        );
    }

    #[test]
    fn prose_after_the_closing_fence_of_a_code_file_is_dropped() {
        assert_eq!(
            strip(
                "worker.js",
                "```js\nx();\n```\nThis file sets up the routes.\n"
            ),
            ("x();\n".into(), 1, true)
        );
    }

    #[test]
    fn nested_fences_in_a_markdown_file_are_kept() {
        let raw = "```markdown\n# App\n\n```bash\nnpm start\n```\n```\n";
        assert_eq!(
            strip("public/README.md", raw).0,
            "# App\n\n```bash\nnpm start\n```\n"
        );
        let untagged = "```\n# App\n```sh\nls\n```\n```\n";
        assert_eq!(
            strip("public/README.md", untagged).0,
            "# App\n```sh\nls\n```\n"
        );
    }

    #[test]
    fn a_markdown_file_that_starts_with_a_code_block_is_untouched() {
        let raw = "```bash\nnpm start\n```\n\nMore text\n\n```js\nx()\n```\n";
        assert_eq!(strip("public/README.md", raw).0, raw);
    }

    #[test]
    fn a_cut_off_file_loses_only_its_opening_fence() {
        let s = strip_outer_fence("worker.js", "```js\nconst a = 1;\nconst b", false);
        assert_eq!(s.content, "const a = 1;\nconst b");
        assert!(!s.closed);
    }

    #[test]
    fn a_fence_opened_without_a_closer_is_removed() {
        assert_eq!(
            strip("public/app.js", "```js\nrender();\n").0,
            "render();\n"
        );
    }
}
