//! What happened after an action: it worked, nothing changed, or it could not be done.
//!
//! Engineers rarely say "done, that worked"; they say "sorted", "same error as before",
//! "no admin rights". Each outcome gathers evidence from cue words (with their negation: "didn't
//! help" is the opposite of "helped") and from the action's expected outcome ("link is up"
//! when a link was expected).

use super::answers::ActionOutcome;
use super::words::{Mark, Polarity, Reading, Token};

/// Evidence for each outcome, in the order of [`ActionOutcome::ALL`].
pub fn evidence(answer: &Reading, expected: Option<&Reading>) -> [f64; 3] {
    let (mut worked, mut no_change, mut could_not) = (0.0f64, 0.0f64, 0.0f64);
    let positive = |t: &Token| t.polarity != Polarity::Negative;
    for token in answer.tokens() {
        let w = token.word.as_str();
        let yes = positive(token);
        match w {
            "fixed" | "help" | "trick" | "perfect" | "better" | "sweet" | "sorted" => {
                if yes {
                    worked += 2.0;
                } else {
                    no_change += 2.0;
                }
            }
            "work" | "recovered" | "connect" | "register" => {
                if yes {
                    worked += 1.5;
                } else {
                    no_change += 1.0;
                }
            }
            "change" | "difference" | "joy" | "luck" | "dice" | "go" | "effect" if !yes => {
                no_change += 2.0;
            }
            "same" if yes => no_change += 2.0,
            "nothing" => no_change += 1.5,
            "able" | "allow" | "admin" | "rights" | "right" | "permission" | "access"
            | "privilege" | "let" | "spare" | "permit"
                if !yes =>
            {
                could_not += 2.0;
            }
            "lock" | "block" | "manage" | "solder" | "soldered" | "locked" => could_not += 1.5,
            _ if w.starts_with("improv") => {
                if yes {
                    worked += 1.5;
                } else {
                    no_change += 2.0;
                }
            }
            _ => {}
        }
    }
    for words in &answer.clauses {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let negated = w.iter().any(|x| matches!(*x, "not" | "no" | "never"));
        if w.contains(&"still") {
            no_change += 2.0;
        }
        let back = w.iter().enumerate().any(|(i, x)| {
            *x == "back"
                && (matches!(w.get(i + 1), Some(&"up" | &"online" | &"to" | &"again"))
                    || (i > 0 && matches!(w[i - 1], "is" | "came" | "come" | "are")))
        });
        if back && !negated {
            worked += 1.5;
        }
        if w.contains(&"now") && !negated {
            worked += 1.0;
        }
        if let Some(i) = w
            .iter()
            .position(|x| matches!(*x, "can" | "could" | "unable"))
        {
            let is_not = *w[i] == *"unable" || w.get(i + 1) == Some(&"not");
            let verb = w.get(i + 2).copied().or(w.get(i + 1).copied());
            if is_not {
                // "can't connect" is the symptom still there; "can't, no access" is the action.
                if verb.is_some_and(symptom) {
                    no_change += 1.5;
                    could_not -= 2.0;
                } else {
                    could_not += 2.0;
                }
            }
        }
    }
    let text = answer
        .clauses
        .iter()
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join(" ");
    for phrase in [
        "gone home",
        "went home",
        "left for the day",
        "on leave",
        "not in today",
        "change freeze",
        "not local admin",
        "not an admin",
        "not admin",
        "needs admin",
        "need admin",
        "requires admin",
        "not on site",
        "is remote",
    ] {
        if text.contains(phrase) {
            could_not += 2.0;
        }
    }
    match answer.mark {
        Some(Mark::Yes) => worked += 1.0,
        Some(Mark::No) => no_change += 1.5,
        None => {}
    }
    if let Some(expected) = expected {
        let (mut agree, mut disagree) = (0.0f64, 0.0f64);
        for token in answer.content() {
            if matches!(token.word.as_str(), "work" | "fixed") {
                continue;
            }
            if let Some(e) = expected.content().find(|e| e.word == token.word) {
                if e.polarity == token.polarity || token.polarity == Polarity::Neutral {
                    agree += 0.75;
                } else {
                    disagree += 0.75;
                }
            }
        }
        worked += agree.min(2.0);
        no_change += disagree.min(2.0);
    }
    [worked, no_change, could_not.max(0.0)]
}

fn symptom(verb: &str) -> bool {
    matches!(
        verb,
        "connect"
            | "contact"
            | "reach"
            | "resolve"
            | "see"
            | "find"
            | "print"
            | "ping"
            | "load"
            | "browse"
            | "signin"
            | "sync"
            | "send"
            | "receive"
    )
}

/// The outcome `evidence` clearly points at.
pub fn decide(evidence: [f64; 3]) -> Option<ActionOutcome> {
    let mut ranked: Vec<(f64, ActionOutcome)> =
        evidence.into_iter().zip(ActionOutcome::ALL).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (best, outcome) = ranked[0];
    (best >= 1.5 && best - ranked[1].0 >= 1.0).then_some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::words::read;

    fn outcome(text: &str) -> Option<ActionOutcome> {
        decide(evidence(&read(text, false), None))
    }

    #[test]
    fn outcomes_are_read_the_way_engineers_say_them() {
        assert_eq!(outcome("sorted it"), Some(ActionOutcome::Worked));
        assert_eq!(outcome("that fixed it"), Some(ActionOutcome::Worked));
        assert_eq!(
            outcome("same error as before"),
            Some(ActionOutcome::NoChange)
        );
        assert_eq!(outcome("didn't help"), Some(ActionOutcome::NoChange));
        assert_eq!(
            outcome("I'm not allowed to run that"),
            Some(ActionOutcome::CouldNotDo)
        );
        assert_eq!(outcome("no admin rights"), Some(ActionOutcome::CouldNotDo));
        assert_eq!(
            outcome("still can't connect"),
            Some(ActionOutcome::NoChange)
        );
        assert_eq!(outcome("done"), None);
        assert_eq!(outcome("the sky is blue"), None);
    }
}
