use chrono::{DateTime, Utc};
use domain::User;
use uuid::Uuid;

use crate::batch::Arg;
use crate::codec::ms;
use crate::db::Heat;
use crate::users::{user_from_row, USER_COLUMNS};
use crate::{Result, Store};

#[derive(Debug, Clone)]
pub struct NewToken {
    /// The SHA-256 of the token; the token itself is never stored.
    pub token_hash: String,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn insert_token(&self, token: NewToken, now: DateTime<Utc>) -> Result<()> {
        self.db
            .write_one(
                "INSERT INTO access_tokens (token_hash, user_id, created_at, expires_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, NULL)",
                [
                    Arg::from(token.token_hash),
                    Arg::from(token.user_id.to_string()),
                    Arg::from(ms(now)),
                    Arg::from(ms(token.expires_at)),
                ],
            )
            .await?;
        Ok(())
    }

    /// The active user a live token belongs to: `None` for unknown, revoked or expired tokens
    /// and for deactivated users, so deactivation locks a user out on their next request.
    pub async fn user_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM access_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.is_active = $3"
        );
        let args = [Arg::from(token_hash), ms(now).into(), 1_i64.into()];
        let row = self.db.optional(Heat::Hot, sql, args).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn revoke_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.db
            .write_one(
                "UPDATE access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
                [Arg::from(ms(now)), Arg::from(token_hash)],
            )
            .await?;
        Ok(())
    }

    /// Drops tokens that expired more than a day ago, so the table does not grow forever.
    pub async fn purge_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let cutoff = ms(now) - 86_400_000;
        let done = self
            .db
            .write_one(
                "DELETE FROM access_tokens WHERE expires_at < $1",
                [Arg::from(cutoff)],
            )
            .await?;
        Ok(done.changed)
    }
}
