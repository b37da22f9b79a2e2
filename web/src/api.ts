// The platform API as typed calls. Errors always arrive as `{"error": {"code", "message"}}`;
// they become an `ApiError` whose message is shown to the person as it is.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "kiln.token";
let token: string | null = localStorage.getItem(TOKEN_KEY);
const listeners = new Set<() => void>();

export function currentToken(): string | null {
  return token;
}

export function setToken(next: string | null): void {
  token = next;
  if (next) localStorage.setItem(TOKEN_KEY, next);
  else localStorage.removeItem(TOKEN_KEY);
  listeners.forEach((l) => l());
}

/** Called when the session changes (sign-in, sign-out, expiry). */
export function onSessionChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function authHeaders(): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const e = JSON.parse(text)?.error;
    if (e && typeof e.message === "string") return new ApiError(res.status, e.code ?? "error", e.message);
  } catch {
    /* not JSON: fall through */
  }
  return new ApiError(res.status, "http_error", `the server answered ${res.status} ${res.statusText}`.trim());
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(), ...extra };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network", "Kiln cannot be reached; check your connection and try again");
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && token && !path.startsWith("/api/auth/")) setToken(null);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export async function requestText(path: string): Promise<string> {
  const res = await fetch(path, { headers: authHeaders(), cache: "no-store" }).catch(() => null);
  if (!res) throw new ApiError(0, "network", "Kiln cannot be reached; check your connection and try again");
  if (!res.ok) throw await errorOf(res);
  return res.text();
}

// ---- shapes -------------------------------------------------------------------------------

export interface User {
  id: string;
  email: string;
}

export interface Project {
  id: string;
  name: string;
  slug: string;
  url: string;
  created_at: number;
  updated_at: number;
  build_status: BuildStatus | null;
  live_version: number | null;
}

export type BuildStatus = "requested" | "running" | "succeeded" | "failed" | "cancelled";

export interface Usage {
  calls: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost_usd: number;
  estimated: boolean;
}

export interface Attempt {
  attempt: number;
  status: "running" | "succeeded" | "failed";
  duration_ms?: number;
  error?: string;
  retryable?: boolean;
}

export interface Step {
  name: string;
  status: Attempt["status"] | null;
  attempts: Attempt[];
  duration_ms: number | null;
  usage: Usage;
}

export interface Build {
  id: string;
  project_id: string;
  status: BuildStatus;
  prompt: string;
  current_step: string | null;
  version: number | null;
  deployed_version: number | null;
  steps: Step[];
  usage: Usage;
  validation: { passed: boolean; diagnostics?: string[] } | null;
  repairs: number;
  error: { step: string; reason: string } | null;
  cancelled_in?: string | null;
}

export type FieldKind = string | { reference: string };

export interface Plan {
  app_name: string;
  summary: string;
  pages: { name: string; path: string; entity?: string | null }[];
  entities: {
    name: string;
    label: string;
    /** `values`: a `choice` field's allowed values, in display order (absent for other kinds). */
    fields: { name: string; kind: FieldKind; required: boolean; values?: string[] }[];
    /** Who reads the rows; absent means private. */
    visibility?: "private" | "shared" | "public";
  }[];
  features: string[];
  auth: boolean;
  file_storage: boolean;
  theme?: { accent?: string; background?: string; mode: "light" | "dark"; density: "comfortable" | "compact"; tagline?: string };
}

export interface Message {
  id: string;
  role: "user" | "assistant" | "system";
  content: string;
  created_at: number;
}

export interface KilnEvent {
  id: string;
  seq: number;
  type: string;
  time_ms: number;
  actor: string;
  correlation: string | null;
  data: Record<string, unknown>;
}

export interface VersionSummary {
  version: number;
  parent: number | null;
  build_id: string | null;
  created_at: number;
  files: number;
  bytes: number;
}

export interface Manifest {
  version: number;
  files: Record<string, { hash: string; size: number; content_type: string }>;
}

export interface FileDiff {
  path: string;
  status: "added" | "removed" | "modified";
  unified: string | null;
  binary: boolean;
}

// ---- calls --------------------------------------------------------------------------------

type Session = { token: string; user: User };

export const api = {
  register: (email: string, password: string) => request<Session>("POST", "/api/auth/register", { email, password }),
  login: (email: string, password: string) => request<Session>("POST", "/api/auth/login", { email, password }),
  logout: () => request<void>("POST", "/api/auth/logout"),
  me: () => request<{ user: User }>("GET", "/api/auth/me"),
  projects: () => request<{ projects: Project[] }>("GET", "/api/projects"),
  project: (id: string) => request<{ project: Project }>("GET", `/api/projects/${id}`),
  createProject: (name: string) => request<{ project: Project }>("POST", "/api/projects", { name }),
  renameProject: (id: string, name: string) => request<{ project: Project }>("PATCH", `/api/projects/${id}`, { name }),
  deleteProject: (id: string) => request<void>("DELETE", `/api/projects/${id}`),
  messages: (id: string) => request<{ messages: Message[] }>("GET", `/api/projects/${id}/messages`),
  chat: (id: string, message: string) =>
    request<{ build_id: string }>("POST", `/api/projects/${id}/chat`, { message }),
  builds: (id: string) => request<{ builds: Build[] }>("GET", `/api/projects/${id}/builds`),
  build: (id: string) => request<{ build: Build }>("GET", `/api/builds/${id}`),
  plan: (id: string) => request<{ plan: Plan }>("GET", `/api/builds/${id}/plan`),
  cancel: (id: string) =>
    request<{ build_id: string; status: "cancelled"; step: string | null }>("POST", `/api/builds/${id}/cancel`),
  events: (id: string, after: number) =>
    request<{ events: KilnEvent[]; next_after: number }>("GET", `/api/projects/${id}/events?after=${after}&limit=1000`),
  verify: (id: string) =>
    request<{ ok: boolean; events?: number; seq?: number; reason?: string }>("GET", `/api/projects/${id}/events/verify`),
  versions: (id: string) => request<{ versions: VersionSummary[] }>("GET", `/api/projects/${id}/versions`),
  manifest: (id: string, n: number) => request<{ manifest: Manifest }>("GET", `/api/projects/${id}/versions/${n}`),
  file: (id: string, n: number, path: string) =>
    requestText(`/api/projects/${id}/versions/${n}/files/${path.split("/").map(encodeURIComponent).join("/")}`),
  rollback: (id: string, version: number) =>
    request<{ rollback_id?: string; to_version?: number; status?: string; message?: string }>(
      "POST",
      `/api/projects/${id}/rollback`,
      { version },
    ),
  diff: (id: string, a: number, b: number) =>
    request<{ files: FileDiff[]; added: string[]; removed: string[]; modified: string[] }>(
      "GET",
      `/api/projects/${id}/versions/${a}/diff/${b}`,
    ),
};
