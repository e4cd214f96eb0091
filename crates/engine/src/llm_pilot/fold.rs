//! When earlier steps are folded into a summary, and the summary itself.
//!
//! The session is appended turn by turn after the intake and the flow. Only when the turns since
//! the last fold pass a token budget (or a count that keeps them within the window of steps a
//! respond reads) are the older ones folded, all but the newest few at once, so the prompt then
//! stays the same up to its newest turn for many steps again. Where the last fold was is kept in
//! each step's state: the next request folds at the same place until the budget is passed again,
//! whatever window of steps it is given.

use domain::step::EarlierSteps;
use serde_json::Value;

use super::context::{merged_line, summary_line};
use super::text::clip_line;
use crate::pilot::History;

/// Turns after the last fold may take this many tokens (about four characters each) before
/// the older ones are folded.
pub(super) const TURN_BUDGET_TOKENS: usize = 3_000;
const CHARS_PER_TOKEN: usize = 4;
/// Turns after the last fold, at most: those steps must be among the ones a respond reads.
pub(super) const MAX_TURNS: usize = 24;
/// Turns kept in full when folding, at most, and the share of the budget they may take: the
/// model still sees how it got to the current step, and the budget is left mostly free, so the
/// next fold is many steps away.
pub(super) const KEEP_TURNS: usize = 4;
const KEEP_SHARE: usize = 4;
/// Folded steps shown one line each; older ones only counted.
pub(super) const SUMMARY_LINES: usize = 12;
/// Steps a respond reads in full: the turns after the fold, the summary's lines and the step
/// that ends the fold.
pub(super) const WINDOW: usize = MAX_TURNS + SUMMARY_LINES + 1;

const STATE_KEY: &str = "folded";

/// Steps folded into the summary, as the request that produced `state`'s step decided.
pub(super) fn folded_in(state: &Value) -> usize {
    state
        .get(STATE_KEY)
        .and_then(Value::as_u64)
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// `state` with where the fold was for the step it belongs to.
pub(super) fn with_folded(mut state: Value, folded: usize) -> Value {
    if folded == 0 {
        return state;
    }
    if !state.is_object() {
        state = Value::Object(Default::default());
    }
    state[STATE_KEY] = Value::from(folded as u64);
    state
}

/// How many of the session's steps to fold for the next request: the previous request's fold
/// while the turns after it fit, otherwise all but the newest [`KEEP_TURNS`] (fewer when they
/// take more than a quarter of the budget).
///
/// `turn_chars(k)` is the size of the turns from step `k` on (0-based, absolute) as they would
/// be sent after a fold of `k` steps; it is only asked about steps within the history's window.
pub(super) fn plan(history: History<'_>, turn_chars: impl Fn(usize) -> usize) -> usize {
    let steps = history.len();
    // The first step in full; a fold must leave its last folded step in full too, since the
    // answer to it opens the turns after the summary.
    let first_full = history.earlier.steps.max(0) as usize;
    let fits = |folded: usize| {
        (folded > first_full || folded == 0 && first_full == 0)
            && steps - folded <= MAX_TURNS
            && turn_chars(folded) <= TURN_BUDGET_TOKENS * CHARS_PER_TOKEN
    };
    let previous = history
        .last()
        .map_or(0, |last| folded_in(&last.state))
        .min(steps);
    if fits(previous) {
        return previous;
    }
    let keep_from = steps
        .saturating_sub(KEEP_TURNS)
        .max(first_full + 1)
        .min(steps);
    let keep_chars = TURN_BUDGET_TOKENS * CHARS_PER_TOKEN / KEEP_SHARE;
    (keep_from..steps)
        .find(|&k| turn_chars(k) <= keep_chars)
        .unwrap_or(steps)
}

/// The summary that stands for the first `folded` steps, in the assistant's voice, from those
/// steps alone: the same text in every request that folds there.
pub(super) fn summary(history: History<'_>, folded: usize) -> String {
    let first_full = history.earlier.steps.max(0) as usize;
    let lines_from = folded.saturating_sub(SUMMARY_LINES).max(first_full);
    let window = |from: usize, to: usize| {
        let (from, to) = (from - first_full, to.saturating_sub(first_full));
        &history.recent[from.min(to)..to.min(history.recent.len())]
    };
    let then = |earlier: EarlierSteps, step: &crate::pilot::PastStep| {
        earlier.then(
            &step.output,
            step.answer.as_ref().is_some_and(|a| a.skipped),
        )
    };
    let counted = window(first_full, lines_from)
        .iter()
        .fold(history.earlier.clone(), then);
    let lined = window(lines_from, folded);
    let through = lined.iter().fold(counted.clone(), then);

    let mut out = format!(
        "(Steps 1–{folded} of this session, in brief; their details are no longer shown.)\n"
    );
    if let Some(summary) = through.problem_summary.as_deref() {
        out.push_str(&format!("Problem summary: {}\n", clip_line(summary, 300)));
    }
    if let Some(domain) = through.problem_domain.as_deref() {
        out.push_str(&format!("Problem domain: {}\n", clip_line(domain, 60)));
    }
    if counted.steps > 0 {
        out.push_str(&format!("- {}\n", merged_line(&counted)));
    }
    for (i, step) in lined.iter().enumerate() {
        out.push_str(&format!("- {}\n", summary_line(lines_from + i + 1, step)));
    }
    out
}
