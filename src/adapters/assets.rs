//! The builder UI's static assets (the `ASSETS` binding, files from `web/dist`).

use worker::{Env, Request, Response};

use crate::error::ApiError;

/// Serves `req` from the static assets.
pub async fn serve(env: &Env, req: Request) -> Result<Response, ApiError> {
    Ok(env
        .assets(super::bindings::ASSETS)?
        .fetch_request(req)
        .await?)
}
