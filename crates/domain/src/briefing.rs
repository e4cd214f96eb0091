//! The briefing (escalation.md "Briefing"): what a senior engineer reads in seconds when they
//! take a session on. Built from the stored hand-off package and the steps, never from a new
//! AI call, so it is the same every time it is read and costs nothing.

use serde::Serialize;

use crate::documentation::{Documentation, Likelihood};
use crate::session::Session;
use crate::step::{Step, StepType};
use crate::text::clip;

/// What the offline hand-off writes before what it ruled out (engine offline/handoff.rs):
/// those lines belong under "ruled out", not under the next steps.
const RULED_OUT_PREFIX: &str = "Already ruled out by the answers, no need to repeat: ";
const TRIED_PREFIX: &str = "Tried and did not fix it: ";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BriefStep {
    pub step_order: i64,
    pub step_type: String,
    /// What was asked or done.
    pub asked: String,
    /// What it showed: the engineer's answer and notes; `None` for the open step.
    pub showed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BriefHypothesis {
    pub cause: String,
    pub likelihood: Likelihood,
    /// What to check next for this cause.
    pub suggested_steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Briefing {
    pub title: String,
    pub problem: String,
    pub reason: String,
    pub environment: Vec<Fact>,
    pub steps: Vec<BriefStep>,
    pub ruled_out: Vec<String>,
    pub hypotheses: Vec<BriefHypothesis>,
    /// The session's confidence when it was handed over.
    pub confidence_score: f64,
    pub confidence_tier: &'static str,
}

/// The briefing of `session` from its hand-off package `package` and its `steps`.
pub fn build(session: &Session, steps: &[Step], package: &Documentation) -> Briefing {
    let mut environment = vec![Fact {
        label: "Domain".into(),
        value: crate::flow::domain_label(&package.problem_domain),
    }];
    if let Some(flow) = &session.matched_flow_name {
        let score = session
            .match_score
            .map(|s| format!(" (match {:.0}%)", s * 100.0))
            .unwrap_or_default();
        environment.push(Fact {
            label: "Flow".into(),
            value: format!("{flow}{score}"),
        });
    }
    if let Some(log) = session.intake.log.as_deref() {
        if let Some(first) = log.lines().map(str::trim).find(|l| !l.is_empty()) {
            environment.push(Fact {
                label: "Log".into(),
                value: clip(first, 160),
            });
        }
    }
    environment.push(Fact {
        label: "Guided by".into(),
        value: session.engine.clone(),
    });
    environment.push(Fact {
        label: "Time spent".into(),
        value: format!(
            "{} min, {} step{}",
            package.duration_minutes,
            package.total_steps,
            if package.total_steps == 1 { "" } else { "s" }
        ),
    });

    let mut ruled_out = Vec::new();
    let mut next_steps = Vec::new();
    for line in &package.follow_up_recommendations {
        let listed = line
            .strip_prefix(RULED_OUT_PREFIX)
            .or_else(|| line.strip_prefix(TRIED_PREFIX));
        match listed {
            // Each item ends with its step in brackets, and a cause may hold "; " itself.
            Some(rest) => ruled_out.extend(
                rest.trim_end_matches('.')
                    .split("); ")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        if s.ends_with(')') {
                            s.to_string()
                        } else {
                            format!("{s})")
                        }
                    }),
            ),
            None => next_steps.push(line.clone()),
        }
    }
    // A fix that was suggested and answered, with the session going on, did not fix it.
    for st in steps {
        let is_last = st.step_order == session.step_count;
        if st.output.step_type == StepType::ResolutionSuggestion
            && st.response.is_some()
            && !is_last
        {
            let fix = st
                .output
                .resolution_summary
                .clone()
                .unwrap_or_else(|| st.output.content.clone());
            if !ruled_out.iter().any(|r| r.contains(&fix)) {
                ruled_out.push(format!("{fix} (suggested at step {})", st.step_order));
            }
        }
    }

    let hypotheses = package
        .hypotheses
        .iter()
        .enumerate()
        .map(|(i, h)| BriefHypothesis {
            cause: h.cause.clone(),
            likelihood: h.likelihood,
            // The package's next steps check the most likely cause first; the others are
            // what remains once it is ruled out.
            suggested_steps: if i == 0 {
                next_steps.clone()
            } else {
                Vec::new()
            },
        })
        .collect();

    Briefing {
        title: package.title.clone(),
        problem: package.problem_summary.clone(),
        reason: package.escalation_reason.clone().unwrap_or_default(),
        environment,
        steps: package
            .steps
            .iter()
            .map(|s| BriefStep {
                step_order: s.step_order,
                step_type: s.step_type.clone(),
                asked: s.description.clone(),
                showed: s.engineer_response.clone(),
            })
            .collect(),
        ruled_out,
        hypotheses,
        confidence_score: session.confidence_score,
        confidence_tier: session.confidence_tier().as_str(),
    }
}

/// The briefing as the text of a briefing step (Markdown), for the claimer who continues
/// and for the LLM pilot, which reads it in the session's history.
pub fn as_markdown(b: &Briefing, from: &str) -> String {
    use std::fmt::Write;
    let mut md = String::new();
    let _ = writeln!(md, "**Picked up from {from}.** {}\n", b.reason.trim());
    let _ = writeln!(md, "**Problem:** {}\n", b.problem);
    if !b.steps.is_empty() {
        let _ = writeln!(md, "**What was tried:**");
        for s in &b.steps {
            let _ = writeln!(
                md,
                "{}. {} → {}",
                s.step_order,
                s.asked.replace('\n', " "),
                s.showed.as_deref().unwrap_or("(open)")
            );
        }
        let _ = writeln!(md);
    }
    if !b.ruled_out.is_empty() {
        let _ = writeln!(md, "**Ruled out:** {}\n", b.ruled_out.join("; "));
    }
    if !b.hypotheses.is_empty() {
        let _ = writeln!(md, "**Likely:**");
        for h in &b.hypotheses {
            let _ = writeln!(md, "- {} ({})", h.cause, h.likelihood.as_str());
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruled_out_lines_leave_the_next_steps() {
        let lines = [
            "Continue from the open step: Is the VPN client connected?".to_string(),
            format!("{RULED_OUT_PREFIX}Expired certificate (step 2: No); DNS (step 3: Yes)."),
        ];
        let mut ruled = Vec::new();
        let mut next = Vec::new();
        for line in &lines {
            match line.strip_prefix(RULED_OUT_PREFIX) {
                Some(rest) => {
                    ruled.extend(rest.trim_end_matches('.').split("; ").map(String::from))
                }
                None => next.push(line.clone()),
            }
        }
        assert_eq!(
            ruled,
            ["Expired certificate (step 2: No)", "DNS (step 3: Yes)"]
        );
        assert_eq!(next.len(), 1);
    }
}
