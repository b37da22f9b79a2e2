// Platform Worker entry module. All logic is Rust (compiled by worker-build into ../build);
// this file exists because Cloudflare Workflows must be JavaScript classes exported from the
// main module. It re-exports the Rust handlers unchanged.
export * from "../build/index.js";
export { default } from "../build/index.js";
