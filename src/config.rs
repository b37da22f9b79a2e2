//! Configuration in two stages: raw wrangler vars and secrets ([`RawConfig`]) are read at the
//! edge, then validated into [`Config`] once per request. A missing or bad setting is a clear
//! error naming the setting, not a panic deep inside a handler.

use workflows::model::ModelSettings;

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
}

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
        let auth_secret = raw.auth_secret.filter(|s| !s.is_empty()).ok_or_else(|| {
            ApiError::Misconfigured("setting AUTH_SECRET is missing; run `make dev` (it writes .dev.vars) or `wrangler secret put AUTH_SECRET`".into())
        })?;
        if auth_secret.len() < 32 {
            return Err(ApiError::Misconfigured(
                "setting AUTH_SECRET must be at least 32 characters".into(),
            ));
        }
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
        Ok(Self {
            auth_secret,
            apps_domain,
            session_ttl_seconds,
            max_body_bytes,
            model,
        })
    }
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
    fn defaults_apply_when_vars_are_unset() {
        let c = Config::try_from(raw()).unwrap();
        assert_eq!(c.apps_domain, "localhost");
        assert_eq!(c.session_ttl_seconds, DEFAULT_SESSION_TTL_SECONDS);
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
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
