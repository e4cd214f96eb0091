//! Knowledge gaps (memory.md): the sessions that matched no flow, grouped by topic with
//! `matching::group_by_topic`, each with its counts and a few sample sessions, and a click
//! away from a draft flow built from them (`draft`).
//!
//! Admins see the account's sessions, everyone else their own (as the analytics overview).

use chrono::{DateTime, Utc};
use domain::flow::FlowDefinition;
use domain::session::SessionStatus;
use domain::User;
use store::{GapScope, RememberedSession};
use uuid::Uuid;

use super::age::ago;
use super::draft;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Action;
use crate::state::AppState;

/// Sample sessions shown per gap.
const SAMPLES: usize = 5;

#[derive(Debug, Clone)]
pub struct GapSample {
    pub id: Uuid,
    pub title: String,
    pub problem_summary: String,
    pub status: SessionStatus,
    pub owner_name: String,
    pub created_at: DateTime<Utc>,
    pub age: String,
}

#[derive(Debug, Clone)]
pub struct Gap {
    /// Stable for the same sessions: the label's words joined by `-` (names the gap in the
    /// draft link).
    pub topic: String,
    /// The label's words, most shared first.
    pub terms: Vec<String>,
    pub count: usize,
    pub resolved: usize,
    pub escalated: usize,
    /// Sessions still open, or abandoned.
    pub other: usize,
    pub samples: Vec<GapSample>,
    /// Every session of the gap, oldest first.
    pub session_ids: Vec<Uuid>,
}

impl Gap {
    /// "scanner, jam, ricoh"
    pub fn label(&self) -> String {
        self.terms.join(", ")
    }
}

/// The range `[from, to)` from the query, read as the analytics overview reads it (one rule
/// and one set of messages for both pages): RFC 3339 times or dates (a `to` date counts its
/// whole day), by default the last 30 days, at most 366; 422 when unreadable or empty.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let range = crate::analytics::range::Range::parse(from, to, None, now)?;
    Ok((range.from, range.to))
}

/// The gaps of `[from, to)` the caller may see, largest first.
pub async fn gaps(
    state: &AppState,
    user: &User,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<Gap>> {
    crate::sessions::limit(state, Action::SessionRead, user.id, "gaps").await?;
    let sessions = unmatched(state, user, from, to).await?;
    Ok(group(&sessions, Utc::now()))
}

/// The draft flow of gap `topic` (as [`Gap::topic`] names it), validated like any flow; 404
/// when the range has no such gap.
pub async fn draft_flow(
    state: &AppState,
    user: &User,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    topic: &str,
) -> ApiResult<(Gap, FlowDefinition)> {
    crate::sessions::limit(state, Action::SessionRead, user.id, "gaps").await?;
    let sessions = unmatched(state, user, from, to).await?;
    let gap = group(&sessions, Utc::now())
        .into_iter()
        .find(|g| g.topic == topic)
        .ok_or(ApiError::NotFound)?;
    let members: Vec<&RememberedSession> = sessions
        .iter()
        .filter(|s| gap.session_ids.contains(&s.id))
        .collect();
    let model = draft::representative(&members);
    let steps = match model {
        Some(s) => state.store.steps(s.id).await?,
        None => Vec::new(),
    };
    let flow = draft::build(&gap, &members, &steps)?;
    Ok((gap, flow))
}

async fn unmatched(
    state: &AppState,
    user: &User,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<RememberedSession>> {
    let scope = GapScope {
        account_id: user.account_id,
        user_id: (!user.is_admin()).then_some(user.id),
        from,
        to,
    };
    Ok(state.store.unmatched_sessions(&scope).await?)
}

/// What a session's topic is read from: what the engineer described.
fn problem_text(s: &RememberedSession) -> &str {
    [Some(s.intake_text.as_str()), s.problem_summary.as_deref()]
        .into_iter()
        .flatten()
        .find(|t| !t.trim().is_empty())
        .unwrap_or(&s.title)
}

fn group(sessions: &[RememberedSession], now: DateTime<Utc>) -> Vec<Gap> {
    let texts: Vec<&str> = sessions.iter().map(problem_text).collect();
    matching::group_by_topic(&texts)
        .into_iter()
        .map(|topic| {
            let members: Vec<&RememberedSession> =
                topic.members.iter().map(|&i| &sessions[i]).collect();
            let count_of = |st: SessionStatus| members.iter().filter(|s| s.status == st).count();
            let (resolved, escalated) = (
                count_of(SessionStatus::Resolved),
                count_of(SessionStatus::Escalated),
            );
            let terms = if topic.terms.is_empty() {
                vec!["untitled".to_string()]
            } else {
                topic.terms
            };
            Gap {
                topic: terms.join("-"),
                terms,
                count: members.len(),
                resolved,
                escalated,
                other: members.len() - resolved - escalated,
                // The newest first: the ones an engineer still remembers.
                samples: members
                    .iter()
                    .rev()
                    .take(SAMPLES)
                    .map(|s| GapSample {
                        id: s.id,
                        title: s.title.clone(),
                        problem_summary: s
                            .problem_summary
                            .clone()
                            .unwrap_or_else(|| s.title.clone()),
                        status: s.status,
                        owner_name: s.owner_name.clone(),
                        created_at: s.created_at,
                        age: ago(s.created_at, now),
                    })
                    .collect(),
                session_ids: members.iter().map(|s| s.id).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_reads_dates_and_times_and_defaults_to_thirty_days() {
        let now = DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (from, to) = range(None, None, now).unwrap();
        assert_eq!((to - from).num_days(), 30);
        assert_eq!(to, now);
        let (from, to) = range(Some("2026-03-01"), Some("2026-03-01"), now).unwrap();
        assert_eq!((to - from).num_hours(), 24);
        assert!(range(Some("yesterday"), None, now).is_err());
        assert!(range(Some("2026-03-05"), Some("2026-03-01"), now).is_err());
        assert!(range(
            Some("2026-03-01T00:00:00Z"),
            Some("2026-03-02T00:00:00+01:00"),
            now
        )
        .is_ok());
    }
}
