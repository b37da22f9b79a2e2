// Browser tests of the builder, in Debian's chromium driven by playwright-core.
//
//   node tests/ui/builder.test.mjs <base-url>
//
// <base-url> is a running Kiln session (the e2e harness starts one and runs this script; see
// tests/e2e/ui.rs). The page is opened at http://localhost:<port> so app previews at
// http://<slug>.localhost:<port> are framed from the platform origin, as in `make dev`.
// Screenshots of every screen go to target/ui-screenshots/. Any console error or page error
// fails the run; the exit code is the verdict.

import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { expect } from "./expect.mjs";

const given = new URL(process.argv[2] ?? "http://127.0.0.1:8787");
const base = `http://localhost:${given.port || 80}`;
const shots = join(process.cwd(), "target", "ui-screenshots");
mkdirSync(shots, { recursive: true });
const BUILD_TIMEOUT = 180_000;

const problems = [];
const profile = mkdtempSync(join(tmpdir(), "kiln-ui-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.KILN_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1",
  ],
  viewport: { width: 1360, height: 860 },
});
context.setDefaultTimeout(20_000);

/** Requests whose error status the scenario causes on purpose (they log a network error). */
const expectedFailures = [];
function watch(page) {
  page.on("pageerror", (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text();
    const loc = m.location()?.url ?? "";
    if (expectedFailures.some((f) => f(text, loc))) return;
    problems.push(`console error on ${page.url()}: ${text} ${loc}`);
  });
}

const page = context.pages()[0] ?? (await context.newPage());
watch(page);

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

let step = "start";
function section(name) {
  step = name;
  console.log(`ui: ${name}`);
}

const email = `ui-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = "correct horse battery";


try {
  // ---- (a) sign up → project → build → preview → follow-up → diff → delete --------------------
  section("sign-up");
  await page.goto(`${base}/`);
  await page.waitForURL(`${base}/signin`);
  await expect(page.getByRole("heading", { name: "Welcome back" })).toBeVisible();
  await shot("01-sign-in");
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.waitForURL(`${base}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await shot("02-sign-up");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Projects" })).toBeVisible();
  await expect(page.getByText("No projects yet")).toBeVisible();
  await shot("03-dashboard-empty");

  section("create a project");
  await page.getByRole("button", { name: "New project" }).click();
  await page.getByLabel("Project name").fill("Task Manager");
  await shot("04-new-project");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.waitForURL(/\/projects\/[^/]+$/);
  const projectUrl = page.url();
  await expect(page.getByText("What should we build?")).toBeVisible();
  await expect(page.locator("[data-stream=live]")).toBeVisible();
  await shot("05-workspace-empty");

  section("first build, live");
  // Records every step state the page shows, to prove progress arrives live (not only at the end).
  await page.evaluate(() => {
    const seen = (window.__seen = new Set());
    new MutationObserver(() => {
      for (const el of document.querySelectorAll("[data-step]")) seen.add(`${el.dataset.step}:${el.dataset.status}`);
      if (document.querySelector("section[aria-label=Plan]")) seen.add("plan-card");
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  // The first codegen attempt fails with a retryable fault (a test hook of this session) and is
  // retried after its 2 s delay: the build cannot finish before the page has shown it running,
  // however fast the machine, and the retry shows up in the step's attempts.
  const slowFirstBuild = (route) =>
    route.continue({ headers: { ...route.request().headers(), "x-kiln-faults": "codegen:1:retryable" } });
  await page.route("**/api/projects/*/chat", slowFirstBuild);
  const box = page.getByLabel("Describe your app");
  await box.fill("a task manager with tasks with a status (open, in progress, done)");
  await box.press("Enter");
  await expect(page.locator(".bubble", { hasText: "a task manager with tasks" })).toBeVisible();
  const plan = page.locator("section[aria-label=Plan]").first();
  await expect(plan).toBeVisible({ timeout: BUILD_TIMEOUT });
  await expect(plan.getByRole("heading", { name: "Tasks" })).toBeVisible();
  await expect(plan.getByText("File storage")).toBeVisible();
  // A choice field shows its values, not only its kind.
  await expect(plan.locator(".entity li", { hasText: "status" }).locator(".kind")).toHaveText("choice: open / in progress / done");
  await shot("06-build-running");
  const firstBuild = page.locator("article.build").first();
  await expect(firstBuild.locator(".build-head .badge")).toHaveText("Succeeded", { timeout: BUILD_TIMEOUT });
  const seen = await page.evaluate(() => [...window.__seen]);
  for (const s of ["plan", "codegen", "validate", "create-db", "migrate", "upload-assets", "deploy", "record"]) {
    assert.ok(seen.includes(`${s}:succeeded`), `step ${s} was never shown as succeeded: ${seen}`);
  }
  assert.ok(seen.includes("plan-card"), "the plan card never appeared");
  assert.ok(
    seen.some((s) => s.endsWith(":running") || s.endsWith(":pending")),
    `no step was ever shown before it finished (progress was not live): ${seen}`,
  );
  await page.unroute("**/api/projects/*/chat", slowFirstBuild);

  section("preview");
  const frame = page.frameLocator("iframe.preview-frame");
  await expect(frame.getByText("Sign in to continue.")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("link", { name: "Open in new tab" })).toHaveAttribute("href", /^http:\/\/task-manager[\w-]*\.localhost:\d+\/$/);
  await shot("07-workspace-preview");

  section("reconnect");
  await page.evaluate(() => window.__kilnStream.drop());
  await expect(page.getByText(/Reconnected: resumed after event #\d+/)).toBeVisible({ timeout: 15_000 });

  section("follow-up build");
  await box.fill("add a notes page with notes");
  await box.press("Enter");
  const second = page.locator("article.build").nth(1);
  await expect(second.locator("section[aria-label=Plan]").getByRole("heading", { name: "Notes" })).toBeVisible({
    timeout: BUILD_TIMEOUT,
  });
  await expect(second.locator(".build-head .badge")).toHaveText("Succeeded", { timeout: BUILD_TIMEOUT });
  await shot("08-second-build");

  section("versions and diff");
  await page.getByRole("tab", { name: "Versions" }).click();
  await expect(page.locator(".version")).toHaveCount(2);
  await expect(page.getByText("“add a notes page with notes”")).toBeVisible();
  const diff = page.locator(".diff");
  await expect(diff).toBeVisible();
  await expect(diff.locator(".diff-file").first()).toBeVisible();
  await expect(diff.locator(".dl-add", { hasText: "notes" }).first()).toBeVisible();
  await shot("09-versions-diff");

  section("files");
  await page.getByRole("tab", { name: "Files" }).click();
  await expect(page.locator(".code pre")).toBeVisible();
  await expect(page.locator(".code .tk-kw").first()).toBeVisible();
  await shot("10-files");

  section("activity");
  await page.getByRole("tab", { name: "Activity" }).click();
  await expect(page.getByText(/Event chain verified: \d+ events/)).toBeVisible();
  await expect(page.getByText("Build succeeded: version 2 is live")).toBeVisible();
  await shot("11-activity");

  section("restore an earlier version");
  await page.getByRole("tab", { name: "Versions" }).click();
  await page.getByRole("button", { name: "Restore v1" }).click();
  await shot("20-restore-confirm");
  await page.getByRole("button", { name: "Yes, restore v1" }).click();
  // The rollback is a durable workflow; its RolledBack event arrives on the stream and the page
  // shows v1 as live, in the header and in the list, and the preview serves v1 again.
  await expect(page.locator(".crumbs .badge")).toHaveText("Live · v1", { timeout: BUILD_TIMEOUT });
  await expect(page.locator(".version", { hasText: "v1" }).locator(".badge")).toHaveText("Live");
  await expect(page.getByRole("button", { name: "Restore v2" })).toBeVisible();
  await page.getByRole("tab", { name: "Preview" }).click();
  await expect(frame.getByText("Sign in to continue.")).toBeVisible({ timeout: 30_000 });
  await shot("21-restored");

  section("small screens and dark mode");
  await page.setViewportSize({ width: 360, height: 760 });
  await page.getByRole("tab", { name: "Chat" }).click();
  await shot("12-workspace-360");
  await page.emulateMedia({ colorScheme: "dark" });
  await page.getByRole("tab", { name: "App" }).click();
  await page.getByRole("tab", { name: "Preview" }).click();
  await shot("13-workspace-360-dark");
  await page.setViewportSize({ width: 1360, height: 860 });
  await page.getByRole("tab", { name: "Chat" }).click().catch(() => undefined);
  await shot("14-workspace-dark");
  await page.emulateMedia({ colorScheme: "light" });

  section("dashboard, rename, delete");
  await page.getByRole("link", { name: "Projects" }).click();
  const card = page.locator(".project-card", { hasText: "Task Manager" });
  await expect(card.locator(".badge")).toHaveText("Live");
  await shot("15-dashboard");
  await card.getByRole("button", { name: "Rename Task Manager" }).click();
  await page.getByLabel("Project name").fill("Team Tasks");
  await page.getByRole("button", { name: "Save name" }).click();
  const renamed = page.locator(".project-card", { hasText: "Team Tasks" });
  await expect(renamed).toBeVisible();
  await renamed.getByRole("button", { name: "Delete Team Tasks" }).click();
  await expect(page.getByRole("dialog", { name: "Delete Team Tasks?" })).toBeVisible();
  await shot("16-delete-confirm");
  await page.getByRole("button", { name: "Delete project" }).click();
  await expect(page.getByText("No projects yet")).toBeVisible();
  // A deleted project's page says so (its API calls answer 404, which the browser logs).
  expectedFailures.push((text, url) => /status of 404/.test(text) && url.includes(projectUrl.split("/").pop()));
  await page.goto(projectUrl);
  await expect(page.getByText(/not found/)).toBeVisible();

  // ---- (b) bad input ----------------------------------------------------------------------------
  section("wrong password");
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${base}/signin`);
  expectedFailures.push((text) => /status of 401/.test(text));
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toHaveText("email or password is incorrect");
  await shot("17-wrong-password");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Projects" })).toBeVisible();

  section("empty prompt");
  await page.getByRole("button", { name: "New project" }).click();
  await page.getByLabel("Project name").fill("Bakery Stock");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.waitForURL(/\/projects\/[^/]+$/);
  let chatRequests = 0;
  page.on("request", (r) => r.url().endsWith("/chat") && chatRequests++);
  await page.getByLabel("Describe your app").fill("   ");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByRole("alert")).toHaveText(/Write a message first/);
  assert.equal(chatRequests, 0, "an empty prompt reached the API");
  await shot("18-empty-prompt");

  section("failed build");
  // The session runs with test hooks: the same fault header the Rust e2e tests use makes the
  // migrate step fail terminally.
  await page.route("**/api/projects/*/chat", (route) =>
    route.continue({ headers: { ...route.request().headers(), "x-kiln-faults": "migrate:1:terminal" } }),
  );
  await page.getByLabel("Describe your app").fill("an inventory tracker for a bakery");
  await page.getByLabel("Describe your app").press("Enter");
  const failed = page.locator("article.build").first();
  await expect(failed.locator(".build-head .badge")).toHaveText("Failed", { timeout: BUILD_TIMEOUT });
  await expect(failed.locator(".build-error")).toContainText("Failed at “Apply migrations”");
  await expect(failed.locator("[data-step=migrate]")).toHaveAttribute("data-status", "failed");
  const reason = await failed.locator(".build-error").textContent();
  assert.ok(!reason.includes("{"), `the failure reason is raw JSON: ${reason}`);
  await shot("19-failed-build");

  section("cancel a build");
  // The codegen step's first attempt stalls (a test hook): the build waits there until cancelled.
  await page.route("**/api/projects/*/chat", (route) =>
    route.continue({ headers: { ...route.request().headers(), "x-kiln-faults": "codegen:1:slow" } }),
  );
  await page.getByLabel("Describe your app").fill("an inventory tracker for a bakery, again");
  await page.getByLabel("Describe your app").press("Enter");
  const parked = page.locator("article.build").nth(1);
  await expect(parked.locator("[data-step=codegen]")).toHaveAttribute("data-status", "running", { timeout: BUILD_TIMEOUT });
  await parked.getByRole("button", { name: "Cancel" }).click();
  await expect(parked.locator(".build-head .badge")).toHaveText("Cancelled", { timeout: BUILD_TIMEOUT });
  await expect(parked.getByText("Cancelled during “Write the code”")).toBeVisible();
  await expect(parked.getByRole("button", { name: "Cancel" })).toHaveCount(0);
  await expect(parked.locator("[data-step=codegen]")).toHaveAttribute("data-status", "stopped");
  await shot("22-cancelled-build");
} catch (e) {
  problems.push(`step "${step}" failed: ${e.stack ?? e}`);
  await shot("failure").catch(() => undefined);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (problems.length) {
  console.error(`ui: FAILED\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`ui: ok (screenshots in ${shots})`);
