//! Model settings from wrangler vars and secrets, validated into [`ModelSettings`]. Every error
//! names the setting and the fix.

use std::fmt;

use super::{Pricing, GLM_47_FLASH_PRICING};

/// The default Workers AI model.
pub const DEFAULT_WORKERS_AI_MODEL: &str = "@cf/zai-org/glm-4.7-flash";

/// Which generator builds apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// The built-in deterministic generator (no model).
    Offline,
    /// Workers AI through the `AI` binding.
    WorkersAi,
    /// An OpenAI-compatible endpoint.
    OpenAi {
        /// Base URL without a trailing slash, e.g. `http://localhost:11434/v1`.
        base_url: String,
        /// Bearer token (a secret; never logged or recorded).
        api_key: String,
    },
}

impl ProviderKind {
    /// The name used in settings and events.
    pub fn name(&self) -> &'static str {
        match self {
            ProviderKind::Offline => "offline",
            ProviderKind::WorkersAi => "workers-ai",
            ProviderKind::OpenAi { .. } => "openai",
        }
    }
}

/// How much a reasoning model may think before answering (`KILN_MODEL_THINKING`). Applies to the
/// `workers-ai` provider, whose documented input for GLM-4.7-Flash turns thinking off with
/// `chat_template_kwargs.enable_thinking = false` and bounds it with `reasoning_effort`
/// (`low`, `medium`, `high`); thinking is paid from the same output budget as the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Thinking {
    /// No thinking: every output token goes to the answer (the default).
    #[default]
    Off,
    /// Thinking on with `reasoning_effort: "low"`: a short plan before the answer.
    Low,
}

impl Thinking {
    /// The setting's value.
    pub fn name(self) -> &'static str {
        match self {
            Thinking::Off => "off",
            Thinking::Low => "low",
        }
    }
}

/// Validated model settings.
#[derive(Clone, PartialEq)]
pub struct ModelSettings {
    /// Provider.
    pub provider: ProviderKind,
    /// Model name (empty for offline).
    pub model: String,
    /// Most output tokens per call.
    pub max_tokens: u32,
    /// Stream answers (server-sent events).
    pub stream: bool,
    /// Ask for structured output (JSON Schema) in the plan step.
    pub json_schema: bool,
    /// Prices for cost estimates.
    pub pricing: Pricing,
    /// Repair rounds after failed validation.
    pub repair_attempts: u32,
    /// Longest wait for one complete answer; a call that takes longer is abandoned and retried.
    pub timeout_ms: u64,
    /// Thinking of a reasoning model on Workers AI.
    pub thinking: Thinking,
}

impl fmt::Debug for ModelSettings {
    // Hand-written so the API key can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let provider = match &self.provider {
            ProviderKind::OpenAi { base_url, .. } => format!("openai({base_url}, key: <redacted>)"),
            other => other.name().to_string(),
        };
        f.debug_struct("ModelSettings")
            .field("provider", &provider)
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .field("stream", &self.stream)
            .field("json_schema", &self.json_schema)
            .field("pricing", &self.pricing)
            .field("repair_attempts", &self.repair_attempts)
            .field("timeout_ms", &self.timeout_ms)
            .field("thinking", &self.thinking)
            .finish()
    }
}

/// A setting that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The setting's name, e.g. `KILN_MODEL_BASE_URL`.
    pub setting: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {}: {}", self.setting, self.message)
    }
}

impl std::error::Error for SettingError {}

fn err(setting: &'static str, message: impl Into<String>) -> SettingError {
    SettingError {
        setting,
        message: message.into(),
    }
}

/// Default output budget per call: enough for a small app's three files.
pub const DEFAULT_MAX_TOKENS: u32 = 8_192;
/// Default repair rounds.
pub const DEFAULT_REPAIR_ATTEMPTS: u32 = 2;
/// Most repair rounds (each is a durable step).
pub const MAX_REPAIR_ATTEMPTS: u32 = 3;
/// Default per-call timeout: a whole app's files stream in well under this from a healthy provider.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 90;

impl ModelSettings {
    /// The offline generator.
    pub fn offline() -> Self {
        ModelSettings {
            provider: ProviderKind::Offline,
            model: String::new(),
            max_tokens: DEFAULT_MAX_TOKENS,
            stream: false,
            json_schema: false,
            pricing: GLM_47_FLASH_PRICING,
            repair_attempts: 0,
            timeout_ms: u64::from(DEFAULT_TIMEOUT_SECONDS) * 1000,
            thinking: Thinking::Off,
        }
    }

    /// Reads and checks the settings; `lookup` returns a var or secret (None or empty = unset).
    ///
    /// | setting | meaning | default |
    /// |---|---|---|
    /// | `KILN_MODEL_PROVIDER` | `offline`, `workers-ai` or `openai` | `offline` |
    /// | `KILN_MODEL_NAME` | model | `@cf/zai-org/glm-4.7-flash` for workers-ai; required for openai |
    /// | `KILN_MODEL_BASE_URL` | `http(s)://…`, e.g. `http://localhost:11434/v1` | required for openai |
    /// | `KILN_MODEL_API_KEY` | secret bearer token | required for openai |
    /// | `KILN_MODEL_MAX_TOKENS` | output tokens per call, 256–131072 | 8192 |
    /// | `KILN_MODEL_STREAM` | `true`/`false` | `true` |
    /// | `KILN_MODEL_JSON_SCHEMA` | structured output for plans | `true` for openai, `false` for workers-ai |
    /// | `KILN_MODEL_PRICE_INPUT`, `KILN_MODEL_PRICE_OUTPUT` | USD per million tokens | 0.06, 0.40 |
    /// | `KILN_REPAIR_ATTEMPTS` | repair rounds, 0–3 | 2 |
    /// | `KILN_MODEL_TIMEOUT_SECONDS` | per call, 1–600 | 90 |
    /// | `KILN_MODEL_THINKING` | `off` or `low` ([`Thinking`]; workers-ai) | `off` |
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let provider_name = get("KILN_MODEL_PROVIDER").unwrap_or_else(|| "offline".into());
        let provider = match provider_name.to_ascii_lowercase().as_str() {
            "offline" => return Ok(Self::offline()),
            "workers-ai" | "workers_ai" | "workersai" => ProviderKind::WorkersAi,
            "openai" | "openai-compatible" => {
                let base_url = get("KILN_MODEL_BASE_URL").ok_or_else(|| {
                    err(
                        "KILN_MODEL_BASE_URL",
                        "is missing; provider openai needs the endpoint's base URL, e.g. http://localhost:11434/v1",
                    )
                })?;
                let base_url = check_url(&base_url)?;
                let api_key = get("KILN_MODEL_API_KEY").ok_or_else(|| {
                    err(
                        "KILN_MODEL_API_KEY",
                        "is missing; provider openai needs an API key (a secret: `wrangler secret put KILN_MODEL_API_KEY`, or a line in .dev.vars; any non-empty value for servers without keys)",
                    )
                })?;
                ProviderKind::OpenAi { base_url, api_key }
            }
            other => {
                return Err(err(
                    "KILN_MODEL_PROVIDER",
                    format!(
                        "unknown provider '{}'; use offline, workers-ai or openai",
                        other.chars().take(40).collect::<String>()
                    ),
                ))
            }
        };
        let model = match (&provider, get("KILN_MODEL_NAME")) {
            (_, Some(m)) => m,
            (ProviderKind::WorkersAi, None) => DEFAULT_WORKERS_AI_MODEL.into(),
            _ => {
                return Err(err(
                    "KILN_MODEL_NAME",
                    "is missing; provider openai needs the model name the endpoint serves, e.g. glm-4.7-flash",
                ))
            }
        };
        let max_tokens = number(
            &get,
            "KILN_MODEL_MAX_TOKENS",
            DEFAULT_MAX_TOKENS as f64,
            256.0,
            131_072.0,
        )? as u32;
        let stream = flag(&get, "KILN_MODEL_STREAM", true)?;
        let json_schema = flag(
            &get,
            "KILN_MODEL_JSON_SCHEMA",
            matches!(provider, ProviderKind::OpenAi { .. }),
        )?;
        let pricing = Pricing {
            input_per_million: number(
                &get,
                "KILN_MODEL_PRICE_INPUT",
                GLM_47_FLASH_PRICING.input_per_million,
                0.0,
                1000.0,
            )?,
            output_per_million: number(
                &get,
                "KILN_MODEL_PRICE_OUTPUT",
                GLM_47_FLASH_PRICING.output_per_million,
                0.0,
                1000.0,
            )?,
        };
        let repair_attempts = number(
            &get,
            "KILN_REPAIR_ATTEMPTS",
            DEFAULT_REPAIR_ATTEMPTS as f64,
            0.0,
            MAX_REPAIR_ATTEMPTS as f64,
        )? as u32;
        let timeout_seconds = number(
            &get,
            "KILN_MODEL_TIMEOUT_SECONDS",
            f64::from(DEFAULT_TIMEOUT_SECONDS),
            1.0,
            600.0,
        )?;
        let thinking = match get("KILN_MODEL_THINKING")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("off") => Thinking::Off,
            Some("low") => Thinking::Low,
            Some(other) => {
                return Err(err(
                    "KILN_MODEL_THINKING",
                    format!(
                        "'{}' is not a thinking setting; use off (no thinking) or low (a short reasoning_effort: low)",
                        other.chars().take(40).collect::<String>()
                    ),
                ))
            }
        };
        Ok(ModelSettings {
            provider,
            model,
            max_tokens,
            stream,
            json_schema,
            pricing,
            repair_attempts,
            timeout_ms: (timeout_seconds * 1000.0) as u64,
            thinking,
        })
    }
}

fn check_url(raw: &str) -> Result<String, SettingError> {
    let lower = raw.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| {
            err(
                "KILN_MODEL_BASE_URL",
                format!("'{raw}' is not an http(s) URL"),
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') || raw.chars().any(char::is_whitespace) {
        return Err(err("KILN_MODEL_BASE_URL", format!("'{raw}' has no host")));
    }
    if raw.contains('?') || raw.contains('#') {
        return Err(err(
            "KILN_MODEL_BASE_URL",
            format!("'{raw}' must be a base URL without query or fragment"),
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: f64,
    min: f64,
    max: f64,
) -> Result<f64, SettingError> {
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    let v: f64 = raw
        .parse()
        .map_err(|_| err(name, format!("'{raw}' is not a number")))?;
    if !(min..=max).contains(&v) {
        return Err(err(name, format!("{v} is out of range {min}–{max}")));
    }
    Ok(v)
}

fn flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, SettingError> {
    match get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "true" | "1" | "on" | "yes") => Ok(true),
        Some(v) if matches!(v.as_str(), "false" | "0" | "off" | "no") => Ok(false),
        Some(v) => Err(err(name, format!("'{v}' is not true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<ModelSettings, SettingError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ModelSettings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn offline_is_the_default() {
        assert_eq!(settings(&[]).unwrap().provider, ProviderKind::Offline);
        assert_eq!(
            settings(&[("KILN_MODEL_PROVIDER", " ")]).unwrap().provider,
            ProviderKind::Offline
        );
    }

    #[test]
    fn workers_ai_defaults_to_glm_flash() {
        let s = settings(&[("KILN_MODEL_PROVIDER", "workers-ai")]).unwrap();
        assert_eq!(s.model, DEFAULT_WORKERS_AI_MODEL);
        assert!(s.stream);
        assert!(!s.json_schema);
        assert_eq!(s.repair_attempts, 2);
        assert_eq!(s.pricing, GLM_47_FLASH_PRICING);
        assert_eq!(s.timeout_ms, 90_000);
        let e = settings(&[
            ("KILN_MODEL_PROVIDER", "workers-ai"),
            ("KILN_MODEL_TIMEOUT_SECONDS", "0"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "KILN_MODEL_TIMEOUT_SECONDS");
    }

    #[test]
    fn thinking_is_off_by_default_low_on_request_and_anything_else_names_the_setting() {
        let ai = ("KILN_MODEL_PROVIDER", "workers-ai");
        assert_eq!(settings(&[ai]).unwrap().thinking, Thinking::Off);
        assert_eq!(
            settings(&[ai, ("KILN_MODEL_THINKING", "off")])
                .unwrap()
                .thinking,
            Thinking::Off
        );
        assert_eq!(
            settings(&[ai, ("KILN_MODEL_THINKING", " LOW ")])
                .unwrap()
                .thinking,
            Thinking::Low
        );
        for bad in ["high", "on", "true", "medium"] {
            let e = settings(&[ai, ("KILN_MODEL_THINKING", bad)]).unwrap_err();
            assert_eq!(e.setting, "KILN_MODEL_THINKING", "{bad}");
            assert!(e.message.contains("use off"), "{e}");
        }
        assert_eq!(ModelSettings::offline().thinking, Thinking::Off);
    }

    #[test]
    fn openai_needs_url_key_and_model_and_each_error_names_its_setting() {
        let base = [
            ("KILN_MODEL_PROVIDER", "openai"),
            ("KILN_MODEL_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("KILN_MODEL_API_KEY", "k"),
            ("KILN_MODEL_NAME", "m"),
        ];
        let s = settings(&base).unwrap();
        assert_eq!(
            s.provider,
            ProviderKind::OpenAi {
                base_url: "http://127.0.0.1:9/v1".into(),
                api_key: "k".into()
            }
        );
        assert!(s.json_schema);
        for (drop, setting) in [
            (1, "KILN_MODEL_BASE_URL"),
            (2, "KILN_MODEL_API_KEY"),
            (3, "KILN_MODEL_NAME"),
        ] {
            let pairs: Vec<_> = base
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .map(|(_, p)| *p)
                .collect();
            let e = settings(&pairs).unwrap_err();
            assert_eq!(e.setting, setting);
            assert!(
                e.to_string()
                    .starts_with(&format!("setting {setting}: is missing")),
                "{e}"
            );
        }
    }

    /// (settings, the setting the error names, text in its message).
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

    #[test]
    fn bad_values_are_named() {
        let cases: &[Case] = &[
            (
                &[("KILN_MODEL_PROVIDER", "gpt")],
                "KILN_MODEL_PROVIDER",
                "unknown provider 'gpt'",
            ),
            (
                &[
                    ("KILN_MODEL_PROVIDER", "openai"),
                    ("KILN_MODEL_BASE_URL", "localhost:1234"),
                ],
                "KILN_MODEL_BASE_URL",
                "not an http(s) URL",
            ),
            (
                &[
                    ("KILN_MODEL_PROVIDER", "openai"),
                    ("KILN_MODEL_BASE_URL", "http:///v1"),
                ],
                "KILN_MODEL_BASE_URL",
                "no host",
            ),
            (
                &[
                    ("KILN_MODEL_PROVIDER", "workers-ai"),
                    ("KILN_MODEL_MAX_TOKENS", "lots"),
                ],
                "KILN_MODEL_MAX_TOKENS",
                "not a number",
            ),
            (
                &[
                    ("KILN_MODEL_PROVIDER", "workers-ai"),
                    ("KILN_MODEL_MAX_TOKENS", "10"),
                ],
                "KILN_MODEL_MAX_TOKENS",
                "out of range",
            ),
            (
                &[
                    ("KILN_MODEL_PROVIDER", "workers-ai"),
                    ("KILN_MODEL_STREAM", "maybe"),
                ],
                "KILN_MODEL_STREAM",
                "not true or false",
            ),
            (
                &[
                    ("KILN_MODEL_PROVIDER", "workers-ai"),
                    ("KILN_REPAIR_ATTEMPTS", "9"),
                ],
                "KILN_REPAIR_ATTEMPTS",
                "out of range",
            ),
        ];
        for (pairs, setting, text) in cases {
            let e = settings(pairs).unwrap_err();
            assert_eq!(e.setting, *setting);
            assert!(e.message.contains(text), "{e}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = settings(&[
            ("KILN_MODEL_PROVIDER", "openai"),
            ("KILN_MODEL_BASE_URL", "https://x.test/v1"),
            ("KILN_MODEL_API_KEY", "sk-secret-123"),
            ("KILN_MODEL_NAME", "m"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-secret-123"));
        assert!(shown.contains("redacted"));
    }
}
