//! Teardown of a deleted project: its app stops answering, its database, secret, stored files,
//! plans and code versions are removed, then `TeardownCompleted` is recorded.
//!
//! Order matters: the live pointer goes first, so the slug answers 404 at once even if a later
//! part fails (the whole teardown is idempotent and can simply run again). Content-addressed blobs
//! are shared between projects (identical files are stored once), so they are not deleted here;
//! once no manifest names them they are unreachable, and a future sweep can reclaim them.

use crate::error::ApiError;
use crate::http::Ctx;

async fn delete_prefix(bucket: &worker::Bucket, prefix: &str) -> Result<usize, ApiError> {
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
        if !page.truncated() {
            return Ok(removed);
        }
    }
}

/// Removes everything the project's app owns.
pub async fn run(ctx: &Ctx, project: &str, slug: &str) -> Result<(), ApiError> {
    let bucket = ctx.env.bucket("STORE")?;
    if !slug.is_empty() {
        bucket.delete(format!("apps/{slug}.json")).await?;
    }
    crate::adapters::app_admin::destroy(&ctx.env, project)
        .await
        .map_err(|e| ApiError::internal(format!("teardown database: {e}")))?;
    bucket.delete(format!("secrets/{project}")).await?;
    delete_prefix(&bucket, &format!("versions/{project}/")).await?;
    delete_prefix(&bucket, &format!("deploys/{project}/")).await?;
    delete_prefix(&bucket, &format!("plans/{project}/")).await?;
    delete_prefix(&bucket, &format!("appfiles/{project}/")).await?;
    Ok(())
}
