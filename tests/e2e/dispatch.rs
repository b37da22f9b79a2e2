//! App hosts reach the dispatch Worker.

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![an_app_host_reaches_dispatch_which_names_the_slug_when_nothing_is_deployed]
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
}
