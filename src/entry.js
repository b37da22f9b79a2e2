// Platform Worker entry module. All logic is Rust (compiled by worker-build into ../build); this
// file exists because Cloudflare Workflows must be JavaScript classes exported from the main
// module. The class only adapts `step.do` for Rust: Rust decides what runs, in which order, and
// whether an error is retryable; a terminal error becomes Workflows' NonRetryableError.
import { WorkflowEntrypoint } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import { BuildRunner } from "../build/index.js";

export * from "../build/index.js";
export { default } from "../build/index.js";

export class BuildWorkflow extends WorkflowEntrypoint {
  async run(event, step) {
    const glue = {
      step: (name, config, body) =>
        step.do(name, config, async () => {
          const reply = JSON.parse(await body());
          if (reply.ok) return reply.value;
          if (reply.retryable) throw new Error(reply.error);
          throw new NonRetryableError(reply.error);
        }),
    };
    return JSON.parse(await BuildRunner.run(JSON.stringify(event.payload), glue, this.env));
  }
}
