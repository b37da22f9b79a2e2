// Unit tests of the CPU and memory guard (crates/validation/src/sandbox/guard.js, added to every loaded
// app as _kiln_guard.js). Run: node --test tests/generated-app/ (cargo test -p validation
// runs them too, through crates/validation/tests/sandbox_js.rs).
//
// The runaway samples are tests/generated-app/guard-samples.js instrumented by the Rust
// `instrument` when KILN_GUARD_SAMPLES names that output (the cargo test sets it); run standalone,
// the test uses the hand-instrumented copy below, written the way `instrument` writes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HAND_INSTRUMENTED = `import { tick as __kiln_tick } from "./_kiln_guard.js";// Runaway code …
export function spin() {__kiln_tick(); while (true) {__kiln_tick();} }
export function spinEmpty() {__kiln_tick(); for (;;){__kiln_tick();;} }
function step() {__kiln_tick(); return 1; }
export function stubborn() {__kiln_tick(); let caught = 0; for (;;) {__kiln_tick(); try { step(); } catch { caught++; } } }
export function nestedStubborn() {__kiln_tick(); outer: for (;;) {__kiln_tick(); try { while (true) {__kiln_tick(); continue outer; } } catch {} } }
export const doWhile = () => {__kiln_tick(); let n = 0; do {__kiln_tick();n++;} while (true); };
export function recurse() {__kiln_tick(); try { recurse(); } catch {} recurse(); }
export const twice = (x) => (__kiln_tick(), x * 2);
export function finite() {__kiln_tick(); let s = 0; for (let i = 0; i < 100; i++) {__kiln_tick();s += twice(i);} return s; }
`;

// A folder where .js files are ES modules: the guard as _kiln_guard.js beside the samples.
const here = dirname(fileURLToPath(import.meta.url));
const temp = mkdtempSync(join(tmpdir(), "kiln-guard-test-"));
writeFileSync(join(temp, "package.json"), '{"type":"module"}\n');
copyFileSync(join(here, "../../crates/validation/src/sandbox/guard.js"), join(temp, "_kiln_guard.js"));
if (process.env.KILN_GUARD_SAMPLES) {
  copyFileSync(process.env.KILN_GUARD_SAMPLES, join(temp, "samples.js"));
} else {
  writeFileSync(join(temp, "samples.js"), HAND_INSTRUMENTED);
}
const guard = await import(pathToFileURL(join(temp, "_kiln_guard.js")).href);
const samples = await import(pathToFileURL(join(temp, "samples.js")).href);
rmSync(temp, { recursive: true, force: true });

const OPS = { message: /^kiln: the app exceeded its CPU budget \(ops: more than 1000 loop iterations and function calls in one request\)/ };

test("tick throws once the operation budget is spent, and keeps throwing", () => {
  guard.reset(1000, 60_000);
  for (let i = 0; i < 1000; i++) guard.tick();
  assert.throws(() => guard.tick(), OPS);
  for (let i = 0; i < 3; i++) assert.throws(() => guard.tick(), OPS);
});

test("reset restores the budget", () => {
  guard.reset(1000, 60_000);
  assert.throws(() => { for (;;) guard.tick(); }, OPS);
  guard.reset(1000, 60_000);
  for (let i = 0; i < 1000; i++) guard.tick();
  guard.reset(2000, 60_000);
  for (let i = 0; i < 2000; i++) guard.tick();
  assert.throws(() => guard.tick(), { message: /ops: more than 2000 / });
});

test("tick throws once the time budget is spent", () => {
  guard.reset(1e15, 20);
  const started = Date.now();
  assert.throws(() => { for (;;) guard.tick(); },
    { message: /^kiln: the app exceeded its CPU budget \(time: more than 20 ms in one request\)/ });
  assert.ok(Date.now() - started < 2000);
  assert.throws(() => guard.tick(), { message: /time: more than 20 ms/ });
});

test("reset refuses budgets that are not positive numbers", () => {
  for (const bad of [0, -1, NaN, "10", null]) {
    assert.throws(() => guard.reset(bad, 10), TypeError);
    assert.throws(() => guard.reset(10, bad), TypeError);
  }
  guard.reset(10_000_000, 10_000);
});

test("instrumented runaway loops end with the budget error, even when they catch it", () => {
  for (const name of ["spin", "spinEmpty", "stubborn", "nestedStubborn", "doWhile", "recurse"]) {
    guard.reset(100_000, 60_000);
    const started = Date.now();
    assert.throws(() => samples[name](), { message: /^kiln: the app exceeded its CPU budget \(ops: more than 100000 / }, name);
    assert.ok(Date.now() - started < 5000, `${name} took ${Date.now() - started} ms`);
  }
});

test("instrumented code that finishes within the budget runs normally", () => {
  guard.reset(1000, 60_000);
  assert.equal(samples.finite(), 9900);
  assert.equal(samples.twice(4), 8);
  guard.reset(150, 60_000);
  assert.throws(() => samples.finite(), { message: /ops: more than 150 / });
});

// capAllocations changes this process's globals: these tests come last.
const MB = 1024 * 1024;
const tooBig = (bytes) => ({ message: new RegExp(`^kiln: allocation of ${bytes} bytes exceeds the app's limit of ${16 * MB} bytes`) });

test("capAllocations refuses single allocations above the limit", () => {
  guard.capAllocations(16 * MB, 64 * MB);
  guard.reset(10_000_000, 60_000);
  assert.throws(() => new Uint8Array(2 ** 30), tooBig(2 ** 30));
  assert.throws(() => new Float64Array(2 ** 22), tooBig(2 ** 25));
  assert.throws(() => new ArrayBuffer(2 ** 30), tooBig(2 ** 30));
  assert.throws(() => new ArrayBuffer(8, { maxByteLength: 2 ** 30 }), tooBig(2 ** 30));
  if (typeof SharedArrayBuffer === "function") assert.throws(() => new SharedArrayBuffer(2 ** 30), tooBig(2 ** 30));
  assert.throws(() => new Array(2 ** 27), tooBig(2 ** 30));
  assert.throws(() => Array(2 ** 27), tooBig(2 ** 30));
  assert.throws(() => Array.from({ length: 2 ** 27 }), tooBig(2 ** 30));
  assert.throws(() => "x".repeat(2 ** 28), tooBig(2 ** 29));
  assert.throws(() => "ab".repeat(2 ** 27), tooBig(2 ** 29));
  assert.throws(() => "x".padStart(2 ** 28), tooBig(2 ** 29));
  assert.throws(() => "x".padEnd(2 ** 28, "y"), tooBig(2 ** 29));
  const sparse = [];
  sparse.length = 2 ** 26;
  assert.throws(() => sparse.fill(0), tooBig(2 ** 29));
  class Big extends Uint8Array {}
  assert.throws(() => new Big(2 ** 30), tooBig(2 ** 30));
  assert.throws(() => new Uint8Array({ length: 2 ** 30 }), tooBig(2 ** 30));
});

test("capAllocations keeps ordinary use working", () => {
  guard.reset(10_000_000, 60_000);
  const bytes = new Uint8Array(16);
  assert.ok(bytes instanceof Uint8Array);
  assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
  assert.deepEqual([...Uint8Array.from([1, 2, 3])], [1, 2, 3]);
  assert.deepEqual([...Uint8Array.of(4, 5)], [4, 5]);
  const buffer = new ArrayBuffer(8);
  assert.ok(buffer instanceof ArrayBuffer);
  const view = new Uint8Array(buffer, 2, 4);
  view[0] = 7;
  assert.equal(new Uint8Array(buffer)[2], 7);
  assert.equal(new Uint16Array(buffer).length, 4);
  assert.deepEqual([...new Uint8Array([1, 2])], [1, 2]);
  class Sub extends Uint8Array {}
  const sub = new Sub(4);
  assert.ok(sub instanceof Sub && sub instanceof Uint8Array);
  assert.equal(sub.subarray(1).length, 3);
  assert.deepEqual(new Array(), []);
  assert.deepEqual(new Array(1, 2, 3), [1, 2, 3]);
  assert.deepEqual(new Array("3"), ["3"]);
  assert.equal(new Array(3).length, 3);
  assert.equal(Array(3).length, 3);
  assert.ok(Array.isArray([]) && [] instanceof Array && new Array(2) instanceof Array);
  assert.deepEqual(Array.from({ length: 3 }, (_, i) => i), [0, 1, 2]);
  assert.deepEqual(Array.of(7), [7]);
  assert.deepEqual([1, 2, 3].map((x) => x * 2).filter((x) => x > 2), [4, 6]);
  assert.deepEqual([1, 2].fill(0), [0, 0]);
  assert.equal(new Array(1e6).fill(1).length, 1e6);
  assert.deepEqual(Object.keys([5, 6]), ["0", "1"]);
  const keys = [];
  for (const k in ["a"]) keys.push(k);
  assert.deepEqual(keys, ["0"], "the replaced methods are not enumerable");
  assert.equal("ab".repeat(3), "ababab");
  assert.equal("5".padStart(3, "0"), "005");
  assert.equal("5".padEnd(3), "5  ");
  assert.throws(() => "x".repeat(-1), RangeError);
  assert.equal(new TextEncoder().encode("hi").length, 2);
  assert.equal(crypto.getRandomValues(new Uint8Array(8)).length, 8);
  assert.equal(JSON.stringify(structuredClone({ a: [1] })), '{"a":[1]}');
  guard.capAllocations(1, 1); // a second call changes nothing
  assert.equal(new Uint8Array(1024).length, 1024);
});

test("capAllocations counts a request's allocations until the next reset", () => {
  guard.reset(10_000_000, 60_000);
  const kept = [];
  // The runaway allocation loop: each array is under the single limit, together they are not.
  assert.throws(() => { for (;;) kept.push(new Array(1e6).fill(1)); },
    { message: new RegExp(`^kiln: allocations of \\d+ bytes in one request exceed the app's limit of ${64 * MB} bytes`) });
  assert.equal(kept.length, 8);
  kept.length = 0;
  guard.reset(10_000_000, 60_000);
  assert.equal(new Array(1e6).length, 1e6);
});
