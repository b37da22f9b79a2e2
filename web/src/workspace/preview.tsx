// The live app in a frame, reloaded whenever a build finishes.
import { useEffect, useState } from "preact/hooks";
import type { Project } from "../api";
import { Empty } from "../ui";

export function Preview({ project, generation, building }: { project: Project; generation: number; building: boolean }) {
  const [reloads, setReloads] = useState(0);
  useEffect(() => setReloads((r) => r + 1), [generation]);
  const url = `${project.url}/`;
  return (
    <div class="preview">
      <div class="preview-bar">
        <button type="button" class="btn btn-ghost btn-small" onClick={() => setReloads((r) => r + 1)} aria-label="Reload preview">
          ↻ Reload
        </button>
        <span class="address" title={url}>
          {url.replace(/^https?:\/\//, "")}
        </span>
        <a class="btn btn-ghost btn-small" href={url} target="_blank" rel="noopener" aria-label="Open in new tab">
          Open ↗
        </a>
      </div>
      {project.live_version == null ? (
        <Empty title={building ? "Your app is being built" : "Nothing live yet"}>
          {building
            ? "It appears here as soon as the build goes live."
            : "Describe your app in the chat; it appears here when the first build goes live."}
        </Empty>
      ) : (
        <iframe key={reloads} class="preview-frame" src={url} title={`Preview of ${project.name}`} />
      )}
    </div>
  );
}
