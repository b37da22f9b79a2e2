//! Can an older version of an app run against the database as it is now?
//!
//! A rollback (and a replay of an older build) puts older code in front of the current database:
//! migrations are forward-only, so the schema stays as the newest migrations left it, and every row
//! written since stays too. The older code was written for the schema its own migrations create;
//! it keeps working exactly when the migrations applied since then (the ones the older version does
//! not have) only *added* things it does not need:
//!
//! | a later migration … | the older code … | verdict |
//! |---|---|---|
//! | creates a table, adds an index, view or trigger | never names it | compatible |
//! | adds a nullable column, or a `NOT NULL` column with a `DEFAULT` | inserts without it, gets the default | compatible |
//! | adds (or recreates a table with) a `NOT NULL` column without a `DEFAULT` to a table the older code uses | inserts rows without it: every insert fails | **incompatible**, naming the column |
//! | drops or renames a column the older code uses | reads or writes a column that is gone | **incompatible** |
//! | drops or renames a table the older code uses | queries a table that is gone | **incompatible** |
//!
//! Key decision: the rule is read from the migrations, not from the live database. The migrations
//! are the record of what the database went through (each is applied once, in order), they are in
//! the code store with every version, and reading them needs no call into the app's database. The
//! table and column names come from the older version's own migrations: what its code can rely on.
//! Not detected: a later trigger or `CHECK` that refuses the older code's rows (the verdict reads
//! structure, not behaviour).

use std::collections::{BTreeMap, BTreeSet};

use super::sql::{object_name, skip_if_exists, statements, tokenize, Kind, Token};

/// Tables (lowercase) and their columns (lowercase), as migrations leave them.
pub type Schema = BTreeMap<String, BTreeSet<String>>;

/// Why an older version cannot run against the current schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incompatibility {
    /// A `NOT NULL` column without a default was added to a table the older code inserts into.
    RequiredColumnAdded {
        /// The migration that added it.
        migration: String,
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A column the older code uses was dropped or renamed.
    ColumnRemoved {
        /// The migration that removed it.
        migration: String,
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A table the older code uses was dropped or renamed.
    TableRemoved {
        /// The migration that removed it.
        migration: String,
        /// The table.
        table: String,
    },
}

impl std::fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incompatibility::RequiredColumnAdded {
                migration,
                table,
                column,
            } => write!(
                f,
                "migration {migration} added the NOT NULL column {table}.{column} without a default, and the older code inserts {table} rows without it"
            ),
            Incompatibility::ColumnRemoved {
                migration,
                table,
                column,
            } => write!(
                f,
                "migration {migration} removed the column {table}.{column}, which the older code uses"
            ),
            Incompatibility::TableRemoved { migration, table } => write!(
                f,
                "migration {migration} removed the table {table}, which the older code uses"
            ),
        }
    }
}

/// One column definition, as far as the verdict needs it.
struct Column {
    name: String,
    /// `NOT NULL` without `DEFAULT`, not a primary key, not generated: an insert must name it.
    required: bool,
}

fn column(definition: &[Token<'_>]) -> Option<Column> {
    let name = definition.first()?.name()?.to_ascii_lowercase();
    let has = |w: &str| definition.iter().any(|t| t.is_word(w));
    let not_null = definition
        .windows(2)
        .any(|w| w[0].is_word("NOT") && w[1].is_word("NULL"));
    Some(Column {
        name,
        required: not_null && !has("DEFAULT") && !has("PRIMARY") && !has("GENERATED") && !has("AS"),
    })
}

/// Words that open a table constraint rather than a column in `CREATE TABLE (…)`.
const TABLE_CONSTRAINTS: [&str; 5] = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

/// The table of a `CREATE TABLE` and its column definitions (`None` for `CREATE TABLE … AS`).
fn create_table(statement: &[Token<'_>]) -> Option<(String, Option<Vec<Column>>)> {
    let mut i = 1;
    while statement
        .get(i)
        .is_some_and(|t| t.is_word("TEMP") || t.is_word("TEMPORARY"))
    {
        i += 1;
    }
    if !statement.get(i)?.is_word("TABLE") {
        return None;
    }
    let (table, i) = object_name(statement, skip_if_exists(statement, i + 1))?;
    let table = table.to_ascii_lowercase();
    if !statement.get(i).is_some_and(|t| t.is("(")) {
        return Some((table, None));
    }
    let mut columns = Vec::new();
    let mut depth = 0;
    let mut start = i + 1;
    for (j, token) in statement.iter().enumerate().skip(i) {
        if token.is("(") {
            depth += 1;
            continue;
        }
        let close = token.is(")") && {
            depth -= 1;
            depth == 0
        };
        let comma = token.is(",") && depth == 1;
        if close || comma {
            let element = &statement[start..j];
            let constraint = element
                .first()
                .and_then(Token::word)
                .is_some_and(|w| TABLE_CONSTRAINTS.contains(&w.as_str()));
            if !constraint {
                columns.extend(column(element));
            }
            start = j + 1;
            if close {
                break;
            }
        }
    }
    Some((table, Some(columns)))
}

/// What one statement does to tables and columns.
enum Change {
    CreateTable(String, Option<Vec<Column>>),
    AddColumn(String, Column),
    DropColumn(String, String),
    RenameColumn(String, String, String),
    RenameTable(String, String),
    DropTable(String),
}

fn change(statement: &[Token<'_>]) -> Option<Change> {
    let first = statement.first()?;
    if first.is_word("CREATE") {
        let (table, columns) = create_table(statement)?;
        return Some(Change::CreateTable(table, columns));
    }
    if first.is_word("DROP") && statement.get(1)?.is_word("TABLE") {
        let (table, _) = object_name(statement, skip_if_exists(statement, 2))?;
        return Some(Change::DropTable(table.to_ascii_lowercase()));
    }
    if !(first.is_word("ALTER") && statement.get(1)?.is_word("TABLE")) {
        return None;
    }
    let (table, i) = object_name(statement, 2)?;
    let table = table.to_ascii_lowercase();
    let action = statement.get(i)?;
    let after_column = |k: usize| {
        if statement.get(k).is_some_and(|t| t.is_word("COLUMN")) {
            k + 1
        } else {
            k
        }
    };
    let name_at = |k: usize| {
        statement
            .get(k)
            .and_then(Token::name)
            .map(|n| n.to_ascii_lowercase())
    };
    if action.is_word("ADD") {
        let start = after_column(i + 1);
        return Some(Change::AddColumn(table, column(statement.get(start..)?)?));
    }
    if action.is_word("DROP") {
        return Some(Change::DropColumn(table, name_at(after_column(i + 1))?));
    }
    if action.is_word("RENAME") {
        if statement.get(i + 1).is_some_and(|t| t.is_word("TO")) {
            return Some(Change::RenameTable(table, name_at(i + 2)?));
        }
        let k = after_column(i + 1);
        let from = name_at(k)?;
        let to = statement
            .get(k + 1)
            .filter(|t| t.is_word("TO"))
            .and_then(|_| name_at(k + 2))?;
        return Some(Change::RenameColumn(table, from, to));
    }
    None
}

/// The changes of one migration, in order; a migration that does not tokenize changes nothing
/// this module can see (it was validated before it ran, so this does not happen in practice).
fn changes(sql: &str) -> Vec<Change> {
    let Ok(tokens) = tokenize(sql) else {
        return Vec::new();
    };
    let tokens: Vec<Token<'_>> = tokens
        .into_iter()
        .filter(|t| t.kind != Kind::Param)
        .collect();
    statements(&tokens).into_iter().filter_map(change).collect()
}

/// The tables and columns `migrations` leave behind, applied in order.
pub fn schema<'a>(migrations: impl IntoIterator<Item = &'a str>) -> Schema {
    let mut schema = Schema::new();
    for sql in migrations {
        for c in changes(sql) {
            match c {
                Change::CreateTable(table, columns) => {
                    let entry = schema.entry(table).or_default();
                    entry.extend(columns.into_iter().flatten().map(|c| c.name));
                }
                Change::AddColumn(table, column) => {
                    schema.entry(table).or_default().insert(column.name);
                }
                Change::DropColumn(table, column) => {
                    if let Some(t) = schema.get_mut(&table) {
                        t.remove(&column);
                    }
                }
                Change::RenameColumn(table, from, to) => {
                    if let Some(t) = schema.get_mut(&table) {
                        if t.remove(&from) {
                            t.insert(to);
                        }
                    }
                }
                Change::RenameTable(from, to) => {
                    if let Some(columns) = schema.remove(&from) {
                        schema.insert(to, columns);
                    }
                }
                Change::DropTable(table) => {
                    schema.remove(&table);
                }
            }
        }
    }
    schema
}

/// Checks older code against the current database: `own` are the older version's migrations (what
/// its code was written for), `later` the migrations applied since, as `(name, sql)` in the order
/// they ran. Returns every incompatibility found (empty: the older code works).
pub fn check<'a>(
    own: impl IntoIterator<Item = &'a str>,
    later: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<Incompatibility> {
    let needed = schema(own);
    let mut found = Vec::new();
    let uses = |table: &str, column: &str| needed.get(table).is_some_and(|c| c.contains(column));
    for (name, sql) in later {
        let migration = name.to_string();
        for c in changes(sql) {
            match c {
                Change::AddColumn(table, column)
                    if column.required && needed.contains_key(&table) =>
                {
                    found.push(Incompatibility::RequiredColumnAdded {
                        migration: migration.clone(),
                        table,
                        column: column.name,
                    });
                }
                Change::CreateTable(table, Some(columns)) if needed.contains_key(&table) => {
                    // The table was rebuilt: the older code needs all of its columns, and must be
                    // able to insert without the new ones.
                    for column in &columns {
                        if column.required && !uses(&table, &column.name) {
                            found.push(Incompatibility::RequiredColumnAdded {
                                migration: migration.clone(),
                                table: table.clone(),
                                column: column.name.clone(),
                            });
                        }
                    }
                    for column in needed.get(&table).into_iter().flatten() {
                        if !columns.iter().any(|c| &c.name == column) {
                            found.push(Incompatibility::ColumnRemoved {
                                migration: migration.clone(),
                                table: table.clone(),
                                column: column.clone(),
                            });
                        }
                    }
                }
                Change::DropColumn(table, column) | Change::RenameColumn(table, column, _)
                    if uses(&table, &column) =>
                {
                    found.push(Incompatibility::ColumnRemoved {
                        migration: migration.clone(),
                        table,
                        column,
                    });
                }
                Change::DropTable(table) | Change::RenameTable(table, _)
                    if needed.contains_key(&table) =>
                {
                    found.push(Incompatibility::TableRemoved {
                        migration: migration.clone(),
                        table,
                    });
                }
                _ => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE);\n\
        CREATE TABLE tasks (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  user_id INTEGER NOT NULL REFERENCES users (id),\n  title TEXT NOT NULL,\n  done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),\n  created_at TEXT NOT NULL,\n  FOREIGN KEY (user_id) REFERENCES users (id)\n);\nCREATE INDEX idx_tasks_user_id ON tasks (user_id, id);";

    #[test]
    fn the_schema_follows_creates_adds_renames_and_drops() {
        let s = schema([
            INIT,
            "ALTER TABLE tasks ADD COLUMN priority INTEGER; ALTER TABLE tasks RENAME COLUMN done TO finished;",
            "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT); ALTER TABLE tags RENAME TO labels; ALTER TABLE tasks DROP COLUMN created_at;",
        ]);
        let tasks: Vec<&str> = s["tasks"].iter().map(String::as_str).collect();
        assert_eq!(tasks, ["finished", "id", "priority", "title", "user_id"]);
        assert!(s.contains_key("labels") && !s.contains_key("tags"));
        assert!(s.contains_key("users"));
    }

    #[test]
    fn added_tables_nullable_columns_and_defaults_keep_older_code_working() {
        let later = "ALTER TABLE tasks ADD COLUMN priority INTEGER;\n\
            ALTER TABLE tasks ADD urgent INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1));\n\
            CREATE TABLE projects (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);\n\
            CREATE INDEX IF NOT EXISTS idx_tasks_priority ON tasks (priority);";
        assert_eq!(check([INIT], [("0002_update.sql", later)]), []);
    }

    #[test]
    fn a_required_column_without_a_default_is_named() {
        let later = "ALTER TABLE tasks ADD COLUMN owner_email TEXT NOT NULL;";
        let found = check([INIT], [("0002_owner.sql", later)]);
        assert_eq!(
            found,
            [Incompatibility::RequiredColumnAdded {
                migration: "0002_owner.sql".into(),
                table: "tasks".into(),
                column: "owner_email".into(),
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "migration 0002_owner.sql added the NOT NULL column tasks.owner_email without a default, and the older code inserts tasks rows without it"
        );
    }

    #[test]
    fn a_required_column_on_a_table_the_older_code_does_not_know_is_fine() {
        let later = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n\
            ALTER TABLE notes ADD COLUMN author TEXT NOT NULL;";
        assert_eq!(check([INIT], [("0002_notes.sql", later)]), []);
    }

    #[test]
    fn a_rebuilt_table_with_a_new_required_column_or_a_lost_column_is_named() {
        let later = "ALTER TABLE tasks RENAME TO tasks_old;\n\
            CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, rank INTEGER NOT NULL);\n\
            INSERT INTO tasks SELECT id, user_id, title, done, 0 FROM tasks_old;\n\
            DROP TABLE tasks_old;";
        let found = check([INIT], [("0003_rebuild.sql", later)]);
        assert!(found.contains(&Incompatibility::TableRemoved {
            migration: "0003_rebuild.sql".into(),
            table: "tasks".into(),
        }));
        assert!(found.contains(&Incompatibility::RequiredColumnAdded {
            migration: "0003_rebuild.sql".into(),
            table: "tasks".into(),
            column: "rank".into(),
        }));
        assert!(found.contains(&Incompatibility::ColumnRemoved {
            migration: "0003_rebuild.sql".into(),
            table: "tasks".into(),
            column: "created_at".into(),
        }));
    }

    #[test]
    fn dropping_or_renaming_a_used_column_or_table_is_named() {
        let cases = [
            ("ALTER TABLE tasks DROP COLUMN title;", "column tasks.title"),
            (
                "ALTER TABLE tasks RENAME COLUMN title TO name;",
                "column tasks.title",
            ),
            (
                "ALTER TABLE \"tasks\" RENAME title TO name;",
                "column tasks.title",
            ),
            ("DROP TABLE IF EXISTS tasks;", "table tasks"),
        ];
        for (sql, needle) in cases {
            let found = check([INIT], [("0002_x.sql", sql)]);
            assert_eq!(found.len(), 1, "{sql}: {found:?}");
            assert!(found[0].to_string().contains(needle), "{sql}: {}", found[0]);
        }
    }
}
