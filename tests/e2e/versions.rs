//! The code version store: blobs deduplicated within a project (never across tenants), manifests,
//! raw files, diffs, path safety.

use serde_json::{json, Map, Value};

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        two_versions_sharing_nine_of_ten_files_store_eleven_blobs_and_the_diff_shows_the_one_change,
        files_come_back_with_their_content_type,
        bad_paths_and_missing_versions_are_clear_errors,
        saving_files_another_tenant_already_saved_reveals_nothing_about_them,
    ]
}

fn ten_files(changed: bool) -> Value {
    let mut files = Map::new();
    files.insert(
        "worker.js".into(),
        json!("export default { fetch() { return new Response('hi'); } };\n"),
    );
    for i in 1..=8 {
        files.insert(
            format!("public/page{i}.html"),
            json!(format!("<h1>Page {i}</h1>\n")),
        );
    }
    let css = if changed {
        "body { color: navy; }\nh1 { margin: 0; }\n"
    } else {
        "body { color: black; }\nh1 { margin: 0; }\n"
    };
    files.insert("public/styles.css".into(), json!(css));
    Value::Object(files)
}

fn two_versions_sharing_nine_of_ten_files_store_eleven_blobs_and_the_diff_shows_the_one_change(
    k: &Kiln,
) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Versioned")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v1 = k.api.post(
        &format!("/api/projects/{id}/versions"),
        Some(&token),
        &json!({ "files": ten_files(false) }),
    );
    assert_eq!(v1.status, 201, "{}", v1.body);
    assert_eq!(v1.json()["version"]["version"], 1);
    assert_eq!(v1.json()["new_blobs"], 10);
    let v2 = k.api.post(
        &format!("/api/projects/{id}/versions"),
        Some(&token),
        &json!({ "files": ten_files(true), "parent": 1 }),
    );
    assert_eq!(v2.status, 201, "{}", v2.body);
    assert_eq!(v2.json()["version"]["version"], 2);
    assert_eq!(
        v2.json()["new_blobs"],
        1,
        "only the changed file is stored again: 11 blobs, not 20"
    );
    assert_eq!(v2.json()["reused_blobs"], 9);

    let list = k
        .api
        .get(&format!("/api/projects/{id}/versions"), Some(&token))
        .json();
    let versions: Vec<u64> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(list["versions"][1]["parent"], 1);

    let d = k.api.get(
        &format!("/api/projects/{id}/versions/1/diff/2"),
        Some(&token),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let d = d.json();
    assert_eq!(d["modified"], json!(["public/styles.css"]));
    assert_eq!(d["added"], json!([]));
    assert_eq!(d["removed"], json!([]));
    let unified = d["files"][0]["unified"].as_str().unwrap();
    assert!(
        unified.contains("--- a/public/styles.css") && unified.contains("+++ b/public/styles.css"),
        "{unified}"
    );
    assert!(
        unified.contains("-body { color: black; }") && unified.contains("+body { color: navy; }"),
        "{unified}"
    );
    assert!(
        unified.contains(" h1 { margin: 0; }"),
        "context line kept: {unified}"
    );

    let m = k
        .api
        .get(&format!("/api/projects/{id}/versions/2"), Some(&token))
        .json();
    assert_eq!(m["manifest"]["files"].as_object().unwrap().len(), 10);

    let log = k
        .api
        .get(&format!("/api/projects/{id}/events"), Some(&token))
        .json();
    let saved: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "VersionSaved")
        .collect();
    assert_eq!(saved.len(), 2);
    assert_eq!(saved[1]["data"]["files"], 10);
}

fn files_come_back_with_their_content_type(k: &Kiln) {
    let token = k.api.new_user();
    let id = k.api.create_project(&token, "Typed Files")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2, 3];
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    let r = k.api.post(
        &format!("/api/projects/{id}/versions"),
        Some(&token),
        &json!({ "encoding": "base64", "files": { "public/logo.png": b64, "public/index.html": base64::engine::general_purpose::STANDARD.encode("<p>hi</p>") } }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let html = k.api.get(
        &format!("/api/projects/{id}/versions/1/files/public/index.html"),
        Some(&token),
    );
    assert_eq!(html.status, 200);
    assert_eq!(html.body, "<p>hi</p>");
    assert!(html
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let logo = k.api.get(
        &format!("/api/projects/{id}/versions/1/files/public/logo.png"),
        Some(&token),
    );
    assert_eq!(logo.header("content-type"), Some("image/png"));
    assert!(logo.header("etag").is_some());
}

fn bad_paths_and_missing_versions_are_clear_errors(k: &Kiln) {
    let alice = k.api.new_user();
    let bob = k.api.new_user();
    let id = k.api.create_project(&alice, "Safe Paths")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for bad in [
        "../escape.js",
        "/etc/passwd",
        "public/../../x",
        ".env",
        "a\\b.js",
        "",
    ] {
        let r = k.api.post(
            &format!("/api/projects/{id}/versions"),
            Some(&alice),
            &json!({ "files": { bad: "x" } }),
        );
        assert_eq!(r.status, 400, "{bad:?}: {}", r.body);
        assert_eq!(r.json()["error"]["field"], "files", "{bad:?}");
    }
    let none = k.api.post(
        &format!("/api/projects/{id}/versions"),
        Some(&alice),
        &json!({ "files": {} }),
    );
    assert_eq!(none.status, 400);
    let ok = k.api.post(
        &format!("/api/projects/{id}/versions"),
        Some(&alice),
        &json!({ "files": { "worker.js": "export default {}" } }),
    );
    assert_eq!(ok.status, 201, "{}", ok.body);

    // `%2e%2e` segments are resolved by URL parsing before any handler runs (WHATWG URL rules),
    // so they can only climb the URL, never the file tree: the result is an unknown route.
    let climbed = k.api.get(
        &format!("/api/projects/{id}/versions/1/files/a/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
        Some(&alice),
    );
    assert_eq!(climbed.status, 404, "{}", climbed.body);
    // Encoded slashes survive URL parsing; the handler decodes and rejects them.
    for bad in [
        "a%2F..%2F..%2Fetc%2Fpasswd",
        "public%5C..%5Cx",
        "%2Fetc%2Fpasswd",
        "..%2Fworker.js",
        "%zz",
    ] {
        let r = k.api.get(
            &format!("/api/projects/{id}/versions/1/files/{bad}"),
            Some(&alice),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(
        k.api
            .get(
                &format!("/api/projects/{id}/versions/1/files/missing.js"),
                Some(&alice)
            )
            .status,
        404
    );
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/versions/9"), Some(&alice))
            .status,
        404
    );
    assert_eq!(
        k.api
            .get(
                &format!("/api/projects/{id}/versions/9/diff/1"),
                Some(&alice)
            )
            .status,
        404
    );
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/versions/abc"), Some(&alice))
            .status,
        400
    );
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/versions/0"), Some(&alice))
            .status,
        400
    );
    assert_eq!(
        k.api
            .get(&format!("/api/projects/{id}/versions"), Some(&bob))
            .status,
        404
    );
    assert_eq!(
        k.api
            .get(
                &format!("/api/projects/{id}/versions/1/files/worker.js"),
                Some(&bob)
            )
            .status,
        404
    );
    assert_eq!(
        k.api
            .post(
                &format!("/api/projects/{id}/versions"),
                Some(&bob),
                &json!({ "files": { "worker.js": "x" } })
            )
            .status,
        404
    );
}

/// Regression for a cross-tenant oracle: blobs were content-addressed across all projects, so
/// `reused_blobs` told a user which files some other tenant had stored.
fn saving_files_another_tenant_already_saved_reveals_nothing_about_them(k: &Kiln) {
    let save = |token: &str, name: &str| {
        let id = k.api.create_project(token, name)["id"]
            .as_str()
            .unwrap()
            .to_string();
        let saved = k.api.post(
            &format!("/api/projects/{id}/versions"),
            Some(token),
            &json!({ "files": ten_files(false) }),
        );
        assert_eq!(saved.status, 201, "{}", saved.body);
        (id, saved.json())
    };
    let (a, by_a) = save(&k.api.new_user(), "Tenant A");

    let (b, by_b) = save(&k.api.new_user(), "Tenant B");

    let files = ten_files(false).as_object().unwrap().len();
    assert_eq!(by_a["new_blobs"], files);
    assert_eq!(
        (&by_b["new_blobs"], &by_b["reused_blobs"]),
        (&json!(files), &json!(0)),
        "tenant B's save must not show that tenant A stored the same files: {by_b}"
    );
    let count = |prefix: String| {
        let r = k.api.get(&format!("/api/_test/r2?prefix={prefix}"), None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["count"].as_u64().unwrap()
    };
    assert_eq!(count(format!("blobs/{a}/")), files as u64);
    assert_eq!(
        count(format!("blobs/{b}/")),
        files as u64,
        "each tenant has its own copy"
    );
}
