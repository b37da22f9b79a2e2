// One D1 database: a SQLite-backed Durable Object per database uuid. Statements run with their
// bound parameters inside one transaction per request (a failing statement rolls back the whole
// query or batch, as D1 does).
import { DurableObject } from "cloudflare:workers";
import { splitStatements } from "./sql.js";

const MAX_PARAMS = 100;

/** A JSON value as a bound parameter: D1 accepts null, numbers, strings (booleans as 0/1). */
function param(p) {
  if (p === null || typeof p === "number" || typeof p === "string") return p;
  if (typeof p === "boolean") return p ? 1 : 0;
  throw new Error(`D1_TYPE_ERROR: Type '${Array.isArray(p) ? "array" : typeof p}' not supported for value '${JSON.stringify(p)}'`);
}

function value(v) {
  return v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v;
}

export class D1Database extends DurableObject {
  /**
   * Runs `statements` ([{sql, params}]) in one transaction. `raw` answers `{columns, rows}` per
   * statement instead of row objects. → `{ok: true, results: [...]}` or `{ok: false, message}`.
   */
  run(statements, raw = false) {
    const sql = this.ctx.storage.sql;
    try {
      const results = this.ctx.storage.transactionSync(() =>
        statements.map(({ sql: text, params }) => {
          const bound = (params ?? []).map(param);
          if (bound.length > MAX_PARAMS) throw new Error(`too many SQL variables (at most ${MAX_PARAMS}): SQLITE_ERROR`);
          const started = Date.now();
          const before = sql.exec("SELECT total_changes() AS c").one().c;
          const cursor = sql.exec(text, ...bound);
          const rows = [...cursor.raw()].map((r) => r.map(value));
          const columns = cursor.columnNames;
          const after = sql.exec("SELECT total_changes() AS c, last_insert_rowid() AS r").one();
          const meta = {
            served_by: "cloudflare-double",
            duration: Date.now() - started,
            changes: after.c - before,
            last_row_id: after.r,
            changed_db: cursor.rowsWritten > 0,
            size_after: this.ctx.storage.sql.databaseSize,
            rows_read: cursor.rowsRead,
            rows_written: cursor.rowsWritten,
          };
          const results = raw
            ? { columns, rows }
            : rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
          return { results, success: true, meta };
        }),
      );
      return { ok: true, results };
    } catch (e) {
      return { ok: false, message: d1Message(e) };
    }
  }

  /** Runs a multi-statement string with no parameters (the D1 binding's `exec`). */
  exec(text) {
    const statements = splitStatements(String(text)).map((s) => ({ sql: s, params: [] }));
    const r = this.run(statements);
    return r.ok ? { ok: true, count: statements.length } : r;
  }

  /** Names of the tables the database holds (for the double's state view). */
  tables() {
    return [...this.ctx.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")].map((r) => r.name);
  }

  /** Removes every table and row (the database was deleted). */
  async destroy() {
    await this.ctx.storage.deleteAll();
    return true;
  }
}

/** D1's error text: SQLite's message with the result code appended. */
function d1Message(e) {
  const m = String(e?.message ?? e);
  if (/SQLITE_[A-Z]+/.test(m) || m.startsWith("D1_")) return m;
  if (/constraint/i.test(m)) return `${m}: SQLITE_CONSTRAINT`;
  return `${m}: SQLITE_ERROR`;
}
