//! FlowPilot users mapped to a connection's PSA members: by email automatically, by hand
//! otherwise (psa.md). An admin's choice, "no member" included, is never replaced by a match.

use chrono::Utc;
use domain::psa::Member;
use domain::User;
use store::{MappedBy, MemberMapping, PsaConnection, StoreError};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One user of the account and the member they are mapped to, if any.
#[derive(Debug, Clone)]
pub struct UserMember {
    pub user: User,
    pub mapping: Option<MemberMapping>,
}

/// The connection's members as the PSA lists them, and every user of the account with
/// their mapping.
#[derive(Debug, Clone)]
pub struct Mappings {
    pub connection: PsaConnection,
    pub members: Vec<Member>,
    pub users: Vec<UserMember>,
}

async fn psa_members(state: &AppState, connection: &PsaConnection) -> ApiResult<Vec<Member>> {
    Ok(state
        .psa
        .call(
            connection,
            |client| async move { client.list_members().await },
        )
        .await?)
}

/// Reads the PSA's members and maps by email every user nobody mapped by hand.
pub async fn mappings(state: &AppState, admin: &User, id: Uuid) -> ApiResult<Mappings> {
    let connection = super::connections::find(state, admin, id).await?;
    super::limit(state, admin).await?;
    let members = psa_members(state, &connection).await?;
    let mut stored = state.store.member_mappings(connection.id).await?;
    let mut users = Vec::new();
    for user in state.store.users_of_account(admin.account_id).await? {
        let at = stored.iter().position(|m| m.user_id == user.id);
        let mut mapping = at.map(|at| stored.swap_remove(at));
        let by_hand = mapping
            .as_ref()
            .is_some_and(|m| m.mapped_by == MappedBy::Manual);
        if !by_hand {
            if let Some(member) = Member::find_by_email(&members, &user.email) {
                let current = mapping.as_ref().and_then(|m| m.member_id.as_deref());
                if current != Some(member.id.as_str()) {
                    let found = mapping_of(&connection, &user, Some(member), MappedBy::Email);
                    state.store.put_member_mapping(&found).await?;
                    mapping = Some(found);
                }
            }
        }
        users.push(UserMember { user, mapping });
    }
    Ok(Mappings {
        connection,
        members,
        users,
    })
}

fn mapping_of(
    connection: &PsaConnection,
    user: &User,
    member: Option<&Member>,
    by: MappedBy,
) -> MemberMapping {
    MemberMapping {
        connection_id: connection.id,
        user_id: user.id,
        member_id: member.map(|m| m.id.clone()),
        member_name: member.map(|m| m.name.clone()),
        member_email: member.and_then(|m| m.email.clone()),
        mapped_by: by,
        updated_at: Utc::now(),
    }
}

/// Maps `user_id` to the member `member_id` by hand (`None`: the user has no member).
pub async fn map(
    state: &AppState,
    admin: &User,
    id: Uuid,
    user_id: Uuid,
    member_id: Option<String>,
) -> ApiResult<UserMember> {
    let connection = super::connections::find(state, admin, id).await?;
    let user = match state.store.user(user_id).await {
        Ok(user) if user.account_id == admin.account_id => user,
        Ok(_) | Err(StoreError::NotFound) => return Err(ApiError::NotFound),
        Err(other) => return Err(other.into()),
    };
    let member_id = member_id
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    let member = match &member_id {
        Some(wanted) => {
            super::limit(state, admin).await?;
            let members = psa_members(state, &connection).await?;
            match members.into_iter().find(|m| &m.id == wanted) {
                Some(member) => Some(member),
                None => {
                    return Err(ApiError::field(
                        &["member_id"],
                        format!(
                            "{} has no active member with the id {wanted:?}",
                            connection.kind.display_name()
                        ),
                        "value_error",
                    ))
                }
            }
        }
        None => None,
    };
    let mapping = mapping_of(&connection, &user, member.as_ref(), MappedBy::Manual);
    state.store.put_member_mapping(&mapping).await?;
    tracing::info!(admin = %admin.id, connection = %id, user = %user_id, "PSA member mapped by hand");
    Ok(UserMember {
        user,
        mapping: Some(mapping),
    })
}
