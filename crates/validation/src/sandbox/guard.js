// _kiln_guard.js: CPU and memory budgets for a generated app, added by the host to every loaded app.
// Instrumented app modules (validation::sandbox::instrument) call tick() at the start of every loop
// body and every function body; the host calls reset(maxOps, maxMs) at the start of every request
// and, once, capAllocations(maxBytes, maxRequestBytes) before the app's modules evaluate.
//
// Why this terminates even when app code catches the error: once a budget is exhausted, every
// further tick() throws at once. The tick is the first statement of every loop body, outside any
// try/catch that body contains, so a loop whose body catches the error still throws at the start
// of its next iteration and leaves the loop; a loop nested in a try of an outer loop hands the error
// to that outer loop, whose next iteration throws the same way, up to the outermost loop. Every
// function call throws on entry too, so code between two throws is straight-line code of one
// frame (no loop runs another iteration, no call gets past its first statement): it finishes.
// Workers forbid eval and new Function, so no uninstrumented code can be created at run time.
//
// The Workers runtime only advances Date.now() across I/O (a Spectre mitigation), so inside one
// synchronous stretch the time budget cannot fire: the operation budget is what stops a busy loop;
// the time budget stops a request that keeps going across awaits.
//
// Best effort, not a sandbox: a single builtin call (a huge sort, a catastrophic regex, a long
// string join) runs to completion between two ticks, and allocations other than those wrapped
// below are not counted. In production the runtime's own CPU limit and 128 MB memory cap remain
// the hard limits; this guard is defence in depth that also works under local workerd.

const KilnError = Error;
const now = Date.now.bind(Date);

// How often (in ticks) the clock is read: Date.now() costs far more than a counter.
const CLOCK_EVERY = 1024;

let maxOps = 10_000_000;
let maxMs = 10_000;
let ops = 0;
let started = now();
// tick() takes its slow path once ops reaches checkAt; 0 after exhaustion, so every tick throws.
let checkAt = CLOCK_EVERY;
let exhausted = null;

let capped = false;
let maxBytes = Infinity;
let maxRequestBytes = Infinity;
// Bytes charged through the wrapped constructors since the last reset.
let allocated = 0;

function exhaust(message) {
  exhausted = message;
  checkAt = 0;
  throw new KilnError(message);
}

function slowTick() {
  if (exhausted !== null) throw new KilnError(exhausted);
  if (ops > maxOps) {
    exhaust(`kiln: the app exceeded its CPU budget (ops: more than ${maxOps} loop iterations and function calls in one request); ` +
      "make loops end sooner or do less work per request");
  }
  if (now() - started > maxMs) {
    exhaust(`kiln: the app exceeded its CPU budget (time: more than ${maxMs} ms in one request); ` +
      "make loops end sooner or do less work per request");
  }
  checkAt = Math.min(ops + CLOCK_EVERY, maxOps + 1);
}

/** Counts one loop iteration or function call; throws once the request's budget is spent. */
export function tick() {
  if (++ops >= checkAt) slowTick();
}

function positive(name, value) {
  if (typeof value !== "number" || !(value > 0)) {
    throw new TypeError(`kiln: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/**
 * Starts a new budget: at most maxOps ticks and maxMs milliseconds (wall clock, as far as the
 * runtime lets it advance) until the next reset. Also clears the request's allocation total.
 */
export function reset(newMaxOps = maxOps, newMaxMs = maxMs) {
  maxOps = positive("maxOps", newMaxOps);
  maxMs = positive("maxMs", newMaxMs);
  ops = 0;
  started = now();
  exhausted = null;
  checkAt = Math.min(CLOCK_EVERY, maxOps + 1);
  allocated = 0;
}

// ---- allocations ----

function charge(bytes, counted) {
  if (!(bytes > 0)) return;
  if (bytes > maxBytes) {
    throw new KilnError(`kiln: allocation of ${bytes} bytes exceeds the app's limit of ${maxBytes} bytes; ` +
      "work on smaller pieces of data");
  }
  if (!counted) return;
  allocated += bytes;
  if (allocated > maxRequestBytes) {
    throw new KilnError(`kiln: allocations of ${allocated} bytes in one request exceed the app's limit of ${maxRequestBytes} bytes; ` +
      "work on smaller pieces of data");
  }
}

// ToIndex of a primitive argument, or undefined when the native constructor should see (and
// reject) the value itself.
function toIndex(value) {
  if (typeof value === "symbol" || typeof value === "bigint") return undefined;
  const n = Math.trunc(Number(value));
  return Number.isNaN(n) ? 0 : n;
}

const isObject = (value) => value !== null && (typeof value === "object" || typeof value === "function");

const byteLengthOf = (proto) => Object.getOwnPropertyDescriptor(proto, "byteLength")?.get;
const bufferBrands = [];

function isBuffer(value) {
  for (const brand of bufferBrands) {
    try {
      Reflect.apply(brand, value, []);
      return true;
    } catch {
      // Not this kind of buffer.
    }
  }
  return false;
}

// Wraps globalThis[name] in a Proxy whose construct (and apply) trap first charges what the call
// allocates. A Proxy keeps instanceof, statics (Uint8Array.from, Array.isArray), subclassing and
// the prototype; prototype.constructor is left alone (changing it would disable V8's fast paths
// for every array operation), so `[].constructor === Array` is false after capping.
function wrap(name, bytesOf, callable) {
  const target = globalThis[name];
  if (typeof target !== "function") return;
  const handler = {
    construct(target, args, newTarget) {
      const checked = bytesOf(args);
      return Reflect.construct(target, checked, newTarget === proxy ? target : newTarget);
    },
  };
  if (callable) {
    handler.apply = (target, self, args) => Reflect.apply(target, self, bytesOf(args));
  }
  const proxy = new Proxy(target, handler);
  Object.defineProperty(globalThis, name, { value: proxy });
}

function bufferBytes(args) {
  const length = toIndex(args[0]);
  if (length === undefined) return args;
  let max = length;
  const out = [length, ...args.slice(1)];
  if (isObject(args[1])) {
    const limit = args[1].maxByteLength;
    if (limit !== undefined) {
      const m = toIndex(limit);
      if (m === undefined) return args;
      max = Math.max(max, m);
      out[1] = { maxByteLength: m };
    }
  }
  charge(max, true);
  return out;
}

const TYPED_ARRAYS = [
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Float16Array",
  "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
];

function typedBytes(perElement) {
  return (args) => {
    const first = args[0];
    if (!isObject(first)) {
      const length = toIndex(first);
      if (length === undefined) return args;
      charge(length * perElement, true);
      return [length, ...args.slice(1)];
    }
    if (isBuffer(first)) return args; // a view on existing memory
    const length = Number(first.length);
    if (Number.isFinite(length)) charge(length * perElement, true);
    return args;
  };
}

// Estimated bytes per array element and per string character.
const ARRAY_ELEMENT_BYTES = 8;
const CHAR_BYTES = 2;

function arrayBytes(args) {
  const length = args[0];
  if (args.length === 1 && typeof length === "number" && length >>> 0 === length) {
    charge(length * ARRAY_ELEMENT_BYTES, true);
  }
  return args;
}

// Replaces a method of a prototype, keeping it non-enumerable (for…in must not see it).
function replaceMethod(proto, name, method) {
  Object.defineProperty(proto, name, { value: method, writable: true, enumerable: false, configurable: true });
}

/**
 * Refuses single allocations above maxBytes (and, when maxRequestBytes is given, more than that
 * many bytes through the wrapped constructors in one request, counted since the last reset):
 * ArrayBuffer, SharedArrayBuffer, typed arrays, new Array(length), Array.prototype.fill and
 * String.prototype.repeat/padStart/padEnd. Estimates 8 bytes per array element and 2 per string
 * character. Call once, before the app's modules evaluate; later calls do nothing. Best effort.
 */
export function capAllocations(newMaxBytes, newMaxRequestBytes = Infinity) {
  if (capped) return;
  maxBytes = positive("maxBytes", newMaxBytes);
  maxRequestBytes = positive("maxRequestBytes", newMaxRequestBytes);
  capped = true;

  for (const name of ["ArrayBuffer", "SharedArrayBuffer"]) {
    const ctor = globalThis[name];
    if (typeof ctor !== "function") continue;
    const brand = byteLengthOf(ctor.prototype);
    if (brand) bufferBrands.push(brand);
    wrap(name, bufferBytes, false);
  }
  for (const name of TYPED_ARRAYS) {
    const ctor = globalThis[name];
    if (typeof ctor !== "function") continue;
    wrap(name, typedBytes(ctor.BYTES_PER_ELEMENT), false);
  }
  wrap("Array", arrayBytes, true);

  const fill = Array.prototype.fill;
  replaceMethod(Array.prototype, "fill", {
    fill(...args) {
      const length = isObject(this) ? Number(this.length) : 0;
      // Checked against the single-allocation limit only: new Array(n) was already counted.
      if (length > 1024) charge(length * ARRAY_ELEMENT_BYTES, false);
      return Reflect.apply(fill, this, args);
    },
  }.fill);

  const repeat = String.prototype.repeat;
  replaceMethod(String.prototype, "repeat", {
    repeat(count) {
      if (typeof this !== "string") return Reflect.apply(repeat, this, [count]);
      const n = toIndex(count);
      if (n === undefined) return Reflect.apply(repeat, this, [count]);
      charge(this.length * n * CHAR_BYTES, true);
      return Reflect.apply(repeat, this, [n]);
    },
  }.repeat);

  for (const name of ["padStart", "padEnd"]) {
    const pad = String.prototype[name];
    replaceMethod(String.prototype, name, {
      [name](targetLength, ...rest) {
        if (typeof this !== "string") return Reflect.apply(pad, this, [targetLength, ...rest]);
        const n = toIndex(targetLength);
        if (n === undefined) return Reflect.apply(pad, this, [targetLength, ...rest]);
        if (n > this.length) charge(n * CHAR_BYTES, true);
        return Reflect.apply(pad, this, [n, ...rest]);
      },
    }[name]);
  }
}
