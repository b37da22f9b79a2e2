//! Security headers of app responses.
//!
//! Every app page gets a Content Security Policy that keeps it to its own origin (scripts, styles,
//! fetches), forbids plugins, and lets only the Kiln platform frame it (the builder's preview).
//! Every app response also gets `X-Content-Type-Options: nosniff` and a `Referrer-Policy`. The
//! policy matches the generated pages' own `<meta>` policy (see the offline generator), plus
//! what only a header can say (`frame-ancestors`).

use worker::{Env, Response, Result, Url};

/// The platform origin that may frame apps: `PLATFORM_ORIGIN` if set, otherwise the apps domain
/// on the request's scheme and port (locally the platform is `http://localhost:8787` and apps are
/// `http://<slug>.localhost:8787`).
pub fn platform_origin(env: &Env, url: &Url) -> String {
    if let Ok(v) = env.var("PLATFORM_ORIGIN") {
        let v = v.to_string();
        if !v.is_empty() {
            return v;
        }
    }
    let domain = env
        .var("APPS_DOMAIN")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "localhost".into());
    match url.port() {
        Some(port) => format!("{}://{domain}:{port}", url.scheme()),
        None => format!("{}://{domain}", url.scheme()),
    }
}

/// The Content Security Policy of app pages.
pub fn csp(platform_origin: &str) -> String {
    format!(
        "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'self' {platform_origin}"
    )
}

/// The headers every app response carries.
pub fn app_headers(platform_origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-security-policy", csp(platform_origin)),
        ("x-content-type-options", "nosniff".into()),
        ("referrer-policy", "strict-origin-when-cross-origin".into()),
    ]
}

/// Adds [`app_headers`] to `resp`, keeping a stricter policy the response already has (files
/// served as downloads carry `sandbox`).
pub fn secure(mut resp: Response, platform_origin: &str) -> Result<Response> {
    let h = resp.headers_mut();
    for (name, value) in app_headers(platform_origin) {
        if h.get(name)?.is_none() {
            h.set(name, &value)?;
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_keeps_apps_to_their_origin_and_lets_only_the_platform_frame_them() {
        let p = csp("http://localhost:8787");
        for part in [
            "default-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'self' http://localhost:8787",
        ] {
            assert!(p.contains(part), "{p} lacks {part}");
        }
    }
}
