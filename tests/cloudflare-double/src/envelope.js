// Cloudflare's v4 API envelope: {success, errors: [{code, message}], messages, result}.

export function ok(result, { status = 200, resultInfo } = {}) {
  const body = { success: true, errors: [], messages: [], result };
  if (resultInfo) body.result_info = resultInfo;
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export function fail(status, code, message, extra = {}) {
  const body = { success: false, errors: [{ code, message, ...extra }], messages: [], result: null };
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** An error a handler throws; turned into a `fail` envelope by the router. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const err = (status, code, message) => new ApiError(status, code, message);

/** The JSON body of a request, or a 400 in the API's words. */
export async function jsonBody(request) {
  const type = request.headers.get("content-type") || "";
  if (!type.toLowerCase().includes("application/json")) {
    throw err(400, 10026, "the request body must be JSON (content-type: application/json)");
  }
  try {
    return await request.json();
  } catch {
    throw err(400, 10026, "the request body is not valid JSON");
  }
}
