use chrono::{DateTime, Utc};
use domain::{Role, User};
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use crate::codec::{flag, ms, opt_uuid, time, uuid};
use crate::row::Columns;
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
    pub role: Role,
    pub team_id: Option<Uuid>,
    pub is_super_admin: bool,
}

/// An admin's change to a user; `team_id: Some(None)` removes the user from their team.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub team_id: Option<Option<Uuid>>,
    pub full_name: Option<String>,
    pub is_super_admin: Option<bool>,
}

/// A user together with their password hash, for sign-in only.
#[derive(Debug, Clone)]
pub struct UserWithHash {
    pub user: User,
    pub password_hash: String,
}

pub(crate) const USER_COLUMNS: &str =
    "u.id, u.email, u.full_name, u.role, u.account_id, u.team_id, u.is_super_admin, u.is_active, u.created_at";

pub(crate) fn user_from_row(row: &impl Columns) -> Result<User> {
    let role: String = row.col("role")?;
    Ok(User {
        id: uuid(&row.col::<String>("id")?)?,
        email: row.col("email")?,
        full_name: row.col("full_name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        account_id: uuid(&row.col::<String>("account_id")?)?,
        team_id: opt_uuid(row.col("team_id")?)?,
        is_super_admin: row.col::<i64>("is_super_admin")? != 0,
        is_active: row.col::<i64>("is_active")? != 0,
        created_at: time(row.col("created_at")?)?,
    })
}

pub(crate) async fn insert_user(
    tx: &mut Transaction<'_, Any>,
    account_id: Uuid,
    new: NewUser,
    now: DateTime<Utc>,
) -> Result<User> {
    let user = User {
        id: Uuid::new_v4(),
        email: new.email,
        full_name: new.full_name,
        role: new.role,
        account_id,
        team_id: new.team_id,
        is_super_admin: new.is_super_admin,
        is_active: true,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO users (id, account_id, team_id, email, full_name, password_hash, role, \
         is_super_admin, is_active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(user.id.to_string())
    .bind(account_id.to_string())
    .bind(user.team_id.map(|t| t.to_string()))
    .bind(&user.email)
    .bind(&user.full_name)
    .bind(&new.password_hash)
    .bind(user.role.as_str())
    .bind(flag(user.is_super_admin))
    .bind(flag(true))
    .bind(ms(now))
    .execute(&mut **tx)
    .await?;
    Ok(user)
}

impl Store {
    pub async fn create_user(
        &self,
        account_id: Uuid,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let user = insert_user(&mut tx, account_id, new, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn user(&self, id: Uuid) -> Result<User> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        ))
        .bind(id.to_string())
        .fetch_one(&mut *self.read().await?)
        .await?;
        user_from_row(&row)
    }

    /// The user with this (already normalised) email, with the hash to check a password against.
    pub async fn user_for_login(&self, email: &str) -> Result<Option<UserWithHash>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1"
        ))
        .bind(email)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|row| {
            Ok(UserWithHash {
                user: user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    pub async fn users_of_account(&self, account_id: Uuid) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.account_id = $1 ORDER BY u.created_at, u.email"
        ))
        .bind(account_id.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn update_user(&self, id: Uuid, patch: UserPatch) -> Result<User> {
        let current = self.user(id).await?;
        let team_id = patch.team_id.unwrap_or(current.team_id);
        sqlx::query(
            "UPDATE users SET role = $1, is_active = $2, team_id = $3, full_name = $4, \
             is_super_admin = $5 WHERE id = $6",
        )
        .bind(patch.role.unwrap_or(current.role).as_str())
        .bind(flag(patch.is_active.unwrap_or(current.is_active)))
        .bind(team_id.map(|t| t.to_string()))
        .bind(patch.full_name.unwrap_or(current.full_name))
        .bind(flag(patch.is_super_admin.unwrap_or(current.is_super_admin)))
        .bind(id.to_string())
        .execute(&mut *self.write().await?)
        .await?;
        self.user(id).await
    }
}
