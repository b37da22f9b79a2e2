// Dispatch Worker entry module. Rust (../build) serves static files, the per-app database
// Durable Object and internal routes; this file holds only what must be JavaScript:
//  - `/api/*` on an app host runs the app's worker.js in its own isolate (Worker Loader), one
//    isolate per app version, so a deploy takes effect at once;
//  - `AppDb`, a WorkerEntrypoint handed to the loaded app (a Durable Object stub cannot be), which
//    forwards to that app's database object, scoped by the props the dispatcher sets;
//  - the D1 facade module every loaded app gets as `env.DB`.
import { WorkerEntrypoint } from "cloudflare:workers";
import RustWorker, { Apps } from "../build/index.js";

export * from "../build/index.js";

export class AppDb extends WorkerEntrypoint {
  async #call(op, body) {
    const id = this.env.APP_DB.idFromName(this.ctx.props.project);
    const res = await this.env.APP_DB.get(id).fetch(`http://db/${op}`, { method: "POST", body: JSON.stringify(body) });
    const out = await res.json();
    if (!res.ok) throw new Error(out?.error?.message ?? `database ${op} failed`);
    return out;
  }
  query(sql, params) { return this.#call("query", { sql, params }); }
  batch(statements) { return this.#call("batch", statements); }
}

// An app's file storage: the shared bucket, confined to `appfiles/<project>/`. Keys are checked
// here, at the trust boundary, so an app cannot name another app's objects.
function appKey(props, key) {
  const k = String(key ?? "");
  if (!k || k.length > 512 || k.startsWith("/") || k.split("/").some((s) => s === "" || s === "." || s === "..") || /[\\\u0000-\u001f]/.test(k)) {
    throw new Error(`storage key '${k.slice(0, 64)}' is not allowed; use a relative path without '..'`);
  }
  return `appfiles/${props.project}/${k}`;
}

export class AppStorage extends WorkerEntrypoint {
  async put(key, value, options = {}) {
    const o = await this.env.STORE.put(appKey(this.ctx.props, key), value, { httpMetadata: options.httpMetadata, customMetadata: options.customMetadata });
    return { key, size: o.size, etag: o.etag, uploaded: o.uploaded.toISOString() };
  }
  async get(key) {
    const o = await this.env.STORE.get(appKey(this.ctx.props, key));
    if (!o) return null;
    return { key, size: o.size, etag: o.etag, httpMetadata: o.httpMetadata ?? {}, customMetadata: o.customMetadata ?? {}, bytes: await o.arrayBuffer() };
  }
  async delete(key) {
    await this.env.STORE.delete(appKey(this.ctx.props, key));
  }
  async list(options = {}) {
    const base = `appfiles/${this.ctx.props.project}/`;
    const extra = String(options.prefix ?? "");
    if (extra.startsWith("/") || /(^|\/)\.\.?(\/|$)/.test(extra)) throw new Error("storage prefix must be relative, without '.' or '..'");
    const prefix = base + extra;
    const r = await this.env.STORE.list({ prefix, limit: Math.min(Number(options.limit) || 1000, 1000), cursor: options.cursor });
    return { objects: r.objects.map((o) => ({ key: o.key.slice(base.length), size: o.size, etag: o.etag })), truncated: r.truncated, cursor: r.truncated ? r.cursor : undefined };
  }
}

// Runs inside the app's isolate: gives the app the R2 API (get/put/delete/list) over AppStorage.
const R2_FACADE = `
class ObjectBody {
  constructor(o) { Object.assign(this, { key: o.key, size: o.size, etag: o.etag, httpMetadata: o.httpMetadata, customMetadata: o.customMetadata }); this.bytes = o.bytes; }
  async arrayBuffer() { return this.bytes; }
  async text() { return new TextDecoder().decode(this.bytes); }
  async json() { return JSON.parse(await this.text()); }
  get body() { const b = this.bytes; return new ReadableStream({ start(c) { c.enqueue(new Uint8Array(b)); c.close(); } }); }
  writeHttpMetadata(headers) { if (this.httpMetadata?.contentType) headers.set("content-type", this.httpMetadata.contentType); }
}
export class Bucket {
  constructor(rpc) { this.rpc = rpc; }
  async put(key, value, options) { const v = typeof value === "string" ? value : value instanceof ReadableStream ? await new Response(value).arrayBuffer() : value; return this.rpc.put(key, v, options); }
  async get(key) { const o = await this.rpc.get(key); return o ? new ObjectBody(o) : null; }
  async head(key) { const o = await this.rpc.get(key); return o ? new ObjectBody(o) : null; }
  async delete(key) { for (const k of Array.isArray(key) ? key : [key]) await this.rpc.delete(k); }
  async list(options) { return this.rpc.list(options ?? {}); }
}
`;

// Runs inside the app's isolate: gives the app the D1 API over the AppDb binding.
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

const MAIN = `
import app from "./worker.js";
import { Database } from "./_kiln_d1.js";
import { Bucket } from "./_kiln_r2.js";
export default {
  fetch(request, env, ctx) {
    return app.fetch(request, { ...env, DB: new Database(env.DB), STORAGE: new Bucket(env.STORAGE) }, ctx);
  },
};
`;

export class AppAssets extends WorkerEntrypoint {
  // Static files of the live version, served by the Rust handler (same rules as direct requests).
  async fetch(request) {
    return RustWorker.prototype.fetch.call({ env: this.env, ctx: this.ctx }, request);
  }
}

// worker-build's default export is a WorkerEntrypoint class whose fetch runs the Rust handler;
// this subclass takes `/api/*` on app hosts first.
export default class Dispatch extends RustWorker {
  async fetch(request) {
    const { env, ctx } = this;
    const url = new URL(request.url);
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) {
      const raw = await Apps.load_spec(url.hostname, env);
      if (raw !== null) {
        const spec = JSON.parse(raw);
        const worker = env.LOADER.get(`${spec.project}:v${spec.version}`, () => ({
          compatibilityDate: "2026-04-01",
          mainModule: "_kiln_main.js",
          modules: { ...spec.modules, "_kiln_main.js": MAIN, "_kiln_d1.js": D1_FACADE, "_kiln_r2.js": R2_FACADE },
          env: {
            DB: ctx.exports.AppDb({ props: { project: spec.project } }),
            ASSETS: ctx.exports.AppAssets({ props: { project: spec.project } }),
            STORAGE: ctx.exports.AppStorage({ props: { project: spec.project } }),
            JWT_SECRET: spec.jwt_secret,
          },
          // Generated apps talk to nothing but their own bindings.
          globalOutbound: null,
        }));
        return worker.getEntrypoint().fetch(request);
      }
    }
    return super.fetch(request);
  }
}
