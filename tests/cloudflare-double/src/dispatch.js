// The dispatch emulation: what a dispatch namespace binding does in production, over HTTP.
// `GET|POST|… /__double/dispatch/<namespace>/<script>/<path>` (original URL in `x-double-url`,
// limits in `x-double-limits`) runs the uploaded script on the request in a Worker Loader isolate
// whose bindings are rebuilt from the upload metadata:
//   d1         → the D1 API (prepare/bind/first/all/run/raw, batch, exec) over that database
//   r2_bucket  → the R2 API (get/put/head/list/delete) over that bucket
//   assets     → the uploaded assets, served with the metadata's assets config
//   secret_text, plain_text → strings
// and no network (`globalOutbound: null`). Requests not routed to the worker first
// (`run_worker_first`) are answered from the assets when one matches, as Cloudflare does.
import { WorkerEntrypoint } from "cloudflare:workers";
import { account } from "./stub.js";

const CONTENT_TYPES = {
  html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8", json: "application/json", svg: "image/svg+xml", png: "image/png",
  jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", ico: "image/x-icon",
  txt: "text/plain; charset=utf-8", map: "application/json", woff2: "font/woff2", woff: "font/woff", wasm: "application/wasm",
};

function contentType(path) {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return CONTENT_TYPES[ext] ?? "application/octet-stream";
}

/** `run_worker_first` patterns: `*` matches anything (slashes too), `!` negates. */
function workerFirst(rwf, pathname) {
  if (rwf === true) return true;
  if (!Array.isArray(rwf)) return false;
  const test = (p) => new RegExp("^" + p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*") + "$").test(pathname);
  const positive = rwf.filter((p) => !p.startsWith("!"));
  const negative = rwf.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
  return positive.some(test) && !negative.some(test);
}

function isNavigation(request) {
  return request.headers.get("sec-fetch-mode") === "navigate" || (request.headers.get("accept") || "").includes("text/html");
}

/**
 * The asset answering `request`, or null. `spa`: unknown page paths get `/index.html`
 * (not_found_handling = single-page-application).
 */
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

export async function dispatch(request, env, ctx, rest) {
  const [ns, script, ...tail] = rest.split("/");
  const original = request.headers.get("x-double-url");
  const target = original ? new URL(original) : new URL(`http://${script}.localhost/${tail.join("/")}${new URL(request.url).search}`);
  const spec = await account(env).loadScript(decodeURIComponent(ns || ""), decodeURIComponent(script || ""));
  if (!spec) {
    return new Response(JSON.stringify({ error: "Worker not found." }), { status: 404, headers: { "content-type": "application/json", "x-double-error": "worker-not-found" } });
  }
  const headers = new Headers(request.headers);
  for (const h of [...headers.keys()]) if (h.startsWith("x-double-")) headers.delete(h);
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
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
  } catch {}
  const worker = env.LOADER.get(`${ns}/${script}@${spec.etag}`, () => loaderConfig(spec, ns, script, ctx, limits));
  try {
    return await worker.getEntrypoint().fetch(req);
  } catch (e) {
    const message = String(e?.message ?? e);
    console.error(`double: script ${ns}/${script} threw: ${message.slice(0, 300)}`);
    return new Response(JSON.stringify({ error: "the script threw an exception", message: message.slice(0, 300) }), { status: 500, headers: { "content-type": "application/json", "x-double-error": "script-threw" } });
  }
}

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
    limits: limits.cpuMs || limits.subRequests ? limits : undefined,
  };
}

// The loaded script's entry: the uploaded main module, with its env rebuilt into the APIs a
// Cloudflare binding of each kind offers.
const MAIN = (mainModule) => `
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
`;

// D1's Worker API (D1Database, D1PreparedStatement) over the DoubleD1 entrypoint.
const D1_API = `
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

// R2's Worker API (R2Bucket, R2Object, R2ObjectBody) over the DoubleR2 entrypoint.
const R2_API = `
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

function described(key, o) {
  return { key, size: o.size, etag: o.etag, version: o.version, uploaded: o.uploaded.toISOString(), httpMetadata: o.httpMetadata ?? {}, customMetadata: o.customMetadata ?? {} };
}

/** The D1 binding of a dispatched script: one database, by uuid. */
export class DoubleD1 extends WorkerEntrypoint {
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
}

/** The R2 binding of a dispatched script: one bucket, by name. */
export class DoubleR2 extends WorkerEntrypoint {
  #key(key) {
    if (!key || key.length > 1024) throw new Error("R2 keys are 1 to 1024 bytes");
    return `r2/${this.ctx.props.bucket}/${key}`;
  }
  async put(key, bytes, options) {
    if (!(await account(this.env).hasBucket(this.ctx.props.bucket))) throw new Error(`put: The specified bucket does not exist. (10006)`);
    const o = await this.env.BLOBS.put(this.#key(key), bytes, { httpMetadata: options?.httpMetadata, customMetadata: options?.customMetadata });
    return described(key, o);
  }
  async get(key) {
    const o = await this.env.BLOBS.get(this.#key(key));
    return o ? { ...described(key, o), bytes: await o.arrayBuffer() } : null;
  }
  async head(key) {
    const o = await this.env.BLOBS.head(this.#key(key));
    return o ? described(key, o) : null;
  }
  async delete(keys) {
    await this.env.BLOBS.delete(keys.map((k) => this.#key(k)));
  }
  async list(options = {}) {
    const base = `r2/${this.ctx.props.bucket}/`;
    const r = await this.env.BLOBS.list({ prefix: base + (options.prefix ?? ""), cursor: options.cursor, limit: Math.min(Number(options.limit) || 1000, 1000), delimiter: options.delimiter });
    return {
      objects: r.objects.map((o) => described(o.key.slice(base.length), o)),
      truncated: r.truncated,
      cursor: r.truncated ? r.cursor : undefined,
      delimitedPrefixes: (r.delimitedPrefixes ?? []).map((p) => p.slice(base.length)),
    };
  }
}

/** The assets binding of a dispatched script: its uploaded assets, with its assets config. */
export class DoubleAssets extends WorkerEntrypoint {
  async fetch(request) {
    const { ns, script } = this.ctx.props;
    const spec = await account(this.env).loadScript(ns, script);
    if (!spec) return new Response("not found", { status: 404 });
    const config = spec.metadata.assets?.config ?? {};
    // The fallback page answers navigations and extension-less (page) paths; a missing file such
    // as /missing.js stays a 404.
    const page = isNavigation(request) || !/\.[^/]*$/.test(new URL(request.url).pathname);
    const served = await serveAsset(this.env, ns, script, spec.assets, config, request, page);
    return served ?? new Response(null, { status: 404 });
  }
}
