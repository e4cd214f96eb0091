//! The PSA ticket of a session (`domain::ticket_link`): written with the session when it
//! starts from a ticket, or later when a ticket is linked to a running session, together with
//! the intake the ticket joins, so the next prompt carries it.

use chrono::{DateTime, Utc};
use domain::session::{Intake, Session, SessionStatus};
use domain::step::Step;
use domain::ticket_link::TicketLink;
use uuid::Uuid;

use crate::batch::{values, Arg, Batch};
use crate::codec::{ms, time, uuid};
use crate::db::Heat;
use crate::row::Columns;
use crate::sessions::{insert_session_sql, insert_step_sql, status_list, to_text};
use crate::{Result, Store};

const LINK_COLUMNS: &str = "session_id, connection_id, ticket_id, ticket_number, summary, \
    company, url, read_error, linked_at";

/// The link's row, replacing the session's earlier one.
fn upsert_link_sql(b: &mut Batch, link: &TicketLink) -> Result<String> {
    let placeholders = [
        b.arg(link.session_id.to_string())?,
        b.arg(link.connection_id.to_string())?,
        b.arg(link.ticket_id.as_str())?,
        b.arg(link.ticket_number.clone())?,
        b.arg(link.summary.clone())?,
        b.arg(link.company.clone())?,
        b.arg(link.url.clone())?,
        b.arg(link.read_error.clone())?,
        b.arg(ms(link.linked_at))?,
    ];
    Ok(format!(
        "INSERT INTO session_tickets ({LINK_COLUMNS}) {} ON CONFLICT (session_id) DO UPDATE SET \
         connection_id = excluded.connection_id, ticket_id = excluded.ticket_id, \
         ticket_number = excluded.ticket_number, summary = excluded.summary, \
         company = excluded.company, url = excluded.url, read_error = excluded.read_error, \
         linked_at = excluded.linked_at",
        values(&placeholders)
    ))
}

fn link_from_row(row: &impl Columns) -> Result<TicketLink> {
    Ok(TicketLink {
        session_id: uuid(row.col("session_id")?)?,
        connection_id: uuid(row.col("connection_id")?)?,
        ticket_id: row.col("ticket_id")?,
        ticket_number: row.col("ticket_number")?,
        summary: row.col("summary")?,
        company: row.col("company")?,
        url: row.col("url")?,
        read_error: row.col("read_error")?,
        linked_at: time(row.col("linked_at")?)?,
    })
}

impl Store {
    /// Stores a new session started from a ticket with its first step and the link: all or
    /// nothing.
    pub async fn create_session_with_ticket(
        &self,
        s: &Session,
        first: &Step,
        link: &TicketLink,
    ) -> Result<()> {
        let mut batch = Batch::new();
        batch.push(|b| insert_session_sql(b, s))?;
        batch.push(|b| insert_step_sql(b, first))?;
        batch.push(|b| upsert_link_sql(b, link))?;
        self.db.write(batch).await?;
        Ok(())
    }

    /// The ticket of session `session_id`, if it has one.
    pub async fn session_ticket(&self, session_id: Uuid) -> Result<Option<TicketLink>> {
        let row = self
            .db
            .optional(
                Heat::Hot,
                format!("SELECT {LINK_COLUMNS} FROM session_tickets WHERE session_id = $1"),
                [Arg::from(session_id.to_string())],
            )
            .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// Links `link`'s ticket to its session and sets the session's intake to `intake`, only
    /// while the session is in one of `allowed_from`; whether it was.
    pub async fn link_ticket(
        &self,
        link: &TicketLink,
        intake: &Intake,
        allowed_from: &[SessionStatus],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut batch = Batch::new();
        batch.push(|b| {
            Ok(format!(
                "UPDATE ai_sessions SET intake_content = {}, updated_at = {} \
                 WHERE id = {} AND status IN ({})",
                b.arg(to_text(intake)?)?,
                b.arg(ms(now))?,
                b.arg(link.session_id.to_string())?,
                status_list(allowed_from),
            ))
        })?;
        batch.push_guarded(|b| upsert_link_sql(b, link))?;
        let done = self.db.write(batch).await?;
        Ok(done.first().is_some_and(|d| d.changed == 1))
    }
}
