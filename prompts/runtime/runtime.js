// Kiln app runtime: shipped inside every generated app as `_kiln/runtime.js`.
// Apps import only from here and their own modules. It gives a router, JSON helpers, auth
// (PBKDF2-SHA256 100,000 iterations + HS256 JWT over WebCrypto) and user-scoped D1 helpers.
// SQL values are always bound parameters; table and column names come from the app's own
// constants, never from requests.

const enc = new TextEncoder();
const dec = new TextDecoder();

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

export function error(status, code, message) {
  return json(status, { error: { code, message } });
}

export class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function readJson(request, limit = 64 * 1024) {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > limit) throw new HttpError(413, "payload_too_large", `request body is larger than ${limit} bytes`);
  const text = await request.text();
  if (text.length > limit) throw new HttpError(413, "payload_too_large", `request body is larger than ${limit} bytes`);
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value;
  } catch {
    throw new HttpError(400, "invalid_json", "request body must be a JSON object");
  }
}

export class Router {
  constructor() {
    this.routes = [];
  }
  route(method, pattern, handler) {
    const names = [];
    const regex = new RegExp(
      "^" + pattern.replace(/\/:([a-z_]+)/g, (_, n) => (names.push(n), "/([^/]+)")) + "/?$",
    );
    this.routes.push({ method, regex, names, handler });
    return this;
  }
  async handle(request, env, ctx) {
    const url = new URL(request.url);
    let pathMatched = false;
    for (const r of this.routes) {
      const m = url.pathname.match(r.regex);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== request.method) continue;
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      try {
        return await r.handler({ request, env, ctx, params, url });
      } catch (e) {
        if (e instanceof HttpError) return error(e.status, e.code, e.message);
        console.error(e);
        return error(500, "internal", "internal error; try again");
      }
    }
    if (pathMatched) return error(405, "method_not_allowed", `method ${request.method} is not allowed here`);
    return null;
  }
}

// --- auth -----------------------------------------------------------------------------------

const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromB64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

async function pbkdf2(password, salt) {
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: 100000 }, key, 256));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export async function hashPassword(password) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return `pbkdf2-sha256$100000$${b64url(salt)}$${b64url(await pbkdf2(password, salt))}`;
}

export async function verifyPassword(password, stored) {
  const [scheme, , salt, hash] = String(stored).split("$");
  if (scheme !== "pbkdf2-sha256" || !salt || !hash) return false;
  return equal(await pbkdf2(password, fromB64url(salt)), fromB64url(hash));
}

async function hmacKey(secret) {
  if (!secret || secret.length < 32) throw new HttpError(500, "misconfigured", "JWT_SECRET is missing or too short");
  return crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

export async function signToken(env, userId, ttlSeconds = 7 * 24 * 3600) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = b64url(enc.encode(JSON.stringify({ sub: String(userId), iat: now, exp: now + ttlSeconds })));
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(env.JWT_SECRET), enc.encode(`${header}.${payload}`));
  return `${header}.${payload}.${b64url(sig)}`;
}

export async function verifyToken(env, token) {
  const parts = String(token).split(".");
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(dec.decode(fromB64url(parts[0])));
    if (header.alg !== "HS256") return null;
    const ok = await crypto.subtle.verify("HMAC", await hmacKey(env.JWT_SECRET), fromB64url(parts[2]), enc.encode(`${parts[0]}.${parts[1]}`));
    if (!ok) return null;
    const claims = JSON.parse(dec.decode(fromB64url(parts[1])));
    if (typeof claims.exp !== "number" || claims.exp < Date.now() / 1000) return null;
    return claims;
  } catch {
    return null;
  }
}

export async function requireUser(request, env) {
  const auth = request.headers.get("authorization") ?? "";
  const claims = auth.startsWith("Bearer ") ? await verifyToken(env, auth.slice(7).trim()) : null;
  if (!claims) throw new HttpError(401, "unauthorized", "sign in first: missing, invalid or expired token");
  const user = await env.DB.prepare("SELECT id, email, created_at FROM users WHERE id = ?").bind(Number(claims.sub)).first();
  if (!user) throw new HttpError(401, "unauthorized", "this account no longer exists");
  return user;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Adds register / login / me routes. */
export function authRoutes(router) {
  router.route("POST", "/api/auth/register", async ({ request, env }) => {
    const body = await readJson(request);
    const email = String(body.email ?? "").trim().toLowerCase();
    const password = String(body.password ?? "");
    if (!EMAIL.test(email) || email.length > 254) throw new HttpError(400, "invalid_field", "email is not a valid address");
    if (password.length < 8) throw new HttpError(400, "invalid_field", "password must be at least 8 characters");
    const existing = await env.DB.prepare("SELECT id FROM users WHERE email = ?").bind(email).first();
    if (existing) throw new HttpError(409, "conflict", "an account with this email already exists; sign in instead");
    const now = Date.now();
    const result = await env.DB.prepare("INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)")
      .bind(email, await hashPassword(password), now)
      .run();
    const user = { id: result.meta.last_row_id, email, created_at: now };
    return json(201, { token: await signToken(env, user.id), user });
  });
  router.route("POST", "/api/auth/login", async ({ request, env }) => {
    const body = await readJson(request);
    const email = String(body.email ?? "").trim().toLowerCase();
    const row = await env.DB.prepare("SELECT id, email, password_hash, created_at FROM users WHERE email = ?").bind(email).first();
    const ok = row ? await verifyPassword(String(body.password ?? ""), row.password_hash) : (await pbkdf2("x", new Uint8Array(16)), false);
    if (!ok) throw new HttpError(401, "unauthorized", "email or password is incorrect");
    const user = { id: row.id, email: row.email, created_at: row.created_at };
    return json(200, { token: await signToken(env, user.id), user });
  });
  router.route("GET", "/api/auth/me", async ({ request, env }) => json(200, { user: await requireUser(request, env) }));
  return router;
}

// --- user-scoped CRUD -------------------------------------------------------------------------

function coerce(field, value) {
  if (value === undefined || value === null || value === "") {
    if (field.required) throw new HttpError(400, "invalid_field", `${field.name} is required`);
    return null;
  }
  switch (field.type) {
    case "integer":
    case "rating":
    case "reference": {
      const n = Number(value);
      if (!Number.isInteger(n)) throw new HttpError(400, "invalid_field", `${field.name} must be a whole number`);
      if (field.type === "rating" && (n < 1 || n > 5)) throw new HttpError(400, "invalid_field", `${field.name} must be from 1 to 5`);
      return n;
    }
    case "number": {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new HttpError(400, "invalid_field", `${field.name} must be a number`);
      return n;
    }
    case "boolean":
      return value === true || value === 1 || value === "true" ? 1 : 0;
    case "date": {
      const s = String(value);
      if (!/^\d{4}-\d{2}-\d{2}/.test(s)) throw new HttpError(400, "invalid_field", `${field.name} must be a date (YYYY-MM-DD)`);
      return s.slice(0, 10);
    }
    default: {
      const s = String(value);
      const max = field.type === "longtext" ? 20000 : 500;
      if (s.length > max) throw new HttpError(400, "invalid_field", `${field.name} must be at most ${max} characters`);
      return s;
    }
  }
}

function values(entity, body, partial) {
  const out = {};
  for (const f of entity.fields) {
    if (partial && !(f.name in body)) continue;
    out[f.name] = coerce(f, body[f.name]);
  }
  return out;
}

/** Adds `GET/POST /api/<table>` and `GET/PUT/DELETE /api/<table>/:id`, rows scoped to the user. */
export function crudRoutes(router, entity) {
  const t = entity.table;
  const base = `/api/${t}`;
  const notFound = () => new HttpError(404, "not_found", `${entity.label} not found`);
  const parseId = (raw) => {
    const id = Number(raw);
    if (!Number.isInteger(id) || id < 1) throw notFound();
    return id;
  };
  router.route("GET", base, async ({ request, env }) => {
    const user = await requireUser(request, env);
    const { results } = await env.DB.prepare(`SELECT * FROM ${t} WHERE user_id = ? ORDER BY id DESC LIMIT 500`).bind(user.id).all();
    return json(200, results);
  });
  router.route("POST", base, async ({ request, env }) => {
    const user = await requireUser(request, env);
    const v = values(entity, await readJson(request), false);
    const cols = Object.keys(v);
    const now = Date.now();
    const sql = `INSERT INTO ${t} (user_id, ${cols.join(", ")}, created_at, updated_at) VALUES (?, ${cols.map(() => "?").join(", ")}, ?, ?)`;
    const r = await env.DB.prepare(sql).bind(user.id, ...cols.map((c) => v[c]), now, now).run();
    const row = await env.DB.prepare(`SELECT * FROM ${t} WHERE id = ?`).bind(r.meta.last_row_id).first();
    return json(201, row);
  });
  router.route("GET", `${base}/:id`, async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    const row = await env.DB.prepare(`SELECT * FROM ${t} WHERE id = ? AND user_id = ?`).bind(parseId(params.id), user.id).first();
    if (!row) throw notFound();
    return json(200, row);
  });
  router.route("PUT", `${base}/:id`, async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    const id = parseId(params.id);
    const v = values(entity, await readJson(request), true);
    const cols = Object.keys(v);
    const sets = [...cols.map((c) => `${c} = ?`), "updated_at = ?"].join(", ");
    const r = await env.DB.prepare(`UPDATE ${t} SET ${sets} WHERE id = ? AND user_id = ?`).bind(...cols.map((c) => v[c]), Date.now(), id, user.id).run();
    if (!r.meta.changes) throw notFound();
    return json(200, await env.DB.prepare(`SELECT * FROM ${t} WHERE id = ?`).bind(id).first());
  });
  router.route("DELETE", `${base}/:id`, async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    const r = await env.DB.prepare(`DELETE FROM ${t} WHERE id = ? AND user_id = ?`).bind(parseId(params.id), user.id).run();
    if (!r.meta.changes) throw notFound();
    return json(200, { deleted: true });
  });
  return router;
}

// --- files (the app's own storage, scoped to the signed-in user) ---------------------------------

const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;
const MAX_FILE = 5 * 1024 * 1024;

/** Adds `GET /api/files`, `PUT/GET/DELETE /api/files/:name`; each user sees only their files. */
export function fileRoutes(router) {
  const key = (user, name) => {
    if (!FILE_NAME.test(name)) throw new HttpError(400, "invalid_field", "file name must be 1-100 letters, digits, '.', '_' or '-', not starting with '.'");
    return `${user.id}/${name}`;
  };
  router.route("GET", "/api/files", async ({ request, env }) => {
    const user = await requireUser(request, env);
    const r = await env.STORAGE.list({ prefix: `${user.id}/` });
    return json(200, r.objects.map((o) => ({ name: o.key.slice(String(user.id).length + 1), size: o.size })));
  });
  router.route("PUT", "/api/files/:name", async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    const k = key(user, params.name);
    const body = await request.arrayBuffer();
    if (body.byteLength > MAX_FILE) throw new HttpError(413, "payload_too_large", `files are limited to ${MAX_FILE} bytes`);
    const contentType = request.headers.get("content-type") ?? "application/octet-stream";
    await env.STORAGE.put(k, body, { httpMetadata: { contentType } });
    return json(201, { name: params.name, size: body.byteLength });
  });
  router.route("GET", "/api/files/:name", async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    const o = await env.STORAGE.get(key(user, params.name));
    if (!o) throw new HttpError(404, "not_found", "file not found");
    return new Response(await o.arrayBuffer(), { headers: { "content-type": o.httpMetadata?.contentType ?? "application/octet-stream" } });
  });
  router.route("DELETE", "/api/files/:name", async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    await env.STORAGE.delete(key(user, params.name));
    return json(200, { deleted: true });
  });
  return router;
}

/** The app's fetch handler: API routes, then static assets. */
export function app(entities) {
  const router = fileRoutes(authRoutes(new Router()));
  for (const e of entities) crudRoutes(router, e);
  return {
    async fetch(request, env, ctx) {
      const url = new URL(request.url);
      if (url.pathname.startsWith("/api/")) {
        return (await router.handle(request, env, ctx)) ?? error(404, "no_route", `no route for ${url.pathname}`);
      }
      return env.ASSETS.fetch(request);
    },
  };
}
