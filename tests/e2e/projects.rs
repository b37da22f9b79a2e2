//! Projects: creation with slugs, ownership, rename, delete.

use serde_json::json;

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        a_user_creates_lists_reads_renames_and_deletes_a_project,
        a_second_user_cannot_read_rename_delete_or_list_the_first_users_project,
        two_projects_with_the_same_name_get_distinct_slugs,
        names_that_cannot_form_a_slug_are_rejected,
        unknown_routes_and_wrong_methods_are_clear_errors,
        health_reports_ready,
    ]
}

fn a_user_creates_lists_reads_renames_and_deletes_a_project(k: &Kiln) {
    let token = k.api.new_user();
    let p = k.api.create_project(&token, "Recipe Book");
    let id = p["id"].as_str().unwrap();
    assert!(p["slug"].as_str().unwrap().starts_with("recipe-book"));
    assert_eq!(
        p["url"],
        format!(
            "http://{}.localhost:{}",
            p["slug"].as_str().unwrap(),
            k.port
        )
    );

    let list = k.api.get("/api/projects", Some(&token));
    assert_eq!(list.status, 200);
    let ids: Vec<_> = list.json()["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(id)]);

    let got = k.api.get(&format!("/api/projects/{id}"), Some(&token));
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["project"]["name"], "Recipe Book");

    let renamed = k.api.json(
        "PATCH",
        &format!("/api/projects/{id}"),
        Some(&token),
        &json!({ "name": "  Family Recipes " }),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.json()["project"]["name"], "Family Recipes");
    assert_eq!(
        renamed.json()["project"]["slug"],
        p["slug"],
        "renaming keeps the app address"
    );

    let bad = k.api.json(
        "PATCH",
        &format!("/api/projects/{id}"),
        Some(&token),
        &json!({ "name": "" }),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["field"], "name");

    assert_eq!(
        k.api
            .delete(&format!("/api/projects/{id}"), Some(&token))
            .status,
        204
    );
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}"), Some(&token))
            .status,
        404
    );
    assert_eq!(
        k.api
            .delete(&format!("/api/projects/{id}"), Some(&token))
            .status,
        404
    );
    assert!(k.api.get("/api/projects", Some(&token)).json()["projects"]
        .as_array()
        .unwrap()
        .is_empty());
}

fn a_second_user_cannot_read_rename_delete_or_list_the_first_users_project(k: &Kiln) {
    let alice = k.api.new_user();
    let bob = k.api.new_user();
    let p = k.api.create_project(&alice, "Alice's Shop");
    let path = format!("/api/projects/{}", p["id"].as_str().unwrap());

    let read = k.api.get(&path, Some(&bob));
    assert_eq!(read.status, 404);
    let missing = k.api.get(
        "/api/projects/00000000-0000-4000-8000-000000000000",
        Some(&bob),
    );
    assert_eq!(
        read.error_code(),
        missing.error_code(),
        "someone else's project looks exactly like a missing one"
    );
    assert_eq!(
        k.api
            .json("PATCH", &path, Some(&bob), &json!({ "name": "Mine now" }))
            .status,
        404
    );
    assert_eq!(k.api.delete(&path, Some(&bob)).status, 404);
    assert!(k.api.get("/api/projects", Some(&bob)).json()["projects"]
        .as_array()
        .unwrap()
        .is_empty());

    // Alice's project is untouched.
    let still = k.api.get(&path, Some(&alice));
    assert_eq!(still.status, 200);
    assert_eq!(still.json()["project"]["name"], "Alice's Shop");
}

fn two_projects_with_the_same_name_get_distinct_slugs(k: &Kiln) {
    let a = k.api.new_user();
    let b = k.api.new_user();
    let first = k.api.create_project(&a, "Habit Tracker");
    let second = k.api.create_project(&a, "Habit Tracker");
    let third = k.api.create_project(&b, "habit tracker!");
    let slugs =
        [&first["slug"], &second["slug"], &third["slug"]].map(|s| s.as_str().unwrap().to_string());
    assert_ne!(slugs[0], slugs[1]);
    assert_ne!(slugs[0], slugs[2]);
    assert_ne!(slugs[1], slugs[2]);
    for s in &slugs {
        assert!(s.starts_with("habit-tracker"), "{s}");
        assert!(
            s.len() <= 63
                && s.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'),
            "{s}"
        );
    }
}

fn names_that_cannot_form_a_slug_are_rejected(k: &Kiln) {
    let token = k.api.new_user();
    for name in ["!!!", "🔥🔥🔥", "   ", ""] {
        let r = k
            .api
            .post("/api/projects", Some(&token), &json!({ "name": name }));
        assert_eq!(r.status, 400, "{name:?}: {}", r.body);
        assert_eq!(r.json()["error"]["field"], "name");
    }
    let r = k.api.post("/api/projects", Some(&token), &json!({}));
    assert_eq!(r.status, 400);
    assert!(
        k.api.get("/api/projects", Some(&token)).json()["projects"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
}

fn unknown_routes_and_wrong_methods_are_clear_errors(k: &Kiln) {
    let r = k.api.get("/api/nope", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "no_route");
    let r = k.api.send("PUT", "/api/projects", None, &[], None, None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let token = k.api.new_user();
    let r = k.api.send(
        "POST",
        "/api/projects",
        Some(&token),
        &[("content-type", "text/html")],
        Some(b"<p>".to_vec()),
        None,
    );
    assert_eq!(r.status, 415);
}

fn health_reports_ready(k: &Kiln) {
    let r = k.api.get("/api/health", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
}
