//! Redaction of secrets before text reaches a provider (engine.md). Engineers paste logs,
//! scripts and config files; whatever credentials those carry must not leave the network.
//!
//! Each rule keeps the surrounding context (`password=`, the user name in a URL, the auth
//! scheme) and replaces only the secret, so the model still understands what was there.
//! Rules run in order; a secret an earlier rule already replaced is left alone.
//!
//! Speed (docs/benchmarks.md): redaction runs on every prompt, so it avoids work that cannot
//! change the result.
//! - One [`RegexSet`] pass finds the rules that can match at all; only those run. The set's
//!   patterns are the rules without their word boundaries, so it matches wherever a rule does
//!   (and sometimes where one does not, which only costs a wasted run). After a rule changed the
//!   text the set is asked again, so a rule whose match an earlier replacement created or
//!   removed is judged on the text it will actually see.
//! - The rules use ASCII word boundaries (`(?-u:\b)`): Unicode ones make the regex crate leave
//!   its fast DFA on any non-ASCII text. Every boundary in [`RULES`] sits next to an ASCII letter,
//!   digit or `_` of the pattern, and there an ASCII boundary holds wherever the Unicode one does
//!   (and also next to a non-ASCII letter, so `Kennwortäpassword=x` is redacted too). The one way
//!   a pattern letter can match a non-ASCII character is case folding (`ſ` for `s`, the Kelvin
//!   sign for `k`); text containing either runs the original Unicode rules instead.

use std::borrow::Cow;
use std::sync::LazyLock;

use domain::llm::LlmRequest;
use regex::{Captures, Regex, RegexSet};

const PLACEHOLDER_PREFIX: &str = "[REDACTED:";

/// What a rule calls the secret it replaces.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Fixed(&'static str),
    /// Named after the key it was assigned to (`db_password=` → password).
    FromName,
}

#[derive(Debug, Clone)]
struct Rule {
    /// The pattern with ASCII word boundaries: what normally runs.
    regex: Regex,
    /// The pattern as written, with Unicode word boundaries: for text where case folding could
    /// put a non-ASCII character next to a boundary (see the module documentation).
    unicode: Regex,
    kind: Kind,
    /// For rules whose trigger word also occurs in prose ("bearer of bad news"): only replace
    /// values that look machine-generated.
    only_plausible: bool,
}

/// Rules as source: pattern, kind, only_plausible. Named groups: `pre` and `post` are kept,
/// `secret` is replaced (the whole match when there is no `secret` group), `name` picks the kind.
const RULES: &[(&str, Kind, bool)] = &[
    // PEM private keys, including a truncated paste with no END line.
    (
        r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[A-Za-z0-9+/=\r\n]*)",
        Kind::Fixed("private_key"),
        false,
    ),
    // Credentials inside a URL: postgres://, mysql://, mongodb+srv://, amqp://, https://…
    (
        r"(?i)(?P<pre>\b[a-z][a-z0-9+.\-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)(?P<post>@)",
        Kind::Fixed("password"),
        false,
    ),
    // ADO.NET / ODBC connection strings, where a password may contain spaces up to the `;`.
    (
        r"(?i)(?P<pre>;[ \t]*(?:password|pwd)[ \t]*=[ \t]*)(?P<secret>[^;\r\n'\x22]+)",
        Kind::Fixed("password"),
        false,
    ),
    // Azure storage and service bus keys, and SAS tokens.
    (
        r"(?i)(?P<pre>\b(?:AccountKey|SharedAccessKey)[ \t]*=[ \t]*)(?P<secret>[^;\s'\x22]+)",
        Kind::Fixed("azure_key"),
        false,
    ),
    (
        r"(?i)(?P<pre>\bSharedAccessSignature[ \t]*=[ \t]*)(?P<secret>[^;\s'\x22]+)",
        Kind::Fixed("sas_token"),
        false,
    ),
    (
        r"(?i)(?P<pre>[?&]sig=)(?P<secret>[A-Za-z0-9%+/=]+)",
        Kind::Fixed("sas_token"),
        false,
    ),
    // Vendor token formats, recognisable on their own.
    (r"\bsk-[A-Za-z0-9_\-]{16,}", Kind::Fixed("api_key"), false),
    (
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        Kind::Fixed("aws_key"),
        false,
    ),
    (
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}",
        Kind::Fixed("token"),
        false,
    ),
    (
        r"\bgithub_pat_[A-Za-z0-9_]{22,}",
        Kind::Fixed("token"),
        false,
    ),
    (
        r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
        Kind::Fixed("token"),
        false,
    ),
    (r"\bAIza[0-9A-Za-z_\-]{35}", Kind::Fixed("api_key"), false),
    (
        r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        Kind::Fixed("jwt"),
        false,
    ),
    // HTTP authentication, keeping the scheme.
    (
        r"(?i)(?P<pre>\b(?:Proxy-)?Authorization['\x22]?[ \t]*[:=][ \t]*['\x22]?(?:(?:Bearer|Basic|Digest|Token|NTLM|Negotiate|SharedKey)[ \t]+)?)(?P<secret>[^\s'\x22,;]+)",
        Kind::Fixed("authorization"),
        true,
    ),
    (
        r"(?i)(?P<pre>\bBearer[ \t]+)(?P<secret>[A-Za-z0-9\-._~+/]+=*)",
        Kind::Fixed("token"),
        true,
    ),
    // PowerShell: ConvertTo-SecureString 'x' and -Password 'x' (not variables or subexpressions).
    (
        r"(?i)(?P<pre>\bConvertTo-SecureString[ \t]+(?:-String[ \t]+)?)(?P<secret>'[^']*'|\x22[^\x22]*\x22)",
        Kind::Fixed("password"),
        false,
    ),
    (
        r"(?i)(?P<pre>[ \t]-(?P<name>Password|NewPassword|AccountPassword|Passwd|Pwd|Secret|Token|ApiKey|AccessToken|ClientSecret)[ \t]+)(?P<secret>'[^']*'|\x22[^\x22]*\x22|[^\s('\x22$][^\s]*)",
        Kind::FromName,
        false,
    ),
    // Windows command lines that take a password as a positional argument.
    (
        r"(?i)(?P<pre>\bnet[ \t]+use\b[^\r\n]*?/u(?:ser)?:\S+[ \t]+)(?P<secret>[^\s/*]\S*)",
        Kind::Fixed("password"),
        false,
    ),
    (
        r"(?i)(?P<pre>\bnet[ \t]+use[ \t]+(?:[a-z]:[ \t]+|\*[ \t]+)?\\\\\S+[ \t]+)(?P<secret>[^\s/*]\S*)",
        Kind::Fixed("password"),
        false,
    ),
    (
        r"(?i)(?P<pre>\b(?:psexec|runas|sshpass)\b[^\r\n]*?[ \t]-p[ \t]+)(?P<secret>\S+)",
        Kind::Fixed("password"),
        false,
    ),
    (
        r"(?i)(?P<pre>\bmysql(?:dump|admin)?\b[^\r\n]*?[ \t]-p)(?P<secret>[^\s\-]\S*)",
        Kind::Fixed("password"),
        false,
    ),
    // XML config and unattend files.
    (
        r"(?is)(?P<pre><(?:[a-z]+:)?(?P<name>password|passwd|secret|token|apikey|api_key|client_secret|AdministratorPassword)>(?:\s*<Value>)?)(?P<secret>[^<]+)",
        Kind::FromName,
        false,
    ),
    // Prose in a ticket: "my password is Hunter2!" / "pwd was S3cret". Only values with a digit
    // or a symbol, so "the password is expired" keeps its meaning.
    (
        r"(?i)(?P<pre>\b(?:password|passwd|passphrase|pwd|pin)[ \t]+(?:is|was|should be|=)[ \t]+)(?P<secret>[^\s]*[0-9!@#$%^&*()_+=\[\]{}|\\<>?/~-][^\s]*)",
        Kind::Fixed("password"),
        false,
    ),
    // Generic assignments: password=x, "password": "x", DB_PASSWORD=x, client_secret: x, api_key=x.
    (
        r"(?i)(?P<pre>['\x22]?\b(?P<name>(?:[a-z0-9]+[_\-.])*(?:password|passwd|passphrase|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|credentials?))\b['\x22]?[ \t]*(?:=>|[:=])[ \t]*)(?P<secret>\x22[^\x22\r\n]*\x22|'[^'\r\n]*'|[^\s,;&'\x22}\]<]+)",
        Kind::FromName,
        false,
    ),
];

/// Replaces secrets in text by placeholders such as `[REDACTED:password]`.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<Rule>,
    /// Rule `i`'s pattern without word boundaries is pattern `i` of the set: a superset of what
    /// rule `i` matches, in either of its forms.
    /// Rules that may match a text, found in one pass; `None` (never in a tested build) runs
    /// every rule.
    candidates: Option<RegexSet>,
}

static SHARED: LazyLock<Redactor> = LazyLock::new(Redactor::new);

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    pub fn new() -> Self {
        let rules: Vec<Rule> = RULES
            .iter()
            .filter_map(|(pattern, kind, only_plausible)| {
                let compiled = Regex::new(&with_word_boundaries(pattern, r"(?-u:\b)"))
                    .and_then(|regex| Ok((regex, Regex::new(pattern)?)));
                match compiled {
                    Ok((regex, unicode)) => Some(Rule {
                        regex,
                        unicode,
                        kind: *kind,
                        only_plausible: *only_plausible,
                    }),
                    // The patterns are constants and a unit test compiles every one, so this is
                    // unreachable in a tested build; skipping beats crashing the server.
                    Err(error) => {
                        tracing::error!(%error, "redaction rule does not compile; skipped");
                        None
                    }
                }
            })
            .collect();
        let candidates = RegexSet::new(
            rules
                .iter()
                .map(|rule| with_word_boundaries(rule.unicode.as_str(), "")),
        )
        .map_err(|error| {
            // Same reasoning as above: unreachable in a tested build. Without the pre-filter
            // every rule runs, which is slow but strict.
            tracing::error!(%error, "redaction pre-filter does not compile; running every rule");
        })
        .ok();
        Self { rules, candidates }
    }

    /// A process-wide instance, compiled once.
    pub fn shared() -> &'static Redactor {
        &SHARED
    }

    pub fn redact(&self, text: &str) -> String {
        let unicode = folds_onto_ascii_letters(text);
        let mut out = Cow::Borrowed(text);
        let mut candidates = self.candidates.as_ref().map(|set| set.matches(text));
        for (i, rule) in self.rules.iter().enumerate() {
            // A rule the set rules out has no match in `out`, and replace_all would change nothing.
            if candidates.as_ref().is_some_and(|found| !found.matched(i)) {
                continue;
            }
            let regex = if unicode { &rule.unicode } else { &rule.regex };
            let replaced = match regex.replace_all(&out, |caps: &Captures| rule.replace(caps)) {
                Cow::Owned(replaced) if replaced != *out => Some(replaced),
                _ => None,
            };
            if let Some(replaced) = replaced {
                candidates = self.candidates.as_ref().map(|set| set.matches(&replaced));
                out = Cow::Owned(replaced);
            }
        }
        out.into_owned()
    }

    /// Redacts the content of every message in place. The system prompt is left as it is: for
    /// callers whose system prompt is their own constant text (see [`Self::redact_request`]).
    pub fn redact_messages(&self, request: &mut LlmRequest) {
        for message in &mut request.messages {
            message.content = self.redact(&message.content);
        }
    }

    /// The request with its system prompt and every message redacted.
    pub fn redact_request(&self, request: &LlmRequest) -> LlmRequest {
        let mut redacted = request.clone();
        redacted.system = self.redact(&request.system);
        self.redact_messages(&mut redacted);
        redacted
    }
}

/// `pattern` with every `\b` (a word boundary; `\\b` is a backslash and a `b`) replaced by
/// `boundary`.
fn with_word_boundaries(pattern: &str, boundary: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push_str(boundary),
            Some(escaped) => {
                out.push('\\');
                out.push(escaped);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Whether `text` holds a non-ASCII character that case-insensitive matching equates with an
/// ASCII letter (`ſ` with `s`, the Kelvin sign with `k`): the only way a rule's letter next to a
/// word boundary can be non-ASCII, where ASCII and Unicode boundaries could disagree.
fn folds_onto_ascii_letters(text: &str) -> bool {
    text.contains(['\u{17F}', '\u{212A}'])
}

impl Rule {
    fn replace(&self, caps: &Captures) -> String {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let pre = caps.name("pre").map_or("", |m| m.as_str());
        let post = caps.name("post").map_or("", |m| m.as_str());
        let secret = caps.name("secret").map_or(whole, |m| m.as_str());

        let (open, inner, close) = split_quotes(secret);
        if inner.is_empty()
            || inner.starts_with(PLACEHOLDER_PREFIX)
            || (self.only_plausible && !looks_machine_generated(inner))
        {
            return whole.to_string();
        }
        let kind = match self.kind {
            Kind::Fixed(kind) => kind,
            Kind::FromName => kind_from_name(caps.name("name").map_or("", |m| m.as_str())),
        };
        format!("{pre}{open}{PLACEHOLDER_PREFIX}{kind}]{close}{post}")
    }
}

/// Keeps the quotes of a quoted value so the surrounding JSON or script stays well-formed.
fn split_quotes(value: &str) -> (&str, &str, &str) {
    for quote in ["\"", "'"] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return (quote, &value[1..value.len() - 1], quote);
        }
    }
    ("", value, "")
}

fn kind_from_name(name: &str) -> &'static str {
    let name = name.to_ascii_lowercase();
    if name.contains("pass") || name.contains("pwd") {
        "password"
    } else if name.contains("token") {
        "token"
    } else if name.contains("key") {
        "api_key"
    } else {
        "secret"
    }
}

/// Tokens are long or mix character classes; English words are neither.
fn looks_machine_generated(value: &str) -> bool {
    let has_digit = value.chars().any(|c| c.is_ascii_digit());
    let has_symbol = value.chars().any(|c| "+/=_-.~".contains(c));
    let has_inner_upper = value.chars().skip(1).any(|c| c.is_ascii_uppercase());
    let has_lower = value.chars().any(|c| c.is_ascii_lowercase());
    value.len() >= 24
        || (value.len() >= 8 && (has_digit || has_symbol || (has_inner_upper && has_lower)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::shared().redact(text)
    }

    #[test]
    fn every_rule_compiles() {
        let redactor = Redactor::new();
        assert_eq!(redactor.rules.len(), RULES.len());
        assert_eq!(
            redactor.candidates.as_ref().map(RegexSet::len),
            Some(RULES.len())
        );
    }

    #[test]
    fn word_boundaries_are_rewritten_but_escaped_backslashes_are_not() {
        assert_eq!(
            with_word_boundaries(r"\bsk-\\b\d\b", "(?-u:\\b)"),
            r"(?-u:\b)sk-\\b\d(?-u:\b)"
        );
        assert_eq!(with_word_boundaries(r"\bAKIA\b", ""), "AKIA");
        assert_eq!(with_word_boundaries("trailing\\", ""), "trailing\\");
    }

    /// The redaction as it was before the pre-filter and ASCII boundaries: every rule, as
    /// written, in order, over the whole text.
    fn reference(text: &str) -> String {
        let redactor = Redactor::shared();
        let mut out = text.to_string();
        for rule in &redactor.rules {
            out = rule
                .unicode
                .replace_all(&out, |caps: &Captures| rule.replace(caps))
                .into_owned();
        }
        out
    }

    /// Inputs that exercise every rule, and text that must survive.
    const CORPUS: &[&str] = &[
        "my password is Hunter2-secret! and it fails",
        "the password is expired",
        "password=hunter2",
        "pwd: S3cr3t!",
        "set DB_PASSWORD=Summer2024 && run",
        r#"{"user": "svc_backup", "password": "P@ss w0rd"}"#,
        "$cfg = @{ 'Password' => 'abc123' }",
        "New-LocalUser -Name tech -Password 'Winter#2024' -Verbose",
        r#"$p = ConvertTo-SecureString "Tr0ub4dor" -AsPlainText -Force"#,
        "Set-ADAccountPassword -Identity jdoe -NewPassword $pw -Reset",
        r"net use Z: \\fs01\share /user:CONTOSO\jdoe Passw0rd /persistent:yes",
        r"net use \\fs01\share Passw0rd /user:jdoe",
        "mysql -u root -pRootPass1 shop",
        r"psexec \\pc42 -u admin -p Secret99 cmd",
        "runas /user:admin -p Geheim123 cmd",
        "key sk-proj-abcdefghijklmnopqrstuvwxyz123456",
        "AKIAIOSFODNN7EXAMPLE in profile",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "xoxb-123456789012-abcdefghijkl",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "curl -H 'Authorization: Bearer abc123def456ghi789'",
        "Authorization: Basic dXNlcjpwYXNz",
        "token is Bearer 9f8e7d6c5b4a3210",
        "The proxy rejected Bearer authentication; Authorization: denied",
        "https://api.example.com/v1?api_key=abc123&format=json",
        "client_secret: 8Q~x.yz_ABC",
        "GITHUB_TOKEN=abcdef",
        "secret = 'shh'",
        "<AdministratorPassword><Value>LocalAdm1n</Value>",
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nafter",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF",
        "DATABASE_URL postgres://app:s3cret@db01:5432/app",
        "mongodb+srv://admin:hunter2@cluster0.abcde.mongodb.net/test",
        "Server=sql01;Database=crm;User Id=sa;Password=my secret pw;Encrypt=true",
        "AccountName=st01;AccountKey=abc+def/ghi==;EndpointSuffix=core.windows.net",
        "Endpoint=sb://ns/;SharedAccessKeyName=Root;SharedAccessKey=AbC123==",
        "BlobEndpoint=https://st01/;SharedAccessSignature=sv=2022-11-02&sig=AbC%2Bdef",
        "https://st01.blob.core.windows.net/c/f.txt?sv=2022-11-02&sig=AbC%2Bdef%3D",
        "The password for jdoe expired; max_tokens=512 token count exceeded",
        "Windows Update failed with 0x80070005 on srv-dc01.contoso.local (192.168.1.20)",
    ];

    #[test]
    fn non_ascii_text_around_secrets_misses_nothing() {
        assert_eq!(
            redact("Passwort → password: Hunter2! — ok"),
            "Passwort → password: [REDACTED:password] — ok"
        );
        assert_eq!(
            redact("Das Kennwort für café: pwd was S3cret! – danke"),
            "Das Kennwort für café: pwd was [REDACTED:password] – danke"
        );
        assert_eq!(
            redact("日本語のログ: api_key=abc123 、エラー"),
            "日本語のログ: api_key=[REDACTED:api_key] 、エラー"
        );
        assert_eq!(
            redact("clé «sk-proj-abcdefghijklmnopqrstuvwxyz123456» ✓"),
            "clé «[REDACTED:api_key]» ✓"
        );
        assert_eq!(
            redact("Ошибка: postgres://app:s3cret@db01/app — пароль"),
            "Ошибка: postgres://app:[REDACTED:password]@db01/app — пароль"
        );
        assert_eq!(
            redact("naïve → Authorization: Bearer abc123def456ghi789 ←"),
            "naïve → Authorization: Bearer [REDACTED:authorization] ←"
        );
    }

    #[test]
    fn the_fast_rules_redact_exactly_what_the_unicode_rules_did() {
        // Separated from the secret by spaces or punctuation, ASCII and Unicode boundaries agree.
        let contexts = [
            ("", ""),
            ("Passwort → ", " — ok"),
            ("日本語: ", " 終わり"),
            ("«", "»"),
            ("Ärger:\n", "\nÜbel"),
            ("ünïcödé ", " ëñd"),
        ];
        for text in CORPUS {
            for (before, after) in contexts {
                let text = format!("{before}{text}{after}");
                assert_eq!(redact(&text), reference(&text), "{text}");
            }
        }
    }

    #[test]
    fn secrets_glued_to_non_ascii_letters_are_still_redacted() {
        for text in CORPUS {
            for (before, after) in [("é", "é"), ("日", "本"), ("ä", "")] {
                let text = format!("{before}{text}{after}");
                let fast = redact(&text);
                let old = reference(&text);
                assert!(
                    fast.matches(PLACEHOLDER_PREFIX).count()
                        >= old.matches(PLACEHOLDER_PREFIX).count(),
                    "{text}: {fast} redacts less than {old}"
                );
            }
        }
        // Where the Unicode boundary failed, the ASCII one holds: more is redacted, not less.
        assert_eq!(redact("épassword=hunter2"), "épassword=[REDACTED:password]");
        assert_eq!(reference("épassword=hunter2"), "épassword=hunter2");
    }

    #[test]
    fn letters_that_fold_onto_ascii_use_the_unicode_rules() {
        // `ſ` matches `s` case-insensitively and is a word character only to Unicode.
        for text in [
            "\u{17F}ecret=abc",
            "x \u{17F}ecret: S3cr3t!",
            "api\u{212A}ey=abc123 and password=hunter2",
        ] {
            assert_eq!(redact(text), reference(text), "{text}");
            assert!(redact(text).contains(PLACEHOLDER_PREFIX), "{text}");
        }
        assert_eq!(redact("\u{17F}ecret=abc"), "\u{17F}ecret=[REDACTED:secret]");
    }

    #[test]
    fn rules_run_on_what_earlier_rules_left() {
        // Several rules in one text, some overlapping: the pre-filter is asked again after each
        // change, so the result is the sequential one.
        let text = "Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwxyz123456; \
                    url=postgres://u:p4ss@h/db password=Hunter2! token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N";
        assert_eq!(redact(text), reference(text));
        assert!(!redact(text).contains("p4ss"));
        assert!(!redact(text).contains("Hunter2"));
        assert!(!redact(text).contains("abcdefghijklmnop"));
    }

    #[test]
    fn passwords_told_in_prose() {
        assert_eq!(
            redact("my password is Hunter2-secret! and it fails"),
            "my password is [REDACTED:password] and it fails"
        );
        assert_eq!(redact("the password is expired"), "the password is expired");
    }

    #[test]
    fn password_assignments() {
        assert_eq!(redact("password=hunter2"), "password=[REDACTED:password]");
        assert_eq!(redact("pwd: S3cr3t!"), "pwd: [REDACTED:password]");
        assert_eq!(
            redact("set DB_PASSWORD=Summer2024 && run"),
            "set DB_PASSWORD=[REDACTED:password] && run"
        );
        assert_eq!(
            redact(r#"{"user": "svc_backup", "password": "P@ss w0rd"}"#),
            r#"{"user": "svc_backup", "password": "[REDACTED:password]"}"#
        );
        assert_eq!(
            redact("$cfg = @{ 'Password' => 'abc123' }"),
            "$cfg = @{ 'Password' => '[REDACTED:password]' }"
        );
    }

    #[test]
    fn powershell_passwords() {
        assert_eq!(
            redact("New-LocalUser -Name tech -Password 'Winter#2024' -Verbose"),
            "New-LocalUser -Name tech -Password '[REDACTED:password]' -Verbose"
        );
        assert_eq!(
            redact(r#"$p = ConvertTo-SecureString "Tr0ub4dor" -AsPlainText -Force"#),
            r#"$p = ConvertTo-SecureString "[REDACTED:password]" -AsPlainText -Force"#
        );
        // A variable is not the secret itself.
        let line = "Set-ADAccountPassword -Identity jdoe -NewPassword $pw -Reset";
        assert_eq!(redact(line), line);
    }

    #[test]
    fn command_line_passwords() {
        assert_eq!(
            redact(r"net use Z: \\fs01\share /user:CONTOSO\jdoe Passw0rd /persistent:yes"),
            r"net use Z: \\fs01\share /user:CONTOSO\jdoe [REDACTED:password] /persistent:yes"
        );
        assert_eq!(
            redact(r"net use \\fs01\share Passw0rd /user:jdoe"),
            r"net use \\fs01\share [REDACTED:password] /user:jdoe"
        );
        let prompt = r"net use Z: \\fs01\share /persistent:yes";
        assert_eq!(redact(prompt), prompt);
        assert_eq!(
            redact("mysql -u root -pRootPass1 shop"),
            "mysql -u root -p[REDACTED:password] shop"
        );
        assert_eq!(
            redact(r"psexec \\pc42 -u admin -p Secret99 cmd"),
            r"psexec \\pc42 -u admin -p [REDACTED:password] cmd"
        );
    }

    #[test]
    fn vendor_api_keys_and_tokens() {
        let cases = [
            (
                "key sk-proj-abcdefghijklmnopqrstuvwxyz123456",
                "key [REDACTED:api_key]",
            ),
            (
                "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123",
                "[REDACTED:api_key]",
            ),
            (
                "AKIAIOSFODNN7EXAMPLE in profile",
                "[REDACTED:aws_key] in profile",
            ),
            (
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "[REDACTED:token]",
            ),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
                "[REDACTED:token]",
            ),
            ("xoxb-123456789012-abcdefghijkl", "[REDACTED:token]"),
            (
                "AIzaSyA1234567890abcdefghijklmnopqrstuv",
                "[REDACTED:api_key]",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn jwts_bearer_tokens_and_authorization_headers() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(redact(&format!("cookie {jwt}")), "cookie [REDACTED:jwt]");
        assert_eq!(
            redact("curl -H 'Authorization: Bearer abc123def456ghi789'"),
            "curl -H 'Authorization: Bearer [REDACTED:authorization]'"
        );
        assert_eq!(
            redact("Authorization: Basic dXNlcjpwYXNz"),
            "Authorization: Basic [REDACTED:authorization]"
        );
        assert_eq!(
            redact("token is Bearer 9f8e7d6c5b4a3210"),
            "token is Bearer [REDACTED:token]"
        );
        // Prose that merely mentions the words.
        let prose = "The proxy rejected Bearer authentication; Authorization: denied";
        assert_eq!(redact(prose), prose);
    }

    #[test]
    fn generic_secrets() {
        assert_eq!(
            redact("https://api.example.com/v1?api_key=abc123&format=json"),
            "https://api.example.com/v1?api_key=[REDACTED:api_key]&format=json"
        );
        assert_eq!(
            redact("client_secret: 8Q~x.yz_ABC"),
            "client_secret: [REDACTED:secret]"
        );
        assert_eq!(
            redact("GITHUB_TOKEN=abcdef"),
            "GITHUB_TOKEN=[REDACTED:token]"
        );
        assert_eq!(redact("secret = 'shh'"), "secret = '[REDACTED:secret]'");
        assert_eq!(
            redact("<AdministratorPassword><Value>LocalAdm1n</Value>"),
            "<AdministratorPassword><Value>[REDACTED:password]</Value>"
        );
    }

    #[test]
    fn private_keys_across_lines() {
        let text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nq1w2e3r4\n-----END RSA PRIVATE KEY-----\nafter";
        assert_eq!(redact(text), "key:\n[REDACTED:private_key]\nafter");
        let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----";
        assert_eq!(redact(openssh), "[REDACTED:private_key]");
        let truncated = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF";
        assert_eq!(redact(truncated), "[REDACTED:private_key]");
        // Public material is not secret.
        let cert = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----";
        assert_eq!(redact(cert), cert);
    }

    #[test]
    fn connection_strings() {
        assert_eq!(
            redact("DATABASE_URL postgres://app:s3cret@db01:5432/app"),
            "DATABASE_URL postgres://app:[REDACTED:password]@db01:5432/app"
        );
        assert_eq!(
            redact("mongodb+srv://admin:hunter2@cluster0.abcde.mongodb.net/test"),
            "mongodb+srv://admin:[REDACTED:password]@cluster0.abcde.mongodb.net/test"
        );
        assert_eq!(
            redact("mysql://root:toor@localhost/shop"),
            "mysql://root:[REDACTED:password]@localhost/shop"
        );
        assert_eq!(
            redact("Server=sql01;Database=crm;User Id=sa;Password=my secret pw;Encrypt=true"),
            "Server=sql01;Database=crm;User Id=sa;Password=[REDACTED:password];Encrypt=true"
        );
        assert_eq!(
            redact("DefaultEndpointsProtocol=https;AccountName=st01;AccountKey=abc+def/ghi==;EndpointSuffix=core.windows.net"),
            "DefaultEndpointsProtocol=https;AccountName=st01;AccountKey=[REDACTED:azure_key];EndpointSuffix=core.windows.net"
        );
        assert_eq!(
            redact("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=AbC123=="),
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=[REDACTED:azure_key]"
        );
        assert_eq!(
            redact("BlobEndpoint=https://st01.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=AbC%2Bdef"),
            "BlobEndpoint=https://st01.blob.core.windows.net/;SharedAccessSignature=[REDACTED:sas_token]"
        );
        assert_eq!(
            redact("https://st01.blob.core.windows.net/c/f.txt?sv=2022-11-02&sig=AbC%2Bdef%3D"),
            "https://st01.blob.core.windows.net/c/f.txt?sv=2022-11-02&sig=[REDACTED:sas_token]"
        );
    }

    #[test]
    fn normal_troubleshooting_text_survives() {
        let log = "\
2024-05-01 10:22:13 Event ID 4625: An account failed to log on.
Account Name: jdoe  Source Network Address: 10.0.12.15  Logon Type: 3
Failure Reason: Unknown user name or bad password. Status: 0xC000006D
Windows Update failed with 0x80070005 on srv-dc01.contoso.local (192.168.1.20)
Device {3F2504E0-4F89-11D3-9A0C-0305E82C3301} driver version 31.0.101.4502
The password for jdoe expired; the user reset it in the self-service portal.
GET https://portal.contoso.com/login?redirect=/home HTTP/1.1 200
SQL Server error 18456, Severity: 14, State: 8. Task-scheduler job disk-cleanup ran.
max_tokens=512 token count exceeded; Kerberos ticket renewal failed (KRB_AP_ERR_MODIFIED)
C:\\Users\\jdoe\\AppData\\Local\\Microsoft\\Outlook\\jdoe@contoso.com.ost is 48 GB";
        assert_eq!(redact(log), log);
    }

    #[test]
    fn redacts_a_request() {
        let request = LlmRequest {
            system: "You are FlowPilot".into(),
            messages: vec![domain::llm::ChatMessage {
                role: domain::llm::ChatRole::User,
                content: "login fails, password=hunter2".into(),
            }],
            schema_name: "flowpilot_step".into(),
            schema: serde_json::json!({}),
            max_output_tokens: 100,
            stable_prefix: Default::default(),
        };
        let redacted = Redactor::shared().redact_request(&request);
        assert_eq!(
            redacted.messages[0].content,
            "login fails, password=[REDACTED:password]"
        );
        assert_eq!(redacted.system, request.system);
    }
}
