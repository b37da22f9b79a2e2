// The projects dashboard: list with status and live address, create, rename, delete.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, setToken, type Project } from "../api";
import { navigate } from "../router";
import { Empty, ErrorBox, Loading, Logo, messageOf, Spinner, StatusBadge, timeAgo } from "../ui";

export function Header({ children }: { children?: preact.ComponentChildren }) {
  async function signOut() {
    await api.logout().catch(() => undefined);
    setToken(null);
  }
  return (
    <header class="topbar">
      <Logo />
      <div class="topbar-middle">{children}</div>
      <button type="button" class="btn btn-ghost btn-small" onClick={signOut}>
        Sign out
      </button>
    </header>
  );
}

export function Dashboard() {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);

  async function load() {
    setError(null);
    try {
      setProjects((await api.projects()).projects);
    } catch (e) {
      setError(e);
    }
  }
  useEffect(() => {
    load();
  }, []);

  return (
    <div class="page">
      <Header />
      <main class="container">
        <div class="page-head">
          <div>
            <h1>Projects</h1>
            <p class="muted">Every app you build, with its live address.</p>
          </div>
          <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
            New project
          </button>
        </div>
        {creating && <CreateProject onClose={() => setCreating(false)} />}
        {error ? (
          <ErrorBox error={error} retry={load} />
        ) : projects === null ? (
          <Loading what="projects" />
        ) : projects.length === 0 ? (
          <Empty title="No projects yet">Create a project, then describe the app you want in the chat.</Empty>
        ) : (
          <ul class="project-grid" aria-label="Projects">
            {projects.map((p) => (
              <ProjectCard key={p.id} project={p} onChange={load} />
            ))}
          </ul>
        )}
      </main>
    </div>
  );
}

function CreateProject({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { project } = await api.createProject(name.trim());
      navigate(`/projects/${project.id}`);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }
  return (
    <Dialog title="New project" onClose={onClose}>
      <form onSubmit={submit} class="form">
        <label>
          <span>Project name</span>
          <input
            autoFocus
            required
            value={name}
            placeholder="Recipe Book"
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy && <Spinner label="Creating" />}
            Create project
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ProjectCard({ project, onChange }: { project: Project; onChange: () => void }) {
  const [mode, setMode] = useState<"view" | "rename" | "delete">("view");
  const status = project.build_status ?? "none";
  const live = project.live_version != null;
  return (
    <li class="card project-card">
      <div class="project-card-head">
        <a class="project-name" href={`/projects/${project.id}`}>
          {project.name}
        </a>
        <StatusBadge status={status === "succeeded" && !live ? "none" : status} />
      </div>
      {live ? (
        <a class="url" href={project.url} target="_blank" rel="noopener">
          {project.url.replace(/^https?:\/\//, "")}
        </a>
      ) : (
        <span class="url muted">{project.url.replace(/^https?:\/\//, "")} · not live yet</span>
      )}
      <div class="project-card-foot">
        <span class="muted small">
          {live ? `v${project.live_version} · ` : ""}updated {timeAgo(project.updated_at)}
        </span>
        <span class="actions">
          <button type="button" class="btn btn-ghost btn-small" onClick={() => setMode("rename")} aria-label={`Rename ${project.name}`}>
            Rename
          </button>
          <button type="button" class="btn btn-ghost btn-small btn-danger" onClick={() => setMode("delete")} aria-label={`Delete ${project.name}`}>
            Delete
          </button>
        </span>
      </div>
      {mode === "rename" && <RenameProject project={project} onClose={() => setMode("view")} onDone={onChange} />}
      {mode === "delete" && <DeleteProject project={project} onClose={() => setMode("view")} onDone={onChange} />}
    </li>
  );
}

export function RenameProject({ project, onClose, onDone }: { project: Project; onClose: () => void; onDone: (p: Project) => void }) {
  const [name, setName] = useState(project.name);
  const [error, setError] = useState<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const { project: p } = await api.renameProject(project.id, name.trim());
      onClose();
      onDone(p);
    } catch (err) {
      setError(messageOf(err));
    }
  }
  return (
    <Dialog title={`Rename ${project.name}`} onClose={onClose}>
      <form onSubmit={submit} class="form">
        <label>
          <span>Project name</span>
          <input autoFocus required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <p class="hint">The app keeps its address: {project.url.replace(/^https?:\/\//, "")}</p>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary">
            Save name
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function DeleteProject({ project, onClose, onDone }: { project: Project; onClose: () => void; onDone: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function confirm() {
    setBusy(true);
    try {
      await api.deleteProject(project.id);
      onClose();
      onDone();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }
  return (
    <Dialog title={`Delete ${project.name}?`} onClose={onClose}>
      <p>
        The app at <strong>{project.url.replace(/^https?:\/\//, "")}</strong> stops answering at once, and its database,
        files and code are removed. This cannot be undone.
      </p>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class="btn btn-danger-solid" onClick={confirm} disabled={busy}>
          {busy && <Spinner label="Deleting" />}
          Delete project
        </button>
      </div>
    </Dialog>
  );
}

/** A modal dialog on the native <dialog> element (focus trap and Escape come with it). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: preact.ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-label={title} onClose={onClose} onCancel={(e) => (e.preventDefault(), onClose())}>
      <h2>{title}</h2>
      {children}
    </dialog>
  );
}
