//! Who may see and change a session (api.md): visible to its owner, the user it was
//! escalated to and the account's admins, and through an escalation (escalation.md) to the
//! members of the team it went to, every engineer of the account for the queue, whoever
//! claimed it and whoever handed it over (everyone else: 404); changed only by its owner
//! (others who can see it: 403).

use domain::session::Session;
use domain::User;
use store::{SessionWindow, StoreError};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The rules the session row alone decides.
pub fn can_see(user: &User, s: &Session) -> bool {
    s.account_id == user.account_id
        && (s.user_id == user.id || s.escalated_to_id == Some(user.id) || user.is_admin())
}

/// [`can_see`], then the rules of its escalations, read only for a session that was
/// escalated and that the row alone does not show to `user`.
pub async fn may_see(state: &AppState, user: &User, s: &Session) -> Result<bool, ApiError> {
    if can_see(user, s) {
        return Ok(true);
    }
    if s.account_id != user.account_id || s.escalated_at.is_none() {
        return Ok(false);
    }
    let escalations = state.store.escalations_of_session(s.id).await?;
    Ok(escalations.iter().any(|e| e.lets_see(user)))
}

pub async fn visible(state: &AppState, user: &User, id: Uuid) -> Result<Session, ApiError> {
    match state.store.session(id).await {
        Ok(s) if may_see(state, user, &s).await? => Ok(s),
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
        Ok(w) if may_see(state, user, &w.session).await? => w,
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
