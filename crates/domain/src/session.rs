//! The session state machine.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Paused,
    Resolved,
    Escalated,
    Abandoned,
}

/// Something an engineer does to a session that changes its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Respond,
    Resolve,
    Escalate,
    Pause,
    Resume,
    Abandon,
    Rate,
}

impl Transition {
    /// The statuses this transition may start from (what a conditional update checks).
    pub fn allowed_from(self) -> Vec<SessionStatus> {
        SessionStatus::ALL
            .into_iter()
            .filter(|s| s.apply(self).is_some())
            .collect()
    }
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 5] = [
        SessionStatus::Active,
        SessionStatus::Paused,
        SessionStatus::Resolved,
        SessionStatus::Escalated,
        SessionStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Paused => "paused",
            SessionStatus::Resolved => "resolved",
            SessionStatus::Escalated => "escalated",
            SessionStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The status after `t`, or `None` when this status forbids it (a 409).
    /// Rating leaves the status as it is.
    pub fn apply(self, t: Transition) -> Option<SessionStatus> {
        use SessionStatus::*;
        match (t, self) {
            (Transition::Respond, Active) => Some(Active),
            (Transition::Resolve, Active | Paused) => Some(Resolved),
            (Transition::Escalate, Active | Paused) => Some(Escalated),
            (Transition::Pause, Active) => Some(Paused),
            (Transition::Resume, Paused) => Some(Active),
            (Transition::Abandon, Active | Paused) => Some(Abandoned),
            (Transition::Rate, Resolved | Escalated | Abandoned) => Some(self),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus::*;

    #[test]
    fn only_open_sessions_close() {
        assert_eq!(Active.apply(Transition::Resolve), Some(Resolved));
        assert_eq!(Paused.apply(Transition::Escalate), Some(Escalated));
        assert_eq!(Resolved.apply(Transition::Resolve), None);
        assert_eq!(Abandoned.apply(Transition::Resume), None);
    }

    #[test]
    fn responding_needs_an_active_session() {
        assert_eq!(Paused.apply(Transition::Respond), None);
        assert_eq!(Active.apply(Transition::Respond), Some(Active));
    }

    #[test]
    fn transitions_know_where_they_may_start() {
        assert_eq!(Transition::Resolve.allowed_from(), [Active, Paused]);
        assert_eq!(Transition::Resume.allowed_from(), [Paused]);
        assert_eq!(
            Transition::Rate.allowed_from(),
            [Resolved, Escalated, Abandoned]
        );
    }

    #[test]
    fn rating_waits_for_the_end() {
        assert_eq!(Active.apply(Transition::Rate), None);
        assert_eq!(Paused.apply(Transition::Rate), None);
        assert_eq!(Resolved.apply(Transition::Rate), Some(Resolved));
    }
}
