//! Migrations: a SQLite tokenizer, a statement splitter and a statement classifier.
//!
//! # What is allowed
//!
//! | statement | rule |
//! |---|---|
//! | `CREATE [TEMP] TABLE`, `CREATE [UNIQUE] INDEX`, `CREATE VIEW`, `CREATE TRIGGER`, `CREATE VIRTUAL TABLE` | allowed; a table may be created once across the migrations |
//! | `ALTER TABLE … ADD [COLUMN]` / `RENAME` / `DROP COLUMN` | allowed; an added column may not be `PRIMARY KEY`/`UNIQUE`, nor `NOT NULL` without a `DEFAULT` (SQLite refuses both) |
//! | `INSERT`, `REPLACE`, `UPDATE` | allowed (seed data, backfills; an `UPDATE` without `WHERE` is a normal backfill) |
//! | `DELETE` | only with `WHERE`: without, it empties a table of user data |
//! | `DROP INDEX` / `VIEW` / `TRIGGER` | allowed |
//! | `DROP TABLE` | only of tables that are neither in the plan nor `users` |
//! | `ATTACH`, `DETACH`, `PRAGMA`, `VACUUM`, `BEGIN`, `COMMIT`, `END`, `ROLLBACK`, `SAVEPOINT`, `RELEASE` | refused: one database per app, D1 owns pragmas and storage, the host wraps each migration in its own transaction (D1 rejects explicit ones) |
//! | `SELECT`, `WITH`, `VALUES`, `EXPLAIN`, `ANALYZE`, `REINDEX` | refused: not a schema change |
//! | any name `_kiln…`, `sqlite_…`, `_cf_…` | refused: owned by the host, SQLite or D1 |
//! | `?`, `:name`, `@name`, `$name` | refused: a migration has no bound values |
//!
//! Syntax errors found: unterminated strings, quoted names and comments; unbalanced
//! parentheses; unknown statements; characters SQLite does not know; stray commas, MySQL
//! `AUTO_INCREMENT` and table options, `AUTOINCREMENT` on anything but `INTEGER PRIMARY KEY`, and
//! `DEFAULT fn()` without parentheses in `CREATE TABLE`. This is not a full SQLite grammar: what
//! it lets through, D1 still refuses when the migration runs, with a worse message.
//!
//! Key decision: a hand-written checker instead of `sqlparser` (0.64.0 with `SQLiteDialect`
//! only): that crate adds about 1.9 MB to the Worker's wasm (580 KB gzipped) because its parser
//! is generic over every dialect, for a job that needs a tokenizer and a classifier. This one is
//! a few kilobytes.

use std::collections::{BTreeMap, BTreeSet};

use generation::DiagnosticKind;

/// A problem at a 1-based line of the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    pub line: usize,
    pub kind: DiagnosticKind,
    pub message: String,
}

impl Finding {
    fn syntax(line: usize, message: impl Into<String>) -> Self {
        Finding {
            line,
            kind: DiagnosticKind::SyntaxError,
            message: message.into(),
        }
    }

    fn forbidden(line: usize, message: impl Into<String>) -> Self {
        Finding {
            line,
            kind: DiagnosticKind::ForbiddenSql,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A keyword or a bare name.
    Word,
    /// `"name"`, `` `name` ``, `[name]`.
    Quoted,
    /// `'text'`.
    Str,
    Number,
    /// `?`, `?1`, `:name`, `@name`, `$name`.
    Param,
    /// `;`, `(`, `)`, `,`, `.`.
    Punct,
    Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub(super) kind: Kind,
    pub(super) text: &'a str,
    pub(super) line: usize,
}

impl Token<'_> {
    /// The keyword, uppercased, if this is a bare word.
    pub(super) fn word(&self) -> Option<String> {
        (self.kind == Kind::Word).then(|| self.text.to_ascii_uppercase())
    }

    pub(super) fn is_word(&self, keyword: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    pub(super) fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }

    /// The name this token spells, unquoted, if it is a bare or quoted name.
    pub(super) fn name(&self) -> Option<String> {
        match self.kind {
            Kind::Word => Some(self.text.to_string()),
            Kind::Quoted => {
                let inner = &self.text[1..self.text.len() - 1];
                Some(match self.text.as_bytes()[0] {
                    b'"' => inner.replace("\"\"", "\""),
                    b'`' => inner.replace("``", "`"),
                    _ => inner.to_string(),
                })
            }
            _ => None,
        }
    }
}

/// Splits `sql` into tokens, dropping whitespace and comments.
pub(super) fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, Finding> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let count_lines = |text: &str| text.bytes().filter(|b| *b == b'\n').count();
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let start_line = line;
        let kind = match c {
            b'\n' => {
                line += 1;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | 0x0c => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                match sql[i + 2..].find("*/") {
                    Some(end) => {
                        line += count_lines(&sql[i..i + 2 + end]);
                        i += end + 4;
                    }
                    None => return Err(Finding::syntax(
                        line,
                        "unterminated /* comment: everything after it is ignored; close it with */",
                    )),
                }
                continue;
            }
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            let what = match c {
                                b'\'' => "string",
                                _ => "quoted name",
                            };
                            let opening = c as char;
                            return Err(Finding::syntax(
                                start_line,
                                format!("unterminated {what} starting with {opening}; close it (write '' for a quote inside a string)"),
                            ));
                        }
                        Some(&b) if b == close => {
                            // A doubled quote is an escaped quote ([…] has no escape).
                            if c != b'[' && bytes.get(i + 1) == Some(&close) {
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
                if c == b'\'' {
                    Kind::Str
                } else {
                    Kind::Quoted
                }
            }
            b'0'..=b'9' => {
                i += 1;
                while i < bytes.len() {
                    let b = bytes[i];
                    // Digits, hex letters, `.`, `_`, and the sign of an exponent (`1e-5`).
                    let exponent_sign =
                        matches!(b, b'+' | b'-') && matches!(bytes[i - 1], b'e' | b'E');
                    if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                Kind::Number
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                Kind::Number
            }
            b'?' | b':' | b'@' | b'$' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                Kind::Param
            }
            b';' | b'(' | b')' | b',' | b'.' => {
                i += 1;
                Kind::Punct
            }
            b'=' | b'<' | b'>' | b'!' | b'|' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'~' => {
                i += 1;
                while i < bytes.len() && matches!(bytes[i], b'=' | b'<' | b'>' | b'|' | b'&') {
                    i += 1;
                }
                // `->` and `->>` (JSON operators).
                if c == b'-' && bytes.get(i) == Some(&b'>') {
                    i += 1;
                    if bytes.get(i) == Some(&b'>') {
                        i += 1;
                    }
                }
                Kind::Operator
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'$')
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                Kind::Word
            }
            _ => {
                let shown = sql[i..].chars().next().unwrap_or('?');
                return Err(Finding::syntax(
                    line,
                    format!("unexpected character '{shown}'; SQLite does not know it here"),
                ));
            }
        };
        tokens.push(Token {
            kind,
            text: &sql[start..i],
            line: start_line,
        });
    }
    Ok(tokens)
}

/// Splits tokens into statements at `;`, keeping a trigger's `BEGIN … END` body whole.
pub(super) fn statements<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_body = false;
    let mut case_depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let statement = &tokens[start..i];
        let is_trigger = statement.first().is_some_and(|t| t.is_word("CREATE"))
            && statement.iter().take(4).any(|t| t.is_word("TRIGGER"));
        if is_trigger {
            if token.is_word("BEGIN") && !in_body {
                in_body = true;
                continue;
            }
            if in_body {
                if token.is_word("CASE") {
                    case_depth += 1;
                } else if token.is_word("END") {
                    if case_depth > 0 {
                        case_depth -= 1;
                    } else {
                        in_body = false;
                    }
                }
            }
        }
        if token.is(";") && !in_body {
            if i > start {
                out.push(&tokens[start..i]);
            }
            start = i + 1;
        }
    }
    if start < tokens.len() {
        out.push(&tokens[start..]);
    }
    out
}

/// Names owned by the host, SQLite or D1, with who owns them.
const RESERVED_PREFIXES: [(&str, &str); 3] = [
    (
        "_kiln",
        "the Kiln host (it records applied migrations there)",
    ),
    ("sqlite_", "SQLite"),
    ("_cf_", "Cloudflare D1"),
];

/// What the migrations of one app are checked against.
#[derive(Debug)]
pub(super) struct Context<'p> {
    /// Tables of the plan, plus `users`: never dropped.
    pub protected: BTreeSet<String>,
    /// Tables created so far (lowercase name → the migration that created it), in file order.
    pub created: BTreeMap<String, &'p str>,
}

/// Checks one migration file; `path` is its name, for messages about other files.
pub(super) fn check<'p>(sql: &str, path: &'p str, context: &mut Context<'p>) -> Vec<Finding> {
    let tokens = match tokenize(sql) {
        Ok(tokens) => tokens,
        Err(finding) => return vec![finding],
    };
    let statements = statements(&tokens);
    if statements.is_empty() {
        return vec![Finding::syntax(
            1,
            "the migration has no statements; add CREATE TABLE … or remove the file",
        )];
    }
    let mut findings = Vec::new();
    for statement in statements {
        if let Some(finding) = check_statement(statement, path, context) {
            findings.push(finding);
        }
    }
    findings
}

fn check_statement<'p>(
    statement: &[Token<'_>],
    path: &'p str,
    context: &mut Context<'p>,
) -> Option<Finding> {
    let first = statement[0];
    let line = first.line;
    if let Some(finding) = balance(statement) {
        return Some(finding);
    }
    if let Some(param) = statement.iter().find(|t| t.kind == Kind::Param) {
        return Some(Finding::forbidden(
            param.line,
            format!("bound parameter {} in a migration; a migration has no values to bind, write the value itself", param.text),
        ));
    }
    let Some(keyword) = first.word() else {
        return Some(Finding::syntax(
            line,
            format!(
                "near {}: a statement must start with a keyword such as CREATE TABLE",
                first.text
            ),
        ));
    };
    if let Some(finding) = reserved_name(statement, &keyword) {
        return Some(finding);
    }
    let forbidden = |why: &str| {
        Some(Finding::forbidden(
            line,
            format!("{keyword} is not allowed in a migration; {why}"),
        ))
    };
    match keyword.as_str() {
        "CREATE" => create(statement, path, context),
        "ALTER" => alter(statement),
        "INSERT" | "REPLACE" | "UPDATE" => None,
        "DELETE" => {
            if statement.iter().any(|t| t.is_word("WHERE")) {
                None
            } else {
                let table = statement
                    .iter()
                    .skip_while(|t| !t.is_word("FROM"))
                    .nth(1)
                    .and_then(Token::name)
                    .unwrap_or_default();
                Some(Finding::forbidden(
                    line,
                    format!("DELETE FROM {table} without WHERE would delete every row of user data; add a WHERE clause"),
                ))
            }
        }
        "DROP" => drop(statement, context),
        "ATTACH" | "DETACH" => forbidden("an app has exactly one database"),
        "PRAGMA" => forbidden("D1 sets pragmas itself (foreign keys are already on); remove it"),
        "VACUUM" => forbidden("D1 manages storage itself; remove it"),
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => forbidden(
            "the host runs each migration in its own transaction (D1 rejects explicit ones); remove BEGIN/COMMIT",
        ),
        "SELECT" | "WITH" | "VALUES" | "EXPLAIN" | "ANALYZE" | "REINDEX" => forbidden(
            "a migration only changes the schema or seeds data (CREATE TABLE, CREATE INDEX, ALTER TABLE, INSERT)",
        ),
        _ => Some(Finding::syntax(
            line,
            format!("near \"{}\": not a SQLite statement; migrations use CREATE TABLE, CREATE INDEX, ALTER TABLE and INSERT", first.text),
        )),
    }
}

/// Unbalanced parentheses.
fn balance(statement: &[Token<'_>]) -> Option<Finding> {
    let mut open: Vec<usize> = Vec::new();
    for token in statement {
        if token.is("(") {
            open.push(token.line);
        } else if token.is(")") && open.pop().is_none() {
            return Some(Finding::syntax(
                token.line,
                "unbalanced ')': there is no '(' to close",
            ));
        }
    }
    open.first().map(|line| {
        Finding::syntax(
            *line,
            "unclosed '(': add the missing ')' (statements end at ';')",
        )
    })
}

/// A name owned by someone else anywhere in the statement.
fn reserved_name(statement: &[Token<'_>], keyword: &str) -> Option<Finding> {
    statement.iter().find_map(|token| {
        let name = token.name()?;
        let lower = name.to_ascii_lowercase();
        let (_, owner) = RESERVED_PREFIXES
            .iter()
            .find(|(prefix, _)| lower.starts_with(prefix))?;
        Some(Finding::forbidden(
            token.line,
            format!("{keyword} touches \"{name}\", which belongs to {owner}; a migration may only change the app's own tables"),
        ))
    })
}

/// Index of the first token after `IF [NOT] EXISTS` at `i`, if present.
pub(super) fn skip_if_exists(statement: &[Token<'_>], mut i: usize) -> usize {
    if statement.get(i).is_some_and(|t| t.is_word("IF")) {
        i += 1;
        if statement.get(i).is_some_and(|t| t.is_word("NOT")) {
            i += 1;
        }
        if statement.get(i).is_some_and(|t| t.is_word("EXISTS")) {
            i += 1;
        }
    }
    i
}

/// The object name at `i` (`name` or `schema.name`) and the index after it. The schema is kept
/// only when it is not `main`: `archive.todos` is not the app's `todos`.
pub(super) fn object_name(statement: &[Token<'_>], i: usize) -> Option<(String, usize)> {
    let first = statement.get(i)?.name()?;
    if statement.get(i + 1).is_some_and(|t| t.is(".")) {
        let second = statement.get(i + 2)?.name()?;
        let name = if first.eq_ignore_ascii_case("main") {
            second
        } else {
            format!("{first}.{second}")
        };
        return Some((name, i + 3));
    }
    Some((first, i + 1))
}

fn create<'p>(
    statement: &[Token<'_>],
    path: &'p str,
    context: &mut Context<'p>,
) -> Option<Finding> {
    let line = statement[0].line;
    let mut i = 1;
    while statement
        .get(i)
        .is_some_and(|t| t.is_word("TEMP") || t.is_word("TEMPORARY"))
    {
        i += 1;
    }
    let what = statement.get(i).and_then(Token::word).unwrap_or_default();
    match what.as_str() {
        "TABLE" => create_table(statement, i + 1, path, context),
        "UNIQUE" | "INDEX" => {
            let i = if what == "UNIQUE" { i + 1 } else { i };
            if !statement.get(i).is_some_and(|t| t.is_word("INDEX")) {
                return Some(Finding::syntax(line, "CREATE UNIQUE must be followed by INDEX"));
            }
            let on = statement.iter().position(|t| t.is_word("ON"));
            let paren = on.and_then(|on| statement.get(on + 2)).is_some_and(|t| t.is("(") )
                || on.and_then(|on| statement.get(on + 4)).is_some_and(|t| t.is("("));
            if on.is_none() || !paren {
                return Some(Finding::syntax(line, "CREATE INDEX needs ON table (columns): CREATE INDEX idx_tasks_done ON tasks (done)"));
            }
            None
        }
        "VIEW" | "TRIGGER" => None,
        "VIRTUAL" if statement.get(i + 1).is_some_and(|t| t.is_word("TABLE")) => None,
        _ => Some(Finding::syntax(
            line,
            format!(
                "CREATE {} is not a SQLite statement; use CREATE TABLE, CREATE INDEX, CREATE VIEW or CREATE TRIGGER",
                statement.get(i).map_or("", |t| t.text)
            ),
        )),
    }
}

/// Column constraint keywords: where a column's type name ends.
const CONSTRAINT_WORDS: [&str; 12] = [
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
    "AS",
    "AUTOINCREMENT",
];

/// Table constraint keywords: an element of the column list that is not a column.
const TABLE_CONSTRAINT_WORDS: [&str; 5] = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

fn create_table<'p>(
    statement: &[Token<'_>],
    i: usize,
    path: &'p str,
    context: &mut Context<'p>,
) -> Option<Finding> {
    let line = statement[0].line;
    let if_not_exists = statement.get(i).is_some_and(|t| t.is_word("IF"));
    let i = skip_if_exists(statement, i);
    let Some((table, i)) = object_name(statement, i) else {
        return Some(Finding::syntax(
            line,
            "CREATE TABLE needs a table name: CREATE TABLE tasks (…)",
        ));
    };
    let key = table.to_ascii_lowercase();
    if let Some(earlier) = context.created.get(&key) {
        if !if_not_exists {
            let where_ = if *earlier == path {
                "earlier in this file".to_string()
            } else {
                format!("by {earlier}")
            };
            return Some(Finding::forbidden(
                line,
                format!("table {table} is already created {where_}; change it with ALTER TABLE {table} ADD COLUMN … instead"),
            ));
        }
    } else {
        context.created.insert(key, path);
    }
    match statement.get(i) {
        Some(t) if t.is_word("AS") => return None,
        Some(t) if t.is("(") => {}
        _ => {
            return Some(Finding::syntax(
                line,
                format!("CREATE TABLE {table} needs its columns in parentheses: CREATE TABLE {table} (id INTEGER PRIMARY KEY, …)"),
            ))
        }
    }
    // The column list: top-level elements between the parentheses (balanced, checked before).
    let mut depth = 0;
    let mut elements: Vec<&[Token<'_>]> = Vec::new();
    let mut element_start = i + 1;
    let mut close = statement.len();
    for (j, token) in statement.iter().enumerate().skip(i) {
        if token.is("(") {
            depth += 1;
        } else if token.is(")") {
            depth -= 1;
            if depth == 0 {
                elements.push(&statement[element_start..j]);
                close = j;
                break;
            }
        } else if token.is(",") && depth == 1 {
            elements.push(&statement[element_start..j]);
            element_start = j + 1;
        }
    }
    if elements.len() == 1 && elements[0].is_empty() {
        return Some(Finding::syntax(
            line,
            format!("CREATE TABLE {table} has no columns"),
        ));
    }
    for (n, element) in elements.iter().enumerate() {
        if element.is_empty() {
            // The comma before an empty element is the stray one.
            let at = if n == 0 {
                statement[i].line
            } else {
                elements[n - 1].last().map_or(line, |t| t.line)
            };
            return Some(Finding::syntax(
                at,
                format!("stray comma in CREATE TABLE {table}: remove the comma (a trailing comma before ')' is not allowed)"),
            ));
        }
        let is_table_constraint = element[0]
            .word()
            .is_some_and(|w| TABLE_CONSTRAINT_WORDS.contains(&w.as_str()));
        if !is_table_constraint {
            if let Some(finding) = column(element, &table) {
                return Some(finding);
            }
        }
    }
    // After ')': only STRICT and WITHOUT ROWID, separated by commas.
    let rest = &statement[(close + 1).min(statement.len())..];
    let mut k = 0;
    while k < rest.len() {
        let t = rest[k];
        if t.is(",") || t.is_word("STRICT") {
            k += 1;
        } else if t.is_word("WITHOUT") && rest.get(k + 1).is_some_and(|r| r.is_word("ROWID")) {
            k += 2;
        } else {
            return Some(Finding::syntax(
                t.line,
                format!("\"{}\" after the columns of {table} is not SQLite (MySQL table options?); remove it, only STRICT and WITHOUT ROWID may follow", t.text),
            ));
        }
    }
    None
}

/// Checks one column definition of `table` for the mistakes models make.
fn column(element: &[Token<'_>], table: &str) -> Option<Finding> {
    let name = element[0].name();
    let Some(name) = name else {
        return Some(Finding::syntax(
            element[0].line,
            format!(
                "near {}: expected a column name in CREATE TABLE {table}",
                element[0].text
            ),
        ));
    };
    let words: Vec<String> = element.iter().filter_map(Token::word).collect();
    let line = element[0].line;
    if words.iter().any(|w| w == "AUTO_INCREMENT") {
        return Some(Finding::syntax(
            line,
            format!(
                "AUTO_INCREMENT is MySQL; in SQLite write {name} INTEGER PRIMARY KEY AUTOINCREMENT"
            ),
        ));
    }
    if words.iter().any(|w| w == "AUTOINCREMENT") {
        let type_name: Vec<String> = element[1..]
            .iter()
            .take_while(|t| {
                t.word()
                    .is_some_and(|w| !CONSTRAINT_WORDS.contains(&w.as_str()))
            })
            .filter_map(Token::word)
            .collect();
        if type_name != ["INTEGER"] || !words.iter().any(|w| w == "PRIMARY") {
            return Some(Finding::syntax(
                line,
                format!("AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY; write {name} INTEGER PRIMARY KEY AUTOINCREMENT"),
            ));
        }
    }
    for (k, token) in element.iter().enumerate() {
        if token.is_word("DEFAULT") {
            if let (Some(function), Some(paren)) = (element.get(k + 1), element.get(k + 2)) {
                if function.kind == Kind::Word && paren.is("(") {
                    return Some(Finding::syntax(
                        token.line,
                        format!(
                            "DEFAULT {}(…) needs parentheses around the call: DEFAULT ({}(…))",
                            function.text, function.text
                        ),
                    ));
                }
            }
        }
    }
    None
}

fn alter(statement: &[Token<'_>]) -> Option<Finding> {
    let line = statement[0].line;
    if !statement.get(1).is_some_and(|t| t.is_word("TABLE")) {
        return Some(Finding::syntax(
            line,
            "ALTER must be followed by TABLE: ALTER TABLE tasks ADD COLUMN …",
        ));
    }
    let Some((table, i)) = object_name(statement, 2) else {
        return Some(Finding::syntax(line, "ALTER TABLE needs a table name"));
    };
    let action = statement.get(i).and_then(Token::word).unwrap_or_default();
    match action.as_str() {
        "ADD" => {
            let start = if statement.get(i + 1).is_some_and(|t| t.is_word("COLUMN")) {
                i + 2
            } else {
                i + 1
            };
            let Some(definition) = statement.get(start..).filter(|d| !d.is_empty()) else {
                return Some(Finding::syntax(
                    line,
                    format!("ALTER TABLE {table} ADD COLUMN needs a column definition"),
                ));
            };
            if let Some(finding) = column(definition, &table) {
                return Some(finding);
            }
            let name = definition[0].name().unwrap_or_default();
            let words: Vec<String> = definition.iter().filter_map(Token::word).collect();
            let has = |w: &str| words.iter().any(|x| x == w);
            if has("PRIMARY") || has("UNIQUE") {
                return Some(Finding::syntax(
                    line,
                    format!("SQLite cannot add a PRIMARY KEY or UNIQUE column to {table}; add {name} plainly, then CREATE UNIQUE INDEX on it"),
                ));
            }
            let not_null = definition
                .windows(2)
                .any(|w| w[0].is_word("NOT") && w[1].is_word("NULL"));
            if not_null && !has("DEFAULT") {
                return Some(Finding::syntax(
                    line,
                    format!("SQLite cannot add the NOT NULL column {name} to {table} without a DEFAULT; add DEFAULT <value> or drop NOT NULL"),
                ));
            }
            None
        }
        "RENAME" | "DROP" => None,
        _ => Some(Finding::syntax(
            line,
            format!(
                "ALTER TABLE {table} supports ADD COLUMN, RENAME TO, RENAME COLUMN and DROP COLUMN"
            ),
        )),
    }
}

fn drop(statement: &[Token<'_>], context: &mut Context<'_>) -> Option<Finding> {
    let line = statement[0].line;
    let what = statement.get(1).and_then(Token::word).unwrap_or_default();
    match what.as_str() {
        "TABLE" => {
            let i = skip_if_exists(statement, 2);
            let (table, _) = object_name(statement, i)?;
            let key = table.to_ascii_lowercase();
            if context.protected.contains(&key) {
                return Some(Finding::forbidden(
                    line,
                    format!("DROP TABLE {table} would delete a table the app's plan uses, with its data; keep it and change it with ALTER TABLE {table} …"),
                ));
            }
            context.created.remove(&key);
            None
        }
        "INDEX" | "VIEW" | "TRIGGER" => None,
        _ => Some(Finding::syntax(
            line,
            format!("DROP {} is not a SQLite statement; use DROP TABLE, DROP INDEX, DROP VIEW or DROP TRIGGER", statement.get(1).map_or("", |t| t.text)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> Vec<(usize, DiagnosticKind, String)> {
        let mut context = Context {
            protected: ["users", "tasks"].iter().map(|s| s.to_string()).collect(),
            created: BTreeMap::new(),
        };
        check(sql, "migrations/0001_init.sql", &mut context)
            .into_iter()
            .map(|f| (f.line, f.kind, f.message))
            .collect()
    }

    fn clean(sql: &str) {
        assert_eq!(run(sql), [], "{sql}");
    }

    fn one(sql: &str, line: usize, kind: DiagnosticKind, needle: &str) {
        let got = run(sql);
        assert_eq!(got.len(), 1, "{sql}: {got:?}");
        assert_eq!((got[0].0, got[0].1), (line, kind), "{sql}: {got:?}");
        assert!(
            got[0].2.contains(needle),
            "{sql}: {:?} lacks {needle:?}",
            got[0].2
        );
    }

    #[test]
    fn the_allowed_statements_pass() {
        clean(
            "-- a comment; with a semicolon\n/* block; comment */\n\
             CREATE TABLE IF NOT EXISTS tasks (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  \
             title TEXT NOT NULL DEFAULT 'a;b''c',\n  done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),\n  \
             created_at TEXT DEFAULT (datetime('now')),\n  UNIQUE (title)\n) STRICT;\n\
             CREATE UNIQUE INDEX idx_t ON tasks (title);\nCREATE INDEX IF NOT EXISTS idx_d ON main.tasks (done);\n\
             ALTER TABLE tasks ADD COLUMN notes TEXT;\nALTER TABLE tasks ADD due TEXT NOT NULL DEFAULT '';\n\
             ALTER TABLE tasks RENAME COLUMN notes TO body;\nINSERT INTO tasks (title) VALUES ('x');\n\
             INSERT OR IGNORE INTO tasks (title) VALUES (\"y\");\nUPDATE tasks SET done = 0;\n\
             DELETE FROM tasks WHERE id = 1;\nCREATE VIEW open_tasks AS SELECT * FROM tasks WHERE done = 0;\n\
             CREATE TRIGGER t AFTER UPDATE ON tasks BEGIN UPDATE tasks SET done = CASE WHEN 1 THEN 1 END; SELECT 1; END;\n\
             CREATE TABLE scratch (a);\nDROP TABLE IF EXISTS scratch;\nDROP INDEX idx_t;\n\
             CREATE TABLE [odd name] (`x` TEXT, \"y\" REAL);\nCREATE TABLE tags AS SELECT 1 AS x",
        );
    }

    #[test]
    fn refused_statements_name_the_keyword_and_the_reason() {
        use DiagnosticKind::ForbiddenSql as F;
        one("PRAGMA foreign_keys = ON;", 1, F, "PRAGMA is not allowed");
        one("\nATTACH DATABASE 'x.db' AS x;", 2, F, "one database");
        one("DETACH x;", 1, F, "DETACH");
        one("VACUUM;", 1, F, "VACUUM");
        for keyword in [
            "BEGIN TRANSACTION",
            "COMMIT",
            "END",
            "ROLLBACK",
            "SAVEPOINT a",
            "RELEASE a",
        ] {
            let first = keyword.split(' ').next().unwrap();
            one(
                &format!("{keyword};"),
                1,
                F,
                &format!("{first} is not allowed"),
            );
        }
        one("SELECT 1;", 1, F, "only changes the schema");
        one("DROP TABLE tasks;", 1, F, "DROP TABLE tasks would delete");
        one("DROP TABLE IF EXISTS Users;", 1, F, "DROP TABLE Users");
        one("DELETE FROM tasks;", 1, F, "without WHERE");
        one(
            "INSERT INTO _kiln_migrations VALUES ('x', 1);",
            1,
            F,
            "\"_kiln_migrations\"",
        );
        one("SELECT * FROM sqlite_master;", 1, F, "SQLite");
        one("CREATE TABLE _cf_x (a);", 1, F, "D1");
        one(
            "INSERT INTO tasks (title) VALUES (?);",
            1,
            F,
            "bound parameter ?",
        );
    }

    #[test]
    fn syntax_errors_have_their_line() {
        use DiagnosticKind::SyntaxError as S;
        one(
            "CREATE TABLE t (\n  a TEXT,\n  b TEXT,\n);",
            3,
            S,
            "stray comma",
        );
        one(
            "CREATE TABLE t (a TEXT;\nCREATE TABLE u (b);",
            1,
            S,
            "unclosed '('",
        );
        one("CREATE TABLE t (a) );", 1, S, "unbalanced ')'");
        one("CREAT TABLE t (a);", 1, S, "near \"CREAT\"");
        one(
            "INSERT INTO t VALUES ('abc);\n",
            1,
            S,
            "unterminated string",
        );
        one(
            "/* never closed\nCREATE TABLE t (a);",
            1,
            S,
            "unterminated /*",
        );
        one("CREATE TABLE t (a TEXT) ENGINE=InnoDB;", 1, S, "\"ENGINE\"");
        one(
            "CREATE TABLE t (\n id INT PRIMARY KEY AUTO_INCREMENT\n);",
            2,
            S,
            "AUTO_INCREMENT is MySQL",
        );
        one(
            "CREATE TABLE t (id INT PRIMARY KEY AUTOINCREMENT);",
            1,
            S,
            "only allowed on an INTEGER PRIMARY KEY",
        );
        one(
            "CREATE TABLE t (at TEXT DEFAULT now());",
            1,
            S,
            "DEFAULT (now(…))",
        );
        one("CREATE TABLE t ();", 1, S, "no columns");
        one("CREATE TABLE t;", 1, S, "in parentheses");
        one(
            "CREATE TABLE t (a);\nCREATE TABLE t (b);",
            2,
            DiagnosticKind::ForbiddenSql,
            "already created earlier in this file",
        );
        one(
            "ALTER TABLE t ADD COLUMN b TEXT NOT NULL;",
            1,
            S,
            "without a DEFAULT",
        );
        one(
            "ALTER TABLE t ADD COLUMN b TEXT UNIQUE;",
            1,
            S,
            "cannot add a PRIMARY KEY or UNIQUE",
        );
        one("ALTER TABLE t SET x;", 1, S, "supports ADD COLUMN");
        one("CREATE INDEX i (a);", 1, S, "needs ON table");
        one("CREATE TABLE t (a) # x;", 1, S, "unexpected character '#'");
        one("-- only a comment\n", 1, S, "no statements");
    }

    #[test]
    fn a_trigger_body_is_one_statement() {
        let tokens = tokenize(
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); UPDATE c SET x = CASE WHEN 1 THEN 2 END; END; SELECT 1;",
        )
        .unwrap();
        let parts = statements(&tokens);
        assert_eq!(parts.len(), 2);
        assert!(parts[1][0].is_word("SELECT"));
    }

    #[test]
    fn lines_count_newlines_inside_strings_and_comments() {
        one(
            "INSERT INTO t VALUES ('a\nb');\n/* x\ny */\nPRAGMA x;",
            5,
            DiagnosticKind::ForbiddenSql,
            "PRAGMA",
        );
    }

    #[test]
    fn a_table_created_in_an_earlier_migration_cannot_be_created_again() {
        let mut context = Context {
            protected: BTreeSet::new(),
            created: BTreeMap::new(),
        };
        assert!(check("CREATE TABLE t (a);", "migrations/0001_a.sql", &mut context).is_empty());
        let again = check("CREATE TABLE T (a);", "migrations/0002_b.sql", &mut context);
        assert!(
            again[0].message.contains("by migrations/0001_a.sql"),
            "{again:?}"
        );
        assert!(check(
            "CREATE TABLE IF NOT EXISTS t (a);",
            "migrations/0003_c.sql",
            &mut context
        )
        .is_empty());
        assert!(check(
            "DROP TABLE t;\nCREATE TABLE t (b);",
            "migrations/0004_d.sql",
            &mut context
        )
        .is_empty());
    }
}
