//! `/settings/notifications`: an admin's escalation notifications, one plain form (no
//! JavaScript needed) through the same use case as the JSON API (`notifications::settings`).
//! Each webhook is a fieldset of the form (its fields named `webhook-<n>-…`), with one empty
//! fieldset to add another; a secret field is write-only, and left empty keeps the secret.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::notification::{NotificationSettings, NotifyEvent, WebhookFormat, MAX_WEBHOOKS};
use domain::{FieldError, User};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::notifications::settings::{self, SettingsInput, WebhookInput};
use crate::notifications::test_send::{self, TestResult};
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken, EmptyForm};
use crate::web::error::WebError;
use crate::web::notice::Trouble;
use crate::web::page::{render, see_other, Layout};
use crate::web::user::WebUser;

fn admin_only(user: &WebUser) -> Result<&User, WebError> {
    if user.user.is_admin() {
        Ok(&user.user)
    } else {
        Err(WebError::Api(ApiError::Forbidden(
            "Only account admins manage notifications.".into(),
        )))
    }
}

/// One event checkbox.
pub struct EventBox {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

fn boxes(chosen: &[NotifyEvent]) -> Vec<EventBox> {
    NotifyEvent::ALL
        .into_iter()
        .map(|e| EventBox {
            value: e.as_str(),
            label: e.label(),
            checked: chosen.contains(&e),
        })
        .collect()
}

pub struct FormatChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn formats(chosen: Option<WebhookFormat>) -> Vec<FormatChoice> {
    WebhookFormat::ALL
        .into_iter()
        .map(|f| FormatChoice {
            value: f.as_str(),
            label: match f {
                WebhookFormat::Generic => "Generic JSON",
                WebhookFormat::Slack => "Slack (incoming webhook)",
                WebhookFormat::Teams => "Microsoft Teams (Workflows, Adaptive Card)",
            },
            selected: Some(f) == chosen,
        })
        .collect()
}

/// One webhook fieldset.
pub struct WebhookRow {
    /// The fieldset's number in the form.
    pub n: usize,
    /// Empty for the fieldset that adds one.
    pub id: String,
    pub url: String,
    pub formats: Vec<FormatChoice>,
    pub events: Vec<EventBox>,
    pub secret_set: bool,
    pub errors: Vec<String>,
    /// The empty fieldset that adds one.
    pub fresh: bool,
}

#[derive(Template)]
#[template(path = "notification_settings.html")]
struct SettingsPage {
    layout: Layout,
    webhooks: Vec<WebhookRow>,
    can_add: bool,
    email_events: Vec<EventBox>,
    contacts: String,
    contacts_error: Option<String>,
    minutes: String,
    minutes_error: Option<String>,
    smtp_configured: bool,
    status: Option<String>,
    notice: Option<String>,
    /// What "Send a test" found, one line per channel; `None` until it is pressed.
    tested: Option<Vec<TestLine>>,
}

/// What the page says above the form: saved, what went wrong, or how a test went.
#[derive(Default)]
struct Said {
    status: Option<String>,
    notice: Option<String>,
    tested: Option<Vec<TestLine>>,
}

impl Said {
    fn trouble(message: String) -> Said {
        Said {
            notice: Some(message),
            ..Said::default()
        }
    }
}

/// One channel's answer to a test.
pub struct TestLine {
    pub label: String,
    pub delivered: bool,
    pub error: String,
}

impl TestLine {
    fn of(r: TestResult, stored: &NotificationSettings) -> TestLine {
        let label = match r.webhook_id {
            Some(id) => {
                let n = stored.webhooks.iter().position(|w| w.id == id).unwrap_or(0);
                format!("Webhook {} · {}", n + 1, r.target)
            }
            None => format!("Email to {}", r.target),
        };
        TestLine {
            label,
            delivered: r.delivered,
            error: r.error.unwrap_or_default(),
        }
    }
}

/// What the page shows: stored settings, or what was typed with its errors.
struct Shown {
    webhooks: Vec<WebhookRow>,
    email_events: Vec<NotifyEvent>,
    contacts: String,
    minutes: String,
}

fn blank_row(n: usize) -> WebhookRow {
    WebhookRow {
        n,
        id: String::new(),
        url: String::new(),
        formats: formats(Some(WebhookFormat::Generic)),
        events: boxes(&NotifyEvent::ALL),
        secret_set: false,
        errors: Vec::new(),
        fresh: true,
    }
}

impl Shown {
    fn of(s: &NotificationSettings) -> Shown {
        Shown {
            webhooks: s
                .webhooks
                .iter()
                .enumerate()
                .map(|(n, w)| WebhookRow {
                    n,
                    id: w.id.to_string(),
                    url: w.url.clone(),
                    formats: formats(Some(w.format)),
                    events: boxes(&w.events),
                    secret_set: w.sealed_secret.is_some(),
                    errors: Vec::new(),
                    fresh: false,
                })
                .collect(),
            email_events: s.email_events.clone(),
            contacts: s.escalation_contacts.join("\n"),
            minutes: s
                .unclaimed_reminder_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
        }
    }
}

fn page(
    status: StatusCode,
    csrf: &CsrfToken,
    admin: &User,
    smtp_configured: bool,
    mut shown: Shown,
    errors: &[FieldError],
    said: Said,
) -> Response {
    let can_add = shown.webhooks.len() < MAX_WEBHOOKS;
    if can_add {
        let n = shown.webhooks.len();
        shown.webhooks.push(blank_row(n));
    }
    let mut contacts_error = None;
    let mut minutes_error = None;
    for e in errors {
        let loc: Vec<&Value> = e.loc.iter().skip(1).collect();
        match loc.first().and_then(|v| v.as_str()) {
            Some("webhooks") => {
                let n = loc.get(1).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
                let field = loc.get(2).and_then(|v| v.as_str()).unwrap_or("");
                let label = match field {
                    "url" => "Address",
                    "format" => "Format",
                    "events" => "Events",
                    "secret" => "Signing secret",
                    _ => "Webhooks",
                };
                if let Some(row) = shown.webhooks.get_mut(n) {
                    row.errors
                        .push(format!("{label}: {}.", e.msg.trim_end_matches('.')));
                }
            }
            Some("escalation_contacts") => {
                contacts_error.get_or_insert_with(|| e.msg.clone());
            }
            Some("unclaimed_reminder_minutes") => minutes_error = Some(e.msg.clone()),
            _ => {}
        }
    }
    render(
        status,
        &SettingsPage {
            layout: Layout::new("Notifications", csrf, Some(admin)).current("settings"),
            webhooks: shown.webhooks,
            can_add,
            email_events: boxes(&shown.email_events),
            contacts: shown.contacts,
            contacts_error,
            minutes: shown.minutes,
            minutes_error,
            smtp_configured,
            status: said.status,
            notice: said.notice,
            tested: said.tested,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShowQuery {
    saved: String,
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Query(q): Query<ShowQuery>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let view = settings::show(&state, admin).await?;
    let status = (!q.saved.is_empty()).then(|| "Saved.".to_string());
    Ok(page(
        StatusCode::OK,
        &csrf,
        admin,
        view.smtp_configured,
        Shown::of(&view.settings),
        &[],
        Said {
            status,
            ..Said::default()
        },
    ))
}

/// The form's fields, as sent (checkboxes repeat their name).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn one(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// The use case's input, and the rows as typed to show again: the two stay in step, so an
/// error at `webhooks[i]` lands on the fieldset it is about.
fn read(fields: &Fields) -> (SettingsInput, Shown) {
    let mut webhooks = Vec::new();
    let mut rows = Vec::new();
    for n in 0..=MAX_WEBHOOKS {
        let name = |f: &str| format!("webhook-{n}-{f}");
        if !fields.has(&name("url")) {
            continue;
        }
        let url = fields.one(&name("url"));
        let id = Uuid::parse_str(fields.one(&name("id")).trim()).ok();
        // The empty fieldset adds nothing; a fieldset marked to remove is dropped.
        if (id.is_none() && url.trim().is_empty()) || fields.has(&name("remove")) {
            continue;
        }
        let format = fields.one(&name("format"));
        let events = fields.all(&name("event"));
        let secret = fields.one(&name("secret"));
        let secret = if fields.has(&name("clear_secret")) {
            Some(String::new())
        } else if secret.trim().is_empty() {
            None
        } else {
            Some(secret)
        };
        let chosen: Vec<NotifyEvent> = events
            .iter()
            .filter_map(|e| NotifyEvent::parse(e))
            .collect();
        rows.push(WebhookRow {
            n: rows.len(),
            id: id.map(|i| i.to_string()).unwrap_or_default(),
            url: url.clone(),
            formats: formats(WebhookFormat::parse(&format)),
            events: boxes(&chosen),
            secret_set: false,
            errors: Vec::new(),
            fresh: false,
        });
        webhooks.push(WebhookInput {
            id,
            url,
            format,
            events: Some(events),
            secret,
        });
    }
    let email_events = fields.all("email_event");
    let contacts_text = fields.one("escalation_contacts");
    let contacts = contacts_text
        .split(['\n', ',', ';'])
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    let minutes_text = fields.one("unclaimed_reminder_minutes");
    let minutes = minutes_text.trim();
    let shown = Shown {
        webhooks: rows,
        email_events: email_events
            .iter()
            .filter_map(|e| NotifyEvent::parse(e))
            .collect(),
        contacts: contacts_text.clone(),
        minutes: minutes.to_string(),
    };
    let input = SettingsInput {
        webhooks,
        email_events: Some(email_events),
        escalation_contacts: contacts,
        // Not a number is out of range, said by the same check as the API's.
        unclaimed_reminder_minutes: (!minutes.is_empty())
            .then(|| minutes.parse::<i64>().unwrap_or(0)),
    };
    (input, shown)
}

pub async fn save(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let fields = Fields(form);
    let (input, mut shown) = read(&fields);
    // Shown again after a refusal, a row says what is stored: nothing was saved.
    let stored = settings::current(&state, admin.account_id).await?;
    for row in &mut shown.webhooks {
        let kept = stored
            .webhooks
            .iter()
            .find(|w| w.id.to_string() == row.id)
            .is_some_and(|w| w.sealed_secret.is_some());
        row.secret_set = kept;
    }
    match settings::replace(&state, admin, input).await {
        Ok(_) => Ok(see_other("/settings/notifications?saved=1")),
        Err(ApiError::Validation(errors)) => Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &csrf,
            admin,
            state.settings.smtp_url.is_some(),
            shown,
            &errors,
            Said::trouble("Nothing was saved: correct what is marked below.".into()),
        )),
        Err(other) => {
            let trouble = Trouble::from_api(other)?;
            Ok(page(
                trouble.status,
                &csrf,
                admin,
                state.settings.smtp_url.is_some(),
                shown,
                &[],
                Said::trouble(trouble.message),
            ))
        }
    }
}

/// "Send a test": the page again, with how each saved channel took the sample.
pub async fn test(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let view = settings::show(&state, admin).await?;
    let (status, said) = match test_send::send(&state, admin).await {
        Ok(results) => {
            let lines = results
                .into_iter()
                .map(|r| TestLine::of(r, &view.settings))
                .collect();
            let said = Said {
                tested: Some(lines),
                ..Said::default()
            };
            (StatusCode::OK, said)
        }
        Err(err) => {
            let trouble = Trouble::from_api(err)?;
            (trouble.status, Said::trouble(trouble.message))
        }
    };
    Ok(page(
        status,
        &csrf,
        admin,
        view.smtp_configured,
        Shown::of(&view.settings),
        &[],
        said,
    ))
}
