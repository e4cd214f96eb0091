//! The durable outbox: every write FlowPilot sends out (a PSA note, a webhook, an email) is
//! a row here before it is anything else, written in the same transaction as the change it
//! reports (`Closing::outbox` on a session's close, [`Store::enqueue_outbox`] alone), and
//! delivered in the background by whichever server claims it (docs/outbox.md).
//!
//! A claim is a lease: the entry is `in_flight`, held by one server until `lease_until`, and
//! every outcome is recorded only by the holder of a lease still in force (a server that lost
//! its lease to another cannot overwrite what that one recorded). A lease that ran out (the
//! server died, or hung) makes the entry due again, marked uncertain: the attempt may have
//! landed, so the next one asks first. On PostgreSQL several servers claim at once and
//! `FOR UPDATE SKIP LOCKED` gives each row to one of them; on SQLite the single writer runs
//! one claim at a time, which gives the same.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{flag, ms, opt_uuid, time, uuid};
use crate::db::Heat;
use crate::row::Columns;
use crate::{Backend, Result, Store, StoreError};

/// A write to send, as its caller describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxEntry {
    pub account_id: Uuid,
    pub session_id: Option<Uuid>,
    /// Which deliverer sends it: `psa_note`, `webhook`, `email`, ….
    pub kind: String,
    /// What that deliverer needs, as it reads it back.
    pub payload: serde_json::Value,
    /// Names the logical write (e.g. `psa_note:{session}:resolved`): queuing the same key
    /// again queues nothing, so a caller may retry its own request safely.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxStatus {
    Pending,
    InFlight,
    Delivered,
    Failed,
}

impl OutboxStatus {
    pub const ALL: [OutboxStatus; 4] = [
        OutboxStatus::Pending,
        OutboxStatus::InFlight,
        OutboxStatus::Delivered,
        OutboxStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::InFlight => "in_flight",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxStatus> {
        OutboxStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// One entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub account_id: Uuid,
    pub session_id: Option<Uuid>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub status: OutboxStatus,
    /// Attempts started, counted when claimed (an attempt a crash cut short counts too).
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// An earlier attempt may have landed: ask the remote side before sending again.
    pub uncertain: bool,
    pub last_error: Option<String>,
    pub remote_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How an attempt ended, as the holder of its lease records it ([`Store::settle_outbox`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// It landed; `remote_id` is what the remote side called what it created.
    Delivered { remote_id: Option<String> },
    /// Try again at `at`. `uncertain`: it may have landed, ask before sending again.
    Retry {
        at: DateTime<Utc>,
        error: String,
        uncertain: bool,
    },
    /// No more attempts (a refusal that another attempt would not change), with the reason.
    Failed { reason: String, uncertain: bool },
}

/// How many entries are in each status: what the metrics report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    pub pending: i64,
    pub in_flight: i64,
    pub delivered: i64,
    pub failed: i64,
}

const OUTBOX_COLUMNS: &str = "id, account_id, session_id, kind, payload, idempotency_key, \
    status, attempts, next_attempt_at, lease_holder, lease_until, uncertain, last_error, \
    remote_id, created_at, updated_at, delivered_at";

/// The fence of every outcome: the entry is still in flight under this holder's lease.
const HELD: &str = "status = 'in_flight' AND lease_holder = $2";

fn entry_from_row(row: &impl Columns) -> Result<OutboxEntry> {
    let status: String = row.col("status")?;
    let payload: &str = row.col("payload")?;
    let opt_time = |name: &str| -> Result<Option<DateTime<Utc>>> {
        row.col::<Option<i64>>(name)?.map(time).transpose()
    };
    Ok(OutboxEntry {
        id: uuid(row.col("id")?)?,
        account_id: uuid(row.col("account_id")?)?,
        session_id: opt_uuid(row.col("session_id")?)?,
        kind: row.col("kind")?,
        payload: serde_json::from_str(payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox payload: {e}")))?,
        idempotency_key: row.col("idempotency_key")?,
        status: OutboxStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox status {status:?}")))?,
        attempts: row.col("attempts")?,
        next_attempt_at: time(row.col("next_attempt_at")?)?,
        lease_holder: row.col("lease_holder")?,
        lease_until: opt_time("lease_until")?,
        uncertain: row.col::<i64>("uncertain")? != 0,
        last_error: row.col("last_error")?,
        remote_id: row.col("remote_id")?,
        created_at: time(row.col("created_at")?)?,
        updated_at: time(row.col("updated_at")?)?,
        delivered_at: opt_time("delivered_at")?,
    })
}

/// One INSERT of `entries` (at least one), pending and due at `now`; a key already queued is
/// left as it is. Used alone and as the guarded last statement of a session's change.
pub(crate) fn enqueue_sql(
    b: &mut Batch,
    entries: &[NewOutboxEntry],
    now: DateTime<Utc>,
) -> Result<String> {
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        let payload = serde_json::to_string(&e.payload)
            .map_err(|err| StoreError::Corrupt(format!("outbox payload: {err}")))?;
        let at = b.arg(ms(now))?;
        rows.push(format!(
            "({}, {}, {}, {}, {}, {}, 'pending', {at}, {at}, {at})",
            b.arg(Uuid::new_v4().to_string())?,
            b.arg(e.account_id.to_string())?,
            b.arg(e.session_id.map(|s| s.to_string()))?,
            b.arg(e.kind.as_str())?,
            b.arg(payload)?,
            b.arg(e.idempotency_key.as_str())?,
        ));
    }
    Ok(format!(
        "INSERT INTO outbox (id, account_id, session_id, kind, payload, idempotency_key, \
         status, next_attempt_at, created_at, updated_at) VALUES {} \
         ON CONFLICT (idempotency_key) DO NOTHING",
        rows.join(", ")
    ))
}

impl Store {
    /// Queues `entries` on their own (no other change to make with them) and returns the ids
    /// of those that were new. Wakes this server's deliverer.
    pub async fn enqueue_outbox(
        &self,
        entries: &[NewOutboxEntry],
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = Batch::new();
        batch.push(|b| Ok(format!("{} RETURNING id", enqueue_sql(b, entries, now)?)))?;
        let done = self.db.write_single(batch).await?;
        self.outbox_queued();
        done.rows.iter().map(|row| uuid(row.col("id")?)).collect()
    }

    /// Tells this server's deliverer that entries were queued, so it need not wait for its
    /// next poll. Other servers find them when they poll.
    pub(crate) fn outbox_queued(&self) {
        self.outbox_wake.notify_one();
    }

    /// Completes when entries were queued through this `Store` (or a clone) since the last
    /// time it completed.
    pub async fn outbox_wakeup(&self) {
        self.outbox_wake.notified().await;
    }

    /// Claims up to `limit` entries that are due (pending, or in flight under a lease that
    /// ran out) for `holder` until `lease_until`, oldest due first, counting an attempt on
    /// each. An entry whose lease ran out comes back uncertain.
    pub async fn claim_outbox(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>> {
        // The one place the backends differ: PostgreSQL's servers may claim at the same
        // moment, and each must skip the rows another is taking rather than wait for them and
        // then take them too; SQLite's single writer runs one claim at a time.
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let due = "status IN ('pending', 'in_flight') AND next_attempt_at <= $3";
        // Every server asks every second, and mostly nothing is due: a read (on SQLite a
        // reader, off the single writer) answers that without a write transaction.
        let anything = self
            .db
            .optional(
                Heat::Hot,
                "SELECT id FROM outbox WHERE status IN ('pending', 'in_flight') \
                 AND next_attempt_at <= $1 LIMIT 1",
                [Arg::from(ms(now))],
            )
            .await?;
        if anything.is_none() {
            return Ok(Vec::new());
        }
        // The rows are chosen once, in a CTE that is never folded into the UPDATE: as a
        // subquery of its WHERE, PostgreSQL may run the choice again for each row it scans,
        // each run skipping what the last one locked, and one claim took every row due.
        let sql = format!(
            "WITH chosen AS MATERIALIZED (SELECT id FROM outbox WHERE {due} \
                 ORDER BY next_attempt_at, created_at LIMIT $4{lock}) \
             UPDATE outbox SET status = 'in_flight', attempts = attempts + 1, \
               uncertain = CASE WHEN status = 'in_flight' THEN 1 ELSE uncertain END, \
               lease_holder = $1, lease_until = $2, next_attempt_at = $2, updated_at = $3 \
             WHERE {due} AND id IN (SELECT id FROM chosen) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let done = self
            .db
            .write_one(
                sql,
                [
                    Arg::from(holder),
                    Arg::from(ms(lease_until)),
                    Arg::from(ms(now)),
                    Arg::from(limit),
                ],
            )
            .await?;
        let mut claimed = done
            .rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|e| (e.created_at, e.id));
        Ok(claimed)
    }

    /// Records how the attempt `holder` made on entry `id` ended; `false` (nothing written)
    /// when `holder` no longer holds it (its lease ran out and another server took it).
    pub async fn settle_outbox(
        &self,
        id: Uuid,
        holder: &str,
        outcome: &Settle,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let fence = [
            Arg::from(id.to_string()),
            Arg::from(holder),
            Arg::from(ms(now)),
        ];
        let (sql, rest): (String, Vec<Arg>) = match outcome {
            Settle::Delivered { remote_id } => (
                format!(
                    "UPDATE outbox SET status = 'delivered', remote_id = $4, delivered_at = $3, \
                     updated_at = $3, last_error = NULL, uncertain = 0, lease_holder = NULL, \
                     lease_until = NULL WHERE id = $1 AND {HELD}"
                ),
                vec![Arg::from(remote_id.clone())],
            ),
            Settle::Retry {
                at,
                error,
                uncertain,
            } => (
                format!(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = $4, \
                     last_error = $5, uncertain = $6, updated_at = $3, lease_holder = NULL, \
                     lease_until = NULL WHERE id = $1 AND {HELD}"
                ),
                vec![
                    Arg::from(ms(*at)),
                    Arg::from(error.as_str()),
                    Arg::from(flag(*uncertain)),
                ],
            ),
            Settle::Failed { reason, uncertain } => (
                format!(
                    "UPDATE outbox SET status = 'failed', last_error = $4, uncertain = $5, \
                     updated_at = $3, lease_holder = NULL, lease_until = NULL \
                     WHERE id = $1 AND {HELD}"
                ),
                vec![Arg::from(reason.as_str()), Arg::from(flag(*uncertain))],
            ),
        };
        let done = self
            .db
            .write_one(sql, fence.into_iter().chain(rest))
            .await?;
        Ok(done.changed == 1)
    }

    /// Queues a failed entry of `account_id` again, due now, with its attempts counted from
    /// zero (what the retry button does); `None` when there is no such failed entry.
    pub async fn retry_outbox(
        &self,
        account_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxEntry>> {
        let done = self
            .db
            .write_one(
                format!(
                    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $3, \
                     updated_at = $3 WHERE id = $1 AND account_id = $2 AND status = 'failed' \
                     RETURNING {OUTBOX_COLUMNS}"
                ),
                [
                    Arg::from(id.to_string()),
                    Arg::from(account_id.to_string()),
                    Arg::from(ms(now)),
                ],
            )
            .await?;
        let entry = done.rows.first().map(entry_from_row).transpose()?;
        if entry.is_some() {
            self.outbox_queued();
        }
        Ok(entry)
    }

    /// One entry of `account_id`.
    pub async fn outbox_entry(&self, account_id: Uuid, id: Uuid) -> Result<OutboxEntry> {
        let row = self
            .db
            .one(
                Heat::Hot,
                format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1 AND account_id = $2"),
                [Arg::from(id.to_string()), Arg::from(account_id.to_string())],
            )
            .await?;
        entry_from_row(&row)
    }

    /// The entries of a session, oldest first: what its push status shows.
    pub async fn session_outbox(&self, session_id: Uuid) -> Result<Vec<OutboxEntry>> {
        let rows = self
            .db
            .rows(
                Heat::Hot,
                format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE session_id = $1 \
                     ORDER BY created_at, id"
                ),
                [Arg::from(session_id.to_string())],
            )
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// How many entries are in each status, over every account.
    pub async fn outbox_depth(&self) -> Result<OutboxDepth> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status",
                [],
            )
            .await?;
        let mut depth = OutboxDepth::default();
        for row in &rows {
            let n: i64 = row.col("n")?;
            match OutboxStatus::parse(row.col("status")?) {
                Some(OutboxStatus::Pending) => depth.pending = n,
                Some(OutboxStatus::InFlight) => depth.in_flight = n,
                Some(OutboxStatus::Delivered) => depth.delivered = n,
                Some(OutboxStatus::Failed) => depth.failed = n,
                None => {}
            }
        }
        Ok(depth)
    }
}
