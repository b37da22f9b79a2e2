//! Kiln dispatch Worker: serves every app at `<slug>.<APPS_DOMAIN>` (the local deploy target).
//!
//! - The live pointer `apps/<slug>.json` in R2 (written by the platform's deploy step) names the
//!   project and version that answer on a slug.
//! - Static files come straight from the code store: `public/<path>` of the live version's
//!   manifest, with the manifest's content type, the blob hash as ETag (304 on a match), and an
//!   SPA fallback to `public/index.html` for page paths.
//! - `/api/*` runs the app's own `worker.js` in an isolate per app version via the Worker Loader;
//!   that part lives in `src/entry.js` because it needs JavaScript-only APIs (`ctx.exports`,
//!   `WorkerEntrypoint`). [`Apps::load_spec`] gives it the code and settings from Rust.
//! - Each app's database is an [`appdb::AppDatabase`] Durable Object; the platform reaches it
//!   through the internal host `internal.kiln` (service binding only; never an app host).

pub mod appdb;

use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::prelude::*;
use worker::{event, Context, Env, Headers, Request, Response, Result};
use workflows::codestore::{BlobHash, FilePath, Manifest};

/// The host the platform uses for internal calls over the service binding.
pub const INTERNAL_HOST: &str = "internal.kiln";

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// What the live pointer of a slug says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveApp {
    /// Project id.
    pub project: String,
    /// Live version.
    pub version: u32,
    /// Build that deployed it.
    #[serde(default)]
    pub build_id: Option<String>,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let apps_domain = env
        .var("APPS_DOMAIN")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "localhost".into());
    let host = req
        .url()?
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if host == INTERNAL_HOST {
        return internal(req, env).await;
    }
    let Some(slug) = app_slug(&host, &apps_domain) else {
        return Response::error("this address is not an app address", 404);
    };
    match live_app(&env, &slug).await? {
        None => not_deployed(&slug),
        Some(app) => serve_static(&req, &env, &slug, &app).await,
    }
}

/// The app label of `<slug>.<apps domain>`.
pub fn app_slug(host: &str, apps_domain: &str) -> Option<String> {
    let label = host.strip_suffix(apps_domain)?.strip_suffix('.')?;
    let valid = !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| label.to_string())
}

async fn get_bytes(env: &Env, key: &str) -> Result<Option<Vec<u8>>> {
    let Some(obj) = env.bucket("STORE")?.get(key).execute().await? else {
        return Ok(None);
    };
    match obj.body() {
        Some(b) => Ok(Some(b.bytes().await?)),
        None => Ok(Some(Vec::new())),
    }
}

async fn live_app(env: &Env, slug: &str) -> Result<Option<LiveApp>> {
    Ok(get_bytes(env, &format!("apps/{slug}.json"))
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

async fn manifest(env: &Env, app: &LiveApp) -> Result<Option<Manifest>> {
    let key = format!("versions/{}/{:08}.json", app.project, app.version);
    Ok(get_bytes(env, &key)
        .await?
        .and_then(|b| Manifest::from_json(&b).ok()))
}

async fn blob(env: &Env, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
    get_bytes(env, &format!("blobs/{}", hash.as_str())).await
}

/// Serves `public/…` of the live version.
async fn serve_static(req: &Request, env: &Env, slug: &str, app: &LiveApp) -> Result<Response> {
    let Some(m) = manifest(env, app).await? else {
        return Response::error(
            format!(
                "app '{slug}' is deployed but its version {} is missing",
                app.version
            ),
            500,
        );
    };
    let path = req.path();
    let wanted = if path == "/" {
        "public/index.html".to_string()
    } else {
        format!("public{path}")
    };
    let is_page = !path.rsplit('/').next().unwrap_or("").contains('.');
    let entry = FilePath::parse(&wanted)
        .ok()
        .and_then(|p| m.files.get(&p).cloned())
        .or_else(|| {
            // SPA fallback: unknown page paths render the app shell; unknown files stay 404.
            is_page
                .then(|| {
                    FilePath::parse("public/index.html")
                        .ok()
                        .and_then(|p| m.files.get(&p).cloned())
                })
                .flatten()
        });
    let Some(entry) = entry else {
        return Response::error(format!("'{path}' is not part of this app"), 404);
    };
    let etag = format!("\"{}\"", entry.hash.as_str());
    let headers = Headers::new();
    headers.set("etag", &etag)?;
    headers.set("cache-control", "no-cache")?;
    headers.set("x-kiln-version", &app.version.to_string())?;
    if req
        .headers()
        .get("if-none-match")?
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok(Response::empty()?.with_status(304).with_headers(headers));
    }
    let Some(bytes) = blob(env, &entry.hash).await? else {
        return Response::error("app file is missing from storage", 500);
    };
    headers.set("content-type", &entry.content_type)?;
    Ok(Response::from_bytes(bytes)?.with_headers(headers))
}

/// Internal routes for the platform: `/apps/<project>/db/<op>`.
async fn internal(req: Request, env: Env) -> Result<Response> {
    let path = req.path();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apps", project, "db", op] if matches!(*op, "query" | "batch" | "migrate" | "destroy") => {
            let ns = env.durable_object("APP_DB")?;
            let stub = ns.id_from_name(project)?.get_stub()?;
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post);
            let mut fwd = req;
            let body = fwd.bytes().await.unwrap_or_default();
            init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
            stub.fetch_with_request(Request::new_with_init(&format!("http://db/{op}"), &init)?)
                .await
        }
        _ => Response::error("unknown internal route", 404),
    }
}

fn not_deployed(slug: &str) -> Result<Response> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>No app at {slug}</title></head>\
         <body style=\"font-family:system-ui;max-width:40rem;margin:4rem auto;padding:0 1rem\">\
         <h1>No app is deployed at “{slug}”</h1>\
         <p>Nothing has been deployed under the name <code>{slug}</code> yet. Build the project in Kiln and \
         it will appear here.</p></body></html>"
    );
    let mut resp = Response::from_html(html)?.with_status(404);
    resp.headers_mut().set("x-kiln-slug", slug)?;
    Ok(resp)
}

/// Called from `src/entry.js` for `/api/*` requests on app hosts.
#[wasm_bindgen]
pub struct Apps;

#[wasm_bindgen]
impl Apps {
    /// The code and settings to load the live app of `host`: a JSON string
    /// `{project, version, slug, modules: {path: code}, jwt_secret}`, or `null` when nothing is
    /// deployed there.
    pub async fn load_spec(host: String, env: JsValue) -> std::result::Result<JsValue, JsValue> {
        let env: Env = env.unchecked_into();
        let err = |e: worker::Error| JsValue::from_str(&e.to_string());
        let apps_domain = env
            .var("APPS_DOMAIN")
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "localhost".into());
        let Some(slug) = app_slug(&host.to_ascii_lowercase(), &apps_domain) else {
            return Ok(JsValue::NULL);
        };
        let Some(app) = live_app(&env, &slug).await.map_err(err)? else {
            return Ok(JsValue::NULL);
        };
        let Some(m) = manifest(&env, &app).await.map_err(err)? else {
            return Ok(JsValue::NULL);
        };
        let mut modules = serde_json::Map::new();
        for (path, entry) in &m.files {
            let p = path.as_str();
            let is_module = !p.starts_with("public/")
                && !p.starts_with("migrations/")
                && (p.ends_with(".js") || p.ends_with(".mjs"));
            if is_module {
                let code = blob(&env, &entry.hash)
                    .await
                    .map_err(err)?
                    .unwrap_or_default();
                modules.insert(p.to_string(), json!(String::from_utf8_lossy(&code)));
            }
        }
        let secret = get_bytes(&env, &format!("secrets/{}", app.project))
            .await
            .map_err(err)?
            .map(|b| String::from_utf8_lossy(&b).to_string())
            .unwrap_or_default();
        let spec = json!({ "project": app.project, "version": app.version, "slug": slug, "modules": modules, "jwt_secret": secret });
        Ok(JsValue::from_str(&spec.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_hosts_map_to_their_slug() {
        assert_eq!(
            app_slug("todo.localhost", "localhost").as_deref(),
            Some("todo")
        );
        assert_eq!(app_slug("localhost", "localhost"), None);
        assert_eq!(app_slug("a.b.localhost", "localhost"), None);
        assert_eq!(app_slug("<x>.localhost", "localhost"), None);
    }
}
