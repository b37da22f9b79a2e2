// Dispatch Worker entry module. Rust (../build) serves static files, the per-app database
// Durable Object and the caches; this file holds only what must be JavaScript:
//  - an app whose live pointer says `"target": "cloudflare"` is handed, whole, to its script in
//    the dispatch namespace (`DISPATCHER.get(script, {}, {limits})`, see `dispatcher`);
//  - `/api/*` on an app host runs the app's modules in their own isolate (Worker Loader), one
//    isolate per app version, so a deploy takes effect at once;
//  - the capabilities handed to a loaded app, each a WorkerEntrypoint scoped by props the
//    dispatcher sets and the app cannot change: `AppDb` (its own database), `AppAssets` (its own
//    version's public files, by path only), `AppStorage` (its own file prefix, with a byte quota);
//  - `AppAdmin`, the named entrypoint the platform calls over RPC to migrate and destroy app
//    databases. It is not reachable over HTTP (only a service binding naming it reaches it), and
//    apps never get it;
//  - the D1 and R2 facades and the budget guard every loaded app gets as modules.
// Threat model and decisions: docs/adr/0011-app-isolation.md.
import { WorkerEntrypoint } from "cloudflare:workers";
import RustWorker, { Apps } from "../build/index.js";

export * from "../build/index.js";

const PROJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function num(value, fallback, min, max) {
  const n = Number(value);
  return Number.isFinite(n) && n >= min && n <= max ? n : fallback;
}

/** Limits of loaded apps, from the dispatch Worker's vars (README: configuration). */
function settings(env) {
  return {
    cpuMs: num(env.APP_CPU_MS, 50, 1, 300000),
    subRequests: num(env.APP_SUBREQUESTS, 50, 1, 10000),
    maxOps: num(env.APP_MAX_OPS, 10000000, 1000, 1e12),
    maxWallMs: num(env.APP_MAX_WALL_MS, 10000, 10, 600000),
    maxAllocBytes: num(env.APP_MAX_ALLOC_BYTES, 64 * 1024 * 1024, 1024, 2 ** 31),
    maxRequestAllocBytes: num(env.APP_MAX_REQUEST_ALLOC_BYTES, 128 * 1024 * 1024, 1024, 2 ** 32),
    maxBodyBytes: num(env.APP_MAX_BODY_BYTES, 8 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    storageBytes: num(env.APP_STORAGE_MAX_BYTES, 100 * 1024 * 1024, 0, 2 ** 50),
    authPerMinute: num(env.APP_AUTH_PER_MINUTE, 20, 1, 1e6),
  };
}

function dbStub(env, project) {
  if (!PROJECT_ID.test(String(project))) throw new Error("not a project id");
  return env.APP_DB.get(env.APP_DB.idFromName(project));
}

/** Calls an operation of a project's database object; `{ok, status, value | message}`. */
async function dbCall(env, project, op, body) {
  const res = await dbStub(env, project).fetch(`http://db/${op}`, { method: "POST", body: JSON.stringify(body) });
  const out = await res.json();
  if (!res.ok) return { ok: false, status: res.status, message: out?.error?.message ?? `database ${op} failed` };
  return { ok: true, status: res.status, value: out };
}

// ---------------------------------------------------------------------------------------------
// Capabilities of a loaded app
// ---------------------------------------------------------------------------------------------

export class AppDb extends WorkerEntrypoint {
  async #call(op, body) {
    const r = await dbCall(this.env, this.ctx.props.project, op, body);
    if (!r.ok) throw new Error(r.message);
    return r.value;
  }
  query(sql, params) { return this.#call("query", { sql: String(sql), params: Array.isArray(params) ? params : [] }); }
  batch(statements) { return this.#call("batch", Array.isArray(statements) ? statements : []); }
}

export class AppAssets extends WorkerEntrypoint {
  // The version's public files, chosen by the request path alone: the host, and anything else in
  // the URL, is ignored.
  async fetch(request) {
    const { project, version } = this.ctx.props;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("an app's pages and files are read with GET or HEAD", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const path = new URL(request.url).pathname;
    return Apps.asset(project, version, path, request.headers.get("if-none-match") ?? undefined, this.env);
  }
}

const MAX_KEY = 512;

/** The bucket key of an app's key: checked here, at the trust boundary. */
function appKey(project, key) {
  const k = String(key ?? "");
  if (!k || k.length > MAX_KEY || k.startsWith("/") || k.split("/").some((s) => s === "" || s === "." || s === "..") || /[\\\u0000-\u001f\u007f]/.test(k)) {
    throw new Error(`storage key '${k.slice(0, 64)}' is not allowed; use a relative path without '.', '..' or empty segments`);
  }
  return `appfiles/${project}/${k}`;
}

function described(key, o) {
  return { key, size: o.size, etag: o.etag, uploaded: o.uploaded.toISOString(), httpMetadata: o.httpMetadata ?? {}, customMetadata: o.customMetadata ?? {} };
}

export class AppStorage extends WorkerEntrypoint {
  async put(key, value, options = {}) {
    const { project, maxBytes } = this.ctx.props;
    const k = appKey(project, key);
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value instanceof ArrayBuffer || ArrayBuffer.isView(value) ? value : null;
    if (bytes === null) throw new Error("storage values are strings, ArrayBuffers or typed arrays");
    const old = await this.env.STORE.head(k);
    const delta = bytes.byteLength - (old?.size ?? 0);
    const usage = await dbCall(this.env, project, "usage", { delta, max: maxBytes });
    if (!usage.ok) throw new Error(usage.message);
    if (!usage.value.allowed) {
      throw new Error(`storage quota exceeded: this app stores ${usage.value.used} of ${usage.value.max} bytes and the file needs ${delta} more; delete files first`);
    }
    try {
      const o = await this.env.STORE.put(k, bytes, { httpMetadata: options.httpMetadata, customMetadata: options.customMetadata });
      return described(key, o);
    } catch (e) {
      await dbCall(this.env, project, "usage", { delta: -delta, max: maxBytes });
      throw e;
    }
  }
  async get(key) {
    const o = await this.env.STORE.get(appKey(this.ctx.props.project, key));
    if (!o) return null;
    return { ...described(key, o), bytes: await o.arrayBuffer() };
  }
  async head(key) {
    const o = await this.env.STORE.head(appKey(this.ctx.props.project, key));
    return o ? described(key, o) : null;
  }
  async delete(key) {
    const { project, maxBytes } = this.ctx.props;
    const k = appKey(project, key);
    const old = await this.env.STORE.head(k);
    if (!old) return;
    await this.env.STORE.delete(k);
    await dbCall(this.env, project, "usage", { delta: -old.size, max: maxBytes });
  }
  async list(options = {}) {
    const base = `appfiles/${this.ctx.props.project}/`;
    const extra = String(options?.prefix ?? "");
    if (extra.length > MAX_KEY || extra.startsWith("/") || /(^|\/)\.\.?(\/|$)/.test(extra) || /[\\\u0000-\u001f\u007f]/.test(extra)) {
      throw new Error("storage prefix must be relative, without '.' or '..'");
    }
    const cursor = typeof options?.cursor === "string" ? options.cursor : undefined;
    const r = await this.env.STORE.list({ prefix: base + extra, limit: Math.min(Number(options?.limit) || 1000, 1000), cursor });
    // Only keys under the app's prefix are ever returned, whatever cursor is passed.
    const objects = r.objects.filter((o) => o.key.startsWith(base)).map((o) => described(o.key.slice(base.length), o));
    return { objects, truncated: r.truncated, cursor: r.truncated ? r.cursor : undefined };
  }
}

// ---------------------------------------------------------------------------------------------
// The platform's entrypoint (RPC over a service binding that names it; never HTTP)
// ---------------------------------------------------------------------------------------------

export class AppAdmin extends WorkerEntrypoint {
  /** Creates and initialises the app's database (idempotent) → `{ok, value: {database_id}}`; the id is stable. */
  async create(project) {
    const r = await dbCall(this.env, project, "create", {});
    return r.ok ? { ok: true, value: { ...r.value, database_id: `local:${project}` } } : r;
  }
  /** Applies the migrations (`[{name, sql}]`) not applied yet → `{ok, value: {applied, already}}`. */
  migrate(project, migrations) { return dbCall(this.env, project, "migrate", migrations); }
  /** Deletes the app's whole database (idempotent). */
  destroy(project) { return dbCall(this.env, project, "destroy", {}); }
  /** Runs one statement in an app's database (operators and tests). */
  query(project, sql, params) { return dbCall(this.env, project, "query", { sql, params: params ?? [] }); }
}

// ---------------------------------------------------------------------------------------------
// What every loaded app gets as modules
// ---------------------------------------------------------------------------------------------

// Gives the app the R2 API (get/put/head/delete/list) over AppStorage.
const R2_FACADE = `
class ObjectBody {
  constructor(o) { Object.assign(this, { key: o.key, size: o.size, etag: o.etag, uploaded: new Date(o.uploaded), httpMetadata: o.httpMetadata, customMetadata: o.customMetadata }); this.bytes = o.bytes; }
  async arrayBuffer() { return this.bytes; }
  async text() { return new TextDecoder().decode(this.bytes); }
  async json() { return JSON.parse(await this.text()); }
  get body() { const b = this.bytes; return new ReadableStream({ start(c) { c.enqueue(new Uint8Array(b)); c.close(); } }); }
  writeHttpMetadata(headers) { if (this.httpMetadata?.contentType) headers.set("content-type", this.httpMetadata.contentType); }
}
const meta = (o) => o && { ...o, uploaded: new Date(o.uploaded) };
export class Bucket {
  constructor(rpc) { this.rpc = rpc; }
  async put(key, value, options) { const v = typeof value === "string" ? value : value instanceof ReadableStream || value instanceof Blob ? await new Response(value).arrayBuffer() : value; return meta(await this.rpc.put(key, v, options)); }
  async get(key) { const o = await this.rpc.get(key); return o ? new ObjectBody(o) : null; }
  async head(key) { return meta(await this.rpc.head(key)); }
  async delete(key) { for (const k of Array.isArray(key) ? key : [key]) await this.rpc.delete(k); }
  async list(options) { const r = await this.rpc.list(options ?? {}); return { ...r, objects: r.objects.map(meta), delimitedPrefixes: [] }; }
}
`;

// Gives the app the D1 API over the AppDb binding.
const D1_FACADE = `
class Statement {
  constructor(rpc, sql, params) { this.rpc = rpc; this.sql = sql; this.params = params ?? []; }
  bind(...params) { return new Statement(this.rpc, this.sql, params.map((p) => (p === undefined ? null : typeof p === "boolean" ? (p ? 1 : 0) : p))); }
  async #run() { return this.rpc.query(this.sql, this.params); }
  async first(column) { const r = await this.#run(); const row = r.results[0] ?? null; if (column === undefined) return row; if (row === null) return null; if (!(column in row)) throw new Error("D1_COLUMN_NOTFOUND: " + column); return row[column]; }
  async all() { const r = await this.#run(); return { success: true, results: r.results, meta: r.meta }; }
  async run() { const r = await this.#run(); return { success: true, results: r.results, meta: r.meta }; }
  async raw(options) { const r = await this.#run(); return options?.columnNames ? [r.columns, ...r.raw] : r.raw; }
}
export class Database {
  constructor(rpc) { this.rpc = rpc; }
  prepare(sql) { return new Statement(this.rpc, sql, []); }
  async batch(statements) { const rs = await this.rpc.batch(statements.map((s) => ({ sql: s.sql, params: s.params }))); return rs.map((r) => ({ success: true, results: r.results, meta: r.meta })); }
  async exec(sql) { const parts = sql.split(";").map((s) => s.trim()).filter(Boolean); for (const p of parts) await this.rpc.query(p, []); return { count: parts.length, duration: 0 }; }
  withSession() { return this; }
}
`;

// The app's main module. Its first import sets the budget and the allocation caps (module
// evaluation follows import order), so they hold before any app module's top level runs; each
// request then starts with a fresh budget.
const MAIN = `
import "./_kiln_caps.js";
import { reset } from "./_kiln_guard.js";
import { Database } from "./_kiln_d1.js";
import { Bucket } from "./_kiln_r2.js";
import app from "./worker.js";
export default {
  fetch(request, env, ctx) {
    reset(env.KILN_LIMITS.maxOps, env.KILN_LIMITS.maxWallMs);
    const appEnv = { DB: new Database(env.DB), ASSETS: env.ASSETS, STORAGE: new Bucket(env.STORAGE), JWT_SECRET: env.JWT_SECRET };
    return app.fetch(request, appEnv, ctx);
  },
};
`;

// Budget guard: `tick()` is called at every loop iteration and function entry of the app's own
// modules (inserted by the platform's deploy step), `reset()` once per request. Replaced by the
// guard module shipped by the platform when the deploy bundle carries one.
const GUARD_FALLBACK = `
let ops = 0, maxOps = Infinity, started = 0, maxMs = Infinity, spent = null;
export function reset(o, ms) { ops = 0; maxOps = o; maxMs = ms; started = Date.now(); spent = null; }
export function tick() {
  if (spent !== null) throw new Error(spent);
  if (++ops > maxOps) spent = "kiln: the app exceeded its CPU budget (" + maxOps + " operations)";
  else if ((ops & 1023) === 0 && Date.now() - started > maxMs) spent = "kiln: the app exceeded its CPU budget (" + maxMs + " ms)";
  if (spent !== null) throw new Error(spent);
}
export function capAllocations() {}
`;

/** The module that applies the limits before the app's modules evaluate. */
function caps(limits) {
  return `import { reset, capAllocations } from "./_kiln_guard.js";\ncapAllocations(${limits.maxAllocBytes}, ${limits.maxRequestAllocBytes});\nreset(${limits.maxOps}, ${limits.maxWallMs});\n`;
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

function withHeaders(response, extra) {
  const r = new Response(response.body, response);
  for (const [name, value] of extra) if (!r.headers.has(name)) r.headers.set(name, value);
  return r;
}

function platformOrigin(env, url) {
  if (env.PLATFORM_ORIGIN) return env.PLATFORM_ORIGIN;
  return `${url.protocol}//${env.APPS_DOMAIN || "localhost"}${url.port ? `:${url.port}` : ""}`;
}

/** Reads the whole body (at most `max` bytes) so that nothing reads it after the response. */
async function buffered(request, max) {
  if (request.method === "GET" || request.method === "HEAD") return { request };
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > max) return { tooLarge: true };
  const body = await request.arrayBuffer();
  if (body.byteLength > max) return { tooLarge: true };
  return { request: new Request(request.url, { method: request.method, headers: request.headers, body }) };
}

// Loaded apps by version: what `Apps.load_spec` returned (modules never change for a version).
const specs = new Map();
const MAX_SPECS = 64;

async function spec(env, live) {
  const key = `${live.project}:v${live.version}`;
  let s = specs.get(key);
  if (!s) {
    const raw = await Apps.load_spec(live.project, live.version, env);
    if (raw === null) return null;
    s = JSON.parse(raw);
    if (specs.size >= MAX_SPECS) specs.clear();
    specs.set(key, s);
  }
  return s;
}

async function serveApi(request, env, ctx, live, limits) {
  const url = new URL(request.url);
  if (request.method === "POST" && (url.pathname === "/api/auth/login" || url.pathname === "/api/auth/register")) {
    const ip = request.headers.get("cf-connecting-ip") || "unknown";
    const r = await dbCall(env, live.project, "limit", { key: `auth:${ip}`, limit: limits.authPerMinute, window_ms: 60000 });
    if (r.ok && !r.value.allowed) {
      return json(429, { error: { code: "rate_limited", message: `too many sign-in attempts from this address (at most ${limits.authPerMinute} a minute); try again in ${r.value.retry_after} s` } }, { "retry-after": String(r.value.retry_after) });
    }
  }
  const s = await spec(env, live);
  if (s === null) {
    return json(503, { error: { code: "not_deployed", message: `version ${live.version} of this app has no deploy bundle; rebuild the app` } });
  }
  const worker = env.LOADER.get(`${live.project}:v${live.version}`, () => ({
    compatibilityDate: "2026-04-01",
    mainModule: "_kiln_main.js",
    // The app's modules first, so none of its files can replace the host's own.
    modules: {
      ...s.modules,
      "_kiln_guard.js": s.guard ?? GUARD_FALLBACK,
      "_kiln_caps.js": caps(limits),
      "_kiln_main.js": MAIN,
      "_kiln_d1.js": D1_FACADE,
      "_kiln_r2.js": R2_FACADE,
    },
    env: {
      DB: ctx.exports.AppDb({ props: { project: live.project } }),
      ASSETS: ctx.exports.AppAssets({ props: { project: live.project, version: live.version } }),
      STORAGE: ctx.exports.AppStorage({ props: { project: live.project, maxBytes: limits.storageBytes } }),
      JWT_SECRET: s.jwt_secret,
      KILN_LIMITS: { maxOps: limits.maxOps, maxWallMs: limits.maxWallMs },
    },
    // Generated apps talk to nothing but their own bindings: no fetch(), no connect().
    globalOutbound: null,
    // Enforced by the Workers runtime in production; workerd under `wrangler dev` accepts and
    // ignores them, which is why the guard module exists (docs/adr/0011).
    limits: { cpuMs: limits.cpuMs, subRequests: limits.subRequests },
  }));
  try {
    return await worker.getEntrypoint(null, { limits: { cpuMs: limits.cpuMs, subRequests: limits.subRequests } }).fetch(request);
  } catch (e) {
    const message = String(e?.message ?? e);
    if (message.includes("kiln: ")) {
      return json(503, { error: { code: "app_limit", message: message.slice(message.indexOf("kiln: ") + 6, 300) } });
    }
    console.error(`app ${live.slug} v${live.version} threw: ${message.slice(0, 300)}`);
    return json(500, { error: { code: "app_error", message: "the app failed to answer this request" } });
  }
}

// ---------------------------------------------------------------------------------------------
// Apps deployed to Cloudflare (live pointer `"target": "cloudflare"`): Workers for Platforms
// ---------------------------------------------------------------------------------------------

/**
 * The dispatch namespace: `env.DISPATCHER` (a `dispatch_namespaces` binding) in production. Local
 * development has no such binding, so there an object with the same `get(name, args, options)`
 * shape forwards each request over HTTP to the Cloudflare API double's dispatch emulation at
 * `DISPATCH_EMULATION_URL` (`http://127.0.0.1:<CF_API_PORT>/__double/dispatch`), which runs the
 * uploaded script with the bindings from its upload metadata (tests/cloudflare-double).
 */
function dispatcher(env) {
  if (env.DISPATCHER) return env.DISPATCHER;
  const base = env.DISPATCH_EMULATION_URL;
  if (!base) return null;
  const namespace = env.DISPATCH_NAMESPACE || "kiln-apps";
  return {
    get(name, _args, options) {
      return {
        async fetch(request) {
          const url = new URL(request.url);
          const headers = new Headers(request.headers);
          headers.set("x-double-url", request.url);
          headers.set("x-double-limits", JSON.stringify(options?.limits ?? {}));
          // Unencoded on this internal hop: the answer goes back to the client as the app sent it,
          // and the runtime encodes it for the client's own Accept-Encoding.
          headers.set("accept-encoding", "identity");
          const target = `${base.replace(/\/$/, "")}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}${url.pathname}${url.search}`;
          const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
          const res = await fetch(target, { method: request.method, headers, body, redirect: "manual" });
          // As the binding does when the namespace has no script of that name.
          if (res.status === 404 && res.headers.get("x-double-error") === "worker-not-found") throw new Error("Worker not found.");
          return res;
        },
      };
    },
  };
}

async function serveCloudflare(request, env, live, limits) {
  const namespace = dispatcher(env);
  if (namespace === null) {
    return json(503, { error: { code: "not_deployed", message: "this app is deployed to Cloudflare, but this dispatch Worker has no dispatch namespace binding (DISPATCHER)" } });
  }
  try {
    const worker = namespace.get(live.script, {}, { limits: { cpuMs: limits.cpuMs, subRequests: limits.subRequests } });
    const response = withHeaders(await worker.fetch(request), []);
    response.headers.set("x-kiln-version", String(live.version));
    return response;
  } catch (e) {
    const message = String(e?.message ?? e);
    if (message.includes("Worker not found")) {
      return json(503, { error: { code: "not_deployed", message: `version ${live.version} of this app is not in the dispatch namespace; rebuild the app` } });
    }
    console.error(`app ${live.slug} (${live.script}) failed: ${message.slice(0, 300)}`);
    return json(500, { error: { code: "app_error", message: "the app failed to answer this request" } });
  }
}

// worker-build's default export is a WorkerEntrypoint class whose fetch runs the Rust handler
// (static files); this subclass takes `/api/*` on app hosts first.
export default class Dispatch extends RustWorker {
  async fetch(request) {
    const { env, ctx } = this;
    const url = new URL(request.url);
    const limits = settings(env);
    const headers = JSON.parse(Apps.security_headers(platformOrigin(env, url)));
    const b = await buffered(request, limits.maxBodyBytes);
    if (b.tooLarge) {
      return withHeaders(json(413, { error: { code: "too_large", message: `request bodies are limited to ${limits.maxBodyBytes} bytes` } }), headers);
    }
    const isApi = url.pathname === "/api" || url.pathname.startsWith("/api/");
    const raw = await Apps.live(url.hostname, env);
    const live = raw === null ? null : JSON.parse(raw);
    // An app on Cloudflare answers every path itself (its worker and its assets).
    if (live?.target === "cloudflare" && live.script) return withHeaders(await serveCloudflare(b.request, env, live, limits), headers);
    if (live !== null && isApi) return withHeaders(await serveApi(b.request, env, ctx, live, limits), headers);
    // The pointer is read: the app's files are served without reading it again.
    if (live !== null) {
      return Apps.serve_files(b.request.url, b.request.method, b.request.headers.get("if-none-match") ?? undefined, raw, env);
    }
    return super.fetch(b.request);
  }
}
