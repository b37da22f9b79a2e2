// The conversation: the person's messages, each followed by the build it started (plan card and
// live progress), and the message box.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Build } from "../api";
import type { StreamState } from "../stream";
import { clock, messageOf, Spinner } from "../ui";
import { BuildCard } from "./build-card";
import type { WorkspaceData } from "./workspace";

/** Builds in the order they were requested, with the time of the request (from the log). */
export function orderedBuilds(d: WorkspaceData): { build: Build; at: number }[] {
  const at = new Map<string, number>();
  for (const e of d.events) if (e.type === "BuildRequested") at.set(String(e.data.build_id), e.time_ms);
  return Object.values(d.builds)
    .map((build) => ({ build, at: at.get(build.id) ?? 0 }))
    .sort((a, b) => a.at - b.at);
}

type Item = { kind: "message"; at: number; id: string; content: string; role: string } | { kind: "build"; at: number; build: Build };

export function Chat({ data, stream, busy }: { data: WorkspaceData; stream: StreamState; busy: boolean }) {
  const items: Item[] = [
    ...data.messages.map((m) => ({ kind: "message" as const, at: m.created_at, id: m.id, content: m.content, role: m.role })),
    ...orderedBuilds(data).map(({ build, at }) => ({ kind: "build" as const, at, build })),
  ].sort((a, b) => a.at - b.at || (a.kind === "message" ? -1 : 1));
  const list = useRef<HTMLOListElement>(null);
  const count = items.length;
  const lastBuild = items.filter((i) => i.kind === "build").at(-1);
  const lastKey = lastBuild && lastBuild.kind === "build" ? `${lastBuild.build.status}${lastBuild.build.steps.length}` : "";
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [count, lastKey, Object.keys(data.plans).length]);

  return (
    <div class="chat">
      <ConnectionNote stream={stream} />
      <ol class="timeline" ref={list} aria-label="Conversation" aria-live="polite">
        {items.length === 0 && (
          <li class="welcome">
            <h2>What should we build?</h2>
            <p class="muted">
              Describe your app in a sentence or two: what it keeps track of and who uses it. Kiln plans it, writes it,
              checks it and puts it live. Later messages change it.
            </p>
            <ul class="examples">
              <li>a task manager with tasks</li>
              <li>a recipe book with ingredients and ratings</li>
              <li>a reading list with books and notes</li>
            </ul>
          </li>
        )}
        {items.map((item) =>
          item.kind === "message" ? (
            <li key={item.id} class={`bubble bubble-${item.role}`}>
              <span class="visually-hidden">{item.role === "user" ? "You" : "Kiln"} said:</span>
              <p>{item.content}</p>
              <time class="muted small">{clock(item.at)}</time>
            </li>
          ) : (
            <li key={item.build.id} class="build-item">
              <BuildCard build={item.build} plan={data.plans[item.build.id]} />
            </li>
          ),
        )}
      </ol>
      <Composer projectId={data.project.id} first={Object.keys(data.builds).length === 0} busy={busy} />
    </div>
  );
}

function ConnectionNote({ stream }: { stream: StreamState }) {
  let text: string | null = null;
  let cls = "conn";
  if (stream.kind === "connecting") text = "Connecting to live updates…";
  else if (stream.kind === "reconnecting") {
    text = `Live updates interrupted (${stream.reason}); reconnecting from event #${stream.lastSeq}…`;
    cls += " conn-warn";
  } else if (stream.kind === "live" && stream.resumedAfter != null) {
    text = `Reconnected: resumed after event #${stream.resumedAfter}, nothing missed.`;
    cls += " conn-ok";
  } else if (stream.kind === "stopped") {
    text = `Live updates stopped: ${stream.reason}. Reload the page to try again.`;
    cls += " conn-warn";
  }
  return (
    <div class={cls} role="status" data-stream={stream.kind}>
      <span class={`conn-dot conn-${stream.kind}`} aria-hidden="true" />
      {text ?? "Live"}
    </div>
  );
}

function Composer({ projectId, first, busy }: { projectId: string; first: boolean; busy: boolean }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);

  async function send() {
    const message = text.trim();
    if (!message) {
      setError("Write a message first: describe the app, or what to change.");
      box.current?.focus();
      return;
    }
    setSending(true);
    setError(null);
    try {
      await api.chat(projectId, message);
      setText("");
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setSending(false);
      box.current?.focus();
    }
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label for="prompt" class="visually-hidden">
        Describe your app
      </label>
      <textarea
        id="prompt"
        ref={box}
        rows={3}
        value={text}
        aria-describedby="prompt-hint"
        aria-invalid={error ? true : undefined}
        placeholder={first ? "Describe your app, e.g. a task manager with tasks" : "Describe a change, e.g. add a notes page with notes"}
        onInput={(e) => {
          setText(e.currentTarget.value);
          if (error) setError(null);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
      />
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="composer-foot">
        <span id="prompt-hint" class="muted small">
          {busy ? "A build is running; you can queue another change." : "Enter sends · Shift+Enter adds a line"}
        </span>
        <button type="submit" class="btn btn-primary" disabled={sending}>
          {sending && <Spinner label="Sending" />}
          Send
        </button>
      </div>
    </form>
  );
}
