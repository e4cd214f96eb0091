//! An escalation (escalation.md): a session handed to a person, a team or the account's
//! queue; claimed by exactly one engineer; picked up to continue or afresh. The rules of who
//! may claim and what the queue shows live here, so the API and the web pages cannot differ.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::user::{Role, User};

/// Whom a session was escalated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscalationTarget {
    Person(Uuid),
    Team(Uuid),
    /// Nobody in particular: any engineer or admin of the account may take it.
    Queue,
}

impl EscalationTarget {
    /// From the request's two optional targets; `None` when both are given.
    pub fn from_parts(person: Option<Uuid>, team: Option<Uuid>) -> Option<EscalationTarget> {
        match (person, team) {
            (Some(_), Some(_)) => None,
            (Some(p), None) => Some(EscalationTarget::Person(p)),
            (None, Some(t)) => Some(EscalationTarget::Team(t)),
            (None, None) => Some(EscalationTarget::Queue),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            EscalationTarget::Person(_) => "person",
            EscalationTarget::Team(_) => "team",
            EscalationTarget::Queue => "queue",
        }
    }

    pub fn person(self) -> Option<Uuid> {
        match self {
            EscalationTarget::Person(p) => Some(p),
            _ => None,
        }
    }

    pub fn team(self) -> Option<Uuid> {
        match self {
            EscalationTarget::Team(t) => Some(t),
            _ => None,
        }
    }
}

/// How a claimer takes the session on (escalation.md "Pick up").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickupMode {
    /// The same session, now the claimer's, resuming with a briefing step.
    Continue,
    /// A new session whose intake is the hand-off package, linked both ways.
    Fresh,
}

impl PickupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PickupMode::Continue => "continue",
            PickupMode::Fresh => "fresh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [PickupMode::Continue, PickupMode::Fresh]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Who wrote the hand-off package's hypotheses and next steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffAuthor {
    /// The LLM answered in time.
    Ai,
    /// The pilot's own (the offline hand-off from the flow), or the deterministic package
    /// when the AI was off, failed, or did not answer within the escalation timeout.
    Deterministic,
}

impl HandoffAuthor {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffAuthor::Ai => "ai",
            HandoffAuthor::Deterministic => "deterministic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ai" => Some(HandoffAuthor::Ai),
            "deterministic" => Some(HandoffAuthor::Deterministic),
            _ => None,
        }
    }
}

/// One escalation of a session. A session picked up to continue may be escalated again,
/// so a session has one of these per hand-off; the newest is the one that counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub id: Uuid,
    pub session_id: Uuid,
    pub account_id: Uuid,
    /// The engineer who escalated it (the session's owner then).
    pub escalated_by: Uuid,
    pub target: EscalationTarget,
    pub reason: String,
    pub escalated_at: DateTime<Utc>,
    pub handoff_author: HandoffAuthor,
    pub claimed_by: Option<Uuid>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub picked_up: Option<PickupMode>,
    pub picked_up_at: Option<DateTime<Utc>>,
    /// `fresh`: the new session.
    pub picked_up_as_id: Option<Uuid>,
    /// `continue`: the briefing step, whose answer does not count as the first answer.
    pub briefing_step_id: Option<Uuid>,
    /// When the claimer first answered a step of the picked-up work.
    pub first_answered_at: Option<DateTime<Utc>>,
}

impl Escalation {
    pub fn is_claimed(&self) -> bool {
        self.claimed_by.is_some()
    }

    /// How long it waited: until claimed, or until `now` while unclaimed.
    pub fn age(&self, now: DateTime<Utc>) -> Duration {
        self.claimed_at.unwrap_or(now) - self.escalated_at
    }

    /// The metric "time to claim".
    pub fn time_to_claim(&self) -> Option<Duration> {
        self.claimed_at.map(|c| c - self.escalated_at)
    }

    /// The metric "time from claim to the first step answered".
    pub fn claim_to_first_answer(&self) -> Option<Duration> {
        Some(self.first_answered_at? - self.claimed_at?)
    }

    /// Whether `user` is one of those it was escalated to (the person, a member of the team,
    /// anyone working in the account for the queue). Admins are not, by this rule alone.
    pub fn is_addressed_to(&self, user: &User) -> bool {
        if user.account_id != self.account_id {
            return false;
        }
        match self.target {
            EscalationTarget::Person(p) => p == user.id,
            EscalationTarget::Team(t) => user.team_id == Some(t),
            EscalationTarget::Queue => user.role >= Role::Engineer,
        }
    }

    /// Whether `user` may see the session because of this escalation (api.md "Visible"):
    /// those it was escalated to, whoever claimed it, and who escalated it.
    pub fn lets_see(&self, user: &User) -> bool {
        user.account_id == self.account_id
            && (self.is_addressed_to(user)
                || self.claimed_by == Some(user.id)
                || self.escalated_by == user.id)
    }

    /// Whether `user` may claim it (its state aside): an engineer or admin it was addressed
    /// to, or any admin of the account; never the engineer who handed it over.
    pub fn may_claim(&self, user: &User) -> Result<(), ClaimRefusal> {
        if user.account_id != self.account_id {
            return Err(ClaimRefusal::NotVisible);
        }
        if user.role < Role::Engineer {
            return Err(ClaimRefusal::Role);
        }
        if self.escalated_by == user.id {
            return Err(ClaimRefusal::OwnEscalation);
        }
        if user.is_admin() || self.is_addressed_to(user) {
            Ok(())
        } else if self.lets_see(user) {
            Err(ClaimRefusal::NotAddressed)
        } else {
            Err(ClaimRefusal::NotVisible)
        }
    }

    /// Whether it belongs in `status` of the queue.
    pub fn is_in(&self, status: QueueStatus) -> bool {
        match status {
            QueueStatus::Open => !self.is_claimed(),
            QueueStatus::Claimed => self.is_claimed(),
            QueueStatus::All => true,
        }
    }
}

/// Why a claim is refused before the database is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimRefusal {
    /// Another account's, or not visible to this user: a 404.
    NotVisible,
    /// Viewers do not claim.
    Role,
    /// Escalated to someone else (a person, another team).
    NotAddressed,
    /// The engineer who escalated it.
    OwnEscalation,
}

/// Which escalations the queue lists (escalation.md), as seen by one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueScope {
    /// Escalated to me, or claimed by me.
    Mine,
    /// Escalated to my team.
    Team,
    /// Every escalation of the account I may see.
    Account,
}

impl QueueScope {
    pub const ALL: [QueueScope; 3] = [QueueScope::Mine, QueueScope::Team, QueueScope::Account];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueScope::Mine => "mine",
            QueueScope::Team => "team",
            QueueScope::Account => "account",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStatus {
    /// Not claimed yet.
    Open,
    Claimed,
    All,
}

impl QueueStatus {
    pub const ALL: [QueueStatus; 3] = [QueueStatus::Open, QueueStatus::Claimed, QueueStatus::All];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueStatus::Open => "open",
            QueueStatus::Claimed => "claimed",
            QueueStatus::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The queue's order: unclaimed before claimed, and within each the oldest first.
pub fn queue_order(a: &Escalation, b: &Escalation) -> std::cmp::Ordering {
    a.is_claimed()
        .cmp(&b.is_claimed())
        .then(a.escalated_at.cmp(&b.escalated_at))
        .then(a.id.cmp(&b.id))
}

/// A duration as people say it in a queue: "45 s", "12 min", "3 h 05 min", "2 d 4 h".
pub fn human_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, team: Option<Uuid>, account: Uuid) -> User {
        User {
            id: Uuid::new_v4(),
            email: "u@example.com".into(),
            full_name: "U".into(),
            role,
            account_id: account,
            team_id: team,
            is_super_admin: false,
            is_active: true,
            created_at: Utc::now(),
        }
    }

    fn escalation(target: EscalationTarget, account: Uuid, by: Uuid) -> Escalation {
        Escalation {
            id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
            account_id: account,
            escalated_by: by,
            target,
            reason: "needs tenant admin".into(),
            escalated_at: Utc::now(),
            handoff_author: HandoffAuthor::Deterministic,
            claimed_by: None,
            claimed_at: None,
            picked_up: None,
            picked_up_at: None,
            picked_up_as_id: None,
            briefing_step_id: None,
            first_answered_at: None,
        }
    }

    #[test]
    fn at_most_one_target() {
        let (p, t) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(EscalationTarget::from_parts(Some(p), Some(t)), None);
        assert_eq!(
            EscalationTarget::from_parts(None, None),
            Some(EscalationTarget::Queue)
        );
        assert_eq!(
            EscalationTarget::from_parts(None, Some(t)).and_then(|x| x.team()),
            Some(t)
        );
    }

    #[test]
    fn who_may_claim() {
        let account = Uuid::new_v4();
        let team = Uuid::new_v4();
        let first = user(Role::Engineer, Some(team), account);
        let member = user(Role::Engineer, Some(team), account);
        let outsider = user(Role::Engineer, None, account);
        let admin = user(Role::Admin, None, account);
        let viewer = user(Role::Viewer, Some(team), account);
        let stranger = user(Role::Admin, Some(team), Uuid::new_v4());

        let to_team = escalation(EscalationTarget::Team(team), account, first.id);
        assert_eq!(to_team.may_claim(&member), Ok(()));
        assert_eq!(to_team.may_claim(&admin), Ok(()));
        assert_eq!(to_team.may_claim(&outsider), Err(ClaimRefusal::NotVisible));
        assert_eq!(to_team.may_claim(&viewer), Err(ClaimRefusal::Role));
        assert_eq!(to_team.may_claim(&first), Err(ClaimRefusal::OwnEscalation));
        assert_eq!(to_team.may_claim(&stranger), Err(ClaimRefusal::NotVisible));

        let to_person = escalation(EscalationTarget::Person(member.id), account, first.id);
        assert_eq!(to_person.may_claim(&member), Ok(()));
        assert_eq!(to_person.may_claim(&admin), Ok(()));
        assert_eq!(
            to_person.may_claim(&outsider),
            Err(ClaimRefusal::NotVisible)
        );

        let queued = escalation(EscalationTarget::Queue, account, first.id);
        assert_eq!(queued.may_claim(&outsider), Ok(()));
        assert!(queued.lets_see(&outsider));
        assert!(!queued.lets_see(&viewer));
    }

    #[test]
    fn the_queue_puts_the_oldest_unclaimed_first_and_keeps_the_metrics() {
        let account = Uuid::new_v4();
        let by = Uuid::new_v4();
        let now = Utc::now();
        let mut old = escalation(EscalationTarget::Queue, account, by);
        old.escalated_at = now - Duration::minutes(30);
        let mut newer = escalation(EscalationTarget::Queue, account, by);
        newer.escalated_at = now - Duration::minutes(5);
        let mut claimed = escalation(EscalationTarget::Queue, account, by);
        claimed.escalated_at = now - Duration::hours(2);
        claimed.claimed_by = Some(Uuid::new_v4());
        claimed.claimed_at = Some(now - Duration::minutes(90));
        claimed.first_answered_at = Some(now - Duration::minutes(85));
        let mut all = [claimed.clone(), newer.clone(), old.clone()];
        all.sort_by(queue_order);
        assert_eq!(
            all.iter().map(|e| e.id).collect::<Vec<_>>(),
            [old.id, newer.id, claimed.id]
        );
        assert_eq!(claimed.time_to_claim(), Some(Duration::minutes(30)));
        assert_eq!(claimed.claim_to_first_answer(), Some(Duration::minutes(5)));
        assert_eq!(old.age(now), Duration::minutes(30));
        assert!(old.is_in(QueueStatus::Open) && !old.is_in(QueueStatus::Claimed));
        assert_eq!(QueueScope::parse("team"), Some(QueueScope::Team));
        assert_eq!(QueueStatus::parse("everything"), None);
        assert_eq!(
            human_duration(Duration::seconds(3 * 3600 + 300)),
            "3 h 05 min"
        );
    }
}
