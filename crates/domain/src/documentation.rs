//! Session documentation (api.md, "documentation"): built deterministically from the session,
//! optionally with text an LLM wrote, and rendered as Markdown that reads well in a ticket.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::step::StepType;

/// How likely a cause is, as a hand-off states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    High,
    Medium,
    Low,
    /// Nothing in the session points either way (a hand-off with no cause to name).
    Unknown,
}

impl Likelihood {
    pub fn as_str(self) -> &'static str {
        match self {
            Likelihood::High => "high",
            Likelihood::Medium => "medium",
            Likelihood::Low => "low",
            Likelihood::Unknown => "unknown",
        }
    }

    /// The likelihoods a writer (a model, the offline hand-off) may state, case-insensitive,
    /// because models capitalise enum values now and then.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::High, Self::Medium, Self::Low]
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub cause: String,
    pub likelihood: Likelihood,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentedStep {
    pub step_order: i64,
    pub step_type: String,
    pub description: String,
    pub engineer_response: Option<String>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Documentation {
    pub session_id: uuid::Uuid,
    pub status: String,
    pub title: String,
    pub problem_summary: String,
    pub problem_domain: String,
    pub root_cause: Option<String>,
    pub resolution_summary: Option<String>,
    pub escalation_reason: Option<String>,
    pub hypotheses: Vec<Hypothesis>,
    pub steps: Vec<DocumentedStep>,
    pub follow_up_recommendations: Vec<String>,
    pub total_steps: i64,
    pub duration_minutes: i64,
    pub generated_at: DateTime<Utc>,
    pub markdown: String,
}

/// One step of the session as the documentation needs it.
#[derive(Debug, Clone)]
pub struct StepFacts {
    pub step_order: i64,
    pub step_type: StepType,
    pub content: String,
    pub expected_outcome: Option<String>,
    pub resolution_summary: Option<String>,
    pub follow_ups: Vec<String>,
    /// The answer as the engineer gave it: option label and/or free text, or "skipped".
    pub answer: Option<String>,
    /// What the engineer wrote on the step that did not answer it, oldest first.
    pub observations: Vec<String>,
}

/// What the documentation is built from.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub session_id: uuid::Uuid,
    pub status: String,
    pub title: String,
    pub problem_summary: String,
    pub problem_domain: String,
    pub matched_flow: Option<String>,
    pub engineer: String,
    pub escalated_to: Option<String>,
    pub started_at: DateTime<Utc>,
    pub steps: Vec<StepFacts>,
}

/// Optional text an LLM wrote; anything missing is filled deterministically.
#[derive(Debug, Clone, Default)]
pub struct WrittenText {
    pub title: Option<String>,
    pub root_cause: Option<String>,
    pub resolution_summary: Option<String>,
    pub follow_ups: Vec<String>,
    pub hypotheses: Vec<Hypothesis>,
    pub next_steps: Vec<String>,
}

fn documented_steps(facts: &SessionFacts) -> Vec<DocumentedStep> {
    facts
        .steps
        .iter()
        .map(|s| DocumentedStep {
            step_order: s.step_order,
            step_type: s.step_type.as_str().to_string(),
            description: s.content.clone(),
            engineer_response: response(s),
            outcome: s
                .expected_outcome
                .clone()
                .or_else(|| s.resolution_summary.clone()),
        })
        .collect()
}

/// The answer, after the notes that did not answer the step: each said once, on its step.
fn response(s: &StepFacts) -> Option<String> {
    if s.observations.is_empty() {
        return s.answer.clone();
    }
    let notes: Vec<String> = s.observations.iter().map(|o| format!("“{o}”")).collect();
    let noted = format!("Noted: {}", notes.join("; "));
    Some(match &s.answer {
        Some(answer) => format!("{noted}. Then: {answer}"),
        None => noted,
    })
}

fn last_suggestion(facts: &SessionFacts) -> Option<&StepFacts> {
    facts
        .steps
        .iter()
        .rev()
        .find(|s| s.step_type == StepType::ResolutionSuggestion)
}

/// Documentation of a resolved session.
pub fn resolved(
    facts: &SessionFacts,
    resolution_summary: &str,
    written: WrittenText,
    now: DateTime<Utc>,
) -> Documentation {
    let suggestion = last_suggestion(facts);
    let root_cause = written.root_cause.or_else(|| {
        suggestion
            .and_then(|s| s.resolution_summary.clone())
            .filter(|r| r != resolution_summary)
    });
    let follow_ups = if written.follow_ups.is_empty() {
        suggestion.map(|s| s.follow_ups.clone()).unwrap_or_default()
    } else {
        written.follow_ups
    };
    let mut doc = Documentation {
        session_id: facts.session_id,
        status: facts.status.clone(),
        title: written.title.unwrap_or_else(|| facts.title.clone()),
        problem_summary: facts.problem_summary.clone(),
        problem_domain: facts.problem_domain.clone(),
        root_cause,
        resolution_summary: Some(
            written
                .resolution_summary
                .unwrap_or_else(|| resolution_summary.to_string()),
        ),
        escalation_reason: None,
        hypotheses: Vec::new(),
        steps: documented_steps(facts),
        follow_up_recommendations: follow_ups,
        total_steps: facts.steps.len() as i64,
        duration_minutes: (now - facts.started_at).num_minutes().max(0),
        generated_at: now,
        markdown: String::new(),
    };
    doc.markdown = render_markdown(&doc, facts, &[]);
    doc
}

/// The hand-off package of an escalated session.
pub fn escalated(
    facts: &SessionFacts,
    reason: &str,
    written: WrittenText,
    now: DateTime<Utc>,
) -> Documentation {
    let hypotheses = if written.hypotheses.is_empty() {
        default_hypotheses(facts)
    } else {
        written.hypotheses
    };
    let next_steps = if written.next_steps.is_empty() {
        default_next_steps(facts)
    } else {
        written.next_steps
    };
    let mut doc = Documentation {
        session_id: facts.session_id,
        status: facts.status.clone(),
        title: written.title.unwrap_or_else(|| facts.title.clone()),
        problem_summary: facts.problem_summary.clone(),
        problem_domain: facts.problem_domain.clone(),
        root_cause: None,
        resolution_summary: None,
        escalation_reason: Some(reason.to_string()),
        hypotheses,
        steps: documented_steps(facts),
        follow_up_recommendations: next_steps.clone(),
        total_steps: facts.steps.len() as i64,
        duration_minutes: (now - facts.started_at).num_minutes().max(0),
        generated_at: now,
        markdown: String::new(),
    };
    doc.markdown = render_markdown(&doc, facts, &next_steps);
    doc
}

fn default_hypotheses(facts: &SessionFacts) -> Vec<Hypothesis> {
    let mut out: Vec<Hypothesis> = facts
        .steps
        .iter()
        .rev()
        .filter(|s| s.step_type == StepType::ResolutionSuggestion)
        .filter_map(|s| s.resolution_summary.clone())
        .map(|cause| Hypothesis {
            cause,
            likelihood: Likelihood::Medium,
        })
        .collect();
    if out.is_empty() {
        out.push(Hypothesis {
            cause: format!(
                "Not yet identified; the checks below rule out the common causes{}.",
                facts
                    .matched_flow
                    .as_ref()
                    .map(|f| format!(" covered by \"{f}\""))
                    .unwrap_or_default()
            ),
            likelihood: Likelihood::Unknown,
        });
    }
    out
}

fn default_next_steps(facts: &SessionFacts) -> Vec<String> {
    let mut out =
        vec!["Review the steps already taken below before repeating any of them.".to_string()];
    if let Some(last) = facts.steps.iter().rev().find(|s| s.answer.is_none()) {
        out.push(format!("Continue from the open step: {}", last.content));
    }
    out.push(
        "Confirm the scope (one user, several, everyone) and anything that changed recently."
            .into(),
    );
    out
}

/// Escapes text that could break the Markdown structure of a table cell or a list item.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn render_markdown(doc: &Documentation, facts: &SessionFacts, next_steps: &[String]) -> String {
    use std::fmt::Write;
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", doc.title);
    let _ = writeln!(md, "**Status:** {}  ", doc.status);
    let _ = writeln!(md, "**Engineer:** {}  ", facts.engineer);
    if let Some(to) = &facts.escalated_to {
        let _ = writeln!(md, "**Escalated to:** {to}  ");
    }
    let _ = writeln!(
        md,
        "**Domain:** {}  ",
        crate::flow::domain_label(&doc.problem_domain)
    );
    if let Some(flow) = &facts.matched_flow {
        let _ = writeln!(md, "**Flow:** {flow}  ");
    }
    let _ = writeln!(
        md,
        "**Duration:** {} min, {} step{}\n",
        doc.duration_minutes,
        doc.total_steps,
        if doc.total_steps == 1 { "" } else { "s" }
    );
    let _ = writeln!(md, "## Problem\n\n{}\n", doc.problem_summary);
    if let Some(reason) = &doc.escalation_reason {
        let _ = writeln!(md, "## Reason for escalation\n\n{reason}\n");
    }
    if let Some(rc) = &doc.root_cause {
        let _ = writeln!(md, "## Root cause\n\n{rc}\n");
    }
    if let Some(res) = &doc.resolution_summary {
        let _ = writeln!(md, "## Resolution\n\n{res}\n");
    }
    if !doc.hypotheses.is_empty() {
        let _ = writeln!(md, "## Hypotheses\n");
        for h in &doc.hypotheses {
            let _ = writeln!(
                md,
                "- **{}**: {}",
                h.likelihood.as_str(),
                h.cause.replace('\n', " ")
            );
        }
        let _ = writeln!(md);
    }
    if !doc.steps.is_empty() {
        let _ = writeln!(
            md,
            "## Steps taken\n\n| # | Step | Response |\n|---|---|---|"
        );
        for s in &doc.steps {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                s.step_order,
                cell(&s.description),
                cell(s.engineer_response.as_deref().unwrap_or("(no answer)"))
            );
        }
        let _ = writeln!(md);
    }
    let follow = if next_steps.is_empty() {
        &doc.follow_up_recommendations[..]
    } else {
        next_steps
    };
    if !follow.is_empty() {
        let heading = if doc.escalation_reason.is_some() {
            "Suggested next steps"
        } else {
            "Follow-up"
        };
        let _ = writeln!(md, "## {heading}\n");
        for f in follow {
            let _ = writeln!(md, "- {}", f.replace('\n', " "));
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "_Generated by FlowPilot on {}_",
        doc.generated_at.format("%Y-%m-%d %H:%M UTC")
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> SessionFacts {
        SessionFacts {
            session_id: uuid::Uuid::nil(),
            status: "resolved".into(),
            title: "Outlook password prompts".into(),
            problem_summary: "Outlook keeps asking for a password.".into(),
            problem_domain: "email_m365".into(),
            matched_flow: Some("Outlook keeps asking for a password".into()),
            engineer: "Ada <ada@example.com>".into(),
            escalated_to: None,
            started_at: Utc::now() - chrono::Duration::minutes(12),
            steps: vec![
                StepFacts {
                    step_order: 1,
                    step_type: StepType::Question,
                    content: "One user | or several?".into(),
                    expected_outcome: None,
                    resolution_summary: None,
                    follow_ups: vec![],
                    answer: Some("One user".into()),
                    observations: vec![],
                },
                StepFacts {
                    step_order: 2,
                    step_type: StepType::ResolutionSuggestion,
                    content: "Clear cached credentials".into(),
                    expected_outcome: None,
                    resolution_summary: Some("Stale cached credentials".into()),
                    follow_ups: vec!["Check password changes".into()],
                    answer: None,
                    observations: vec![],
                },
            ],
        }
    }

    #[test]
    fn notes_that_did_not_answer_a_step_are_shown_once_before_its_answer() {
        let mut f = facts();
        f.steps[0].observations = vec!["not sure, it varies".into()];
        let doc = resolved(
            &f,
            "Cleared credentials",
            WrittenText::default(),
            Utc::now(),
        );
        assert_eq!(doc.steps.len(), 2, "no step is repeated");
        assert_eq!(
            doc.steps[0].engineer_response.as_deref(),
            Some("Noted: “not sure, it varies”. Then: One user")
        );
        assert_eq!(doc.markdown.matches("not sure, it varies").count(), 1);
    }

    #[test]
    fn resolved_documentation_reads_like_a_ticket_note() {
        let doc = resolved(
            &facts(),
            "Cleared Credential Manager entries",
            WrittenText::default(),
            Utc::now(),
        );
        assert_eq!(doc.total_steps, 2);
        assert_eq!(doc.duration_minutes, 12);
        assert_eq!(doc.root_cause.as_deref(), Some("Stale cached credentials"));
        assert_eq!(doc.follow_up_recommendations, ["Check password changes"]);
        assert!(doc.markdown.starts_with("# Outlook password prompts\n"));
        assert!(doc
            .markdown
            .contains("## Resolution\n\nCleared Credential Manager entries"));
        assert!(
            doc.markdown
                .contains("| 1 | One user \\| or several? | One user |"),
            "{}",
            doc.markdown
        );
    }

    #[test]
    fn escalation_carries_hypotheses_and_next_steps() {
        let mut f = facts();
        f.status = "escalated".into();
        let doc = escalated(
            &f,
            "Needs tenant admin rights",
            WrittenText::default(),
            Utc::now(),
        );
        assert_eq!(
            doc.escalation_reason.as_deref(),
            Some("Needs tenant admin rights")
        );
        assert_eq!(doc.hypotheses[0].cause, "Stale cached credentials");
        assert!(doc.markdown.contains("## Suggested next steps"));
        assert!(doc.resolution_summary.is_none());
    }
}
