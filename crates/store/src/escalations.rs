//! Escalations (escalation.md): the queue, the claim and the pick-up. The claim is one
//! conditional UPDATE (`claimed_by IS NULL`) judged by the rows it changed, so of two
//! concurrent claims exactly one wins on both backends: SQLite has one writer, and
//! PostgreSQL re-checks the condition on the row the first claim committed.

use chrono::{DateTime, Utc};
use domain::escalation::{
    Escalation, EscalationTarget, HandoffAuthor, PickupMode, QueueScope, QueueStatus,
};
use domain::session::Session;
use domain::step::Step;
use uuid::Uuid;

use crate::batch::{values, Arg, Batch};
use crate::codec::{ms, opt_uuid, time, uuid};
use crate::db::Heat;
use crate::outbox::enqueue_sql;
use crate::row::Columns;
use crate::sessions::insert_step_sql;
use crate::{NewOutboxEntry, Result, Store, StoreError};

const COLUMNS: &str = "e.id, e.session_id, e.account_id, e.escalated_by, e.escalated_to_id, \
    e.escalated_to_team_id, e.reason, e.handoff_author, e.escalated_at, e.claimed_by, \
    e.claimed_at, e.picked_up_mode, e.picked_up_at, e.picked_up_as_id, e.briefing_step_id, \
    e.first_answered_at";
/// The same, for the reminder scan's own query (`notifications`).
pub(crate) const ESCALATION_COLUMNS: &str = COLUMNS;

/// One line of the queue: the escalation and what the queue shows of its session.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub escalation: Escalation,
    pub title: String,
    pub problem_summary: Option<String>,
    pub session_status: String,
}

/// Whose queue, and which part of it.
#[derive(Debug, Clone, Copy)]
pub struct QueueQuery {
    pub account_id: Uuid,
    pub viewer: Uuid,
    pub viewer_team: Option<Uuid>,
    pub viewer_is_admin: bool,
    pub scope: QueueScope,
    pub status: QueueStatus,
    pub limit: i64,
}

fn opt_time(v: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    v.map(time).transpose()
}

pub(crate) fn escalation_from_row(row: &impl Columns) -> Result<Escalation> {
    let person = opt_uuid(row.col("escalated_to_id")?)?;
    let team = opt_uuid(row.col("escalated_to_team_id")?)?;
    let target = EscalationTarget::from_parts(person, team)
        .ok_or_else(|| StoreError::Corrupt("an escalation with two targets".into()))?;
    let author: String = row.col("handoff_author")?;
    let mode: Option<String> = row.col("picked_up_mode")?;
    Ok(Escalation {
        id: uuid(row.col("id")?)?,
        session_id: uuid(row.col("session_id")?)?,
        account_id: uuid(row.col("account_id")?)?,
        escalated_by: uuid(row.col("escalated_by")?)?,
        target,
        reason: row.col("reason")?,
        escalated_at: time(row.col("escalated_at")?)?,
        handoff_author: HandoffAuthor::parse(&author)
            .ok_or_else(|| StoreError::Corrupt(format!("handoff author {author:?}")))?,
        claimed_by: opt_uuid(row.col("claimed_by")?)?,
        claimed_at: opt_time(row.col("claimed_at")?)?,
        picked_up: mode
            .map(|m| {
                PickupMode::parse(&m)
                    .ok_or_else(|| StoreError::Corrupt(format!("pick-up mode {m:?}")))
            })
            .transpose()?,
        picked_up_at: opt_time(row.col("picked_up_at")?)?,
        picked_up_as_id: opt_uuid(row.col("picked_up_as_id")?)?,
        briefing_step_id: opt_uuid(row.col("briefing_step_id")?)?,
        first_answered_at: opt_time(row.col("first_answered_at")?)?,
    })
}

/// A new escalation's row (queued with the session's move to `escalated`, guarded by it).
pub(crate) fn insert_escalation_sql(b: &mut Batch, e: &Escalation) -> Result<String> {
    let placeholders = [
        b.arg(e.id.to_string())?,
        b.arg(e.session_id.to_string())?,
        b.arg(e.account_id.to_string())?,
        b.arg(e.escalated_by.to_string())?,
        b.arg(e.target.person().map(|p| p.to_string()))?,
        b.arg(e.target.team().map(|t| t.to_string()))?,
        b.arg(e.reason.clone())?,
        b.arg(e.handoff_author.as_str())?,
        b.arg(ms(e.escalated_at))?,
    ];
    Ok(format!(
        "INSERT INTO escalations (id, session_id, account_id, escalated_by, escalated_to_id, \
         escalated_to_team_id, reason, handoff_author, escalated_at) {}",
        values(&placeholders)
    ))
}

/// Notes the first answer after a pick-up: on the continued session (the briefing's own
/// answer aside) or on the fresh session. Changes no row for any other session, and runs
/// inside the answer's transaction, so it costs no round trip.
pub(crate) fn first_answer_sql(
    b: &mut Batch,
    session: Uuid,
    answered_step: Uuid,
    at: DateTime<Utc>,
) -> Result<String> {
    Ok(format!(
        "UPDATE escalations SET first_answered_at = {} \
         WHERE first_answered_at IS NULL AND picked_up_at IS NOT NULL \
           AND (picked_up_as_id = {session} \
                OR (session_id = {session} AND briefing_step_id IS NOT NULL \
                    AND briefing_step_id <> {}))",
        b.arg(ms(at))?,
        b.arg(answered_step.to_string())?,
        session = b.arg(session.to_string())?,
    ))
}

impl Store {
    /// Every escalation of a session, oldest first.
    pub async fn escalations_of_session(&self, session_id: Uuid) -> Result<Vec<Escalation>> {
        let rows = self
            .db
            .rows(
                Heat::Hot,
                format!(
                    "SELECT {COLUMNS} FROM escalations e WHERE e.session_id = $1 \
                     ORDER BY e.escalated_at, e.id"
                ),
                [Arg::from(session_id.to_string())],
            )
            .await?;
        rows.iter().map(escalation_from_row).collect()
    }

    /// The escalation a fresh session was picked up from (its `escalated_from_id`).
    pub async fn escalation_picked_up_as(&self, session_id: Uuid) -> Result<Option<Escalation>> {
        let row = self
            .db
            .optional(
                Heat::Cold,
                format!("SELECT {COLUMNS} FROM escalations e WHERE e.picked_up_as_id = $1"),
                [Arg::from(session_id.to_string())],
            )
            .await?;
        row.as_ref().map(escalation_from_row).transpose()
    }

    /// The queue as `q.viewer` may see it, oldest unclaimed first, at most `q.limit` lines.
    /// Only the newest escalation of each session is listed: an older one was picked up.
    pub async fn escalation_queue(&self, q: &QueueQuery) -> Result<Vec<QueueEntry>> {
        // Every variant binds the same three parameters ($1 account, $2 viewer, $3 team);
        // a clause that does not use one still mentions it so the binds stay valid.
        let mine = "(e.escalated_to_id = $2 OR e.claimed_by = $2)";
        let team = "(e.escalated_to_team_id = $3)";
        let visible = "(e.escalated_to_id = $2 OR e.claimed_by = $2 OR e.escalated_by = $2 \
             OR e.escalated_to_team_id = $3 \
             OR (e.escalated_to_id IS NULL AND e.escalated_to_team_id IS NULL))";
        let scope = match q.scope {
            QueueScope::Mine => format!("{mine} AND ($3 = $3)"),
            QueueScope::Team => format!("{team} AND ($2 = $2)"),
            QueueScope::Account if q.viewer_is_admin => "($2 = $2 AND $3 = $3)".into(),
            QueueScope::Account => visible.into(),
        };
        let status = match q.status {
            QueueStatus::Open => "e.claimed_by IS NULL",
            QueueStatus::Claimed => "e.claimed_by IS NOT NULL",
            QueueStatus::All => "1 = 1",
        };
        let sql = format!(
            "SELECT {COLUMNS}, s.title, s.problem_summary, s.status AS session_status \
             FROM escalations e JOIN ai_sessions s ON s.id = e.session_id \
             WHERE e.account_id = $1 AND {scope} AND {status} \
               AND NOT EXISTS (SELECT 1 FROM escalations later \
                               WHERE later.session_id = e.session_id \
                                 AND later.escalated_at > e.escalated_at) \
             ORDER BY CASE WHEN e.claimed_by IS NULL THEN 0 ELSE 1 END, \
                      e.escalated_at, e.id LIMIT $4"
        );
        let rows = self
            .db
            .rows(
                Heat::Cold,
                sql,
                [
                    Arg::from(q.account_id.to_string()),
                    Arg::from(q.viewer.to_string()),
                    // No team matches no team's escalation.
                    Arg::from(q.viewer_team.map_or_else(String::new, |t| t.to_string())),
                    Arg::from(q.limit),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(QueueEntry {
                    escalation: escalation_from_row(row)?,
                    title: row.col("title")?,
                    problem_summary: row.col("problem_summary")?,
                    session_status: row.col("session_status")?,
                })
            })
            .collect()
    }

    /// Claims escalation `id` for `user`: `true` when this claim won, `false` when it was
    /// claimed already (or its session is no longer escalated). Nothing else is read in
    /// between, so two claims at once cannot both see it unclaimed.
    pub async fn claim_escalation(
        &self,
        id: Uuid,
        user: Uuid,
        now: DateTime<Utc>,
        outbox: &[NewOutboxEntry],
    ) -> Result<bool> {
        let mut batch = Batch::new();
        batch.sql(
            "UPDATE escalations SET claimed_by = $1, claimed_at = $2 \
             WHERE id = $3 AND claimed_by IS NULL \
               AND EXISTS (SELECT 1 FROM ai_sessions s \
                           WHERE s.id = escalations.session_id AND s.status = 'escalated')",
            [
                Arg::from(user.to_string()),
                Arg::from(ms(now)),
                Arg::from(id.to_string()),
            ],
        );
        // What the claim sends out is queued only when the claim won.
        if !outbox.is_empty() {
            batch.push_guarded(|b| enqueue_sql(b, outbox, now))?;
        }
        let done = self.db.write(batch).await?;
        let won = done.first().is_some_and(|d| d.changed == 1);
        if won && !outbox.is_empty() {
            self.outbox_queued();
        }
        Ok(won)
    }

    /// `continue`: the claimer becomes the owner, the session active again with `briefing`
    /// as its next step, in one transaction; `false` (nothing written) when it was picked up
    /// already or is not escalated any more.
    pub async fn pick_up_continue(
        &self,
        escalation: &Escalation,
        user: Uuid,
        briefing: &Step,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut batch = Batch::new();
        batch.push(|b| {
            Ok(format!(
                "UPDATE escalations SET picked_up_mode = 'continue', picked_up_at = {}, \
                 briefing_step_id = {} \
                 WHERE id = {} AND claimed_by = {} AND picked_up_at IS NULL",
                b.arg(ms(now))?,
                b.arg(briefing.id.to_string())?,
                b.arg(escalation.id.to_string())?,
                b.arg(user.to_string())?,
            ))
        })?;
        batch.push_guarded(|b| {
            Ok(format!(
                "UPDATE ai_sessions SET user_id = {}, status = 'active', \
                 step_count = step_count + 1, updated_at = {} \
                 WHERE id = {} AND status = 'escalated' AND step_count = {}",
                b.arg(user.to_string())?,
                b.arg(ms(now))?,
                b.arg(escalation.session_id.to_string())?,
                b.arg(briefing.step_order - 1)?,
            ))
        })?;
        batch.push_guarded(|b| insert_step_sql(b, briefing))?;
        let done = self.db.write(batch).await?;
        Ok(done.get(2).is_some_and(|d| d.changed == 1))
    }

    /// `fresh`, first half: marks the escalation picked up, so a second pick-up is refused
    /// while the new session is being made; `false` when it was picked up already.
    ///
    /// `retrying` is the `picked_up_at` of an earlier fresh pick-up that never linked its
    /// session (a crash, or a failed undo): the row is taken over only if it still holds
    /// exactly that value, so two retries cannot both win.
    pub async fn begin_fresh_pickup(
        &self,
        escalation: Uuid,
        user: Uuid,
        now: DateTime<Utc>,
        retrying: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let done = match retrying {
            None => {
                self.db
                    .write_one(
                        "UPDATE escalations SET picked_up_mode = 'fresh', picked_up_at = $1 \
                         WHERE id = $2 AND claimed_by = $3 AND picked_up_at IS NULL",
                        [
                            Arg::from(ms(now)),
                            Arg::from(escalation.to_string()),
                            Arg::from(user.to_string()),
                        ],
                    )
                    .await?
            }
            Some(earlier) => {
                self.db
                    .write_one(
                        "UPDATE escalations SET picked_up_at = $1 \
                         WHERE id = $2 AND claimed_by = $3 AND picked_up_mode = 'fresh' \
                           AND picked_up_as_id IS NULL AND picked_up_at = $4",
                        [
                            Arg::from(ms(now)),
                            Arg::from(escalation.to_string()),
                            Arg::from(user.to_string()),
                            Arg::from(ms(earlier)),
                        ],
                    )
                    .await?
            }
        };
        Ok(done.changed == 1)
    }

    /// `fresh`, second half: links the new session (both ways: this row is the new
    /// session's `escalated_from_id`). `begun` is the `picked_up_at` this pick-up wrote, so
    /// a pick-up that was taken over as unfinished cannot link over the one that took it;
    /// `false` when that happened.
    pub async fn finish_fresh_pickup(
        &self,
        escalation: Uuid,
        new_session: &Session,
        begun: DateTime<Utc>,
    ) -> Result<bool> {
        let done = self
            .db
            .write_one(
                "UPDATE escalations SET picked_up_as_id = $1 \
                 WHERE id = $2 AND picked_up_at = $3 AND picked_up_as_id IS NULL",
                [
                    Arg::from(new_session.id.to_string()),
                    Arg::from(escalation.to_string()),
                    Arg::from(ms(begun)),
                ],
            )
            .await?;
        Ok(done.changed == 1)
    }

    /// Undoes [`Store::begin_fresh_pickup`] when the new session could not be made (the
    /// provider failed), so the claimer can try again; `begun` as for
    /// [`Store::finish_fresh_pickup`].
    pub async fn abandon_fresh_pickup(&self, escalation: Uuid, begun: DateTime<Utc>) -> Result<()> {
        self.db
            .write_one(
                "UPDATE escalations SET picked_up_mode = NULL, picked_up_at = NULL \
                 WHERE id = $1 AND picked_up_at = $2 AND picked_up_as_id IS NULL",
                [Arg::from(escalation.to_string()), Arg::from(ms(begun))],
            )
            .await?;
        Ok(())
    }
}
