//! Who may see and change a session (api.md): visible to its owner, the user it was
//! escalated to and the account's admins (everyone else: 404); changed only by its owner
//! (others who can see it: 403).

use domain::session::Session;
use domain::User;
use store::{SessionWindow, StoreError};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub fn can_see(user: &User, s: &Session) -> bool {
    s.account_id == user.account_id
        && (s.user_id == user.id || s.escalated_to_id == Some(user.id) || user.is_admin())
}

pub async fn visible(state: &AppState, user: &User, id: Uuid) -> Result<Session, ApiError> {
    match state.store.session(id).await {
        Ok(s) if can_see(user, &s) => Ok(s),
        Ok(_) | Err(StoreError::NotFound) => Err(ApiError::NotFound),
        Err(other) => Err(other.into()),
    }
}

/// The session, when `user` owns it.
pub async fn owned(state: &AppState, user: &User, id: Uuid) -> Result<Session, ApiError> {
    let s = visible(state, user, id).await?;
    only_owner(user, &s)?;
    Ok(s)
}

/// The session with its newest `steps` steps ([`SessionWindow`]), when `user` owns it.
pub async fn owned_window(
    state: &AppState,
    user: &User,
    id: Uuid,
    steps: i64,
) -> Result<SessionWindow, ApiError> {
    let window = match state.store.session_window(id, steps).await {
        Ok(w) if can_see(user, &w.session) => w,
        Ok(_) | Err(StoreError::NotFound) => return Err(ApiError::NotFound),
        Err(other) => return Err(other.into()),
    };
    only_owner(user, &window.session)?;
    Ok(window)
}

fn only_owner(user: &User, s: &Session) -> Result<(), ApiError> {
    if s.user_id == user.id {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only the engineer who owns this session can change it".into(),
        ))
    }
}
