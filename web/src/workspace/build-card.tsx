// One build in the conversation: its plan (as soon as the plan step ends) and its steps live,
// with attempts, retries, durations, validation diagnostics, repairs, tokens and cost.
import { useState } from "preact/hooks";
import { api, type Attempt, type Build, type FieldKind, type Plan, type Step } from "../api";
import { duration, Spinner, StatusBadge } from "../ui";

const STEP_LABELS: Record<string, string> = {
  plan: "Plan the app",
  codegen: "Write the code",
  validate: "Check the code",
  "repair-1": "Repair, round 1",
  "repair-2": "Repair, round 2",
  "repair-3": "Repair, round 3",
  "create-db": "Create the database",
  migrate: "Apply migrations",
  "upload-assets": "Upload pages and assets",
  deploy: "Deploy",
  record: "Go live",
};
const PIPELINE = ["plan", "codegen", "validate", "create-db", "migrate", "upload-assets", "deploy", "record"];

/** Steps in pipeline order: those that ran (repairs included) and those still to come. */
function stepRows(build: Build): { name: string; step: Step | null }[] {
  const ran = new Map(build.steps.map((s) => [s.name, s]));
  const rows: { name: string; step: Step | null }[] = [];
  for (const name of PIPELINE) {
    rows.push({ name, step: ran.get(name) ?? null });
    if (name === "validate")
      for (const s of build.steps) if (s.name.startsWith("repair-")) rows.push({ name: s.name, step: s });
  }
  for (const s of build.steps) if (!rows.some((r) => r.name === s.name)) rows.push({ name: s.name, step: s });
  return rows;
}

/** A failure reason in plain words (the recorded reason, without error-class prefixes). */
export function plainReason(reason: string): string {
  return reason.replace(/^(NonRetryableError|Error|WorkflowError):\s*/i, "").trim();
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function money(usd: number): string {
  if (usd === 0) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toFixed(2)}`;
}

/** Cancels a build in progress; the card follows the BuildCancelled event like any other. */
function CancelButton({ buildId }: { buildId: string }) {
  const [state, setState] = useState<"idle" | "busy" | string>("idle");
  async function cancel() {
    setState("busy");
    try {
      await api.cancel(buildId);
    } catch (e) {
      setState(e instanceof Error ? e.message : "The build could not be cancelled.");
    }
  }
  return (
    <span class="build-cancel">
      <button type="button" class="btn btn-ghost btn-small" onClick={cancel} disabled={state === "busy"}>
        {state === "busy" ? "Cancelling…" : "Cancel"}
      </button>
      {state !== "idle" && state !== "busy" && (
        <span class="small build-error" role="alert">
          {state}
        </span>
      )}
    </span>
  );
}

export function BuildCard({ build, plan }: { build: Build; plan?: Plan }) {
  const finished = build.status === "succeeded" || build.status === "failed" || build.status === "cancelled";
  const active = build.status === "running" || build.status === "requested";
  const u = build.usage;
  return (
    <article class={`card build build-${build.status}`} aria-label={`Build ${build.status}`} data-build={build.id}>
      <header class="build-head">
        <span class="build-title">
          {build.status === "running" || build.status === "requested" ? <Spinner label="Building" /> : null}
          {build.status === "succeeded"
            ? `Built and live${build.deployed_version != null ? ` · v${build.deployed_version}` : ""}`
            : build.status === "failed"
              ? "Build failed"
              : build.status === "cancelled"
                ? "Build cancelled"
                : build.status === "requested"
                ? "Build queued"
                : "Building…"}
        </span>
        {active && <CancelButton key={build.id} buildId={build.id} />}
        <StatusBadge status={build.status} label={build.status === "succeeded" ? "Succeeded" : undefined} />
      </header>
      {plan ? <PlanCard plan={plan} /> : build.steps.length > 0 && !finished ? <p class="muted small">Planning…</p> : null}
      <ol class="steps" aria-label="Build steps">
        {stepRows(build).map(({ name, step }) => (
          <StepRow key={name} name={name} step={step} buildFinished={finished} />
        ))}
      </ol>
      {build.validation && !build.validation.passed && (
        <div class="diagnostics">
          <strong>
            Validation found {build.validation.diagnostics?.length ?? 0} problem
            {build.validation.diagnostics?.length === 1 ? "" : "s"}
            {build.repairs > 0 ? ` · ${build.repairs} repair round${build.repairs === 1 ? "" : "s"}` : ""}
          </strong>
          <ul>
            {(build.validation.diagnostics ?? []).map((d) => (
              <li>
                <code>{d}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      {build.validation?.passed && build.repairs > 0 && (
        <p class="small ok-text">
          Validation passed after {build.repairs} repair round{build.repairs === 1 ? "" : "s"}.
        </p>
      )}
      {build.status === "cancelled" && (
        <p class="muted small" role="status">
          Cancelled{build.cancelled_in ? ` during “${STEP_LABELS[build.cancelled_in] ?? build.cancelled_in}”` : ""}. Nothing
          changed for the app's users: the previous version, if any, stays live.
        </p>
      )}
      {build.error && (
        <p class="build-error" role="alert">
          <strong>Failed at “{STEP_LABELS[build.error.step] ?? build.error.step}”:</strong> {sentence(plainReason(build.error.reason))}
          {build.deployed_version == null && " Nothing changed for the app's users: the previous version, if any, stays live."}
        </p>
      )}
      <footer class="build-foot muted small">
        <span>
          {u.calls > 0
            ? `${u.total_tokens.toLocaleString()} tokens (${u.input_tokens.toLocaleString()} in, ${u.output_tokens.toLocaleString()} out) · ${money(u.cost_usd)}${u.estimated ? " (estimated)" : ""}`
            : "0 tokens · $0 (built without a model)"}
        </span>
        <span>
          {build.version != null && `version ${build.version} · `}
          {build.steps.length > 0 && duration(build.steps.reduce((n, s) => n + (s.duration_ms ?? 0), 0))}
        </span>
      </footer>
    </article>
  );
}

function StepRow({ name, step, buildFinished }: { name: string; step: Step | null; buildFinished: boolean }) {
  // A step still running when its build ended (cancelled, or stopped by the watchdog) stopped.
  const recorded = step?.status ?? (buildFinished ? "skipped" : "pending");
  const status = recorded === "running" && buildFinished ? "stopped" : recorded;
  const failed = (step?.attempts ?? []).filter((a) => a.status === "failed");
  const label = STEP_LABELS[name] ?? name;
  return (
    <li class={`step step-${status}`} data-step={name} data-status={status}>
      <span class="step-icon" aria-hidden="true">
        {status === "running" ? <Spinner label={`${label} running`} /> : null}
      </span>
      <span class="step-name">{label}</span>
      <span class="step-meta">
        <span class="visually-hidden">{status}</span>
        {step && step.attempts.length > 1 && (
          <span class="pill" title={`${step.attempts.length - 1} retr${step.attempts.length === 2 ? "y" : "ies"}`}>
            {step.attempts.length} attempts
          </span>
        )}
        {step?.usage && step.usage.calls > 0 && <span class="pill">{step.usage.total_tokens.toLocaleString()} tok</span>}
        {step?.duration_ms != null && status === "succeeded" && <span>{duration(step.duration_ms)}</span>}
      </span>
      {failed.length > 0 && (
        <ul class="step-errors">
          {failed.map((a: Attempt) => (
            <li>
              Attempt {a.attempt}: {plainReason(a.error ?? "failed")}
              {a.retryable && step?.status !== "failed" ? " — retried" : a.retryable ? " — will retry" : ""}
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** The kind as the plan card shows it; a choice lists its values ("choice: open / in progress / done"). */
export function kindText(k: FieldKind, values?: string[]): string {
  if (typeof k !== "string") return `→ ${k.reference}`;
  const text = k.replace("_", " ");
  return k === "choice" && values?.length ? `${text}: ${values.join(" / ")}` : text;
}

export function PlanCard({ plan }: { plan: Plan }) {
  return (
    <section class="plan" aria-label="Plan">
      <h3>
        <span class="plan-tag">Plan</span> {plan.app_name}
      </h3>
      {plan.summary && <p>{plan.summary}</p>}
      <div class="plan-grid">
        {plan.entities.map((e) => (
          <div class="entity">
            <h4>
              {e.label || e.name}
              {e.visibility && e.visibility !== "private" && <span class="kind"> · {e.visibility}</span>}
            </h4>
            <ul>
              {e.fields.map((f) => (
                <li>
                  <span>
                    {f.name}
                    {f.required && <span class="req" title="required" aria-label="required">*</span>}
                  </span>
                  <span class="kind">{kindText(f.kind, f.values)}</span>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </div>
      <dl class="plan-facts">
        <dt>Pages</dt>
        <dd>{plan.pages.length ? plan.pages.map((p) => `${p.name || p.path} (${p.path})`).join(", ") : "—"}</dd>
        {plan.features.length > 0 && (
          <>
            <dt>Features</dt>
            <dd>
              <ul class="features">
                {plan.features.map((f) => (
                  <li>{f}</li>
                ))}
              </ul>
            </dd>
          </>
        )}
        <dt>File storage</dt>
        <dd>{plan.file_storage ? "Yes" : "No"}</dd>
        <dt>Sign-in</dt>
        <dd>{plan.auth ? "Yes" : "No"}</dd>
        {plan.theme && (
          <>
            <dt>Theme</dt>
            <dd>
              {[plan.theme.mode, plan.theme.density, plan.theme.accent && `accent ${plan.theme.accent}`, plan.theme.background && `background ${plan.theme.background}`, plan.theme.tagline && `“${plan.theme.tagline}”`]
                .filter(Boolean)
                .join(", ")}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}
