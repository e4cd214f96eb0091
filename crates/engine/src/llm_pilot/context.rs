//! The intake and the session so far, rendered for a prompt with bounded size.
//!
//! A step request tells the session turn by turn (`turns`, `fold`). The one-off calls that
//! write the documentation and the hand-off get it in one message ([`render_session`]): the
//! last [`RECENT_STEPS`] steps in full, older ones as one capped line each, and past
//! [`MAX_SUMMARY_LINES`] of those the oldest merged into a single count. Every field is
//! clipped, so either rendering has an upper bound whatever the session's length or the length
//! of what the engineer typed.

use domain::step::{EarlierSteps, StepOutput, StepType};

use super::text::{clip, clip_line, head_and_tail};
use crate::pilot::{History, Intake, PastStep, StepAnswer};

/// Steps shown in full, newest last.
pub(super) const RECENT_STEPS: usize = 6;
/// Older steps shown as one line each; anything older is merged into a count.
pub(super) const MAX_SUMMARY_LINES: usize = 12;
const SUMMARY_LINE_CHARS: usize = 140;
const SUMMARY_CONTENT_CHARS: usize = 65;
const SUMMARY_ANSWER_CHARS: usize = 60;

const INTAKE_TEXT_CHARS: usize = 4_000;
/// Logs may be 200,000 characters; the model gets their head and tail.
pub(super) const INTAKE_LOG_CHARS: usize = 6_000;

pub(super) const CONTENT_CHARS: usize = 800;
const ANSWER_CHARS: usize = 800;
pub(super) const DETAIL_CHARS: usize = 300;
pub(super) const LABEL_CHARS: usize = 80;
pub(super) const PROBLEM_CHARS: usize = 300;

/// The engineer's description and log.
pub(super) fn render_intake(intake: &Intake) -> String {
    let text = intake
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let log = intake
        .log
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let mut out = String::new();
    if let Some(text) = text {
        out.push_str("Description:\n");
        out.push_str(&head_and_tail(text, INTAKE_TEXT_CHARS));
        out.push('\n');
    }
    if let Some(log) = log {
        let total = log.chars().count();
        if total > INTAKE_LOG_CHARS {
            out.push_str(&format!(
                "Log ({total} characters; only its beginning and end are shown):\n"
            ));
        } else {
            out.push_str("Log:\n");
        }
        out.push_str(&head_and_tail(log, INTAKE_LOG_CHARS));
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("(The engineer gave no description.)\n");
    }
    out
}

/// The session so far in one text, for the documentation and hand-off calls: the problem as
/// established, a summary of older steps, and the recent steps in full with the engineer's
/// answers.
pub(super) fn render_session(history: History<'_>) -> String {
    if history.is_empty() {
        return "No steps yet.\n".to_string();
    }
    let mut out = String::new();
    let (summary, domain) = established_problem(history);
    if let Some(summary) = summary {
        out.push_str(&format!(
            "Problem summary: {}\n",
            clip_line(summary, PROBLEM_CHARS)
        ));
    }
    if let Some(domain) = domain {
        out.push_str(&format!("Problem domain: {}\n", clip_line(domain, 60)));
    }

    let before = history.earlier.steps.max(0) as usize;
    let split = history.recent.len().saturating_sub(RECENT_STEPS);
    let (older, recent) = history.recent.split_at(split);
    if before + older.len() > 0 {
        out.push_str("Earlier steps (summarised):\n");
        // Past the summary lines, the oldest steps are only counted: those the history gives
        // in brief and any it gives in full beyond what the lines can hold.
        let lines_from = older.len().saturating_sub(MAX_SUMMARY_LINES);
        let counted = older[..lines_from]
            .iter()
            .fold(history.earlier.clone(), |earlier, step| {
                earlier.then(
                    &step.output,
                    step.answer.as_ref().is_some_and(|a| a.skipped),
                )
            });
        if counted.steps > 0 {
            out.push_str(&format!("- {}\n", merged_line(&counted)));
        }
        for (i, step) in older.iter().enumerate().skip(lines_from) {
            out.push_str(&format!("- {}\n", summary_line(before + i + 1, step)));
        }
    }
    out.push_str("Recent steps (in full):\n");
    for (i, step) in recent.iter().enumerate() {
        out.push_str(&full_step(before + split + i + 1, step));
    }
    out
}

/// The latest non-empty problem summary and domain: later steps may refine the first one's.
fn established_problem<'h>(history: History<'h>) -> (Option<&'h str>, Option<&'h str>) {
    let latest = |get: fn(&StepOutput) -> Option<&str>, earlier: Option<&'h str>| {
        history
            .recent
            .iter()
            .rev()
            .filter_map(|s| get(&s.output))
            .find(|v| !v.trim().is_empty())
            .or(earlier)
    };
    (
        latest(
            |o| o.problem_summary.as_deref(),
            history.earlier.problem_summary.as_deref(),
        ),
        latest(
            |o| o.problem_domain.as_deref(),
            history.earlier.problem_domain.as_deref(),
        ),
    )
}

/// One line for an old step, e.g. `#3 action: Run ipconfig /all → chose "done, no change"`.
pub(super) fn summary_line(number: usize, step: &PastStep) -> String {
    let line = format!(
        "#{number} {}: {} → {}",
        type_name(step.output.step_type),
        clip_line(&step.output.content, SUMMARY_CONTENT_CHARS),
        clip_line(
            &render_answer(&step.output, step.answer.as_ref()),
            SUMMARY_ANSWER_CHARS
        )
    );
    clip(&line, SUMMARY_LINE_CHARS)
}

/// The oldest steps, reduced to what kinds of steps they were.
pub(super) fn merged_line(steps: &EarlierSteps) -> String {
    let count = |n: i64| n.max(0) as usize;
    let mut parts = vec![
        plural(count(steps.questions), "question"),
        plural(count(steps.actions), "action"),
        plural(count(steps.resolution_suggestions), "resolution suggestion"),
    ];
    parts.retain(|p| !p.starts_with("0 "));
    let mut line = format!(
        "Steps 1–{}: {} (details no longer shown)",
        steps.steps,
        parts.join(", ")
    );
    if steps.skipped > 0 {
        line.push_str(&format!("; {} skipped", steps.skipped));
    }
    line
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn type_name(step_type: StepType) -> &'static str {
    match step_type {
        StepType::Question => "question",
        StepType::Action => "action",
        StepType::ResolutionSuggestion => "resolution suggestion",
    }
}

/// A recent step with everything the model needs to continue from it.
fn full_step(number: usize, step: &PastStep) -> String {
    let o = &step.output;
    let mut out = format!(
        "Step {number} — {} (confidence {:.2}): {}\n",
        type_name(o.step_type),
        o.confidence,
        clip(o.content.trim(), CONTENT_CHARS)
    );
    if let Some(expected) = o
        .expected_outcome
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        out.push_str(&format!(
            "  Expected outcome: {}\n",
            clip_line(expected, DETAIL_CHARS)
        ));
    }
    if let Some(summary) = o
        .resolution_summary
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        out.push_str(&format!(
            "  Proposed resolution: {}\n",
            clip_line(summary, DETAIL_CHARS)
        ));
    }
    if !o.options.is_empty() {
        let labels: Vec<String> = o
            .options
            .iter()
            .take(llm::contract::MAX_OPTIONS)
            .map(|opt| clip_line(&opt.label, LABEL_CHARS))
            .collect();
        out.push_str(&format!("  Options: {}\n", labels.join(" | ")));
    }
    out.push_str(&format!(
        "  Engineer's answer: {}\n",
        render_answer(o, step.answer.as_ref())
    ));
    out
}

/// The engineer's answer as the model should read it: the chosen option's label (not its
/// value, which may be an opaque identifier), any free text, or that the step was skipped.
pub(super) fn render_answer(step: &StepOutput, answer: Option<&StepAnswer>) -> String {
    let Some(answer) = answer else {
        return "(not answered)".to_string();
    };
    if answer.skipped {
        return "skipped".to_string();
    }
    let mut parts = Vec::new();
    if let Some(value) = answer.selected_option.as_deref() {
        let label = step
            .options
            .iter()
            .find(|o| o.value == value)
            .map_or(value, |o| o.label.as_str());
        parts.push(format!("chose \"{}\"", clip_line(label, LABEL_CHARS)));
    }
    if let Some(text) = answer
        .free_text_input
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        parts.push(format!("wrote \"{}\"", clip(text, ANSWER_CHARS)));
    }
    if parts.is_empty() {
        "(no answer)".to_string()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::step::StepOption;

    fn step(step_type: StepType, content: &str, answer: Option<StepAnswer>) -> PastStep {
        PastStep {
            output: StepOutput {
                step_type,
                content: content.into(),
                context_message: None,
                reasoning: None,
                options: vec![
                    StepOption {
                        label: "Done, no change".into(),
                        value: "no_change".into(),
                        followup_hint: None,
                    },
                    StepOption {
                        label: "Done, that worked".into(),
                        value: "worked".into(),
                        followup_hint: None,
                    },
                ],
                allow_free_text: true,
                allow_skip: true,
                action_type: None,
                expected_outcome: None,
                resolution_summary: None,
                follow_up_recommendations: vec![],
                confidence: 0.5,
                problem_summary: None,
                problem_domain: None,
            },
            state: serde_json::Value::Null,
            answer,
            observations: Vec::new(),
            marks: Default::default(),
        }
    }

    fn chose(value: &str, text: Option<&str>) -> Option<StepAnswer> {
        Some(StepAnswer {
            selected_option: Some(value.into()),
            free_text_input: text.map(Into::into),
            skipped: false,
        })
    }

    #[test]
    fn answers_show_labels_free_text_or_skip() {
        let s = step(StepType::Action, "Run ipconfig /all", None);
        assert_eq!(render_answer(&s.output, None), "(not answered)");
        assert_eq!(
            render_answer(
                &s.output,
                chose("no_change", Some("still 169.254.x.x")).as_ref()
            ),
            "chose \"Done, no change\"; wrote \"still 169.254.x.x\""
        );
        assert_eq!(
            render_answer(&s.output, chose("unknown_value", None).as_ref()),
            "chose \"unknown_value\""
        );
        let skipped = StepAnswer {
            skipped: true,
            ..StepAnswer::default()
        };
        assert_eq!(render_answer(&s.output, Some(&skipped)), "skipped");
        assert_eq!(
            render_answer(&s.output, Some(&StepAnswer::default())),
            "(no answer)"
        );
    }

    #[test]
    fn old_steps_become_one_line_summaries() {
        let history: Vec<PastStep> = (0..10)
            .map(|i| {
                step(
                    StepType::Action,
                    &format!("Check thing {i}\nin detail"),
                    chose("no_change", None),
                )
            })
            .collect();
        let text = render_session(History::whole(&history));
        assert!(
            text.contains("- #1 action: Check thing 0 in detail → chose \"Done, no change\"\n"),
            "{text}"
        );
        assert!(text.contains("- #4 action: Check thing 3"));
        assert!(!text.contains("- #5 "));
        assert!(text.contains("Step 5 — action (confidence 0.50): Check thing 4\nin detail\n"));
        assert!(text.contains("Step 10 — action"));
    }

    #[test]
    fn the_oldest_summaries_merge_into_a_count() {
        let mut history: Vec<PastStep> = (0..30)
            .map(|i| {
                step(
                    StepType::Question,
                    &format!("Question {i}"),
                    chose("worked", None),
                )
            })
            .collect();
        history[0].output.problem_summary = Some("Outlook prompts for a password".into());
        history[0].output.problem_domain = Some("email".into());
        history[1].answer = Some(StepAnswer {
            skipped: true,
            ..StepAnswer::default()
        });
        let text = render_session(History::whole(&history));
        let merged = 30 - RECENT_STEPS - MAX_SUMMARY_LINES;
        assert!(text.starts_with(
            "Problem summary: Outlook prompts for a password\nProblem domain: email\n"
        ));
        assert!(text.contains(&format!(
            "- Steps 1–{merged}: {merged} questions (details no longer shown); 1 skipped\n"
        )));
        assert!(text.contains(&format!("- #{} question", merged + 1)));
        assert!(!text.contains(&format!("- #{} question", merged)));
    }

    #[test]
    fn a_session_told_in_brief_reads_as_the_same_session_told_in_full() {
        let mut history: Vec<PastStep> = (0..30)
            .map(|i| {
                let kind = [StepType::Question, StepType::Action][i % 2];
                step(kind, &format!("Step text {i}"), chose("worked", None))
            })
            .collect();
        history[2].output.problem_summary = Some("Printer offline for everyone".into());
        history[3].answer = Some(StepAnswer {
            skipped: true,
            ..StepAnswer::default()
        });
        let full = render_session(History::whole(&history));
        // What the session loop hands a pilot: the newest steps it asks for, the rest in brief.
        for recent in [RECENT_STEPS + MAX_SUMMARY_LINES, RECENT_STEPS + 3, 1] {
            let split = history.len() - recent;
            let earlier = history[..split]
                .iter()
                .fold(EarlierSteps::default(), |e, s| {
                    e.then(&s.output, s.answer.as_ref().is_some_and(|a| a.skipped))
                });
            let told = History {
                earlier: &earlier,
                recent: &history[split..],
            };
            assert_eq!(told.len(), 30);
            if recent >= RECENT_STEPS + MAX_SUMMARY_LINES {
                assert_eq!(render_session(told), full, "{recent} recent steps");
            } else {
                // Fewer than the pilot asks for: less detail, the same numbering and problem.
                let text = render_session(told);
                assert!(text.starts_with("Problem summary: Printer offline for everyone\n"));
                assert!(text.contains("Step 30 — "), "{text}");
                assert!(
                    text.contains("(details no longer shown); 1 skipped"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn long_logs_keep_head_and_tail() {
        let log = format!(
            "FIRST LINE\n{}\nLAST ERROR 0x80070005",
            "noise ".repeat(10_000)
        );
        let intake = Intake {
            text: Some("Updates fail".into()),
            log: Some(log),
        };
        let text = render_intake(&intake);
        assert!(text.contains("Description:\nUpdates fail\n"));
        assert!(text.contains("FIRST LINE"));
        assert!(text.contains("LAST ERROR 0x80070005"));
        assert!(text.chars().count() < INTAKE_LOG_CHARS + 200);
    }
}
