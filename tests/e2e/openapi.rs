//! The OpenAPI description: served, and fuzzed with schemathesis (installed by `make test` into
//! `.tools/venv`), which must find no server error and no answer that breaks the description.

use std::process::Command;

use serde_json::json;

use crate::{scenarios, Kiln, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    scenarios![
        the_description_is_served_as_openapi_3_1,
        schemathesis_finds_no_server_error_and_no_answer_outside_the_description,
    ]
}

fn the_description_is_served_as_openapi_3_1(k: &Kiln) {
    let r = k.api.get("/api/openapi.json", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/projects/{id}/builds"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

fn schemathesis_finds_no_server_error_and_no_answer_outside_the_description(k: &Kiln) {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "schemathesis is not installed: run `make test` (or scripts/test-tools.sh) first"
    );
    // An API token: a session token would be revoked by the fuzzer's own call to logout.
    // A project gives the fuzzer ids to find (from the listing) and real routes to reach.
    let session = k.api.new_user();
    k.api.create_project(&session, "Fuzzed");
    let token = k
        .api
        .post("/api/tokens", Some(&session), &json!({ "name": "fuzz" }))
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = Command::new(&bin)
        .current_dir(std::env::temp_dir())
        .env("SCHEMATHESIS_HOOKS", "")
        .args([
            "run",
            &format!("{}/api/openapi.json", k.base),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "20",
            "--workers",
            "2",
            "--seed",
            "1",
            // The token must outlive the run: the fuzzer would revoke it.
            "--exclude-operation-id",
            "delete_tokens__id_",
            "--no-color",
        ])
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    assert!(text.contains("passed"), "{text}");
}
