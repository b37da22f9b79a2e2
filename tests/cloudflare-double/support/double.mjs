// Starts the Cloudflare API double with its own `wrangler dev` on a free port, in its own process
// group, and stops exactly that group.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function startDouble({ token, account }) {
  const dir = mkdtempSync(path.join(tmpdir(), "kiln-cf-double-"));
  const envFile = path.join(dir, "double.env");
  writeFileSync(envFile, `CLOUDFLARE_API_TOKEN=${token}\nCLOUDFLARE_ACCOUNT_ID=${account}\n`, { mode: 0o600 });
  const port = await freePort();
  const log = path.join(dir, "wrangler.log");
  const out = (await import("node:fs")).openSync(log, "a");
  const child = spawn(
    path.join(ROOT, "node_modules/.bin/wrangler"),
    ["dev", "-c", "tests/cloudflare-double/wrangler.toml", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()), "--persist-to", path.join(dir, "state"), "--env-file", envFile],
    { cwd: ROOT, detached: true, stdio: ["ignore", out, out], env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" } },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(-child.pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120000;
  for (;;) {
    if (child.exitCode !== null) {
      const text = readFileSync(log, "utf8");
      await stop();
      throw new Error(`the double's wrangler dev exited early:\n${text.slice(-4000)}`);
    }
    try {
      const r = await fetch(`${url}/__double/health`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      const text = readFileSync(log, "utf8");
      await stop();
      throw new Error(`the double did not answer within 120 s:\n${text.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, stop, log };
}
