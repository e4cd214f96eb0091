//! `/pilot/{id}`: the guided session. The page is read with the same visibility rules as the
//! API (another tenant's session is a 404); every form posts to a route below it and goes
//! through the same session actions as the JSON API, so limits and conflicts behave alike.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::psa::PostOn;
use domain::session::Session;
use domain::session::Transition;
use domain::step::{Answer, Step};
use domain::User;
use serde::Deserialize;

use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::sessions;
use crate::sessions::input::{Escalation, Resolution, Respond};
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken, EmptyForm};
use crate::web::error::WebError;
use crate::web::fields::{self, text_field};
use crate::web::notice::Trouble;
use crate::web::page::{render, see_other, Layout};
use crate::web::session_view::{self, CurrentStep, PastStep, SessionView, NOT_SOLVED};
use crate::web::user::WebUser;
use crate::web::why_matched;

/// The forms of the session page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Form {
    #[default]
    Answer,
    Resolve,
    Escalate,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Answer => "answer",
            Form::Resolve => "resolve",
            Form::Escalate => "escalate",
        }
    }
}

/// What a submission of one form must not lose, and what went wrong with it. The page shows
/// the form's dialog open, its text back in the field and the error next to it.
#[derive(Default)]
struct Draft {
    form: Form,
    /// The text of the form's field as sent; `None` when nothing was sent yet.
    typed: Option<String>,
    escalate_to: String,
    /// The note for the ticket as sent, and the preview it was filled with: after an error
    /// the engineer's edit is shown again, still compared with the first preview.
    psa_note: Option<NotePreview>,
    /// A problem with what was sent, shown at the form's field.
    error: Option<String>,
    /// A failure of the request itself (provider, conflict, limit), shown at the top.
    notice: Option<String>,
    /// What the fix-outcome form sent, put back in it after an error.
    outcome: crate::web::fix_outcome::OutcomeDraft,
}

impl Draft {
    fn of(form: Form, typed: String) -> Self {
        Draft {
            form,
            typed: Some(typed),
            ..Draft::default()
        }
    }

    fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Whether `form`'s dialog is shown open.
    pub fn opens(&self, form: &str) -> bool {
        self.form != Form::Answer && self.form.name() == form
    }

    /// The text sent in `form`, if that is the form this draft belongs to.
    pub fn typed_in(&self, form: &str) -> Option<&str> {
        self.typed.as_deref().filter(|_| self.form.name() == form)
    }

    pub fn error_in(&self, form: &str) -> Option<&str> {
        self.error.as_deref().filter(|_| self.form.name() == form)
    }
}

/// The editable note of the resolve and escalate dialogs (psa.md `preview_before_post`).
#[derive(Default)]
pub struct PsaPreview {
    pub resolve: Option<NotePreview>,
    pub escalate: Option<NotePreview>,
}

/// A dialog's note: the text in the box, and the preview FlowPilot filled it with (sent back
/// hidden, so that an unchanged box posts the final documentation).
#[derive(Debug, Clone)]
pub struct NotePreview {
    pub text: String,
    pub shown: String,
}

impl NotePreview {
    fn generated(text: String) -> NotePreview {
        NotePreview {
            shown: text.clone(),
            text,
        }
    }

    /// What a submitted dialog sent, when it had a note box.
    fn sent(text: &str, shown: &str) -> Option<NotePreview> {
        (!text.is_empty() || !shown.is_empty()).then(|| NotePreview {
            text: text.to_string(),
            shown: shown.to_string(),
        })
    }
}

/// The engineer's note, when they changed the preview: sent back as shown, the final
/// documentation goes (it has the summary typed and the AI's write-up); emptied, too.
fn own_note(note: &str, shown: &str) -> Option<String> {
    let norm = |t: &str| t.replace("\r\n", "\n").trim().to_string();
    let note = norm(note);
    (note != norm(shown))
        .then_some(note)
        .filter(|n| !n.is_empty())
}

pub struct Colleague {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    layout: Layout,
    /// The account's closed sessions like this one (team memory), when there are any.
    similar: Option<crate::web::similar::SimilarPanel>,
    s: SessionView,
    past: Vec<PastStep>,
    current: Option<CurrentStep>,
    colleagues: Vec<Colleague>,
    /// The account's teams, offered beside the colleagues as an escalation's target.
    teams: Vec<Colleague>,
    limit_reached: bool,
    draft: Draft,
    resolve_summary: String,
    /// The session's PSA ticket, and the form to link one.
    ticket: Option<crate::web::session_ticket::TicketCard>,
    link_ticket: Option<crate::web::session_ticket::LinkForm>,
    /// The note each close would post to the ticket, to edit before confirming.
    psa_preview: PsaPreview,
    /// While escalated: the briefing, on top.
    briefing: Option<crate::web::escalations::BriefingCard>,
    /// While awaiting verification: the fix it waits on, with its outcome buttons.
    waiting: Option<crate::web::fix_outcome::Waiting>,
}

/// `id` as written in the path; anything that is not a UUID is simply not found.
pub fn session_id(raw: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::Api(ApiError::NotFound))
}

async fn colleagues(state: &AppState, user: &User) -> Result<Vec<Colleague>, WebError> {
    Ok(state
        .store
        .users_of_account(user.account_id)
        .await?
        .into_iter()
        .filter(|u| u.id != user.id && u.is_active && u.can_work())
        .map(|u| Colleague {
            id: u.id.to_string(),
            name: u.full_name,
        })
        .collect())
}

async fn teams(state: &AppState, user: &User) -> Result<Vec<Colleague>, WebError> {
    Ok(state
        .store
        .teams_of_account(user.account_id)
        .await?
        .into_iter()
        .map(|t| Colleague {
            id: t.id.to_string(),
            name: t.name,
        })
        .collect())
}

/// The escalate form's target: a colleague's id, `team:` and a team's id, or empty for the
/// account's queue.
enum Target {
    Queue,
    Person(Uuid),
    Team(Uuid),
}

fn escalation_target(chosen: &str) -> Option<Target> {
    match chosen.trim() {
        "" => Some(Target::Queue),
        chosen => match chosen.strip_prefix("team:") {
            Some(team) => Uuid::parse_str(team).ok().map(Target::Team),
            None => Uuid::parse_str(chosen).ok().map(Target::Person),
        },
    }
}

/// One request to the session page: who asks, about which session.
struct Visit<'a> {
    state: &'a AppState,
    user: &'a WebUser,
    csrf: &'a CsrfToken,
    id: Uuid,
}

impl<'a> Visit<'a> {
    /// The visit of the session named in the path; 404 for an id that is not one.
    fn new(
        state: &'a AppState,
        user: &'a WebUser,
        csrf: &'a CsrfToken,
        raw: &str,
    ) -> Result<Visit<'a>, WebError> {
        Ok(Visit {
            state,
            user,
            csrf,
            id: session_id(raw)?,
        })
    }

    async fn show(&self, status: StatusCode, draft: Draft) -> Result<Response, WebError> {
        let (s, steps) = sessions::for_page(self.state, &self.user.user, self.id).await?;
        Ok(render(status, &self.build(s, steps, draft).await?))
    }

    async fn build(
        &self,
        s: Session,
        steps: Vec<Step>,
        draft: Draft,
    ) -> Result<SessionPage, WebError> {
        let state = self.state;
        let user = &self.user.user;
        let similar = crate::web::similar::sidebar(state, user, &s, &steps).await;
        let flow = match s.matched_flow_id {
            Some(flow_id) => {
                state
                    .catalog
                    .followed_flow(s.account_id, flow_id, s.matched_flow_version, None)
                    .await
            }
            None => None,
        };
        let intake = s.intake.match_text();
        let why = why_matched::explain(&intake, flow.as_ref(), s.match_score);
        let view = session_view::session(&s, steps.last(), user.id, why);
        let (past, current) = session_view::steps(&steps, view.active && view.owned);
        let limit_reached = view.active
            && steps.last().is_some_and(|st| st.response.is_some())
            && s.step_count >= state.settings.max_steps;
        let (colleagues, teams) = if view.owned && !view.closed {
            (colleagues(state, user).await?, teams(state, user).await?)
        } else {
            (Vec::new(), Vec::new())
        };
        let resolve_summary = draft
            .typed_in("resolve")
            .map(String::from)
            .or_else(|| sessions::suggested_resolution(&steps))
            .unwrap_or_default();
        let may_link = view.owned && !view.closed;
        let (ticket, link_ticket) =
            crate::web::session_ticket::sidebar(state, &s, user, may_link).await?;
        let psa_preview = if may_link {
            let preview = |form: &str, generated: Option<String>| {
                let generated = generated.map(NotePreview::generated)?;
                // A dialog that comes back with an error keeps what the engineer wrote.
                match draft
                    .psa_note
                    .as_ref()
                    .filter(|_| draft.form.name() == form)
                {
                    Some(sent) => Some(sent.clone()),
                    None => Some(generated),
                }
            };
            PsaPreview {
                resolve: preview(
                    "resolve",
                    sessions::psa_preview(state, &s, &steps, PostOn::Resolve).await?,
                ),
                escalate: preview(
                    "escalate",
                    sessions::psa_preview(state, &s, &steps, PostOn::Escalate).await?,
                ),
            }
        } else {
            PsaPreview::default()
        };
        let briefing = crate::web::escalations::card(state, user, &s, &steps).await?;
        let waiting = crate::web::fix_outcome::waiting(state, &s, &steps).await?;
        Ok(SessionPage {
            briefing,
            waiting,
            layout: Layout::new(&s.title, self.csrf, Some(user)).current("pilot"),
            similar,
            s: view,
            past,
            current,
            colleagues,
            teams,
            limit_reached,
            draft,
            resolve_summary,
            ticket,
            link_ticket,
            psa_preview,
        })
    }

    /// How every form of the page ends: on success, off to `next`; a problem with what was
    /// sent is shown at the form's field (worded by `blank` when the field was left empty);
    /// any other failure as a notice at the top. Either way the draft keeps what was typed.
    async fn finish<T>(
        &self,
        result: ApiResult<T>,
        next: &str,
        draft: Draft,
        blank: Option<&str>,
    ) -> Result<Response, WebError> {
        match result {
            Ok(_) => Ok(see_other(next)),
            Err(ApiError::Validation(errors)) => {
                let left_empty = draft.typed.as_deref().is_none_or(|t| t.trim().is_empty());
                let message = match blank {
                    Some(words) if left_empty => words.to_string(),
                    _ => fields::sentences(errors),
                };
                let draft = draft.with_error(message);
                self.show(StatusCode::UNPROCESSABLE_ENTITY, draft).await
            }
            Err(err) => {
                let trouble = Trouble::from_api(err)?;
                let draft = Draft {
                    notice: Some(trouble.message.clone()),
                    ..draft
                };
                let response = self.show(trouble.status, draft).await?;
                Ok(trouble.decorate(response))
            }
        }
    }
}

/// The session page with `message` at the top, for a form of another module (linking a
/// ticket) that failed.
pub async fn show_with_notice(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    id: Uuid,
    status: StatusCode,
    message: String,
) -> Result<Response, WebError> {
    let visit = Visit {
        state,
        user,
        csrf,
        id,
    };
    let draft = Draft {
        notice: Some(message),
        ..Draft::default()
    };
    visit.show(status, draft).await
}

/// The session page after the fix-outcome form failed: `message` at the top, and the note
/// and check-back time the engineer sent back in the form.
pub async fn show_outcome_again(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    id: Uuid,
    status: StatusCode,
    message: String,
    sent: crate::web::fix_outcome::OutcomeDraft,
) -> Result<Response, WebError> {
    let visit = Visit {
        state,
        user,
        csrf,
        id,
    };
    let draft = Draft {
        notice: Some(message),
        outcome: sent,
        ..Draft::default()
    };
    visit.show(status, draft).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    /// `resolve` or `escalate`: the dialog to show open, for browsers without JavaScript.
    dialog: String,
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let visit = Visit::new(&state, &user, &csrf, &raw)?;
    let form = match q.dialog.as_str() {
        "resolve" => Form::Resolve,
        "escalate" => Form::Escalate,
        _ => Form::Answer,
    };
    let draft = Draft {
        form,
        ..Draft::default()
    };
    visit.show(StatusCode::OK, draft).await
}

/// Empty fields are absent: a browser sends every text field, typed in or not.
fn present(value: &str) -> Option<String> {
    Some(value.to_string()).filter(|v| !v.trim().is_empty())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnswerForm {
    step_id: String,
    selected_option: String,
    free_text_input: String,
    skipped: String,
    /// "Keep troubleshooting" on a suggestion that has no option for it.
    keep_troubleshooting: String,
}

/// What the answer form says when it says nothing.
pub const NO_ANSWER: &str = "Pick an option or type an answer.";

impl AnswerForm {
    /// The answer as the session actions take it; `None` when nothing was picked or typed.
    /// A step id that is not one is a malformed request (the page always sends one).
    pub fn answer(&self) -> Result<Option<Respond>, WebError> {
        let typed = text_field(&self.free_text_input);
        let keep_going = !self.keep_troubleshooting.is_empty();
        let free_text = present(&typed).or_else(|| keep_going.then(|| NOT_SOLVED.to_string()));
        let skipped = self.skipped == "true";
        let selected_option = present(&self.selected_option);
        if selected_option.is_none() && free_text.is_none() && !skipped {
            return Ok(None);
        }
        let Ok(step_id) = Uuid::parse_str(&self.step_id) else {
            return Err(WebError::BadRequest);
        };
        Ok(Some(Respond {
            step_id,
            answer: Answer {
                selected_option,
                free_text_input: free_text,
                skipped,
            },
        }))
    }
}

pub async fn respond(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, WebError> {
    let visit = Visit::new(&state, &user, &csrf, &raw)?;
    let id = visit.id;
    let draft = Draft::of(Form::Answer, text_field(&form.free_text_input));
    let Some(body) = form.answer()? else {
        let draft = draft.with_error(NO_ANSWER);
        return visit.show(StatusCode::UNPROCESSABLE_ENTITY, draft).await;
    };
    let result = sessions::respond(&state, &user.user, id, body).await;
    visit
        .finish(result, &format!("/pilot/{id}"), draft, None)
        .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResolveForm {
    resolution_summary: String,
    /// Sent by "Accept & resolve".
    used_suggested_resolution: String,
    /// The note for the ticket, and the preview it was filled with.
    psa_note: String,
    psa_note_shown: String,
}

pub async fn resolve(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<ResolveForm>,
) -> Result<Response, WebError> {
    let visit = Visit::new(&state, &user, &csrf, &raw)?;
    let id = visit.id;
    let typed = text_field(&form.resolution_summary);
    let body = Resolution {
        summary: present(&typed),
        use_suggested: form.used_suggested_resolution == "true",
        psa_note: own_note(&form.psa_note, &form.psa_note_shown),
    };
    let result = sessions::resolve(&state, &user.user, id, body).await;
    let draft = Draft {
        psa_note: NotePreview::sent(&form.psa_note, &form.psa_note_shown),
        ..Draft::of(Form::Resolve, typed)
    };
    let next = format!("/pilot/{id}/documentation");
    visit
        .finish(
            result,
            &next,
            draft,
            Some("Describe what fixed the problem."),
        )
        .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EscalateForm {
    escalation_reason: String,
    escalated_to_id: String,
    psa_note: String,
    psa_note_shown: String,
}

pub async fn escalate(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<EscalateForm>,
) -> Result<Response, WebError> {
    let visit = Visit::new(&state, &user, &csrf, &raw)?;
    let id = visit.id;
    let reason = text_field(&form.escalation_reason);
    let draft = Draft {
        escalate_to: form.escalated_to_id.clone(),
        psa_note: NotePreview::sent(&form.psa_note, &form.psa_note_shown),
        ..Draft::of(Form::Escalate, reason.clone())
    };
    let Some(target) = escalation_target(&form.escalated_to_id) else {
        let draft = draft.with_error("Pick a colleague or a team from the list.");
        return visit.show(StatusCode::UNPROCESSABLE_ENTITY, draft).await;
    };
    let (to, team) = match target {
        Target::Queue => (None, None),
        Target::Person(id) => (Some(id), None),
        Target::Team(id) => (None, Some(id)),
    };
    let body = Escalation {
        reason,
        to,
        team,
        psa_note: own_note(&form.psa_note, &form.psa_note_shown),
    };
    let result = sessions::escalate(&state, &user.user, id, body).await;
    let next = format!("/pilot/{id}/documentation");
    visit
        .finish(
            result,
            &next,
            draft,
            Some("Say why the session needs a colleague."),
        )
        .await
}

async fn change(
    state: AppState,
    user: WebUser,
    csrf: CsrfToken,
    raw: String,
    transition: Transition,
) -> Result<Response, WebError> {
    let visit = Visit::new(&state, &user, &csrf, &raw)?;
    let id = visit.id;
    let result = sessions::move_to(&state, &user.user, id, transition).await;
    visit
        .finish(result, &format!("/pilot/{id}"), Draft::default(), None)
        .await
}

pub async fn pause(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(state, user, csrf, raw, Transition::Pause).await
}

pub async fn resume(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(state, user, csrf, raw, Transition::Resume).await
}
