//! The flow library: built-in flows (no account) and each account's own.

use chrono::{DateTime, Utc};
use domain::flow::{Flow, FlowChange, FlowDefinition, FlowStatus, FlowVersion};
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{ms, opt_uuid, time, uuid};
use crate::db::Heat;
use crate::row::{Columns, OwnedRow};
use crate::{Result, Store, StoreError};

const FLOW_COLUMNS: &str = "id, account_id, definition, version, usage_count, resolved_count, \
    last_matched_at, created_by, created_at, updated_at";

fn flow_from_row(row: &OwnedRow) -> Result<Flow> {
    let definition: FlowDefinition = serde_json::from_str(row.col::<&str>("definition")?)
        .map_err(|e| StoreError::Corrupt(format!("flow definition: {e}")))?;
    let usage: i64 = row.col("usage_count")?;
    let resolved: i64 = row.col("resolved_count")?;
    Ok(Flow {
        id: uuid(row.col::<&str>("id")?)?,
        account_id: opt_uuid(row.col("account_id")?)?,
        definition,
        version: row.col("version")?,
        usage_count: usage,
        success_rate: (usage > 0).then(|| resolved as f64 / usage as f64),
        last_matched_at: row
            .col::<Option<i64>>("last_matched_at")?
            .map(time)
            .transpose()?,
        created_by: opt_uuid(row.col("created_by")?)?,
        created_at: time(row.col("created_at")?)?,
        updated_at: time(row.col("updated_at")?)?,
    })
}

fn definition_text(def: &FlowDefinition) -> Result<String> {
    serde_json::to_string(def).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Every flow write bumps the `flows` revision in its own transaction, so every server
/// instance sees the change and rebuilds its match index.
const BUMP_REVISION: &str = "UPDATE revisions SET value = value + 1 WHERE name = 'flows'";

/// Keeps the flow `id` as it now stands as one of its versions, with who changed it, when
/// and why. Run right after the statement that wrote the flow, in its transaction, so the
/// version row is exactly what the flow row holds.
fn keep_version_sql(
    b: &mut Batch,
    id: &str,
    change: FlowChange<'_>,
    now: DateTime<Utc>,
) -> Result<String> {
    Ok(format!(
        "INSERT INTO flow_versions \
         (flow_id, version, definition, title, changed_by, changed_at, proposal_id, why) \
         SELECT id, version, definition, title, {}, {}, {}, {} FROM flows WHERE id = {}",
        b.arg(change.changed_by.map(|u| u.to_string()))?,
        b.arg(ms(now))?,
        b.arg(change.proposal_id.map(|p| p.to_string()))?,
        b.arg(change.why)?,
        b.arg(id)?,
    ))
}

fn version_from_row(row: &OwnedRow) -> Result<FlowVersion> {
    let definition: FlowDefinition = serde_json::from_str(row.col::<&str>("definition")?)
        .map_err(|e| StoreError::Corrupt(format!("flow version definition: {e}")))?;
    Ok(FlowVersion {
        flow_id: uuid(row.col::<&str>("flow_id")?)?,
        version: row.col("version")?,
        definition,
        changed_by: opt_uuid(row.col("changed_by")?)?,
        changed_by_name: row.col("changed_by_name")?,
        changed_at: time(row.col("changed_at")?)?,
        proposal_id: opt_uuid(row.col("proposal_id")?)?,
        why: row.col("why")?,
    })
}

const VERSION_COLUMNS: &str = "v.flow_id, v.version, v.definition, v.changed_by, \
    u.full_name AS changed_by_name, v.changed_at, v.proposal_id, v.why";

/// Why [`Store::publish_flow_version`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Someone published another version since the caller read `expected`.
    #[error("the flow is at version {current}, not {expected}")]
    Stale { expected: i64, current: i64 },
    /// No such flow, or a built-in one (only the shipped files change those).
    #[error("no such account flow")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
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
        let existing = self
            .db
            .optional(
                Heat::Cold,
                "SELECT id, content_hash FROM flows WHERE builtin_key = $1",
                [Arg::from(key)],
            )
            .await?;
        let mut batch = Batch::new();
        let outcome = match existing {
            Some(row) if row.col::<Option<&str>>("content_hash")? == Some(hash) => {
                return Ok(BuiltinLoad::Unchanged);
            }
            Some(row) => {
                batch.sql(
                    "UPDATE flows SET content_hash = $1, title = $2, domain = $3, status = $4, definition = $5, \
                     version = version + 1, updated_at = $6 WHERE id = $7",
                    [
                        Arg::from(hash),
                        Arg::from(&def.title),
                        Arg::from(&def.domain),
                        Arg::from(def.status.as_str()),
                        Arg::from(definition_text(def)?),
                        Arg::from(ms(now)),
                        Arg::from(row.col::<String>("id")?),
                    ],
                );
                let change = FlowChange {
                    why: Some("The shipped flow file changed"),
                    ..FlowChange::default()
                };
                let id: &str = row.col("id")?;
                batch.push(|b| keep_version_sql(b, id, change, now))?;
                BuiltinLoad::Updated
            }
            None => {
                let id = Uuid::new_v4().to_string();
                batch.sql(
                    "INSERT INTO flows (id, account_id, builtin_key, content_hash, title, domain, status, definition, \
                     version, usage_count, resolved_count, created_at, updated_at) \
                     VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, 1, 0, 0, $8, $8)",
                    [
                        Arg::from(&id),
                        Arg::from(key),
                        Arg::from(hash),
                        Arg::from(&def.title),
                        Arg::from(&def.domain),
                        Arg::from(def.status.as_str()),
                        Arg::from(definition_text(def)?),
                        Arg::from(ms(now)),
                    ],
                );
                batch.push(|b| keep_version_sql(b, &id, FlowChange::default(), now))?;
                BuiltinLoad::Inserted
            }
        };
        batch.sql(BUMP_REVISION, []);
        self.db.write(batch).await?;
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

    /// Adds a flow to `account_id`'s library whose first version says who made it and why
    /// (`change.changed_by` is its creator): a flow proposal approved as a new flow.
    pub async fn create_flow_with(
        &self,
        account_id: Uuid,
        def: &FlowDefinition,
        change: FlowChange<'_>,
        now: DateTime<Utc>,
    ) -> Result<Flow> {
        let ids = self
            .insert_flows(account_id, change, std::slice::from_ref(def), now)
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
        let change = FlowChange {
            changed_by: created_by,
            ..FlowChange::default()
        };
        self.insert_flows(account_id, change, defs, now).await
    }

    /// The flows of `defs`, each with its first version recorded as `change` made it.
    async fn insert_flows(
        &self,
        account_id: Uuid,
        change: FlowChange<'_>,
        defs: &[FlowDefinition],
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        let created_by = change.changed_by;
        let mut batch = Batch::new();
        let mut ids = Vec::with_capacity(defs.len());
        for def in defs {
            let id = Uuid::new_v4();
            batch.sql(
                "INSERT INTO flows (id, account_id, builtin_key, content_hash, title, domain, status, definition, \
                 version, usage_count, resolved_count, created_by, created_at, updated_at) \
                 VALUES ($1, $2, NULL, NULL, $3, $4, $5, $6, 1, 0, 0, $7, $8, $8)",
                [
                    Arg::from(id.to_string()),
                    Arg::from(account_id.to_string()),
                    Arg::from(&def.title),
                    Arg::from(&def.domain),
                    Arg::from(def.status.as_str()),
                    Arg::from(definition_text(def)?),
                    Arg::from(created_by.map(|u| u.to_string())),
                    Arg::from(ms(now)),
                ],
            );
            let flow_id = id.to_string();
            batch.push(|b| keep_version_sql(b, &flow_id, change, now))?;
            ids.push(id);
        }
        batch.sql(BUMP_REVISION, []);
        self.db.write(batch).await?;
        Ok(ids)
    }

    /// Publishes `def` as the next version of the account flow `id`, if `expected` is still
    /// its current version: the flow row and its version row (who, when, which proposal,
    /// why) in one transaction, so of two writers holding the same version exactly one wins
    /// and the other gets [`PublishError::Stale`] with the version that beat it. The one
    /// way an account flow changes: `PUT /flows/{id}` and the approval of a flow proposal.
    /// Built-in flows are never matched (`account_id IS NOT NULL`): only shipped files
    /// change them.
    pub async fn publish_flow_version(
        &self,
        id: Uuid,
        expected: i64,
        def: &FlowDefinition,
        change: FlowChange<'_>,
        now: DateTime<Utc>,
    ) -> std::result::Result<Flow, PublishError> {
        let mut batch = Batch::new();
        batch.sql(
            "UPDATE flows SET title = $1, domain = $2, status = $3, definition = $4, \
             version = version + 1, updated_at = $5 \
             WHERE id = $6 AND account_id IS NOT NULL AND version = $7",
            [
                Arg::from(&def.title),
                Arg::from(&def.domain),
                Arg::from(def.status.as_str()),
                Arg::from(definition_text(def)?),
                Arg::from(ms(now)),
                Arg::from(id.to_string()),
                Arg::from(expected),
            ],
        );
        let flow_id = id.to_string();
        batch.push_guarded(|b| keep_version_sql(b, &flow_id, change, now))?;
        batch.push_guarded(|_| Ok(BUMP_REVISION.to_string()))?;
        let done = self.db.write(batch).await?;
        if done.first().is_some_and(|d| d.changed == 1) {
            return Ok(self.flow(id).await?);
        }
        let current = self
            .db
            .optional(
                Heat::Hot,
                "SELECT version FROM flows WHERE id = $1 AND account_id IS NOT NULL",
                [Arg::from(id.to_string())],
            )
            .await?;
        match current {
            None => Err(PublishError::NotFound),
            Some(row) => Err(PublishError::Stale {
                expected,
                current: row.col("version")?,
            }),
        }
    }

    /// Every kept version of a flow, newest first.
    pub async fn flow_versions(&self, flow_id: Uuid) -> Result<Vec<FlowVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions v LEFT JOIN users u ON u.id = v.changed_by \
             WHERE v.flow_id = $1 ORDER BY v.version DESC"
        );
        let rows = self
            .db
            .rows(Heat::Cold, sql, [Arg::from(flow_id.to_string())])
            .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Version `version` of a flow, if it was kept.
    pub async fn flow_version(&self, flow_id: Uuid, version: i64) -> Result<Option<FlowVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions v LEFT JOIN users u ON u.id = v.changed_by \
             WHERE v.flow_id = $1 AND v.version = $2"
        );
        let args = [Arg::from(flow_id.to_string()), Arg::from(version)];
        let row = self.db.optional(Heat::Hot, sql, args).await?;
        row.as_ref().map(version_from_row).transpose()
    }

    /// Deletes an account flow. Sessions that matched it keep their copy of its name
    /// (`ai_sessions.matched_flow_name`); `matched_flow_id` is not a foreign key on purpose.
    pub async fn delete_flow(&self, id: Uuid) -> Result<()> {
        let mut batch = Batch::new();
        batch.sql(
            "DELETE FROM flows WHERE id = $1 AND account_id IS NOT NULL",
            [Arg::from(id.to_string())],
        );
        batch.push_guarded(|_| Ok(BUMP_REVISION.to_string()))?;
        self.write_changing_one_flow(batch).await
    }

    /// Writes a change of one account flow followed by the guarded revision bump:
    /// [`StoreError::NotFound`] (and nothing written) when there was no such flow.
    async fn write_changing_one_flow(&self, batch: Batch) -> Result<()> {
        let done = self.db.write(batch).await?;
        if done.first().is_none_or(|d| d.changed == 0) {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A flow `account_id` may see (its own or a built-in one); `None` otherwise, so callers
    /// cannot tell another tenant's flow from a missing one.
    pub async fn visible_flow(&self, account_id: Uuid, id: Uuid) -> Result<Option<Flow>> {
        let sql = format!(
            "SELECT {FLOW_COLUMNS} FROM flows WHERE id = $1 AND (account_id IS NULL OR account_id = $2)"
        );
        let args = [Arg::from(id.to_string()), Arg::from(account_id.to_string())];
        let row = self.db.optional(Heat::Hot, sql, args).await?;
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
        let sql = format!(
            "SELECT {FLOW_COLUMNS} FROM flows WHERE (account_id IS NULL OR account_id = $1) \
             AND ($2 = '' OR domain = $2) AND ($3 = '' OR status = $3)"
        );
        let args = [
            Arg::from(account_id.to_string()),
            Arg::from(domain.unwrap_or_default()),
            Arg::from(status.map_or("", FlowStatus::as_str)),
        ];
        let rows = self.db.rows(Heat::Cold, sql, args).await?;
        let mut flows = rows.iter().map(flow_from_row).collect::<Result<Vec<_>>>()?;
        sort_by_title(&mut flows);
        Ok(flows)
    }

    /// The account's own flows (not the built-in ones), sorted by title: what export writes.
    pub async fn account_flows(&self, account_id: Uuid) -> Result<Vec<Flow>> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM flows WHERE account_id = $1");
        let rows = self
            .db
            .rows(Heat::Cold, sql, [Arg::from(account_id.to_string())])
            .await?;
        let mut flows = rows.iter().map(flow_from_row).collect::<Result<Vec<_>>>()?;
        sort_by_title(&mut flows);
        Ok(flows)
    }

    /// Every flow of every account and the built-in library (to build the match index).
    pub async fn all_flows(&self) -> Result<Vec<Flow>> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM flows ORDER BY created_at, id");
        let rows = self.db.rows(Heat::Cold, sql, []).await?;
        rows.iter().map(flow_from_row).collect()
    }

    pub async fn flow(&self, id: Uuid) -> Result<Flow> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id = $1");
        let row = self
            .db
            .one(Heat::Hot, sql, [Arg::from(id.to_string())])
            .await?;
        flow_from_row(&row)
    }

    /// Changes whenever any flow is written: instances compare it to know their index is stale.
    pub async fn flows_revision(&self) -> Result<i64> {
        let row = self
            .db
            .one(
                Heat::Hot,
                "SELECT value FROM revisions WHERE name = 'flows'",
                [],
            )
            .await?;
        row.col("value")
    }

    /// A session matched this flow.
    pub async fn record_flow_match(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.db
            .write_one(
                "UPDATE flows SET usage_count = usage_count + 1, last_matched_at = $1 WHERE id = $2",
                [Arg::from(ms(now)), Arg::from(id.to_string())],
            )
            .await?;
        Ok(())
    }

    /// A session that matched this flow was resolved.
    pub async fn record_flow_resolved(&self, id: Uuid) -> Result<()> {
        self.db
            .write_one(
                "UPDATE flows SET resolved_count = resolved_count + 1 WHERE id = $1",
                [Arg::from(id.to_string())],
            )
            .await?;
        Ok(())
    }
}
