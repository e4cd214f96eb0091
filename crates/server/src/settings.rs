//! Effective configuration (config.md): built-in defaults, then an optional TOML file, then
//! environment variables, each overriding the one before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use domain::account::LimitOverrides;
use domain::Plan;
use providers::StructuredMode;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderChoice {
    Auto,
    Offline,
    OpenAi,
    Ollama,
    Anthropic,
    Gemini,
}

impl ProviderChoice {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(Self::Auto),
            "offline" | "none" => Some(Self::Offline),
            "openai" => Some(Self::OpenAi),
            "ollama" => Some(Self::Ollama),
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
            Self::Ollama => "ollama",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct ProviderEndpoint {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub model: String,
}

#[derive(Clone, PartialEq)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub allow_signup: bool,
    pub token_ttl_hours: i64,
    pub llm_provider: ProviderChoice,
    pub openai: ProviderEndpoint,
    /// How the OpenAI-compatible server is asked for structured output.
    pub openai_structured: StructuredMode,
    /// Ollama's native API; it takes no key.
    pub ollama: ProviderEndpoint,
    pub anthropic: ProviderEndpoint,
    pub gemini: ProviderEndpoint,
    pub llm_timeout_secs: u64,
    /// How long escalating waits for the AI's hand-off before the deterministic one.
    pub escalation_ai_timeout_secs: u64,
    /// Whether the server probes the provider in the background at start (`provider_probe`).
    pub provider_probe: bool,
    pub max_steps: i64,
    pub redact: bool,
    pub rate_limits: bool,
    /// Sign-ups a minute per client address (with the rate limits on).
    pub signups_per_minute: i64,
    /// Sign-in attempts a minute per client address (always on: they guard passwords).
    pub logins_per_address_per_minute: i64,
    pub default_plan: Plan,
    pub ai_daily_limit: Option<i64>,
    pub ai_monthly_limit: Option<i64>,
    pub embedding_model_dir: Option<PathBuf>,
    pub match_threshold: f64,
    pub max_body_bytes: usize,
    /// `FLOWPILOT_SECRET_KEY`: what PSA credentials are sealed with (checked when read).
    pub secret_key: Option<String>,
    /// Every call to a PSA gives up after this long.
    pub psa_timeout_secs: u64,
    /// Proxies whose `X-Forwarded-For` names the client (`client_addr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where `/metrics` is served instead of the main listener; `None`: on the main one.
    pub metrics_bind: Option<String>,
    /// `FLOWPILOT_SMTP_URL`: where notification emails are sent (outbox/email.rs); `None`
    /// sends none. A secret: it may carry a password.
    pub smtp_url: Option<String>,
    /// The `From:` of notification emails.
    pub smtp_from: Option<String>,
    /// The address users reach FlowPilot at, for the links notifications carry.
    pub public_url: Option<String>,
    /// How often the notification reminders are looked for.
    pub reminder_scan_secs: u64,
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
            openai_structured: StructuredMode::Auto,
            ollama: ProviderEndpoint {
                api_key: None,
                base_url: None,
                model: providers::ProviderKind::Ollama.default_model().into(),
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
            escalation_ai_timeout_secs: 5,
            provider_probe: true,
            max_steps: 30,
            redact: true,
            rate_limits: true,
            signups_per_minute: crate::rate_limit::DEFAULT_SIGNUPS_PER_MINUTE,
            logins_per_address_per_minute: crate::rate_limit::DEFAULT_LOGINS_PER_ADDRESS,
            default_plan: Plan::Free,
            ai_daily_limit: None,
            ai_monthly_limit: None,
            embedding_model_dir: None,
            match_threshold: matching::DEFAULT_THRESHOLD,
            max_body_bytes: 1024 * 1024,
            secret_key: None,
            psa_timeout_secs: 20,
            trusted_proxies: Vec::new(),
            metrics_bind: None,
            smtp_url: None,
            smtp_from: None,
            public_url: None,
            reminder_scan_secs: 30,
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
    #[error(
        "the configuration file {path} has no setting {key:?} (`flowpilot config` lists them)"
    )]
    UnknownKey { path: PathBuf, key: String },
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
                let name = env_name_for_file_key(&key);
                // A misspelt key would otherwise leave its setting at the default, silently.
                if !TABLE
                    .iter()
                    .any(|row| row.name == name || row.aliases.contains(&name.as_str()))
                {
                    return Err(SettingsError::UnknownKey {
                        path: path.to_path_buf(),
                        key,
                    });
                }
                let value = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                values.insert(name, value);
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
        for row in TABLE {
            let value = std::iter::once(row.name)
                .chain(row.aliases.iter().copied())
                .find_map(|name| v.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()));
            if let Some(value) = value {
                (row.read)(&mut s, value).map_err(|expected| SettingsError::Invalid {
                    name: row.name.into(),
                    value: if row.secret {
                        "***".into()
                    } else {
                        value.into()
                    },
                    expected,
                })?;
            }
        }
        Ok(s)
    }

    pub fn limit_overrides(&self) -> LimitOverrides {
        LimitOverrides {
            daily: self.ai_daily_limit,
            monthly: self.ai_monthly_limit,
        }
    }

    /// The provider auto-selection of config.md: anthropic, openai, ollama, gemini, else offline.
    pub fn resolved_provider(&self) -> ProviderChoice {
        match self.llm_provider {
            ProviderChoice::Auto => {
                let set = |e: &ProviderEndpoint| e.api_key.is_some() || e.base_url.is_some();
                if set(&self.anthropic) {
                    ProviderChoice::Anthropic
                } else if set(&self.openai) {
                    ProviderChoice::OpenAi
                } else if set(&self.ollama) {
                    ProviderChoice::Ollama
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
        TABLE
            .iter()
            .map(|row| (row.name.to_string(), row.shown(self)))
            .collect()
    }

    /// What each setting means, by name, in the order of [`Settings::describe`].
    pub fn documentation() -> impl Iterator<Item = (&'static str, &'static str)> {
        TABLE.iter().map(|row| (row.name, row.doc))
    }
}

/// What `{:?}` prints, in logs and panics included: the table's rows, secrets redacted.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for row in TABLE {
            map.entry(&row.name, &row.shown(self));
        }
        map.finish()
    }
}

/// One setting: the variable that sets it, what it means, how its text is read into
/// [`Settings`] and shown back, and whether it is a secret (never shown, never logged).
struct Row {
    name: &'static str,
    /// Older or alternative names, read when `name` is unset.
    aliases: &'static [&'static str],
    doc: &'static str,
    secret: bool,
    /// Reads the trimmed, non-empty value; `Err` says what was expected.
    read: fn(&mut Settings, &str) -> Result<(), &'static str>,
    show: fn(&Settings) -> String,
}

impl Row {
    fn shown(&self, s: &Settings) -> String {
        let value = (self.show)(s);
        match (self.secret, value.as_str()) {
            (true, UNSET) => value,
            (true, _) => "***".into(),
            (false, _) => value,
        }
    }
}

const UNSET: &str = "(unset)";

/// How a setting's type is read from its text and shown back; the table's rows use it through
/// [`row!`], so a row names only its variable, its field and what it means.
trait SettingValue: Sized {
    /// Reads the trimmed, non-empty text; `Err` says what was expected.
    fn read(text: &str) -> Result<Self, &'static str>;
    fn show(&self) -> String;
}

impl SettingValue for String {
    fn read(text: &str) -> Result<Self, &'static str> {
        Ok(text.into())
    }
    fn show(&self) -> String {
        self.clone()
    }
}

impl SettingValue for Option<String> {
    fn read(text: &str) -> Result<Self, &'static str> {
        Ok(Some(text.into()))
    }
    fn show(&self) -> String {
        self.clone().unwrap_or_else(|| UNSET.into())
    }
}

impl SettingValue for bool {
    fn read(text: &str) -> Result<Self, &'static str> {
        parse_bool(text)
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// Counts, sizes and durations: whole numbers above 0.
macro_rules! positive_setting {
    ($($ty:ty),*) => {$(
        impl SettingValue for $ty {
            fn read(text: &str) -> Result<Self, &'static str> {
                parse_positive(text)
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
positive_setting!(i64, u64, usize);

/// An override of a plan's AI limit: 0 or more, unset for the plan's own.
impl SettingValue for Option<i64> {
    fn read(text: &str) -> Result<Self, &'static str> {
        parse_non_negative(text).map(Some)
    }
    fn show(&self) -> String {
        self.map_or("(plan default)".into(), |v| v.to_string())
    }
}

/// A directory; unset means the documented default places.
impl SettingValue for Option<PathBuf> {
    fn read(text: &str) -> Result<Self, &'static str> {
        Ok(Some(PathBuf::from(text)))
    }
    fn show(&self) -> String {
        self.as_ref()
            .map_or("(auto)".into(), |p| p.display().to_string())
    }
}

/// The matching threshold, a number between 0 and 1.
impl SettingValue for f64 {
    fn read(text: &str) -> Result<Self, &'static str> {
        text.parse::<f64>()
            .ok()
            .filter(|t| (0.0..=1.0).contains(t))
            .ok_or("a number between 0 and 1")
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for Plan {
    fn read(text: &str) -> Result<Self, &'static str> {
        Plan::parse(text).ok_or("one of free, pro, team, enterprise")
    }
    fn show(&self) -> String {
        self.as_str().into()
    }
}

impl SettingValue for Vec<ipnet::IpNet> {
    fn read(text: &str) -> Result<Self, &'static str> {
        crate::client_addr::parse_trusted(text)
            .map_err(|_| "comma-separated IP addresses or CIDRs (10.0.0.0/8)")
    }
    fn show(&self) -> String {
        if self.is_empty() {
            return "(none)".into();
        }
        let list: Vec<String> = self.iter().map(|n| n.to_string()).collect();
        list.join(", ")
    }
}

impl SettingValue for StructuredMode {
    fn read(text: &str) -> Result<Self, &'static str> {
        StructuredMode::parse(text).ok_or("one of auto, strict, vllm, llamacpp, prompt")
    }
    fn show(&self) -> String {
        match self {
            StructuredMode::Auto => format!("auto (until probed: {})", providers::AUTO_UNPROBED),
            fixed => fixed.as_str().into(),
        }
    }
}

/// A row whose field is read and shown by its type's [`SettingValue`]:
/// `row!("NAME", "meaning", field.path)`, `row!(secret "NAME" | "ALIAS", "meaning", field)`.
macro_rules! row {
    (@row $secret:literal, $name:literal $(| $alias:literal)*, $doc:literal, $($field:ident).+) => {
        Row {
            name: $name,
            aliases: &[$($alias),*],
            doc: $doc,
            secret: $secret,
            read: |s, v| {
                s.$($field).+ = SettingValue::read(v)?;
                Ok(())
            },
            show: |s| SettingValue::show(&s.$($field).+),
        }
    };
    (secret $name:literal $(| $alias:literal)*, $doc:literal, $($field:ident).+) => {
        row!(@row true, $name $(| $alias)*, $doc, $($field).+)
    };
    ($name:literal $(| $alias:literal)*, $doc:literal, $($field:ident).+) => {
        row!(@row false, $name $(| $alias)*, $doc, $($field).+)
    };
}

/// Every setting, in the order `flowpilot config` prints them. The TOML file's keys are these
/// names in lower case, without the `FLOWPILOT_` prefix (see [`env_name_for_file_key`]).
const TABLE: &[Row] = &[
    row!("FLOWPILOT_BIND", "listen address", bind),
    Row {
        name: "FLOWPILOT_DATABASE_URL",
        aliases: &[],
        doc: "sqlite://PATH (created if missing) or postgres://…",
        secret: false,
        read: |s, v| {
            s.database_url = v.into();
            Ok(())
        },
        // Not a secret as a whole, but its password is.
        show: |s| store::redact_url(&s.database_url),
    },
    row!(
        "FLOWPILOT_ALLOW_SIGNUP",
        "whether /auth/register is open",
        allow_signup
    ),
    row!(
        "FLOWPILOT_TOKEN_TTL_HOURS",
        "access token lifetime",
        token_ttl_hours
    ),
    Row {
        name: "FLOWPILOT_LLM_PROVIDER",
        aliases: &[],
        doc: "offline, openai, ollama, anthropic or gemini; auto picks the first configured",
        secret: false,
        read: |s, v| {
            s.llm_provider = ProviderChoice::parse(v)
                .ok_or("one of auto, offline, openai, ollama, anthropic, gemini")?;
            Ok(())
        },
        show: |s| {
            format!(
                "{} (effective: {})",
                s.llm_provider.as_str(),
                s.resolved_provider().as_str()
            )
        },
    },
    row!(secret "OPENAI_API_KEY", "OpenAI's API key", openai.api_key),
    row!(
        "OPENAI_BASE_URL",
        "an OpenAI-compatible server (enough alone for a local one)",
        openai.base_url
    ),
    row!("FLOWPILOT_OPENAI_MODEL", "the OpenAI model", openai.model),
    row!(
        "FLOWPILOT_OPENAI_STRUCTURED",
        "how the OpenAI-compatible server is asked for structured output: auto, strict, vllm, llamacpp or prompt",
        openai_structured
    ),
    row!(
        "OLLAMA_BASE_URL",
        "Ollama's address, for its native API (enough alone)",
        ollama.base_url
    ),
    row!("FLOWPILOT_OLLAMA_MODEL", "the Ollama model", ollama.model),
    row!(secret "ANTHROPIC_API_KEY", "Anthropic's API key", anthropic.api_key),
    row!(
        "ANTHROPIC_BASE_URL",
        "Anthropic's API address",
        anthropic.base_url
    ),
    row!(
        "FLOWPILOT_ANTHROPIC_MODEL",
        "the Anthropic model",
        anthropic.model
    ),
    row!(secret "GEMINI_API_KEY" | "GOOGLE_AI_API_KEY", "Gemini's API key", gemini.api_key),
    row!("GEMINI_BASE_URL", "Gemini's API address", gemini.base_url),
    row!("FLOWPILOT_GEMINI_MODEL", "the Gemini model", gemini.model),
    row!(
        "FLOWPILOT_LLM_TIMEOUT_SECS",
        "per provider call",
        llm_timeout_secs
    ),
    row!(
        "FLOWPILOT_ESCALATION_AI_TIMEOUT_SECS",
        "how long escalating waits for the AI's hand-off package before using the deterministic one",
        escalation_ai_timeout_secs
    ),
    row!(
        "FLOWPILOT_PROVIDER_PROBE",
        "check the LLM provider in the background at start (what `flowpilot doctor` checks); false skips it",
        provider_probe
    ),
    row!("FLOWPILOT_MAX_STEPS", "steps per session", max_steps),
    row!(
        "FLOWPILOT_REDACT",
        "redact secrets before text reaches a provider",
        redact
    ),
    Row {
        name: "FLOWPILOT_RATE_LIMITS",
        aliases: &[],
        doc: "off disables the per-endpoint and sign-up limits",
        secret: false,
        read: |s, v| {
            s.rate_limits = parse_bool(v)?;
            Ok(())
        },
        show: |s| if s.rate_limits { "on" } else { "off" }.into(),
    },
    row!(
        "FLOWPILOT_SIGNUPS_PER_MINUTE",
        "sign-ups a minute per client address",
        signups_per_minute
    ),
    row!(
        "FLOWPILOT_LOGINS_PER_ADDRESS_PER_MINUTE",
        "sign-in attempts a minute per client address",
        logins_per_address_per_minute
    ),
    row!(
        "FLOWPILOT_DEFAULT_PLAN",
        "plan of newly registered accounts",
        default_plan
    ),
    row!(
        "FLOWPILOT_AI_DAILY_LIMIT",
        "overrides the daily AI limit of every limited plan",
        ai_daily_limit
    ),
    row!(
        "FLOWPILOT_AI_MONTHLY_LIMIT",
        "overrides the monthly AI limit of every limited plan",
        ai_monthly_limit
    ),
    row!(
        "FLOWPILOT_EMBEDDING_MODEL_DIR",
        "the all-MiniLM-L6-v2 directory",
        embedding_model_dir
    ),
    row!(
        "FLOWPILOT_MATCH_THRESHOLD",
        "flow matching threshold",
        match_threshold
    ),
    row!(
        "FLOWPILOT_MAX_BODY_BYTES",
        "request body limit (413 above)",
        max_body_bytes
    ),
    Row {
        name: "FLOWPILOT_SECRET_KEY",
        aliases: &[],
        doc: "32 bytes, base64 (openssl rand -base64 32): encrypts PSA credentials at rest; without it none can be stored",
        secret: true,
        read: |s, v| {
            integrations::SecretKey::from_base64(v)
                .map_err(|_| "32 random bytes in base64 (openssl rand -base64 32)")?;
            s.secret_key = Some(v.into());
            Ok(())
        },
        show: |s| s.secret_key.clone().unwrap_or_else(|| UNSET.into()),
    },
    row!(
        "FLOWPILOT_PSA_TIMEOUT_SECS",
        "per call to a PSA (ticket reads, lists, tests)",
        psa_timeout_secs
    ),
    row!(
        "FLOWPILOT_TRUSTED_PROXIES",
        "addresses or CIDRs whose X-Forwarded-For names the client",
        trusted_proxies
    ),
    row!(
        "FLOWPILOT_METRICS_BIND",
        "serve /metrics on this address instead of the main listener",
        metrics_bind
    ),
    Row {
        name: "FLOWPILOT_SMTP_URL",
        aliases: &[],
        doc: "where notification emails go: smtp://[user:pass@]host[:587] (STARTTLS when offered; ?tls=required insists, ?tls=none never), smtps://…[:465] (TLS); unset sends no email",
        secret: true,
        read: |s, v| {
            crate::outbox::email::SmtpTarget::parse(v).map_err(|_| {
                "smtp://[user:pass@]host[:port][?tls=required|opportunistic|none] or smtps://[user:pass@]host[:port]"
            })?;
            s.smtp_url = Some(v.into());
            Ok(())
        },
        show: |s| s.smtp_url.clone().unwrap_or_else(|| UNSET.into()),
    },
    Row {
        name: "FLOWPILOT_SMTP_FROM",
        aliases: &[],
        doc: "the From: address of notification emails (default flowpilot@ the SMTP host)",
        secret: false,
        read: |s, v| {
            // Refused here rather than at start, where it would leave every email waiting.
            v.parse::<lettre::message::Mailbox>()
                .map_err(|_| "an email address, optionally with a name: FlowPilot <flowpilot@example.com>")?;
            s.smtp_from = Some(v.into());
            Ok(())
        },
        show: |s| s.smtp_from.clone().unwrap_or_else(|| UNSET.into()),
    },
    row!(
        "FLOWPILOT_PUBLIC_URL",
        "the address users reach FlowPilot at (https://flowpilot.example.com), for the links in notifications; default http:// and the listen address",
        public_url
    ),
    row!(
        "FLOWPILOT_REMINDER_SCAN_SECS",
        "how often the unclaimed-escalation and check-back reminders are looked for",
        reminder_scan_secs
    ),
    row!("RUST_LOG", "log filter", log),
];

/// `bind` → `FLOWPILOT_BIND`; the provider variables without the prefix keep their names
/// (`openai_api_key` → `OPENAI_API_KEY`), as do names written in full.
fn env_name_for_file_key(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    let known_bare = TABLE
        .iter()
        .flat_map(|row| std::iter::once(row.name).chain(row.aliases.iter().copied()))
        .any(|name| name == upper && !name.starts_with("FLOWPILOT_"));
    if upper.starts_with("FLOWPILOT_") || known_bare {
        upper
    } else {
        format!("FLOWPILOT_{upper}")
    }
}

fn parse_bool(v: &str) -> Result<bool, &'static str> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("true/false (or on/off, yes/no, 1/0)"),
    }
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(v: &str) -> Result<T, &'static str> {
    v.parse::<T>()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or("a whole number above 0")
}

fn parse_non_negative(v: &str) -> Result<i64, &'static str> {
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or("a whole number, 0 or more")
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
    fn ollama_comes_after_openai_and_before_gemini_and_needs_only_its_address() {
        let s = Settings::load(
            None,
            &env(&[
                ("GEMINI_API_KEY", "g"),
                ("OLLAMA_BASE_URL", "http://gpu01:11434"),
            ]),
        )
        .unwrap();
        assert_eq!(s.resolved_provider(), ProviderChoice::Ollama);
        assert_eq!(s.ollama.model, "llama3.2:3b");
        let s = Settings::load(
            None,
            &env(&[
                ("OLLAMA_BASE_URL", "http://gpu01:11434"),
                ("OPENAI_BASE_URL", "http://x/v1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.resolved_provider(), ProviderChoice::OpenAi);
    }

    #[test]
    fn the_structured_mode_is_read_from_the_environment_and_the_file() {
        let s = Settings::load(None, &env(&[])).unwrap();
        assert_eq!(s.openai_structured, StructuredMode::Auto);
        let s = Settings::load(None, &env(&[("FLOWPILOT_OPENAI_STRUCTURED", "vLLM")])).unwrap();
        assert_eq!(s.openai_structured, StructuredMode::Vllm);
        let err =
            Settings::load(None, &env(&[("FLOWPILOT_OPENAI_STRUCTURED", "guided")])).unwrap_err();
        assert!(
            err.to_string()
                .contains("one of auto, strict, vllm, llamacpp, prompt"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fp.toml");
        std::fs::write(
            &path,
            "openai_structured = \"llamacpp\"\nollama_base_url = \"http://gpu01:11434\"\nollama_model = \"qwen2.5:7b\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), &env(&[])).unwrap();
        assert_eq!(s.openai_structured, StructuredMode::LlamaCpp);
        assert_eq!(s.ollama.base_url.as_deref(), Some("http://gpu01:11434"));
        assert_eq!(s.ollama.model, "qwen2.5:7b");
    }

    #[test]
    fn bad_values_are_named() {
        let err = Settings::load(None, &env(&[("FLOWPILOT_MAX_STEPS", "lots")])).unwrap_err();
        assert!(err.to_string().contains("FLOWPILOT_MAX_STEPS"));
    }

    #[test]
    fn a_misspelt_key_in_the_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fp.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\nmax_step = 12\n").unwrap();
        let err = Settings::load(Some(&path), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("\"max_step\""), "{err}");
        std::fs::write(
            &path,
            "google_ai_api_key = \"g\"\ntrusted_proxies = \"10.0.0.0/8\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), &env(&[])).unwrap();
        assert_eq!(s.gemini.api_key.as_deref(), Some("g"));
        assert_eq!(s.trusted_proxies.len(), 1);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let s = Settings::load(
            None,
            &env(&[
                ("ANTHROPIC_API_KEY", "sk-ant-secret"),
                ("GOOGLE_AI_API_KEY", "AIza-secret"),
                ("FLOWPILOT_DATABASE_URL", "postgres://u:pw@h/db"),
            ]),
        )
        .unwrap();
        let text = format!("{s:?}");
        assert!(!text.contains("secret") && !text.contains("pw@"), "{text}");
        assert!(text.contains("\"ANTHROPIC_API_KEY\": \"***\""), "{text}");
        assert!(text.contains("\"OPENAI_API_KEY\": \"(unset)\""), "{text}");
    }

    #[test]
    fn every_setting_is_documented() {
        let docs = include_str!("../../../docs/configuration.md");
        for row in TABLE {
            assert!(
                docs.contains(&format!("`{}`", row.name)),
                "{} is not in docs/configuration.md",
                row.name
            );
            assert!(!row.doc.is_empty());
        }
    }

    #[test]
    fn the_secret_key_is_checked_and_never_shown() {
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let s = Settings::load(None, &env(&[("FLOWPILOT_SECRET_KEY", key)])).unwrap();
        assert_eq!(s.secret_key.as_deref(), Some(key));
        assert_eq!(s.psa_timeout_secs, 20);
        let shown = format!("{s:?} {:?}", s.describe());
        assert!(!shown.contains(key), "{shown}");
        assert!(
            shown.contains("\"FLOWPILOT_SECRET_KEY\": \"***\""),
            "{shown}"
        );
        let err = Settings::load(None, &env(&[("FLOWPILOT_SECRET_KEY", "c2hvcnQ=")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("FLOWPILOT_SECRET_KEY") && !text.contains("c2hvcnQ"),
            "{text}"
        );
    }

    #[test]
    fn the_smtp_settings_are_checked_and_the_url_never_shown() {
        let s = Settings::load(
            None,
            &env(&[
                ("FLOWPILOT_SMTP_URL", "smtps://fp:mail-pw@mail.example.com"),
                ("FLOWPILOT_SMTP_FROM", "FlowPilot <fp@example.com>"),
            ]),
        )
        .unwrap();
        assert_eq!(s.smtp_from.as_deref(), Some("FlowPilot <fp@example.com>"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("mail-pw"), "{shown}");
        for (name, value) in [
            ("FLOWPILOT_SMTP_URL", "https://mail.example.com"),
            (
                "FLOWPILOT_SMTP_URL",
                "smtp://mail.example.com?tls=sometimes",
            ),
            ("FLOWPILOT_SMTP_FROM", "not an address"),
        ] {
            let err = Settings::load(None, &env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
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
