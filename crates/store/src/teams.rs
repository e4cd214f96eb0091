use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::codec::{ms, uuid};
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
        sqlx::query("INSERT INTO teams (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(team.id.to_string())
            .bind(account_id.to_string())
            .bind(name)
            .bind(ms(now))
            .execute(&mut *self.write().await?)
            .await?;
        Ok(team)
    }

    pub async fn teams_of_account(&self, account_id: Uuid) -> Result<Vec<Team>> {
        let rows = sqlx::query("SELECT id, name FROM teams WHERE account_id = $1 ORDER BY name")
            .bind(account_id.to_string())
            .fetch_all(&mut *self.read().await?)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Team {
                    id: uuid(&row.try_get::<String, _>("id")?)?,
                    account_id,
                    name: row.try_get("name")?,
                })
            })
            .collect()
    }

    /// Whether the team exists in this account (another account's team counts as absent).
    pub async fn team_in_account(&self, account_id: Uuid, team_id: Uuid) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM teams WHERE id = $1 AND account_id = $2")
            .bind(team_id.to_string())
            .bind(account_id.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(row.is_some())
    }
}
