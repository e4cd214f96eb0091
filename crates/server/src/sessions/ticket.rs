//! A session's PSA ticket: read for a `psa_ticket` intake, or linked to a running session
//! (psa.md "Intake from a ticket"). A PSA that fails or does not answer in time never blocks
//! the start: the session starts from the engineer's text, with a notice on its ticket card.
//! Linking is asked for explicitly, so there a failing PSA is a 502 and nothing changes.

use chrono::{DateTime, Utc};
use domain::psa::{PsaError, Ticket};
use domain::session::{Intake, SessionStatus};
use domain::ticket_link::{unread_notice, TicketLink};
use domain::{FieldError, User};
use store::PsaConnection;
use uuid::Uuid;

use super::access;
use super::input::{LinkTicket, NewSession};
use crate::error::{ApiError, ApiResult};
use crate::psa::{connections, tickets, PsaProblem};
use crate::rate_limit::Action;
use crate::state::AppState;

/// The ticket a new session starts from, as far as the PSA gave it.
pub(super) struct IntakeTicket {
    connection: PsaConnection,
    ticket_id: String,
    /// The ticket, or the notice saying why it could not be read.
    read: Result<Ticket, String>,
}

impl IntakeTicket {
    pub(super) fn link(&self, session_id: Uuid, now: DateTime<Utc>) -> TicketLink {
        match &self.read {
            Ok(ticket) => TicketLink::read(session_id, self.connection.id, ticket, now),
            Err(notice) => TicketLink::unread(
                session_id,
                self.connection.id,
                &self.ticket_id,
                notice.clone(),
                now,
            ),
        }
    }

    /// The session's title when the engineer gave none: the ticket's number and summary.
    pub(super) fn title(&self) -> Option<String> {
        let ticket = self.read.as_ref().ok()?;
        let summary = ticket.summary.trim();
        (!summary.is_empty()).then(|| format!("{} · {summary}", ticket.number))
    }
}

/// A ticket the PSA says it does not have is the engineer's to correct (422 at `field`);
/// anything else the PSA does is the PSA's.
fn no_such_ticket(problem: &PsaProblem, field: &[&str], ticket_id: &str) -> Option<ApiError> {
    match problem.psa_error() {
        Some(PsaError::NotFound { .. }) => Some(ApiError::Validation(vec![FieldError::body(
            field,
            format!("The PSA has no ticket {ticket_id:?}"),
            "value_error",
        )])),
        _ => None,
    }
}

/// For a `psa_ticket` intake: the connection (another account's is a 404), the ticket read
/// and made the intake with the engineer's text added. Other intakes pass unchanged.
pub(super) async fn read_for_intake(
    state: &AppState,
    user: &User,
    body: &NewSession,
    intake: Intake,
) -> ApiResult<(Intake, Option<IntakeTicket>)> {
    let (Some(connection_id), Some(ticket_id)) = (body.connection_id, body.ticket_id.as_deref())
    else {
        return Ok((intake, None));
    };
    let ticket_id = ticket_id.trim().to_string();
    let connection = connections::find(state, user, connection_id).await?;
    match tickets::read(state, &connection, &ticket_id).await {
        Ok(ticket) => {
            let intake =
                Intake::from_ticket(&ticket.intake_text(), intake.text.as_deref(), intake.log);
            let read = Ok(ticket);
            Ok((
                intake,
                Some(IntakeTicket {
                    connection,
                    ticket_id,
                    read,
                }),
            ))
        }
        Err(problem) => {
            if let Some(refused) =
                no_such_ticket(&problem, &["intake_content", "ticket_id"], &ticket_id)
            {
                return Err(refused);
            }
            tracing::warn!(connection = %connection.id, ticket = %ticket_id, error = %problem, "the intake's ticket could not be read");
            let notice = match problem.psa_error() {
                Some(err) => unread_notice(connection.kind, &ticket_id, err),
                None => format!(
                    "The ticket {ticket_id} could not be read: {problem}. The session started from the text you gave."
                ),
            };
            // Something to start from even when the engineer typed nothing.
            let intake = match (&intake.text, &intake.log) {
                (None, None) => Intake {
                    text: Some(format!(
                        "{} ticket {ticket_id}",
                        connection.kind.display_name()
                    )),
                    log: None,
                },
                _ => intake,
            };
            let read = Err(notice);
            Ok((
                intake,
                Some(IntakeTicket {
                    connection,
                    ticket_id,
                    read,
                }),
            ))
        }
    }
}

/// The ticket of a session, if it has one.
pub async fn of_session(state: &AppState, session_id: Uuid) -> ApiResult<Option<TicketLink>> {
    Ok(state.store.session_ticket(session_id).await?)
}

/// Links a ticket to a running session of the caller's: its text joins the intake, so the
/// next step's prompt carries it. Linking the ticket already linked changes nothing; another
/// ticket while one is linked is a 409.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn link(
    state: &AppState,
    user: &User,
    id: Uuid,
    body: LinkTicket,
) -> ApiResult<TicketLink> {
    let session = access::owned(state, user, id).await?;
    let ticket_id = body.ticket_id.trim().to_string();
    if ticket_id.is_empty() || ticket_id.chars().count() > 64 {
        return Err(ApiError::field(
            &["ticket_id"],
            "Input should have 1 to 64 characters",
            "string_too_long",
        ));
    }
    let running = [SessionStatus::Active, SessionStatus::Paused];
    if !running.contains(&session.status) {
        return Err(ApiError::Conflict(format!(
            "A {} session cannot take a ticket any more",
            session.status.as_str()
        )));
    }
    if let Some(linked) = of_session(state, id).await?.filter(TicketLink::was_read) {
        if linked.connection_id == body.connection_id && linked.ticket_id == ticket_id {
            return Ok(linked);
        }
        return Err(ApiError::Conflict(format!(
            "This session is linked to ticket {} already",
            linked.label()
        )));
    }
    let connection = connections::find(state, user, body.connection_id).await?;
    super::limit(state, Action::SessionWrite, user.id, "link_ticket").await?;
    let ticket = match tickets::read(state, &connection, &ticket_id).await {
        Ok(ticket) => ticket,
        Err(problem) => {
            return Err(no_such_ticket(&problem, &["ticket_id"], &ticket_id)
                .unwrap_or_else(|| problem.into()))
        }
    };
    let now = Utc::now();
    let intake = session.intake.with_ticket(&ticket.intake_text());
    let link = TicketLink::read(id, connection.id, &ticket, now);
    if !state
        .store
        .link_ticket(&link, &intake, &running, now)
        .await?
    {
        return Err(ApiError::Conflict(
            "The session closed meanwhile; it cannot take a ticket any more".into(),
        ));
    }
    tracing::info!(connection = %connection.id, ticket = %ticket_id, "ticket linked to the session");
    Ok(link)
}
