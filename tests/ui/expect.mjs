// The few web-first assertions the builder tests need (playwright-core has no test runner):
// each polls its locator until the condition holds or the timeout passes, like Playwright's own.

const DEFAULT_TIMEOUT = 20_000;

async function poll(describe, check, timeout) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last.ok) return;
    } catch (e) {
      last = { ok: false, actual: e.message.split("\n")[0] };
    }
    if (Date.now() > deadline) throw new Error(`expected ${describe} within ${timeout} ms; last saw: ${last.actual}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const matches = (pattern, text) => (pattern instanceof RegExp ? pattern.test(text) : text.trim() === pattern);

export function expect(locator) {
  const name = String(locator);
  return {
    toBeVisible: ({ timeout = DEFAULT_TIMEOUT } = {}) =>
      poll(`${name} to be visible`, async () => ({ ok: await locator.first().isVisible(), actual: "not visible" }), timeout),
    toHaveText: (pattern, { timeout = DEFAULT_TIMEOUT } = {}) =>
      poll(
        `${name} to have text ${pattern}`,
        async () => {
          const text = (await locator.first().textContent({ timeout: 1000 })) ?? "";
          return { ok: matches(pattern, text), actual: JSON.stringify(text) };
        },
        timeout,
      ),
    toContainText: (part, { timeout = DEFAULT_TIMEOUT } = {}) =>
      poll(
        `${name} to contain ${part}`,
        async () => {
          const text = (await locator.first().textContent({ timeout: 1000 })) ?? "";
          return { ok: text.includes(part), actual: JSON.stringify(text) };
        },
        timeout,
      ),
    toHaveCount: (n, { timeout = DEFAULT_TIMEOUT } = {}) =>
      poll(
        `${name} to have ${n} elements`,
        async () => {
          const count = await locator.count();
          return { ok: count === n, actual: `${count}` };
        },
        timeout,
      ),
    toHaveAttribute: (attr, pattern, { timeout = DEFAULT_TIMEOUT } = {}) =>
      poll(
        `${name} to have ${attr}=${pattern}`,
        async () => {
          const v = (await locator.first().getAttribute(attr, { timeout: 1000 })) ?? "";
          return { ok: matches(pattern, v), actual: JSON.stringify(v) };
        },
        timeout,
      ),
  };
}
