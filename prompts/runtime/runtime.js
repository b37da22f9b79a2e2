// Kiln app runtime.
//
// Shipped unchanged inside every generated app as the worker module `_kiln/runtime.js`
// (generated code imports it as "./_kiln/runtime.js"). It holds everything an app needs that is
// security-sensitive or easy to get subtly wrong, so that generated code stays small and declarative:
//
//   - responses and errors:   json, error, HttpError, readJson
//   - routing:                Router (route(method, pattern, handler) with :params), serve
//   - accounts:               hashPassword / verifyPassword (PBKDF2-SHA256, 100,000 iterations,
//                             16-byte random salt per user), signJwt / verifyJwt (HS256 only, with
//                             expiry), requireUser, and the register / login / me route handlers
//   - data, declaratively:    defineEntity + crud(router, path, entity): the five routes of an
//                             entity (list with search, filters and sort; read; create; update;
//                             delete) with its visibility (private, shared, public) and the
//                             admin's moderation rights applied here, in reviewed code
//   - data, by hand:          validateInput, list, get, insert, update, remove, parseId, pageOf;
//                             every query is scoped to the signed-in user (private rows)
//   - files:                  listFiles, putFile, getFile, deleteFile (the STORAGE binding), each
//                             user's files under their own key prefix
//
// SQL rule: values are always bound parameters (`?`). Table and column names are interpolated,
// but only from entity definitions written in the app's own code, and defineEntity refuses any
// name that is not a plain lowercase identifier, so a request can never choose one.
//
// Bindings used: DB (D1 API: prepare/bind/first/all/run, batch), JWT_SECRET (string, >= 32
// characters), ASSETS (static files; see serve), STORAGE (R2 API, only for apps that store
// files). Everything here is plain WebCrypto and standard JavaScript: no imports, no npm packages.

// ---------------------------------------------------------------------------------------------
// Responses and errors
// ---------------------------------------------------------------------------------------------

/** An error that becomes a JSON error response: `{"error": {"code", "message"}}`. */
export class HttpError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** A JSON response. API answers are never cached and never sniffed as another type. */
export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...headers,
    },
  });
}

/** The one error shape every API answer uses: `{"error": {"code": "...", "message": "..."}}`. */
export function error(status, code, message, headers = {}) {
  return json(status, { error: { code, message } }, headers);
}

/** Default request body limit for readJson: 256 KiB (a few long-text fields fit easily). */
export const DEFAULT_BODY_LIMIT = 256 * 1024;

/**
 * Reads a JSON object from the request body.
 * Larger than `limit` bytes → 413; not JSON, or JSON that is not an object → 400.
 * The body is read as a stream and abandoned at the limit, so a huge body costs no memory.
 */
export async function readJson(request, limit = DEFAULT_BODY_LIMIT) {
  const bytes = await readBody(request, limit);
  let value;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, "invalid_json", "the request body is not valid JSON; send a JSON object such as {\"name\": \"…\"}");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HttpError(400, "invalid_json", "the request body must be a JSON object, not an array or a single value");
  }
  return value;
}

/** The request body as bytes, at most `limit` of them (413 beyond). */
async function readBody(request, limit) {
  const tooLarge = () =>
    new HttpError(413, "payload_too_large", `the request body is larger than ${limit} bytes; send less data`);
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/**
 * A tiny router. `route("GET", "/api/tasks/:id", handler)` matches whole path segments; `:name`
 * captures one segment into `params.name`. A handler receives `{ request, env, ctx, params, url }`
 * and returns a Response (or throws HttpError). Unknown paths answer 404, known paths with
 * another method 405, and unexpected exceptions 500 without leaking details.
 */
export class Router {
  constructor() {
    this.routes = [];
  }

  /** Adds a route; returns the router so calls can be chained. */
  route(method, pattern, handler) {
    const segments = pattern.split("/").filter(Boolean);
    this.routes.push({ method: method.toUpperCase(), segments, handler });
    return this;
  }

  /** Answers a request with the matching route. */
  async handle(request, env, ctx) {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean);
    const allowed = [];
    for (const r of this.routes) {
      const params = match(r.segments, parts);
      if (!params) continue;
      if (r.method !== request.method) {
        allowed.push(r.method);
        continue;
      }
      try {
        return await r.handler({ request, env, ctx, params, url });
      } catch (e) {
        if (e instanceof HttpError) return error(e.status, e.code, e.message, e.headers);
        // The host's budget guard stopped the request: say so (503) instead of a generic 500.
        const message = String((e && e.message) || "");
        if (message.startsWith("kiln: ")) return error(503, "app_limit", message.slice(6, 300));
        // Log the detail for the operator; the client only learns that something failed.
        console.error(`${request.method} ${url.pathname} failed:`, e && e.stack ? e.stack : e);
        return error(500, "internal", "something went wrong on the server; try again");
      }
    }
    if (allowed.length > 0) {
      return error(405, "method_not_allowed", `${request.method} is not allowed on ${url.pathname}; use ${allowed.join(" or ")}`, {
        allow: allowed.join(", "),
      });
    }
    return error(404, "not_found", `there is no API route ${request.method} ${url.pathname}`);
  }
}

function match(segments, parts) {
  if (segments.length !== parts.length) return null;
  const params = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s.startsWith(":")) {
      let value;
      try {
        value = decodeURIComponent(parts[i]);
      } catch {
        return null;
      }
      params[s.slice(1)] = value;
    } else if (s !== parts[i]) {
      return null;
    }
  }
  return params;
}

/**
 * The app's fetch handler: `/api` and `/api/...` go to the router, everything else to the static
 * assets (index.html, app.js, /_kiln/vendor/...). Falling back to index.html for front-end routes
 * is the host's job (assets configured as a single-page application).
 */
export async function serve(router, request, env, ctx) {
  const { pathname } = new URL(request.url);
  if (pathname === "/api" || pathname.startsWith("/api/")) return router.handle(request, env, ctx);
  if (env.ASSETS) return env.ASSETS.fetch(request);
  return new Response("not found", { status: 404 });
}

// ---------------------------------------------------------------------------------------------
// Passwords: PBKDF2-HMAC-SHA256, 100,000 iterations (the most WebCrypto allows on Workers)
// ---------------------------------------------------------------------------------------------

const PBKDF2_ITERATIONS = 100000;
const encoder = new TextEncoder();

function toBase64Url(bytes) {
  let binary = "";
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Compares two byte arrays in time that depends only on their length. */
export function timingSafeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

async function pbkdf2(password, salt, iterations) {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

/** Hashes a password for storage: `pbkdf2_sha256$100000$<salt>$<hash>` (base64url parts). */
export async function hashPassword(password) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await pbkdf2(password, salt, PBKDF2_ITERATIONS);
  return `pbkdf2_sha256$${PBKDF2_ITERATIONS}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

/** Checks a password against a stored hash (constant-time comparison). */
export async function verifyPassword(password, stored) {
  const parts = String(stored).split("$");
  if (parts.length !== 4 || parts[0] !== "pbkdf2_sha256") return false;
  const iterations = Number(parts[1]);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_ITERATIONS) return false;
  let salt, expected;
  try {
    salt = fromBase64Url(parts[2]);
    expected = fromBase64Url(parts[3]);
  } catch {
    return false;
  }
  return timingSafeEqual(await pbkdf2(password, salt, iterations), expected);
}

// ---------------------------------------------------------------------------------------------
// Tokens: JWT, HS256 only, with expiry
// ---------------------------------------------------------------------------------------------

/** How long a sign-in lasts. */
export const TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;

let cachedKey = { secret: null, key: null };

async function hmacKey(secret) {
  if (typeof secret !== "string" || secret.length < 32) {
    throw new HttpError(500, "misconfigured", "the app's JWT_SECRET is missing or shorter than 32 characters; set it as a secret of this app");
  }
  if (cachedKey.secret !== secret) {
    const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    cachedKey = { secret, key };
  }
  return cachedKey.key;
}

/** Signs `claims` as an HS256 JWT that expires after `ttlSeconds`. */
export async function signJwt(claims, secret, ttlSeconds = TOKEN_TTL_SECONDS) {
  const now = Math.floor(Date.now() / 1000);
  const header = toBase64Url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = toBase64Url(encoder.encode(JSON.stringify({ ...claims, iat: now, exp: now + ttlSeconds })));
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${header}.${payload}`));
  return `${header}.${payload}.${toBase64Url(signature)}`;
}

/**
 * Verifies an HS256 JWT and returns its claims, or null when it is malformed, signed with another
 * algorithm or key, or expired. The header's `alg` must be exactly "HS256": "none" and every other
 * algorithm are refused before any signature check, so a token cannot choose how it is verified.
 */
export async function verifyJwt(token, secret) {
  const key = await hmacKey(secret);
  if (typeof token !== "string" || token.length > 4096) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[0])));
    if (!header || header.alg !== "HS256" || (header.typ !== undefined && header.typ !== "JWT")) return null;
    // crypto.subtle.verify compares the MAC in constant time.
    const ok = await crypto.subtle.verify("HMAC", key, fromBase64Url(parts[2]), encoder.encode(`${parts[0]}.${parts[1]}`));
    if (!ok) return null;
    const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[1])));
    const now = Math.floor(Date.now() / 1000);
    if (!claims || typeof claims.exp !== "number" || claims.exp <= now) return null;
    if (typeof claims.nbf === "number" && claims.nbf > now) return null;
    return claims;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Accounts: register, login, me
// ---------------------------------------------------------------------------------------------

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const unauthorized = (message) => new HttpError(401, "unauthorized", message, { "www-authenticate": "Bearer" });

/**
 * A user as the API shows it. `admin` is true for the app's first registered account (the lowest
 * user id): it may edit and delete any shared or public row (moderation).
 */
function publicUser(row) {
  return { id: row.id, email: row.email, created_at: row.created_at, admin: row.admin === 1 || row.admin === true };
}

/** The user's columns plus `admin` (whether it is the first account), for one `WHERE id = ?`. */
const USER_COLUMNS = "id, email, created_at, (id = (SELECT MIN(id) FROM users)) AS admin";

function credentials(body) {
  const email = typeof body.email === "string" ? body.email.trim().toLowerCase() : "";
  const password = typeof body.password === "string" ? body.password : "";
  return { email, password };
}

async function issue(env, user) {
  return signJwt({ sub: String(user.id) }, env.JWT_SECRET);
}

/**
 * The signed-in user for a request (`Authorization: Bearer <token>`), or a 401 HttpError.
 * The account is looked up on every request, so a deleted account's tokens stop working at once.
 */
export async function requireUser(request, env) {
  const header = request.headers.get("authorization") || "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw unauthorized("sign in first: this request has no bearer token");
  const claims = await verifyJwt(match[1], env.JWT_SECRET);
  const id = claims ? Number(claims.sub) : NaN;
  if (!Number.isSafeInteger(id) || id < 1) throw unauthorized("your sign-in is invalid or has expired; sign in again");
  const row = await env.DB.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`).bind(id).first();
  if (!row) throw unauthorized("this account no longer exists; sign up again");
  return publicUser(row);
}

/**
 * The signed-in user, or null for a request without an `Authorization` header (a visitor). A
 * header with an invalid or expired token is still a 401, so a stale sign-in is never silently
 * treated as a visitor.
 */
export async function optionalUser(request, env) {
  if (!request.headers.get("authorization")) return null;
  return requireUser(request, env);
}

/** `POST /api/auth/register` with `{email, password}` → 201 `{token, user}`. */
export async function register({ request, env }) {
  const { email, password } = credentials(await readJson(request, 16 * 1024));
  if (!EMAIL.test(email) || email.length > 254) {
    throw new HttpError(400, "invalid_email", "email must be an address like name@example.com");
  }
  if (password.length < 8 || password.length > 1024) {
    throw new HttpError(400, "invalid_password", "password must be 8 to 1024 characters long");
  }
  const existing = await env.DB.prepare("SELECT id FROM users WHERE email = ?").bind(email).first();
  if (existing) throw new HttpError(409, "email_taken", "an account with this email already exists; sign in instead");
  const now = new Date().toISOString();
  let row;
  try {
    const inserted = await env.DB.prepare("INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?) RETURNING id")
      .bind(email, await hashPassword(password), now)
      .first();
    row = await env.DB.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`).bind(inserted.id).first();
  } catch (e) {
    // Two sign-ups with one email at the same moment: the UNIQUE constraint decides.
    if (String(e && e.message).includes("UNIQUE")) {
      throw new HttpError(409, "email_taken", "an account with this email already exists; sign in instead");
    }
    throw e;
  }
  const user = publicUser(row);
  return json(201, { token: await issue(env, user), user });
}

/** `POST /api/auth/login` with `{email, password}` → 200 `{token, user}`, or 401. */
export async function login({ request, env }) {
  const { email, password } = credentials(await readJson(request, 16 * 1024));
  const row = email
    ? await env.DB.prepare(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE email = ?`).bind(email).first()
    : null;
  // Unknown emails cost a hash too, so response time does not reveal which emails have accounts.
  const ok = row ? await verifyPassword(password, row.password_hash) : (await hashPassword(password), false);
  if (!ok) throw unauthorized("email or password is incorrect");
  const user = publicUser(row);
  return json(200, { token: await issue(env, user), user });
}

/** `GET /api/auth/me` → 200 `{user}` for a valid token, or 401. */
export async function me({ request, env }) {
  return json(200, { user: await requireUser(request, env) });
}

// ---------------------------------------------------------------------------------------------
// Entities: definitions, validation, user-scoped CRUD on D1
// ---------------------------------------------------------------------------------------------

const IDENT = /^[a-z][a-z0-9_]{0,39}$/;
const KINDS = new Set(["text", "long_text", "integer", "number", "boolean", "date", "rating", "reference"]);
/** Longest `text` value, in characters. */
export const MAX_TEXT = 500;
/** Longest `long_text` value, in characters. */
export const MAX_LONG_TEXT = 20000;

function ident(name, what) {
  if (typeof name !== "string" || !IDENT.test(name)) {
    throw new Error(`${what} ${JSON.stringify(name)} is not a plain lowercase identifier`);
  }
  return name;
}

/** Who may read an entity's rows; see `crud`. */
export const VISIBILITIES = Object.freeze(["private", "shared", "public"]);

/**
 * Checks and freezes an entity definition written in the app's code:
 *   { table, label, visibility?, fields: [{ name, kind, required, references? }], referencedBy?: [{ table, column, onDelete }] }
 * `kind` is one of text, long_text, integer, number, boolean, date, rating, reference.
 * `visibility` is "private" (the default: each user's own rows), "shared" (every signed-in user
 * reads, the author edits) or "public" (anyone reads, signed-in users add, the author edits); only
 * `crud` applies it (the hand-written helpers below are always private).
 * `referencedBy` lists the columns of other tables that point here; on delete they are set to
 * NULL (`onDelete: "set_null"`) or their rows are deleted (`"cascade"`), in one transaction.
 * Throws at startup on any unsafe name, so bad definitions never reach a query.
 */
export function defineEntity(def) {
  const table = ident(def.table, "table");
  const fields = def.fields.map((f) => {
    if (!KINDS.has(f.kind)) throw new Error(`field ${f.name} of ${table} has unknown kind ${JSON.stringify(f.kind)}`);
    return Object.freeze({
      name: ident(f.name, "column"),
      kind: f.kind,
      required: Boolean(f.required),
      references: f.kind === "reference" ? ident(f.references, "referenced table") : undefined,
      values: Array.isArray(f.values) ? Object.freeze(f.values.map(String)) : undefined,
    });
  });
  const visibility = def.visibility === undefined ? "private" : def.visibility;
  if (!VISIBILITIES.includes(visibility)) {
    throw new Error(`visibility of ${table} must be one of ${VISIBILITIES.join(", ")}, not ${JSON.stringify(visibility)}`);
  }
  const referencedBy = (def.referencedBy || []).map((r) =>
    Object.freeze({
      table: ident(r.table, "table"),
      column: ident(r.column, "column"),
      onDelete: r.onDelete === "cascade" ? "cascade" : "set_null",
    }),
  );
  const columns = ["id", ...fields.map((f) => f.name), "created_at", "updated_at"].join(", ");
  return Object.freeze({ table, label: def.label || table, visibility, fields: Object.freeze(fields), referencedBy: Object.freeze(referencedBy), columns });
}

const AUTOMATIC = new Set(["id", "user_id", "created_at", "updated_at"]);

function invalid(message) {
  return new HttpError(400, "invalid_field", message);
}

function isValidDate(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** Turns one JSON value into the value stored for a field, or throws a 400 naming the field. */
function coerce(field, value) {
  const name = field.name;
  const empty = value === undefined || value === null || (typeof value === "string" && value.trim() === "");
  if (empty) {
    if (field.kind === "boolean") return 0;
    if (field.required) throw invalid(`${name} is required`);
    return null;
  }
  switch (field.kind) {
    case "text":
    case "long_text": {
      if (typeof value !== "string") throw invalid(`${name} must be text`);
      const text = field.kind === "text" ? value.trim() : value;
      const max = field.kind === "text" ? MAX_TEXT : MAX_LONG_TEXT;
      if (text.length > max) throw invalid(`${name} must be at most ${max} characters (it has ${text.length})`);
      return text;
    }
    case "integer":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw invalid(`${name} must be a whole number`);
      return value;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(`${name} must be a number`);
      return value;
    case "boolean":
      if (value === true || value === 1) return 1;
      if (value === false || value === 0) return 0;
      throw invalid(`${name} must be true or false`);
    case "date":
      if (typeof value !== "string" || !isValidDate(value)) throw invalid(`${name} must be a date like 2025-01-31`);
      return value;
    case "rating":
      if (!Number.isInteger(value) || value < 1 || value > 5) throw invalid(`${name} must be a whole number from 1 to 5`);
      return value;
    case "reference":
      if (!Number.isSafeInteger(value) || value < 1) throw invalid(`${name} must be the id of one of your ${field.references}`);
      return value;
  }
  throw invalid(`${name} has an unknown kind`);
}

/**
 * Validates a request body against an entity and returns the values to store
 * (`{ column: value }`, only the entity's own columns). With `partial` (updates) absent fields are
 * left out; otherwise absent optional fields become null and absent required fields are errors.
 * Unknown fields are errors (they are usually typos); the automatic columns are ignored.
 * References must point at a row of the same user.
 */
export async function validateInput(db, entity, userId, body, { partial = false } = {}) {
  const values = coerceBody(entity, body, partial);
  for (const field of entity.fields) {
    const id = values[field.name];
    if (field.kind !== "reference" || id === null || id === undefined) continue;
    const owned = await db.prepare(`SELECT id FROM ${field.references} WHERE id = ? AND user_id = ?`).bind(id, userId).first();
    if (!owned) throw invalid(`${field.name} must be the id of one of your ${field.references}; ${id} is not`);
  }
  return values;
}

/** validateInput without the reference check: the stored values of a body, or a 400. */
function coerceBody(entity, body, partial) {
  const known = new Set(entity.fields.map((f) => f.name));
  for (const key of Object.keys(body)) {
    if (!known.has(key) && !AUTOMATIC.has(key)) {
      throw invalid(`unknown field ${JSON.stringify(key.slice(0, 60))}; ${entity.table} has: ${[...known].join(", ")}`);
    }
  }
  const values = {};
  for (const field of entity.fields) {
    const present = Object.prototype.hasOwnProperty.call(body, field.name);
    if (partial && !present) continue;
    values[field.name] = coerce(field, present ? body[field.name] : undefined);
  }
  return values;
}

/** A positive integer id from a path parameter, or a 404 (a malformed id names no row). */
export function parseId(raw, entity) {
  const id = /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) throw notFound(entity);
  return id;
}

/** The 404 for a row that does not exist or belongs to someone else (indistinguishable on purpose). */
export function notFound(entity) {
  return new HttpError(404, "not_found", `no ${entity ? entity.label : "record"} with this id`);
}

/** `?limit=&offset=` from a URL: limit 1–500 (default 100), offset >= 0 (default 0). */
export function pageOf(url) {
  const limit = Number(url.searchParams.get("limit") ?? 100);
  const offset = Number(url.searchParams.get("offset") ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new HttpError(400, "invalid_query", "limit must be a whole number from 1 to 500");
  if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, "invalid_query", "offset must be a whole number of at least 0");
  return { limit, offset };
}

/** Booleans are stored as 0/1; answers use true/false. */
function decode(entity, row) {
  if (!row) return null;
  for (const f of entity.fields) {
    if (f.kind === "boolean") row[f.name] = row[f.name] === 1 || row[f.name] === true;
  }
  return row;
}

/** The user's rows, newest first. */
export async function list(db, entity, userId, { limit = 100, offset = 0 } = {}) {
  const { results } = await db
    .prepare(`SELECT ${entity.columns} FROM ${entity.table} WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?`)
    .bind(userId, limit, offset)
    .all();
  return results.map((row) => decode(entity, row));
}

/** One of the user's rows, or null (also when the row belongs to another user). */
export async function get(db, entity, userId, id) {
  const row = await db.prepare(`SELECT ${entity.columns} FROM ${entity.table} WHERE id = ? AND user_id = ?`).bind(id, userId).first();
  return decode(entity, row);
}

/** Inserts a row for the user from validated values; returns it. */
export async function insert(db, entity, userId, values) {
  const cols = entity.fields.filter((f) => f.name in values).map((f) => f.name);
  const now = new Date().toISOString();
  const names = ["user_id", ...cols, "created_at", "updated_at"];
  const sql = `INSERT INTO ${entity.table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")}) RETURNING ${entity.columns}`;
  const row = await db.prepare(sql).bind(userId, ...cols.map((c) => values[c]), now, now).first();
  return decode(entity, row);
}

/** Updates one of the user's rows from validated values; returns it, or null if there is none. */
export async function update(db, entity, userId, id, values) {
  const cols = entity.fields.filter((f) => f.name in values).map((f) => f.name);
  const sets = [...cols.map((c) => `${c} = ?`), "updated_at = ?"].join(", ");
  const sql = `UPDATE ${entity.table} SET ${sets} WHERE id = ? AND user_id = ? RETURNING ${entity.columns}`;
  const row = await db.prepare(sql).bind(...cols.map((c) => values[c]), new Date().toISOString(), id, userId).first();
  return decode(entity, row);
}

/**
 * Deletes one of the user's rows; returns false if there is none. Rows of other tables that point
 * at it (entity.referencedBy) are cleared or deleted in the same transaction (D1 batch), so no
 * reference is left dangling and no foreign-key error can surprise the user.
 */
export async function remove(db, entity, userId, id) {
  const exists = await db.prepare(`SELECT id FROM ${entity.table} WHERE id = ? AND user_id = ?`).bind(id, userId).first();
  if (!exists) return false;
  const now = new Date().toISOString();
  const statements = entity.referencedBy.map((r) =>
    r.onDelete === "cascade"
      ? db.prepare(`DELETE FROM ${r.table} WHERE ${r.column} = ? AND user_id = ?`).bind(id, userId)
      : db.prepare(`UPDATE ${r.table} SET ${r.column} = NULL, updated_at = ? WHERE ${r.column} = ? AND user_id = ?`).bind(now, id, userId),
  );
  statements.push(db.prepare(`DELETE FROM ${entity.table} WHERE id = ? AND user_id = ?`).bind(id, userId));
  const results = await db.batch(statements);
  return (results[results.length - 1].meta?.changes ?? 0) > 0;
}

// ---------------------------------------------------------------------------------------------
// Declarative CRUD with visibility, moderation, search, filters and sort
// ---------------------------------------------------------------------------------------------
//
// Access rules (every one of them lives here, none in generated code):
//
//   visibility | read (list, get)      | create           | update, delete
//   -----------+-----------------------+------------------+-----------------------------------
//   private    | the owner only        | signed-in users  | the owner only
//   shared     | every signed-in user  | signed-in users  | the author, or the admin
//   public     | anyone, also signed out | signed-in users | the author, or the admin
//
// Errors: 401 when a signed-in user is needed and there is none; 404 for a row that does not
// exist or is another user's private row (indistinguishable on purpose); 403 for a row the user
// may read but not change. The admin is the app's first registered account; private rows stay
// their owner's only, for the admin too.

/** Most characters of a `?q=` search. */
export const MAX_QUERY = 200;
/** Query parameters `list` reads besides the filters. */
const LIST_PARAMS = new Set(["q", "sort", "limit", "offset"]);
/** The automatic columns a list may be sorted by. */
const SORT_COLUMNS = ["id", "created_at", "updated_at"];

function badQuery(message) {
  return new HttpError(400, "invalid_query", message);
}

function forbidden(entity) {
  return new HttpError(403, "forbidden", `only the author of this ${entity.label} or the app's admin may change it`);
}

/** The columns a row answer has: the entity's plus `user_id` (the author, to show who may edit). */
function rowColumns(entity) {
  return `id, user_id, ${entity.columns.slice("id, ".length)}`;
}

/** `WHERE` text and values that limit reads to the rows `user` may see; 401 when none without signing in. */
function readScope(entity, user) {
  if (entity.visibility === "public") return { sql: "1 = 1", values: [] };
  if (!user) throw unauthorized(`sign in to see ${entity.label} records`);
  if (entity.visibility === "shared") return { sql: "1 = 1", values: [] };
  return { sql: "user_id = ?", values: [user.id] };
}

/** Filters a field supports: yes/no, a fixed set of values, or a referenced row. */
function filterable(field) {
  return field.kind === "boolean" || field.kind === "reference" || (field.kind === "choice" && Array.isArray(field.values));
}

/** One `?field=value` filter as a bound condition, or a 400 naming the field and what it takes. */
function filterCondition(field, raw) {
  switch (field.kind) {
    case "boolean":
      if (raw === "true" || raw === "1") return { sql: `${field.name} = ?`, value: 1 };
      if (raw === "false" || raw === "0") return { sql: `${field.name} = ?`, value: 0 };
      throw badQuery(`filter ${field.name} must be true or false`);
    case "reference": {
      const id = /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(id)) throw badQuery(`filter ${field.name} must be the id of a ${field.references} row`);
      return { sql: `${field.name} = ?`, value: id };
    }
    default:
      if (!field.values.includes(raw)) throw badQuery(`filter ${field.name} must be one of: ${field.values.join(", ")}`);
      return { sql: `${field.name} = ?`, value: raw };
  }
}

/** `%`, `_` and `\` match themselves in a LIKE pattern (with `ESCAPE '\'`). */
function likePattern(text) {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Reads a list request's query: `?q=` (text search over the text fields), `?<field>=` filters
 * (boolean, choice and reference fields), `?sort=<column>` or `?sort=-<column>` (descending;
 * default `-id`, newest first), `?limit=&offset=`. Anything else is a 400 that says what is
 * allowed; column names come only from the entity, values are always bound.
 */
export function listQuery(entity, url) {
  const seen = new Set();
  const conditions = [];
  const values = [];
  let order = "id DESC";
  for (const [key, raw] of url.searchParams) {
    if (seen.has(key)) throw badQuery(`give ${key.slice(0, 40)} only once`);
    seen.add(key);
    if (key === "limit" || key === "offset") continue;
    if (key === "q") {
      const text = raw.trim();
      if (text.length > MAX_QUERY) throw badQuery(`q must be at most ${MAX_QUERY} characters`);
      if (!text) continue;
      const searched = entity.fields.filter((f) => f.kind === "text" || f.kind === "long_text");
      if (searched.length === 0) throw badQuery(`${entity.table} has no text fields to search`);
      conditions.push(`(${searched.map((f) => `${f.name} LIKE ? ESCAPE '\\'`).join(" OR ")})`);
      for (let i = 0; i < searched.length; i++) values.push(likePattern(text));
      continue;
    }
    if (key === "sort") {
      const descending = raw.startsWith("-");
      const name = descending ? raw.slice(1) : raw;
      const sortable = [...SORT_COLUMNS, ...entity.fields.map((f) => f.name)];
      if (!sortable.includes(name)) throw badQuery(`sort must be one of ${sortable.join(", ")}, with a leading - for descending order`);
      order = `${name} ${descending ? "DESC" : "ASC"}${name === "id" ? "" : `, id ${descending ? "DESC" : "ASC"}`}`;
      continue;
    }
    const field = entity.fields.find((f) => f.name === key);
    const filters = entity.fields.filter(filterable).map((f) => f.name);
    const allowed = `use q, sort, limit, offset${filters.length ? ` or a filter: ${filters.join(", ")}` : ""}`;
    if (!field) throw badQuery(`unknown query parameter ${JSON.stringify(key.slice(0, 40))}; ${allowed}`);
    if (!filterable(field)) throw badQuery(`${key} cannot be filtered; ${allowed}`);
    const condition = filterCondition(field, raw);
    conditions.push(condition.sql);
    values.push(condition.value);
  }
  return { conditions, values, order, ...pageOf(url) };
}

/** The rows `user` (null: a visitor) may see, searched, filtered, sorted and paged by `url`'s query. */
export async function listRows(db, entity, user, url) {
  const scope = readScope(entity, user);
  const query = listQuery(entity, url);
  const where = [scope.sql, ...query.conditions].join(" AND ");
  const { results } = await db
    .prepare(`SELECT ${rowColumns(entity)} FROM ${entity.table} WHERE ${where} ORDER BY ${query.order} LIMIT ? OFFSET ?`)
    .bind(...scope.values, ...query.values, query.limit, query.offset)
    .all();
  return results.map((row) => decode(entity, row));
}

/** One row `user` may see, or a 404 (401 when the entity needs a sign-in and there is none). */
export async function getRow(db, entity, user, id) {
  const scope = readScope(entity, user);
  const row = await db.prepare(`SELECT ${rowColumns(entity)} FROM ${entity.table} WHERE id = ? AND ${scope.sql}`).bind(id, ...scope.values).first();
  if (!row) throw notFound(entity);
  return decode(entity, row);
}

/** Throws unless `user` may change `row` (read already checked): its author, or the admin for non-private rows. */
function mayChange(entity, user, row) {
  if (row.user_id === user.id) return;
  if (user.admin && entity.visibility !== "private") return;
  throw forbidden(entity);
}

/**
 * Validated values for a body, like validateInput, but a reference may name any row the user can
 * read in the referenced entity (`entities`: table → definition; a table not in it is treated as
 * private, so only the user's own rows).
 */
async function checkedValues(db, entity, user, body, partial, entities) {
  const values = coerceBody(entity, body, partial);
  for (const field of entity.fields) {
    const id = values[field.name];
    if (field.kind !== "reference" || id === null || id === undefined) continue;
    const target = entities.get(field.references);
    const visible = target && target.visibility !== "private";
    const row = visible
      ? await db.prepare(`SELECT id FROM ${field.references} WHERE id = ?`).bind(id).first()
      : await db.prepare(`SELECT id FROM ${field.references} WHERE id = ? AND user_id = ?`).bind(id, user.id).first();
    if (!row) {
      throw invalid(visible ? `${field.name} must be the id of an existing ${target.label}; ${id} is not` : `${field.name} must be the id of one of your ${field.references}; ${id} is not`);
    }
  }
  return values;
}

/** Adds a row for `user` (required: 401 without) from a request body; returns it. */
export async function createRow(db, entity, user, body, entities = new Map()) {
  if (!user) throw unauthorized(`sign in to add ${entity.label} records`);
  const values = await checkedValues(db, entity, user, body, false, entities);
  const row = await insert(db, entity, user.id, values);
  return { ...row, user_id: user.id };
}

/** Changes a row (partial body): 401 signed out, 404 unreadable or missing, 403 another author's. */
export async function updateRow(db, entity, user, id, body, entities = new Map()) {
  if (!user) throw unauthorized(`sign in to change ${entity.label} records`);
  const existing = await getRow(db, entity, user, id);
  mayChange(entity, user, existing);
  const values = await checkedValues(db, entity, user, body, true, entities);
  const cols = entity.fields.filter((f) => f.name in values).map((f) => f.name);
  const sets = [...cols.map((c) => `${c} = ?`), "updated_at = ?"].join(", ");
  const row = await db
    .prepare(`UPDATE ${entity.table} SET ${sets} WHERE id = ? RETURNING ${rowColumns(entity)}`)
    .bind(...cols.map((c) => values[c]), new Date().toISOString(), id)
    .first();
  if (!row) throw notFound(entity);
  return decode(entity, row);
}

/**
 * Deletes a row: 401 signed out, 404 unreadable or missing, 403 another author's. Rows pointing at
 * it (entity.referencedBy) are cleared or deleted in the same transaction, whoever wrote them:
 * a reference to a shared or public row may come from another user.
 */
export async function deleteRow(db, entity, user, id) {
  if (!user) throw unauthorized(`sign in to delete ${entity.label} records`);
  const existing = await getRow(db, entity, user, id);
  mayChange(entity, user, existing);
  const now = new Date().toISOString();
  const statements = entity.referencedBy.map((r) =>
    r.onDelete === "cascade"
      ? db.prepare(`DELETE FROM ${r.table} WHERE ${r.column} = ?`).bind(id)
      : db.prepare(`UPDATE ${r.table} SET ${r.column} = NULL, updated_at = ? WHERE ${r.column} = ?`).bind(now, id),
  );
  statements.push(db.prepare(`DELETE FROM ${entity.table} WHERE id = ?`).bind(id));
  await db.batch(statements);
}

/**
 * Mounts an entity's five routes on `router`, with every access rule above:
 *
 *   GET    path        → 200 [rows]   ?q=, ?<field>=, ?sort=, ?limit=, ?offset= (see listQuery)
 *   POST   path        → 201 row
 *   GET    path/:id    → 200 row
 *   PUT    path/:id    → 200 row      (partial: only the fields sent change)
 *   DELETE path/:id    → 200 {deleted: true}
 *
 * Rows are `{id, user_id, <fields>…, created_at, updated_at}` (`user_id`: the author). `path` is
 * the route prefix, e.g. "/api/tasks". A generated worker.js needs one line per entity:
 *   crud(api, "/api/tasks", tasks);
 */
export function crud(router, path, entity) {
  if (typeof path !== "string" || !/^\/api\/[a-z0-9_/-]+$/.test(path) || path.includes("//") || path.endsWith("/")) {
    throw new Error(`crud path ${JSON.stringify(path)} must look like "/api/${entity && entity.table}"`);
  }
  if (!entity || !entity.table || !entity.visibility) throw new Error(`crud(${path}) needs an entity made by defineEntity`);
  if (!router.entities) router.entities = new Map();
  router.entities.set(entity.table, entity);
  const entities = router.entities;
  router.route("GET", path, async ({ request, env, url }) => json(200, await listRows(env.DB, entity, await optionalUser(request, env), url)));
  router.route("POST", path, async ({ request, env }) => {
    const user = await requireUser(request, env);
    return json(201, await createRow(env.DB, entity, user, await readJson(request), entities));
  });
  router.route("GET", `${path}/:id`, async ({ request, env, params }) =>
    json(200, await getRow(env.DB, entity, await optionalUser(request, env), parseId(params.id, entity))),
  );
  router.route("PUT", `${path}/:id`, async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    const id = parseId(params.id, entity);
    return json(200, await updateRow(env.DB, entity, user, id, await readJson(request), entities));
  });
  router.route("DELETE", `${path}/:id`, async ({ request, env, params }) => {
    const user = await requireUser(request, env);
    await deleteRow(env.DB, entity, user, parseId(params.id, entity));
    return json(200, { deleted: true });
  });
  return router;
}

// ---------------------------------------------------------------------------------------------
// Files: the STORAGE binding, one key prefix per user
// ---------------------------------------------------------------------------------------------

const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;
/** Largest file, in bytes (5 MiB). */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;

/** The storage key of a user's file; the name is checked so it can never leave the user's prefix. */
function fileKey(user, name) {
  if (!FILE_NAME.test(name)) {
    throw new HttpError(400, "invalid_file_name", "file names are 1 to 100 letters, digits, '.', '_' or '-', and do not start with '.'");
  }
  return `${user.id}/${name}`;
}

function storage(env) {
  if (!env.STORAGE) throw new HttpError(500, "misconfigured", "this app has no STORAGE binding for files");
  return env.STORAGE;
}

/** `GET /api/files` → 200 `[{name, size, uploaded}]`, the user's files. */
export async function listFiles({ request, env }) {
  const user = await requireUser(request, env);
  const prefix = `${user.id}/`;
  const files = [];
  let cursor;
  do {
    const page = await storage(env).list({ prefix, cursor });
    for (const o of page.objects) {
      files.push({ name: o.key.slice(prefix.length), size: o.size, uploaded: new Date(o.uploaded).toISOString() });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return json(200, files);
}

/** `PUT /api/files/:name` with the file as the body → 201 `{name, size}` (replaces a file of that name). */
export async function putFile({ request, env, params }) {
  const user = await requireUser(request, env);
  const key = fileKey(user, params.name);
  const bytes = await readBody(request, MAX_FILE_BYTES);
  const contentType = (request.headers.get("content-type") || "application/octet-stream").slice(0, 200);
  try {
    await storage(env).put(key, bytes, { httpMetadata: { contentType } });
  } catch (e) {
    const message = String((e && e.message) || "");
    if (message.startsWith("storage quota exceeded")) throw new HttpError(507, "quota_exceeded", message);
    throw e;
  }
  return json(201, { name: params.name, size: bytes.byteLength });
}

/**
 * `GET /api/files/:name` → the file, as an attachment. Files are served with their stored type but
 * as downloads, sandboxed and never sniffed, so an uploaded HTML page cannot run in the app's origin.
 */
export async function getFile({ request, env, params }) {
  const user = await requireUser(request, env);
  const object = await storage(env).get(fileKey(user, params.name));
  if (!object) throw new HttpError(404, "not_found", `no file named ${params.name}`);
  return new Response(object.body, {
    headers: {
      "content-type": object.httpMetadata?.contentType || "application/octet-stream",
      "content-disposition": `attachment; filename="${params.name}"`,
      "content-security-policy": "sandbox",
      "x-content-type-options": "nosniff",
      "cache-control": "private, no-store",
    },
  });
}

/** `DELETE /api/files/:name` → 200 `{deleted: true}`, or 404. */
export async function deleteFile({ request, env, params }) {
  const user = await requireUser(request, env);
  const key = fileKey(user, params.name);
  if (!(await storage(env).head(key))) throw new HttpError(404, "not_found", `no file named ${params.name}`);
  await storage(env).delete(key);
  return json(200, { deleted: true });
}
