//! The platform bucket (`STORE`) as the build steps use it: stored plans, the app's JWT secret,
//! the live pointers and the code store. The steps reach R2 only through here.

use worker::{Bucket, Conditional, Env};

use super::bindings::store_bucket;
use super::code_store::R2CodeStore;
use crate::error::ApiError;

/// The platform bucket itself (for the teardown helpers that take one).
pub fn bucket(env: &Env) -> Result<worker::Bucket, ApiError> {
    store_bucket(env)
}

/// The platform's code store.
pub fn code_store(env: &Env) -> Result<R2CodeStore, ApiError> {
    Ok(R2CodeStore::new(store_bucket(env)?))
}

/// An object's bytes, or `None` when there is no such key.
pub async fn get(env: &Env, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(obj) = store_bucket(env)?.get(key).execute().await? else {
        return Ok(None);
    };
    match obj.body() {
        Some(b) => Ok(Some(b.bytes().await?)),
        None => Ok(Some(Vec::new())),
    }
}

/// An object's bytes and its etag, or `None` when there is no such key.
pub async fn get_tagged(env: &Env, key: &str) -> Result<Option<(Vec<u8>, String)>, ApiError> {
    let Some(obj) = store_bucket(env)?.get(key).execute().await? else {
        return Ok(None);
    };
    let etag = obj.etag();
    let bytes = match obj.body() {
        Some(b) => b.bytes().await?,
        None => Vec::new(),
    };
    Ok(Some((bytes, etag)))
}

/// Replaces an object only if it is still the version `etag` names; `true` when this call
/// wrote it.
pub async fn put_if_match(
    env: &Env,
    key: &str,
    bytes: Vec<u8>,
    etag: &str,
) -> Result<bool, ApiError> {
    let written = store_bucket(env)?
        .put(key, bytes)
        .only_if(Conditional {
            etag_matches: Some(etag.to_string()),
            ..Default::default()
        })
        .execute()
        .await?;
    Ok(written.is_some())
}

/// Writes an object (replacing it).
pub async fn put(env: &Env, key: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
    store_bucket(env)?.put(key, bytes).execute().await?;
    Ok(())
}

/// Writes an object only if the key is free; `true` when this call wrote it.
pub async fn put_if_absent(env: &Env, key: &str, bytes: Vec<u8>) -> Result<bool, ApiError> {
    let written = store_bucket(env)?
        .put(key, bytes)
        .only_if(Conditional {
            etag_does_not_match: Some("*".into()),
            ..Default::default()
        })
        .execute()
        .await?;
    Ok(written.is_some())
}

/// Whether the `KILN_TEST_HOOKS=1` var is set (test-only routes and faults).
pub fn test_hooks(env: &Env) -> bool {
    env.var("KILN_TEST_HOOKS")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false)
}

/// Whether `apps/<slug>.json` is the live pointer of `project`.
pub async fn pointer_names(bucket: &Bucket, slug: &str, project: &str) -> Result<bool, ApiError> {
    if slug.is_empty() {
        return Ok(false);
    }
    let Some(obj) = bucket.get(format!("apps/{slug}.json")).execute().await? else {
        return Ok(false);
    };
    let bytes = match obj.body() {
        Some(b) => b.bytes().await?,
        None => return Ok(false),
    };
    Ok(serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .is_some_and(|v| v["project"] == project))
}

/// Removes the live pointer `apps/<slug>.json` if it names `project` (a new project may already
/// own the slug). Returns whether it removed one.
pub async fn remove_pointer(bucket: &Bucket, project: &str, slug: &str) -> Result<bool, ApiError> {
    if !pointer_names(bucket, slug, project).await? {
        return Ok(false);
    }
    bucket.delete(format!("apps/{slug}.json")).await?;
    Ok(true)
}

/// Deletes an object (a missing key is not an error).
pub async fn delete(env: &Env, key: &str) -> Result<(), ApiError> {
    store_bucket(env)?.delete(key).await?;
    Ok(())
}

/// Whether an object exists.
pub async fn exists(env: &Env, key: &str) -> Result<bool, ApiError> {
    Ok(store_bucket(env)?.head(key).await?.is_some())
}

/// Whether no key starts with `prefix`.
pub async fn is_empty(env: &Env, prefix: &str) -> Result<bool, ApiError> {
    let page = store_bucket(env)?
        .list()
        .prefix(prefix.to_string())
        .limit(1)
        .execute()
        .await?;
    Ok(page.objects().is_empty())
}

/// Deletes every key under `prefix`, a page at a time, until a listing comes back empty; returns
/// how many were deleted.
pub async fn delete_prefix(env: &Env, prefix: &str) -> Result<usize, ApiError> {
    let bucket = store_bucket(env)?;
    let mut removed = 0;
    loop {
        let page = bucket
            .list()
            .prefix(prefix.to_string())
            .limit(1000)
            .execute()
            .await?;
        let keys: Vec<String> = page.objects().iter().map(|o| o.key()).collect();
        if keys.is_empty() {
            return Ok(removed);
        }
        removed += keys.len();
        bucket.delete_multiple(keys).await?;
    }
}

/// How many keys start with `prefix`.
pub async fn count(env: &Env, prefix: &str) -> Result<usize, ApiError> {
    let bucket = store_bucket(env)?;
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut list = bucket.list().prefix(prefix.to_string()).limit(1000);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        count += page.objects().len();
        match (page.truncated(), page.cursor()) {
            (true, Some(c)) => cursor = Some(c),
            _ => break,
        }
    }
    Ok(count)
}
