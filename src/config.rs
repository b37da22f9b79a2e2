//! Configuration in two stages: raw wrangler vars and secrets ([`RawConfig`]) are read at the
//! edge, then validated into [`Config`] once per request. A missing or bad setting is a clear
//! error naming the setting, not a panic deep inside a handler.

use generation::model::ModelSettings;

use crate::domain::limits::{Limits, RateLimit, DEFAULT_LIMITS};
use crate::error::ApiError;

/// Raw values as they come from bindings (None = not set).
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    /// `AUTH_SECRET` secret: JWT signing key.
    pub auth_secret: Option<String>,
    /// `APPS_DOMAIN` var: apps are served at `<slug>.<APPS_DOMAIN>`.
    pub apps_domain: Option<String>,
    /// `SESSION_TTL_SECONDS` var.
    pub session_ttl_seconds: Option<String>,
    /// `MAX_BODY_BYTES` var.
    pub max_body_bytes: Option<String>,
    /// The `KILN_MODEL_*` and `KILN_REPAIR_ATTEMPTS` vars and secrets that are set.
    pub model: Vec<(String, String)>,
    /// The rate-limit and quota vars ([`LIMIT_SETTINGS`]) that are set.
    pub limits: Vec<(String, String)>,
    /// `ALLOW_PRIVATE_WEBHOOKS` var.
    pub allow_private_webhooks: Option<String>,
    /// `WEBHOOK_RETRY_SCALE` var.
    pub webhook_retry_scale: Option<String>,
    /// `DEPLOY_TARGET` var.
    pub deploy_target: Option<String>,
    /// `CLOUDFLARE_API_BASE` var.
    pub cloudflare_api_base: Option<String>,
    /// `CLOUDFLARE_ACCOUNT_ID` var.
    pub cloudflare_account_id: Option<String>,
    /// Whether the `CLOUDFLARE_API_TOKEN` secret is set (its value stays in the adapter).
    pub cloudflare_api_token_set: bool,
    /// `DISPATCH_NAMESPACE` var.
    pub dispatch_namespace: Option<String>,
}

/// The rate-limit and quota settings read from the environment.
pub const LIMIT_SETTINGS: [&str; 9] = [
    "AUTH_IP_LIMIT",
    "AUTH_IP_WINDOW_SECONDS",
    "AUTH_EMAIL_LIMIT",
    "AUTH_EMAIL_WINDOW_SECONDS",
    "BUILDS_ACTIVE_LIMIT",
    "BUILDS_PER_HOUR",
    "PROJECTS_PER_USER",
    "VERSIONS_PER_PROJECT",
    "MAX_VERSION_BYTES",
];

/// The model settings read from the environment (see [`ModelSettings::from_lookup`]).
pub const MODEL_SETTINGS: [&str; 11] = [
    "KILN_MODEL_PROVIDER",
    "KILN_MODEL_NAME",
    "KILN_MODEL_BASE_URL",
    "KILN_MODEL_API_KEY",
    "KILN_MODEL_MAX_TOKENS",
    "KILN_MODEL_STREAM",
    "KILN_MODEL_JSON_SCHEMA",
    "KILN_MODEL_PRICE_INPUT",
    "KILN_MODEL_PRICE_OUTPUT",
    "KILN_REPAIR_ATTEMPTS",
    "KILN_MODEL_TIMEOUT_SECONDS",
];

/// The apps domain from the raw `APPS_DOMAIN` var: lowercase, no leading dot, the default when
/// unset or blank. Needed on its own to route app hosts before the rest is validated.
pub fn apps_domain(raw: Option<String>) -> String {
    raw.map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_APPS_DOMAIN.into())
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// JWT signing key (at least 32 bytes).
    pub auth_secret: String,
    /// Apps domain, lowercase, no leading dot.
    pub apps_domain: String,
    /// Session and token lifetime.
    pub session_ttl_seconds: i64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Which generator builds apps, and how.
    pub model: ModelSettings,
    /// Rate limits and quotas.
    pub limits: Limits,
    /// Webhook delivery settings.
    pub webhooks: WebhookSettings,
    /// Where apps are deployed.
    pub target: TargetSettings,
}

/// Where apps are deployed (`DEPLOY_TARGET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSettings {
    /// `local`: the dispatch Worker (Worker Loader + a SQLite Durable Object per app).
    Local,
    /// `cloudflare`: D1, R2 and Workers for Platforms through the REST API.
    Cloudflare(CloudflareSettings),
}

/// The `cloudflare` target's settings (the API token is read by the adapter, never kept here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudflareSettings {
    /// `CLOUDFLARE_API_BASE`, without a trailing slash.
    pub api_base: String,
    /// `CLOUDFLARE_ACCOUNT_ID`.
    pub account_id: String,
    /// `DISPATCH_NAMESPACE`.
    pub namespace: String,
}

/// Cloudflare's API.
pub const DEFAULT_CLOUDFLARE_API_BASE: &str = "https://api.cloudflare.com/client/v4";
/// The dispatch namespace apps are uploaded to.
pub const DEFAULT_DISPATCH_NAMESPACE: &str = "kiln-apps";

fn parse_target(raw: &RawConfig) -> Result<TargetSettings, ApiError> {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match text(&raw.deploy_target).as_deref() {
        None | Some("local") => Ok(TargetSettings::Local),
        Some("cloudflare") => {
            let api_base = text(&raw.cloudflare_api_base)
                .unwrap_or_else(|| DEFAULT_CLOUDFLARE_API_BASE.into())
                .trim_end_matches('/')
                .to_string();
            if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
                return Err(ApiError::Misconfigured(format!(
                    "setting CLOUDFLARE_API_BASE must be an http(s) URL such as {DEFAULT_CLOUDFLARE_API_BASE}, got '{api_base}'"
                )));
            }
            let account_id = text(&raw.cloudflare_account_id).ok_or_else(|| {
                ApiError::Misconfigured(
                    "setting CLOUDFLARE_ACCOUNT_ID is missing; DEPLOY_TARGET=cloudflare needs the account's id".into(),
                )
            })?;
            if !account_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(ApiError::Misconfigured(
                    "setting CLOUDFLARE_ACCOUNT_ID must be letters, digits and '-' only".into(),
                ));
            }
            if !raw.cloudflare_api_token_set {
                return Err(ApiError::Misconfigured(
                    "setting CLOUDFLARE_API_TOKEN is missing; DEPLOY_TARGET=cloudflare needs it (`wrangler secret put CLOUDFLARE_API_TOKEN`, or a line in .dev.vars)".into(),
                ));
            }
            let namespace =
                text(&raw.dispatch_namespace).unwrap_or_else(|| DEFAULT_DISPATCH_NAMESPACE.into());
            if !namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ApiError::Misconfigured(format!(
                    "setting DISPATCH_NAMESPACE must be letters, digits, '-' and '_' only, got '{namespace}'"
                )));
            }
            Ok(TargetSettings::Cloudflare(CloudflareSettings {
                api_base,
                account_id,
                namespace,
            }))
        }
        Some(other) => Err(ApiError::Misconfigured(format!(
            "setting DEPLOY_TARGET must be 'local' or 'cloudflare', got '{other}'"
        ))),
    }
}

/// Webhook delivery settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebhookSettings {
    /// `ALLOW_PRIVATE_WEBHOOKS=1`: private, loopback and link-local receivers are accepted (local
    /// development and tests only).
    pub allow_private: bool,
    /// `WEBHOOK_RETRY_SCALE`: multiplies every retry delay (1 in production; tests shrink the
    /// schedule to seconds).
    pub retry_scale: f64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_scale: 1.0,
        }
    }
}

fn parse_webhooks(
    allow: Option<String>,
    scale: Option<String>,
) -> Result<WebhookSettings, ApiError> {
    let allow_private = match allow.as_deref().map(str::trim).unwrap_or("") {
        "" | "0" | "false" => false,
        "1" | "true" => true,
        other => {
            return Err(ApiError::Misconfigured(format!(
                "setting ALLOW_PRIVATE_WEBHOOKS must be 1 or 0, got '{other}'"
            )))
        }
    };
    let retry_scale = match scale.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1.0,
        Some(s) => match s.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => x,
            _ => {
                return Err(ApiError::Misconfigured(format!(
                    "setting WEBHOOK_RETRY_SCALE must be a number from 0 to 1, got '{s}'"
                )))
            }
        },
    };
    Ok(WebhookSettings {
        allow_private,
        retry_scale,
    })
}

/// Defaults, also documented in the README's configuration table.
pub const DEFAULT_APPS_DOMAIN: &str = "localhost";
/// Seven days, like most web products' "remember me" default.
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 7 * 24 * 3600;
/// 64 KiB: ample for every JSON body the API takes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

impl TryFrom<RawConfig> for Config {
    type Error = ApiError;

    fn try_from(raw: RawConfig) -> Result<Self, ApiError> {
        let target = parse_target(&raw);
        let auth_secret = raw.auth_secret.filter(|s| !s.is_empty()).ok_or_else(|| {
            ApiError::Misconfigured("setting AUTH_SECRET is missing; run `make dev` (it writes .dev.vars) or `wrangler secret put AUTH_SECRET`".into())
        })?;
        if auth_secret.len() < 32 {
            return Err(ApiError::Misconfigured(
                "setting AUTH_SECRET must be at least 32 characters".into(),
            ));
        }
        let target = target?;
        let apps_domain = apps_domain(raw.apps_domain);
        let session_ttl_seconds = parse_num(
            "SESSION_TTL_SECONDS",
            raw.session_ttl_seconds,
            DEFAULT_SESSION_TTL_SECONDS,
            60,
            90 * 24 * 3600,
        )?;
        let max_body_bytes = parse_num(
            "MAX_BODY_BYTES",
            raw.max_body_bytes,
            DEFAULT_MAX_BODY_BYTES as i64,
            1024,
            10 * 1024 * 1024,
        )? as usize;
        let model = ModelSettings::from_lookup(|name| {
            raw.model
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .map_err(|e| ApiError::Misconfigured(e.to_string()))?;
        let limits = parse_limits(&raw.limits)?;
        let webhooks = parse_webhooks(raw.allow_private_webhooks, raw.webhook_retry_scale)?;
        Ok(Self {
            target,
            auth_secret,
            apps_domain,
            session_ttl_seconds,
            max_body_bytes,
            model,
            limits,
            webhooks,
        })
    }
}

/// Largest count or rate a limit setting takes (beyond it, a limit is better switched off at the
/// edge than counted).
const MAX_COUNT: i64 = 1_000_000;
/// Longest window: one day.
const MAX_WINDOW_SECONDS: i64 = 86_400;

fn parse_limits(set: &[(String, String)]) -> Result<Limits, ApiError> {
    let value = |name: &str| set.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let count = |name: &str, default: u32| -> Result<u32, ApiError> {
        Ok(parse_num(name, value(name), i64::from(default), 1, MAX_COUNT)? as u32)
    };
    let window = |name: &str, default: u32| -> Result<u32, ApiError> {
        Ok(parse_num(name, value(name), i64::from(default), 1, MAX_WINDOW_SECONDS)? as u32)
    };
    let d = DEFAULT_LIMITS;
    Ok(Limits {
        auth_per_ip: RateLimit::new(
            count("AUTH_IP_LIMIT", d.auth_per_ip.limit)?,
            window("AUTH_IP_WINDOW_SECONDS", d.auth_per_ip.period_secs)?,
        ),
        auth_per_email: RateLimit::new(
            count("AUTH_EMAIL_LIMIT", d.auth_per_email.limit)?,
            window("AUTH_EMAIL_WINDOW_SECONDS", d.auth_per_email.period_secs)?,
        ),
        active_builds: count("BUILDS_ACTIVE_LIMIT", d.active_builds)?,
        builds_per_hour: RateLimit::new(count("BUILDS_PER_HOUR", d.builds_per_hour.limit)?, 3600),
        projects_per_user: count("PROJECTS_PER_USER", d.projects_per_user)?,
        versions_per_project: count("VERSIONS_PER_PROJECT", d.versions_per_project)?,
        // Up to the 100 MB request body Cloudflare accepts on every plan.
        max_version_bytes: parse_num(
            "MAX_VERSION_BYTES",
            value("MAX_VERSION_BYTES"),
            d.max_version_bytes as i64,
            1024,
            100 * 1000 * 1000,
        )? as usize,
    })
}

fn parse_num(
    name: &str,
    raw: Option<String>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    match raw.filter(|s| !s.trim().is_empty()) {
        None => Ok(default),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::Misconfigured(format!(
                "setting {name} must be a whole number from {min} to {max}, got '{s}'"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawConfig {
        RawConfig {
            auth_secret: Some("x".repeat(32)),
            ..Default::default()
        }
    }

    #[test]
    fn the_deploy_target_is_local_by_default_and_cloudflare_needs_its_settings() {
        assert_eq!(
            Config::try_from(raw()).unwrap().target,
            TargetSettings::Local
        );
        let cf = |target: &str, account: Option<&str>, token: bool, base: Option<&str>| {
            Config::try_from(RawConfig {
                deploy_target: Some(target.into()),
                cloudflare_account_id: account.map(Into::into),
                cloudflare_api_token_set: token,
                cloudflare_api_base: base.map(Into::into),
                ..raw()
            })
        };
        let ok = cf(
            "cloudflare",
            Some("acc1"),
            true,
            Some("http://127.0.0.1:8788/client/v4/"),
        )
        .unwrap();
        assert_eq!(
            ok.target,
            TargetSettings::Cloudflare(CloudflareSettings {
                api_base: "http://127.0.0.1:8788/client/v4".into(),
                account_id: "acc1".into(),
                namespace: "kiln-apps".into(),
            })
        );
        let prod = cf("cloudflare", Some("acc1"), true, None).unwrap();
        assert!(
            matches!(prod.target, TargetSettings::Cloudflare(ref c) if c.api_base == DEFAULT_CLOUDFLARE_API_BASE)
        );
        for (e, names) in [
            (cf("cloudflare", None, true, None), "CLOUDFLARE_ACCOUNT_ID"),
            (
                cf("cloudflare", Some("acc1"), false, None),
                "CLOUDFLARE_API_TOKEN",
            ),
            (
                cf("cloudflare", Some("acc1"), true, Some("ftp://x")),
                "CLOUDFLARE_API_BASE",
            ),
            (cf("vercel", None, false, None), "DEPLOY_TARGET"),
        ] {
            let msg = e.unwrap_err().message();
            assert!(msg.contains(names), "{msg}");
        }
    }

    #[test]
    fn defaults_apply_when_vars_are_unset() {
        let c = Config::try_from(raw()).unwrap();
        assert_eq!(c.apps_domain, "localhost");
        assert_eq!(c.session_ttl_seconds, DEFAULT_SESSION_TTL_SECONDS);
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.limits, DEFAULT_LIMITS);
    }

    fn with_limits(pairs: &[(&str, &str)]) -> Result<Config, ApiError> {
        Config::try_from(RawConfig {
            limits: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..raw()
        })
    }

    #[test]
    fn limit_settings_override_the_defaults_one_by_one() {
        let c = with_limits(&[
            ("AUTH_IP_LIMIT", "3"),
            ("AUTH_IP_WINDOW_SECONDS", "3600"),
            ("AUTH_EMAIL_LIMIT", " 2 "),
            ("BUILDS_ACTIVE_LIMIT", "1"),
            ("BUILDS_PER_HOUR", "4"),
            ("PROJECTS_PER_USER", "5"),
            ("VERSIONS_PER_PROJECT", "6"),
            ("MAX_VERSION_BYTES", "2048"),
        ])
        .unwrap();
        let l = c.limits;
        assert_eq!(l.auth_per_ip, RateLimit::new(3, 3600));
        assert_eq!(
            l.auth_per_email,
            RateLimit::new(2, DEFAULT_LIMITS.auth_per_email.period_secs)
        );
        assert_eq!(l.active_builds, 1);
        assert_eq!(l.builds_per_hour, RateLimit::new(4, 3600));
        assert_eq!(l.projects_per_user, 5);
        assert_eq!(l.versions_per_project, 6);
        assert_eq!(l.max_version_bytes, 2048);
    }

    #[test]
    fn an_empty_limit_setting_means_the_default() {
        let c = with_limits(&[("PROJECTS_PER_USER", "")]).unwrap();
        assert_eq!(c.limits.projects_per_user, DEFAULT_LIMITS.projects_per_user);
    }

    #[test]
    fn a_bad_limit_names_the_setting_the_range_and_the_value() {
        for (name, value) in [
            ("AUTH_IP_LIMIT", "0"),
            ("AUTH_EMAIL_WINDOW_SECONDS", "86401"),
            ("BUILDS_PER_HOUR", "-1"),
            ("VERSIONS_PER_PROJECT", "many"),
            ("MAX_VERSION_BYTES", "100"),
        ] {
            let e = with_limits(&[(name, value)]).unwrap_err();
            assert_eq!(e.code(), "misconfigured");
            assert!(
                e.message()
                    .starts_with(&format!("setting {name} must be a whole number from ")),
                "{}",
                e.message()
            );
            assert!(
                e.message().ends_with(&format!("got '{value}'")),
                "{}",
                e.message()
            );
        }
    }

    #[test]
    fn webhook_settings_default_to_public_targets_and_the_full_schedule() {
        let c = Config::try_from(raw()).unwrap();
        assert_eq!(c.webhooks, WebhookSettings::default());
        let c = Config::try_from(RawConfig {
            allow_private_webhooks: Some("1".into()),
            webhook_retry_scale: Some("0.01".into()),
            ..raw()
        })
        .unwrap();
        assert!(c.webhooks.allow_private);
        assert_eq!(c.webhooks.retry_scale, 0.01);
        for (allow, scale, name) in [
            (Some("yes"), None, "ALLOW_PRIVATE_WEBHOOKS"),
            (None, Some("2"), "WEBHOOK_RETRY_SCALE"),
            (None, Some("fast"), "WEBHOOK_RETRY_SCALE"),
        ] {
            let e = Config::try_from(RawConfig {
                allow_private_webhooks: allow.map(Into::into),
                webhook_retry_scale: scale.map(Into::into),
                ..raw()
            })
            .unwrap_err();
            assert!(e.message().contains(name), "{}", e.message());
        }
    }

    #[test]
    fn a_missing_or_short_secret_names_the_setting() {
        let e = Config::try_from(RawConfig::default()).unwrap_err();
        assert!(e.to_string().contains("AUTH_SECRET"));
        let e = Config::try_from(RawConfig {
            auth_secret: Some("short".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("AUTH_SECRET"));
    }

    #[test]
    fn a_bad_number_names_the_setting() {
        let e = Config::try_from(RawConfig {
            max_body_bytes: Some("lots".into()),
            ..raw()
        })
        .unwrap_err();
        assert!(e.to_string().contains("MAX_BODY_BYTES"));
    }

    #[test]
    fn model_settings_default_to_offline_and_errors_name_the_setting() {
        let c = Config::try_from(raw()).unwrap();
        assert_eq!(c.model.provider.name(), "offline");
        let e = Config::try_from(RawConfig {
            model: vec![("KILN_MODEL_PROVIDER".into(), "openai".into())],
            ..raw()
        })
        .unwrap_err();
        assert_eq!(e.status(), 500);
        assert_eq!(e.code(), "misconfigured");
        assert!(
            e.message()
                .starts_with("setting KILN_MODEL_BASE_URL: is missing"),
            "{}",
            e.message()
        );
        let e = Config::try_from(RawConfig {
            model: vec![("KILN_MODEL_PROVIDER".into(), "gpt-5".into())],
            ..raw()
        })
        .unwrap_err();
        assert!(e.message().contains("KILN_MODEL_PROVIDER"));
    }
}
