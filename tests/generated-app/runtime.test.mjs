// Unit tests of the app runtime (prompts/runtime/runtime.js) under Node's WebCrypto, with fake D1
// and R2 bindings that record every call, and crud()'s access rules, search, filters and sort on a
// real D1 (Miniflare's SQLite, from node_modules). Run: node --test tests/generated-app/
// (run.sh and `cargo test -p scaffold` run them too). run.sh covers the same code end to end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// runtime.js is an ES module but lives in a folder without "type": "module": load a .mjs copy.
const here = dirname(fileURLToPath(import.meta.url));
const temp = mkdtempSync(join(tmpdir(), "kiln-runtime-test-"));
copyFileSync(join(here, "../../prompts/runtime/runtime.js"), join(temp, "runtime.mjs"));
const rt = await import(pathToFileURL(join(temp, "runtime.mjs")).href);
rmSync(temp, { recursive: true, force: true });

const SECRET = "s".repeat(32);
const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");

test("passwords are salted PBKDF2-SHA256 with 100,000 iterations and verify", async () => {
  const a = await rt.hashPassword("correct horse");
  const b = await rt.hashPassword("correct horse");
  assert.match(a, /^pbkdf2_sha256\$100000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b, "each hash has its own salt");
  assert.equal(await rt.verifyPassword("correct horse", a), true);
  assert.equal(await rt.verifyPassword("correct horsE", a), false);
  assert.equal(await rt.verifyPassword("correct horse", a.replace("100000", "200000")), false, "no more iterations than Workers allow");
  assert.equal(await rt.verifyPassword("x", "garbage"), false);
  assert.equal(await rt.verifyPassword("x", "pbkdf2_sha256$1$!!$!!"), false);
});

test("timingSafeEqual compares whole arrays", () => {
  assert.equal(rt.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(rt.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.equal(rt.timingSafeEqual(new Uint8Array([1]), new Uint8Array([1, 0])), false);
});

test("JWTs are HS256 with expiry; other algorithms, keys and expired tokens are refused", async () => {
  const token = await rt.signJwt({ sub: "7" }, SECRET);
  const claims = await rt.verifyJwt(token, SECRET);
  assert.equal(claims.sub, "7");
  assert.ok(claims.exp > claims.iat);
  const [header, payload, signature] = token.split(".");
  assert.deepEqual(JSON.parse(Buffer.from(header, "base64url")), { alg: "HS256", typ: "JWT" });

  assert.equal(await rt.verifyJwt(token, "t".repeat(32)), null, "another key");
  assert.equal(await rt.verifyJwt(`${b64url({ alg: "none", typ: "JWT" })}.${payload}.`, SECRET), null, "alg none");
  assert.equal(await rt.verifyJwt(`${b64url({ alg: "HS512", typ: "JWT" })}.${payload}.${signature}`, SECRET), null, "alg HS512");
  assert.equal(await rt.verifyJwt(`${header}.${b64url({ sub: "1", exp: 9999999999 })}.${signature}`, SECRET), null, "changed claims");
  assert.equal(await rt.verifyJwt(await rt.signJwt({ sub: "7" }, SECRET, -1), SECRET), null, "expired");
  for (const bad of ["", "a.b", "a.b.c.d", "!!.??.**", null, 42]) {
    assert.equal(await rt.verifyJwt(bad, SECRET), null, `malformed ${bad}`);
  }
  await assert.rejects(rt.signJwt({ sub: "1" }, "short"), (e) => e.status === 500 && e.code === "misconfigured");
  await assert.rejects(rt.verifyJwt(token, undefined), (e) => e.code === "misconfigured");
});

const post = (body, headers = {}) => new Request("http://app/api/x", { method: "POST", body, headers });

test("readJson accepts objects and refuses malformed, non-object and oversized bodies", async () => {
  assert.deepEqual(await rt.readJson(post('{"a": 1}')), { a: 1 });
  for (const body of ["{", "", "[1]", "null", '"text"', "12"]) {
    await assert.rejects(rt.readJson(post(body)), (e) => e.status === 400 && e.code === "invalid_json", body);
  }
  await assert.rejects(rt.readJson(post(`{"a": "${"x".repeat(100)}"}`), 50), (e) => e.status === 413);
  // No content-length (a stream): the limit still holds while reading.
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("x".repeat(100)));
      c.close();
    },
  });
  const chunked = new Request("http://app/api/x", { method: "POST", body: stream, duplex: "half" });
  await assert.rejects(rt.readJson(chunked, 500), (e) => e.status === 413 && e.code === "payload_too_large");
  await assert.rejects(rt.readJson(post(new Uint8Array([0x7b, 0xff, 0x7d]))), (e) => e.status === 400, "invalid UTF-8");
});

test("the router matches segments and params, and answers 404, 405 and 500 as JSON", async () => {
  const router = new rt.Router();
  router.route("GET", "/api/items/:id", ({ params }) => rt.json(200, { id: params.id }));
  router.route("DELETE", "/api/items/:id", () => {
    throw new rt.HttpError(409, "conflict", "busy");
  });
  router.route("GET", "/api/boom", () => {
    throw new Error("secret detail");
  });
  const call = async (method, path) => {
    const res = await router.handle(new Request(`http://app${path}`, { method }), {}, {});
    return { status: res.status, body: await res.json(), headers: res.headers };
  };
  assert.deepEqual((await call("GET", "/api/items/a%20b")).body, { id: "a b" });
  assert.equal((await call("GET", "/api/items/1/extra")).status, 404);
  const notAllowed = await call("PUT", "/api/items/1");
  assert.equal(notAllowed.status, 405);
  assert.equal(notAllowed.headers.get("allow"), "GET, DELETE");
  assert.deepEqual((await call("DELETE", "/api/items/1")).body, { error: { code: "conflict", message: "busy" } });
  const original = console.error;
  console.error = () => {};
  const boom = await call("GET", "/api/boom");
  console.error = original;
  assert.equal(boom.status, 500);
  assert.ok(!JSON.stringify(boom.body).includes("secret detail"), "no internals in the answer");
  assert.equal((await call("GET", "/api/nothing")).body.error.code, "not_found");
});

test("defineEntity refuses names that are not plain identifiers", () => {
  const ok = { table: "tasks", fields: [{ name: "title", kind: "text" }] };
  assert.equal(rt.defineEntity(ok).columns, "id, title, created_at, updated_at");
  assert.throws(() => rt.defineEntity({ ...ok, table: "tasks; DROP TABLE users" }));
  assert.throws(() => rt.defineEntity({ ...ok, table: "Tasks" }));
  assert.throws(() => rt.defineEntity({ ...ok, fields: [{ name: "a b", kind: "text" }] }));
  assert.throws(() => rt.defineEntity({ ...ok, fields: [{ name: "a", kind: "blob" }] }));
  assert.throws(() => rt.defineEntity({ ...ok, fields: [{ name: "p", kind: "reference", references: "x y" }] }));
});

/** A fake D1 database: records statements; `first` answers from `answers(sql, values)`. */
function fakeDb(answers = () => null) {
  const log = [];
  const statement = (sql) => ({
    sql,
    values: [],
    bind(...values) {
      this.values = values;
      return this;
    },
    async first() {
      log.push([sql, this.values]);
      return answers(sql, this.values);
    },
    async all() {
      log.push([sql, this.values]);
      return { results: [] };
    },
    async run() {
      log.push([sql, this.values]);
      return { meta: { changes: 1 } };
    },
  });
  return {
    log,
    prepare: statement,
    async batch(statements) {
      return Promise.all(statements.map((s) => s.run()));
    },
  };
}

const TASKS = rt.defineEntity({
  table: "tasks",
  label: "task",
  fields: [
    { name: "title", kind: "text", required: true },
    { name: "done", kind: "boolean" },
    { name: "due", kind: "date" },
    { name: "stars", kind: "rating" },
    { name: "count", kind: "integer" },
    { name: "cost", kind: "number" },
    { name: "notes", kind: "long_text" },
    { name: "project_id", kind: "reference", references: "projects" },
  ],
  referencedBy: [{ table: "subtasks", column: "task_id", onDelete: "cascade" }],
});

test("validateInput checks every kind and names the field", async () => {
  const db = fakeDb((sql, values) => (sql.startsWith("SELECT id FROM projects") && values[0] === 5 ? { id: 5 } : null));
  const values = await rt.validateInput(db, TASKS, 1, { title: "  Buy milk ", done: true, due: "2025-02-28", stars: 5, count: 2, cost: 1.5, project_id: 5, id: 99 });
  assert.deepEqual(values, { title: "Buy milk", done: 1, due: "2025-02-28", stars: 5, count: 2, cost: 1.5, notes: null, project_id: 5 });
  assert.deepEqual(await rt.validateInput(db, TASKS, 1, { done: false }, { partial: true }), { done: 0 });
  const bad = [
    [{}, "title is required"],
    [{ title: " " }, "title is required"],
    [{ title: 5 }, "title must be text"],
    [{ title: "x".repeat(501) }, "title must be at most 500 characters"],
    [{ title: "t", done: "yes" }, "done must be true or false"],
    [{ title: "t", due: "2025-02-30" }, "due must be a date"],
    [{ title: "t", stars: 0 }, "stars must be a whole number from 1 to 5"],
    [{ title: "t", count: 1.5 }, "count must be a whole number"],
    [{ title: "t", cost: "1" }, "cost must be a number"],
    [{ title: "t", project_id: 6 }, "project_id must be the id of one of your projects"],
    [{ title: "t", titel: "typo" }, 'unknown field "titel"'],
  ];
  for (const [body, message] of bad) {
    await assert.rejects(
      rt.validateInput(db, TASKS, 1, body),
      (e) => e.status === 400 && e.code === "invalid_field" && e.message.includes(message),
      JSON.stringify(body),
    );
  }
  const withProto = JSON.parse('{"title": "t", "__proto__": {"notes": "injected"}}');
  await assert.rejects(rt.validateInput(db, TASKS, 1, withProto), (e) => e.status === 400, "__proto__ is an unknown field");
  assert.equal((await rt.validateInput(db, TASKS, 1, { title: "t" })).notes, null, "inherited properties are not fields");
});

test("choice fields accept only their listed values", async () => {
  const issues = rt.defineEntity({
    table: "issues",
    fields: [
      { name: "title", kind: "text", required: true },
      { name: "status", kind: "choice", values: ["open", "in progress", "done"], required: true },
      { name: "severity", kind: "choice", values: ["low", "high"] },
    ],
  });
  assert.ok(Object.isFrozen(issues.fields[1].values), "values cannot change after startup");
  const db = fakeDb();
  assert.deepEqual(await rt.validateInput(db, issues, 1, { title: "t", status: " in progress " }), { title: "t", status: "in progress", severity: null });
  assert.deepEqual(await rt.validateInput(db, issues, 1, { severity: "high" }, { partial: true }), { severity: "high" });
  const bad = [
    [{ title: "t" }, "status is required"],
    [{ title: "t", status: "closed" }, "status must be one of: open, in progress, done"],
    [{ title: "t", status: "Open" }, "status must be one of"],
    [{ title: "t", status: 1 }, "status must be one of"],
    [{ title: "t", status: ["open"] }, "status must be one of"],
    [{ title: "t", status: "open", severity: "medium" }, "severity must be one of: low, high"],
  ];
  for (const [body, message] of bad) {
    await assert.rejects(
      rt.validateInput(db, issues, 1, body),
      (e) => e.status === 400 && e.code === "invalid_field" && e.message.includes(message),
      JSON.stringify(body),
    );
  }
  const def = (values) => rt.defineEntity({ table: "t", fields: [{ name: "s", kind: "choice", values }] });
  for (const values of [undefined, [], ["a", "a"], ["a", ""], ["a", 2], Array.from({ length: 31 }, (_, i) => `v${i}`), ["x".repeat(61)], ["😀".repeat(61)]]) {
    assert.throws(() => def(values), /choice field t\.s needs/, JSON.stringify(values));
  }
  assert.deepEqual([...def(["a", "b"]).fields[0].values], ["a", "b"]);
  // Lengths count characters, as the plan does: 60 emoji are one value, not 120.
  assert.equal(def(["😀".repeat(60), "b"]).fields[0].values.length, 2);
});

test("CRUD helpers scope every statement to the user and bind every value", async () => {
  const db = fakeDb((sql) => (sql.startsWith("SELECT id FROM tasks") ? { id: 3 } : { id: 3, title: "x", done: 1 }));
  const evil = "'); DROP TABLE users; --";
  const row = await rt.insert(db, TASKS, 42, { title: evil, done: 1 });
  assert.equal(row.done, true, "booleans come back as true/false");
  await rt.update(db, TASKS, 42, 3, { title: evil });
  await rt.get(db, TASKS, 42, 3);
  await rt.list(db, TASKS, 42, { limit: 10, offset: 0 });
  assert.equal(await rt.remove(db, TASKS, 42, 3), true);
  for (const [sql, values] of db.log) {
    assert.ok(!sql.includes("DROP"), `a value reached the SQL text: ${sql}`);
    assert.ok(/user_id/.test(sql), `not scoped to the user: ${sql}`);
    assert.ok(values.includes(42), `user id not bound: ${sql}`);
  }
  assert.ok(db.log.some(([sql]) => sql === "DELETE FROM subtasks WHERE task_id = ? AND user_id = ?"), "required references cascade");
  const missing = fakeDb(() => null);
  assert.equal(await rt.remove(missing, TASKS, 42, 3), false);
  assert.equal(await rt.get(missing, TASKS, 42, 3), null);
});

test("ids and paging parameters are checked", () => {
  assert.equal(rt.parseId("12", TASKS), 12);
  for (const bad of ["0", "-1", "1.5", "abc", "1e3", "01", "99999999999999999"]) {
    assert.throws(() => rt.parseId(bad, TASKS), (e) => e.status === 404, bad);
  }
  assert.deepEqual(rt.pageOf(new URL("http://app/api/tasks")), { limit: 100, offset: 0 });
  assert.deepEqual(rt.pageOf(new URL("http://app/api/tasks?limit=5&offset=10")), { limit: 5, offset: 10 });
  assert.throws(() => rt.pageOf(new URL("http://app/api/tasks?limit=501")), (e) => e.status === 400);
  assert.throws(() => rt.pageOf(new URL("http://app/api/tasks?offset=-1")), (e) => e.status === 400);
});

/** A fake R2 bucket that keeps objects in a Map. */
function fakeBucket() {
  const objects = new Map();
  return {
    objects,
    async put(key, bytes, options) {
      objects.set(key, { bytes: new Uint8Array(bytes), contentType: options?.httpMetadata?.contentType });
    },
    async get(key) {
      const o = objects.get(key);
      return o ? { body: o.bytes, httpMetadata: { contentType: o.contentType } } : null;
    },
    async head(key) {
      return objects.has(key) ? {} : null;
    },
    async delete(key) {
      objects.delete(key);
    },
    async list({ prefix }) {
      const found = [...objects].filter(([k]) => k.startsWith(prefix)).map(([key, o]) => ({ key, size: o.bytes.byteLength, uploaded: new Date(0) }));
      return { objects: found, truncated: false };
    },
  };
}

test("files live under the user's own prefix, with safe names, sizes and download headers", async () => {
  const STORAGE = fakeBucket();
  const DB = fakeDb((sql, values) => (sql.includes("FROM users") ? { id: values[0], email: "a@example.com", created_at: "" } : null));
  const env = { DB, STORAGE, JWT_SECRET: SECRET };
  const auth = { authorization: `Bearer ${await rt.signJwt({ sub: "7" }, SECRET)}` };
  const ctx = (method, name, body, headers = {}) => ({
    request: new Request(`http://app/api/files/${name ?? ""}`, { method, body, headers: { ...auth, ...headers } }),
    env,
    params: { name },
  });

  const put = await rt.putFile(ctx("PUT", "a.txt", "hello", { "content-type": "text/html" }));
  assert.equal(put.status, 201);
  assert.deepEqual([...STORAGE.objects.keys()], ["7/a.txt"]);
  const got = await rt.getFile(ctx("GET", "a.txt"));
  assert.equal(await got.text(), "hello");
  assert.match(got.headers.get("content-disposition"), /^attachment/);
  assert.equal(got.headers.get("content-security-policy"), "sandbox");
  assert.deepEqual(await (await rt.listFiles(ctx("GET"))).json(), [{ name: "a.txt", size: 5, uploaded: "1970-01-01T00:00:00.000Z" }]);
  for (const bad of ["../x", ".hidden", "a/b", "", "x".repeat(101)]) {
    await assert.rejects(rt.getFile(ctx("GET", bad)), (e) => e.status === 400 && e.code === "invalid_file_name", bad);
  }
  await assert.rejects(rt.putFile(ctx("PUT", "big.bin", new Uint8Array(rt.MAX_FILE_BYTES + 1))), (e) => e.status === 413);
  await assert.rejects(rt.deleteFile(ctx("DELETE", "nope.txt")), (e) => e.status === 404);
  assert.equal((await rt.deleteFile(ctx("DELETE", "a.txt"))).status, 200);
  assert.equal(STORAGE.objects.size, 0);
  await assert.rejects(rt.listFiles({ request: new Request("http://app/api/files"), env }), (e) => e.status === 401);
});

// ---- crud(): visibility, moderation, search, filters and sort on a real D1 (SQLite) --------------
// Miniflare (the local Workers runtime that wrangler uses, from node_modules) gives a real D1
// database to Node, so every rule below runs real SQL.

const { Miniflare } = await import("miniflare");

const SCHEMA = [
  "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, created_at TEXT NOT NULL)",
  "CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, title TEXT NOT NULL, body TEXT, published INTEGER NOT NULL DEFAULT 0, stars INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
  "CREATE TABLE comments (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, post_id INTEGER NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
  "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
  "CREATE TABLE drafts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, title TEXT NOT NULL, post_id INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
  "CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, points INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
];

/** A blog: public posts and comments, shared notes, private drafts (which may point at a post). */
function blogApi() {
  const posts = rt.defineEntity({
    table: "posts",
    label: "post",
    visibility: "public",
    fields: [
      { name: "title", kind: "text", required: true },
      { name: "body", kind: "long_text" },
      { name: "published", kind: "boolean" },
      { name: "stars", kind: "rating" },
    ],
    referencedBy: [
      { table: "comments", column: "post_id", onDelete: "cascade" },
      { table: "drafts", column: "post_id", onDelete: "set_null" },
    ],
  });
  const comments = rt.defineEntity({
    table: "comments",
    label: "comment",
    visibility: "public",
    fields: [
      { name: "post_id", kind: "reference", references: "posts", required: true },
      { name: "text", kind: "text", required: true },
    ],
  });
  const notes = rt.defineEntity({ table: "notes", label: "note", visibility: "shared", fields: [{ name: "text", kind: "text", required: true }] });
  const drafts = rt.defineEntity({
    table: "drafts",
    label: "draft",
    fields: [
      { name: "title", kind: "text", required: true },
      { name: "post_id", kind: "reference", references: "posts" },
    ],
  });
  const scores = rt.defineEntity({ table: "scores", label: "score", visibility: "shared", fields: [{ name: "points", kind: "integer" }] });
  const api = new rt.Router();
  api.route("POST", "/api/auth/register", rt.register);
  api.route("GET", "/api/auth/me", rt.me);
  rt.crud(api, "/api/posts", posts);
  rt.crud(api, "/api/comments", comments);
  rt.crud(api, "/api/notes", notes);
  rt.crud(api, "/api/drafts", drafts);
  rt.crud(api, "/api/scores", scores);
  return api;
}

/** A fresh app: real D1 with the schema, the blog's router, and three accounts (the first is the admin). */
async function blogApp(t) {
  const mf = new Miniflare({ modules: true, script: "export default { fetch() { return new Response(null) } }", d1Databases: ["DB"] });
  t.after(() => mf.dispose());
  const DB = await mf.getD1Database("DB");
  for (const statement of SCHEMA) await DB.prepare(statement).run();
  const env = { DB, JWT_SECRET: SECRET };
  const api = blogApi();
  const call = async (method, path, { token, body } = {}) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await api.handle(new Request(`http://app${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), env, {});
    return { status: response.status, body: await response.json() };
  };
  const users = {};
  for (const name of ["admin", "alice", "bob"]) {
    const r = await call("POST", "/api/auth/register", { body: { email: `${name}@example.com`, password: "correct horse" } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    users[name] = r.body;
  }
  return { call, users, DB, token: (name) => users[name].token };
}

const errorCode = (r) => r.body && r.body.error && r.body.error.code;

test("crud: the first account is the admin; me and sign-up say so", async (t) => {
  const { call, users, token } = await blogApp(t);
  assert.equal(users.admin.user.admin, true);
  assert.equal(users.alice.user.admin, false);
  assert.equal((await call("GET", "/api/auth/me", { token: token("admin") })).body.user.admin, true);
  assert.equal((await call("GET", "/api/auth/me", { token: token("bob") })).body.user.admin, false);
});

test("crud: visitors read public rows but cannot write them; shared and private rows need a sign-in", async (t) => {
  const { call, users, token } = await blogApp(t);
  const post = await call("POST", "/api/posts", { token: token("alice"), body: { title: "Ode to rain", body: "drip", published: true } });
  assert.equal(post.status, 201);
  assert.equal(post.body.user_id, users.alice.user.id, "rows name their author");
  const id = post.body.id;

  const list = await call("GET", "/api/posts");
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.map((p) => p.title), ["Ode to rain"]);
  assert.equal((await call("GET", `/api/posts/${id}`)).body.title, "Ode to rain");
  assert.equal((await call("GET", "/api/posts/999")).status, 404);

  for (const [method, path, body] of [
    ["POST", "/api/posts", { title: "spam" }],
    ["PUT", `/api/posts/${id}`, { title: "defaced" }],
    ["DELETE", `/api/posts/${id}`, undefined],
  ]) {
    const r = await call(method, path, { body });
    assert.equal(r.status, 401, `${method} ${path} signed out`);
    assert.equal(errorCode(r), "unauthorized");
  }
  assert.equal((await call("GET", `/api/posts/${id}`)).body.title, "Ode to rain", "nothing changed");

  for (const path of ["/api/notes", "/api/notes/1", "/api/drafts", "/api/drafts/1"]) {
    assert.equal((await call("GET", path)).status, 401, path);
  }
  const stale = await call("GET", "/api/posts", { token: "not-a-token" });
  assert.equal(stale.status, 401, "a broken sign-in is an error, not a visitor");
});

test("crud: shared rows are read by every signed-in user; only the author edits them (403 for others)", async (t) => {
  const { call, token } = await blogApp(t);
  const note = await call("POST", "/api/notes", { token: token("alice"), body: { text: "team lunch friday" } });
  assert.equal(note.status, 201);
  const id = note.body.id;
  const bobList = await call("GET", "/api/notes", { token: token("bob") });
  assert.deepEqual(bobList.body.map((n) => n.text), ["team lunch friday"]);
  assert.equal((await call("GET", `/api/notes/${id}`, { token: token("bob") })).status, 200);

  const edit = await call("PUT", `/api/notes/${id}`, { token: token("bob"), body: { text: "cancelled" } });
  assert.equal(edit.status, 403);
  assert.equal(errorCode(edit), "forbidden");
  assert.match(edit.body.error.message, /only the author of this note or the app's admin/);
  assert.equal((await call("DELETE", `/api/notes/${id}`, { token: token("bob") })).status, 403);
  assert.equal((await call("GET", `/api/notes/${id}`, { token: token("bob") })).body.text, "team lunch friday", "nothing changed");

  const own = await call("PUT", `/api/notes/${id}`, { token: token("alice"), body: { text: "team lunch thursday" } });
  assert.equal(own.status, 200);
  assert.equal(own.body.text, "team lunch thursday");
  assert.equal((await call("DELETE", `/api/notes/${id}`, { token: token("alice") })).status, 200);
  assert.equal((await call("GET", `/api/notes/${id}`, { token: token("alice") })).status, 404);
});

test("crud: private rows stay their owner's: 404 for everyone else, the admin included", async (t) => {
  const { call, token } = await blogApp(t);
  const draft = await call("POST", "/api/drafts", { token: token("alice"), body: { title: "secret verse" } });
  const id = draft.body.id;
  for (const who of ["bob", "admin"]) {
    assert.deepEqual((await call("GET", "/api/drafts", { token: token(who) })).body, [], who);
    for (const [method, body] of [["GET"], ["PUT", { title: "x" }], ["DELETE"]]) {
      const r = await call(method, `/api/drafts/${id}`, { token: token(who), body });
      assert.equal(r.status, 404, `${who} ${method}`);
      assert.equal(errorCode(r), "not_found");
    }
  }
  assert.equal((await call("GET", `/api/drafts/${id}`, { token: token("alice") })).body.title, "secret verse");
});

test("crud: the admin moderates shared and public rows; a non-admin cannot", async (t) => {
  const { call, token, DB } = await blogApp(t);
  const post = (await call("POST", "/api/posts", { token: token("bob"), body: { title: "buy cheap watches" } })).body;
  const comment = (await call("POST", "/api/comments", { token: token("alice"), body: { post_id: post.id, text: "spam!" } })).body;
  const draft = (await call("POST", "/api/drafts", { token: token("alice"), body: { title: "reply", post_id: post.id } })).body;
  assert.equal(comment.post_id, post.id, "a comment may point at another user's public post");

  assert.equal((await call("PUT", `/api/posts/${post.id}`, { token: token("alice"), body: { title: "x" } })).status, 403, "non-admin edit");
  assert.equal((await call("DELETE", `/api/posts/${post.id}`, { token: token("alice") })).status, 403, "non-admin delete");

  const hidden = await call("PUT", `/api/posts/${post.id}`, { token: token("admin"), body: { title: "[removed by moderator]" } });
  assert.equal(hidden.status, 200);
  assert.equal(hidden.body.title, "[removed by moderator]");
  assert.equal(hidden.body.user_id, post.user_id, "moderation keeps the author");

  const gone = await call("DELETE", `/api/posts/${post.id}`, { token: token("admin") });
  assert.deepEqual([gone.status, gone.body], [200, { deleted: true }]);
  assert.equal((await call("GET", `/api/posts/${post.id}`)).status, 404);
  assert.equal((await call("GET", `/api/comments/${comment.id}`)).status, 404, "required references cascade, whoever wrote them");
  const kept = await DB.prepare("SELECT post_id FROM drafts WHERE id = ?").bind(draft.id).first();
  assert.equal(kept.post_id, null, "optional references are cleared");
});

test("crud: references must name a row the user can read", async (t) => {
  const { call, token } = await blogApp(t);
  const comment = await call("POST", "/api/comments", { token: token("alice"), body: { post_id: 42, text: "hi" } });
  assert.equal(comment.status, 400);
  assert.match(comment.body.error.message, /post_id must be the id of an existing post; 42 is not/);
  const bad = await call("POST", "/api/drafts", { token: token("alice"), body: { title: "t", post_id: "1; DROP TABLE posts" } });
  assert.equal(bad.status, 400);
  const invalid = await call("POST", "/api/posts", { token: token("alice"), body: { title: "t", stars: 9 } });
  assert.deepEqual([invalid.status, errorCode(invalid)], [400, "invalid_field"]);
});

test("crud: lists search text fields, filter booleans and references, and sort", async (t) => {
  const { call, token } = await blogApp(t);
  const add = async (body) => (await call("POST", "/api/posts", { token: token("alice"), body })).body;
  const a = await add({ title: "Autumn leaves", body: "red and gold", published: true, stars: 4 });
  const b = await add({ title: "Winter", body: "snow 100% white", published: false, stars: 2 });
  const c = await add({ title: "Spring_rain", body: "the leaves return", published: true, stars: 5 });
  await call("POST", "/api/comments", { token: token("bob"), body: { post_id: a.id, text: "lovely" } });
  await call("POST", "/api/comments", { token: token("bob"), body: { post_id: c.id, text: "fresh" } });
  const titles = async (query) => {
    const r = await call("GET", `/api/posts${query}`);
    assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
    return r.body.map((p) => p.title);
  };
  assert.deepEqual(await titles(""), ["Spring_rain", "Winter", "Autumn leaves"], "newest first");
  assert.deepEqual(await titles("?q=leaves"), ["Spring_rain", "Autumn leaves"], "title or body");
  assert.deepEqual(await titles("?q=LEAVES"), ["Spring_rain", "Autumn leaves"], "case-insensitive");
  assert.deepEqual(await titles("?q=%25"), ["Winter"], "% matches itself");
  assert.deepEqual(await titles("?q=_"), ["Spring_rain"], "_ matches itself");
  assert.deepEqual(await titles("?q=%20%20"), ["Spring_rain", "Winter", "Autumn leaves"], "a blank search is no search");
  assert.deepEqual(await titles("?published=true"), ["Spring_rain", "Autumn leaves"]);
  assert.deepEqual(await titles("?published=0"), ["Winter"]);
  assert.deepEqual(await titles("?published=true&q=autumn"), ["Autumn leaves"]);
  assert.deepEqual(await titles("?sort=stars"), ["Winter", "Autumn leaves", "Spring_rain"]);
  assert.deepEqual(await titles("?sort=-stars"), ["Spring_rain", "Autumn leaves", "Winter"]);
  assert.deepEqual(await titles("?sort=title"), ["Autumn leaves", "Spring_rain", "Winter"]);
  assert.deepEqual(await titles("?sort=id&limit=2&offset=1"), ["Winter", "Spring_rain"]);
  const comments = await call("GET", `/api/comments?post_id=${c.id}`);
  assert.deepEqual(comments.body.map((x) => x.text), ["fresh"]);
});

test("crud: hostile or wrong list parameters are a 400 that says what is allowed, and change nothing", async (t) => {
  const { call, token, DB } = await blogApp(t);
  await call("POST", "/api/posts", { token: token("alice"), body: { title: "keep me" } });
  const cases = [
    ["?sort=title;DROP TABLE posts", /sort must be one of id, created_at, updated_at, title, body, published, stars/],
    ["?sort=-user_id", /sort must be one of/],
    ["?sort=(SELECT 1)", /sort must be one of/],
    ["?title=keep me", /title cannot be filtered; use q, sort, limit, offset or a filter: published/],
    ["?user_id=1", /unknown query parameter "user_id"/],
    ["?published=maybe", /filter published must be true or false/],
    ["?published=1 OR 1=1", /filter published must be true or false/],
    ["?published=true&published=false", /give published only once/],
    [`?q=${"x".repeat(201)}`, /q must be at most 200 characters/],
    ["?limit=0", /limit must be a whole number from 1 to 500/],
    ["?limit=1;DELETE", /limit must be/],
  ];
  for (const [query, message] of cases) {
    const r = await call("GET", `/api/posts${query.replace(/ /g, "%20")}`);
    assert.equal(r.status, 400, query);
    assert.equal(errorCode(r), "invalid_query", query);
    assert.match(r.body.error.message, message, query);
  }
  const filter = await call("GET", "/api/comments?post_id=1%20OR%201=1", { token: token("bob") });
  assert.match(filter.body.error.message, /filter post_id must be the id of a posts row/);
  const injection = await call("GET", `/api/posts?q=${encodeURIComponent("' OR 1=1 --")}`);
  assert.deepEqual(injection.body, [], "a search is a bound value");
  const noText = await call("GET", "/api/scores?q=x", { token: token("bob") });
  assert.match(noText.body.error.message, /scores has no text fields to search/);
  const count = await DB.prepare("SELECT COUNT(*) AS n FROM posts").first();
  assert.equal(count.n, 1, "the table is intact");
});

test("crud: refuses a bad path or something that is not an entity at startup", () => {
  const api = new rt.Router();
  const notes = rt.defineEntity({ table: "notes", visibility: "shared", fields: [{ name: "text", kind: "text" }] });
  assert.throws(() => rt.crud(api, "/notes", notes), /must look like "\/api\/notes"/);
  assert.throws(() => rt.crud(api, "/api/notes/:id", notes));
  assert.throws(() => rt.crud(api, "/api/notes", { table: "notes" }), /needs an entity made by defineEntity/);
  assert.throws(() => rt.defineEntity({ table: "notes", visibility: "everyone", fields: [] }), /visibility of notes must be one of private, shared, public/);
  assert.equal(rt.defineEntity({ table: "notes", fields: [] }).visibility, "private");
});
