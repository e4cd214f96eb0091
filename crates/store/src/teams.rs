use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::batch::Arg;
use crate::codec::{ms, uuid};
use crate::db::Heat;
use crate::row::Columns;
use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
}

impl Store {
    pub async fn create_team(
        &self,
        account_id: Uuid,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Team> {
        let team = Team {
            id: Uuid::new_v4(),
            account_id,
            name: name.to_string(),
        };
        self.db
            .write_one(
                "INSERT INTO teams (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)",
                [
                    Arg::from(team.id.to_string()),
                    Arg::from(account_id.to_string()),
                    Arg::from(name),
                    Arg::from(ms(now)),
                ],
            )
            .await?;
        Ok(team)
    }

    pub async fn teams_of_account(&self, account_id: Uuid) -> Result<Vec<Team>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                "SELECT id, name FROM teams WHERE account_id = $1 ORDER BY name",
                [Arg::from(account_id.to_string())],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Team {
                    id: uuid(row.col::<&str>("id")?)?,
                    account_id,
                    name: row.col("name")?,
                })
            })
            .collect()
    }

    /// Whether the team exists in this account (another account's team counts as absent).
    pub async fn team_in_account(&self, account_id: Uuid, team_id: Uuid) -> Result<bool> {
        let row = self
            .db
            .optional(
                Heat::Hot,
                "SELECT 1 AS one FROM teams WHERE id = $1 AND account_id = $2",
                [
                    Arg::from(team_id.to_string()),
                    Arg::from(account_id.to_string()),
                ],
            )
            .await?;
        Ok(row.is_some())
    }
}
