//! The simulated engineer (eval.md): answers each step FlowPilot shows from the case's facts
//! only. It never sees what the case expects.
//!
//! [`ScriptedEngineer`] is deterministic and needs nothing installed; the LLM one is in
//! [`super::llm_engineer`].

use async_trait::async_trait;
use domain::step::{StepOutput, StepType};

use super::words::{negated, says_no_change, shared, stems, tells_scope};

/// What the engineer knows of the ticket.
#[derive(Debug, Clone, Copy)]
pub struct Ticket<'a> {
    pub intake: &'a str,
    pub facts: &'a [String],
}

/// A step as the engineer sees it on the page.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub step: &'a StepOutput,
    /// What FlowPilot said it needs, when it could not tell what the last answer meant.
    pub clarification: Option<&'a str>,
    /// How many answers to this step FlowPilot has kept as unclear.
    pub unclear_answers: usize,
}

/// The engineer's answer to a question or an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// An option (by value), free text, or both.
    Answer {
        option: Option<String>,
        text: Option<String>,
    },
    Skip,
    /// Hands the session over: the engineer cannot answer from what they know.
    Escalate {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineerError {
    #[error("the engineer's model failed: {0}")]
    Provider(#[from] domain::llm::LlmError),
    #[error("the engineer's model answered something unreadable: {0}")]
    Unreadable(String),
}

#[async_trait]
pub trait Engineer: Send + Sync {
    /// `scripted` or `llm:<provider>:<model>`, for the report.
    fn describe(&self) -> String;

    /// The answer to a question or action step (resolution suggestions and escalation
    /// offers end the case before an engineer is asked).
    async fn answer(&self, ticket: &Ticket<'_>, asked: &Asked<'_>) -> Result<Move, EngineerError>;
}

/// Answers from facts by shared words: picks the option a fact names, reports what a fact
/// says about an action, otherwise says it does not know (questions) or that nothing changed
/// (actions).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptedEngineer;

/// An option is named by a fact when at least this share of its label's words is in it.
const OPTION_NAMED: f64 = 0.5;

/// A fact is about an action when it shares this many content words with it, or
/// [`ACTION_FEW_WORDS`] that make up at least [`ACTION_FACT_SHARE`] of the fact.
const ACTION_MANY_WORDS: usize = 3;
const ACTION_FEW_WORDS: usize = 2;
const ACTION_FACT_SHARE: f64 = 0.4;

pub const DONT_KNOW: &str = "I don't know, I haven't checked that.";
pub const NOTHING_CHANGED: &str = "Done, nothing changed.";

#[async_trait]
impl Engineer for ScriptedEngineer {
    fn describe(&self) -> String {
        "scripted".into()
    }

    async fn answer(&self, ticket: &Ticket<'_>, asked: &Asked<'_>) -> Result<Move, EngineerError> {
        Ok(match asked.step.step_type {
            StepType::Action => self.act(ticket, asked),
            _ => self.reply(ticket, asked),
        })
    }
}

impl ScriptedEngineer {
    /// What the engineer knows, most telling first: the facts, then the ticket's own words.
    fn knowledge<'a>(ticket: &Ticket<'a>) -> impl Iterator<Item = &'a str> {
        ticket
            .facts
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(ticket.intake))
    }

    fn reply(&self, ticket: &Ticket<'_>, asked: &Asked<'_>) -> Move {
        let step = asked.step;
        let named = named_option(ticket, step);
        if asked.unclear_answers == 0 {
            if let Some(value) = named.filter(|n| n.clear).map(|n| n.value) {
                return pick(value, None);
            }
            // No option is plainly named: say what is known about it, in the engineer's
            // words, and let FlowPilot read it.
            let mut about = stems(&step.content);
            for o in &step.options {
                about.extend(stems(&o.label));
            }
            let scope =
                tells_scope(&step.content) || step.options.iter().any(|o| tells_scope(&o.label));
            return match best_fact(ticket, &about, scope) {
                Some(fact) => say(fact),
                None => say(DONT_KNOW),
            };
        }
        // Asked again: pick the closest option if any fact leans to one, else give up on
        // the step.
        if let Some(n) = named.filter(|n| n.leaning) {
            return pick(n.value, None);
        }
        if step.allow_skip {
            return Move::Skip;
        }
        Move::Escalate {
            reason: format!(
                "Cannot answer \"{}\" from what is known about the ticket.",
                step.content
            ),
        }
    }

    fn act(&self, ticket: &Ticket<'_>, asked: &Asked<'_>) -> Move {
        let step = asked.step;
        let mut about = stems(&step.content);
        if let Some(expected) = &step.expected_outcome {
            about.extend(stems(expected));
        }
        let fact = Self::knowledge(ticket)
            .take(ticket.facts.len())
            .filter(|f| {
                let words = stems(f);
                let n = shared(&words, &about);
                n >= ACTION_MANY_WORDS
                    || (n >= ACTION_FEW_WORDS
                        && n as f64 / words.len().max(1) as f64 >= ACTION_FACT_SHARE)
            })
            .max_by_key(|f| shared(&stems(f), &about));
        let outcome = match fact {
            Some(f) if !says_no_change(f) => Outcome::Worked,
            _ => Outcome::NoChange,
        };
        let text = fact.map(String::from);
        match (outcome_option(step, outcome), asked.unclear_answers) {
            (Some(value), _) => pick(value, text),
            (None, 0) => say(fact.unwrap_or(NOTHING_CHANGED)),
            (None, _) if step.allow_skip => Move::Skip,
            (None, _) => Move::Escalate {
                reason: format!("Cannot report on \"{}\".", step.content),
            },
        }
    }
}

fn pick(value: String, text: Option<String>) -> Move {
    Move::Answer {
        option: Some(value),
        text,
    }
}

fn say(text: &str) -> Move {
    Move::Answer {
        option: None,
        text: Some(text.to_string()),
    }
}

/// The fact sharing the most content words with `about` (a fact that tells who is affected
/// counts as sharing two more when the step asks about the scope); the earlier fact on a tie.
fn best_fact<'a>(
    ticket: &Ticket<'a>,
    about: &std::collections::BTreeSet<String>,
    asks_scope: bool,
) -> Option<&'a str> {
    let mut best: Option<(&str, usize)> = None;
    for fact in ScriptedEngineer::knowledge(ticket) {
        let mut n = shared(&stems(fact), about);
        if asks_scope && tells_scope(fact) {
            n += 2;
        }
        if n >= 1 && best.is_none_or(|(_, b)| n > b) {
            best = Some((fact, n));
        }
    }
    best.map(|(f, _)| f)
}

struct Named {
    value: String,
    /// A fact names it and no other option as well.
    clear: bool,
    /// Some fact shares a word with it and with no other option as much.
    leaning: bool,
}

/// The option the engineer's knowledge names best, by the share of its label's words found
/// in one fact; a fact that says the opposite ("answers" for "does not answer") counts half.
fn named_option(ticket: &Ticket<'_>, step: &StepOutput) -> Option<Named> {
    let facts: Vec<_> = ScriptedEngineer::knowledge(ticket)
        .map(|f| (stems(f), negated(f)))
        .collect();
    let mut scored: Vec<(f64, &str)> = step
        .options
        .iter()
        .map(|o| {
            let mut label = stems(&o.label);
            if let Some(hint) = &o.followup_hint {
                label.extend(stems(hint));
            }
            let label_negated = negated(&o.label);
            let coverage = facts
                .iter()
                .map(|(f, fact_negated)| {
                    let share = shared(f, &label) as f64 / label.len().max(1) as f64;
                    if *fact_negated == label_negated {
                        share
                    } else {
                        share / 2.0
                    }
                })
                .fold(0.0, f64::max);
            (coverage, o.value.as_str())
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (top, value) = *scored.first()?;
    let runner_up = scored.get(1).map_or(0.0, |s| s.0);
    let unique = top > runner_up;
    Some(Named {
        value: value.to_string(),
        clear: unique && top >= OPTION_NAMED,
        leaning: unique && top > 0.0,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Worked,
    NoChange,
}

/// The option of an action that reports `outcome`, by its label.
fn outcome_option(step: &StepOutput, outcome: Outcome) -> Option<String> {
    let label = |o: &&domain::step::StepOption| o.label.to_lowercase();
    let could_not =
        |l: &str| l.contains("could not") || l.contains("couldn't") || l.contains("unable");
    let no_change = |l: &str| {
        l.contains("no change")
            || l.contains("didn't")
            || l.contains("did not")
            || l.contains("still")
            || l.contains("not fixed")
    };
    let worked = |l: &str| {
        l.contains("worked") || l.contains("fixed") || l.contains("works") || l.contains("resolved")
    };
    step.options
        .iter()
        .find(|o| {
            let l = label(o);
            !could_not(&l)
                && match outcome {
                    Outcome::NoChange => no_change(&l),
                    Outcome::Worked => worked(&l) && !no_change(&l),
                }
        })
        .map(|o| o.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::step::StepOption;

    fn step(step_type: StepType, content: &str, options: &[(&str, &str)]) -> StepOutput {
        StepOutput {
            step_type,
            content: content.into(),
            context_message: None,
            reasoning: None,
            options: options
                .iter()
                .map(|(label, value)| StepOption {
                    label: (*label).into(),
                    value: (*value).into(),
                    followup_hint: None,
                })
                .collect(),
            allow_free_text: true,
            allow_skip: step_type == StepType::Action,
            action_type: None,
            expected_outcome: None,
            resolution_summary: None,
            follow_up_recommendations: Vec::new(),
            confidence: 0.5,
            problem_summary: None,
            problem_domain: None,
        }
    }

    const ACTION_OPTIONS: &[(&str, &str)] = &[
        ("Done, that worked", "done_worked"),
        ("Done, no change", "done_no_change"),
        ("Could not do it", "could_not_do"),
    ];

    fn facts(list: &[&str]) -> Vec<String> {
        list.iter().map(|f| f.to_string()).collect()
    }

    async fn answer(facts: &[String], step: &StepOutput, unclear: usize) -> Move {
        let ticket = Ticket {
            intake: "The office printer shows offline for everyone",
            facts,
        };
        let asked = Asked {
            step,
            clarification: None,
            unclear_answers: unclear,
        };
        ScriptedEngineer.answer(&ticket, &asked).await.unwrap()
    }

    #[tokio::test]
    async fn it_picks_the_option_a_fact_names() {
        let facts = facts(&[
            "The printer answers ping on its new address but the queue points at the old IP",
        ]);
        let q = step(
            StepType::Question,
            "What did you find?",
            &[
                (
                    "Printer answers but the queue points at a different IP",
                    "ip_changed",
                ),
                ("Queue uses a WSD port", "wsd"),
                ("Printer does not answer ping at all", "no_ping"),
            ],
        );
        assert_eq!(answer(&facts, &q, 0).await, pick("ip_changed".into(), None));
    }

    #[tokio::test]
    async fn without_a_named_option_it_says_the_fact_in_its_own_words() {
        let facts = facts(&["Nobody else in the office can print either"]);
        let q = step(
            StepType::Question,
            "Is it one PC or everyone who cannot print?",
            &[("One PC", "one"), ("Several PCs", "several")],
        );
        assert_eq!(
            answer(&facts, &q, 0).await,
            say("Nobody else in the office can print either")
        );
    }

    #[tokio::test]
    async fn it_says_it_does_not_know_and_escalates_when_asked_again() {
        let q = step(
            StepType::Question,
            "Which toner cartridge model is installed?",
            &[("Genuine", "genuine"), ("Compatible", "compatible")],
        );
        assert_eq!(answer(&[], &q, 0).await, say(DONT_KNOW));
        assert!(matches!(answer(&[], &q, 1).await, Move::Escalate { .. }));
    }

    #[tokio::test]
    async fn an_action_a_fact_covers_is_reported_done_with_the_fact() {
        let facts = facts(&["Giving the printer a DHCP reservation at its old address fixes it"]);
        let a = step(
            StepType::Action,
            "Give the printer a DHCP reservation at the address the queues expect",
            ACTION_OPTIONS,
        );
        assert_eq!(
            answer(&facts, &a, 0).await,
            pick("done_worked".into(), Some(facts[0].clone()))
        );
    }

    #[tokio::test]
    async fn an_action_no_fact_covers_changed_nothing() {
        let facts = facts(&["The printer's IP changed after the power cut"]);
        let a = step(
            StepType::Action,
            "Reinstall the printer driver from the manufacturer's website",
            ACTION_OPTIONS,
        );
        assert_eq!(
            answer(&facts, &a, 0).await,
            pick("done_no_change".into(), None)
        );
    }

    #[tokio::test]
    async fn a_fact_that_says_a_fix_did_not_help_is_reported_as_no_change() {
        let facts = facts(&["Restarting the print spooler service didn't help"]);
        let a = step(
            StepType::Action,
            "Restart the Print Spooler service on the print server",
            ACTION_OPTIONS,
        );
        assert_eq!(
            answer(&facts, &a, 0).await,
            pick("done_no_change".into(), Some(facts[0].clone()))
        );
    }
}
