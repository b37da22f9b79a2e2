//! A stack guard: how deep would parsing a module recurse? Estimated before oxc sees it.
//!
//! oxc's parser and visitor are recursive descent with no depth limit, so a module such as
//! `[[[[…]]]]` or `!!!!…x` or `1 + 1 + … + 1` thousands deep overflows the stack, and on wasm32 a
//! stack overflow is a trap that takes the whole Worker request down (natively it aborts the
//! process). A small model stuck in a repetition loop writes exactly such text, so this guard
//! runs first and refuses modules that would nest deeper than [`MAX_NESTING`].
//!
//! The estimate is a lexical scan (strings, comments, template text and regexes skipped) that
//! adds up, over the open brackets, one per bracket plus the operators seen at each bracket's level
//! since the last `;`, `,` or statement-ending newline. That bounds the recursion of every
//! construct oxc nests on (brackets, unary, binary and conditional chains, arrow chains,
//! `if (a) if (b) …`, call chains) from above; ordinary code stays far below it (the largest seen
//! is 87, in the minified vendored Preact; the runtime and the offline apps stay under 30).
//!
//! The limit leaves room on the smallest stack the parser runs on: about 1 KB of stack per level
//! in release builds (and about 4 KB in debug builds, whose tests run on 2 MiB threads), against
//! 1 MiB for the Worker's wasm.

/// Largest nesting estimate parsed; deeper modules are refused with a diagnostic.
pub(crate) const MAX_NESTING: usize = 400;

/// Keywords that start a nested statement or expression.
const NESTING_KEYWORDS: [&str; 16] = [
    "if", "else", "for", "while", "do", "with", "return", "throw", "new", "typeof", "void",
    "delete", "await", "yield", "case", "in",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// Start of input, an operator, an opening bracket, `,`, `;` or a keyword: a `/` here starts a
    /// regex.
    Operator,
    /// An identifier, literal or closing bracket: a `/` here divides.
    Operand,
}

/// The 1-based line where the nesting estimate of `source` first exceeds `limit`, if it does.
pub(crate) fn too_deep(source: &str, limit: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    // Operator counts per open bracket; index 0 is the top level.
    let mut levels: Vec<usize> = vec![0];
    // The opening brackets, `$` for a template's `${`.
    let mut brackets: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut line = 1usize;
    let mut prev = Prev::Operator;
    let mut newline = false;
    let mut in_template = false;
    let mut i = 0usize;

    macro_rules! count {
        ($n:expr) => {{
            let n: usize = $n;
            if let Some(level) = levels.last_mut() {
                *level += n;
            }
            total += n;
            if total + brackets.len() > limit {
                return Some(line);
            }
        }};
    }
    macro_rules! reset {
        () => {{
            if let Some(level) = levels.last_mut() {
                total -= *level;
                *level = 0;
            }
        }};
    }

    while i < bytes.len() {
        let c = bytes[i];
        if in_template {
            match c {
                b'\\' => i += 2,
                b'`' => {
                    in_template = false;
                    prev = Prev::Operand;
                    i += 1;
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    in_template = false;
                    brackets.push(b'$');
                    levels.push(0);
                    prev = Prev::Operator;
                    if total + brackets.len() > limit {
                        return Some(line);
                    }
                    i += 2;
                }
                b'\n' => {
                    line += 1;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match c {
            b'\n' => {
                line += 1;
                newline = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        // A newline between two operands ends a statement (automatic semicolon insertion).
        let starts_operand = c.is_ascii_alphanumeric()
            || matches!(c, b'_' | b'$' | b'"' | b'\'' | b'`')
            || c >= 0x80;
        if newline && prev == Prev::Operand && starts_operand {
            reset!();
        }
        newline = false;
        match c {
            b'"' | b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != c && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                prev = Prev::Operand;
            }
            b'`' => {
                in_template = true;
                i += 1;
            }
            b'/' if prev == Prev::Operator => {
                // A regex literal: up to the unescaped `/` outside a class, then its flags.
                i += 1;
                let mut class = false;
                while i < bytes.len() && bytes[i] != b'\n' {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'[' => class = true,
                        b']' => class = false,
                        b'/' if !class => break,
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                prev = Prev::Operand;
            }
            b'(' | b'[' | b'{' => {
                count!(1);
                brackets.push(c);
                levels.push(0);
                if total + brackets.len() > limit {
                    return Some(line);
                }
                prev = Prev::Operator;
                i += 1;
            }
            b')' | b']' | b'}' => {
                if let Some(opening) = brackets.pop() {
                    if let Some(level) = levels.pop() {
                        total -= level;
                    }
                    in_template = opening == b'$';
                }
                prev = Prev::Operand;
                i += 1;
            }
            b';' | b',' => {
                reset!();
                prev = Prev::Operator;
                i += 1;
            }
            b'.' => {
                // Member access (`a.b.c` is iterative); `...` spread is harmless too.
                i += 1;
                prev = Prev::Operator;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'=' | b'<' | b'>' | b'!' | b'&' | b'|' | b'^'
            | b'~' | b'?' | b':' => {
                let start = i;
                while i < bytes.len()
                    && matches!(
                        bytes[i],
                        b'+' | b'-'
                            | b'*'
                            | b'%'
                            | b'='
                            | b'<'
                            | b'>'
                            | b'!'
                            | b'&'
                            | b'|'
                            | b'^'
                            | b'~'
                            | b'?'
                            | b':'
                    )
                {
                    i += 1;
                }
                i = i.max(start + 1);
                let run = &bytes[start..i];
                // `!!!!x` and `- - -x` nest once per character; `===` or `>>>=` once.
                let unary_only = run.iter().all(|b| matches!(b, b'!' | b'~' | b'+' | b'-'));
                count!(if unary_only { run.len() } else { 1 });
                prev = Prev::Operator;
            }
            _ if starts_operand => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'$')
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &source[start..i];
                if NESTING_KEYWORDS.contains(&word) {
                    count!(1);
                    prev = Prev::Operator;
                } else {
                    prev = Prev::Operand;
                }
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest estimate over `source`, by bisection on the limit.
    fn estimate(source: &str) -> usize {
        (0..10_000)
            .find(|limit| too_deep(source, *limit).is_none())
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn ordinary_code_is_shallow() {
        let runtime = scaffold::runtime_files();
        let plan = planner::plan_from_prompt("a task manager with projects and tasks")
            .expect("plan")
            .validate()
            .expect("valid plan");
        let app = scaffold::generate(&plan);
        let modules = runtime
            .iter()
            .map(|(p, c)| (*p, *c))
            .chain(app.iter().map(|(p, c)| (p.as_str(), c.as_str())))
            .filter(|(p, _)| p.ends_with("js"));
        for (path, content) in modules {
            let e = estimate(content);
            eprintln!("{path}: {e}");
            assert!(e < MAX_NESTING / 4, "{path}: {e}");
        }
        assert!(estimate("a\nb\nc\nd\ne\nf\n") <= 1);
        assert!(estimate("const a = 1\nconst b = 2\nconst c = 3\n") <= 2);
    }

    #[test]
    fn every_recursive_construct_is_counted() {
        let n = 1_000;
        for (name, source) in [
            ("brackets", format!("{}1{}", "[".repeat(n), "]".repeat(n))),
            ("unary", format!("{}x", "!".repeat(n))),
            ("binary", format!("{}1", "1 + ".repeat(n))),
            ("binary over lines", format!("{}1", "1 +\n".repeat(n))),
            ("conditional", format!("{}1", "a ? 1 : ".repeat(n))),
            ("arrows", format!("{}1", "a => ".repeat(n))),
            ("ifs", format!("{}x();", "if (a) ".repeat(n))),
            ("calls", format!("a{}", "(1)".repeat(n))),
            (
                "templates",
                format!("{}x{}", "`${".repeat(n), "}`".repeat(n)),
            ),
        ] {
            assert!(estimate(&source) >= n, "{name}: {}", estimate(&source));
        }
    }

    #[test]
    fn strings_comments_templates_and_regexes_are_skipped() {
        let source = "const s = \"((((((((\";\n// ((((((((\n/* [[[[[[[[ */\nconst t = `((((${1}((((`;\nconst r = /\\(((((/g;\nconst d = a / b / c;\n";
        assert!(estimate(source) <= 4, "{}", estimate(source));
    }

    #[test]
    fn the_line_is_where_the_limit_is_crossed() {
        let source = format!("const a = 1;\n{}", "[".repeat(50));
        assert_eq!(too_deep(&source, 20), Some(2));
        assert_eq!(too_deep(&source, 200), None);
    }
}
