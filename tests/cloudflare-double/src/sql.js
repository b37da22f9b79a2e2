// Splits a D1 query string into its statements, the way D1 answers one result per statement.
// Quotes ('…', "…", `…`, […]), comments (-- and /* */) and the BEGIN … END body of a
// CREATE TRIGGER (with CASE … END inside it) never end a statement.

/** The statements of `sql`, trimmed, without empty ones (a lone `;` or a comment is not one). */
export function splitStatements(sql) {
  const out = [];
  let start = 0;
  let depth = 0; // BEGIN/CASE … END nesting inside a trigger body
  let i = 0;
  const n = sql.length;
  const word = (at) => {
    const m = /^[A-Za-z_]+/.exec(sql.slice(at, at + 16));
    return m ? m[0].toUpperCase() : "";
  };
  const push = (end) => {
    const text = sql.slice(start, end).trim();
    if (stripComments(text).trim() !== "") out.push(text);
  };
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === "`") {
      const close = sql.indexOf(c, i + 1);
      i = close < 0 ? n : close + 1;
      // A doubled quote continues the literal: the loop sees it as a new literal, which is the same.
      continue;
    }
    if (c === "[") {
      const close = sql.indexOf("]", i + 1);
      i = close < 0 ? n : close + 1;
      continue;
    }
    if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i + 2);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (/[A-Za-z_]/.test(c) && (i === 0 || !/[A-Za-z0-9_$]/.test(sql[i - 1]))) {
      const w = word(i);
      if (isTrigger(sql.slice(start, i + w.length))) {
        if (w === "BEGIN" || w === "CASE") depth++;
        else if (w === "END" && depth > 0) depth--;
      }
      i += w.length || 1;
      continue;
    }
    if (c === ";" && depth === 0) {
      push(i);
      start = i + 1;
    }
    i++;
  }
  push(n);
  return out;
}

function stripComments(text) {
  return text.replace(/--[^\n]*(\n|$)/g, " ").replace(/\/\*[\s\S]*?(\*\/|$)/g, " ");
}

/** Whether the statement started so far is a CREATE [TEMP] TRIGGER. */
function isTrigger(prefix) {
  return /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(stripComments(prefix));
}
