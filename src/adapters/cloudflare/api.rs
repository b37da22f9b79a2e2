//! Typed calls of the Cloudflare REST API that Kiln's `cloudflare` deploy target uses: D1, R2
//! buckets (and their objects, for teardown), Workers static-assets uploads and Workers for
//! Platforms scripts. Each builds its request from typed input and reads a typed result; the
//! transport, envelope, retries and error typing are [`super::client`]'s.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::{Body, CfError, Client, Method, Secret, Transport};
use super::multipart::{form, Part};

/// A D1 database.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct D1Database {
    /// Its id (used in bindings and the query API).
    pub uuid: String,
    /// Its name.
    pub name: String,
}

/// The result of one statement of a D1 query.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueryResult {
    /// Rows as objects.
    #[serde(default)]
    pub results: Vec<Value>,
    /// Whether the statement succeeded.
    #[serde(default)]
    pub success: bool,
    /// `changes`, `last_row_id`, `rows_read`, … as D1 reports them.
    #[serde(default)]
    pub meta: Value,
}

/// One entry of an assets manifest: the first 32 hex characters of the SHA-256 of the bytes, and
/// the size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetEntry {
    /// 32 hex characters.
    pub hash: String,
    /// Bytes.
    pub size: u64,
}

/// An assets upload session.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSession {
    /// The session's upload token (a credential; also the completion token when `buckets` is
    /// empty).
    pub jwt: Secret,
    /// Hashes to upload, one request per bucket.
    pub buckets: Vec<Vec<String>>,
}

/// A file to upload in an assets bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFile {
    /// Its manifest hash.
    pub hash: String,
    /// Its content type.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A dispatch-namespace script in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScriptInfo {
    /// The script name.
    pub id: String,
}

/// A worker module of a script upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its name (path), as `main_module` and imports name it.
    pub name: String,
    /// Its code.
    pub code: String,
}

/// Percent-encodes one URL path segment or query value (RFC 3986 unreserved characters stay).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The manifest hash of some bytes: the first 32 hex characters of their SHA-256.
pub fn asset_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode<T: for<'de> Deserialize<'de>>(what: &str, v: Value) -> Result<T, CfError> {
    serde_json::from_value(v).map_err(|e| CfError::BadResponse(format!("{what}: {e}")))
}

fn gone_is_fine(r: Result<Value, CfError>) -> Result<bool, CfError> {
    match r {
        Ok(_) => Ok(true),
        Err(CfError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

impl<T: Transport> Client<T> {
    /// The database named exactly `name`, if any (`GET /d1/database?name=`, which matches by
    /// substring: the exact name is picked here).
    pub async fn d1_find(&self, name: &str) -> Result<Option<D1Database>, CfError> {
        let v = self
            .call(
                Method::Get,
                &format!("/d1/database?name={}&per_page=100", encode(name)),
                Body::Empty,
            )
            .await?;
        let all: Vec<D1Database> = decode("database list", v)?;
        Ok(all.into_iter().find(|d| d.name == name))
    }

    /// Creates a database.
    pub async fn d1_create(&self, name: &str) -> Result<D1Database, CfError> {
        let v = self
            .call(
                Method::Post,
                "/d1/database",
                Body::Json(json!({ "name": name })),
            )
            .await?;
        decode("created database", v)
    }

    /// The database named `name`, created if there is none. A retry after a create whose answer
    /// was lost finds it by name; a concurrent create (7502) is answered by looking it up again:
    /// never a second database.
    pub async fn d1_find_or_create(&self, name: &str) -> Result<D1Database, CfError> {
        if let Some(db) = self.d1_find(name).await? {
            return Ok(db);
        }
        match self.d1_create(name).await {
            Ok(db) => Ok(db),
            Err(CfError::NameExists(m)) => self.d1_find(name).await?.ok_or_else(|| {
                CfError::BadResponse(format!("'{name}' exists ({m}) but is not listed"))
            }),
            Err(e) => Err(e),
        }
    }

    /// Runs `sql` (one statement or several separated by `;`) with `params`; one result per
    /// statement.
    pub async fn d1_query(
        &self,
        uuid: &str,
        sql: &str,
        params: &[Value],
    ) -> Result<Vec<QueryResult>, CfError> {
        let v = self
            .call(
                Method::Post,
                &format!("/d1/database/{}/query", encode(uuid)),
                Body::Json(json!({ "sql": sql, "params": params })),
            )
            .await?;
        decode("query results", v)
    }

    /// Deletes a database; `false` when it was already gone.
    pub async fn d1_delete(&self, uuid: &str) -> Result<bool, CfError> {
        gone_is_fine(
            self.call(
                Method::Delete,
                &format!("/d1/database/{}", encode(uuid)),
                Body::Empty,
            )
            .await,
        )
    }

    /// Creates an R2 bucket; `false` when this account already has it.
    pub async fn r2_create_bucket(&self, name: &str) -> Result<bool, CfError> {
        match self
            .call(
                Method::Post,
                "/r2/buckets",
                Body::Json(json!({ "name": name })),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(CfError::NameExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes an (empty) R2 bucket; `false` when it was already gone.
    pub async fn r2_delete_bucket(&self, name: &str) -> Result<bool, CfError> {
        gone_is_fine(
            self.call(
                Method::Delete,
                &format!("/r2/buckets/{}", encode(name)),
                Body::Empty,
            )
            .await,
        )
    }

    /// The first page of keys in a bucket (empty when the bucket is empty or gone).
    pub async fn r2_list_keys(&self, bucket: &str) -> Result<Vec<String>, CfError> {
        #[derive(Deserialize)]
        struct Object {
            key: String,
        }
        match self
            .call(
                Method::Get,
                &format!("/r2/buckets/{}/objects?per_page=1000", encode(bucket)),
                Body::Empty,
            )
            .await
        {
            Ok(v) => Ok(decode::<Vec<Object>>("object list", v)?
                .into_iter()
                .map(|o| o.key)
                .collect()),
            Err(CfError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Deletes one object; `false` when it was already gone.
    pub async fn r2_delete_object(&self, bucket: &str, key: &str) -> Result<bool, CfError> {
        gone_is_fine(
            self.call(
                Method::Delete,
                &format!("/r2/buckets/{}/objects/{}", encode(bucket), encode(key)),
                Body::Empty,
            )
            .await,
        )
    }

    /// Opens an assets upload session for a dispatch-namespace script.
    pub async fn assets_upload_session(
        &self,
        namespace: &str,
        script: &str,
        manifest: &BTreeMap<String, AssetEntry>,
    ) -> Result<UploadSession, CfError> {
        #[derive(Deserialize)]
        struct Raw {
            jwt: String,
            #[serde(default)]
            buckets: Vec<Vec<String>>,
        }
        let v = self
            .call(
                Method::Post,
                &format!(
                    "/workers/dispatch/namespaces/{}/scripts/{}/assets-upload-session",
                    encode(namespace),
                    encode(script)
                ),
                Body::Json(json!({ "manifest": manifest })),
            )
            .await?;
        let raw: Raw = decode("upload session", v)?;
        Ok(UploadSession {
            jwt: Secret::new(raw.jwt),
            buckets: raw.buckets,
        })
    }

    /// Uploads one bucket of files with the session's token (`?base64=true`: each form field is
    /// named by the hash and holds the base64 of the bytes). The last bucket's answer carries the
    /// completion token.
    pub async fn assets_upload(
        &self,
        session: &Secret,
        files: &[AssetFile],
    ) -> Result<Option<Secret>, CfError> {
        let parts: Vec<Part> = files
            .iter()
            .map(|f| Part {
                name: f.hash.clone(),
                filename: Some(f.hash.clone()),
                content_type: f.content_type.clone(),
                bytes: base64::engine::general_purpose::STANDARD
                    .encode(&f.bytes)
                    .into_bytes(),
            })
            .collect();
        let (content_type, bytes) = form(&parts);
        let v = self
            .call_with(
                Method::Post,
                "/workers/assets/upload?base64=true",
                session,
                Body::Raw {
                    content_type,
                    bytes,
                },
            )
            .await?;
        Ok(v.get("jwt").and_then(|j| j.as_str()).map(Secret::new))
    }

    /// Uploads (creates or replaces) a script in a dispatch namespace: the `metadata` part, then
    /// one part per module.
    pub async fn script_upload(
        &self,
        namespace: &str,
        name: &str,
        metadata: &Value,
        modules: &[Module],
    ) -> Result<Value, CfError> {
        let mut parts = vec![Part {
            name: "metadata".into(),
            filename: None,
            content_type: "application/json".into(),
            bytes: metadata.to_string().into_bytes(),
        }];
        parts.extend(modules.iter().map(|m| Part {
            name: m.name.clone(),
            filename: Some(m.name.clone()),
            content_type: "application/javascript+module".into(),
            bytes: m.code.clone().into_bytes(),
        }));
        let (content_type, bytes) = form(&parts);
        self.call(
            Method::Put,
            &format!(
                "/workers/dispatch/namespaces/{}/scripts/{}",
                encode(namespace),
                encode(name)
            ),
            Body::Raw {
                content_type,
                bytes,
            },
        )
        .await
    }

    /// Deletes a script (and its assets); `false` when it was already gone.
    pub async fn script_delete(&self, namespace: &str, name: &str) -> Result<bool, CfError> {
        gone_is_fine(
            self.call(
                Method::Delete,
                &format!(
                    "/workers/dispatch/namespaces/{}/scripts/{}?force=true",
                    encode(namespace),
                    encode(name)
                ),
                Body::Empty,
            )
            .await,
        )
    }

    /// Deletes every script of the namespace that carries `tag`.
    pub async fn scripts_delete_by_tag(&self, namespace: &str, tag: &str) -> Result<(), CfError> {
        gone_is_fine(
            self.call(
                Method::Delete,
                &format!(
                    "/workers/dispatch/namespaces/{}/scripts?tags={}",
                    encode(namespace),
                    encode(&format!("{tag}:yes"))
                ),
                Body::Empty,
            )
            .await,
        )
        .map(|_| ())
    }

    /// The scripts of the namespace that carry `tag`.
    pub async fn scripts_with_tag(
        &self,
        namespace: &str,
        tag: &str,
    ) -> Result<Vec<ScriptInfo>, CfError> {
        let v = self
            .call(
                Method::Get,
                &format!(
                    "/workers/dispatch/namespaces/{}/scripts?tags={}",
                    encode(namespace),
                    encode(&format!("{tag}:yes"))
                ),
                Body::Empty,
            )
            .await?;
        decode("script list", v)
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::tests::{block, client, fail, ok, TOKEN};
    use super::*;

    fn body_text(c: &Client<super::super::client::tests::Script>, i: usize) -> String {
        String::from_utf8(c.transport().sent.borrow()[i].body.clone()).unwrap()
    }

    #[test]
    fn find_or_create_finds_by_exact_name_and_never_creates_twice() {
        let c = client(vec![ok(json!([
            {"uuid": "u-other", "name": "kiln-app-p1-old"},
            {"uuid": "u1", "name": "kiln-app-p1"}
        ]))]);
        let db = block(c.d1_find_or_create("kiln-app-p1")).unwrap();
        assert_eq!(db.uuid, "u1");
        let sent = c.transport().sent.borrow();
        assert_eq!(sent.len(), 1);
        assert!(sent[0]
            .url
            .ends_with("/d1/database?name=kiln-app-p1&per_page=100"));
    }

    #[test]
    fn find_or_create_creates_once_and_answers_a_lost_race_by_looking_up() {
        let c = client(vec![
            ok(json!([])),
            ok(json!({"uuid": "u2", "name": "kiln-app-p2"})),
        ]);
        assert_eq!(
            block(c.d1_find_or_create("kiln-app-p2")).unwrap().uuid,
            "u2"
        );
        assert_eq!(body_text(&c, 1), r#"{"name":"kiln-app-p2"}"#);

        let c = client(vec![
            ok(json!([])),
            fail(400, 7502, "A database with that name already exists"),
            ok(json!([{"uuid": "u3", "name": "kiln-app-p3"}])),
        ]);
        assert_eq!(
            block(c.d1_find_or_create("kiln-app-p3")).unwrap().uuid,
            "u3"
        );
        assert_eq!(c.transport().sent.borrow().len(), 3);
    }

    #[test]
    fn queries_send_sql_and_params_and_read_per_statement_results() {
        let c = client(vec![ok(json!([
            {"results": [{"name": "0001_init.sql"}], "success": true, "meta": {"changes": 0}}
        ]))]);
        let r = block(c.d1_query("u1", "SELECT name FROM t WHERE x = ?", &[json!(1)])).unwrap();
        assert_eq!(r[0].results[0]["name"], "0001_init.sql");
        assert!(c.transport().sent.borrow()[0]
            .url
            .ends_with("/accounts/acc123/d1/database/u1/query"));
        assert_eq!(
            body_text(&c, 0),
            r#"{"params":[1],"sql":"SELECT name FROM t WHERE x = ?"}"#
        );
    }

    #[test]
    fn deletes_of_missing_things_are_no_ops() {
        let c = client(vec![
            fail(404, 7404, "not found"),
            fail(404, 10006, "no such bucket"),
            fail(404, 10007, "script not found"),
        ]);
        assert!(!block(c.d1_delete("u1")).unwrap());
        assert!(!block(c.r2_delete_bucket("b")).unwrap());
        assert!(!block(c.script_delete("kiln-apps", "s")).unwrap());
        let sent = c.transport().sent.borrow();
        assert_eq!(sent[2].method, Method::Delete);
        assert!(sent[2]
            .url
            .ends_with("/workers/dispatch/namespaces/kiln-apps/scripts/s?force=true"));
    }

    #[test]
    fn an_existing_bucket_is_fine_and_other_refusals_are_not() {
        let c = client(vec![
            fail(409, 10004, "The bucket you tried to create already exists"),
            fail(403, 10000, "Authentication error"),
        ]);
        assert!(!block(c.r2_create_bucket("kiln-app-p1")).unwrap());
        assert!(matches!(
            block(c.r2_create_bucket("kiln-app-p1")),
            Err(CfError::Auth(_))
        ));
    }

    #[test]
    fn an_upload_session_posts_the_manifest_and_uploads_use_its_token() {
        let mut manifest = BTreeMap::new();
        manifest.insert(
            "/index.html".to_string(),
            AssetEntry {
                hash: asset_hash(b"<h1>hi</h1>"),
                size: 11,
            },
        );
        let c = client(vec![
            ok(json!({"jwt": "session-jwt", "buckets": [[asset_hash(b"<h1>hi</h1>")]]})),
            answer_201(json!({"jwt": "completion-jwt"})),
        ]);
        let s = block(c.assets_upload_session("kiln-apps", "kiln-p1-v1", &manifest)).unwrap();
        assert_eq!(s.buckets.len(), 1);
        let body: Value = serde_json::from_str(&body_text(&c, 0)).unwrap();
        assert_eq!(body["manifest"]["/index.html"]["size"], 11);
        assert_eq!(
            body["manifest"]["/index.html"]["hash"]
                .as_str()
                .unwrap()
                .len(),
            32
        );
        let done = block(c.assets_upload(
            &s.jwt,
            &[AssetFile {
                hash: asset_hash(b"<h1>hi</h1>"),
                content_type: "text/html".into(),
                bytes: b"<h1>hi</h1>".to_vec(),
            }],
        ))
        .unwrap();
        assert_eq!(done.unwrap().expose(), "completion-jwt");
        let sent = c.transport().sent.borrow();
        assert!(sent[0].url.ends_with(
            "/workers/dispatch/namespaces/kiln-apps/scripts/kiln-p1-v1/assets-upload-session"
        ));
        assert!(sent[1]
            .url
            .ends_with("/accounts/acc123/workers/assets/upload?base64=true"));
        assert_eq!(sent[1].header("authorization"), Some("Bearer session-jwt"));
        assert_ne!(
            sent[1].header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        let text = body_text(&c, 1);
        assert!(
            text.contains(&format!(
            "name=\"{h}\"; filename=\"{h}\"\r\nContent-Type: text/html\r\n\r\nPGgxPmhpPC9oMT4=\r\n",
            h = asset_hash(b"<h1>hi</h1>")
        )),
            "{text}"
        );
    }

    fn answer_201(result: Value) -> Result<super::super::client::HttpResponse, String> {
        super::super::client::tests::answer(
            201,
            json!({"success": true, "errors": [], "messages": [], "result": result}),
        )
    }

    #[test]
    fn a_script_upload_is_a_multipart_put_with_metadata_first() {
        let c = client(vec![ok(json!({"id": "kiln-p1-v1"}))]);
        let metadata = json!({"main_module": "worker.js", "tags": ["kiln", "project-p1"]});
        block(c.script_upload(
            "kiln-apps",
            "kiln-p1-v1",
            &metadata,
            &[Module {
                name: "worker.js".into(),
                code: "export default {}".into(),
            }],
        ))
        .unwrap();
        let sent = c.transport().sent.borrow();
        assert_eq!(sent[0].method, Method::Put);
        assert!(sent[0]
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary="));
        let text = String::from_utf8(sent[0].body.clone()).unwrap();
        let meta_at = text.find("name=\"metadata\"").unwrap();
        let module_at = text.find("name=\"worker.js\"; filename=\"worker.js\"\r\nContent-Type: application/javascript+module").unwrap();
        assert!(meta_at < module_at);
        assert!(text.contains(&metadata.to_string()));
    }

    #[test]
    fn tag_deletes_and_listings_use_the_tag_filter() {
        let c = client(vec![ok(json!(null)), ok(json!([{"id": "kiln-p1-v1"}]))]);
        block(c.scripts_delete_by_tag("kiln-apps", "project-p1")).unwrap();
        let left = block(c.scripts_with_tag("kiln-apps", "project-p1")).unwrap();
        assert_eq!(left[0].id, "kiln-p1-v1");
        let sent = c.transport().sent.borrow();
        assert!(sent[0]
            .url
            .ends_with("/workers/dispatch/namespaces/kiln-apps/scripts?tags=project-p1%3Ayes"));
        assert_eq!(sent[0].method, Method::Delete);
    }

    #[test]
    fn path_values_are_encoded() {
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(encode("kiln-app_1.x~"), "kiln-app_1.x~");
    }
}
