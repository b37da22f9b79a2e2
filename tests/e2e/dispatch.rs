//! App hosts reach the dispatch Worker: what every app response carries, and how app traffic that
//! ends early (a 404 or 401 before the body is read) leaves the platform alone.

use serde_json::json;

use crate::builds::{app_send, app_user, request_build, wait_for_build};
use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        an_app_host_reaches_dispatch_which_names_the_slug_when_nothing_is_deployed,
        app_pages_carry_a_policy_that_lets_only_the_platform_frame_them,
        app_requests_answered_before_their_body_is_read_disturb_nobody,
        an_app_lists_its_stored_files_with_their_upload_time,
    ]
}

fn an_app_host_reaches_dispatch_which_names_the_slug_when_nothing_is_deployed(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Bakery Inventory");
    let slug = p["slug"].as_str().unwrap();
    let r = k.api.get_app(slug, "/");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.header("x-kiln-slug"), Some(slug));
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(r.body.contains(slug), "the page names the slug: {}", r.body);

    let other = k.api.get_app("never-created", "/some/page");
    assert_eq!(other.status, 404);
    assert!(other.body.contains("never-created"));
    // The old internal host is just another address that is not an app.
    let internal = k.api.send(
        "POST",
        "/apps/x/db/query",
        None,
        &[("content-type", "application/json")],
        Some(b"{}".to_vec()),
        Some(&format!("internal.kiln:{}", k.port)),
    );
    assert_ne!(internal.status, 200, "{}", internal.body);
}

/// Builds an app with the offline generator; returns (token, project id, slug).
fn built(k: &Kiln, name: &str, prompt: &str) -> (String, String, String) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, name);
    let id = p["id"].as_str().unwrap().to_string();
    let build = request_build(k, &token, &id, prompt, &[]);
    assert_eq!(wait_for_build(k, &token, &build)["status"], "succeeded");
    (token, id, p["slug"].as_str().unwrap().to_string())
}

fn app_pages_carry_a_policy_that_lets_only_the_platform_frame_them(k: &Kiln) {
    let (_, _, slug) = built(k, "Framed Notes", "a notes app");
    let page = k.api.get_app(&slug, "/");
    assert_eq!(page.status, 200);
    let csp = page
        .header("content-security-policy")
        .unwrap_or_default()
        .to_string();
    for part in [
        "default-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        &format!("frame-ancestors 'self' http://localhost:{}", k.port),
    ] {
        assert!(csp.contains(part), "{csp} lacks {part}");
    }
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page.header("referrer-policy").is_some());
    let api = app_send(k, &slug, "GET", "/api/notes", None, None);
    assert_eq!(api.status, 401);
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"));
    // A page of the app cannot be written to.
    let post = app_send(k, &slug, "POST", "/index.html", None, Some(&json!({})));
    assert_eq!(post.status, 405, "{}", post.body);
    // The platform's own responses carry the same basics, and its pages cannot be framed.
    let landing = k.api.get("/", None);
    assert_eq!(landing.header("x-content-type-options"), Some("nosniff"));
    assert!(landing
        .header("content-security-policy")
        .unwrap_or_default()
        .contains("frame-ancestors 'none'"));
    assert_eq!(
        k.api
            .get("/api/health", None)
            .header("x-content-type-options"),
        Some("nosniff")
    );
}

/// Regression: an app that answered a POST without reading its body (an unknown route's 404, a
/// 401) made the dev server log "Can't read from request stream after response has been sent",
/// and once an unrelated user's registration on the platform answered 503.
fn app_requests_answered_before_their_body_is_read_disturb_nobody(k: &Kiln) {
    let (_, _, slug) = built(k, "Busy Notes", "a notes app");
    let host = format!("{slug}.localhost:{}", k.port);
    let body = vec![b'x'; 64 * 1024];
    for i in 0..30 {
        for (path, token) in [
            ("/api/no-such-route", None),
            ("/api/notes", None),
            ("/api/notes", Some("forged")),
        ] {
            let r = k.api.send(
                "POST",
                path,
                token,
                &[("content-type", "application/json")],
                Some(body.clone()),
                Some(&host),
            );
            assert!(
                matches!(r.status, 400 | 401 | 404),
                "{path}: {} {}",
                r.status,
                r.body
            );
        }
        // Each registration is another person (its own address), as on the real platform.
        let (token, _) = k
            .api
            .register(&crate::client::unique_email(), "correct horse battery");
        assert!(!token.is_empty(), "registration {i} between app requests");
    }
    let log = k.log_text();
    assert!(
        !log.contains("Can't read from request stream"),
        "the dev server logged an unread request stream"
    );
    // An oversize body is refused before the app sees it.
    let big = k.api.send(
        "POST",
        "/api/notes",
        None,
        &[("content-type", "application/json")],
        Some(vec![b'x'; 9 * 1024 * 1024]),
        Some(&host),
    );
    assert_eq!(big.status, 413, "{}", big.body);
}

/// Regression: listing files answered 500 once a file was stored (the storage listing had no
/// upload time).
fn an_app_lists_its_stored_files_with_their_upload_time(k: &Kiln) {
    let (_, _, slug) = built(k, "Album", "a notes app with file attachments");
    let user = app_user(k, &slug, "album@example.com");
    let host = format!("{slug}.localhost:{}", k.port);
    let put = k.api.send(
        "PUT",
        "/api/files/cover.txt",
        Some(&user),
        &[("content-type", "text/plain")],
        Some(b"hello".to_vec()),
        Some(&host),
    );
    assert_eq!(put.status, 201, "{}", put.body);
    let listed = k
        .api
        .send("GET", "/api/files", Some(&user), &[], None, Some(&host));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let files = listed.json();
    assert_eq!(files[0]["name"], "cover.txt");
    assert_eq!(files[0]["size"], 5);
    assert!(
        files[0]["uploaded"].as_str().unwrap().ends_with('Z'),
        "{files}"
    );
}
