//! The platform bucket (`STORE`) as the build steps use it: stored plans, the app's JWT secret,
//! the live pointers and the code store. The steps reach R2 only through here.

use worker::{Conditional, Env};

use super::code_store::R2CodeStore;
use crate::error::ApiError;

/// The platform bucket itself (for the teardown helpers that take one).
pub fn bucket(env: &Env) -> Result<worker::Bucket, ApiError> {
    Ok(env.bucket("STORE")?)
}

/// The platform's code store.
pub fn code_store(env: &Env) -> Result<R2CodeStore, ApiError> {
    Ok(R2CodeStore::new(env.bucket("STORE")?))
}

/// An object's bytes, or `None` when there is no such key.
pub async fn get(env: &Env, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(obj) = env.bucket("STORE")?.get(key).execute().await? else {
        return Ok(None);
    };
    match obj.body() {
        Some(b) => Ok(Some(b.bytes().await?)),
        None => Ok(Some(Vec::new())),
    }
}

/// An object's bytes and its etag, or `None` when there is no such key.
pub async fn get_tagged(env: &Env, key: &str) -> Result<Option<(Vec<u8>, String)>, ApiError> {
    let Some(obj) = env.bucket("STORE")?.get(key).execute().await? else {
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
    let written = env
        .bucket("STORE")?
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
    env.bucket("STORE")?.put(key, bytes).execute().await?;
    Ok(())
}

/// Writes an object only if the key is free; `true` when this call wrote it.
pub async fn put_if_absent(env: &Env, key: &str, bytes: Vec<u8>) -> Result<bool, ApiError> {
    let written = env
        .bucket("STORE")?
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
