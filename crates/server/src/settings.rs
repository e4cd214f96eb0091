//! Effective configuration (config.md): built-in defaults, then an optional TOML file, then
//! environment variables, each overriding the one before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use domain::account::LimitOverrides;
use domain::Plan;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderChoice {
    Auto,
    Offline,
    OpenAi,
    Anthropic,
    Gemini,
}

impl ProviderChoice {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(Self::Auto),
            "offline" | "none" => Some(Self::Offline),
            "openai" => Some(Self::OpenAi),
            "anthropic" => Some(Self::Anthropic),
            "gemini" => Some(Self::Gemini),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Offline => "offline",
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEndpoint {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub allow_signup: bool,
    pub token_ttl_hours: i64,
    pub llm_provider: ProviderChoice,
    pub openai: ProviderEndpoint,
    pub anthropic: ProviderEndpoint,
    pub gemini: ProviderEndpoint,
    pub llm_timeout_secs: u64,
    pub max_steps: i64,
    pub redact: bool,
    pub rate_limits: bool,
    pub default_plan: Plan,
    pub ai_daily_limit: Option<i64>,
    pub ai_monthly_limit: Option<i64>,
    pub embedding_model_dir: Option<PathBuf>,
    pub match_threshold: f64,
    pub max_body_bytes: usize,
    /// Proxies whose `X-Forwarded-For` names the client (`client_addr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub log: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://flowpilot.db".into(),
            allow_signup: true,
            token_ttl_hours: 168,
            llm_provider: ProviderChoice::Auto,
            openai: ProviderEndpoint {
                api_key: None,
                base_url: None,
                model: "gpt-4.1-mini".into(),
            },
            anthropic: ProviderEndpoint {
                api_key: None,
                base_url: None,
                model: "claude-sonnet-4-5".into(),
            },
            gemini: ProviderEndpoint {
                api_key: None,
                base_url: None,
                model: "gemini-2.5-flash".into(),
            },
            llm_timeout_secs: 60,
            max_steps: 30,
            redact: true,
            rate_limits: true,
            default_plan: Plan::Free,
            ai_daily_limit: None,
            ai_monthly_limit: None,
            embedding_model_dir: None,
            match_threshold: 0.5,
            max_body_bytes: 1024 * 1024,
            trusted_proxies: Vec::new(),
            log: "info".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid TOML: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{name}={value:?} is not valid: {expected}")]
    Invalid {
        name: String,
        value: String,
        expected: &'static str,
    },
}

/// The TOML file uses the environment variable names without the `FLOWPILOT_` prefix, in
/// lower case (`bind = "0.0.0.0:8080"`, `openai_api_key = "…"`), so one table of names serves both.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
struct FileValues(BTreeMap<String, toml::Value>);

impl Settings {
    /// Reads the TOML file (if any) and the given environment.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let parsed: FileValues =
                toml::from_str(&text).map_err(|source| SettingsError::Toml {
                    path: path.to_path_buf(),
                    source: Box::new(source),
                })?;
            for (key, value) in parsed.0 {
                let value = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                values.insert(env_name_for_file_key(&key), value);
            }
        }
        for (k, v) in env {
            values.insert(k.clone(), v.clone());
        }
        Settings::from_values(&values)
    }

    /// Loads from the process environment, honouring `FLOWPILOT_CONFIG` for the file.
    pub fn from_process(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let from_env = env.get("FLOWPILOT_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(from_env);
        Settings::load(file.as_deref(), &env)
    }

    fn from_values(v: &BTreeMap<String, String>) -> Result<Settings, SettingsError> {
        let mut s = Settings::default();
        let get = |k: &str| v.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        if let Some(x) = get("FLOWPILOT_BIND") {
            s.bind = x.into();
        }
        if let Some(x) = get("FLOWPILOT_DATABASE_URL") {
            s.database_url = x.into();
        }
        if let Some(x) = get("FLOWPILOT_ALLOW_SIGNUP") {
            s.allow_signup = parse_bool("FLOWPILOT_ALLOW_SIGNUP", x)?;
        }
        if let Some(x) = get("FLOWPILOT_TOKEN_TTL_HOURS") {
            s.token_ttl_hours = parse_positive("FLOWPILOT_TOKEN_TTL_HOURS", x)?;
        }
        if let Some(x) = get("FLOWPILOT_LLM_PROVIDER") {
            s.llm_provider = ProviderChoice::parse(x).ok_or_else(|| SettingsError::Invalid {
                name: "FLOWPILOT_LLM_PROVIDER".into(),
                value: x.into(),
                expected: "one of auto, offline, openai, anthropic, gemini",
            })?;
        }
        s.openai.api_key = get("OPENAI_API_KEY").map(Into::into);
        s.openai.base_url = get("OPENAI_BASE_URL").map(Into::into);
        if let Some(x) = get("FLOWPILOT_OPENAI_MODEL") {
            s.openai.model = x.into();
        }
        s.anthropic.api_key = get("ANTHROPIC_API_KEY").map(Into::into);
        s.anthropic.base_url = get("ANTHROPIC_BASE_URL").map(Into::into);
        if let Some(x) = get("FLOWPILOT_ANTHROPIC_MODEL") {
            s.anthropic.model = x.into();
        }
        s.gemini.api_key = get("GEMINI_API_KEY")
            .or_else(|| get("GOOGLE_AI_API_KEY"))
            .map(Into::into);
        s.gemini.base_url = get("GEMINI_BASE_URL").map(Into::into);
        if let Some(x) = get("FLOWPILOT_GEMINI_MODEL") {
            s.gemini.model = x.into();
        }
        if let Some(x) = get("FLOWPILOT_LLM_TIMEOUT_SECS") {
            s.llm_timeout_secs = parse_positive("FLOWPILOT_LLM_TIMEOUT_SECS", x)?;
        }
        if let Some(x) = get("FLOWPILOT_MAX_STEPS") {
            s.max_steps = parse_positive("FLOWPILOT_MAX_STEPS", x)?;
        }
        if let Some(x) = get("FLOWPILOT_REDACT") {
            s.redact = parse_bool("FLOWPILOT_REDACT", x)?;
        }
        if let Some(x) = get("FLOWPILOT_RATE_LIMITS") {
            s.rate_limits = parse_bool("FLOWPILOT_RATE_LIMITS", x)?;
        }
        if let Some(x) = get("FLOWPILOT_DEFAULT_PLAN") {
            s.default_plan = Plan::parse(x).ok_or_else(|| SettingsError::Invalid {
                name: "FLOWPILOT_DEFAULT_PLAN".into(),
                value: x.into(),
                expected: "one of free, pro, team, enterprise",
            })?;
        }
        if let Some(x) = get("FLOWPILOT_AI_DAILY_LIMIT") {
            s.ai_daily_limit = Some(parse_non_negative("FLOWPILOT_AI_DAILY_LIMIT", x)?);
        }
        if let Some(x) = get("FLOWPILOT_AI_MONTHLY_LIMIT") {
            s.ai_monthly_limit = Some(parse_non_negative("FLOWPILOT_AI_MONTHLY_LIMIT", x)?);
        }
        s.embedding_model_dir = get("FLOWPILOT_EMBEDDING_MODEL_DIR").map(PathBuf::from);
        if let Some(x) = get("FLOWPILOT_MATCH_THRESHOLD") {
            s.match_threshold = x
                .parse::<f64>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| SettingsError::Invalid {
                    name: "FLOWPILOT_MATCH_THRESHOLD".into(),
                    value: x.into(),
                    expected: "a number between 0 and 1",
                })?;
        }
        if let Some(x) = get("FLOWPILOT_MAX_BODY_BYTES") {
            s.max_body_bytes = parse_positive::<usize>("FLOWPILOT_MAX_BODY_BYTES", x)?;
        }
        if let Some(x) = get("FLOWPILOT_TRUSTED_PROXIES") {
            s.trusted_proxies =
                crate::client_addr::parse_trusted(x).map_err(|bad| SettingsError::Invalid {
                    name: "FLOWPILOT_TRUSTED_PROXIES".into(),
                    value: bad,
                    expected: "comma-separated IP addresses or CIDRs (10.0.0.0/8)",
                })?;
        }
        if let Some(x) = get("RUST_LOG") {
            s.log = x.into();
        }
        Ok(s)
    }

    pub fn limit_overrides(&self) -> LimitOverrides {
        LimitOverrides {
            daily: self.ai_daily_limit,
            monthly: self.ai_monthly_limit,
        }
    }

    /// The provider auto-selection of config.md: anthropic, openai, gemini, else offline.
    pub fn resolved_provider(&self) -> ProviderChoice {
        match self.llm_provider {
            ProviderChoice::Auto => {
                let set = |e: &ProviderEndpoint| e.api_key.is_some() || e.base_url.is_some();
                if set(&self.anthropic) {
                    ProviderChoice::Anthropic
                } else if set(&self.openai) {
                    ProviderChoice::OpenAi
                } else if set(&self.gemini) {
                    ProviderChoice::Gemini
                } else {
                    ProviderChoice::Offline
                }
            }
            ref other => other.clone(),
        }
    }

    /// The effective configuration as `NAME = value` lines, secrets replaced by `***`.
    pub fn describe(&self) -> Vec<(String, String)> {
        let secret =
            |s: &Option<String>| s.as_ref().map_or("(unset)".to_string(), |_| "***".into());
        let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "(unset)".into());
        let limit = |l: Option<i64>| l.map_or("(plan default)".into(), |v| v.to_string());
        vec![
            ("FLOWPILOT_BIND".into(), self.bind.clone()),
            (
                "FLOWPILOT_DATABASE_URL".into(),
                store::redact_url(&self.database_url),
            ),
            (
                "FLOWPILOT_ALLOW_SIGNUP".into(),
                self.allow_signup.to_string(),
            ),
            (
                "FLOWPILOT_TOKEN_TTL_HOURS".into(),
                self.token_ttl_hours.to_string(),
            ),
            (
                "FLOWPILOT_LLM_PROVIDER".into(),
                format!(
                    "{} (effective: {})",
                    self.llm_provider.as_str(),
                    self.resolved_provider().as_str()
                ),
            ),
            ("OPENAI_API_KEY".into(), secret(&self.openai.api_key)),
            ("OPENAI_BASE_URL".into(), opt(&self.openai.base_url)),
            ("FLOWPILOT_OPENAI_MODEL".into(), self.openai.model.clone()),
            ("ANTHROPIC_API_KEY".into(), secret(&self.anthropic.api_key)),
            ("ANTHROPIC_BASE_URL".into(), opt(&self.anthropic.base_url)),
            (
                "FLOWPILOT_ANTHROPIC_MODEL".into(),
                self.anthropic.model.clone(),
            ),
            ("GEMINI_API_KEY".into(), secret(&self.gemini.api_key)),
            ("GEMINI_BASE_URL".into(), opt(&self.gemini.base_url)),
            ("FLOWPILOT_GEMINI_MODEL".into(), self.gemini.model.clone()),
            (
                "FLOWPILOT_LLM_TIMEOUT_SECS".into(),
                self.llm_timeout_secs.to_string(),
            ),
            ("FLOWPILOT_MAX_STEPS".into(), self.max_steps.to_string()),
            ("FLOWPILOT_REDACT".into(), self.redact.to_string()),
            (
                "FLOWPILOT_RATE_LIMITS".into(),
                if self.rate_limits { "on" } else { "off" }.into(),
            ),
            (
                "FLOWPILOT_DEFAULT_PLAN".into(),
                self.default_plan.as_str().into(),
            ),
            (
                "FLOWPILOT_AI_DAILY_LIMIT".into(),
                limit(self.ai_daily_limit),
            ),
            (
                "FLOWPILOT_AI_MONTHLY_LIMIT".into(),
                limit(self.ai_monthly_limit),
            ),
            (
                "FLOWPILOT_EMBEDDING_MODEL_DIR".into(),
                self.embedding_model_dir
                    .as_ref()
                    .map_or("(auto)".into(), |p| p.display().to_string()),
            ),
            (
                "FLOWPILOT_MATCH_THRESHOLD".into(),
                self.match_threshold.to_string(),
            ),
            (
                "FLOWPILOT_MAX_BODY_BYTES".into(),
                self.max_body_bytes.to_string(),
            ),
            (
                "FLOWPILOT_TRUSTED_PROXIES".into(),
                if self.trusted_proxies.is_empty() {
                    "(none)".into()
                } else {
                    let list: Vec<String> =
                        self.trusted_proxies.iter().map(|n| n.to_string()).collect();
                    list.join(", ")
                },
            ),
            ("RUST_LOG".into(), self.log.clone()),
        ]
    }
}

fn env_name_for_file_key(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    let unprefixed = [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "GEMINI_API_KEY",
        "GOOGLE_AI_API_KEY",
        "GEMINI_BASE_URL",
        "RUST_LOG",
    ];
    if upper.starts_with("FLOWPILOT_") || unprefixed.contains(&upper.as_str()) {
        upper
    } else {
        format!("FLOWPILOT_{upper}")
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, SettingsError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(SettingsError::Invalid {
            name: name.into(),
            value: v.into(),
            expected: "true/false (or on/off, yes/no, 1/0)",
        }),
    }
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(
    name: &str,
    v: &str,
) -> Result<T, SettingsError> {
    v.parse::<T>()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| SettingsError::Invalid {
            name: name.into(),
            value: v.into(),
            expected: "a positive whole number",
        })
}

fn parse_non_negative(name: &str, v: &str) -> Result<i64, SettingsError> {
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| SettingsError::Invalid {
            name: name.into(),
            value: v.into(),
            expected: "a whole number, 0 or more",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let s = Settings::load(None, &env(&[])).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://flowpilot.db");
        assert_eq!(s.max_steps, 30);
        assert_eq!(s.resolved_provider(), ProviderChoice::Offline);
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fp.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9000\"\nmax_steps = 12\nopenai_api_key = \"sk-file\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), &env(&[("FLOWPILOT_MAX_STEPS", "7")])).unwrap();
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(s.max_steps, 7);
        assert_eq!(s.openai.api_key.as_deref(), Some("sk-file"));
    }

    #[test]
    fn auto_provider_prefers_anthropic_then_openai_then_gemini() {
        let s = Settings::load(
            None,
            &env(&[("GEMINI_API_KEY", "g"), ("OPENAI_BASE_URL", "http://x/v1")]),
        )
        .unwrap();
        assert_eq!(s.resolved_provider(), ProviderChoice::OpenAi);
        let s = Settings::load(None, &env(&[("GOOGLE_AI_API_KEY", "g")])).unwrap();
        assert_eq!(s.resolved_provider(), ProviderChoice::Gemini);
        let s = Settings::load(
            None,
            &env(&[("ANTHROPIC_API_KEY", "a"), ("OPENAI_API_KEY", "o")]),
        )
        .unwrap();
        assert_eq!(s.resolved_provider(), ProviderChoice::Anthropic);
    }

    #[test]
    fn bad_values_are_named() {
        let err = Settings::load(None, &env(&[("FLOWPILOT_MAX_STEPS", "lots")])).unwrap_err();
        assert!(err.to_string().contains("FLOWPILOT_MAX_STEPS"));
    }

    #[test]
    fn secrets_are_redacted_when_described() {
        let s = Settings::load(
            None,
            &env(&[
                ("OPENAI_API_KEY", "sk-secret"),
                ("FLOWPILOT_DATABASE_URL", "postgres://u:pw@h/db"),
            ]),
        )
        .unwrap();
        let text = format!("{:?}", s.describe());
        assert!(!text.contains("sk-secret"));
        assert!(!text.contains("pw@"));
    }
}
