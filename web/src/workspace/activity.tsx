// The project's event log in words, with the hash-chain verification status.
import { useEffect, useState } from "preact/hooks";
import { api, type KilnEvent, type Project } from "../api";
import { clock, duration, Empty, Spinner } from "../ui";

function describe(e: KilnEvent): string {
  const d = e.data as Record<string, any>;
  switch (e.type) {
    case "ProjectCreated":
      return `Project “${d.name}” created at ${d.slug}`;
    case "ProjectRenamed":
      return `Renamed to “${d.name}”`;
    case "MessagePosted":
      return `Message: “${String(d.content).slice(0, 120)}”`;
    case "BuildRequested":
      return `Build requested: “${String(d.prompt).slice(0, 120)}”`;
    case "BuildStarted":
      return "Build started";
    case "StepStarted":
      return `Step ${d.step} started (attempt ${d.attempt})`;
    case "StepSucceeded":
      return `Step ${d.step} succeeded in ${duration(d.duration_ms)}`;
    case "StepFailed":
      return `Step ${d.step} failed (attempt ${d.attempt}${d.retryable ? ", will retry" : ""}): ${d.error}`;
    case "PlanProposed":
      return `Plan proposed: ${d.summary}`;
    case "PlanApproved":
      return "Plan approved";
    case "CodeGenerated":
      return `Code generated: version ${d.version}, ${d.files} files`;
    case "ValidationPassed":
      return "Validation passed";
    case "ValidationFailed":
      return `Validation failed: ${(d.diagnostics ?? []).length} problem(s)`;
    case "ModelCalled":
      return `Model ${d.model} called for ${d.step}: ${d.input_tokens} in / ${d.output_tokens} out tokens`;
    case "RepairAttempted":
      return `Repair round ${d.attempt}`;
    case "DatabaseProvisioned":
      return "Database provisioned";
    case "MigrationApplied":
      return `Migrations applied: ${(d.names ?? []).join(", ") || "none new"}`;
    case "AssetsUploaded":
      return `${d.count} assets uploaded`;
    case "Deployed":
      return `Version ${d.version} deployed`;
    case "BuildSucceeded":
      return `Build succeeded: version ${d.version} is live`;
    case "BuildFailed":
      return `Build failed at ${d.step}: ${d.reason}`;
    case "BuildCancelled":
      return d.step ? `Build cancelled during ${d.step}` : "Build cancelled";
    case "VersionSaved":
      return `Version ${d.version} saved (${d.files} files)`;
    case "ProjectDeleted":
      return "Project deleted";
    default:
      return e.type;
  }
}

export function Activity({ project, events }: { project: Project; events: KilnEvent[] }) {
  const [verify, setVerify] = useState<{ ok: boolean; events?: number; seq?: number; reason?: string } | null>(null);
  const [verifyError, setVerifyError] = useState<string | null>(null);
  const count = events.length;
  useEffect(() => {
    setVerifyError(null);
    api
      .verify(project.id)
      .then(setVerify)
      .catch((e) => setVerifyError(e.message));
  }, [project.id, count]);

  return (
    <div class="activity">
      <div class={`chain ${verify ? (verify.ok ? "chain-ok" : "chain-bad") : ""}`} role="status">
        {verifyError ? (
          `Chain check unavailable: ${verifyError}`
        ) : !verify ? (
          <>
            <Spinner label="Verifying" /> Verifying the event chain…
          </>
        ) : verify.ok ? (
          `✓ Event chain verified: ${verify.events} events, each linked to the one before by its hash.`
        ) : (
          `✗ Event chain broken at event #${verify.seq}: ${verify.reason}`
        )}
      </div>
      {events.length === 0 ? (
        <Empty title="No events yet" />
      ) : (
        <ol class="event-log" aria-label="Event log">
          {[...events].reverse().map((e) => (
            <li class={`ev ev-${e.type}`}>
              <span class="ev-seq mono">#{e.seq}</span>
              <time class="muted small">{clock(e.time_ms)}</time>
              <span class="ev-type">{e.type}</span>
              <span class="ev-text">{describe(e)}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
