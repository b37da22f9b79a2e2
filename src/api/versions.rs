//! `/api/projects/:id/versions`: the project's code versions (content-addressed in R2).
//!
//! `POST` saves a version from the owner's files (an upload or a manual edit) and records
//! `VersionSaved`; builds save versions through the same store. Reads return manifests, raw
//! files with their content type, and diffs between two versions.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use codestore::{diff_versions, save_version, CodeStore, CodeStoreError, FilePath, Manifest};
use events::envelope::Metadata;
use events::Command;
use serde::Deserialize;
use serde_json::json;
use worker::{Headers, Request, Response};

use crate::adapters::code_store::R2CodeStore;
use crate::adapters::webcrypto;
use crate::api::events::owned;
use crate::api::limits;
use crate::domain::email::clip;
use crate::error::ApiError;
use crate::http::{json, read_json, Ctx};
use crate::service;

fn code_store(ctx: &Ctx) -> Result<R2CodeStore, ApiError> {
    R2CodeStore::of(&ctx.env)
}

fn store_error(e: CodeStoreError) -> ApiError {
    match e {
        CodeStoreError::NotFound { version, .. } => {
            ApiError::NotFound(format!("version {version} not found"))
        }
        CodeStoreError::Storage(_)
        | CodeStoreError::Corrupt { .. }
        | CodeStoreError::MissingBlob { .. }
        | CodeStoreError::VersionContention { .. } => ApiError::internal(e),
        CodeStoreError::Path(p) => ApiError::invalid_field("files", p.to_string()),
        other => ApiError::BadRequest(other.to_string()),
    }
}

fn parse_version(raw: &str) -> Result<u32, ApiError> {
    raw.parse::<u32>().ok().filter(|v| *v >= 1).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "version '{}' must be a whole number from 1",
            clip(raw)
        ))
    })
}

async fn manifest(store: &R2CodeStore, id: &str, version: u32) -> Result<Manifest, ApiError> {
    store
        .get_manifest(id, version)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::NotFound(format!("version {version} not found")))
}

fn summary(m: &Manifest) -> serde_json::Value {
    json!({
        "version": m.version,
        "parent": m.parent,
        "build_id": m.build_id,
        "created_at": m.created_at_ms,
        "files": m.files.len(),
        "bytes": m.total_bytes(),
    })
}

#[derive(Deserialize)]
struct SaveBody {
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    parent: Option<u32>,
    /// `utf8` (default) or `base64` for binary files.
    #[serde(default)]
    encoding: Option<String>,
}

/// `POST /api/projects/:id/versions {files: {path: content}, parent?, encoding?}` → 201.
pub async fn save(req: &mut Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let user = owned(req, ctx, id).await?;
    let quota = &ctx.config.limits;
    let body: SaveBody = read_json(req, limits::upload_body_limit(quota)).await?;
    if body.files.is_empty() {
        return Err(ApiError::invalid_field(
            "files",
            "files is required: an object of path → content",
        ));
    }
    let base64 = match body.encoding.as_deref() {
        None | Some("utf8") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "encoding",
                format!(
                    "encoding '{}' is not supported; use 'utf8' or 'base64'",
                    clip(other)
                ),
            ))
        }
    };
    let mut files = Vec::with_capacity(body.files.len());
    for (path, content) in body.files {
        let path =
            FilePath::parse(&path).map_err(|e| ApiError::invalid_field("files", e.to_string()))?;
        let bytes = if base64 {
            B64.decode(content.as_bytes()).map_err(|e| {
                ApiError::invalid_field(
                    "files",
                    format!("file '{}' is not valid base64: {e}", path.as_str()),
                )
            })?
        } else {
            content.into_bytes()
        };
        files.push((path, bytes));
    }
    limits::version_size(quota, files.iter().map(|(_, b)| b.len()).sum())?;
    let store = code_store(ctx)?;
    let existing = store.list_versions(id).await.map_err(store_error)?;
    limits::version_count(quota, existing.len())?;
    let now = webcrypto::now_ms();
    let saved = save_version(&store, id, body.parent, None, now, files)
        .await
        .map_err(store_error)?;
    let m = &saved.manifest;
    let command = Command::SaveVersion {
        version: m.version,
        parent: m.parent,
        files: m.files.len() as u32,
        bytes: m.total_bytes(),
    };
    service::execute(ctx, id, Metadata::new(now, &user), command).await?;
    json(
        201,
        &json!({ "version": summary(m), "new_blobs": saved.new_blobs, "reused_blobs": saved.reused_blobs }),
    )
}

/// `GET /api/projects/:id/versions` → summaries, oldest first.
pub async fn list(req: &Request, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let store = code_store(ctx)?;
    let mut out = Vec::new();
    for v in store.list_versions(id).await.map_err(store_error)? {
        if let Some(m) = store.get_manifest(id, v).await.map_err(store_error)? {
            out.push(summary(&m));
        }
    }
    json(200, &json!({ "versions": out }))
}

/// `GET /api/projects/:id/versions/:n` → the manifest.
pub async fn get(req: &Request, ctx: &Ctx, id: &str, n: &str) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let version = parse_version(n)?;
    let m = manifest(&code_store(ctx)?, id, version).await?;
    json(200, &json!({ "manifest": m }))
}

/// Decodes `%XX` escapes in a path taken from the URL, so encoded `..` or `/` are checked too.
fn percent_decode(raw: &str) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => {
                    return Err(ApiError::BadRequest(format!(
                        "path '{}' has a bad %-escape",
                        clip(raw)
                    )))
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::BadRequest(format!("path '{}' is not valid UTF-8", clip(raw))))
}

/// `GET /api/projects/:id/versions/:n/files/*path` → the raw file.
pub async fn file(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    n: &str,
    raw_path: &str,
) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let version = parse_version(n)?;
    let decoded = percent_decode(raw_path)?;
    let path = FilePath::parse(&decoded).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let store = code_store(ctx)?;
    let m = manifest(&store, id, version).await?;
    let entry = m.files.get(&path).ok_or_else(|| {
        ApiError::NotFound(format!(
            "file '{}' is not in version {version}",
            path.as_str()
        ))
    })?;
    let bytes = store
        .get_blob(id, &entry.hash)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "blob {} of {id} v{version} is missing",
                entry.hash.as_str()
            ))
        })?;
    let headers = Headers::new();
    headers.set("content-type", &entry.content_type)?;
    headers.set("etag", &format!("\"{}\"", entry.hash.as_str()))?;
    headers.set("cache-control", "private, max-age=31536000, immutable")?;
    headers.set("x-content-type-options", "nosniff")?;
    Ok(Response::from_bytes(bytes)?.with_headers(headers))
}

/// `GET /api/projects/:id/versions/:a/diff/:b` → added / removed / modified files with diffs.
pub async fn diff(
    req: &Request,
    ctx: &Ctx,
    id: &str,
    a: &str,
    b: &str,
) -> Result<Response, ApiError> {
    owned(req, ctx, id).await?;
    let (a, b) = (parse_version(a)?, parse_version(b)?);
    let files = diff_versions(&code_store(ctx)?, id, a, b)
        .await
        .map_err(store_error)?;
    let by = |status: &str| -> Vec<String> {
        files
            .iter()
            .filter(|f| {
                serde_json::to_value(f.status)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s == status))
                    == Some(true)
            })
            .map(|f| f.path.as_str().to_string())
            .collect()
    };
    json(
        200,
        &json!({ "from": a, "to": b, "added": by("added"), "removed": by("removed"), "modified": by("modified"), "files": files }),
    )
}
