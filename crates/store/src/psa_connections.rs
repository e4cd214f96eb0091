//! An account's PSA connections (psa.md "Connections") and the mapping of its users to the
//! PSA's members. Credentials come in and go out sealed: the store never sees them in the
//! clear, and a connection's `Debug` leaves even the sealed text out.

use chrono::{DateTime, Utc};
use domain::psa::{ConnectionSettings, PsaKind};
use uuid::Uuid;

use crate::batch::Arg;
use crate::codec::{ms, time, uuid};
use crate::db::Heat;
use crate::row::Columns;
use crate::{Result, Store, StoreError};

#[derive(Clone, PartialEq)]
pub struct PsaConnection {
    pub id: Uuid,
    pub account_id: Uuid,
    pub kind: PsaKind,
    pub name: String,
    pub base_url: String,
    /// The credentials as `integrations::secrets` sealed them.
    pub sealed_credentials: String,
    pub settings: ConnectionSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for PsaConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PsaConnection")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A change to a connection: `None` keeps what is stored (credentials included).
#[derive(Clone, Default, PartialEq)]
pub struct PsaConnectionPatch {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub sealed_credentials: Option<String>,
    pub settings: Option<ConnectionSettings>,
}

/// How a user came to be mapped to a PSA member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MappedBy {
    /// The member's email is the user's: found automatically.
    Email,
    /// An admin chose it; never replaced by an email match.
    Manual,
}

impl MappedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MappedBy::Email => "email",
            MappedBy::Manual => "manual",
        }
    }

    fn parse(text: &str) -> Option<MappedBy> {
        match text {
            "email" => Some(MappedBy::Email),
            "manual" => Some(MappedBy::Manual),
            _ => None,
        }
    }
}

/// One user's PSA member on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMapping {
    pub connection_id: Uuid,
    pub user_id: Uuid,
    /// `None`: an admin said this user has no member in the PSA.
    pub member_id: Option<String>,
    pub member_name: Option<String>,
    pub member_email: Option<String>,
    pub mapped_by: MappedBy,
    pub updated_at: DateTime<Utc>,
}

const CONNECTION_COLUMNS: &str =
    "id, account_id, kind, name, base_url, credentials, settings, created_at, updated_at";

fn connection_from_row(row: &impl Columns) -> Result<PsaConnection> {
    let kind: String = row.col("kind")?;
    let settings: &str = row.col("settings")?;
    Ok(PsaConnection {
        id: uuid(row.col("id")?)?,
        account_id: uuid(row.col("account_id")?)?,
        kind: PsaKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("PSA kind {kind:?}")))?,
        name: row.col("name")?,
        base_url: row.col("base_url")?,
        sealed_credentials: row.col("credentials")?,
        settings: serde_json::from_str(settings)
            .map_err(|e| StoreError::Corrupt(format!("PSA settings: {e}")))?,
        created_at: time(row.col("created_at")?)?,
        updated_at: time(row.col("updated_at")?)?,
    })
}

fn mapping_from_row(row: &impl Columns) -> Result<MemberMapping> {
    let by: String = row.col("mapped_by")?;
    Ok(MemberMapping {
        connection_id: uuid(row.col("connection_id")?)?,
        user_id: uuid(row.col("user_id")?)?,
        member_id: row.col("member_id")?,
        member_name: row.col("member_name")?,
        member_email: row.col("member_email")?,
        mapped_by: MappedBy::parse(&by)
            .ok_or_else(|| StoreError::Corrupt(format!("mapped_by {by:?}")))?,
        updated_at: time(row.col("updated_at")?)?,
    })
}

fn settings_text(settings: &ConnectionSettings) -> Result<String> {
    serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(format!("PSA settings: {e}")))
}

impl Store {
    /// Stores a new connection. An account that has one of this kind already gets
    /// [`StoreError::Conflict`] (the `psa_connections_one_per_kind` constraint).
    pub async fn create_psa_connection(&self, connection: &PsaConnection) -> Result<()> {
        self.db
            .write_one(
                format!(
                    "INSERT INTO psa_connections ({CONNECTION_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                [
                    Arg::from(connection.id.to_string()),
                    Arg::from(connection.account_id.to_string()),
                    Arg::from(connection.kind.as_str()),
                    Arg::from(connection.name.as_str()),
                    Arg::from(connection.base_url.as_str()),
                    Arg::from(connection.sealed_credentials.as_str()),
                    Arg::from(settings_text(&connection.settings)?),
                    Arg::from(ms(connection.created_at)),
                    Arg::from(ms(connection.updated_at)),
                ],
            )
            .await?;
        Ok(())
    }

    /// The account's connections, by kind.
    pub async fn psa_connections(&self, account_id: Uuid) -> Result<Vec<PsaConnection>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                format!(
                    "SELECT {CONNECTION_COLUMNS} FROM psa_connections WHERE account_id = $1 \
                     ORDER BY kind, created_at"
                ),
                [Arg::from(account_id.to_string())],
            )
            .await?;
        rows.iter().map(connection_from_row).collect()
    }

    /// The connection `id` of `account_id`: another account's is [`StoreError::NotFound`].
    pub async fn psa_connection(&self, account_id: Uuid, id: Uuid) -> Result<PsaConnection> {
        let row = self
            .db
            .one(
                Heat::Hot,
                format!(
                    "SELECT {CONNECTION_COLUMNS} FROM psa_connections \
                     WHERE id = $1 AND account_id = $2"
                ),
                [Arg::from(id.to_string()), Arg::from(account_id.to_string())],
            )
            .await?;
        connection_from_row(&row)
    }

    /// Applies `patch` and returns the connection as stored; [`StoreError::NotFound`] for
    /// another account's.
    pub async fn update_psa_connection(
        &self,
        account_id: Uuid,
        id: Uuid,
        patch: &PsaConnectionPatch,
        now: DateTime<Utc>,
    ) -> Result<PsaConnection> {
        let settings = patch.settings.as_ref().map(settings_text).transpose()?;
        let done = self
            .db
            .write_one(
                format!(
                    "UPDATE psa_connections SET name = COALESCE($1, name), \
                     base_url = COALESCE($2, base_url), credentials = COALESCE($3, credentials), \
                     settings = COALESCE($4, settings), updated_at = $5 \
                     WHERE id = $6 AND account_id = $7 RETURNING {CONNECTION_COLUMNS}"
                ),
                [
                    Arg::from(patch.name.clone()),
                    Arg::from(patch.base_url.clone()),
                    Arg::from(patch.sealed_credentials.clone()),
                    Arg::from(settings),
                    Arg::from(ms(now)),
                    Arg::from(id.to_string()),
                    Arg::from(account_id.to_string()),
                ],
            )
            .await?;
        match done.rows.first() {
            Some(row) => connection_from_row(row),
            None => Err(StoreError::NotFound),
        }
    }

    /// Deletes the connection and its member mappings; whether there was one to delete.
    pub async fn delete_psa_connection(&self, account_id: Uuid, id: Uuid) -> Result<bool> {
        let mut batch = crate::batch::Batch::new();
        batch.sql(
            "DELETE FROM psa_member_mappings WHERE connection_id = $1 \
             AND connection_id IN (SELECT id FROM psa_connections WHERE account_id = $2)",
            [Arg::from(id.to_string()), Arg::from(account_id.to_string())],
        );
        batch.sql(
            "DELETE FROM psa_connections WHERE id = $1 AND account_id = $2",
            [Arg::from(id.to_string()), Arg::from(account_id.to_string())],
        );
        let done = self.db.write(batch).await?;
        Ok(done.last().is_some_and(|d| d.changed == 1))
    }

    /// The member mappings of a connection.
    pub async fn member_mappings(&self, connection_id: Uuid) -> Result<Vec<MemberMapping>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                "SELECT connection_id, user_id, member_id, member_name, member_email, mapped_by, \
                 updated_at FROM psa_member_mappings WHERE connection_id = $1",
                [Arg::from(connection_id.to_string())],
            )
            .await?;
        rows.iter().map(mapping_from_row).collect()
    }

    /// Records `mapping`. An email match never replaces an admin's choice: it is written only
    /// where no manual mapping exists. Returns whether it was written.
    pub async fn put_member_mapping(&self, mapping: &MemberMapping) -> Result<bool> {
        let keep_manual = match mapping.mapped_by {
            MappedBy::Email => " WHERE psa_member_mappings.mapped_by <> 'manual'",
            MappedBy::Manual => "",
        };
        let done = self
            .db
            .write_one(
                format!(
                    "INSERT INTO psa_member_mappings (connection_id, user_id, member_id, \
                     member_name, member_email, mapped_by, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (connection_id, user_id) DO UPDATE SET \
                     member_id = excluded.member_id, member_name = excluded.member_name, \
                     member_email = excluded.member_email, mapped_by = excluded.mapped_by, \
                     updated_at = excluded.updated_at{keep_manual}"
                ),
                [
                    Arg::from(mapping.connection_id.to_string()),
                    Arg::from(mapping.user_id.to_string()),
                    Arg::from(mapping.member_id.clone()),
                    Arg::from(mapping.member_name.clone()),
                    Arg::from(mapping.member_email.clone()),
                    Arg::from(mapping.mapped_by.as_str()),
                    Arg::from(ms(mapping.updated_at)),
                ],
            )
            .await?;
        Ok(done.changed == 1)
    }

    /// The member `user_id` is mapped to on `connection_id`, if any: what a time entry needs.
    pub async fn member_of(&self, connection_id: Uuid, user_id: Uuid) -> Result<Option<String>> {
        let row = self
            .db
            .optional(
                Heat::Hot,
                "SELECT member_id FROM psa_member_mappings WHERE connection_id = $1 AND user_id = $2",
                [
                    Arg::from(connection_id.to_string()),
                    Arg::from(user_id.to_string()),
                ],
            )
            .await?;
        match row {
            Some(row) => row.col("member_id"),
            None => Ok(None),
        }
    }
}
