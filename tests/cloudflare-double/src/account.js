// The account: every REST call of the double is handled here, in one SQLite-backed Durable
// Object, so the account's records (databases, buckets, namespaces, scripts, upload sessions,
// the call log) change one request at a time, like Cloudflare's control plane answers them.
// Blobs (assets, R2 objects) live in the double's own R2 bucket `BLOBS`:
//   assets/<namespace>/<script>/<hash>   a script's uploaded assets
//   uploads/<session>/<hash>             assets uploaded in a session not yet attached
//   r2/<bucket>/<key>                    objects of an emulated R2 bucket
import { DurableObject } from "cloudflare:workers";
import { ok, fail, err, ApiError, jsonBody } from "./envelope.js";
import { sign, verify } from "./jwt.js";
import { splitStatements } from "./sql.js";

const ACCOUNT_ID = /^[0-9a-f]{32}$/;
const D1_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const SCRIPT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HASH = /^[0-9a-f]{32}$/;
const MAX_ASSET_BYTES = 25 * 1024 * 1024;
const MAX_TAGS = 8;
const BUCKET_SIZE = 10; // hashes per upload bucket in a session's answer
const BINDING_TYPES = new Set(["d1", "r2_bucket", "secret_text", "plain_text", "assets"]);

const now = () => new Date().toISOString();
const uuid = () => crypto.randomUUID();

export class Account extends DurableObject {
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
    // Assets upload authenticates with the session's upload token, not the API token.
    let p = match(path, "/accounts/:a/workers/assets/upload");
    if (p) {
      this.account(p.a, path);
      if (m !== "POST") throw methodNotAllowed();
      return this.assetsUpload(request, url);
    }
    this.authenticate(request);
    if ((p = match(path, "/accounts/:a/d1/database"))) {
      this.account(p.a, path);
      if (m === "POST") return this.d1Create(request);
      if (m === "GET") return this.d1List(url);
      throw methodNotAllowed();
    }
    if ((p = match(path, "/accounts/:a/d1/database/:id"))) {
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
    if ((p = match(path, "/accounts/:a/r2/buckets"))) {
      this.account(p.a, path);
      if (m === "POST") return this.r2Create(request);
      if (m === "GET") return ok({ buckets: this.rows("SELECT name, created_at AS creation_date, location FROM buckets ORDER BY name") });
      throw methodNotAllowed();
    }
    if ((p = match(path, "/accounts/:a/r2/buckets/:b"))) {
      this.account(p.a, path);
      if (m === "GET") return ok(this.bucket(p.b));
      if (m === "DELETE") return this.r2Delete(p.b);
      throw methodNotAllowed();
    }
    if ((p = match(path, "/accounts/:a/r2/buckets/:b/objects"))) {
      this.account(p.a, path);
      if (m !== "GET") throw methodNotAllowed();
      return this.r2ListObjects(p.b, url);
    }
    if ((p = matchRest(path, "/accounts/:a/r2/buckets/:b/objects/"))) {
      this.account(p.a, path);
      return this.r2Object(request, p.b, p.rest);
    }
    if ((p = match(path, "/accounts/:a/workers/dispatch/namespaces"))) {
      this.account(p.a, path);
      if (m === "GET") return ok(this.rows("SELECT name AS namespace_name, id AS namespace_id, created_at AS created_on FROM namespaces ORDER BY name"));
      if (m === "POST") return this.namespaceCreate(request);
      throw methodNotAllowed();
    }
    if ((p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns"))) {
      this.account(p.a, path);
      if (m !== "GET") throw methodNotAllowed();
      const ns = this.namespace(p.ns);
      return ok({ namespace_name: ns.name, namespace_id: ns.id, created_on: ns.created_at, script_count: this.scalar("SELECT count(*) AS n FROM scripts WHERE namespace = ?", ns.name) });
    }
    if ((p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns/scripts"))) {
      this.account(p.a, path);
      this.namespace(p.ns);
      if (m === "GET") return ok(this.scriptsByTags(p.ns, url.searchParams.get("tags")).map((s) => this.scriptInfo(s)));
      if (m === "DELETE") return this.scriptsDeleteByTags(p.ns, url.searchParams.get("tags"));
      throw methodNotAllowed();
    }
    if ((p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns/scripts/:name"))) {
      this.account(p.a, path);
      this.namespace(p.ns);
      if (m === "PUT") return this.scriptUpload(request, p.ns, p.name);
      if (m === "GET") return ok(this.scriptInfo(this.script(p.ns, p.name)));
      if (m === "DELETE") return this.scriptDelete(p.ns, p.name);
      throw methodNotAllowed();
    }
    if ((p = match(path, "/accounts/:a/workers/dispatch/namespaces/:ns/scripts/:name/assets-upload-session"))) {
      this.account(p.a, path);
      this.namespace(p.ns);
      if (m !== "POST") throw methodNotAllowed();
      return this.assetsSession(request, p.ns, p.name);
    }
    throw err(404, 7000, "No route for that URI");
  }

  authenticate(request) {
    const header = request.headers.get("authorization");
    if (header === null) throw err(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers");
    const m = /^Bearer ([^\s]+)$/.exec(header);
    if (!m) throw err(400, 6111, "Invalid format for Authorization header");
    if (!this.env.CLOUDFLARE_API_TOKEN || m[1] !== this.env.CLOUDFLARE_API_TOKEN) throw err(403, 10000, "Authentication error");
  }

  account(id, path) {
    if (!ACCOUNT_ID.test(id)) throw err(400, 7003, `Could not route to /client/v4${path}, perhaps your object identifier is invalid?`);
    if (id !== this.env.CLOUDFLARE_ACCOUNT_ID) throw err(403, 10000, "Authentication error");
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
    const max = Number(this.env.D1_DATABASE_LIMIT || 50000);
    if (this.scalar("SELECT count(*) AS n FROM databases") >= max) throw err(400, 7406, `You have reached the maximum number of D1 databases for your account (${max})`);
    const row = { uuid: uuid(), name, created_at: now() };
    this.sql.exec("INSERT INTO databases (uuid, name, created_at) VALUES (?, ?, ?)", row.uuid, row.name, row.created_at);
    return ok(this.d1Info(row));
  }

  d1List(url) {
    const name = url.searchParams.get("name");
    const page = Math.max(1, Number(url.searchParams.get("page")) || 1);
    const perPage = Math.min(10000, Math.max(10, Number(url.searchParams.get("per_page")) || 1000));
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
    const one = (s, where) => {
      if (!s || typeof s.sql !== "string" || s.sql.trim() === "") throw err(400, 7400, `The request is malformed: ${where}sql is required`);
      if (s.params !== undefined && !Array.isArray(s.params)) throw err(400, 7400, `The request is malformed: ${where}params must be an array`);
      const parts = splitStatements(s.sql);
      if (parts.length === 0) throw err(400, 7500, "No SQL statements detected.");
      if (parts.length > 1 && (s.params ?? []).length > 0) {
        throw err(400, 7400, `The request is malformed: ${where}params can only be bound to a single statement, and this sql holds ${parts.length}`);
      }
      return parts.map((p) => ({ sql: p, params: s.params ?? [] }));
    };
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
    const perPage = Math.min(1000, Math.max(1, Number(url.searchParams.get("per_page")) || 1000));
    const r = await this.env.BLOBS.list({ prefix: base + (url.searchParams.get("prefix") || ""), limit: perPage, cursor: url.searchParams.get("cursor") || undefined });
    const objects = r.objects.map((o) => ({ key: o.key.slice(base.length), size: o.size, etag: o.etag, last_modified: o.uploaded.toISOString(), http_metadata: o.httpMetadata ?? {} }));
    return ok(objects, { resultInfo: { cursor: r.truncated ? r.cursor : "", is_truncated: r.truncated, per_page: perPage } });
  }

  async r2Object(request, name, key) {
    this.bucket(name);
    const k = `r2/${name}/${decodeURIComponent(key)}`;
    if (!key) throw err(400, 10020, "The object key is empty.");
    if (request.method === "PUT") {
      const o = await this.env.BLOBS.put(k, await request.arrayBuffer(), { httpMetadata: { contentType: request.headers.get("content-type") || "application/octet-stream" } });
      return ok({ key: decodeURIComponent(key), size: o.size, etag: o.etag, uploaded: o.uploaded.toISOString() });
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
      usage_model: "standard",
    };
  }

  /** Scripts of `ns` matching a `tag:yes,tag:no` filter (all `yes` tags present, no `no` tag). */
  scriptsByTags(ns, filter) {
    const want = [], refuse = [];
    for (const part of String(filter ?? "").split(",").filter(Boolean)) {
      const [tag, allowed] = part.split(":");
      if (!tag || (allowed !== "yes" && allowed !== "no")) throw err(400, 10021, `tag filter '${part}' is not 'tag:yes' or 'tag:no'`);
      (allowed === "yes" ? want : refuse).push(tag);
    }
    return this.rows("SELECT * FROM scripts WHERE namespace = ? ORDER BY name", ns).filter((s) => {
      const tags = JSON.parse(s.tags);
      return want.every((t) => tags.includes(t)) && !refuse.some((t) => tags.includes(t));
    });
  }

  async scriptsDeleteByTags(ns, filter) {
    if (!filter) throw err(400, 10021, "deleting scripts by tag needs a 'tags' filter (tag:yes,…)");
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
    for (let i = 0; i < keys.length; i += 1000) await this.env.BLOBS.delete(keys.slice(i, i + 1000));
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
    if (metadata.compatibility_date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(metadata.compatibility_date)) throw err(400, 10021, "metadata.compatibility_date must be YYYY-MM-DD");
    const tags = metadata.tags ?? [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string" || t === "" || t.includes(",") || t.includes("&"))) throw err(400, 10021, "metadata.tags must be a list of non-empty strings without ',' or '&'");
    if (tags.length > MAX_TAGS) throw err(400, 10021, `a script has at most ${MAX_TAGS} tags`);

    const modules = [];
    for (const [field, value] of form.entries()) {
      if (field === "metadata") continue;
      if (typeof value === "string") throw err(400, 10021, `part '${field}' must be a file part with a content type`);
      const ct = (value.type || "").split(";")[0].trim();
      if (!["application/javascript+module", "text/javascript+module", "application/javascript", "text/plain", "application/json", "application/octet-stream", "application/wasm"].includes(ct)) {
        throw err(400, 10021, `part '${field}' has content type '${ct}', which is not a module type`);
      }
      modules.push({ name: value.name || field, content_type: ct, body: await value.text() });
    }
    if (!modules.some((mod) => mod.name === metadata.main_module)) {
      throw err(400, 10021, `No such module "${metadata.main_module}": metadata.main_module must name one of the uploaded parts`);
    }

    // Bindings: each checked the way the API does, and each resource must exist.
    const bindings = metadata.bindings ?? [];
    if (!Array.isArray(bindings)) throw err(400, 10021, "metadata.bindings must be a list");
    const names = new Set();
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

    // Assets: a completion token from this script's upload session, or keep_assets.
    let assets = {};
    const existing = this.rows("SELECT assets FROM scripts WHERE namespace = ? AND name = ?", ns, name)[0];
    if (metadata.assets?.jwt !== undefined) {
      const claims = await verify(this.secret(), metadata.assets.jwt, "completion");
      if (!claims || claims.ns !== ns || claims.script !== name) throw err(400, 10021, "metadata.assets.jwt is not a valid completion token for this script");
      const session = this.rows("SELECT * FROM sessions WHERE id = ?", claims.sid)[0];
      // A completion token deploys once: redeeming it ends its session (a retried upload keeps
      // the assets it already gave the script with keep_assets instead).
      if (!session) throw err(400, 10021, "metadata.assets.jwt was already redeemed or its upload session expired; to keep the script's assets upload with keep_assets: true");
      assets = JSON.parse(session.manifest);
      // Move the session's uploads beside the blobs the script already had.
      for (const hash of new Set(Object.values(assets).map((a) => a.hash))) {
        const key = `assets/${ns}/${name}/${hash}`;
        if (await this.env.BLOBS.head(key)) continue;
        const o = await this.env.BLOBS.get(`uploads/${session.id}/${hash}`);
        if (!o) throw err(400, 10021, `asset ${hash} of the upload session was never uploaded`);
        await this.env.BLOBS.put(key, await o.arrayBuffer());
      }
      await this.deleteKeys((await this.env.BLOBS.list({ prefix: `uploads/${session.id}/` })).objects.map((o) => o.key));
      this.sql.exec("DELETE FROM sessions WHERE id = ?", session.id);
      const config = metadata.assets.config ?? {};
      const nf = config.not_found_handling;
      if (nf !== undefined && !["single-page-application", "404-page", "none"].includes(nf)) throw err(400, 10021, `assets.config.not_found_handling '${nf}' is not one of single-page-application, 404-page, none`);
      const rwf = config.run_worker_first;
      if (rwf !== undefined && typeof rwf !== "boolean" && !(Array.isArray(rwf) && rwf.every((r) => typeof r === "string" && /^!?\//.test(r)))) throw err(400, 10021, "assets.config.run_worker_first must be a boolean or a list of paths starting with '/' (or '!/')");
    } else if (metadata.keep_assets && existing) {
      assets = JSON.parse(existing.assets);
    }
    if (Object.keys(assets).length && !bindings.some((b) => b.type === "assets") && metadata.assets?.config?.run_worker_first) {
      // Worker-first routing needs the worker to reach its assets.
      throw err(400, 10021, "run_worker_first is set but no binding of type 'assets' gives the worker its assets");
    }
    // Drop blobs of the old upload the new manifest no longer names.
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
      ns, name, JSON.stringify(stored(metadata)), JSON.stringify(tags), etag, stamp, stamp, JSON.stringify(assets),
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
    if (!manifest || typeof manifest !== "object" || Array.isArray(manifest)) throw err(400, 10021, "manifest is required: {\"/path\": {hash, size}}");
    const clean = {};
    for (const [path, entry] of Object.entries(manifest)) {
      if (!path.startsWith("/") || path.includes("//") || path.split("/").some((s) => s === "." || s === "..")) throw err(400, 10021, `manifest path '${path.slice(0, 100)}' must start with '/' and hold no '.', '..' or empty segments`);
      if (!entry || typeof entry.hash !== "string" || !HASH.test(entry.hash)) throw err(400, 10021, `manifest entry '${path.slice(0, 100)}': hash must be 32 lowercase hex characters`);
      if (!Number.isInteger(entry.size) || entry.size < 0) throw err(400, 10021, `manifest entry '${path.slice(0, 100)}': size must be a whole number of bytes`);
      if (entry.size > MAX_ASSET_BYTES) throw err(400, 10021, `manifest entry '${path.slice(0, 100)}' is ${entry.size} bytes; assets are at most ${MAX_ASSET_BYTES}`);
      clean[path] = { hash: entry.hash, size: entry.size };
    }
    // Hashes the script already holds need no upload.
    const sizes = new Map(Object.values(clean).map((e) => [e.hash, e.size]));
    const needed = [];
    for (const hash of sizes.keys()) if (!(await this.env.BLOBS.head(`assets/${ns}/${name}/${hash}`))) needed.push(hash);
    await this.expireSessions();
    const id = uuid();
    const pending = Object.fromEntries(needed.map((h) => [h, sizes.get(h)]));
    this.sql.exec("INSERT INTO sessions (id, namespace, script, manifest, pending, created_at) VALUES (?, ?, ?, ?, ?, ?)", id, ns, name, JSON.stringify(clean), JSON.stringify(pending), now());
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const typ = needed.length ? "upload" : "completion";
    const jwt = await sign(this.secret(), { typ, sid: id, ns, script: name, exp });
    const buckets = [];
    for (let i = 0; i < needed.length; i += BUCKET_SIZE) buckets.push(needed.slice(i, i + BUCKET_SIZE));
    return ok({ jwt, buckets });
  }

  /** Sessions older than their tokens (an hour) are forgotten with their uploads. */
  async expireSessions() {
    const cutoff = new Date(Date.now() - 3600 * 1000).toISOString();
    for (const s of this.rows("SELECT id FROM sessions WHERE created_at < ?", cutoff)) {
      await this.deleteKeys((await this.env.BLOBS.list({ prefix: `uploads/${s.id}/` })).objects.map((o) => o.key));
      this.sql.exec("DELETE FROM sessions WHERE id = ?", s.id);
    }
  }

  async assetsUpload(request, url) {
    const header = request.headers.get("authorization") || "";
    const m = /^Bearer (\S+)$/.exec(header);
    const claims = m ? await verify(this.secret(), m[1], "upload") : null;
    if (!claims) throw err(401, 10000, "Authentication error: the upload token is missing, invalid or expired");
    if (url.searchParams.get("base64") !== "true") throw err(400, 10021, "assets are uploaded base64-encoded: add ?base64=true");
    const session = this.rows("SELECT * FROM sessions WHERE id = ?", claims.sid)[0];
    if (!session) throw err(401, 10000, "Authentication error: the upload session no longer exists");
    if (!(request.headers.get("content-type") || "").toLowerCase().startsWith("multipart/form-data")) throw err(400, 10021, "assets are uploaded as multipart/form-data, one field per hash");
    let form;
    try {
      form = await request.formData();
    } catch (e) {
      throw err(400, 10021, `the multipart body could not be read: ${e?.message ?? e}`);
    }
    const pending = JSON.parse(session.pending);
    const uploads = [];
    for (const [hash, value] of form.entries()) {
      if (!(hash in pending)) throw err(400, 10021, `'${hash.slice(0, 64)}' is not a hash this session asked for`);
      const text = typeof value === "string" ? value : await value.text();
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
    const jwt = await sign(this.secret(), { typ: "completion", sid: session.id, ns: session.namespace, script: session.script, exp: Math.floor(Date.now() / 1000) + 3600 });
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
    const blobs = async (prefix) => {
      const keys = [];
      let cursor;
      do {
        const r = await this.env.BLOBS.list({ prefix, cursor });
        keys.push(...r.objects.map((o) => o.key));
        cursor = r.truncated ? r.cursor : undefined;
      } while (cursor);
      return keys;
    };
    const orphanR2 = (await blobs("r2/")).filter((k) => !buckets.some((b) => k.startsWith(`r2/${b.name}/`)));
    return {
      databases,
      buckets,
      namespaces: this.rows("SELECT name FROM namespaces ORDER BY name").map((n) => n.name),
      scripts,
      asset_blobs: await blobs("assets/"),
      upload_sessions: this.rows("SELECT namespace, script FROM sessions ORDER BY created_at"),
      uploaded_blobs: await blobs("uploads/"),
      orphan_objects: orphanR2,
    };
  }
}

/** The metadata kept with a script: everything but the assets completion token (a credential). */
function stored(metadata) {
  const { assets, ...rest } = metadata;
  return assets ? { ...rest, assets: { config: assets.config ?? {} } } : rest;
}

function methodNotAllowed() {
  return err(405, 10405, "Method not allowed for this route");
}

/** `/a/:x/b` against a path → {x} or null (segments are URL-decoded). */
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

/** Like `match` for a pattern ending in `/`, the remainder as `rest` (still encoded). */
function matchRest(path, pattern) {
  const head = pattern.split("/").length - 1;
  const xs = path.split("/");
  if (xs.length <= head) return null;
  const p = match(xs.slice(0, head).join("/"), pattern.slice(0, -1));
  return p && { ...p, rest: xs.slice(head).join("/") };
}
