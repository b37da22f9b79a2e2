// Every version with its build, time and prompt, and the diff between any two.
import { useEffect, useState } from "preact/hooks";
import { api, type Build, type FileDiff, type Project, type VersionSummary } from "../api";
import { bytes, Empty, ErrorBox, Loading, timeAgo } from "../ui";

type Diff = { files: FileDiff[]; added: string[]; removed: string[]; modified: string[] };

export function Versions({ project, builds, generation }: { project: Project; builds: Record<string, Build>; generation: number }) {
  const [versions, setVersions] = useState<VersionSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  // Restoring an earlier version: which one is being confirmed, which one was asked for, and a
  // refusal from the API (shown as its message).
  const [confirming, setConfirming] = useState<number | null>(null);
  const [restoring, setRestoring] = useState<number | null>(null);
  const [restoreError, setRestoreError] = useState<unknown>(null);
  useEffect(() => {
    if (restoring != null && project.live_version === restoring) setRestoring(null);
  }, [project.live_version, restoring]);

  const restore = (version: number) => {
    setConfirming(null);
    setRestoreError(null);
    setRestoring(version);
    api.rollback(project.id, version).catch((e) => {
      setRestoring(null);
      setRestoreError(e);
    });
  };

  const load = () => {
    setError(null);
    api
      .versions(project.id)
      .then(({ versions }) => {
        setVersions(versions);
        const last = versions.at(-1)?.version ?? null;
        setTo(last);
        setFrom(versions.length > 1 ? versions[versions.length - 2].version : last);
      })
      .catch(setError);
  };
  useEffect(load, [project.id, generation]);

  if (error) return <ErrorBox error={error} retry={load} />;
  if (!versions) return <Loading what="versions" />;
  if (versions.length === 0) return <Empty title="No versions yet">Each build saves a version of the code here.</Empty>;

  return (
    <div class="versions">
      {restoreError != null && <ErrorBox error={restoreError} />}
      <ol class="version-list" aria-label="Versions">
        {[...versions].reverse().map((v) => {
          const build = v.build_id ? builds[v.build_id] : undefined;
          return (
            <li class="version">
              <div class="version-head">
                <strong>v{v.version}</strong>
                {v.version === project.live_version && <span class="badge badge-succeeded">Live</span>}
                <span class="muted small">
                  {timeAgo(v.created_at)} · {v.files} files · {bytes(v.bytes)}
                  {v.parent != null ? ` · from v${v.parent}` : ""}
                </span>
              </div>
              <p class="version-prompt">{build ? `“${build.prompt}”` : v.build_id ? "" : "Uploaded through the API"}</p>
              {v.build_id && <span class="muted small mono">build {v.build_id.slice(0, 8)}</span>}
              {build?.status === "succeeded" && v.version !== project.live_version && (
                <div class="version-actions">
                  {restoring === v.version ? (
                    <span class="muted small" role="status">
                      Restoring v{v.version}…
                    </span>
                  ) : confirming === v.version ? (
                    <>
                      <span class="small">Make v{v.version} live again? Your data stays.</span>
                      <button type="button" class="btn btn-primary btn-small" onClick={() => restore(v.version)}>
                        Yes, restore v{v.version}
                      </button>
                      <button type="button" class="btn btn-ghost btn-small" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </>
                  ) : (
                    <button
                      type="button"
                      class="btn btn-small"
                      disabled={restoring != null}
                      onClick={() => setConfirming(v.version)}
                      aria-label={`Restore v${v.version}`}
                    >
                      Restore
                    </button>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      <section class="diff-section" aria-label="Compare versions">
        <div class="diff-controls">
          <h3>Compare</h3>
          <label class="select-label">
            <span>From</span>
            <select value={from ?? ""} onChange={(e) => setFrom(Number(e.currentTarget.value))}>
              {versions.map((v) => (
                <option value={v.version}>v{v.version}</option>
              ))}
            </select>
          </label>
          <label class="select-label">
            <span>To</span>
            <select value={to ?? ""} onChange={(e) => setTo(Number(e.currentTarget.value))}>
              {versions.map((v) => (
                <option value={v.version}>v{v.version}</option>
              ))}
            </select>
          </label>
        </div>
        {from != null && to != null && <DiffView projectId={project.id} from={from} to={to} />}
      </section>
    </div>
  );
}

function DiffView({ projectId, from, to }: { projectId: string; from: number; to: number }) {
  const [diff, setDiff] = useState<Diff | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setDiff(null);
    setError(null);
    api.diff(projectId, from, to).then(setDiff).catch(setError);
  }, [projectId, from, to]);
  if (from === to) return <Empty title="Pick two different versions">Choose the versions to compare above.</Empty>;
  if (error) return <ErrorBox error={error} />;
  if (!diff) return <Loading what="changes" />;
  if (diff.files.length === 0) return <Empty title="No changes">v{from} and v{to} have the same files.</Empty>;
  return (
    <div class="diff" aria-label={`Changes from v${from} to v${to}`}>
      <p class="diff-summary">
        <span class="add">{diff.added.length} added</span> · <span class="mod">{diff.modified.length} modified</span> ·{" "}
        <span class="del">{diff.removed.length} removed</span>
      </p>
      {diff.files.map((f) => (
        <details class="diff-file" open={diff.files.length <= 6}>
          <summary>
            <span class={`diff-status diff-${f.status}`}>{f.status}</span>
            <span class="mono">{f.path}</span>
            <span class="muted small">{stat(f.unified)}</span>
          </summary>
          {f.binary ? (
            <p class="muted small diff-note">Binary file</p>
          ) : f.unified == null && f.status !== "modified" ? (
            <WholeFile projectId={projectId} version={f.status === "added" ? to : from} path={f.path} sign={f.status === "added" ? "+" : "-"} />
          ) : f.unified == null ? (
            <p class="muted small diff-note">Too large to compare line by line.</p>
          ) : (
            <pre class="diff-body">
              {(f.unified ?? "").split("\n").map((line) => (
                <span
                  class={
                    line.startsWith("@@")
                      ? "dl-hunk"
                      : line.startsWith("+") && !line.startsWith("+++")
                        ? "dl-add"
                        : line.startsWith("-") && !line.startsWith("---")
                          ? "dl-del"
                          : ""
                  }
                >
                  {line}
                  {"\n"}
                </span>
              ))}
            </pre>
          )}
        </details>
      ))}
    </div>
  );
}

/** An added or removed file: all its lines, marked as added or removed. */
function WholeFile({ projectId, version, path, sign }: { projectId: string; version: number; path: string; sign: "+" | "-" }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.file(projectId, version, path).then(setText).catch(setError);
  }, [projectId, version, path]);
  if (error) return <ErrorBox error={error} />;
  if (text == null) return <Loading what={path} />;
  const lines = text.replace(/\n$/, "").split("\n");
  return (
    <pre class="diff-body">
      <span class="dl-hunk">{`@@ ${sign === "+" ? `new file, ${lines.length} lines` : `deleted file, ${lines.length} lines`} @@\n`}</span>
      {lines.map((line) => (
        <span class={sign === "+" ? "dl-add" : "dl-del"}>
          {sign}
          {line}
          {"\n"}
        </span>
      ))}
    </pre>
  );
}

function stat(unified: string | null): string {
  if (!unified) return "";
  let add = 0,
    del = 0;
  for (const l of unified.split("\n")) {
    if (l.startsWith("+") && !l.startsWith("+++")) add++;
    else if (l.startsWith("-") && !l.startsWith("---")) del++;
  }
  return `+${add} −${del}`;
}
