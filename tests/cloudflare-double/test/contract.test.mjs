// Contract tests of the Cloudflare API double, over HTTP against a real `wrangler dev` of it:
// the envelope and error codes Kiln's REST client relies on, the checks of request shapes, and
// that what is deployed through it really runs (D1, R2, assets, secrets) in the dispatch
// emulation. Run: node --test tests/cloudflare-double/test/*.test.mjs (cargo test runs it too).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDouble } from "../support/double.mjs";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const TOKEN = "double-contract-" + Math.random().toString(16).slice(2);
let double;
let api;

before(async () => {
  double = await startDouble({ token: TOKEN, account: ACCOUNT });
  api = `${double.url}/client/v4/accounts/${ACCOUNT}`;
});
after(async () => {
  await double?.stop();
});

async function call(method, path, { body, token = TOKEN, headers = {}, form } = {}) {
  const h = { ...headers };
  if (token !== null) h.authorization = `Bearer ${token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    h["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path.startsWith("http") ? path : api + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.success, false, r.text);
  assert.equal(r.json.result, null);
  assert.deepEqual(r.json.messages, []);
  assert.equal(r.json.errors[0].code, code, r.text);
  assert.equal(typeof r.json.errors[0].message, "string");
}

const sha32 = async (bytes) => Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex").slice(0, 32);

test("a wrong or missing API token is refused with the authentication envelope", async () => {
  assertError(await call("GET", "/d1/database", { token: "not-the-token" }), 403, 10000);
  assertError(await call("GET", "/d1/database", { token: null }), 400, 9106);
  assertError(await call("GET", "/d1/database", { token: null, headers: { authorization: "Basic abc" } }), 400, 6111);
  assertError(await call("GET", `${double.url}/client/v4/accounts/ffffffffffffffffffffffffffffffff/d1/database`), 403, 10000);
  assertError(await call("GET", `${double.url}/client/v4/accounts/not-an-id/d1/database`), 400, 7003);
});

test("D1: create, find by name, a duplicate name is 7502, a missing database is 7404", async () => {
  const created = await call("POST", "/d1/database", { body: { name: "contract-d1" } });
  assert.equal(created.status, 200, created.text);
  assert.equal(created.json.success, true);
  assert.match(created.json.result.uuid, /^[0-9a-f-]{36}$/);
  assert.equal(created.json.result.name, "contract-d1");

  assertError(await call("POST", "/d1/database", { body: { name: "contract-d1" } }), 400, 7502);
  assertError(await call("POST", "/d1/database", { body: { name: "Not A Name!" } }), 400, 7400);
  assertError(await call("POST", "/d1/database", { body: {} }), 400, 7400);

  const found = await call("GET", "/d1/database?name=contract-d1");
  assert.deepEqual(found.json.result.map((d) => d.uuid), [created.json.result.uuid]);
  assert.equal(found.json.result_info.total_count, 1);

  const missing = "00000000-0000-4000-8000-000000000000";
  assertError(await call("POST", `/d1/database/${missing}/query`, { body: { sql: "SELECT 1" } }), 404, 7404);
  assertError(await call("DELETE", `/d1/database/${missing}`), 404, 7404);
});

test("D1: the query endpoint runs real SQL with bound params, one result per statement, and a failing batch changes nothing", async () => {
  const db = (await call("POST", "/d1/database", { body: { name: "contract-sql" } })).json.result.uuid;
  const q = (body) => call("POST", `/d1/database/${db}/query`, { body });
  const migrate = await q({ sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n-- a comment; with a semicolon\nCREATE INDEX notes_title ON notes (title);" });
  assert.equal(migrate.status, 200, migrate.text);
  assert.equal(migrate.json.result.length, 2);

  const insert = await q({ sql: "INSERT INTO notes (title) VALUES (?) RETURNING id, title", params: ["a;b"] });
  assert.deepEqual(insert.json.result[0].results, [{ id: 1, title: "a;b" }]);
  assert.equal(insert.json.result[0].success, true);
  const meta = insert.json.result[0].meta;
  assert.equal(meta.changes, 1);
  assert.equal(meta.last_row_id, 1);
  assert.equal(meta.rows_written > 0, true);
  assert.equal(typeof meta.duration, "number");
  assert.equal(typeof meta.rows_read, "number");

  const failed = await q({ batch: [{ sql: "INSERT INTO notes (title) VALUES (?)", params: ["kept?"] }, { sql: "INSERT INTO notes (nope) VALUES (1)" }] });
  assertError(failed, 400, 7500);
  assert.match(failed.json.errors[0].message, /nope/);
  const rows = await q({ sql: "SELECT title FROM notes ORDER BY id" });
  assert.deepEqual(rows.json.result[0].results, [{ title: "a;b" }], "the failed batch was rolled back");

  const raw = await call("POST", `/d1/database/${db}/raw`, { body: { sql: "SELECT id, title FROM notes" } });
  assert.deepEqual(raw.json.result[0].results, { columns: ["id", "title"], rows: [[1, "a;b"]] });

  assertError(await q({ sql: "SELECT ?; SELECT ?", params: [1] }), 400, 7400);
  assertError(await q({ sql: "  " }), 400, 7400);
  assertError(await q({ sql: "SELEC 1" }), 400, 7500);
  assertError(await q("SELECT 1"), 400, 7400);
  const notJson = await fetch(`${api}/d1/database/${db}/query`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: "{sql:" });
  assert.equal(notJson.status, 400);
  assert.equal((await notJson.json()).errors[0].code, 10026);

  assert.equal((await call("DELETE", `/d1/database/${db}`)).json.success, true);
  assertError(await q({ sql: "SELECT 1" }), 404, 7404);
});

test("script upload: a body without a metadata part, or with metadata that names no module, is refused", async () => {
  const path = "/workers/dispatch/namespaces/kiln-apps/scripts/contract-bad";
  const noMeta = new FormData();
  noMeta.set("worker.js", new Blob(["export default {}"], { type: "application/javascript+module" }), "worker.js");
  const r1 = await call("PUT", path, { form: noMeta });
  assertError(r1, 400, 10021);
  assert.match(r1.json.errors[0].message, /metadata/);

  const noModule = new FormData();
  noModule.set("metadata", new Blob([JSON.stringify({ main_module: "worker.js" })], { type: "application/json" }));
  assertError(await call("PUT", path, { form: noModule }), 400, 10021);

  const wrongField = new FormData();
  wrongField.set("metadata", new Blob([JSON.stringify({ main_module: "worker.js", bindings: [{ type: "d1", name: "DB", database_id: "x" }] })], { type: "application/json" }));
  wrongField.set("worker.js", new Blob(["export default {}"], { type: "application/javascript+module" }), "worker.js");
  const r3 = await call("PUT", path, { form: wrongField });
  assertError(r3, 400, 10021);
  assert.match(r3.json.errors[0].message, /'id'/);

  assertError(await call("PUT", path, { body: { main_module: "worker.js" } }), 400, 10021);
  assertError(await call("PUT", "/workers/dispatch/namespaces/no-such-ns/scripts/x", { form: noModule }), 404, 100119);
  assertError(await call("DELETE", "/workers/dispatch/namespaces/kiln-apps/scripts/never-uploaded"), 404, 10007);
});

test("assets upload sessions issue and check their tokens", async () => {
  const bytes = new TextEncoder().encode("<h1>hi</h1>");
  const hash = await sha32(bytes);
  const session = await call("POST", "/workers/dispatch/namespaces/kiln-apps/scripts/contract-assets/assets-upload-session", { body: { manifest: { "/index.html": { hash, size: bytes.length } } } });
  assert.equal(session.status, 200, session.text);
  assert.deepEqual(session.json.result.buckets, [[hash]]);
  const upload = (token, fields, query = "?base64=true") => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.set(k, new Blob([v], { type: "text/html" }), k);
    return call("POST", `/workers/assets/upload${query}`, { token, form });
  };
  const b64 = Buffer.from(bytes).toString("base64");
  assertError(await upload("not-a-jwt", { [hash]: b64 }), 401, 10000);
  assertError(await upload(TOKEN, { [hash]: b64 }), 401, 10000, "the API token is not an upload token");
  assertError(await upload(session.json.result.jwt, { [hash]: b64 }, ""), 400, 10021);
  assertError(await upload(session.json.result.jwt, { ["0".repeat(32)]: b64 }), 400, 10021);
  assertError(await upload(session.json.result.jwt, { [hash]: Buffer.from("other size").toString("base64") }), 400, 10021);
  const done = await upload(session.json.result.jwt, { [hash]: b64 });
  assert.equal(done.status, 201, done.text);
  assert.equal(typeof done.json.result.jwt, "string");
  // The upload token cannot stand in for the completion token in a script's metadata.
  const form = new FormData();
  form.set("metadata", new Blob([JSON.stringify({ main_module: "worker.js", assets: { jwt: session.json.result.jwt } })], { type: "application/json" }));
  form.set("worker.js", new Blob(["export default { fetch() { return new Response('x') } }"], { type: "application/javascript+module" }), "worker.js");
  assertError(await call("PUT", "/workers/dispatch/namespaces/kiln-apps/scripts/contract-assets", { form }), 400, 10021);
  assertError(await call("POST", "/workers/dispatch/namespaces/kiln-apps/scripts/contract-assets/assets-upload-session", { body: { manifest: { "/x": { hash: "nothex", size: 1 } } } }), 400, 10021);
});

const APP = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/api/notes" && request.method === "POST") {
      const { title } = await request.json();
      const row = await env.DB.prepare("INSERT INTO notes (title) VALUES (?) RETURNING id, title").bind(title).first();
      return Response.json(row, { status: 201 });
    }
    if (url.pathname === "/api/notes") {
      const { results } = await env.DB.prepare("SELECT id, title FROM notes ORDER BY id").all();
      const [a, b] = await env.DB.batch([env.DB.prepare("SELECT count(*) AS n FROM notes"), env.DB.prepare("SELECT ? AS echo").bind(7)]);
      return Response.json({ results, count: a.results[0].n, echo: b.results[0].echo });
    }
    if (url.pathname.startsWith("/api/files/")) {
      const key = url.pathname.slice("/api/files/".length);
      if (request.method === "PUT") { await env.STORAGE.put(key, await request.arrayBuffer(), { httpMetadata: { contentType: "text/plain" } }); return new Response(null, { status: 201 }); }
      const o = await env.STORAGE.get(key);
      const listed = await env.STORAGE.list({ prefix: "" });
      return new Response(o ? await o.text() : "none", { headers: { "x-listed": listed.objects.map((x) => x.key).join(",") } });
    }
    if (url.pathname === "/api/secret") return new Response(env.JWT_SECRET.length + ":" + env.MODE);
    if (url.pathname === "/api/outbound") { try { await fetch("http://example.com"); return new Response("reached"); } catch (e) { return new Response("blocked"); } }
    return env.ASSETS.fetch(request);
  },
};`;

test("a script uploaded with D1, R2, secret and assets bindings runs in the dispatch emulation; delete by tags removes it all", async () => {
  const db = (await call("POST", "/d1/database", { body: { name: "contract-app" } })).json.result.uuid;
  await call("POST", `/d1/database/${db}/query`, { body: { sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)" } });
  const bucket = await call("POST", "/r2/buckets", { body: { name: "contract-app-files" } });
  assert.equal(bucket.status, 200, bucket.text);
  assertError(await call("POST", "/r2/buckets", { body: { name: "contract-app-files" } }), 409, 10004);

  const files = { "/index.html": "<!doctype html><title>app</title>", "/app.js": "console.log(1)" };
  const manifest = {};
  for (const [p, text] of Object.entries(files)) {
    const bytes = new TextEncoder().encode(text);
    manifest[p] = { hash: await sha32(bytes), size: bytes.length };
  }
  const script = "contract-app-v1";
  const ns = "/workers/dispatch/namespaces/kiln-apps/scripts";
  const session = (await call("POST", `${ns}/${script}/assets-upload-session`, { body: { manifest } })).json.result;
  let completion = session.jwt;
  for (const bucketHashes of session.buckets) {
    const form = new FormData();
    for (const h of bucketHashes) {
      const [, text] = Object.entries(files).find(([p]) => manifest[p].hash === h);
      form.set(h, new Blob([Buffer.from(text).toString("base64")], { type: "text/plain" }), h);
    }
    const r = await call("POST", "/workers/assets/upload?base64=true", { token: session.jwt, form });
    if (r.json.result?.jwt) completion = r.json.result.jwt;
  }
  const metadata = {
    main_module: "worker.js",
    compatibility_date: "2026-04-01",
    bindings: [
      { type: "d1", name: "DB", id: db },
      { type: "r2_bucket", name: "STORAGE", bucket_name: "contract-app-files" },
      { type: "secret_text", name: "JWT_SECRET", text: "s3cret-value" },
      { type: "plain_text", name: "MODE", text: "double" },
      { type: "assets", name: "ASSETS" },
    ],
    assets: { jwt: completion, config: { not_found_handling: "single-page-application", run_worker_first: ["/api/*"] } },
    tags: ["kiln", "project-contract"],
  };
  const form = new FormData();
  form.set("metadata", new Blob([JSON.stringify(metadata)], { type: "application/json" }));
  form.set("worker.js", new Blob([APP], { type: "application/javascript+module" }), "worker.js");
  const up = await call("PUT", `${ns}/${script}`, { form });
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(up.json.result.tags, ["kiln", "project-contract"]);
  assert.equal(up.json.result.has_assets, true);
  // The completion token is redeemed once; a retried upload keeps the script's assets instead.
  const again = new FormData();
  again.set("metadata", new Blob([JSON.stringify(metadata)], { type: "application/json" }));
  again.set("worker.js", new Blob([APP], { type: "application/javascript+module" }), "worker.js");
  const reused = await call("PUT", `${ns}/${script}`, { form: again });
  assertError(reused, 400, 10021);
  assert.match(reused.json.errors[0].message, /already redeemed.*keep_assets/);
  const { jwt: _redeemed, ...keptAssets } = metadata.assets;
  const keep = new FormData();
  keep.set("metadata", new Blob([JSON.stringify({ ...metadata, assets: keptAssets, keep_assets: true })], { type: "application/json" }));
  keep.set("worker.js", new Blob([APP], { type: "application/javascript+module" }), "worker.js");
  const kept = await call("PUT", `${ns}/${script}`, { form: keep });
  assert.equal(kept.status, 200, kept.text);
  assert.equal(kept.json.result.has_assets, true, "keep_assets keeps the assets of the first upload");

  const app = (path, init = {}) => fetch(`${double.url}/__double/dispatch/kiln-apps/${script}${path}`, { ...init, headers: { "x-double-url": `http://contract.localhost:1234${path}`, ...(init.headers ?? {}) } });
  const created = await app("/api/notes", { method: "POST", body: JSON.stringify({ title: "from the app" }) });
  assert.equal(created.status, 201, await created.clone().text());
  assert.deepEqual(await created.json(), { id: 1, title: "from the app" });
  assert.deepEqual(await (await app("/api/notes")).json(), { results: [{ id: 1, title: "from the app" }], count: 1, echo: 7 });
  const rest = await call("POST", `/d1/database/${db}/query`, { body: { sql: "SELECT title FROM notes" } });
  assert.deepEqual(rest.json.result[0].results, [{ title: "from the app" }], "the app and the REST API see one database");

  assert.equal((await app("/api/files/a.txt", { method: "PUT", body: "file body" })).status, 201);
  const file = await app("/api/files/a.txt");
  assert.equal(await file.text(), "file body");
  assert.equal(file.headers.get("x-listed"), "a.txt");
  assert.equal(await (await app("/api/secret")).text(), "12:double");
  assert.equal(await (await app("/api/outbound")).text(), "blocked");

  const index = await app("/", { headers: { accept: "text/html" } });
  assert.equal(index.status, 200);
  assert.equal(await index.text(), files["/index.html"]);
  assert.equal(await (await app("/app.js")).text(), files["/app.js"]);
  const deep = await app("/some/page", { headers: { accept: "text/html" } });
  assert.equal(await deep.text(), files["/index.html"], "single-page-application fallback");
  const missing = await fetch(`${double.url}/__double/dispatch/kiln-apps/never-uploaded/`);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("x-double-error"), "worker-not-found");

  assertError(await call("DELETE", "/r2/buckets/contract-app-files"), 409, 10008);
  const deleted = await call("DELETE", `${ns.slice(0, -"/scripts".length)}/scripts?tags=kiln:yes,project-contract:yes`);
  assert.equal(deleted.status, 200, deleted.text);
  assertError(await call("DELETE", `${ns}/${script}`), 404, 10007);
  const objects = await call("GET", "/r2/buckets/contract-app-files/objects");
  assert.deepEqual(objects.json.result.map((o) => o.key), ["a.txt"]);
  assert.equal((await call("DELETE", "/r2/buckets/contract-app-files/objects/a.txt")).json.success, true);
  assert.equal((await call("DELETE", "/r2/buckets/contract-app-files")).json.success, true);
  assert.equal((await call("DELETE", `/d1/database/${db}`)).json.success, true);

  const state = await (await fetch(`${double.url}/__double/state`)).json();
  assert.deepEqual(state.scripts.filter((s) => s.name === script), []);
  assert.deepEqual(state.asset_blobs.filter((k) => k.includes(script)), []);
  assert.deepEqual(state.buckets.filter((b) => b.name === "contract-app-files"), []);
  assert.deepEqual(state.databases.filter((d) => d.uuid === db), []);
  assert.deepEqual(state.upload_sessions.filter((s) => s.script === script), []);
});

test("the call log lists every REST call as {method, path} and can be reset", async () => {
  assert.equal((await fetch(`${double.url}/__double/calls`, { method: "DELETE" })).status, 204);
  await call("GET", "/d1/database?name=x");
  await call("GET", "/r2/buckets", { token: "wrong" });
  const calls = await (await fetch(`${double.url}/__double/calls`)).json();
  assert.deepEqual(calls, [
    { method: "GET", path: `/client/v4/accounts/${ACCOUNT}/d1/database` },
    { method: "GET", path: `/client/v4/accounts/${ACCOUNT}/r2/buckets` },
  ]);
});
