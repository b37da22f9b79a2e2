// Kiln's local Cloudflare API double: a Worker (run by its own `wrangler dev`) that answers the
// subset of Cloudflare's v4 REST API Kiln uses, under /client/v4, and runs what was deployed
// through it. See README.md here and docs/adr/0024 for what it covers and where it differs.
//
//   /client/v4/...                      the REST API (handled by the `Account` Durable Object)
//   /__double/calls                     GET: [{method, path}] of every REST call; DELETE: forget them
//   /__double/state                     GET: what the account holds (databases, buckets, scripts, blobs)
//   /__double/dispatch/<ns>/<script>/…  runs an uploaded script on a request (dispatch emulation)
import { ok, fail } from "./envelope.js";
import { dispatch } from "./dispatch.js";
import { account } from "./stub.js";

export { Account } from "./account.js";
export { D1Database } from "./d1.js";
export { DoubleD1, DoubleR2, DoubleAssets } from "./dispatch.js";


export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/client/v4" || path.startsWith("/client/v4/")) {
      // The body is read whole first: an answer sent before a request body is consumed (a refused
      // upload) would otherwise reset the connection under wrangler dev.
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      return account(env).fetch(new Request(request.url, { method: request.method, headers: request.headers, body }));
    }
    if (path === "/__double/calls") {
      if (request.method === "GET") return Response.json(await account(env).calls());
      if (request.method === "DELETE") {
        await account(env).resetCalls();
        return new Response(null, { status: 204 });
      }
      return new Response("GET or DELETE", { status: 405, headers: { allow: "GET, DELETE" } });
    }
    if (path === "/__double/state" && request.method === "GET") return Response.json(await account(env).state());
    if (path.startsWith("/__double/dispatch/")) return dispatch(request, env, ctx, path.slice("/__double/dispatch/".length));
    if (path === "/__double/health") return ok({ status: "ready" });
    return fail(404, 7000, "No route for that URI");
  },
};
