//! The flow library: built-in flows (no account) and each account's own.

use chrono::{DateTime, Utc};
use domain::flow::{Flow, FlowDefinition};
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::codec::{ms, opt_uuid, time, uuid};
use crate::{Result, Store, StoreError};

const FLOW_COLUMNS: &str = "id, account_id, definition, version, usage_count, resolved_count, \
    last_matched_at, created_by, created_at, updated_at";

fn flow_from_row(row: &AnyRow) -> Result<Flow> {
    let text: String = row.try_get("definition")?;
    let definition: FlowDefinition = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("flow definition: {e}")))?;
    let usage: i64 = row.try_get("usage_count")?;
    let resolved: i64 = row.try_get("resolved_count")?;
    Ok(Flow {
        id: uuid(&row.try_get::<String, _>("id")?)?,
        account_id: opt_uuid(row.try_get("account_id")?)?,
        definition,
        version: row.try_get("version")?,
        usage_count: usage,
        success_rate: (usage > 0).then(|| resolved as f64 / usage as f64),
        last_matched_at: row
            .try_get::<Option<i64>, _>("last_matched_at")?
            .map(time)
            .transpose()?,
        created_by: opt_uuid(row.try_get("created_by")?)?,
        created_at: time(row.try_get("created_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
    })
}

fn definition_text(def: &FlowDefinition) -> Result<String> {
    serde_json::to_string(def).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What loading one shipped flow file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinLoad {
    Inserted,
    Updated,
    Unchanged,
}

impl Store {
    /// Inserts a built-in flow, or updates it in place when its file changed (new hash).
    pub async fn upsert_builtin_flow(
        &self,
        key: &str,
        hash: &str,
        def: &FlowDefinition,
        now: DateTime<Utc>,
    ) -> Result<BuiltinLoad> {
        let existing = sqlx::query("SELECT id, content_hash FROM flows WHERE builtin_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        let mut tx = self.pool().begin().await?;
        let outcome = match existing {
            Some(row)
                if row.try_get::<Option<String>, _>("content_hash")?.as_deref() == Some(hash) =>
            {
                return Ok(BuiltinLoad::Unchanged);
            }
            Some(row) => {
                let id: String = row.try_get("id")?;
                sqlx::query(
                    "UPDATE flows SET content_hash = $1, title = $2, domain = $3, status = $4, definition = $5, \
                     version = version + 1, updated_at = $6 WHERE id = $7",
                )
                .bind(hash)
                .bind(&def.title)
                .bind(&def.domain)
                .bind(def.status.as_str())
                .bind(definition_text(def)?)
                .bind(ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                BuiltinLoad::Updated
            }
            None => {
                sqlx::query(
                    "INSERT INTO flows (id, account_id, builtin_key, content_hash, title, domain, status, definition, \
                     version, usage_count, resolved_count, created_at, updated_at) \
                     VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, 1, 0, 0, $8, $8)",
                )
                .bind(Uuid::new_v4().to_string())
                .bind(key)
                .bind(hash)
                .bind(&def.title)
                .bind(&def.domain)
                .bind(def.status.as_str())
                .bind(definition_text(def)?)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
                BuiltinLoad::Inserted
            }
        };
        sqlx::query("UPDATE revisions SET value = value + 1 WHERE name = 'flows'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Every flow of every account and the built-in library (to build the match index).
    pub async fn all_flows(&self) -> Result<Vec<Flow>> {
        let rows = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flows ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(flow_from_row).collect()
    }

    pub async fn flow(&self, id: Uuid) -> Result<Flow> {
        let row = sqlx::query(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id = $1"))
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await?;
        flow_from_row(&row)
    }

    /// Changes whenever any flow is written: instances compare it to know their index is stale.
    pub async fn flows_revision(&self) -> Result<i64> {
        let row = sqlx::query("SELECT value FROM revisions WHERE name = 'flows'")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("value")?)
    }

    /// A session matched this flow.
    pub async fn record_flow_match(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE flows SET usage_count = usage_count + 1, last_matched_at = $1 WHERE id = $2",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A session that matched this flow was resolved.
    pub async fn record_flow_resolved(&self, id: Uuid) -> Result<()> {
        sqlx::query("UPDATE flows SET resolved_count = resolved_count + 1 WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
