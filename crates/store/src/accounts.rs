use chrono::{DateTime, Utc};
use domain::{Account, Plan};
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{ms, time, uuid};
use crate::db::Heat;
use crate::row::Columns;
use crate::users::{insert_user, NewUser};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub plan: Plan,
}

/// A super admin's change to an account; `Some(None)` clears an override.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    pub plan: Option<Plan>,
    pub ai_daily_limit: Option<Option<i64>>,
    pub ai_monthly_limit: Option<Option<i64>>,
}

const COLUMNS: &str = "id, name, plan, ai_daily_limit, ai_monthly_limit, created_at";

fn account_from_row(row: &impl Columns) -> Result<Account> {
    let plan: String = row.col("plan")?;
    Ok(Account {
        id: uuid(&row.col::<String>("id")?)?,
        name: row.col("name")?,
        plan: Plan::parse(&plan).ok_or_else(|| StoreError::Corrupt(format!("plan {plan:?}")))?,
        ai_daily_limit: row.col("ai_daily_limit")?,
        ai_monthly_limit: row.col("ai_monthly_limit")?,
        created_at: time(row.col("created_at")?)?,
    })
}

impl Store {
    /// Creates an account and its first user in one transaction: either both exist or neither.
    pub async fn create_account_with_user(
        &self,
        account: NewAccount,
        user: NewUser,
        now: DateTime<Utc>,
    ) -> Result<(Account, domain::User)> {
        let account = Account {
            id: Uuid::new_v4(),
            name: account.name,
            plan: account.plan,
            ai_daily_limit: None,
            ai_monthly_limit: None,
            created_at: now,
        };
        let mut batch = Batch::new();
        batch.sql(
            "INSERT INTO accounts (id, name, plan, ai_daily_limit, ai_monthly_limit, created_at) \
             VALUES ($1, $2, $3, NULL, NULL, $4)",
            [
                Arg::from(account.id.to_string()),
                Arg::from(&account.name),
                Arg::from(account.plan.as_str()),
                Arg::from(ms(now)),
            ],
        );
        let user = insert_user(&mut batch, account.id, user, now);
        self.db.write(batch).await?;
        Ok((account, user))
    }

    pub async fn account(&self, id: Uuid) -> Result<Account> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
        let row = self
            .db
            .one(Heat::Hot, sql, [Arg::from(id.to_string())])
            .await?;
        account_from_row(&row)
    }

    pub async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        let sql =
            format!("SELECT {COLUMNS} FROM accounts WHERE name = $1 ORDER BY created_at LIMIT 1");
        let row = self.db.optional(Heat::Cold, sql, [Arg::from(name)]).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub async fn update_account(&self, id: Uuid, patch: AccountPatch) -> Result<Account> {
        let current = self.account(id).await?;
        let plan = patch.plan.unwrap_or(current.plan);
        let daily = patch.ai_daily_limit.unwrap_or(current.ai_daily_limit);
        let monthly = patch.ai_monthly_limit.unwrap_or(current.ai_monthly_limit);
        self.db
            .write_one(
                "UPDATE accounts SET plan = $1, ai_daily_limit = $2, ai_monthly_limit = $3 WHERE id = $4",
                [
                    Arg::from(plan.as_str()),
                    Arg::from(daily),
                    Arg::from(monthly),
                    Arg::from(id.to_string()),
                ],
            )
            .await?;
        self.account(id).await
    }
}
