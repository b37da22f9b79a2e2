//! Kiln dispatch Worker: serves every app at `<slug>.<APPS_DOMAIN>` (the local deploy target).
//!
//! - The live pointer `apps/<slug>.json` in R2 (written by the platform's deploy step) names the
//!   project and version that answer on a slug. It is the one object read on every request.
//! - Everything that belongs to a version (its manifest, its files, its deploy bundle) is
//!   immutable, so it is cached in this isolate keyed by project and version ([`cache`]): a warm
//!   request costs one small R2 read.
//! - Static files come from the code store: `public/<path>` of the version's assets manifest
//!   (written by the platform's upload-assets step), with the
//!   manifest's content type, the blob hash as ETag (304 on a match), an SPA fallback to
//!   `public/index.html` for page paths, and the app's security headers.
//! - `/api/*` runs the app's own modules in an isolate per app version via the Worker Loader;
//!   that part lives in `src/entry.js` because it needs JavaScript-only APIs (`ctx.exports`,
//!   `WorkerEntrypoint`). [`Apps`] gives it what it needs from Rust.
//! - Each app's database is an [`appdb::AppDatabase`] Durable Object. Nothing reaches it over
//!   HTTP: loaded apps hold a capability scoped to their own project (`AppDb`), and the platform
//!   calls the named entrypoint `AppAdmin` over RPC (see `src/entry.js` and docs/adr/0011).
//!
//! Key decision: capabilities, not routes. This Worker's HTTP surface serves app hosts only and
//! never trusts the Host header for anything but choosing which app's public files to serve.

pub mod appdb;
pub mod cache;
pub mod headers;

use std::rc::Rc;

use codestore::{blob_key, BlobHash, FilePath, Manifest};
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::prelude::*;
use worker::{event, Context, Env, Headers, Method, Request, Response, Result};

use crate::cache::VersionKey;

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
    /// Where the version runs: absent or `local` (this Worker) or `cloudflare` (a script in the
    /// dispatch namespace, named by `script`).
    #[serde(default)]
    pub target: Option<String>,
    /// The version's script in the dispatch namespace (`cloudflare` target).
    #[serde(default)]
    pub script: Option<String>,
}

fn apps_domain(env: &Env) -> String {
    env.var("APPS_DOMAIN")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "localhost".into())
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let Some(slug) = app_slug(&host, &apps_domain(&env)) else {
        return Response::error("this address is not an app address", 404);
    };
    let live = live_app(&env, &slug).await?;
    let inm = req.headers().get("if-none-match")?;
    answer(&env, &url, &req.method(), inm.as_deref(), &slug, live).await
}

/// The answer of an app host outside `/api/*` once its live pointer is read: the app's public
/// files (GET and HEAD only), or the page that says nothing is deployed.
async fn answer(
    env: &Env,
    url: &worker::Url,
    method: &Method,
    if_none_match: Option<&str>,
    slug: &str,
    live: Option<LiveApp>,
) -> Result<Response> {
    let resp = match live {
        None => not_deployed(slug)?,
        Some(_) if !matches!(method, Method::Get | Method::Head) => {
            let mut r = Response::error("an app's pages and files are read with GET or HEAD", 405)?;
            r.headers_mut().set("allow", "GET, HEAD")?;
            r
        }
        Some(app) => serve_file(env, &app.project, app.version, url.path(), if_none_match).await?,
    };
    headers::secure(resp, &headers::platform_origin(env, url))
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

/// A project id as the platform makes them (a UUID): anything else is refused before it is used
/// in a storage key or a Durable Object name.
pub fn valid_project_id(id: &str) -> bool {
    id.len() == 36
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase() || b == b'-')
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
        .and_then(|b| serde_json::from_slice::<LiveApp>(&b).ok())
        .filter(|a| valid_project_id(&a.project)))
}

/// The public files of a version, from this isolate's cache or R2: the assets manifest its
/// upload-assets step wrote (`deploys/<project>/<version:08>.assets.json`), or for a version
/// deployed before assets manifests existed, its code-store manifest.
async fn manifest(env: &Env, project: &str, version: u32) -> Result<Option<Rc<Manifest>>> {
    let key = VersionKey::new(project, version);
    if let Some(m) = cache::manifest(&key) {
        return Ok(Some(m));
    }
    let stored =
        match get_bytes(env, &format!("deploys/{project}/{version:08}.assets.json")).await? {
            Some(b) => Some(b),
            None => get_bytes(env, &format!("versions/{project}/{version:08}.json")).await?,
        };
    let Some(m) = stored.and_then(|b| Manifest::from_json(&b).ok()) else {
        return Ok(None);
    };
    let m = Rc::new(m);
    cache::put_manifest(key, m.clone());
    Ok(Some(m))
}

/// A blob of `project`, from this isolate's cache or R2.
async fn blob(env: &Env, project: &str, hash: &BlobHash) -> Result<Option<Rc<Vec<u8>>>> {
    if let Some(b) = cache::blob(project, hash) {
        return Ok(Some(b));
    }
    let Some(bytes) = get_bytes(env, &blob_key(project, hash)).await? else {
        return Ok(None);
    };
    let bytes = Rc::new(bytes);
    cache::put_blob(project, hash, bytes.clone());
    Ok(Some(bytes))
}

/// Serves `public/…` of one version of one project. Only `path` chooses the file, and only among
/// that version's files: there is no way from here to anything else.
pub async fn serve_file(
    env: &Env,
    project: &str,
    version: u32,
    path: &str,
    if_none_match: Option<&str>,
) -> Result<Response> {
    let Some(m) = manifest(env, project, version).await? else {
        return Response::error(
            format!("this app's version {version} is missing; rebuild the app"),
            500,
        );
    };
    let wanted = if path == "/" {
        "public/index.html".to_string()
    } else {
        format!("public{path}")
    };
    let is_page = !path.rsplit('/').next().unwrap_or("").contains('.');
    let index = || FilePath::parse("public/index.html").ok();
    let entry = FilePath::parse(&wanted)
        .ok()
        .and_then(|p| m.files.get(&p).cloned())
        .or_else(|| {
            // SPA fallback: unknown page paths render the app shell; unknown files stay 404.
            is_page
                .then(|| index().and_then(|p| m.files.get(&p).cloned()))
                .flatten()
        });
    let Some(entry) = entry else {
        return Response::error(format!("'{path}' is not part of this app"), 404);
    };
    let etag = format!("\"{}\"", entry.hash.as_str());
    let headers = Headers::new();
    headers.set("etag", &etag)?;
    headers.set("cache-control", "no-cache")?;
    headers.set("x-kiln-version", &version.to_string())?;
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        return Ok(Response::empty()?.with_status(304).with_headers(headers));
    }
    let Some(bytes) = blob(env, project, &entry.hash).await? else {
        return Response::error("app file is missing from storage", 500);
    };
    headers.set("content-type", &entry.content_type)?;
    Ok(Response::from_bytes(bytes.as_ref().clone())?.with_headers(headers))
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

/// What the loaded app needs for one version: its (instrumented) worker modules and its secret.
/// Written by the platform's deploy step as `deploys/<project>/<version:08>.json`.
#[derive(Debug, Deserialize)]
struct DeployBundle {
    /// Worker modules by path, as the app imports them (instrumented with budget checks).
    modules: serde_json::Map<String, serde_json::Value>,
    /// The budget guard module (`_kiln_guard.js`) the modules were instrumented for.
    #[serde(default)]
    guard: Option<String>,
}

/// Called from `src/entry.js`.
#[wasm_bindgen]
pub struct Apps;

#[wasm_bindgen]
impl Apps {
    /// The live app of `host` as a JSON string `{project, version, slug, target, script}`, or
    /// `null` when the host
    /// is not an app host or nothing is deployed there. One small R2 read.
    pub async fn live(host: String, env: JsValue) -> std::result::Result<JsValue, JsValue> {
        let env: Env = env.unchecked_into();
        let err = |e: worker::Error| JsValue::from_str(&e.to_string());
        let Some(slug) = app_slug(&host.to_ascii_lowercase(), &apps_domain(&env)) else {
            return Ok(JsValue::NULL);
        };
        let Some(app) = live_app(&env, &slug).await.map_err(err)? else {
            return Ok(JsValue::NULL);
        };
        let live = json!({
            "project": app.project,
            "version": app.version,
            "slug": slug,
            "target": app.target,
            "script": app.script,
        });
        Ok(JsValue::from_str(&live.to_string()))
    }

    /// The answer to a request outside `/api/*` on an app host whose live pointer the caller
    /// already read (`live`, as [`Apps::live`] returned it): the pointer is read once per request.
    pub async fn serve_files(
        url: String,
        method: String,
        if_none_match: Option<String>,
        live: String,
        env: JsValue,
    ) -> std::result::Result<web_sys::Response, JsValue> {
        let env: Env = env.unchecked_into();
        let err = |e: worker::Error| JsValue::from_str(&e.to_string());
        let url = worker::Url::parse(&url).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let Some(slug) = app_slug(&host, &apps_domain(&env)) else {
            return Err(JsValue::from_str("not an app address"));
        };
        let live = serde_json::from_str::<LiveApp>(&live)
            .ok()
            .filter(|a| valid_project_id(&a.project));
        let method = Method::from(method);
        let resp = answer(&env, &url, &method, if_none_match.as_deref(), &slug, live)
            .await
            .map_err(err)?;
        Ok(resp.into())
    }

    /// What the Worker Loader needs to start `version` of `project`: a JSON string
    /// `{modules: {path: code}, guard, jwt_secret}`, or `null` when that version has no deploy bundle.
    /// The caller caches it per version (it never changes).
    pub async fn load_spec(
        project: String,
        version: u32,
        env: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let env: Env = env.unchecked_into();
        let err = |e: worker::Error| JsValue::from_str(&e.to_string());
        if !valid_project_id(&project) {
            return Ok(JsValue::NULL);
        }
        let bundle = get_bytes(&env, &format!("deploys/{project}/{version:08}.json"))
            .await
            .map_err(err)?
            .and_then(|b| serde_json::from_slice::<DeployBundle>(&b).ok());
        let Some(bundle) = bundle else {
            return Ok(JsValue::NULL);
        };
        let secret = get_bytes(&env, &format!("secrets/{project}"))
            .await
            .map_err(err)?
            .map(|b| String::from_utf8_lossy(&b).to_string())
            .unwrap_or_default();
        let spec =
            json!({ "modules": bundle.modules, "guard": bundle.guard, "jwt_secret": secret });
        Ok(JsValue::from_str(&spec.to_string()))
    }

    /// The `ASSETS` capability of a loaded app: `path` of `version` of `project`, nothing else.
    pub async fn asset(
        project: String,
        version: u32,
        path: String,
        if_none_match: Option<String>,
        env: JsValue,
    ) -> std::result::Result<web_sys::Response, JsValue> {
        let env: Env = env.unchecked_into();
        let err = |e: worker::Error| JsValue::from_str(&e.to_string());
        if !valid_project_id(&project) {
            return Err(JsValue::from_str("not a project id"));
        }
        let resp = serve_file(&env, &project, version, &path, if_none_match.as_deref())
            .await
            .map_err(err)?;
        Ok(resp.into())
    }

    /// The security headers every app response gets (JSON `[[name, value], …]`), for the
    /// responses built in JavaScript.
    pub fn security_headers(platform_origin: String) -> String {
        serde_json::to_string(&headers::app_headers(&platform_origin)).unwrap_or_default()
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
        assert_eq!(app_slug("internal.kiln", "localhost"), None);
    }

    #[test]
    fn only_platform_made_project_ids_are_used_in_keys() {
        assert!(valid_project_id("0b9d2c1e-6f5a-4c3b-8a7d-1e2f3a4b5c6d"));
        assert!(!valid_project_id("0B9D2C1E-6F5A-4C3B-8A7D-1E2F3A4B5C6D"));
        assert!(!valid_project_id("../../secrets/0b9d2c1e-6f5a-4c3b-8a7d"));
        assert!(!valid_project_id("0b9d2c1e/6f5a-4c3b-8a7d-1e2f3a4b5c6d"));
        assert!(!valid_project_id(""));
    }
}
