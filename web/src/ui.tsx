// Small shared pieces: status badges, loading/empty/error states, formatting.
import type { ComponentChildren } from "preact";
import type { BuildStatus } from "./api";

const STATUS_TEXT: Record<string, string> = {
  requested: "Queued",
  running: "Building",
  succeeded: "Live",
  failed: "Failed",
  cancelled: "Cancelled",
  none: "No build yet",
};

export function StatusBadge({ status, label }: { status: BuildStatus | "none" | "pending"; label?: string }) {
  return (
    <span class={`badge badge-${status}`}>
      <span class="dot" aria-hidden="true" />
      {label ?? STATUS_TEXT[status] ?? status}
    </span>
  );
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <span class="spinner" role="status" aria-label={label}>
      <span aria-hidden="true" />
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div class="state state-loading">
      <Spinner label={`Loading ${what}`} />
      <span>Loading {what}…</span>
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="state state-error" role="alert">
      <strong>Something went wrong.</strong> <span>{messageOf(error)}</span>
      {retry && (
        <button type="button" class="btn btn-small" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <strong>{title}</strong>
      {children && <p>{children}</p>}
    </div>
  );
}

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export function timeAgo(ms: number): string {
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

export function duration(ms: number | null | undefined): string {
  if (ms == null) return "";
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function Logo() {
  return (
    <a href="/" class="logo" aria-label="Kiln home">
      <span class="logo-mark" aria-hidden="true" />
      <span>Kiln</span>
    </a>
  );
}
