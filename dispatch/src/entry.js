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
export default {
  fetch(request, env, ctx) {
    return app.fetch(request, { ...env, DB: new Database(env.DB) }, ctx);
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
          modules: { ...spec.modules, "_kiln_main.js": MAIN, "_kiln_d1.js": D1_FACADE },
          env: {
            DB: ctx.exports.AppDb({ props: { project: spec.project } }),
            ASSETS: ctx.exports.AppAssets({ props: { project: spec.project } }),
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
