// The project's live event stream (SSE), read with fetch() rather than EventSource.
//
// EventSource cannot send an Authorization header, and the platform accepts only bearer tokens
// (a token in the URL would end up in logs and history). So the stream is read from a fetch()
// body, parsed here, and resumed by hand: every reconnect sends `Last-Event-ID` with the seq of
// the last event seen, so nothing is missed and nothing is delivered twice.

import { authHeaders, type KilnEvent } from "./api";

export type StreamState =
  | { kind: "connecting" }
  | { kind: "live"; resumedAfter: number | null; reconnects: number }
  | { kind: "reconnecting"; lastSeq: number; reconnects: number; reason: string }
  | { kind: "stopped"; reason: string };

export function openEventStream(
  projectId: string,
  after: number,
  onEvent: (e: KilnEvent) => void,
  onState: (s: StreamState) => void,
): { close(): void; drop(): void } {
  let lastSeq = after;
  let closed = false;
  let reconnects = 0;
  let controller: AbortController | null = null;

  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function once(): Promise<string> {
    controller = new AbortController();
    const res = await fetch(`/api/projects/${projectId}/events?timeout=300`, {
      headers: { ...authHeaders(), accept: "text/event-stream", "last-event-id": String(lastSeq) },
      signal: controller.signal,
      cache: "no-store",
    });
    if (res.status === 401 || res.status === 404) throw new Fatal(`the event stream answered ${res.status}`);
    if (!res.ok || !res.body) return `the event stream answered ${res.status}`;
    onState({ kind: "live", resumedAfter: reconnects > 0 ? lastSeq : null, reconnects });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "the server closed the stream";
      buffer += value.replace(/\r\n/g, "\n");
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        let data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (!data) continue;
        if (name === "error") return "the event log reported a problem";
        const event = JSON.parse(data) as KilnEvent;
        if (event.seq <= lastSeq) continue;
        lastSeq = event.seq;
        onEvent(event);
      }
    }
  }

  (async () => {
    onState({ kind: "connecting" });
    while (!closed) {
      let reason: string;
      try {
        reason = await once();
      } catch (e) {
        if (closed) return;
        if (e instanceof Fatal) {
          onState({ kind: "stopped", reason: e.message });
          return;
        }
        reason = "the connection was lost";
      }
      if (closed) return;
      reconnects += 1;
      onState({ kind: "reconnecting", lastSeq, reconnects, reason });
      await wait(Math.min(1000 * reconnects, 5000));
    }
  })();

  return {
    close() {
      closed = true;
      controller?.abort();
    },
    /** Drops the current connection (as a network failure would); the stream reconnects. */
    drop() {
      controller?.abort();
    },
  };
}

class Fatal extends Error {}
