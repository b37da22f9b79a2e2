//! HTTP plumbing shared by every route: the request context, size-limited JSON bodies, bearer
//! authentication and JSON responses.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, Headers, Request, Response};

use crate::adapters::api_tokens::ApiTokens;
use crate::adapters::sessions::Sessions;
use crate::adapters::webcrypto;
use crate::config::{Config, RawConfig};
use crate::domain::api_token::{self, Scope, Scopes};
use crate::domain::token::{TokenError, TokenKeys};
use crate::error::ApiError;

/// What every handler gets: the environment and validated configuration. Bindings are reached
/// only through the typed adapters in `crate::adapters` (each has an `of(&ctx.env)`).
pub struct Ctx {
    /// The Worker environment (for the adapters and for plain vars).
    pub env: Env,
    /// Validated settings.
    pub config: Config,
}

impl Ctx {
    /// Reads and validates configuration from the bindings.
    pub fn new(env: Env) -> Result<Self, ApiError> {
        let text = |name: &str| env.var(name).ok().map(|v| v.to_string());
        let raw = RawConfig {
            auth_secret: env.secret("AUTH_SECRET").ok().map(|v| v.to_string()),
            apps_domain: text("APPS_DOMAIN"),
            session_ttl_seconds: text("SESSION_TTL_SECONDS"),
            max_body_bytes: text("MAX_BODY_BYTES"),
            model: crate::config::MODEL_SETTINGS
                .iter()
                .filter_map(|name| {
                    let value = env
                        .secret(name)
                        .ok()
                        .or_else(|| env.var(name).ok())
                        .map(|v| v.to_string())?;
                    Some((name.to_string(), value))
                })
                .collect(),
            limits: crate::config::LIMIT_SETTINGS
                .iter()
                .filter_map(|name| Some((name.to_string(), text(name)?)))
                .collect(),
            allow_private_webhooks: text("ALLOW_PRIVATE_WEBHOOKS"),
            webhook_retry_scale: text("WEBHOOK_RETRY_SCALE"),
            deploy_target: text("DEPLOY_TARGET"),
            cloudflare_api_base: text("CLOUDFLARE_API_BASE"),
            cloudflare_account_id: text("CLOUDFLARE_ACCOUNT_ID"),
            cloudflare_api_token_set: env
                .secret("CLOUDFLARE_API_TOKEN")
                .is_ok_and(|v| !v.to_string().is_empty()),
            dispatch_namespace: text("DISPATCH_NAMESPACE"),
        };
        let config = Config::try_from(raw)?;
        Ok(Self { env, config })
    }

    /// Token signer/verifier.
    pub fn tokens(&self) -> TokenKeys {
        TokenKeys::new(&self.config.auth_secret)
    }
}

/// The signed-in caller: a browser or CLI session (a JWT), or a program with an API token.
pub struct Caller {
    /// User id.
    pub user_id: String,
    /// Session id (for logout); empty for API tokens.
    pub session_id: String,
    /// The API token's id, when the caller used one.
    pub token_id: Option<String>,
    /// What the caller may do (sessions may do everything).
    pub scopes: Scopes,
}

/// One message for every authentication failure, so a client cannot tell a revoked session from a
/// forged token.
const UNAUTHORIZED: &str =
    "missing, invalid or expired token; sign in again via POST /api/auth/login";

/// Authenticates `Authorization: Bearer <jwt>`: signature, algorithm, expiry, then the session in KV.
pub async fn authenticate(req: &Request, ctx: &Ctx) -> Result<Caller, ApiError> {
    let header = req.headers().get("authorization")?.unwrap_or_default();
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized(UNAUTHORIZED.into()))?;
    if api_token::looks_like_token(token) {
        return authenticate_api_token(req, ctx, token).await;
    }
    let claims = ctx
        .tokens()
        .verify(token, webcrypto::now_ms())
        .map_err(|e| {
            if let TokenError::Invalid(why) = &e {
                worker::console_log!("token refused: {why}");
            }
            ApiError::Unauthorized(UNAUTHORIZED.into())
        })?;
    match Sessions::of(&ctx.env)?.user_of(&claims.sid).await? {
        Some(user) if user == claims.sub => Ok(Caller {
            user_id: claims.sub,
            session_id: claims.sid,
            token_id: None,
            scopes: Scopes::all(),
        }),
        _ => Err(ApiError::Unauthorized(UNAUTHORIZED.into())),
    }
}

/// Authenticates an API token (`kiln_…`): known, not expired, and holding the scope the request's
/// method needs (403 naming it otherwise). Records the use.
async fn authenticate_api_token(req: &Request, ctx: &Ctx, token: &str) -> Result<Caller, ApiError> {
    let now = webcrypto::now_ms();
    let store = ApiTokens::of(&ctx.env)?;
    let row = store
        .by_hash(&api_token::hash(token))
        .await?
        .filter(|r| r.expires_at.is_none_or(|at| at > now))
        .ok_or_else(|| ApiError::Unauthorized(UNAUTHORIZED.into()))?;
    let scopes = Scopes::from_stored(&row.scopes);
    let needed = Scope::needed_for(req.method().as_ref());
    if !scopes.allows(needed) {
        return Err(ApiError::Forbidden(format!(
            "this API token lacks the '{}' scope that {} requests need; create a token with scopes [\"read\", \"write\"]",
            needed.as_str(),
            req.method()
        )));
    }
    if let Err(e) = store.touch(&row.id, now).await {
        worker::console_warn!("api token last-used time: {e}");
    }
    Ok(Caller {
        user_id: row.user_id,
        session_id: String::new(),
        token_id: Some(row.id),
        scopes,
    })
}

/// Reads a JSON body of at most `limit` bytes.
///
/// The declared `Content-Length` is checked before reading so an oversize upload is refused
/// without buffering it; the actual length is checked again because the header may be absent.
pub async fn read_json<T: DeserializeOwned>(
    req: &mut Request,
    limit: usize,
) -> Result<T, ApiError> {
    read_optional_json(req, limit)
        .await?
        .ok_or_else(|| ApiError::InvalidJson("request body is empty; send a JSON object".into()))
}

/// Like [`read_json`], but an empty body is `None` (for endpoints whose body is optional).
pub async fn read_optional_json<T: DeserializeOwned>(
    req: &mut Request,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    if let Some(len) = req.headers().get("content-length")? {
        if len
            .trim()
            .parse::<usize>()
            .map(|n| n > limit)
            .unwrap_or(false)
        {
            return Err(ApiError::PayloadTooLarge { limit });
        }
    }
    if let Some(ct) = req.headers().get("content-type")? {
        let ct = ct.to_ascii_lowercase();
        if !ct.starts_with("application/json")
            && !ct.contains("+json")
            && !ct.starts_with("text/plain")
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "content type '{ct}' is not supported; send JSON with 'content-type: application/json'"
            )));
        }
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ApiError::InvalidJson(format!(
            "request body is not valid JSON for this endpoint: {e}"
        ))
    })
}

/// A JSON response.
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::ok(text)?
        .with_status(status)
        .with_headers(headers))
}

/// 204 No Content.
pub fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()?.with_status(204))
}

/// Renders an error as the JSON error body; internal detail goes to the log only.
pub fn error_response(err: &ApiError, method: &str, path: &str) -> Response {
    if err.status() >= 500 {
        worker::console_error!("{method} {path}: {err}");
    }
    let mut resp = json(err.status(), &err.body())
        .unwrap_or_else(|_| Response::error("internal error", 500).expect("static response"));
    if let ApiError::MethodNotAllowed { allowed, .. } = err {
        let _ = resp.headers_mut().set("allow", allowed);
    }
    if let ApiError::Unauthorized(_) = err {
        let _ = resp.headers_mut().set("www-authenticate", "Bearer");
    }
    if let Some(secs) = err.retry_after_secs() {
        let _ = resp.headers_mut().set("retry-after", &secs.to_string());
    }
    resp
}

/// The Content Security Policy of the platform's own pages (the builder).
///
/// Scripts, styles, fonts and API calls come from the platform's origin only (`connect-src
/// 'self'` covers the event stream, read with `fetch`); the only thing framed is the preview of
/// an app, so `frame-src` names the apps' origins (`apps_origin`, e.g. `http://*.localhost:8787`);
/// nobody frames the platform.
pub fn platform_csp(apps_origin: &str) -> String {
    format!(
        "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src {apps_origin}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The origins apps are served from, as a CSP source: `<scheme>://*.<APPS_DOMAIN>[:port]`, on the
/// scheme and port the platform was reached on (apps share the platform's port locally).
pub fn apps_origin(url: &worker::Url, apps_domain: &str) -> String {
    match url.port() {
        Some(port) => format!("{}://*.{apps_domain}:{port}", url.scheme()),
        None => format!("{}://*.{apps_domain}", url.scheme()),
    }
}

/// Adds the security headers every platform response carries: `nosniff`, a referrer policy, and
/// for HTML pages a strict Content Security Policy (apps are framed by the builder, the platform
/// is framed by nobody). `apps_origin` is [`apps_origin`] for this request.
pub fn secure(resp: Response, apps_origin: &str) -> worker::Result<Response> {
    // Responses from the assets binding have immutable headers: copy them into a new response.
    let mut resp = if resp
        .headers()
        .set("x-content-type-options", "nosniff")
        .is_err()
    {
        let status = resp.status_code();
        let headers = Headers::new();
        for (k, v) in resp.headers().entries() {
            headers.set(&k, &v)?;
        }
        let (_, body) = resp.into_parts();
        Response::from_body(body)?
            .with_status(status)
            .with_headers(headers)
    } else {
        resp
    };
    let h = resp.headers_mut();
    h.set("x-content-type-options", "nosniff")?;
    h.set("referrer-policy", "strict-origin-when-cross-origin")?;
    let html = h
        .get("content-type")?
        .is_some_and(|t| t.starts_with("text/html"));
    if html && h.get("content-security-policy")?.is_none() {
        h.set("content-security-policy", &platform_csp(apps_origin))?;
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_may_frame_apps_on_the_platform_port_and_nothing_else() {
        let url = worker::Url::parse("http://localhost:8787/projects/x").unwrap();
        let p = platform_csp(&apps_origin(&url, "localhost"));
        for part in [
            "default-src 'self'",
            "connect-src 'self'",
            "frame-src http://*.localhost:8787;",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(p.contains(part), "{p} lacks {part}");
        }
        assert!(!p.contains("unsafe-inline"), "{p}");
    }

    #[test]
    fn in_production_apps_are_framed_over_https_on_the_apps_domain() {
        let url = worker::Url::parse("https://kiln.example/").unwrap();
        assert_eq!(apps_origin(&url, "apps.example"), "https://*.apps.example");
    }
}
