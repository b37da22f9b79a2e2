//! The platform's rate limits and quotas at the routes that create things (ADR 0012).
//!
//! Every check runs before the handler's first side effect, so a refused request leaves no event,
//! no Queue message and no row behind; the only write it makes is the counter hit itself. Rates
//! are counted in D1 ([`RateCounter`]) and answered with `429` and `Retry-After`; quotas are
//! counts of what exists and are answered with `403 quota_exceeded`.

use worker::Request;

use crate::adapters::rate_counter::RateCounter;
use crate::adapters::store::Store;
use crate::adapters::webcrypto;
use crate::domain::limits::{
    builds_key, email_key, ip_key, rate_limited, verdict, Limits, RateLimit, Verdict, Window,
};
use crate::domain::Email;
use crate::error::ApiError;
use crate::http::Ctx;

/// `Retry-After` for the active-builds limit: when a build ends is not known in advance, and a
/// typical build takes about this long.
pub const ACTIVE_BUILDS_RETRY_SECS: u64 = 30;

/// A hit that was allowed, kept so it can be given back if the attempt ends up not counting.
pub struct Counted {
    key: String,
    window: Window,
}

impl Counted {
    /// Gives the hit back. Failing to do so only makes the limit a little stricter, so the
    /// error is logged rather than returned.
    pub async fn refund(self, ctx: &Ctx) {
        let outcome = match RateCounter::of(&ctx.env) {
            Ok(counter) => counter.refund(&self.key, self.window).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            worker::console_warn!("rate counter refund for {}: {e}", self.key);
        }
    }
}

/// Counts one hit on `key` and refuses it when it is over `limit`; `what` names what is
/// counted in the message.
async fn count(ctx: &Ctx, key: String, limit: RateLimit, what: &str) -> Result<Counted, ApiError> {
    let now = webcrypto::now_ms();
    let window = RateCounter::of(&ctx.env)?.hit(&key, limit, now).await?;
    match verdict(window, now, limit) {
        Verdict::Allowed => Ok(Counted { key, window }),
        Verdict::Refused { retry_after_secs } => Err(rate_limited(what, limit, retry_after_secs)),
    }
}

/// The client address Cloudflare (and `wrangler dev`) puts in `CF-Connecting-IP`.
fn client_ip(req: &Request) -> Option<String> {
    req.headers().get("cf-connecting-ip").ok().flatten()
}

/// Counts a sign-in or registration attempt against the caller's address.
pub async fn auth_from_address(req: &Request, ctx: &Ctx) -> Result<(), ApiError> {
    let limit = ctx.config.limits.auth_per_ip;
    let key = ip_key(client_ip(req).as_deref());
    count(ctx, key, limit, "sign-in attempts from this address").await?;
    Ok(())
}

/// Counts a sign-in or registration attempt for `email`; refund it when the attempt succeeds, so
/// the limit counts unsuccessful attempts.
pub async fn auth_for_email(ctx: &Ctx, email: &Email) -> Result<Counted, ApiError> {
    let limit = ctx.config.limits.auth_per_email;
    count(
        ctx,
        email_key(email),
        limit,
        "unsuccessful sign-in attempts for this email",
    )
    .await
}

/// Checks the caller's builds in progress, then counts the request against the hourly limit;
/// refund it when no build is created after all.
pub async fn build_request(ctx: &Ctx, user: &str) -> Result<Counted, ApiError> {
    let limits = &ctx.config.limits;
    let active = Store::of(&ctx.env)?.active_builds_of(user).await?;
    if active >= limits.active_builds {
        return Err(ApiError::RateLimited {
            message: format!(
                "too many builds in progress: the limit is {} at a time and {active} are requested or running; wait for one to finish, then try again (in about {ACTIVE_BUILDS_RETRY_SECS} seconds)",
                limits.active_builds
            ),
            retry_after_secs: ACTIVE_BUILDS_RETRY_SECS,
        });
    }
    count(
        ctx,
        builds_key(user),
        limits.builds_per_hour,
        "build requests",
    )
    .await
}

/// The refusal when the caller owns as many projects as allowed.
pub fn projects_quota(limits: &Limits) -> ApiError {
    ApiError::QuotaExceeded(format!(
        "you already have {} projects, the most one account may have; delete a project to create another",
        limits.projects_per_user
    ))
}

/// Refuses an upload whose files total more than the per-upload limit.
pub fn version_size(limits: &Limits, bytes: usize) -> Result<(), ApiError> {
    if bytes > limits.max_version_bytes {
        return Err(ApiError::ContentTooLarge(format!(
            "the files of this version total {bytes} bytes; the limit is {} bytes per upload, so upload fewer or smaller files",
            limits.max_version_bytes
        )));
    }
    Ok(())
}

/// Refuses an upload to a project that already holds as many versions as allowed.
pub fn version_count(limits: &Limits, existing: usize) -> Result<(), ApiError> {
    if existing >= limits.versions_per_project as usize {
        return Err(ApiError::QuotaExceeded(format!(
            "this project already has {existing} code versions and the limit is {}; no more can be uploaded to it",
            limits.versions_per_project
        )));
    }
    Ok(())
}

/// The largest request body a version upload may have: base64 makes content a third larger and
/// JSON escapes add more, so twice the content limit plus room for the JSON around it. The
/// decoded content is then held to the limit itself ([`version_size`]).
pub fn upload_body_limit(limits: &Limits) -> usize {
    limits.max_version_bytes.saturating_mul(2) + 64 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limits::DEFAULT_LIMITS;

    #[test]
    fn an_upload_at_the_size_limit_passes_and_one_byte_more_is_a_413() {
        let limits = Limits {
            max_version_bytes: 2048,
            ..DEFAULT_LIMITS
        };
        assert!(version_size(&limits, 2048).is_ok());
        let e = version_size(&limits, 2049).unwrap_err();
        assert_eq!((e.status(), e.code()), (413, "payload_too_large"));
        assert!(e.message().contains("2049 bytes") && e.message().contains("2048 bytes"));
    }

    #[test]
    fn the_version_quota_refuses_the_upload_that_would_exceed_it() {
        let limits = Limits {
            versions_per_project: 2,
            ..DEFAULT_LIMITS
        };
        assert!(version_count(&limits, 1).is_ok());
        let e = version_count(&limits, 2).unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "quota_exceeded"));
        assert!(e.message().contains("limit is 2"), "{}", e.message());
        assert_eq!(e.retry_after_secs(), None);
    }

    #[test]
    fn the_project_quota_names_the_limit() {
        let e = projects_quota(&DEFAULT_LIMITS);
        assert_eq!(e.status(), 403);
        assert!(e.message().contains("50 projects"), "{}", e.message());
    }
}
