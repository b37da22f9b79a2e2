//! The API's OpenAPI 3.1 description, served at `GET /api/openapi.json`.
//!
//! Written as data next to the route table rather than derived from it: the route table is a
//! `match`, which no macro can read, and a hand-kept description says what a reader needs (what a
//! route is for, its errors) better than a derived one. What keeps the two in step is the test at
//! the bottom: it reads the route table's source and fails when a route is missing here or a
//! documented route does not exist. Test-only routes (`/api/_test/…`) are left out: they exist
//! only with `KILN_TEST_HOOKS=1`.

use serde_json::{json, Map, Value};

/// One documented operation.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    /// `None`: no authentication; `Some("bearer")`: a session or API token; `Some("operator")`.
    auth: Option<&'static str>,
    body: Option<Value>,
    ok: u16,
    answer: Value,
    errors: &'static [u16],
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

fn ops() -> Vec<Op> {
    let project = json!({ "type": "object", "required": ["project"], "properties": { "project": schema_ref("Project") } });
    let build = json!({ "type": "object", "required": ["build"], "properties": { "build": schema_ref("Build") } });
    let accepted = schema_ref("BuildAccepted");
    let any = json!({ "type": "object" });
    let op = |method, path, summary, tag, auth, body, ok, answer, errors| Op {
        method,
        path,
        summary,
        tag,
        auth,
        body,
        ok,
        answer,
        errors,
    };
    let user = Some("bearer");
    let operator = Some("operator");
    vec![
        op(
            "get",
            "/api/health",
            "Readiness: 200 once the database schema is in place",
            "platform",
            None,
            None,
            200,
            object(json!({ "ok": { "type": "boolean" } }), &[]),
            &[500],
        ),
        op(
            "get",
            "/api/openapi.json",
            "This description",
            "platform",
            None,
            None,
            200,
            any.clone(),
            &[],
        ),
        op(
            "post",
            "/api/auth/register",
            "Create an account",
            "auth",
            None,
            Some(schema_ref("Credentials")),
            201,
            schema_ref("Session"),
            &[400, 409, 413, 415, 429],
        ),
        op(
            "post",
            "/api/auth/login",
            "Sign in",
            "auth",
            None,
            Some(schema_ref("Credentials")),
            200,
            schema_ref("Session"),
            &[400, 401, 413, 415, 429],
        ),
        op(
            "post",
            "/api/auth/logout",
            "Revoke the caller's session",
            "auth",
            user,
            None,
            204,
            Value::Null,
            &[400, 401],
        ),
        op(
            "get",
            "/api/auth/me",
            "The signed-in user",
            "auth",
            user,
            None,
            200,
            any.clone(),
            &[401],
        ),
        op(
            "post",
            "/api/tokens",
            "Create an API token (shown once)",
            "tokens",
            user,
            Some(object(
                json!({ "name": { "type": "string", "maxLength": 100 }, "scopes": { "type": "array", "items": { "enum": ["read", "write"] } }, "expires_in": { "type": "integer", "minimum": 60 } }),
                &["name"],
            )),
            201,
            schema_ref("NewToken"),
            &[400, 401, 403, 422],
        ),
        op(
            "get",
            "/api/tokens",
            "The caller's API tokens, without secrets",
            "tokens",
            user,
            None,
            200,
            object(
                json!({ "tokens": { "type": "array", "items": schema_ref("Token") } }),
                &["tokens"],
            ),
            &[401],
        ),
        op(
            "delete",
            "/api/tokens/{id}",
            "Revoke an API token at once",
            "tokens",
            user,
            None,
            204,
            Value::Null,
            &[401, 403, 404],
        ),
        op(
            "get",
            "/api/projects",
            "The caller's projects, newest first",
            "projects",
            user,
            None,
            200,
            object(
                json!({ "projects": { "type": "array", "items": schema_ref("Project") } }),
                &["projects"],
            ),
            &[401],
        ),
        op(
            "post",
            "/api/projects",
            "Create a project with a unique app slug",
            "projects",
            user,
            Some(object(
                json!({ "name": { "type": "string", "minLength": 1, "maxLength": 100 } }),
                &["name"],
            )),
            201,
            project.clone(),
            &[400, 401, 403, 422],
        ),
        op(
            "get",
            "/api/projects/{id}",
            "One project (another user's is a 404)",
            "projects",
            user,
            None,
            200,
            project.clone(),
            &[401, 404],
        ),
        op(
            "patch",
            "/api/projects/{id}",
            "Rename (the slug and URL stay)",
            "projects",
            user,
            Some(object(json!({ "name": { "type": "string" } }), &["name"])),
            200,
            project,
            &[400, 401, 404],
        ),
        op(
            "delete",
            "/api/projects/{id}",
            "Delete the project; its app is torn down by a durable job",
            "projects",
            user,
            None,
            204,
            Value::Null,
            &[401, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/messages",
            "The project's chat",
            "projects",
            user,
            None,
            200,
            any.clone(),
            &[401, 404],
        ),
        op(
            "post",
            "/api/projects/{id}/messages",
            "Post a chat message (no build)",
            "projects",
            user,
            Some(object(
                json!({ "content": { "type": "string" } }),
                &["content"],
            )),
            201,
            any.clone(),
            &[400, 401, 404, 422],
        ),
        op(
            "get",
            "/api/projects/{id}/builds",
            "The project's builds, newest first",
            "builds",
            user,
            None,
            200,
            object(
                json!({ "builds": { "type": "array", "items": schema_ref("Build") } }),
                &["builds"],
            ),
            &[401, 404],
        ),
        op(
            "post",
            "/api/projects/{id}/builds",
            "Request a build from a prompt",
            "builds",
            user,
            Some(object(
                json!({ "prompt": { "type": "string", "maxLength": 10000 } }),
                &["prompt"],
            )),
            202,
            accepted.clone(),
            &[400, 401, 403, 404, 409, 422, 429, 503],
        ),
        op(
            "post",
            "/api/projects/{id}/chat",
            "Post a chat message and build from it",
            "builds",
            user,
            Some(object(
                json!({ "message": { "type": "string", "maxLength": 10000 } }),
                &["message"],
            )),
            202,
            accepted,
            &[400, 401, 403, 404, 409, 422, 429, 503],
        ),
        op(
            "get",
            "/api/builds/{id}",
            "A build: status, steps, usage, validation, repairs",
            "builds",
            user,
            None,
            200,
            build,
            &[401, 404],
        ),
        op(
            "post",
            "/api/projects/{id}/webhooks",
            "Subscribe a URL to the project's build callbacks (Standard Webhooks; the secret is shown once)",
            "webhooks",
            user,
            Some(object(json!({ "url": { "type": "string", "format": "uri" }, "events": { "type": "array", "items": { "type": "string" } }, "description": { "type": "string" } }), &["url"])),
            201,
            schema_ref("Webhook"),
            &[400, 401, 403, 404, 422],
        ),
        op(
            "get",
            "/api/projects/{id}/webhooks",
            "The project's webhook endpoints (no secrets)",
            "webhooks",
            user,
            None,
            200,
            json!({ "type": "object" }),
            &[401, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/webhooks/{wid}",
            "One webhook endpoint",
            "webhooks",
            user,
            None,
            200,
            json!({ "type": "object" }),
            &[401, 404],
        ),
        op(
            "patch",
            "/api/projects/{id}/webhooks/{wid}",
            "Change the URL, event types, description or enabled flag",
            "webhooks",
            user,
            Some(json!({ "type": "object", "properties": { "url": { "type": "string" }, "events": { "type": "array", "items": { "type": "string" } }, "enabled": { "type": "boolean" }, "description": { "type": "string" } } })),
            200,
            json!({ "type": "object" }),
            &[400, 401, 403, 404],
        ),
        op(
            "delete",
            "/api/projects/{id}/webhooks/{wid}",
            "Remove a webhook endpoint",
            "webhooks",
            user,
            None,
            204,
            Value::Null,
            &[401, 403, 404],
        ),
        op(
            "post",
            "/api/projects/{id}/webhooks/{wid}/rotate-secret",
            "A new signing secret (shown once)",
            "webhooks",
            user,
            None,
            200,
            json!({ "type": "object" }),
            &[401, 403, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/webhooks/{wid}/deliveries",
            "Delivery attempts, newest first",
            "webhooks",
            user,
            None,
            200,
            json!({ "type": "object" }),
            &[401, 404],
        ),
        op(
            "post",
            "/api/projects/{id}/webhooks/{wid}/deliveries/{did}/redeliver",
            "Send a delivery again (same webhook-id and body)",
            "webhooks",
            user,
            None,
            202,
            json!({ "type": "object" }),
            &[401, 403, 404],
        ),
        op(
            "post",
            "/api/builds/{id}/replay",
            "A new build from this build's recorded outputs (no model call), or a fork from a step",
            "builds",
            user,
            Some(object(
                json!({ "from_step": { "type": "string", "examples": ["codegen"] }, "prompt": { "type": "string" } }),
                &[],
            )),
            202,
            schema_ref("BuildAccepted"),
            &[400, 401, 403, 404, 409, 422, 429, 503],
        ),
        op(
            "post",
            "/api/builds/{id}/cancel",
            "Cancel a build in progress: its workflow is terminated, BuildCancelled is recorded and the live version stays (cancelling twice is fine; a build that already ended is a 409)",
            "builds",
            user,
            None,
            202,
            object(
                json!({ "build_id": { "type": "string" }, "status": { "const": "cancelled" }, "step": { "type": ["string", "null"] }, "cancelled_now": { "type": "boolean" }, "build_url": { "type": "string" } }),
                &["build_id", "status"],
            ),
            &[401, 403, 404, 409, 422],
        ),
        op(
            "post",
            "/api/projects/{id}/rollback",
            "Make an earlier version live again (a durable workflow; data and schema are kept)",
            "builds",
            user,
            Some(
                json!({ "type": "object", "properties": { "version": { "type": "integer", "minimum": 1 }, "build_id": { "type": "string" } } }),
            ),
            202,
            json!({ "type": "object" }),
            &[400, 401, 403, 404, 409, 422],
        ),
        op(
            "get",
            "/api/builds/{id}/plan",
            "The full plan of a build (entities and fields, pages, features, storage)",
            "builds",
            user,
            None,
            200,
            object(
                json!({ "build_id": { "type": "string" }, "plan": { "type": "object" } }),
                &["plan"],
            ),
            &[401, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/events",
            "The event log (JSON pages, or SSE with Accept: text/event-stream)",
            "events",
            user,
            None,
            200,
            any.clone(),
            &[400, 401, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/events/verify",
            "Hash-chain check",
            "events",
            user,
            None,
            200,
            object(
                json!({ "ok": { "type": "boolean" }, "events": { "type": "integer" }, "seq": { "type": "integer" }, "reason": { "type": "string" } }),
                &["ok"],
            ),
            &[401, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/versions",
            "Code versions",
            "versions",
            user,
            None,
            200,
            any.clone(),
            &[401, 404],
        ),
        op(
            "post",
            "/api/projects/{id}/versions",
            "Save a code version",
            "versions",
            user,
            Some(object(
                json!({ "files": { "type": "object", "additionalProperties": { "type": "string" } }, "parent": { "type": "integer" }, "encoding": { "enum": ["utf8", "base64"] } }),
                &["files"],
            )),
            201,
            any.clone(),
            &[400, 401, 403, 404, 409, 413, 422],
        ),
        op(
            "get",
            "/api/projects/{id}/versions/{n}",
            "A version's manifest",
            "versions",
            user,
            None,
            200,
            any.clone(),
            &[400, 401, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/versions/{n}/files/{path}",
            "A file's raw content",
            "versions",
            user,
            None,
            200,
            json!({ "type": "string" }),
            &[400, 401, 404],
        ),
        op(
            "get",
            "/api/projects/{id}/versions/{a}/diff/{b}",
            "Changed files with unified diffs",
            "versions",
            user,
            None,
            200,
            any.clone(),
            &[400, 401, 404],
        ),
        op(
            "get",
            "/api/admin/projections",
            "Dump the D1 projections (operator)",
            "operator",
            operator,
            None,
            200,
            any.clone(),
            &[401, 404],
        ),
        op(
            "post",
            "/api/admin/projections/rebuild",
            "Start a chunked rebuild of the projections from the log, or resume the unfinished one from its cursor (operator; query chunk=N events per chunk, 1 to 5000)",
            "operator",
            operator,
            None,
            202,
            any.clone(),
            &[400, 401, 404],
        ),
        op(
            "get",
            "/api/admin/projections/rebuild",
            "Progress of the newest projection rebuild: status, cursor, streams and events done (operator)",
            "operator",
            operator,
            None,
            200,
            any.clone(),
            &[401, 404],
        ),
        op(
            "get",
            "/api/admin/projects/{id}/events",
            "Any project's event log, deleted ones included (operator)",
            "operator",
            operator,
            None,
            200,
            any,
            &[401, 404],
        ),
    ]
}

fn schemas() -> Value {
    json!({
        "Error": object(json!({ "error": object(json!({
            "code": { "type": "string", "examples": ["invalid_field"] },
            "message": { "type": "string", "examples": ["name must not be empty"] },
            "field": { "type": "string" }
        }), &["code", "message"]) }), &["error"]),
        "Credentials": object(json!({ "email": { "type": "string", "format": "email", "examples": ["ada@example.com"] }, "password": { "type": "string", "minLength": 8, "examples": ["correct horse battery"] } }), &["email", "password"]),
        "Session": object(json!({ "token": { "type": "string" }, "expires_in": { "type": "integer" }, "user": { "type": "object" } }), &["token", "user"]),
        "Project": object(json!({ "id": { "type": "string", "format": "uuid" }, "name": { "type": "string" }, "slug": { "type": "string", "examples": ["recipe-book"] }, "url": { "type": "string", "format": "uri" }, "created_at": { "type": "integer" }, "updated_at": { "type": "integer" } }), &["id", "name", "slug"]),
        "BuildAccepted": object(json!({ "build_id": { "type": "string" }, "build_url": { "type": "string" }, "events_url": { "type": "string" }, "created": { "type": "boolean" } }), &["build_id"]),
        "Build": object(json!({ "id": { "type": "string" }, "project_id": { "type": "string" }, "status": { "enum": ["requested", "running", "succeeded", "failed", "cancelled"] }, "prompt": { "type": "string" }, "steps": { "type": "array" }, "usage": { "type": "object" }, "error": { "type": ["object", "null"] }, "cancelled_in": { "type": ["string", "null"] } }), &["id", "status"]),
        "Token": object(json!({ "id": { "type": "string" }, "name": { "type": "string" }, "scopes": { "type": "array", "items": { "enum": ["read", "write"] } }, "hint": { "type": "string" }, "created_at": { "type": "integer" }, "expires_at": { "type": ["integer", "null"] }, "last_used_at": { "type": ["integer", "null"] } }), &["id", "name", "scopes"]),
        "Webhook": object(json!({ "id": { "type": "string" }, "url": { "type": "string" }, "events": { "type": "array", "items": { "type": "string" } }, "description": { "type": ["string", "null"] }, "enabled": { "type": "boolean" }, "secret": { "type": ["string", "null"] }, "created_at": { "type": "integer" } }), &["id", "url", "events"]),
        "NewToken": object(json!({ "id": { "type": "string" }, "name": { "type": "string" }, "scopes": { "type": "array", "items": { "type": "string" } }, "token": { "type": ["string", "null"], "examples": ["kiln_…"] }, "created_at": { "type": "integer" }, "expires_at": { "type": ["integer", "null"] } }), &["id", "name", "scopes"]),
    })
}

/// `GET /api/openapi.json`.
pub fn get() -> Result<worker::Response, crate::error::ApiError> {
    crate::http::json(200, &document())
}

/// The whole description.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in ops() {
        let mut responses = Map::new();
        let ok = if op.answer.is_null() {
            json!({ "description": "done" })
        } else {
            json!({ "description": "done", "content": { "application/json": { "schema": op.answer } } })
        };
        responses.insert(op.ok.to_string(), ok);
        for status in op.errors {
            responses.insert(
                status.to_string(),
                json!({ "description": "error", "content": { "application/json": { "schema": schema_ref("Error") } } }),
            );
        }
        let mut operation = json!({
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": format!("{}_{}", op.method, op.path.trim_start_matches("/api/").replace(['/', '{', '}', '.'], "_")),
            "responses": responses,
        });
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some(body) = op.body {
            operation["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": body } } });
        }
        match op.auth {
            Some("operator") => operation["security"] = json!([{ "operator": [] }]),
            Some(_) => operation["security"] = json!([{ "bearer": [] }]),
            None => operation["security"] = json!([]),
        }
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kiln API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Describe an app, get a live full-stack app. Errors are always {\"error\": {\"code\", \"message\", \"field\"?}}. POSTs that create something honour Idempotency-Key.",
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A session token from /api/auth/login, or an API token (kiln_…) from /api/tokens" },
                "operator": { "type": "http", "scheme": "bearer", "description": "OPERATOR_TOKEN" },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// (method, OpenAPI path) of every arm of the route table in `src/api/mod.rs`.
    fn routes_in_table() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let mut out = BTreeSet::new();
        let mut current: Option<Vec<String>> = None;
        for line in source.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("[\"api\"") {
                let pattern = &rest[..rest.find(']').expect("closing bracket")];
                let mut path = vec!["api".to_string()];
                for seg in pattern.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let seg = seg.trim_end_matches(" @ ..");
                    path.push(match seg.strip_prefix('"') {
                        Some(lit) => lit.trim_end_matches('"').to_string(),
                        None => format!("{{{seg}}}"),
                    });
                }
                current = Some(path);
                continue;
            }
            let Some(path) = &current else { continue };
            // `Method::Get => …` arms, and the auth table's `("register", Method::Post) => …`.
            for (i, _) in line.match_indices("Method::") {
                let method: String = line[i + 8..]
                    .chars()
                    .take_while(char::is_ascii_alphabetic)
                    .collect();
                if !line[i..].contains("=>") || method == "Head" {
                    continue;
                }
                let mut full = path.clone();
                if let Some(name) = line.strip_prefix("(\"").and_then(|l| l.split('"').next()) {
                    if full.last().is_some_and(|s| s.starts_with('{')) {
                        full.pop();
                        full.push(name.to_string());
                    }
                }
                out.insert((method.to_lowercase(), format!("/{}", full.join("/"))));
            }
        }
        out
    }

    fn normalise(path: &str) -> String {
        path.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let table: BTreeSet<(String, String)> = routes_in_table()
            .into_iter()
            .filter(|(_, p)| !p.starts_with("/api/_test/"))
            .map(|(m, p)| (m, normalise(&p)))
            .collect();
        assert!(table.len() > 20, "the route table was not read: {table:?}");
        let documented: BTreeSet<(String, String)> = ops()
            .iter()
            .map(|o| (o.method.to_string(), normalise(o.path)))
            .collect();
        let undocumented: Vec<_> = table.difference(&documented).collect();
        let missing: Vec<_> = documented.difference(&table).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI description: {undocumented:?}"
        );
        assert!(
            missing.is_empty(),
            "documented routes the table does not have: {missing:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_resolvable_references() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let text = doc.to_string();
        for name in schemas().as_object().unwrap().keys() {
            assert!(
                text.contains(&format!("#/components/schemas/{name}"))
                    || name == "Credentials"
                    || name == "Error"
            );
        }
        for (i, _) in text.match_indices("#/components/schemas/") {
            let name: String = text[i + 21..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                schemas().get(&name).is_some(),
                "dangling reference to {name}"
            );
        }
        // Every path parameter is declared.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (_, op) in item.as_object().unwrap() {
                let declared = op["parameters"].as_array().map_or(0, Vec::len);
                assert_eq!(declared, path.matches('{').count(), "{path}");
            }
        }
    }
}
