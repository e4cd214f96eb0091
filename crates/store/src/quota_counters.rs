//! Counters of AI calls toward the quota: one row per user and UTC day, one per account and
//! UTC month.
//!
//! Counting rows in the `ai_usage` ledger before a call cannot hold the limit: concurrent
//! requests all read the same count and all pass. Here a call is reserved by one conditional
//! upsert per counter, which both backends apply atomically to the row (SQLite has one writer
//! at a time; PostgreSQL locks the conflicting row and re-checks the condition on its latest
//! version), so at most `limit` reservations ever succeed in a period.

use crate::batch::{Arg, Batch};
use crate::codec::ms;
use crate::db::Heat;
use crate::row::Columns;
use crate::{AiUsageCounts, Result, Store};

const USER_DAY: &str = "user_day";
const ACCOUNT_MONTH: &str = "account_month";

pub use domain::quota::{QuotaKeys, QuotaLimit};

/// The two counter rows of `keys`: (scope, subject, period start).
fn counters(keys: &QuotaKeys) -> [(&'static str, String, i64); 2] {
    [
        (USER_DAY, keys.user_id.to_string(), ms(keys.day_start)),
        (
            ACCOUNT_MONTH,
            keys.account_id.to_string(),
            ms(keys.month_start),
        ),
    ]
}

/// The outcome of [`Store::reserve_ai_call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaGrant {
    /// Both counters took the call.
    Granted,
    /// This limit is used up; nothing was counted.
    Exhausted(QuotaLimit),
}

/// One call to count against both counters, each within its limit (`None`: unlimited, still
/// counted so usage stays visible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaAsk {
    pub keys: QuotaKeys,
    pub daily_limit: Option<i64>,
    pub monthly_limit: Option<i64>,
}

impl QuotaAsk {
    /// The refusal when a limit is zero or less: the upsert would count a first call
    /// without looking at the limit.
    pub(crate) fn refused_outright(&self) -> Option<QuotaLimit> {
        if self.daily_limit.is_some_and(|l| l <= 0) {
            Some(QuotaLimit::Daily)
        } else if self.monthly_limit.is_some_and(|l| l <= 0) {
            Some(QuotaLimit::Monthly)
        } else {
            None
        }
    }

    /// Both counters in one statement, each taken or left on its own condition, returning
    /// the scope of each counter taken.
    pub(crate) fn reserve_sql(&self, b: &mut Batch) -> Result<String> {
        let [day, month] = counters(&self.keys);
        let rows = [
            [b.arg(day.0)?, b.arg(day.1)?, b.arg(day.2)?, "1".into()],
            [
                b.arg(month.0)?,
                b.arg(month.1)?,
                b.arg(month.2)?,
                "1".into(),
            ],
        ];
        let day_scope = &rows[0][0];
        let limits = format!(
            "CASE WHEN ai_quota_counters.scope = {day_scope} THEN {} ELSE {} END",
            b.arg(self.daily_limit.unwrap_or(i64::MAX))?,
            b.arg(self.monthly_limit.unwrap_or(i64::MAX))?,
        );
        let values = rows.map(|r| format!("({})", r.join(", "))).join(", ");
        Ok(format!(
            "INSERT INTO ai_quota_counters (scope, subject_id, period_start, used) VALUES {values} \
             ON CONFLICT (scope, subject_id, period_start) DO UPDATE \
               SET used = ai_quota_counters.used + 1 \
               WHERE ai_quota_counters.used < {limits} \
             RETURNING scope"
        ))
    }
}

impl Store {
    /// Counts one call against both counters if neither would go over its limit. Either both
    /// counters take the call or neither keeps it.
    pub async fn reserve_ai_call(&self, ask: &QuotaAsk) -> Result<QuotaGrant> {
        if let Some(limit) = ask.refused_outright() {
            return Ok(QuotaGrant::Exhausted(limit));
        }
        let mut batch = Batch::new();
        batch.push(|b| ask.reserve_sql(b))?;
        let done = self.db.write_single(batch).await?;
        self.settle_reservation(&ask.keys, &done.rows).await
    }

    /// The grant of a reservation from the scopes its upsert returned, giving back a counter
    /// taken alone.
    pub(crate) async fn settle_reservation(
        &self,
        keys: &QuotaKeys,
        rows: &[impl Columns],
    ) -> Result<QuotaGrant> {
        let [day, month] = counters(keys);
        let taken = |scope: &str| {
            rows.iter()
                .any(|r| r.col::<&str>("scope").is_ok_and(|s| s == scope))
        };
        match (taken(USER_DAY), taken(ACCOUNT_MONTH)) {
            (true, true) => Ok(QuotaGrant::Granted),
            (day_taken, month_taken) => {
                // Either both counters keep the call or neither does. Until the give-back
                // lands, the taken counter over-states usage by one: at the very edge of a
                // limit a concurrent call may be refused that a moment later would pass, but
                // no call is ever let through over a limit.
                if day_taken {
                    self.give_back(&day).await?;
                }
                if month_taken {
                    self.give_back(&month).await?;
                }
                Ok(QuotaGrant::Exhausted(if day_taken {
                    QuotaLimit::Monthly
                } else {
                    QuotaLimit::Daily
                }))
            }
        }
    }

    /// Gives back a reservation whose call failed: failed calls do not count.
    pub async fn release_ai_call(&self, keys: &QuotaKeys) -> Result<()> {
        let [day, month] = counters(keys);
        let first = self.give_back(&day).await;
        let second = self.give_back(&month).await;
        first.and(second)
    }

    /// Counts a call that was not reserved beforehand (the optional documentation and
    /// escalation calls, which never wait on the quota).
    pub async fn count_ai_call(&self, keys: &QuotaKeys) -> Result<()> {
        for counter in counters(keys) {
            self.take(&counter, None).await?;
        }
        Ok(())
    }

    /// Calls counted (including reservations in flight) in the periods `keys` name.
    pub async fn ai_calls_counted(&self, keys: &QuotaKeys) -> Result<AiUsageCounts> {
        let [day, month] = counters(keys);
        let row = self
            .db
            .one(
                Heat::Hot,
                "SELECT \
               COALESCE((SELECT used FROM ai_quota_counters \
                 WHERE scope = $1 AND subject_id = $2 AND period_start = $3), 0) AS user_today, \
               COALESCE((SELECT used FROM ai_quota_counters \
                 WHERE scope = $4 AND subject_id = $5 AND period_start = $6), 0) AS account_month",
                [
                    Arg::from(day.0),
                    Arg::from(day.1),
                    Arg::from(day.2),
                    Arg::from(month.0),
                    Arg::from(month.1),
                    Arg::from(month.2),
                ],
            )
            .await?;
        Ok(AiUsageCounts {
            user_today: row.col("user_today")?,
            account_this_month: row.col("account_month")?,
        })
    }

    /// Adds one to a counter unless it already reached `limit`; true when it did.
    async fn take(
        &self,
        (scope, subject, period): &(&str, String, i64),
        limit: Option<i64>,
    ) -> Result<bool> {
        let limit = limit.unwrap_or(i64::MAX);
        // The insert below would count a first call without looking at the limit.
        if limit <= 0 {
            return Ok(false);
        }
        let done = self
            .db
            .write_one(
                "INSERT INTO ai_quota_counters (scope, subject_id, period_start, used) \
                 VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (scope, subject_id, period_start) DO UPDATE \
                   SET used = ai_quota_counters.used + 1 \
                   WHERE ai_quota_counters.used < $4 \
                 RETURNING used",
                [
                    Arg::from(*scope),
                    Arg::from(subject),
                    Arg::from(*period),
                    Arg::from(limit),
                ],
            )
            .await?;
        Ok(!done.rows.is_empty())
    }

    async fn give_back(&self, (scope, subject, period): &(&str, String, i64)) -> Result<()> {
        self.db
            .write_one(
                "UPDATE ai_quota_counters SET used = used - 1 \
                 WHERE scope = $1 AND subject_id = $2 AND period_start = $3 AND used > 0",
                [Arg::from(*scope), Arg::from(subject), Arg::from(*period)],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use domain::{Plan, Role};

    use super::*;
    use crate::{NewAccount, NewUser};

    async fn fresh() -> (tempfile::TempDir, Store, QuotaKeys) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("fp.db").display());
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let (account, user) = store
            .create_account_with_user(
                NewAccount {
                    name: "Acme".into(),
                    plan: Plan::Free,
                },
                NewUser {
                    email: "ada@acme.test".into(),
                    full_name: "Ada".into(),
                    password_hash: "hash".into(),
                    role: Role::Admin,
                    team_id: None,
                    is_super_admin: false,
                },
                Utc::now(),
            )
            .await
            .expect("account");
        let keys = QuotaKeys {
            user_id: user.id,
            account_id: account.id,
            day_start: Utc.with_ymd_and_hms(2026, 7, 15, 0, 0, 0).unwrap(),
            month_start: Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
        };
        (dir, store, keys)
    }

    fn ask(keys: QuotaKeys, daily_limit: Option<i64>, monthly_limit: Option<i64>) -> QuotaAsk {
        QuotaAsk {
            keys,
            daily_limit,
            monthly_limit,
        }
    }

    fn counts(user_today: i64, account_this_month: i64) -> AiUsageCounts {
        AiUsageCounts {
            user_today,
            account_this_month,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reservations_never_exceed_the_limit() {
        let (_dir, store, keys) = fresh().await;
        let tries = (0..20).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_ai_call(&ask(keys, Some(3), None)).await })
        });
        let mut granted = 0;
        for t in tries {
            match t.await.unwrap().unwrap() {
                QuotaGrant::Granted => granted += 1,
                other => assert_eq!(other, QuotaGrant::Exhausted(QuotaLimit::Daily)),
            }
        }
        assert_eq!(granted, 3);
        assert_eq!(store.ai_calls_counted(&keys).await.unwrap(), counts(3, 3));
    }

    #[tokio::test]
    async fn a_refused_monthly_reservation_leaves_the_daily_count_alone() {
        let (_dir, store, keys) = fresh().await;
        assert_eq!(
            store
                .reserve_ai_call(&ask(keys, Some(5), Some(1)))
                .await
                .unwrap(),
            QuotaGrant::Granted
        );
        assert_eq!(
            store
                .reserve_ai_call(&ask(keys, Some(5), Some(1)))
                .await
                .unwrap(),
            QuotaGrant::Exhausted(QuotaLimit::Monthly)
        );
        assert_eq!(store.ai_calls_counted(&keys).await.unwrap(), counts(1, 1));
    }

    #[tokio::test]
    async fn releases_give_back_and_unreserved_calls_count_past_the_limit() {
        let (_dir, store, keys) = fresh().await;
        assert_eq!(
            store
                .reserve_ai_call(&ask(keys, Some(0), None))
                .await
                .unwrap(),
            QuotaGrant::Exhausted(QuotaLimit::Daily),
            "a zero limit refuses the very first call"
        );
        assert_eq!(store.ai_calls_counted(&keys).await.unwrap(), counts(0, 0));
        store
            .reserve_ai_call(&ask(keys, Some(1), None))
            .await
            .unwrap();
        store.release_ai_call(&keys).await.unwrap();
        store.release_ai_call(&keys).await.unwrap();
        assert_eq!(
            store.ai_calls_counted(&keys).await.unwrap(),
            counts(0, 0),
            "counts never go below zero"
        );
        store
            .reserve_ai_call(&ask(keys, Some(1), None))
            .await
            .unwrap();
        store.count_ai_call(&keys).await.unwrap();
        assert_eq!(store.ai_calls_counted(&keys).await.unwrap(), counts(2, 2));
        let next_day = QuotaKeys {
            day_start: keys.day_start + chrono::Duration::days(1),
            ..keys
        };
        assert_eq!(
            store
                .reserve_ai_call(&ask(next_day, Some(1), Some(3)))
                .await
                .unwrap(),
            QuotaGrant::Granted,
            "a new day starts from zero while the month goes on"
        );
        assert_eq!(
            store.ai_calls_counted(&next_day).await.unwrap(),
            counts(1, 3)
        );
    }
}
