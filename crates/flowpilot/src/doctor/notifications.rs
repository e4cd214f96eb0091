//! Notifications (escalation.md "Notifications"): whether email can leave through
//! `FLOWPILOT_SMTP_URL`, and whether the links in every email and webhook open from another
//! machine. Without a mail server only email is off, so its absence is a note.

use providers::probe::{Finding, Level};
use server::outbox::email::{EmailDeliverer, SmtpTarget, TlsMode};
use server::Settings;

use super::report::{finding, Section};

const SMTP_URL: &str = "FLOWPILOT_SMTP_URL";
const PUBLIC_URL: &str = "FLOWPILOT_PUBLIC_URL";

pub async fn check(settings: &Settings) -> Section {
    let mut findings = Vec::new();
    let smtp = settings
        .smtp_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    match smtp {
        None => findings.push(finding(
            Level::Note,
            format!("{SMTP_URL} is not set: no notification email is sent (webhooks still are)"),
            Some(format!(
                "to email escalations and reminders, set {SMTP_URL} (smtp://host:587 or smtps://host:465)"
            )),
        )),
        Some(url) => findings.push(mail_server(url, settings.smtp_from.as_deref()).await),
    }
    findings.push(links(settings, smtp.is_some()));
    Section {
        key: "notifications",
        title: "Notifications (email and links)".into(),
        findings,
    }
}

async fn mail_server(url: &str, from: Option<&str>) -> Finding {
    let target = match SmtpTarget::parse(url) {
        Ok(t) => t,
        Err(err) => {
            return finding(
                Level::Fail,
                format!("{SMTP_URL} cannot be used: {err}"),
                Some(
                    "write it as smtp://[user:pass@]host[:port][?tls=required|none] or smtps://[user:pass@]host[:port]"
                        .into(),
                ),
            )
        }
    };
    let server = format!("{}:{} ({})", target.host, target.port, tls(target.tls));
    let deliverer = match EmailDeliverer::new(url, from) {
        Ok(d) => d,
        Err(err) => {
            return finding(
                Level::Fail,
                format!("email cannot be sent: {err}"),
                Some(format!("check {SMTP_URL} and FLOWPILOT_SMTP_FROM")),
            )
        }
    };
    match deliverer.test_connection().await {
        Ok(true) => finding(
            Level::Ok,
            format!("the mail server at {server} took a connection{}", signed_in(&target)),
            None,
        ),
        Ok(false) => finding(
            Level::Warn,
            format!("the mail server at {server} took a connection but refused a NOOP"),
            Some("send an escalation to yourself to see whether mail arrives".into()),
        ),
        Err(err) => finding(
            Level::Fail,
            format!("the mail server at {server} did not take a connection: {err}"),
            Some(format!(
                "check the host, port, TLS and credentials in {SMTP_URL}, and that this machine may reach it"
            )),
        ),
    }
}

fn signed_in(target: &SmtpTarget) -> &'static str {
    if target.user.is_some() {
        " and the sign-in"
    } else {
        ""
    }
}

fn tls(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Wrapper => "TLS",
        TlsMode::Required => "STARTTLS required",
        TlsMode::Opportunistic => "STARTTLS when offered",
        TlsMode::None => "no TLS",
    }
}

/// With no public address, links fall back to the listen address, which opens only on
/// this machine; that matters as soon as email is on (webhooks are set per account, so the
/// note is there for them too).
fn links(settings: &Settings, email_on: bool) -> Finding {
    match settings
        .public_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(url) => finding(
            Level::Ok,
            format!(
                "links in notifications start with {}",
                url.trim_end_matches('/')
            ),
            None,
        ),
        None => finding(
            if email_on { Level::Warn } else { Level::Note },
            format!(
                "{PUBLIC_URL} is not set: links in notifications point at http://{}, which opens only where FlowPilot runs",
                settings.bind
            ),
            Some(format!(
                "set {PUBLIC_URL} to the address engineers open FlowPilot at (https://flowpilot.example.com)"
            )),
        ),
    }
}
