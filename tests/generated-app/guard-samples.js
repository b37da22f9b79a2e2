// Runaway code for the CPU guard's tests (guard.test.mjs). Not instrumented, these functions never
// return: the Rust test crates/validation/tests/sandbox_js.rs instruments this file with
// validation::sandbox::instrument and hands the result to guard.test.mjs.
export function spin() { while (true) {} }
export function spinEmpty() { for (;;); }
function step() { return 1; }
export function stubborn() { let caught = 0; for (;;) { try { step(); } catch { caught++; } } }
export function nestedStubborn() { outer: for (;;) { try { while (true) { continue outer; } } catch {} } }
export const doWhile = () => { let n = 0; do n++; while (true); };
export function recurse() { try { recurse(); } catch {} recurse(); }
export const twice = (x) => x * 2;
export function finite() { let s = 0; for (let i = 0; i < 100; i++) s += twice(i); return s; }
