// Drives a generated app's front end in headless Chromium, as a person would: sign up (from the
// public landing page when some entity is public), visit every entity page (empty state), add a
// record with every input filled (references through their selects), edit it, search, filter and
// sort the list, upload and delete a file (when the plan stores files), sign out and read the
// public records as a visitor (no Edit or Delete offered), fail and then succeed to sign in,
// deep-link to a page, delete everything; the theme's accent colour is what buttons show. Fails on
// any JavaScript exception, console error or CSP violation.
//
//   node tests/generated-app/ui-check.mjs <base-url> <plan.json> [chromium-binary]
//
// Talks to Chromium over --remote-debugging-pipe (CDP on fds 3/4), so it needs no npm packages.
// Chromium runs in its own process group, which is killed on exit, error or signal.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, planPath, binary = "chromium"] = process.argv.slice(2);
if (!base || !planPath) {
  console.error("usage: node ui-check.mjs <base-url> <plan.json> [chromium-binary]");
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planPath, "utf8"));
const profile = mkdtempSync(join(tmpdir(), "kiln-ui-check-"));

const chrome = spawn(
  binary,
  ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe", `--user-data-dir=${profile}`, "about:blank"],
  { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"], detached: true },
);
let stopped = false;
function stop() {
  if (stopped) return;
  stopped = true;
  try {
    process.kill(-chrome.pid, "SIGKILL");
  } catch {}
  rmSync(profile, { recursive: true, force: true });
}
process.on("exit", stop);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

// ---- CDP over the pipe: JSON messages separated by NUL bytes --------------------------------------
const toChrome = chrome.stdio[3];
const fromChrome = chrome.stdio[4];
let nextId = 1;
const pending = new Map();
const problems = [];
let buffer = "";
fromChrome.on("data", (chunk) => {
  buffer += chunk.toString("utf8");
  let end;
  while ((end = buffer.indexOf("\0")) >= 0) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      message.error ? reject(new Error(`${message.error.message}`)) : resolve(message.result);
    } else if (message.method === "Runtime.exceptionThrown") {
      problems.push(`exception: ${message.params.exceptionDetails.exception?.description ?? message.params.exceptionDetails.text}`);
    } else if (message.method === "Runtime.consoleAPICalled" && message.params.type === "error") {
      problems.push(`console.error: ${message.params.args.map((a) => a.value ?? a.description).join(" ")}`);
    } else if (message.method === "Log.entryAdded" && message.params.entry.level === "error" && message.params.entry.source !== "network") {
      problems.push(`${message.params.entry.source}: ${message.params.entry.text}`);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  toChrome.write(JSON.stringify({ id, method, params, sessionId }) + "\0");
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

const { targetId } = await send("Target.createTarget", { url: "about:blank" });
const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
const page = (method, params) => send(method, params, sessionId);
await page("Runtime.enable");
await page("Log.enable");
await page("Page.enable");

// Helpers defined in the page before every evaluation (navigation clears them).
const HELPERS = `
  const $ = (s) => document.querySelector(s);
  const $$ = (s) => [...document.querySelectorAll(s)];
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : "");
  const button = (label) => $$("button").find((b) => text(b) === label);
  function setValue(el, value) {
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
      : el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, "value").set.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }
  // Preact re-renders after the current task; submit handlers read the re-rendered state.
  const settle = () => new Promise((r) => setTimeout(r, 30));
  window.confirm = () => true;
`;

async function evaluate(expression) {
  const { result, exceptionDetails } = await page("Runtime.evaluate", {
    expression: `(async () => { ${HELPERS}\n${expression} })()`,
    awaitPromise: true,
    returnByValue: true,
  });
  if (exceptionDetails) throw new Error(`in page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
  return result.value;
}

async function waitFor(predicate, what, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await evaluate(`return Boolean(${predicate});`)) return;
    if (Date.now() > deadline) {
      const body = await evaluate(`return text(document.body).slice(0, 600);`);
      throw new Error(`timed out waiting for ${what}; page shows: ${body}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

let steps = 0;
async function step(name, body) {
  await body();
  steps++;
  if (problems.length) throw new Error(`after "${name}": ${problems.join("; ")}`);
}

async function open(path) {
  await page("Page.navigate", { url: base + path });
  await waitFor(`document.readyState === "complete"`, `${path} to load`);
}

// ---- the scenario -----------------------------------------------------------------------------------
const email = `ui-${Date.now()}@example.com`;
const password = "correct horse battery";
const entityPages = plan.pages.filter((p) => p.entity);
const entityOf = (p) => plan.entities.find((e) => e.name === p.entity);
const kindOf = (f) => (typeof f.kind === "string" ? f.kind : "reference");

const publicEntities = plan.entities.filter((e) => e.visibility === "public");
const publicPages = entityPages.filter((p) => entityOf(p).visibility === "public");

/** From the public landing page (apps with public entities) to the sign-in form. */
async function toSignInForm() {
  await waitFor(`$("form.auth") || $("header.topbar button")`, "the sign-in form or the landing page");
  if (await evaluate(`return !$("form.auth");`)) {
    await evaluate(`$$("header.topbar button").find((b) => text(b) === "Sign in").click();`);
  }
  await waitFor(`$("form.auth")`, "the sign-in form");
}

async function signIn(mode) {
  await toSignInForm();
  if (mode === "register") await evaluate(`button("Create an account").click();`);
  await waitFor(`button(${JSON.stringify(mode === "register" ? "Sign up" : "Sign in")})`, `the ${mode} form`);
  await evaluate(`
    setValue($("form.auth input[type=email]"), ${JSON.stringify(email)});
    setValue($("form.auth input[type=password]"), ${JSON.stringify(password)});
    await settle();
    $("form.auth").requestSubmit();`);
  await waitFor(`$("header.topbar")`, "the app after signing in");
}

async function goTo(name) {
  await evaluate(`$$("header nav a").find((a) => text(a) === ${JSON.stringify(name)}).click();`);
  await waitFor(`text($("main h1")) === ${JSON.stringify(name)} && !text($("main")).includes("Loading")`, `page ${name}`);
}

try {
  await step("the first page renders: the public landing page or the sign-in form", async () => {
    await open("/");
    if (publicEntities.length > 0) {
      await waitFor(`text($(".hero h1")) === ${JSON.stringify(plan.app_name)} && !text($("main")).includes("Loading")`, "the landing page");
      await waitFor(`text($(".empty")) === ${JSON.stringify(`No ${publicEntities[0].label.toLowerCase()} yet.`)}`, "the landing page's empty list");
      await toSignInForm();
    }
    await waitFor(`text($("form.auth h1")) === ${JSON.stringify(plan.app_name)}`, "the app name on the sign-in form");
  });

  if (plan.theme && plan.theme.accent) {
    await step("buttons show the theme's accent colour", async () => {
      const hex = plan.theme.accent;
      const rgb = `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(", ")})`;
      const shown = await evaluate(`return getComputedStyle($("form.auth button[type=submit]")).backgroundColor;`);
      if (shown !== rgb) throw new Error(`the sign-in button is ${shown}, not the theme's ${rgb}`);
    });
  }

  await step("sign up", () => signIn("register"));

  for (const p of entityPages) {
    const entity = entityOf(p);
    const plural = entity.label.toLowerCase();
    const titleField = entity.fields.find((f) => kindOf(f) === "text");
    await step(`${p.name}: empty state`, async () => {
      await goTo(p.name);
      await waitFor(`text($(".empty")) === ${JSON.stringify(`No ${plural} yet — add the first one above.`)}`, `the empty state of ${p.name}`);
    });
    await step(`${p.name}: add a record with every input`, async () => {
      for (const f of entity.fields) {
        const sel = `form.record-form [name=${JSON.stringify(f.name)}]`;
        const value = {
          text: `UI ${f.name}`,
          long_text: "Line one\nline two",
          integer: "2",
          number: "1.5",
          date: "2025-01-02",
          rating: "4",
        }[kindOf(f)];
        if (kindOf(f) === "boolean") await evaluate(`$(${JSON.stringify(sel)}).click();`);
        else if (kindOf(f) === "reference") {
          await waitFor(`$(${JSON.stringify(sel)}).options.length > 1`, `options for ${f.name}`);
          await evaluate(`const s = $(${JSON.stringify(sel)}); setValue(s, s.options[1].value);`);
        } else await evaluate(`setValue($(${JSON.stringify(sel)}), ${JSON.stringify(value)});`);
      }
      await evaluate(`await settle(); $("form.record-form").requestSubmit();`);
      await waitFor(`$$(".records li").length === 1`, `the new record in ${p.name}`);
      if (titleField) {
        await waitFor(`text($(".records li strong")) === ${JSON.stringify(`UI ${titleField.name}`)}`, "the record's title");
      }
      const cleared = await evaluate(`return $$("form.record-form input, form.record-form textarea").filter((i) => i.type !== "checkbox").every((i) => i.value === "");`);
      if (!cleared) throw new Error("the form was not cleared after adding");
    });
    if (titleField) {
      await step(`${p.name}: edit the record`, async () => {
        await evaluate(`button("Edit").click();`);
        await waitFor(`text($("form.record-form h2")).startsWith("Edit ")`, "the edit form");
        await waitFor(`$("form.record-form [name=${titleField.name}]").value === ${JSON.stringify(`UI ${titleField.name}`)}`, "the form to hold the record");
        await evaluate(`setValue($("form.record-form [name=${titleField.name}]"), "UI edited"); await settle(); $("form.record-form").requestSubmit();`);
        await waitFor(`text($(".records li strong")) === "UI edited"`, "the edited title");
      });
      await step(`${p.name}: search`, async () => {
        const search = async (q, count) => {
          await evaluate(`setValue($("form.controls [name=q]"), ${JSON.stringify(q)}); await settle(); $("form.controls").requestSubmit();`);
          await waitFor(count ? `$$(".records li").length === ${count}` : `text($(".empty")) === ${JSON.stringify(`No ${plural} match.`)}`, `search "${q}"`);
        };
        await search("edited", 1);
        await search("zz-nothing-like-this", 0);
        await search("", 1);
      });
    }
    for (const f of entity.fields.filter((f) => ["boolean", "reference"].includes(kindOf(f)))) {
      await step(`${p.name}: filter by ${f.name}`, async () => {
        const sel = JSON.stringify(`form.controls [name=filter-${f.name}]`);
        const choose = async (index, count) => {
          await evaluate(`const s = $(${sel}); setValue(s, s.options[${index}].value);`);
          await waitFor(count ? `$$(".records li").length === ${count}` : `text($(".empty")) === ${JSON.stringify(`No ${plural} match.`)}`, `filter ${f.name} option ${index}`);
        };
        await waitFor(`$(${sel}) && $(${sel}).options.length > 1`, `the ${f.name} filter's options`);
        // Booleans: Any, Yes, No (the record was added with the box ticked). References: Any, the one parent row.
        await choose(1, 1);
        if (kindOf(f) === "boolean") await choose(2, 0);
        await choose(0, 1);
      });
    }
    await step(`${p.name}: sort`, async () => {
      await evaluate(`const s = $("form.controls [name=sort]"); setValue(s, s.options[s.options.length - 1].value);`);
      await waitFor(`$$(".records li").length === 1 && !text($("main")).includes("Loading")`, "the sorted list");
      await evaluate(`setValue($("form.controls [name=sort]"), "");`);
    });
  }

  const filesPage = plan.file_storage ? "Files" : null;
  if (filesPage) {
    await step("files: upload, list and delete a file", async () => {
      await goTo(filesPage);
      await waitFor(`text($(".empty")) === "No files yet — upload the first one above."`, "the empty files page");
      await evaluate(`
        const input = $("input[type=file]");
        const data = new DataTransfer();
        data.items.add(new File(["hello from the browser"], "hello world.txt", { type: "text/plain" }));
        input.files = data.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));`);
      await waitFor(`text($(".records li strong")) === "hello-world.txt"`, "the uploaded file in the list");
      await evaluate(`button("Delete").click();`);
      await waitFor(`$(".empty")`, "the empty files page after deleting");
    });
  }

  if (publicPages.length > 0) {
    await step("signed out, a visitor reads every public page, with nothing to edit", async () => {
      await evaluate(`button("Sign out").click();`);
      for (const p of publicPages) {
        await evaluate(`$$("header nav a").find((a) => text(a) === ${JSON.stringify(p.name)}).click();`);
        await waitFor(`text($("main section.page h1")) === ${JSON.stringify(p.name)} && $$(".records li").length === 1`, `the public records of ${p.name}`);
        const offered = await evaluate(`return $$(".records button, form.record-form").length;`);
        if (offered !== 0) throw new Error(`a visitor is offered ${offered} edit controls on ${p.name}`);
      }
      await open(publicPages[publicPages.length - 1].path);
      await waitFor(`$$(".records li").length === 1`, "a deep link for a visitor");
    });
  }

  await step("sign out, a wrong password is refused with a message, then sign in", async () => {
    if (await evaluate(`return Boolean(button("Sign out"));`)) await evaluate(`button("Sign out").click();`);
    await toSignInForm();
    await evaluate(`
      setValue($("form.auth input[type=email]"), ${JSON.stringify(email)});
      setValue($("form.auth input[type=password]"), "wrong password!");
      await settle();
      $("form.auth").requestSubmit();`);
    await waitFor(`text($("form.auth .error")) === "Email or password is incorrect"`, "the wrong-password message");
    await signIn("login");
  });

  const last = entityPages[entityPages.length - 1];
  await step("a deep link to a page works and keeps the session", async () => {
    await open(last.path);
    await waitFor(`text($("main h1")) === ${JSON.stringify(last.name)} && $$(".records li").length === 1`, `the deep-linked page ${last.path}`);
  });

  for (const p of [...entityPages].reverse()) {
    await step(`${p.name}: delete the record`, async () => {
      await goTo(p.name);
      await waitFor(`$$(".records li").length >= 1`, `the records of ${p.name}`);
      await evaluate(`button("Delete").click();`);
      await waitFor(`$(".empty")`, `the empty state of ${p.name} after deleting`);
    });
  }
  console.log(`ui check passed: ${steps} steps`);
  stop();
  process.exit(0);
} catch (e) {
  console.error(`ui check failed: ${e.message}`);
  if (problems.length) console.error(problems.join("\n"));
  stop();
  process.exit(1);
}
