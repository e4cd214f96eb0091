//! The tickets of a connection: the open ones to pick from, and one read whole for an intake.

use domain::psa::{Ticket, TicketQuery, TicketSummary};
use domain::User;
use store::PsaConnection;
use uuid::Uuid;

use super::PsaProblem;
use crate::error::ApiResult;
use crate::state::AppState;

/// Open tickets of the connection `id` (another account's: 404); a PSA that fails is a 502.
pub async fn open_tickets(
    state: &AppState,
    user: &User,
    id: Uuid,
    query: TicketQuery,
) -> ApiResult<Vec<TicketSummary>> {
    let connection = super::connections::find(state, user, id).await?;
    super::limit(state, user).await?;
    Ok(list(state, &connection, query).await?)
}

pub async fn list(
    state: &AppState,
    connection: &PsaConnection,
    query: TicketQuery,
) -> Result<Vec<TicketSummary>, PsaProblem> {
    state
        .psa
        .call(connection, |client| async move {
            client.list_open_tickets(&query).await
        })
        .await
}

/// One ticket, whole (summary, description, latest notes, company, contact, items).
pub async fn read(
    state: &AppState,
    connection: &PsaConnection,
    ticket_id: &str,
) -> Result<Ticket, PsaProblem> {
    let ticket_id = ticket_id.to_string();
    state
        .psa
        .call(connection, |client| async move {
            client.read_ticket(&ticket_id).await
        })
        .await
}
