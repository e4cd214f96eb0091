use chrono::{DateTime, Utc};
use domain::{Role, User};
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{flag, ms, opt_uuid, time, uuid};
use crate::db::Heat;
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

/// Adds the insert of a new user to `batch` and returns the user it makes.
pub(crate) fn insert_user(
    batch: &mut Batch,
    account_id: Uuid,
    new: NewUser,
    now: DateTime<Utc>,
) -> User {
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
    batch.sql(
        "INSERT INTO users (id, account_id, team_id, email, full_name, password_hash, role, \
         is_super_admin, is_active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            Arg::from(user.id.to_string()),
            Arg::from(account_id.to_string()),
            Arg::from(user.team_id.map(|t| t.to_string())),
            Arg::from(&user.email),
            Arg::from(&user.full_name),
            Arg::from(new.password_hash),
            Arg::from(user.role.as_str()),
            Arg::from(flag(user.is_super_admin)),
            Arg::from(flag(true)),
            Arg::from(ms(now)),
        ],
    );
    user
}

impl Store {
    pub async fn create_user(
        &self,
        account_id: Uuid,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let mut batch = Batch::new();
        let user = insert_user(&mut batch, account_id, new, now);
        self.db.write(batch).await?;
        Ok(user)
    }

    pub async fn user(&self, id: Uuid) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row = self
            .db
            .one(Heat::Hot, sql, [Arg::from(id.to_string())])
            .await?;
        user_from_row(&row)
    }

    /// The user with this (already normalised) email, with the hash to check a password against.
    pub async fn user_for_login(&self, email: &str) -> Result<Option<UserWithHash>> {
        let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1");
        let row = self.db.optional(Heat::Hot, sql, [Arg::from(email)]).await?;
        row.map(|row| {
            Ok(UserWithHash {
                user: user_from_row(&row)?,
                password_hash: row.col("password_hash")?,
            })
        })
        .transpose()
    }

    pub async fn users_of_account(&self, account_id: Uuid) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.account_id = $1 ORDER BY u.created_at, u.email"
        );
        let rows = self
            .db
            .rows(Heat::Cold, sql, [Arg::from(account_id.to_string())])
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn update_user(&self, id: Uuid, patch: UserPatch) -> Result<User> {
        let current = self.user(id).await?;
        let team_id = patch.team_id.unwrap_or(current.team_id);
        self.db
            .write_one(
                "UPDATE users SET role = $1, is_active = $2, team_id = $3, full_name = $4, \
                 is_super_admin = $5 WHERE id = $6",
                [
                    Arg::from(patch.role.unwrap_or(current.role).as_str()),
                    Arg::from(flag(patch.is_active.unwrap_or(current.is_active))),
                    Arg::from(team_id.map(|t| t.to_string())),
                    Arg::from(patch.full_name.unwrap_or(current.full_name)),
                    Arg::from(flag(patch.is_super_admin.unwrap_or(current.is_super_admin))),
                    Arg::from(id.to_string()),
                ],
            )
            .await?;
        self.user(id).await
    }
}
