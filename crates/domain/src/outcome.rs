//! What the engineer said of a step after it was shown (escalation.md "Fix outcomes"): how a
//! suggested fix turned out, and that a step was not relevant and why. Both shape the next
//! step and are kept for the flows' success rates and the confidence calibration.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How a suggested fix (a `resolution_suggestion` step) turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixOutcome {
    Worked,
    Failed,
    Partial,
    /// Applied, but it can only be confirmed later (a reboot tonight, replication).
    AwaitingVerification,
}

impl FixOutcome {
    pub const ALL: [FixOutcome; 4] = [
        FixOutcome::Worked,
        FixOutcome::Failed,
        FixOutcome::Partial,
        FixOutcome::AwaitingVerification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FixOutcome::Worked => "worked",
            FixOutcome::Failed => "failed",
            FixOutcome::Partial => "partial",
            FixOutcome::AwaitingVerification => "awaiting_verification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// In words, for the documentation and the page.
    pub fn label(self) -> &'static str {
        match self {
            FixOutcome::Worked => "Worked",
            FixOutcome::Failed => "Didn't work",
            FixOutcome::Partial => "Partly worked",
            FixOutcome::AwaitingVerification => "Waiting to verify",
        }
    }

    /// Whether the session goes on to another step after it.
    pub fn continues(self) -> bool {
        matches!(self, FixOutcome::Failed | FixOutcome::Partial)
    }
}

/// The longest "not relevant" reason and outcome note: one line, like a ticket's subject.
pub const REASON_MAX: usize = 300;
pub const NOTE_MAX: usize = 2000;

/// When to remind the engineer of a fix awaiting verification if they do not say: the next
/// morning's usual check, a day later.
pub fn default_check_back(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(24)
}

/// The furthest a check-back may be set: past a month the session is better escalated.
pub fn latest_check_back(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::days(31)
}

/// What was said of one step besides its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMarks {
    pub outcome: Option<FixOutcome>,
    pub outcome_note: Option<String>,
    /// Why the engineer marked the step not relevant.
    pub not_relevant: Option<String>,
}

impl StepMarks {
    pub fn is_empty(&self) -> bool {
        *self == StepMarks::default()
    }

    /// The marks in words, for the documentation: "Didn't work: the share still fails".
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(outcome) = self.outcome {
            parts.push(match self.outcome_note.as_deref().map(str::trim) {
                Some(note) if !note.is_empty() => format!("{}: {note}", outcome.label()),
                _ => outcome.label().to_string(),
            });
        }
        if let Some(reason) = &self.not_relevant {
            parts.push(format!("Not relevant: {reason}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_back_from_their_names() {
        for o in FixOutcome::ALL {
            assert_eq!(FixOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(FixOutcome::parse("fixed"), None);
        assert!(FixOutcome::Partial.continues());
        assert!(!FixOutcome::AwaitingVerification.continues());
    }

    #[test]
    fn marks_read_as_a_line_of_the_documentation() {
        let marks = StepMarks {
            outcome: Some(FixOutcome::Failed),
            outcome_note: Some("still prompts".into()),
            not_relevant: None,
        };
        assert_eq!(
            marks.describe().as_deref(),
            Some("Didn't work: still prompts")
        );
        assert_eq!(StepMarks::default().describe(), None);
    }
}
