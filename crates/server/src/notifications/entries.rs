//! Who is told, and the outbox entries that tell them: one per webhook subscribed to the
//! event, and one email per person concerned (when the instance has SMTP and the account
//! mails that event). Each entry's key names the event, the escalation (or session) and the
//! recipient, so the same notice queued twice is queued once.

use chrono::{DateTime, Utc};
use domain::escalation::{Escalation, EscalationTarget};
use domain::notification::{NotificationSettings, NotifyEvent};
use domain::session::Session;
use domain::{Role, User};
use store::{CheckBackDue, NewOutboxEntry};
use uuid::Uuid;

use super::message::Notice;
use crate::error::{ApiError, ApiResult};
use crate::outbox::email::{EmailPayload, KIND as EMAIL};
use crate::outbox::webhook::{WebhookPayload, KIND as WEBHOOK};
use crate::sessions::escalation::Names;
use crate::state::AppState;

/// Where FlowPilot is opened from outside, with no trailing slash: `FLOWPILOT_PUBLIC_URL`,
/// else the listen address (`flowpilot doctor` warns about that when email is on).
pub fn public_base(state: &AppState) -> String {
    match state.settings.public_url.as_deref() {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{}", state.settings.bind),
    }
}

/// The session's page, as a link from outside.
pub fn session_url(state: &AppState, session_id: Uuid) -> String {
    format!("{}/pilot/{session_id}", public_base(state))
}

/// Who is mailed about `event` on escalation `e`: the person it went to, the team's
/// members, or the account's escalation contacts for the queue; a reminder also mails the
/// contacts; a claim mails who escalated it. Never the one who did it.
fn addressees(
    settings: &NotificationSettings,
    users: &[User],
    e: &Escalation,
    event: NotifyEvent,
    actor: Option<Uuid>,
) -> Vec<String> {
    let working = |u: &&User| u.is_active && u.role >= Role::Engineer && Some(u.id) != actor;
    let emails_of = |pick: &dyn Fn(&User) -> bool| -> Vec<String> {
        users
            .iter()
            .filter(working)
            .filter(|u| pick(u))
            .map(|u| u.email.clone())
            .collect()
    };
    let mut out = match event {
        NotifyEvent::Claimed => emails_of(&|u| u.id == e.escalated_by),
        _ => match e.target {
            EscalationTarget::Person(p) => emails_of(&|u| u.id == p),
            EscalationTarget::Team(t) => emails_of(&|u| u.team_id == Some(t)),
            EscalationTarget::Queue => settings.escalation_contacts.clone(),
        },
    };
    if event == NotifyEvent::UnclaimedReminder {
        out.extend(settings.escalation_contacts.iter().cloned());
    }
    let mut seen = Vec::new();
    out.retain(|a| {
        let a = a.to_lowercase();
        let fresh = !seen.contains(&a);
        seen.push(a);
        fresh
    });
    out
}

/// The entries of `notice` for `emails` and the account's webhooks. `subject` is what the
/// keys are about: an escalation, or a session's check-back.
fn entries(
    state: &AppState,
    account_id: Uuid,
    settings: &NotificationSettings,
    notice: &Notice,
    subject: &str,
    emails: Vec<String>,
) -> ApiResult<Vec<NewOutboxEntry>> {
    let event = notice.event;
    let key =
        |channel: &str, who: &str| format!("notify:{}:{subject}:{channel}:{who}", event.as_str());
    let mut out = Vec::new();
    let payload = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|err| ApiError::internal(format!("notification payload: {err}")))
    };
    for hook in settings.webhooks_for(event) {
        let body = WebhookPayload {
            url: hook.url.clone(),
            body: notice.webhook_body(hook.format),
            secret: hook.sealed_secret.clone(),
            event: Some(event.as_str().into()),
        };
        out.push(NewOutboxEntry {
            account_id,
            session_id: Some(notice.session_id),
            kind: WEBHOOK.into(),
            payload: payload(serde_json::to_value(&body))?,
            idempotency_key: key("webhook", &hook.id.to_string()),
        });
    }
    // Without a mail server nothing could send them: no entries that would only wait.
    if state.settings.smtp_url.is_some() && settings.emails(event) {
        for to in emails {
            let mail = EmailPayload {
                to: to.clone(),
                subject: notice.subject(),
                text: notice.email_text(),
            };
            out.push(NewOutboxEntry {
                account_id,
                session_id: Some(notice.session_id),
                kind: EMAIL.into(),
                payload: payload(serde_json::to_value(&mail))?,
                idempotency_key: key("email", &to),
            });
        }
    }
    Ok(out)
}

/// What an escalation `event` sends: `actor` is who caused it (the escalating engineer, the
/// claimer), `claimer` who holds it.
pub async fn for_escalation(
    state: &AppState,
    session: &Session,
    e: &Escalation,
    event: NotifyEvent,
    actor: Option<Uuid>,
    claimer: Option<&User>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<NewOutboxEntry>> {
    let settings = super::settings::current(state, e.account_id).await?;
    let nothing_to_mail = state.settings.smtp_url.is_none() || !settings.emails(event);
    if settings.webhooks_for(event).next().is_none() && nothing_to_mail {
        return Ok(Vec::new());
    }
    let users = state.store.users_of_account(e.account_id).await?;
    let names = Names::of_account(state, e.account_id).await?;
    let waited = match claimer {
        Some(_) => now - e.escalated_at,
        None => e.age(now),
    };
    let notice = Notice {
        event,
        session_id: session.id,
        escalation_id: Some(e.id),
        title: session.title.clone(),
        reason: Some(e.reason.clone()),
        target: Some(names.target(e.target)),
        escalated_by: Some(names.user(e.escalated_by)),
        claimed_by: claimer.map(|c| c.full_name.clone()),
        url: session_url(state, session.id),
        age_seconds: Some(waited.num_seconds()),
        check_back_at: None,
        occurred_at: now,
    };
    let emails = addressees(&settings, &users, e, event, actor);
    entries(
        state,
        e.account_id,
        &settings,
        &notice,
        &e.id.to_string(),
        emails,
    )
}

/// What a check-back reminder sends: to the session's owner.
pub async fn for_check_back(
    state: &AppState,
    due: &CheckBackDue,
    now: DateTime<Utc>,
) -> ApiResult<Vec<NewOutboxEntry>> {
    let settings = super::settings::current(state, due.account_id).await?;
    let owner = match state.store.user(due.user_id).await {
        Ok(u) => Some(u),
        Err(store::StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    let notice = Notice {
        event: NotifyEvent::CheckBackReminder,
        session_id: due.session_id,
        escalation_id: None,
        title: due.title.clone(),
        reason: None,
        target: None,
        escalated_by: None,
        claimed_by: None,
        url: session_url(state, due.session_id),
        age_seconds: None,
        check_back_at: Some(due.check_back_at),
        occurred_at: now,
    };
    let emails = owner
        .filter(|u| u.is_active)
        .map(|u| vec![u.email])
        .unwrap_or_default();
    let subject = format!(
        "{}:{}",
        due.session_id,
        due.check_back_at.timestamp_millis()
    );
    entries(state, due.account_id, &settings, &notice, &subject, emails)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::escalation::HandoffAuthor;

    fn user(email: &str, team: Option<Uuid>, role: Role) -> User {
        User {
            id: Uuid::new_v4(),
            email: email.into(),
            full_name: email.into(),
            role,
            account_id: Uuid::nil(),
            team_id: team,
            is_super_admin: false,
            is_active: true,
            created_at: Utc::now(),
        }
    }

    fn escalation(by: Uuid, target: EscalationTarget) -> Escalation {
        Escalation {
            id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
            account_id: Uuid::nil(),
            escalated_by: by,
            target,
            reason: "r".into(),
            escalated_at: Utc::now(),
            handoff_author: HandoffAuthor::Deterministic,
            claimed_by: None,
            claimed_at: None,
            picked_up: None,
            picked_up_at: None,
            picked_up_as_id: None,
            briefing_step_id: None,
            first_answered_at: None,
        }
    }

    #[test]
    fn a_team_escalation_mails_its_working_members_and_the_claim_mails_who_escalated() {
        let team = Uuid::new_v4();
        let owner = user("owner@acme.test", Some(team), Role::Engineer);
        let ada = user("ada@acme.test", Some(team), Role::Engineer);
        let viewer = user("view@acme.test", Some(team), Role::Viewer);
        let other = user("other@acme.test", None, Role::Engineer);
        let users = vec![owner.clone(), ada.clone(), viewer, other];
        let settings = NotificationSettings {
            escalation_contacts: vec!["lead@acme.test".into()],
            ..Default::default()
        };
        let e = escalation(owner.id, EscalationTarget::Team(team));
        assert_eq!(
            addressees(
                &settings,
                &users,
                &e,
                NotifyEvent::Escalated,
                Some(owner.id)
            ),
            ["ada@acme.test"]
        );
        assert_eq!(
            addressees(
                &settings,
                &users,
                &e,
                NotifyEvent::UnclaimedReminder,
                Some(owner.id)
            ),
            ["ada@acme.test", "lead@acme.test"]
        );
        assert_eq!(
            addressees(&settings, &users, &e, NotifyEvent::Claimed, Some(ada.id)),
            ["owner@acme.test"]
        );
        let queue = escalation(owner.id, EscalationTarget::Queue);
        assert_eq!(
            addressees(
                &settings,
                &users,
                &queue,
                NotifyEvent::Escalated,
                Some(owner.id)
            ),
            ["lead@acme.test"]
        );
    }
}
