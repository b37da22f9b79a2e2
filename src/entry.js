// Platform Worker entry module. All logic is Rust (compiled by worker-build into ../build); this
// file exists because Cloudflare Workflows must be JavaScript classes exported from the main
// module. The class only adapts `step.do` for Rust: Rust decides what runs, in which order, and
// whether an error is retryable; a terminal error becomes Workflows' NonRetryableError.
// It also hands app hosts to the dispatch Worker before any Rust runs (see `Platform`).
import { WorkflowEntrypoint } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import RustWorker, { BuildRunner, RollbackRunner } from "../build/index.js";

export * from "../build/index.js";

// A DNS label, as `domain::slug` makes them.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `hostname` is `<slug>.<APPS_DOMAIN>`, an app's address rather than the platform's. */
function isAppHost(hostname, appsDomain) {
  const domain = String(appsDomain || "localhost").trim().replace(/^\./, "").toLowerCase();
  const host = hostname.toLowerCase();
  if (!host.endsWith(`.${domain}`)) return false;
  return LABEL.test(host.slice(0, -(domain.length + 1)));
}

// Locally one `wrangler dev` port serves both the platform and the apps, so app hosts arrive here
// and go on to the dispatch Worker. They are handed over in JavaScript, before the Rust handler
// runs: an app request then costs one service-binding hop and nothing of the platform (and a
// platform misconfiguration cannot take apps down). In production app hosts route straight to
// the dispatch Worker.
export default class Platform extends RustWorker {
  async fetch(request) {
    if (isAppHost(new URL(request.url).hostname, this.env.APPS_DOMAIN)) return this.env.DISPATCH.fetch(request);
    return super.fetch(request);
  }
}

/** `step.do` for Rust: a body answers `{ok, value}` or `{ok: false, retryable, error}`. */
function glue(step) {
  return {
    step: (name, config, body) =>
      step.do(name, config, async () => {
        const reply = JSON.parse(await body());
        if (reply.ok) return reply.value;
        if (reply.retryable) throw new Error(reply.error);
        throw new NonRetryableError(reply.error);
      }),
  };
}

export class BuildWorkflow extends WorkflowEntrypoint {
  async run(event, step) {
    return JSON.parse(await BuildRunner.run(JSON.stringify(event.payload), glue(step), this.env));
  }
}

// One instance per rollback (docs/adr/0015): check the target, then move the live pointer.
export class RollbackWorkflow extends WorkflowEntrypoint {
  async run(event, step) {
    return JSON.parse(await RollbackRunner.run(JSON.stringify(event.payload), glue(step), this.env));
  }
}
