// A version's files as a tree, and a read-only, highlighted view of one file.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, type Manifest, type Project, type VersionSummary } from "../api";
import { highlight, languageOf } from "../highlight";
import { bytes, Empty, ErrorBox, Loading } from "../ui";

export function Files({ project, generation }: { project: Project; generation: number }) {
  const [versions, setVersions] = useState<VersionSummary[] | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [manifest, setManifest] = useState<Manifest | null>(null);
  const [path, setPath] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    api
      .versions(project.id)
      .then(({ versions }) => {
        setVersions(versions);
        const live = project.live_version ?? versions.at(-1)?.version ?? null;
        setVersion((v) => (v != null && versions.some((x) => x.version === v) ? v : live));
      })
      .catch(setError);
  }, [project.id, generation]);

  useEffect(() => {
    if (version == null) return;
    setManifest(null);
    api
      .manifest(project.id, version)
      .then(({ manifest }) => {
        setManifest(manifest);
        const paths = Object.keys(manifest.files);
        setPath((p) => (p && paths.includes(p) ? p : (paths.find((x) => x === "worker.js") ?? paths[0] ?? null)));
      })
      .catch(setError);
  }, [project.id, version]);

  if (error) return <ErrorBox error={error} retry={() => (setError(null), setVersion(null), setVersions(null))} />;
  if (!versions) return <Loading what="files" />;
  if (versions.length === 0) return <Empty title="No code yet">The files of your app appear here after its first build.</Empty>;

  return (
    <div class="files">
      <aside class="file-tree">
        <label class="select-label">
          <span>Version</span>
          <select value={version ?? ""} onChange={(e) => setVersion(Number(e.currentTarget.value))}>
            {[...versions].reverse().map((v) => (
              <option value={v.version}>
                v{v.version}
                {v.version === project.live_version ? " (live)" : ""}
              </option>
            ))}
          </select>
        </label>
        {manifest ? <Tree manifest={manifest} selected={path} onSelect={setPath} /> : <Loading what="file list" />}
      </aside>
      <div class="code-view">
        {path && version != null ? <CodeFile projectId={project.id} version={version} path={path} /> : <Empty title="Pick a file" />}
      </div>
    </div>
  );
}

function Tree({ manifest, selected, onSelect }: { manifest: Manifest; selected: string | null; onSelect: (p: string) => void }) {
  const paths = Object.keys(manifest.files).sort((a, b) => {
    const da = a.includes("/"), db = b.includes("/");
    return da === db ? a.localeCompare(b) : da ? 1 : -1;
  });
  let lastDir = "";
  return (
    <ul class="tree" aria-label="Files">
      {paths.map((p) => {
        const dir = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "";
        const head = dir !== lastDir && dir ? <li class="tree-dir">{dir}/</li> : null;
        lastDir = dir;
        return (
          <>
            {head}
            <li>
              <button
                type="button"
                class={`tree-file${dir ? " nested" : ""}`}
                aria-current={p === selected ? "true" : undefined}
                onClick={() => onSelect(p)}
                title={`${p} · ${bytes(manifest.files[p].size)}`}
              >
                {p.slice(dir ? dir.length + 1 : 0)}
              </button>
            </li>
          </>
        );
      })}
    </ul>
  );
}

function CodeFile({ projectId, version, path }: { projectId: string; version: number; path: string }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setText(null);
    setError(null);
    api.file(projectId, version, path).then(setText).catch(setError);
  }, [projectId, version, path]);
  const tokens = useMemo(() => (text == null ? [] : highlight(text.slice(0, 200_000), languageOf(path))), [text, path]);
  if (error) return <ErrorBox error={error} />;
  if (text == null) return <Loading what={path} />;
  const lines = text.split("\n").length;
  return (
    <figure class="code">
      <figcaption>
        <span>{path}</span>
        <span class="muted small">
          {lines} lines · v{version} · read-only
        </span>
      </figcaption>
      <pre tabIndex={0} aria-label={`Contents of ${path}`}>
        <code>{tokens.map((t) => (t.kind ? <span class={`tk-${t.kind}`}>{t.text}</span> : t.text))}</code>
      </pre>
    </figure>
  );
}
