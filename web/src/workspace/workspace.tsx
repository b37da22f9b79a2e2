// The project workspace: chat and builds on the left; preview, files, versions and activity on
// the right. All live state comes from the project's event stream: each event that names a build
// refreshes that build's folded timeline (GET /api/builds/:id); nothing is polled.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, type Build, type KilnEvent, type Message, type Plan, type Project } from "../api";
import { openEventStream, type StreamState } from "../stream";
import { navigate } from "../router";
import { Header, DeleteProject, RenameProject } from "../pages/dashboard";
import { ErrorBox, Loading, StatusBadge } from "../ui";
import { Chat } from "./chat";
import { Preview } from "./preview";
import { Files } from "./files";
import { Versions } from "./versions";
import { Activity } from "./activity";

export interface WorkspaceData {
  project: Project;
  messages: Message[];
  builds: Record<string, Build>;
  plans: Record<string, Plan>;
  events: KilnEvent[];
  /** Bumped whenever a build finishes (versions and the preview reload). */
  generation: number;
}

type Tab = "preview" | "files" | "versions" | "activity";
const TABS: { id: Tab; label: string }[] = [
  { id: "preview", label: "Preview" },
  { id: "files", label: "Files" },
  { id: "versions", label: "Versions" },
  { id: "activity", label: "Activity" },
];

export function Workspace({ id }: { id: string }) {
  const [data, setData] = useState<WorkspaceData | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [stream, setStream] = useState<StreamState>({ kind: "connecting" });
  const [tab, setTab] = useState<Tab>("preview");
  const [dialog, setDialog] = useState<"rename" | "delete" | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [pane, setPane] = useState<"chat" | "app">("chat");
  const dataRef = useRef<WorkspaceData | null>(null);
  dataRef.current = data;

  useEffect(() => {
    let closed = false;
    let handle: { close(): void } | null = null;
    const inFlight = new Map<string, boolean>(); // build id → refresh again when done
    const update = (f: (d: WorkspaceData) => WorkspaceData) => !closed && setData((d) => (d ? f(d) : d));

    async function refreshBuild(buildId: string) {
      if (inFlight.has(buildId)) {
        inFlight.set(buildId, true);
        return;
      }
      inFlight.set(buildId, false);
      try {
        const { build } = await api.build(buildId);
        update((d) => ({ ...d, builds: { ...d.builds, [build.id]: build } }));
      } catch {
        /* the next event refreshes it again */
      }
      const again = inFlight.get(buildId);
      inFlight.delete(buildId);
      if (again) refreshBuild(buildId);
    }
    async function loadPlan(buildId: string) {
      try {
        const { plan } = await api.plan(buildId);
        update((d) => ({ ...d, plans: { ...d.plans, [buildId]: plan } }));
      } catch {
        /* shown as soon as it is readable */
      }
    }
    async function refreshProject() {
      try {
        const { project } = await api.project(id);
        update((d) => ({ ...d, project }));
      } catch {
        /* keep what is shown */
      }
    }

    function onEvent(e: KilnEvent) {
      update((d) => ({ ...d, events: [...d.events, e] }));
      const buildId = typeof e.data.build_id === "string" ? e.data.build_id : null;
      if (buildId) refreshBuild(buildId);
      switch (e.type) {
        case "PlanProposed":
          if (buildId) loadPlan(buildId);
          break;
        case "MessagePosted":
          update((d) =>
            d.messages.some((m) => m.id === e.data.message_id)
              ? d
              : {
                  ...d,
                  messages: [
                    ...d.messages,
                    {
                      id: String(e.data.message_id),
                      role: e.data.role as Message["role"],
                      content: String(e.data.content),
                      created_at: e.time_ms,
                    },
                  ],
                },
          );
          break;
        case "BuildSucceeded":
        case "BuildFailed":
        case "BuildCancelled":
        case "VersionSaved":
        case "RolledBack":
        case "RollbackFailed":
          update((d) => ({ ...d, generation: d.generation + 1 }));
          refreshProject();
          break;
        case "ProjectRenamed":
          update((d) => ({ ...d, project: { ...d.project, name: String(e.data.name) } }));
          break;
        case "ProjectDeleted":
          navigate("/");
          break;
      }
    }

    (async () => {
      try {
        const [{ project }, { messages }, { builds }] = await Promise.all([
          api.project(id),
          api.messages(id),
          api.builds(id),
        ]);
        const events: KilnEvent[] = [];
        let after = 0;
        for (;;) {
          const page = await api.events(id, after);
          events.push(...page.events);
          if (page.events.length < 1000) break;
          after = page.next_after;
        }
        if (closed) return;
        const plans: Record<string, Plan> = {};
        await Promise.all(
          builds
            .filter((b) => b.steps.some((s) => s.name === "plan" && s.status === "succeeded"))
            .map(async (b) => {
              plans[b.id] = (await api.plan(b.id).catch(() => null))?.plan as Plan;
              if (!plans[b.id]) delete plans[b.id];
            }),
        );
        if (closed) return;
        setData({
          project,
          messages,
          builds: Object.fromEntries(builds.map((b) => [b.id, b])),
          plans,
          events,
          generation: 0,
        });
        const last = events.length ? events[events.length - 1].seq : 0;
        handle = openEventStream(id, last, onEvent, (s) => !closed && setStream(s));
        (window as unknown as { __kilnStream?: unknown }).__kilnStream = handle;
      } catch (e) {
        if (!closed) setError(e);
      }
    })();
    return () => {
      closed = true;
      handle?.close();
    };
  }, [id, attempt]);

  const building = useMemo(
    () => (data ? Object.values(data.builds).some((b) => b.status === "requested" || b.status === "running") : false),
    [data],
  );

  if (error)
    return (
      <div class="page">
        <Header />
        <main class="container">
          <ErrorBox error={error} retry={() => (setError(null), setAttempt((a) => a + 1))} />
          <p>
            <a href="/">Back to projects</a>
          </p>
        </main>
      </div>
    );
  if (!data)
    return (
      <div class="page">
        <Header />
        <main class="container">
          <Loading what="project" />
        </main>
      </div>
    );

  const { project } = data;
  const latest = Object.values(data.builds).at(-1);
  return (
    <div class="page workspace-page">
      <Header>
        <nav class="crumbs" aria-label="Breadcrumb">
          <a href="/">Projects</a>
          <span aria-hidden="true">/</span>
          <h1 class="crumb-title">{project.name}</h1>
          <StatusBadge
            status={building ? "running" : project.live_version != null ? "succeeded" : (latest?.status ?? "none")}
            label={building ? "Building" : project.live_version != null ? `Live · v${project.live_version}` : undefined}
          />
        </nav>
        <span class="crumb-actions">
          <button type="button" class="btn btn-ghost btn-small" onClick={() => setDialog("rename")}>
            Rename
          </button>
          <button type="button" class="btn btn-ghost btn-small btn-danger" onClick={() => setDialog("delete")}>
            Delete
          </button>
        </span>
      </Header>
      {dialog === "rename" && (
        <RenameProject
          project={project}
          onClose={() => setDialog(null)}
          onDone={(p) => setData((d) => (d ? { ...d, project: { ...d.project, name: p.name } } : d))}
        />
      )}
      {dialog === "delete" && <DeleteProject project={project} onClose={() => setDialog(null)} onDone={() => navigate("/")} />}
      <div class="pane-switch" role="tablist" aria-label="Show">
        <button type="button" role="tab" aria-selected={pane === "chat"} onClick={() => setPane("chat")}>
          Chat
        </button>
        <button type="button" role="tab" aria-selected={pane === "app"} onClick={() => setPane("app")}>
          App
        </button>
      </div>
      <div class={`workspace show-${pane}`}>
        <section class="chat-pane" aria-label="Chat">
          <Chat data={data} stream={stream} busy={building} />
        </section>
        <section class="app-pane" aria-label="App">
          <div class="tabs" role="tablist" aria-label="App views">
            {TABS.map((t) => (
              <button
                type="button"
                role="tab"
                id={`tab-${t.id}`}
                aria-selected={tab === t.id}
                aria-controls={`panel-${t.id}`}
                class="tab"
                onClick={() => setTab(t.id)}
              >
                {t.label}
              </button>
            ))}
          </div>
          <div class="tab-panel" role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
            {tab === "preview" && <Preview project={project} generation={data.generation} building={building} />}
            {tab === "files" && <Files project={project} generation={data.generation} />}
            {tab === "versions" && <Versions project={project} builds={data.builds} generation={data.generation} />}
            {tab === "activity" && <Activity project={project} events={data.events} />}
          </div>
        </section>
      </div>
    </div>
  );
}
