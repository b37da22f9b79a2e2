var __defProp = Object.defineProperty;
var __name = (target, value2) => __defProp(target, "name", { value: value2, configurable: true });

// src/envelope.js
function ok(result, { status = 200, resultInfo } = {}) {
  const body = { success: true, errors: [], messages: [], result };
  if (resultInfo) body.result_info = resultInfo;
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
__name(ok, "ok");
function fail(status, code, message, extra = {}) {
  const body = { success: false, errors: [{ code, message, ...extra }], messages: [], result: null };
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
__name(fail, "fail");
var ApiError = class extends Error {
  static {
    __name(this, "ApiError");
  }
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
};
var err = /* @__PURE__ */ __name((status, code, message) => new ApiError(status, code, message), "err");
async function jsonBody(request) {
  const type = request.headers.get("content-type") || "";
  if (!type.toLowerCase().includes("application/json")) {
    throw err(400, 10026, "the request body must be JSON (content-type: application/json)");
  }
  try {
    return await request.json();
  } catch {
    throw err(400, 10026, "the request body is not valid JSON");
  }
}
__name(jsonBody, "jsonBody");

// src/dispatch.js
import { WorkerEntrypoint } from "cloudflare:workers";

// src/stub.js
function account(env) {
  return env.ACCOUNT.get(env.ACCOUNT.idFromName("account"));
}
__name(account, "account");

// src/dispatch.js
var CONTENT_TYPES = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
  map: "application/json",
  woff2: "font/woff2",
  woff: "font/woff",
  wasm: "application/wasm"
};
function contentType(path) {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return CONTENT_TYPES[ext] ?? "application/octet-stream";
}
__name(contentType, "contentType");
function workerFirst(rwf, pathname) {
  if (rwf === true) return true;
  if (!Array.isArray(rwf)) return false;
  const test = /* @__PURE__ */ __name((p) => new RegExp("^" + p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*") + "$").test(pathname), "test");
  const positive = rwf.filter((p) => !p.startsWith("!"));
  const negative = rwf.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
  return positive.some(test) && !negative.some(test);
}
__name(workerFirst, "workerFirst");
function isNavigation(request) {
  return request.headers.get("sec-fetch-mode") === "navigate" || (request.headers.get("accept") || "").includes("text/html");
}
__name(isNavigation, "isNavigation");
async function serveAsset(env, ns, script, assets, config, request, fallback) {
  if (request.method !== "GET" && request.method !== "HEAD") return null;
  const path = decodeURIComponent(new URL(request.url).pathname);
  const candidates = path.endsWith("/") ? [`${path}index.html`] : [path, `${path}.html`, `${path}/index.html`];
  let found = candidates.find((p) => assets[p]);
  let status = 200;
  if (!found && fallback) {
    if (config.not_found_handling === "single-page-application" && assets["/index.html"]) found = "/index.html";
    else if (config.not_found_handling === "404-page") {
      const parts = path.split("/").filter(Boolean);
      for (let i = parts.length; i >= 0 && !found; i--) {
        const p = `/${parts.slice(0, i).join("/")}${i ? "/" : ""}404.html`;
        if (assets[p]) found = p;
      }
      status = 404;
    }
  }
  if (!found) return null;
  const { hash } = assets[found];
  const etag = `"${hash}"`;
  const headers = { etag, "content-type": contentType(found), "cache-control": "public, max-age=0, must-revalidate" };
  if ((request.headers.get("if-none-match") || "").split(",").some((t) => t.trim() === etag)) return new Response(null, { status: 304, headers });
  const o = await env.BLOBS.get(`assets/${ns}/${script}/${hash}`);
  if (!o) return new Response("asset missing from storage", { status: 500 });
  return new Response(request.method === "HEAD" ? null : o.body, { status, headers });
}
__name(serveAsset, "serveAsset");
async function dispatch(request, env, ctx, rest) {
  const [ns, script, ...tail] = rest.split("/");
  const original = request.headers.get("x-double-url");
  const target = original ? new URL(original) : new URL(`http://${script}.localhost/${tail.join("/")}${new URL(request.url).search}`);
  const spec = await account(env).loadScript(decodeURIComponent(ns || ""), decodeURIComponent(script || ""));
  if (!spec) {
    return new Response(JSON.stringify({ error: "Worker not found." }), { status: 404, headers: { "content-type": "application/json", "x-double-error": "worker-not-found" } });
  }
  const headers = new Headers(request.headers);
  for (const h of [...headers.keys()]) if (h.startsWith("x-double-")) headers.delete(h);
  const body = request.method === "GET" || request.method === "HEAD" ? void 0 : await request.arrayBuffer();
  const req = new Request(target, { method: request.method, headers, body, redirect: "manual" });
  const config = spec.metadata.assets?.config ?? {};
  const hasAssets = Object.keys(spec.assets).length > 0;
  if (hasAssets && !workerFirst(config.run_worker_first, target.pathname)) {
    const served = await serveAsset(env, ns, script, spec.assets, config, req, isNavigation(req));
    if (served) return served;
  }
  let limits = {};
  try {
    limits = JSON.parse(request.headers.get("x-double-limits") || "{}");
  } catch {
  }
  const worker = env.LOADER.get(`${ns}/${script}@${spec.etag}`, () => loaderConfig(spec, ns, script, ctx, limits));
  try {
    return await worker.getEntrypoint().fetch(req);
  } catch (e) {
    const message = String(e?.message ?? e);
    console.error(`double: script ${ns}/${script} threw: ${message.slice(0, 300)}`);
    return new Response(JSON.stringify({ error: "the script threw an exception", message: message.slice(0, 300) }), { status: 500, headers: { "content-type": "application/json", "x-double-error": "script-threw" } });
  }
}
__name(dispatch, "dispatch");
function loaderConfig(spec, ns, script, ctx, limits) {
  const modules = {};
  for (const m of spec.modules) {
    modules[m.name] = m.content_type === "application/json" ? { json: JSON.parse(m.body) } : m.content_type === "text/plain" ? { text: m.body } : m.content_type.includes("module") ? { js: m.body } : { cjs: m.body };
  }
  const env = {};
  const kinds = {};
  for (const b of spec.metadata.bindings ?? []) {
    kinds[b.name] = b.type;
    if (b.type === "d1") env[b.name] = ctx.exports.DoubleD1({ props: { database: b.id } });
    else if (b.type === "r2_bucket") env[b.name] = ctx.exports.DoubleR2({ props: { bucket: b.bucket_name } });
    else if (b.type === "assets") env[b.name] = ctx.exports.DoubleAssets({ props: { ns, script } });
    else env[b.name] = b.text;
  }
  env.__DOUBLE_KINDS = kinds;
  const main = "__double_main.js";
  modules[main] = MAIN(spec.metadata.main_module);
  modules["__double_d1.js"] = D1_API;
  modules["__double_r2.js"] = R2_API;
  return {
    compatibilityDate: spec.metadata.compatibility_date || "2026-04-01",
    compatibilityFlags: spec.metadata.compatibility_flags ?? [],
    mainModule: main,
    modules,
    env,
    globalOutbound: null,
    limits: limits.cpuMs || limits.subRequests ? limits : void 0
  };
}
__name(loaderConfig, "loaderConfig");
var MAIN = /* @__PURE__ */ __name((mainModule) => `
import app from ${JSON.stringify("./" + mainModule)};
import { D1Database } from "./__double_d1.js";
import { R2Bucket } from "./__double_r2.js";
function bindings(raw) {
  const env = {};
  for (const [name, value] of Object.entries(raw)) {
    const kind = raw.__DOUBLE_KINDS[name];
    if (name === "__DOUBLE_KINDS") continue;
    env[name] = kind === "d1" ? new D1Database(value) : kind === "r2_bucket" ? new R2Bucket(value) : value;
  }
  return env;
}
export default {
  fetch(request, env, ctx) {
    if (typeof app?.fetch !== "function") throw new Error("the main module has no default export with a fetch handler");
    return app.fetch(request, bindings(env), ctx);
  },
};
`, "MAIN");
var D1_API = `
const cell = (v) => (v === undefined ? null : typeof v === "boolean" ? (v ? 1 : 0) : v instanceof ArrayBuffer ? [...new Uint8Array(v)] : ArrayBuffer.isView(v) ? [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] : v);
const objects = (r) => r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
class D1PreparedStatement {
  constructor(db, sql, params) { this.db = db; this.statement = sql; this.params = params; }
  bind(...values) { return new D1PreparedStatement(this.db, this.statement, values.map(cell)); }
  async #one() { const [r] = await this.db.rpc.run([{ sql: this.statement, params: this.params }]); return r; }
  async first(column) {
    const r = await this.#one(); const row = objects(r)[0] ?? null;
    if (column === undefined || row === null) return row;
    if (!(column in row)) throw new Error("D1_ERROR: Column not found: " + column);
    return row[column];
  }
  async all() { const r = await this.#one(); return { success: true, results: objects(r), meta: r.meta }; }
  async run() { return this.all(); }
  async raw(options) { const r = await this.#one(); return options?.columnNames ? [r.columns, ...r.rows] : r.rows; }
}
export class D1Database {
  constructor(rpc) { this.rpc = rpc; }
  prepare(sql) { return new D1PreparedStatement(this, String(sql), []); }
  async batch(statements) {
    const rs = await this.rpc.run(statements.map((s) => ({ sql: s.statement, params: s.params })));
    return rs.map((r) => ({ success: true, results: objects(r), meta: r.meta }));
  }
  async exec(sql) { return this.rpc.exec(String(sql)); }
  async dump() { throw new Error("D1_ERROR: dump is not supported by the Cloudflare API double"); }
  withSession() { return this; }
}
`;
var R2_API = `
class R2Object {
  constructor(o) {
    this.key = o.key; this.size = o.size; this.etag = o.etag; this.httpEtag = '"' + o.etag + '"';
    this.uploaded = new Date(o.uploaded); this.httpMetadata = o.httpMetadata ?? {}; this.customMetadata = o.customMetadata ?? {};
    this.version = o.version; this.checksums = {}; this.storageClass = "Standard";
  }
  writeHttpMetadata(headers) { for (const [k, v] of Object.entries({ "content-type": this.httpMetadata.contentType, "content-language": this.httpMetadata.contentLanguage, "content-disposition": this.httpMetadata.contentDisposition, "content-encoding": this.httpMetadata.contentEncoding, "cache-control": this.httpMetadata.cacheControl })) if (v) headers.set(k, v); }
}
class R2ObjectBody extends R2Object {
  constructor(o) { super(o); this.bytes = o.bytes; this.bodyUsed = false; }
  get body() { const b = this.bytes; return new ReadableStream({ start(c) { c.enqueue(new Uint8Array(b)); c.close(); } }); }
  async arrayBuffer() { return this.bytes; }
  async text() { return new TextDecoder().decode(this.bytes); }
  async json() { return JSON.parse(await this.text()); }
  async blob() { return new Blob([this.bytes]); }
}
async function bytesOf(value) {
  if (value === null || value === undefined) return new ArrayBuffer(0);
  if (typeof value === "string") return new TextEncoder().encode(value).buffer;
  if (value instanceof ArrayBuffer) return value;
  if (ArrayBuffer.isView(value)) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  return new Response(value).arrayBuffer();
}
export class R2Bucket {
  constructor(rpc) { this.rpc = rpc; }
  async put(key, value, options) {
    const http = options?.httpMetadata instanceof Headers ? { contentType: options.httpMetadata.get("content-type") ?? undefined } : options?.httpMetadata;
    return new R2Object(await this.rpc.put(String(key), await bytesOf(value), { httpMetadata: http, customMetadata: options?.customMetadata }));
  }
  async get(key) { const o = await this.rpc.get(String(key)); return o ? new R2ObjectBody(o) : null; }
  async head(key) { const o = await this.rpc.head(String(key)); return o ? new R2Object(o) : null; }
  async delete(keys) { await this.rpc.delete((Array.isArray(keys) ? keys : [keys]).map(String)); }
  async list(options) {
    const r = await this.rpc.list({ prefix: options?.prefix, cursor: options?.cursor, limit: options?.limit, delimiter: options?.delimiter });
    return { objects: r.objects.map((o) => new R2Object(o)), truncated: r.truncated, cursor: r.cursor, delimitedPrefixes: r.delimitedPrefixes };
  }
}
`;
function described(key2, o) {
  return { key: key2, size: o.size, etag: o.etag, version: o.version, uploaded: o.uploaded.toISOString(), httpMetadata: o.httpMetadata ?? {}, customMetadata: o.customMetadata ?? {} };
}
__name(described, "described");
var DoubleD1 = class extends WorkerEntrypoint {
  static {
    __name(this, "DoubleD1");
  }
  #db() {
    return this.env.D1.get(this.env.D1.idFromName(this.ctx.props.database));
  }
  async run(statements) {
    const r = await this.#db().run(statements, true);
    if (!r.ok) throw new Error(`D1_ERROR: ${r.message}`);
    return r.results.map((x) => ({ columns: x.results.columns, rows: x.results.rows, meta: x.meta }));
  }
  async exec(sql) {
    const r = await this.#db().exec(sql);
    if (!r.ok) throw new Error(`D1_EXEC_ERROR: ${r.message}`);
    return { count: r.count, duration: 0 };
  }
};
var DoubleR2 = class extends WorkerEntrypoint {
  static {
    __name(this, "DoubleR2");
  }
  #key(key2) {
    if (!key2 || key2.length > 1024) throw new Error("R2 keys are 1 to 1024 bytes");
    return `r2/${this.ctx.props.bucket}/${key2}`;
  }
  async put(key2, bytes, options) {
    if (!await account(this.env).hasBucket(this.ctx.props.bucket)) throw new Error(`put: The specified bucket does not exist. (10006)`);
    const o = await this.env.BLOBS.put(this.#key(key2), bytes, { httpMetadata: options?.httpMetadata, customMetadata: options?.customMetadata });
    return described(key2, o);
  }
  async get(key2) {
    const o = await this.env.BLOBS.get(this.#key(key2));
    return o ? { ...described(key2, o), bytes: await o.arrayBuffer() } : null;
  }
  async head(key2) {
    const o = await this.env.BLOBS.head(this.#key(key2));
    return o ? described(key2, o) : null;
  }
  async delete(keys) {
    await this.env.BLOBS.delete(keys.map((k) => this.#key(k)));
  }
  async list(options = {}) {
    const base = `r2/${this.ctx.props.bucket}/`;
    const r = await this.env.BLOBS.list({ prefix: base + (options.prefix ?? ""), cursor: options.cursor, limit: Math.min(Number(options.limit) || 1e3, 1e3), delimiter: options.delimiter });
    return {
      objects: r.objects.map((o) => described(o.key.slice(base.length), o)),
      truncated: r.truncated,
      cursor: r.truncated ? r.cursor : void 0,
      delimitedPrefixes: (r.delimitedPrefixes ?? []).map((p) => p.slice(base.length))
    };
  }
};
var DoubleAssets = class extends WorkerEntrypoint {
  static {
    __name(this, "DoubleAssets");
  }
  async fetch(request) {
    const { ns, script } = this.ctx.props;
    const spec = await account(this.env).loadScript(ns, script);
    if (!spec) return new Response("not found", { status: 404 });
    const config = spec.metadata.assets?.config ?? {};
    const page = isNavigation(request) || !/\.[^/]*$/.test(new URL(request.url).pathname);
    const served = await serveAsset(this.env, ns, script, spec.assets, config, request, page);
    return served ?? new Response(null, { status: 404 });
  }
};

// src/account.js
import { DurableObject } from "cloudflare:workers";

// src/jwt.js
var enc = new TextEncoder();
var b64url = /* @__PURE__ */ __name((bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""), "b64url");
var fromB64url = /* @__PURE__ */ __name((s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)), "fromB64url");
async function key(secret) {
  return crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}
__name(key, "key");
async function sign(secret, payload) {
  const head = b64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64url(enc.encode(JSON.stringify(payload)));
  const sig = await crypto.subtle.sign("HMAC", await key(secret), enc.encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(sig)}`;
}
__name(sign, "sign");
async function verify(secret, token, typ) {
  const parts = String(token || "").split(".");
  if (parts.length !== 3) return null;
  try {
    const good = await crypto.subtle.verify("HMAC", await key(secret), fromB64url(parts[2]), enc.encode(`${parts[0]}.${parts[1]}`));
    if (!good) return null;
    const payload = JSON.parse(new TextDecoder().decode(fromB64url(parts[1])));
    if (payload.typ !== typ || !(payload.exp > Date.now() / 1e3)) return null;
    return payload;
  } catch {
    return null;
  }
}
__name(verify, "verify");

// src/sql.js
function splitStatements(sql) {
  const out = [];
  let start = 0;
  let depth = 0;
  let i = 0;
  const n = sql.length;
  const word = /* @__PURE__ */ __name((at) => {
    const m = /^[A-Za-z_]+/.exec(sql.slice(at, at + 16));
    return m ? m[0].toUpperCase() : "";
  }, "word");
  const push = /* @__PURE__ */ __name((end) => {
    const text = sql.slice(start, end).trim();
    if (stripComments(text).trim() !== "") out.push(text);
  }, "push");
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === "`") {
      const close = sql.indexOf(c, i + 1);
      i = close < 0 ? n : close + 1;
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
__name(splitStatements, "splitStatements");
function stripComments(text) {
  return text.replace(/--[^\n]*(\n|$)/g, " ").replace(/\/\*[\s\S]*?(\*\/|$)/g, " ");
}
__name(stripComments, "stripComments");
function isTrigger(prefix) {
  return /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(stripComments(prefix));
}
__name(isTrigger, "isTrigger");

// src/account.js
var ACCOUNT_ID = /^[0-9a-f]{32}$/;
var D1_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
var BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
var SCRIPT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
var HASH = /^[0-9a-f]{32}$/;
var MAX_ASSET_BYTES = 25 * 1024 * 1024;
var MAX_TAGS = 8;
var BUCKET_SIZE = 10;
var BINDING_TYPES = /* @__PURE__ */ new Set(["d1", "r2_bucket", "secret_text", "plain_text", "assets"]);
var now = /* @__PURE__ */ __name(() => (/* @__PURE__ */ new Date()).toISOString(), "now");
var uuid = /* @__PURE__ */ __name(() => crypto.randomUUID(), "uuid");
var Account = class extends DurableObject {
  static {
    __name(this, "Account");
  }
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER);
      CREATE TABLE IF NOT EXISTS settings (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS databases (uuid TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created_at TEXT NOT NULL, location TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY, id TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS scripts (namespace TEXT NOT NULL, name TEXT NOT NULL, metadata TEXT NOT NULL,
        tags TEXT NOT NULL, etag TEXT NOT NULL, created_on TEXT NOT NULL, modified_on TEXT NOT NULL,
        assets TEXT NOT NULL, PRIMARY KEY (namespace, name));
      CREATE TABLE IF NOT EXISTS modules (namespace TEXT NOT NULL, script TEXT NOT NULL, name TEXT NOT NULL,
        content_type TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (namespace, script, name));
      CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, namespace TEXT NOT NULL, script TEXT NOT NULL,
        manifest TEXT NOT NULL, pending TEXT NOT NULL, created_at TEXT NOT NULL);
    `);
    for (const ns of String(env.DISPATCH_NAMESPACES || "kiln-apps").split(",").map((s) => s.trim()).filter(Boolean)) {
      this.sql.exec("INSERT OR IGNORE INTO namespaces (name, id, created_at) VALUES (?, ?, ?)", ns, uuid(), now());
    }
  }
  /** The secret that signs upload and completion tokens (made once per account). */
  secret() {
    const row = [...this.sql.exec("SELECT v FROM settings WHERE k = 'jwt_secret'")][0];
    if (row) return row.v;
    const s = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
    this.sql.exec("INSERT INTO settings (k, v) VALUES ('jwt_secret', ?)", s);
    return s;
  }
  // -------------------------------------------------------------------------------------------
  // Entry: one REST call (path already stripped of /client/v4)
  // -------------------------------------------------------------------------------------------
  async fetch(request) {
    const url = new URL(request.url);
    const path = url.pathname;
    let response;
    try {
      response = await this.route(request, url, path.slice("/client/v4".length));
    } catch (e) {
      if (e instanceof ApiError) response = fail(e.status, e.code, e.message);
      else {
        console.error("double: internal error", e?.stack ?? e);
        response = fail(500, 10002, `internal error in the Cloudflare API double: ${e?.message ?? e}`);
      }
    }
    this.sql.exec("INSERT INTO calls (method, path, status) VALUES (?, ?, ?)", request.method, path, response.status);
    return response;
  }
  async route(request, url, path) {
    const m = request.method;
    let p = match(path, "/accounts/:a/workers/assets/upload");
    if (p) {
      this.account(p.a, path);
      if (m !== "POST") throw methodNotAllowed();
      return this.assetsUpload(request, url);
    }
    this.authenticate(request);
    if (p = match(path, "/accounts/:a/d1/database")) {
      this.account(p.a, path);
      if (m === "POST") return this.d1Create(request);
      if (m === "GET") return this.d1List(url);
      throw methodNotAllowed();
    }
    if (p = match(path, "/accounts/:a/d1/database/:id")) {
      this.account(p.a, path);
      if (m === "GET") return ok(this.d1Info(this.database(p.id)));
      if (m === "DELETE") return this.d1Delete(p.id);
      throw methodNotAllowed();
    }
    if ((p = match(path, "/accounts/:a/d1/database/:id/query")) || (p = match(path, "/accounts/:a/d1/database/:id/raw"))) {
      this.account(p.a, path);
      if (m !== "POST") throw methodNotAllowed();
      return this.d1Query(request, p.id, path.endsWith("/raw"));
    }
    if (p = match(path, "/accounts/:a/r2/buckets")) {
      this.account(p.a, path);
      if (m === "POST") return this.r2Create(request);
      if (m === "GET") return ok({ buckets: this.rows("SELECT name, created_at AS creation_date, location FROM buckets ORDER BY name") });
      throw methodNotAllowed();
    }
    if (p = match(path, "/accounts/:a/r2/buckets/:b")) {
      this.account(p.a, path);
      if (m === "GET") return ok(this.bucket(p.b));
      if (m === "DELETE") return this.r2Delete(p.b);
      throw methodNotAllowed();
    }
    if (p = match(path, "/accounts/:a/r2/buckets/:b/objects")) {
      this.account(p.a, path);
      if (m !== "GET") throw methodNotAllowed();
      return this.r2ListObjects(p.b, url);
    }
    if (p = matchRest(path, "/accounts/:a/r2/buckets/:b/objects/")) {
      this.account(p.a, path);
      return this.r2Object(request, p.b, p.rest);
    }
    if (p = match(path, "/accounts/:a/workers/dispatch/namespaces")) {
      this.account(p.a, path);
      if (m === "GET") return ok(this.rows("SELECT name AS namespace_name, id AS namespace_id, created_at AS created_on FROM namespaces ORDER BY name"));
      if (m === "POST") return this.namespaceCreate(request);
      throw methodNotAllowed();
    }
    if (p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns")) {
      this.account(p.a, path);
      if (m !== "GET") throw methodNotAllowed();
      const ns = this.namespace(p.ns);
      return ok({ namespace_name: ns.name, namespace_id: ns.id, created_on: ns.created_at, script_count: this.scalar("SELECT count(*) AS n FROM scripts WHERE namespace = ?", ns.name) });
    }
    if (p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns/scripts")) {
      this.account(p.a, path);
      this.namespace(p.ns);
      if (m === "GET") return ok(this.scriptsByTags(p.ns, url.searchParams.get("tags")).map((s) => this.scriptInfo(s)));
      if (m === "DELETE") return this.scriptsDeleteByTags(p.ns, url.searchParams.get("tags"));
      throw methodNotAllowed();
    }
    if (p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns/scripts/:name")) {
      this.account(p.a, path);
      this.namespace(p.ns);
      if (m === "PUT") return this.scriptUpload(request, p.ns, p.name);
      if (m === "GET") return ok(this.scriptInfo(this.script(p.ns, p.name)));
      if (m === "DELETE") return this.scriptDelete(p.ns, p.name);
      throw methodNotAllowed();
    }
    if (p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns/scripts/:name/assets-upload-session")) {
      this.account(p.a, path);
      this.namespace(p.ns);
      if (m !== "POST") throw methodNotAllowed();
      return this.assetsSession(request, p.ns, p.name);
    }
    throw err(404, 7e3, "No route for that URI");
  }
  authenticate(request) {
    const header = request.headers.get("authorization");
    if (header === null) throw err(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers");
    const m = /^Bearer ([^\s]+)$/.exec(header);
    if (!m) throw err(400, 6111, "Invalid format for Authorization header");
    if (!this.env.CLOUDFLARE_API_TOKEN || m[1] !== this.env.CLOUDFLARE_API_TOKEN) throw err(403, 1e4, "Authentication error");
  }
  account(id, path) {
    if (!ACCOUNT_ID.test(id)) throw err(400, 7003, `Could not route to /client/v4${path}, perhaps your object identifier is invalid?`);
    if (id !== this.env.CLOUDFLARE_ACCOUNT_ID) throw err(403, 1e4, "Authentication error");
  }
  rows(q, ...args) {
    return [...this.sql.exec(q, ...args)];
  }
  scalar(q, ...args) {
    return this.sql.exec(q, ...args).one().n;
  }
  // -------------------------------------------------------------------------------------------
  // D1
  // -------------------------------------------------------------------------------------------
  d1Stub(id) {
    return this.env.D1.get(this.env.D1.idFromName(id));
  }
  database(id) {
    const row = this.rows("SELECT uuid, name, created_at FROM databases WHERE uuid = ?", id)[0];
    if (!row) throw err(404, 7404, `The database ${id} could not be found`);
    return row;
  }
  d1Info(row) {
    return { uuid: row.uuid, name: row.name, created_at: row.created_at, version: "production", num_tables: 0, file_size: 0, running_in_region: "WEUR" };
  }
  async d1Create(request) {
    const body = await jsonBody(request);
    const name = body?.name;
    if (typeof name !== "string" || name === "") throw err(400, 7400, "The request is malformed: name is required");
    if (!D1_NAME.test(name)) throw err(400, 7400, `The request is malformed: '${name.slice(0, 80)}' is not a valid database name (lowercase letters, digits, '-' and '_', at most 64)`);
    if (this.rows("SELECT 1 FROM databases WHERE name = ?", name).length) throw err(400, 7502, "A database with that name already exists");
    const max = Number(this.env.D1_DATABASE_LIMIT || 5e4);
    if (this.scalar("SELECT count(*) AS n FROM databases") >= max) throw err(400, 7406, `You have reached the maximum number of D1 databases for your account (${max})`);
    const row = { uuid: uuid(), name, created_at: now() };
    this.sql.exec("INSERT INTO databases (uuid, name, created_at) VALUES (?, ?, ?)", row.uuid, row.name, row.created_at);
    return ok(this.d1Info(row));
  }
  d1List(url) {
    const name = url.searchParams.get("name");
    const page = Math.max(1, Number(url.searchParams.get("page")) || 1);
    const perPage = Math.min(1e4, Math.max(10, Number(url.searchParams.get("per_page")) || 1e3));
    const all = this.rows("SELECT uuid, name, created_at FROM databases ORDER BY created_at, name").filter((r) => name === null || r.name.includes(name));
    const slice = all.slice((page - 1) * perPage, page * perPage).map((r) => this.d1Info(r));
    return ok(slice, { resultInfo: { page, per_page: perPage, count: slice.length, total_count: all.length } });
  }
  async d1Delete(id) {
    this.database(id);
    await this.d1Stub(id).destroy();
    this.sql.exec("DELETE FROM databases WHERE uuid = ?", id);
    return ok(null);
  }
  async d1Query(request, id, raw) {
    this.database(id);
    const body = await jsonBody(request);
    const one = /* @__PURE__ */ __name((s, where) => {
      if (!s || typeof s.sql !== "string" || s.sql.trim() === "") throw err(400, 7400, `The request is malformed: ${where}sql is required`);
      if (s.params !== void 0 && !Array.isArray(s.params)) throw err(400, 7400, `The request is malformed: ${where}params must be an array`);
      const parts = splitStatements(s.sql);
      if (parts.length === 0) throw err(400, 7500, "No SQL statements detected.");
      if (parts.length > 1 && (s.params ?? []).length > 0) {
        throw err(400, 7400, `The request is malformed: ${where}params can only be bound to a single statement, and this sql holds ${parts.length}`);
      }
      return parts.map((p) => ({ sql: p, params: s.params ?? [] }));
    }, "one");
    let statements;
    if (body && Array.isArray(body.batch)) {
      if (body.batch.length === 0) throw err(400, 7400, "The request is malformed: batch is empty");
      statements = body.batch.flatMap((s, i) => one(s, `batch[${i}].`));
    } else statements = one(body, "");
    const r = await this.d1Stub(id).run(statements, raw);
    if (!r.ok) throw err(400, 7500, r.message);
    return ok(r.results);
  }
  // -------------------------------------------------------------------------------------------
  // R2
  // -------------------------------------------------------------------------------------------
  bucket(name) {
    const row = this.rows("SELECT name, created_at AS creation_date, location FROM buckets WHERE name = ?", name)[0];
    if (!row) throw err(404, 10006, "The specified bucket does not exist.");
    return row;
  }
  async r2Create(request) {
    const body = await jsonBody(request);
    const name = body?.name;
    if (typeof name !== "string" || !BUCKET_NAME.test(name)) throw err(400, 10005, "The bucket name is not valid: 3 to 63 lowercase letters, digits and '-', not starting or ending with '-'.");
    if (this.rows("SELECT 1 FROM buckets WHERE name = ?", name).length) throw err(409, 10004, "The bucket you tried to create already exists, and you own it.");
    const row = { name, creation_date: now(), location: String(body.locationHint || "weur").toUpperCase() };
    this.sql.exec("INSERT INTO buckets (name, created_at, location) VALUES (?, ?, ?)", row.name, row.creation_date, row.location);
    return ok(row);
  }
  async r2Delete(name) {
    this.bucket(name);
    const page = await this.env.BLOBS.list({ prefix: `r2/${name}/`, limit: 1 });
    if (page.objects.length) throw err(409, 10008, "The bucket you tried to delete is not empty.");
    this.sql.exec("DELETE FROM buckets WHERE name = ?", name);
    return ok({});
  }
  async r2ListObjects(name, url) {
    this.bucket(name);
    const base = `r2/${name}/`;
    const perPage = Math.min(1e3, Math.max(1, Number(url.searchParams.get("per_page")) || 1e3));
    const r = await this.env.BLOBS.list({ prefix: base + (url.searchParams.get("prefix") || ""), limit: perPage, cursor: url.searchParams.get("cursor") || void 0 });
    const objects = r.objects.map((o) => ({ key: o.key.slice(base.length), size: o.size, etag: o.etag, last_modified: o.uploaded.toISOString(), http_metadata: o.httpMetadata ?? {} }));
    return ok(objects, { resultInfo: { cursor: r.truncated ? r.cursor : "", is_truncated: r.truncated, per_page: perPage } });
  }
  async r2Object(request, name, key2) {
    this.bucket(name);
    const k = `r2/${name}/${decodeURIComponent(key2)}`;
    if (!key2) throw err(400, 10020, "The object key is empty.");
    if (request.method === "PUT") {
      const o = await this.env.BLOBS.put(k, await request.arrayBuffer(), { httpMetadata: { contentType: request.headers.get("content-type") || "application/octet-stream" } });
      return ok({ key: decodeURIComponent(key2), size: o.size, etag: o.etag, uploaded: o.uploaded.toISOString() });
    }
    if (request.method === "GET") {
      const o = await this.env.BLOBS.get(k);
      if (!o) throw err(404, 10007, "The specified key does not exist.");
      return new Response(o.body, { headers: { "content-type": o.httpMetadata?.contentType || "application/octet-stream", etag: o.httpEtag } });
    }
    if (request.method === "DELETE") {
      await this.env.BLOBS.delete(k);
      return ok({});
    }
    throw methodNotAllowed();
  }
  /** Whether a bucket exists (asked by the R2 binding of a dispatched script). */
  hasBucket(name) {
    return this.rows("SELECT 1 FROM buckets WHERE name = ?", name).length > 0;
  }
  // -------------------------------------------------------------------------------------------
  // Workers for Platforms: namespaces, scripts, tags
  // -------------------------------------------------------------------------------------------
  namespace(name) {
    const row = this.rows("SELECT name, id, created_at FROM namespaces WHERE name = ?", name)[0];
    if (!row) throw err(404, 100119, `The dispatch namespace '${name}' does not exist on this account.`);
    return row;
  }
  async namespaceCreate(request) {
    const body = await jsonBody(request);
    const name = body?.name;
    if (typeof name !== "string" || !SCRIPT_NAME.test(name)) throw err(400, 10021, "namespace name must be 1 to 63 lowercase letters, digits, '-' or '_'");
    if (this.rows("SELECT 1 FROM namespaces WHERE name = ?", name).length) throw err(409, 100120, `A dispatch namespace named '${name}' already exists.`);
    const row = { name, id: uuid(), created_at: now() };
    this.sql.exec("INSERT INTO namespaces (name, id, created_at) VALUES (?, ?, ?)", row.name, row.id, row.created_at);
    return ok({ namespace_name: name, namespace_id: row.id, created_on: row.created_at, script_count: 0 });
  }
  script(ns, name) {
    const row = this.rows("SELECT * FROM scripts WHERE namespace = ? AND name = ?", ns, name)[0];
    if (!row) throw err(404, 10007, "This Worker does not exist on your account.");
    return row;
  }
  scriptInfo(row) {
    const metadata = JSON.parse(row.metadata);
    const assets = JSON.parse(row.assets);
    return {
      id: row.name,
      etag: row.etag,
      tags: JSON.parse(row.tags),
      created_on: row.created_on,
      modified_on: row.modified_on,
      compatibility_date: metadata.compatibility_date,
      has_assets: Object.keys(assets).length > 0,
      has_modules: true,
      handlers: ["fetch"],
      usage_model: "standard"
    };
  }
  /** Scripts of `ns` matching a `tag:yes,tag:no` filter (all `yes` tags present, no `no` tag). */
  scriptsByTags(ns, filter) {
    const want = [], refuse = [];
    for (const part of String(filter ?? "").split(",").filter(Boolean)) {
      const [tag, allowed] = part.split(":");
      if (!tag || allowed !== "yes" && allowed !== "no") throw err(400, 10021, `tag filter '${part}' is not 'tag:yes' or 'tag:no'`);
      (allowed === "yes" ? want : refuse).push(tag);
    }
    return this.rows("SELECT * FROM scripts WHERE namespace = ? ORDER BY name", ns).filter((s) => {
      const tags = JSON.parse(s.tags);
      return want.every((t) => tags.includes(t)) && !refuse.some((t) => tags.includes(t));
    });
  }
  async scriptsDeleteByTags(ns, filter) {
    if (!filter) throw err(400, 10021, "deleting scripts by tag needs a 'tags' filter (tag:yes,\u2026)");
    const scripts = this.scriptsByTags(ns, filter);
    for (const s of scripts) await this.removeScript(ns, s.name);
    return ok(null);
  }
  async scriptDelete(ns, name) {
    this.script(ns, name);
    await this.removeScript(ns, name);
    return ok(null);
  }
  async removeScript(ns, name) {
    const assets = JSON.parse(this.script(ns, name).assets);
    await this.deleteKeys(Object.values(assets).map((a) => `assets/${ns}/${name}/${a.hash}`));
    this.sql.exec("DELETE FROM modules WHERE namespace = ? AND script = ?", ns, name);
    this.sql.exec("DELETE FROM scripts WHERE namespace = ? AND name = ?", ns, name);
    for (const s of this.rows("SELECT id FROM sessions WHERE namespace = ? AND script = ?", ns, name)) {
      await this.deleteKeys((await this.env.BLOBS.list({ prefix: `uploads/${s.id}/` })).objects.map((o) => o.key));
    }
    this.sql.exec("DELETE FROM sessions WHERE namespace = ? AND script = ?", ns, name);
  }
  async deleteKeys(keys) {
    for (let i = 0; i < keys.length; i += 1e3) await this.env.BLOBS.delete(keys.slice(i, i + 1e3));
  }
  async scriptUpload(request, ns, name) {
    if (!SCRIPT_NAME.test(name)) throw err(400, 10021, `'${name.slice(0, 80)}' is not a valid script name (lowercase letters, digits, '-' and '_', at most 63)`);
    const type = request.headers.get("content-type") || "";
    if (!type.toLowerCase().startsWith("multipart/form-data")) throw err(400, 10021, "the script upload must be multipart/form-data with a 'metadata' part and one part per module");
    let form;
    try {
      form = await request.formData();
    } catch (e) {
      throw err(400, 10021, `the multipart body could not be read: ${e?.message ?? e}`);
    }
    const metaPart = form.get("metadata");
    if (metaPart === null) throw err(400, 10021, "the upload has no 'metadata' part");
    let metadata;
    try {
      metadata = JSON.parse(typeof metaPart === "string" ? metaPart : await metaPart.text());
    } catch {
      throw err(400, 10021, "the 'metadata' part is not valid JSON");
    }
    if (!metadata || typeof metadata !== "object") throw err(400, 10021, "the 'metadata' part must be a JSON object");
    if (typeof metadata.main_module !== "string") throw err(400, 10021, "metadata.main_module is required (ES module workers)");
    if (metadata.compatibility_date !== void 0 && !/^\d{4}-\d{2}-\d{2}$/.test(metadata.compatibility_date)) throw err(400, 10021, "metadata.compatibility_date must be YYYY-MM-DD");
    const tags = metadata.tags ?? [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string" || t === "" || t.includes(",") || t.includes("&"))) throw err(400, 10021, "metadata.tags must be a list of non-empty strings without ',' or '&'");
    if (tags.length > MAX_TAGS) throw err(400, 10021, `a script has at most ${MAX_TAGS} tags`);
    const modules = [];
    for (const [field, value2] of form.entries()) {
      if (field === "metadata") continue;
      if (typeof value2 === "string") throw err(400, 10021, `part '${field}' must be a file part with a content type`);
      const ct = (value2.type || "").split(";")[0].trim();
      if (!["application/javascript+module", "text/javascript+module", "application/javascript", "text/plain", "application/json", "application/octet-stream", "application/wasm"].includes(ct)) {
        throw err(400, 10021, `part '${field}' has content type '${ct}', which is not a module type`);
      }
      modules.push({ name: value2.name || field, content_type: ct, body: await value2.text() });
    }
    if (!modules.some((mod) => mod.name === metadata.main_module)) {
      throw err(400, 10021, `No such module "${metadata.main_module}": metadata.main_module must name one of the uploaded parts`);
    }
    const bindings = metadata.bindings ?? [];
    if (!Array.isArray(bindings)) throw err(400, 10021, "metadata.bindings must be a list");
    const names = /* @__PURE__ */ new Set();
    for (const b of bindings) {
      if (!b || typeof b.name !== "string" || !b.name) throw err(400, 10021, "every binding needs a name");
      if (names.has(b.name)) throw err(400, 10021, `binding name '${b.name}' is used twice`);
      names.add(b.name);
      if (!BINDING_TYPES.has(b.type)) throw err(400, 10021, `binding '${b.name}': type '${b.type}' is not supported by this double (d1, r2_bucket, secret_text, plain_text, assets)`);
      if (b.type === "d1") {
        if (typeof b.id !== "string") throw err(400, 10021, `binding '${b.name}': a d1 binding names its database by 'id' (the database uuid)`);
        if (!this.rows("SELECT 1 FROM databases WHERE uuid = ?", b.id).length) throw err(400, 10021, `binding '${b.name}': D1 database '${b.id}' does not exist`);
      }
      if (b.type === "r2_bucket") {
        if (typeof b.bucket_name !== "string") throw err(400, 10021, `binding '${b.name}': an r2_bucket binding needs 'bucket_name'`);
        if (!this.hasBucket(b.bucket_name)) throw err(400, 10085, `binding '${b.name}': R2 bucket '${b.bucket_name}' does not exist`);
      }
      if ((b.type === "secret_text" || b.type === "plain_text") && typeof b.text !== "string") throw err(400, 10021, `binding '${b.name}': '${b.type}' needs 'text'`);
    }
    let assets = {};
    const existing = this.rows("SELECT assets FROM scripts WHERE namespace = ? AND name = ?", ns, name)[0];
    if (metadata.assets?.jwt !== void 0) {
      const claims = await verify(this.secret(), metadata.assets.jwt, "completion");
      if (!claims || claims.ns !== ns || claims.script !== name) throw err(400, 10021, "metadata.assets.jwt is not a valid completion token for this script");
      const session = this.rows("SELECT * FROM sessions WHERE id = ?", claims.sid)[0];
      if (!session) throw err(400, 10021, "metadata.assets.jwt belongs to an upload session that no longer exists");
      assets = JSON.parse(session.manifest);
      for (const hash of new Set(Object.values(assets).map((a) => a.hash))) {
        const key2 = `assets/${ns}/${name}/${hash}`;
        if (await this.env.BLOBS.head(key2)) continue;
        const o = await this.env.BLOBS.get(`uploads/${session.id}/${hash}`);
        if (!o) throw err(400, 10021, `asset ${hash} of the upload session was never uploaded`);
        await this.env.BLOBS.put(key2, await o.arrayBuffer());
      }
      await this.deleteKeys((await this.env.BLOBS.list({ prefix: `uploads/${session.id}/` })).objects.map((o) => o.key));
      this.sql.exec("DELETE FROM sessions WHERE id = ?", session.id);
      const config = metadata.assets.config ?? {};
      const nf = config.not_found_handling;
      if (nf !== void 0 && !["single-page-application", "404-page", "none"].includes(nf)) throw err(400, 10021, `assets.config.not_found_handling '${nf}' is not one of single-page-application, 404-page, none`);
      const rwf = config.run_worker_first;
      if (rwf !== void 0 && typeof rwf !== "boolean" && !(Array.isArray(rwf) && rwf.every((r) => typeof r === "string" && /^!?\//.test(r)))) throw err(400, 10021, "assets.config.run_worker_first must be a boolean or a list of paths starting with '/' (or '!/')");
    } else if (metadata.keep_assets && existing) {
      assets = JSON.parse(existing.assets);
    }
    if (Object.keys(assets).length && !bindings.some((b) => b.type === "assets") && metadata.assets?.config?.run_worker_first) {
      throw err(400, 10021, "run_worker_first is set but no binding of type 'assets' gives the worker its assets");
    }
    if (existing) {
      const keep = new Set(Object.values(assets).map((a) => a.hash));
      await this.deleteKeys(Object.values(JSON.parse(existing.assets)).filter((a) => !keep.has(a.hash)).map((a) => `assets/${ns}/${name}/${a.hash}`));
    }
    const stamp = now();
    const etag = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify({ metadata, modules: modules.map((x) => [x.name, x.body]), stamp }))))].slice(0, 16).map((b) => b.toString(16).padStart(2, "0")).join("");
    this.sql.exec("DELETE FROM modules WHERE namespace = ? AND script = ?", ns, name);
    for (const mod of modules) this.sql.exec("INSERT INTO modules (namespace, script, name, content_type, body) VALUES (?, ?, ?, ?, ?)", ns, name, mod.name, mod.content_type, mod.body);
    this.sql.exec(
      `INSERT INTO scripts (namespace, name, metadata, tags, etag, created_on, modified_on, assets) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (namespace, name) DO UPDATE SET metadata = excluded.metadata, tags = excluded.tags, etag = excluded.etag, modified_on = excluded.modified_on, assets = excluded.assets`,
      ns,
      name,
      JSON.stringify(stored(metadata)),
      JSON.stringify(tags),
      etag,
      stamp,
      stamp,
      JSON.stringify(assets)
    );
    return ok(this.scriptInfo(this.script(ns, name)));
  }
  // -------------------------------------------------------------------------------------------
  // Assets upload sessions
  // -------------------------------------------------------------------------------------------
  async assetsSession(request, ns, name) {
    if (!SCRIPT_NAME.test(name)) throw err(400, 10021, `'${name.slice(0, 80)}' is not a valid script name`);
    const body = await jsonBody(request);
    const manifest = body?.manifest;
    if (!manifest || typeof manifest !== "object" || Array.isArray(manifest)) throw err(400, 10021, 'manifest is required: {"/path": {hash, size}}');
    const clean = {};
    for (const [path, entry] of Object.entries(manifest)) {
      if (!path.startsWith("/") || path.includes("//") || path.split("/").some((s) => s === "." || s === "..")) throw err(400, 10021, `manifest path '${path.slice(0, 100)}' must start with '/' and hold no '.', '..' or empty segments`);
      if (!entry || typeof entry.hash !== "string" || !HASH.test(entry.hash)) throw err(400, 10021, `manifest entry '${path.slice(0, 100)}': hash must be 32 lowercase hex characters`);
      if (!Number.isInteger(entry.size) || entry.size < 0) throw err(400, 10021, `manifest entry '${path.slice(0, 100)}': size must be a whole number of bytes`);
      if (entry.size > MAX_ASSET_BYTES) throw err(400, 10021, `manifest entry '${path.slice(0, 100)}' is ${entry.size} bytes; assets are at most ${MAX_ASSET_BYTES}`);
      clean[path] = { hash: entry.hash, size: entry.size };
    }
    const sizes = new Map(Object.values(clean).map((e) => [e.hash, e.size]));
    const needed = [];
    for (const hash of sizes.keys()) if (!await this.env.BLOBS.head(`assets/${ns}/${name}/${hash}`)) needed.push(hash);
    await this.expireSessions();
    const id = uuid();
    const pending = Object.fromEntries(needed.map((h) => [h, sizes.get(h)]));
    this.sql.exec("INSERT INTO sessions (id, namespace, script, manifest, pending, created_at) VALUES (?, ?, ?, ?, ?, ?)", id, ns, name, JSON.stringify(clean), JSON.stringify(pending), now());
    const exp = Math.floor(Date.now() / 1e3) + 3600;
    const typ = needed.length ? "upload" : "completion";
    const jwt = await sign(this.secret(), { typ, sid: id, ns, script: name, exp });
    const buckets = [];
    for (let i = 0; i < needed.length; i += BUCKET_SIZE) buckets.push(needed.slice(i, i + BUCKET_SIZE));
    return ok({ jwt, buckets });
  }
  /** Sessions older than their tokens (an hour) are forgotten with their uploads. */
  async expireSessions() {
    const cutoff = new Date(Date.now() - 3600 * 1e3).toISOString();
    for (const s of this.rows("SELECT id FROM sessions WHERE created_at < ?", cutoff)) {
      await this.deleteKeys((await this.env.BLOBS.list({ prefix: `uploads/${s.id}/` })).objects.map((o) => o.key));
      this.sql.exec("DELETE FROM sessions WHERE id = ?", s.id);
    }
  }
  async assetsUpload(request, url) {
    const header = request.headers.get("authorization") || "";
    const m = /^Bearer (\S+)$/.exec(header);
    const claims = m ? await verify(this.secret(), m[1], "upload") : null;
    if (!claims) throw err(401, 1e4, "Authentication error: the upload token is missing, invalid or expired");
    if (url.searchParams.get("base64") !== "true") throw err(400, 10021, "assets are uploaded base64-encoded: add ?base64=true");
    const session = this.rows("SELECT * FROM sessions WHERE id = ?", claims.sid)[0];
    if (!session) throw err(401, 1e4, "Authentication error: the upload session no longer exists");
    if (!(request.headers.get("content-type") || "").toLowerCase().startsWith("multipart/form-data")) throw err(400, 10021, "assets are uploaded as multipart/form-data, one field per hash");
    let form;
    try {
      form = await request.formData();
    } catch (e) {
      throw err(400, 10021, `the multipart body could not be read: ${e?.message ?? e}`);
    }
    const pending = JSON.parse(session.pending);
    const uploads = [];
    for (const [hash, value2] of form.entries()) {
      if (!(hash in pending)) throw err(400, 10021, `'${hash.slice(0, 64)}' is not a hash this session asked for`);
      const text = typeof value2 === "string" ? value2 : await value2.text();
      let bytes;
      try {
        bytes = Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
      } catch {
        throw err(400, 10021, `the value of '${hash}' is not base64`);
      }
      if (bytes.byteLength !== pending[hash]) throw err(400, 10021, `asset ${hash} is ${bytes.byteLength} bytes; the manifest said ${pending[hash]}`);
      uploads.push([hash, bytes]);
    }
    if (!uploads.length) throw err(400, 10021, "the upload holds no assets");
    for (const [hash, bytes] of uploads) {
      await this.env.BLOBS.put(`uploads/${session.id}/${hash}`, bytes);
      delete pending[hash];
    }
    this.sql.exec("UPDATE sessions SET pending = ? WHERE id = ?", JSON.stringify(pending), session.id);
    if (Object.keys(pending).length) return ok({}, { status: 200 });
    const jwt = await sign(this.secret(), { typ: "completion", sid: session.id, ns: session.namespace, script: session.script, exp: Math.floor(Date.now() / 1e3) + 3600 });
    return ok({ jwt }, { status: 201 });
  }
  // -------------------------------------------------------------------------------------------
  // For the double's own routes and the dispatch emulation (RPC from the front Worker)
  // -------------------------------------------------------------------------------------------
  /** What the dispatch emulation needs to run a script, or null when it does not exist. */
  loadScript(ns, name) {
    const row = this.rows("SELECT * FROM scripts WHERE namespace = ? AND name = ?", ns, name)[0];
    if (!row) return null;
    const modules = this.rows("SELECT name, content_type, body FROM modules WHERE namespace = ? AND script = ?", ns, name);
    return { etag: row.etag, metadata: JSON.parse(row.metadata), assets: JSON.parse(row.assets), modules };
  }
  calls() {
    return this.rows("SELECT method, path FROM calls ORDER BY seq");
  }
  resetCalls() {
    this.sql.exec("DELETE FROM calls");
    return true;
  }
  /** Everything the account holds, for tests that check what a teardown left behind. */
  async state() {
    const databases = [];
    for (const d of this.rows("SELECT uuid, name FROM databases ORDER BY name")) databases.push({ ...d, tables: await this.d1Stub(d.uuid).tables() });
    const buckets = [];
    for (const b of this.rows("SELECT name FROM buckets ORDER BY name")) {
      const r = await this.env.BLOBS.list({ prefix: `r2/${b.name}/` });
      buckets.push({ name: b.name, objects: r.objects.length + (r.truncated ? 1 : 0) });
    }
    const scripts = this.rows("SELECT namespace, name, tags, assets FROM scripts ORDER BY namespace, name").map((s) => ({ namespace: s.namespace, name: s.name, tags: JSON.parse(s.tags), assets: Object.keys(JSON.parse(s.assets)).length }));
    const blobs = /* @__PURE__ */ __name(async (prefix) => {
      const keys = [];
      let cursor;
      do {
        const r = await this.env.BLOBS.list({ prefix, cursor });
        keys.push(...r.objects.map((o) => o.key));
        cursor = r.truncated ? r.cursor : void 0;
      } while (cursor);
      return keys;
    }, "blobs");
    const orphanR2 = (await blobs("r2/")).filter((k) => !buckets.some((b) => k.startsWith(`r2/${b.name}/`)));
    return {
      databases,
      buckets,
      namespaces: this.rows("SELECT name FROM namespaces ORDER BY name").map((n) => n.name),
      scripts,
      asset_blobs: await blobs("assets/"),
      upload_sessions: this.rows("SELECT namespace, script FROM sessions ORDER BY created_at"),
      uploaded_blobs: await blobs("uploads/"),
      orphan_objects: orphanR2
    };
  }
};
function stored(metadata) {
  const { assets, ...rest } = metadata;
  return assets ? { ...rest, assets: { config: assets.config ?? {} } } : rest;
}
__name(stored, "stored");
function methodNotAllowed() {
  return err(405, 10405, "Method not allowed for this route");
}
__name(methodNotAllowed, "methodNotAllowed");
function match(path, pattern) {
  const ps = pattern.split("/");
  const xs = path.replace(/\/$/, "").split("/");
  if (ps.length !== xs.length) return null;
  const out = {};
  for (let i = 0; i < ps.length; i++) {
    if (ps[i].startsWith(":")) {
      if (!xs[i]) return null;
      out[ps[i].slice(1)] = decodeURIComponent(xs[i]);
    } else if (ps[i] !== xs[i]) return null;
  }
  return out;
}
__name(match, "match");
function matchRest(path, pattern) {
  const head = pattern.split("/").length - 1;
  const xs = path.split("/");
  if (xs.length <= head) return null;
  const p = match(xs.slice(0, head).join("/"), pattern.slice(0, -1));
  return p && { ...p, rest: xs.slice(head).join("/") };
}
__name(matchRest, "matchRest");

// src/d1.js
import { DurableObject as DurableObject2 } from "cloudflare:workers";
var MAX_PARAMS = 100;
function param(p) {
  if (p === null || typeof p === "number" || typeof p === "string") return p;
  if (typeof p === "boolean") return p ? 1 : 0;
  throw new Error(`D1_TYPE_ERROR: Type '${Array.isArray(p) ? "array" : typeof p}' not supported for value '${JSON.stringify(p)}'`);
}
__name(param, "param");
function value(v) {
  return v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v;
}
__name(value, "value");
var D1Database = class extends DurableObject2 {
  static {
    __name(this, "D1Database");
  }
  /**
   * Runs `statements` ([{sql, params}]) in one transaction. `raw` answers `{columns, rows}` per
   * statement instead of row objects. → `{ok: true, results: [...]}` or `{ok: false, message}`.
   */
  run(statements, raw = false) {
    const sql = this.ctx.storage.sql;
    try {
      const results = this.ctx.storage.transactionSync(
        () => statements.map(({ sql: text, params }) => {
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
            rows_written: cursor.rowsWritten
          };
          const results2 = raw ? { columns, rows } : rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
          return { results: results2, success: true, meta };
        })
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
};
function d1Message(e) {
  const m = String(e?.message ?? e);
  if (/SQLITE_[A-Z]+/.test(m) || m.startsWith("D1_")) return m;
  if (/constraint/i.test(m)) return `${m}: SQLITE_CONSTRAINT`;
  return `${m}: SQLITE_ERROR`;
}
__name(d1Message, "d1Message");

// src/index.js
var src_default = {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/client/v4" || path.startsWith("/client/v4/")) {
      const body = request.method === "GET" || request.method === "HEAD" ? void 0 : await request.arrayBuffer();
      return account(env).fetch(new Request(request.url, { method: request.method, headers: request.headers, body }));
    }
    if (path === "/__double/calls") {
      if (request.method === "GET") return Response.json(await account(env).calls());
      if (request.method === "DELETE") {
        await account(env).resetCalls();
        return new Response(null, { status: 204 });
      }
      return new Response("GET or DELETE", { status: 405, headers: { allow: "GET, DELETE" } });
    }
    if (path === "/__double/state" && request.method === "GET") return Response.json(await account(env).state());
    if (path.startsWith("/__double/dispatch/")) return dispatch(request, env, ctx, path.slice("/__double/dispatch/".length));
    if (path === "/__double/health") return ok({ status: "ready" });
    return fail(404, 7e3, "No route for that URI");
  }
};

// ../../node_modules/wrangler/templates/middleware/middleware-ensure-req-body-drained.ts
var drainBody = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } finally {
    try {
      if (request.body !== null && !request.bodyUsed) {
        const reader = request.body.getReader();
        while (!(await reader.read()).done) {
        }
      }
    } catch (e) {
      console.error("Failed to drain the unused request body.", e);
    }
  }
}, "drainBody");
var middleware_ensure_req_body_drained_default = drainBody;

// ../../node_modules/wrangler/templates/middleware/middleware-miniflare3-json-error.ts
function reduceError(e) {
  return {
    name: e?.name,
    message: e?.message ?? String(e),
    stack: e?.stack,
    cause: e?.cause === void 0 ? void 0 : reduceError(e.cause)
  };
}
__name(reduceError, "reduceError");
var jsonError = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } catch (e) {
    const error = reduceError(e);
    return Response.json(error, {
      status: 500,
      headers: { "MF-Experimental-Error-Stack": "true" }
    });
  }
}, "jsonError");
var middleware_miniflare3_json_error_default = jsonError;

// .wrangler/tmp/bundle-0tOT9X/middleware-insertion-facade.js
var __INTERNAL_WRANGLER_MIDDLEWARE__ = [
  middleware_ensure_req_body_drained_default,
  middleware_miniflare3_json_error_default
];
var middleware_insertion_facade_default = src_default;

// ../../node_modules/wrangler/templates/middleware/common.ts
var __facade_middleware__ = [];
function __facade_register__(...args) {
  __facade_middleware__.push(...args.flat());
}
__name(__facade_register__, "__facade_register__");
function __facade_invokeChain__(request, env, ctx, dispatch2, middlewareChain) {
  const [head, ...tail] = middlewareChain;
  const middlewareCtx = {
    dispatch: dispatch2,
    next(newRequest, newEnv) {
      return __facade_invokeChain__(newRequest, newEnv, ctx, dispatch2, tail);
    }
  };
  return head(request, env, ctx, middlewareCtx);
}
__name(__facade_invokeChain__, "__facade_invokeChain__");
function __facade_invoke__(request, env, ctx, dispatch2, finalMiddleware) {
  return __facade_invokeChain__(request, env, ctx, dispatch2, [
    ...__facade_middleware__,
    finalMiddleware
  ]);
}
__name(__facade_invoke__, "__facade_invoke__");

// .wrangler/tmp/bundle-0tOT9X/middleware-loader.entry.ts
var __Facade_ScheduledController__ = class ___Facade_ScheduledController__ {
  constructor(scheduledTime, cron, noRetry) {
    this.scheduledTime = scheduledTime;
    this.cron = cron;
    this.#noRetry = noRetry;
  }
  static {
    __name(this, "__Facade_ScheduledController__");
  }
  #noRetry;
  noRetry() {
    if (!(this instanceof ___Facade_ScheduledController__)) {
      throw new TypeError("Illegal invocation");
    }
    this.#noRetry();
  }
};
function wrapExportedHandler(worker) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return worker;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  const fetchDispatcher = /* @__PURE__ */ __name(function(request, env, ctx) {
    if (worker.fetch === void 0) {
      throw new Error("Handler does not export a fetch() function.");
    }
    return worker.fetch(request, env, ctx);
  }, "fetchDispatcher");
  return {
    ...worker,
    fetch(request, env, ctx) {
      const dispatcher = /* @__PURE__ */ __name(function(type, init) {
        if (type === "scheduled" && worker.scheduled !== void 0) {
          const controller = new __Facade_ScheduledController__(
            Date.now(),
            init.cron ?? "",
            () => {
            }
          );
          return worker.scheduled(controller, env, ctx);
        }
      }, "dispatcher");
      return __facade_invoke__(request, env, ctx, dispatcher, fetchDispatcher);
    }
  };
}
__name(wrapExportedHandler, "wrapExportedHandler");
function wrapWorkerEntrypoint(klass) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return klass;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  return class extends klass {
    #fetchDispatcher = /* @__PURE__ */ __name((request, env, ctx) => {
      this.env = env;
      this.ctx = ctx;
      if (super.fetch === void 0) {
        throw new Error("Entrypoint class does not define a fetch() function.");
      }
      return super.fetch(request);
    }, "#fetchDispatcher");
    #dispatcher = /* @__PURE__ */ __name((type, init) => {
      if (type === "scheduled" && super.scheduled !== void 0) {
        const controller = new __Facade_ScheduledController__(
          Date.now(),
          init.cron ?? "",
          () => {
          }
        );
        return super.scheduled(controller);
      }
    }, "#dispatcher");
    fetch(request) {
      return __facade_invoke__(
        request,
        this.env,
        this.ctx,
        this.#dispatcher,
        this.#fetchDispatcher
      );
    }
  };
}
__name(wrapWorkerEntrypoint, "wrapWorkerEntrypoint");
var WRAPPED_ENTRY;
if (typeof middleware_insertion_facade_default === "object") {
  WRAPPED_ENTRY = wrapExportedHandler(middleware_insertion_facade_default);
} else if (typeof middleware_insertion_facade_default === "function") {
  WRAPPED_ENTRY = wrapWorkerEntrypoint(middleware_insertion_facade_default);
}
var middleware_loader_entry_default = WRAPPED_ENTRY;
export {
  Account,
  D1Database,
  DoubleAssets,
  DoubleD1,
  DoubleR2,
  __INTERNAL_WRANGLER_MIDDLEWARE__,
  middleware_loader_entry_default as default
};
//# sourceMappingURL=index.js.map
