//! The flow library: built-in flows (no account) and each account's own.

use chrono::{DateTime, Utc};
use domain::flow::{Flow, FlowDefinition, FlowStatus};
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

/// Every flow write bumps the `flows` revision in its own transaction, so every server
/// instance sees the change and rebuilds its match index.
async fn bump_revision(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    sqlx::query("UPDATE revisions SET value = value + 1 WHERE name = 'flows'")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn sort_by_title(flows: &mut [Flow]) {
    flows.sort_by_cached_key(|f| (f.definition.title.to_lowercase(), f.id));
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
            .fetch_optional(&mut *self.read().await?)
            .await?;
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
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
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Adds a flow to `account_id`'s library.
    pub async fn create_flow(
        &self,
        account_id: Uuid,
        created_by: Uuid,
        def: &FlowDefinition,
        now: DateTime<Utc>,
    ) -> Result<Flow> {
        let ids = self
            .import_flows(account_id, Some(created_by), std::slice::from_ref(def), now)
            .await?;
        let id = ids.into_iter().next().ok_or(StoreError::NotFound)?;
        self.flow(id).await
    }

    /// Adds every flow of `defs` to `account_id`'s library in one transaction: all or none.
    /// Returns their ids in the order given. `created_by` is `None` for the command line.
    pub async fn import_flows(
        &self,
        account_id: Uuid,
        created_by: Option<Uuid>,
        defs: &[FlowDefinition],
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let mut ids = Vec::with_capacity(defs.len());
        for def in defs {
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO flows (id, account_id, builtin_key, content_hash, title, domain, status, definition, \
                 version, usage_count, resolved_count, created_by, created_at, updated_at) \
                 VALUES ($1, $2, NULL, NULL, $3, $4, $5, $6, 1, 0, 0, $7, $8, $8)",
            )
            .bind(id.to_string())
            .bind(account_id.to_string())
            .bind(&def.title)
            .bind(&def.domain)
            .bind(def.status.as_str())
            .bind(definition_text(def)?)
            .bind(created_by.map(|u| u.to_string()))
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
            ids.push(id);
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Replaces an account flow's definition and bumps its version. Built-in flows are
    /// never matched (`account_id IS NOT NULL`): only shipped files change them.
    pub async fn update_flow(
        &self,
        id: Uuid,
        def: &FlowDefinition,
        now: DateTime<Utc>,
    ) -> Result<Flow> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query(
            "UPDATE flows SET title = $1, domain = $2, status = $3, definition = $4, \
             version = version + 1, updated_at = $5 WHERE id = $6 AND account_id IS NOT NULL",
        )
        .bind(&def.title)
        .bind(&def.domain)
        .bind(def.status.as_str())
        .bind(definition_text(def)?)
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        self.flow(id).await
    }

    /// Deletes an account flow. Sessions that matched it keep their copy of its name
    /// (`ai_sessions.matched_flow_name`); `matched_flow_id` is not a foreign key on purpose.
    pub async fn delete_flow(&self, id: Uuid) -> Result<()> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query("DELETE FROM flows WHERE id = $1 AND account_id IS NOT NULL")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A flow `account_id` may see (its own or a built-in one); `None` otherwise, so callers
    /// cannot tell another tenant's flow from a missing one.
    pub async fn visible_flow(&self, account_id: Uuid, id: Uuid) -> Result<Option<Flow>> {
        let row = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flows WHERE id = $1 AND (account_id IS NULL OR account_id = $2)"
        ))
        .bind(id.to_string())
        .bind(account_id.to_string())
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    /// The account's flows and the built-in library, optionally narrowed to one domain and
    /// status, sorted by title (case-insensitively, in Rust, so both backends agree).
    pub async fn library_flows(
        &self,
        account_id: Uuid,
        domain: Option<&str>,
        status: Option<FlowStatus>,
    ) -> Result<Vec<Flow>> {
        let rows = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flows WHERE (account_id IS NULL OR account_id = $1) \
             AND ($2 = '' OR domain = $2) AND ($3 = '' OR status = $3)"
        ))
        .bind(account_id.to_string())
        .bind(domain.unwrap_or_default())
        .bind(status.map_or("", FlowStatus::as_str))
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut flows = rows.iter().map(flow_from_row).collect::<Result<Vec<_>>>()?;
        sort_by_title(&mut flows);
        Ok(flows)
    }

    /// The account's own flows (not the built-in ones), sorted by title: what export writes.
    pub async fn account_flows(&self, account_id: Uuid) -> Result<Vec<Flow>> {
        let rows = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flows WHERE account_id = $1"
        ))
        .bind(account_id.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut flows = rows.iter().map(flow_from_row).collect::<Result<Vec<_>>>()?;
        sort_by_title(&mut flows);
        Ok(flows)
    }

    /// Every flow of every account and the built-in library (to build the match index).
    pub async fn all_flows(&self) -> Result<Vec<Flow>> {
        let rows = sqlx::query(&format!(
            "SELECT {FLOW_COLUMNS} FROM flows ORDER BY created_at, id"
        ))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(flow_from_row).collect()
    }

    pub async fn flow(&self, id: Uuid) -> Result<Flow> {
        let row = sqlx::query(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id = $1"))
            .bind(id.to_string())
            .fetch_one(&mut *self.read().await?)
            .await?;
        flow_from_row(&row)
    }

    /// Changes whenever any flow is written: instances compare it to know their index is stale.
    pub async fn flows_revision(&self) -> Result<i64> {
        let row = sqlx::query("SELECT value FROM revisions WHERE name = 'flows'")
            .fetch_one(&mut *self.read().await?)
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
        .execute(&mut *self.write().await?)
        .await?;
        Ok(())
    }

    /// A session that matched this flow was resolved.
    pub async fn record_flow_resolved(&self, id: Uuid) -> Result<()> {
        sqlx::query("UPDATE flows SET resolved_count = resolved_count + 1 WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }
}
