//! Kiln dispatch Worker: routes `<slug>.<APPS_DOMAIN>` requests to the app deployed under that
//! slug. Until the pipeline deploys apps, every slug answers a clear 404 page naming it.

use worker::{event, Context, Env, Request, Response, Result};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
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
    let slug = app_slug(&host, &apps_domain);
    match slug {
        Some(slug) => not_deployed(&slug),
        None => Response::error("this address is not an app address", 404),
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
