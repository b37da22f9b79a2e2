// HS256 JSON Web Tokens for assets upload sessions: the upload token (sent as the Bearer of
// `/workers/assets/upload`) and the completion token (sent in the script's metadata).

const enc = new TextEncoder();
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromB64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

async function key(secret) {
  return crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

export async function sign(secret, payload) {
  const head = b64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64url(enc.encode(JSON.stringify(payload)));
  const sig = await crypto.subtle.sign("HMAC", await key(secret), enc.encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(sig)}`;
}

/** The payload of a valid, unexpired token of kind `typ`, or null. */
export async function verify(secret, token, typ) {
  const parts = String(token || "").split(".");
  if (parts.length !== 3) return null;
  try {
    const good = await crypto.subtle.verify("HMAC", await key(secret), fromB64url(parts[2]), enc.encode(`${parts[0]}.${parts[1]}`));
    if (!good) return null;
    const payload = JSON.parse(new TextDecoder().decode(fromB64url(parts[1])));
    if (payload.typ !== typ || !(payload.exp > Date.now() / 1000)) return null;
    return payload;
  } catch {
    return null;
  }
}
