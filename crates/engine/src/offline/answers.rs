//! Understanding an engineer's free-text answer to a step: which option it means, or that it
//! is unclear (engine.md, "The offline engine").
//!
//! Rules, not a model, so the same answer always gives the same result and the engine works
//! without anything installed. Each option earns evidence from words shared with its label,
//! value and hint (agreeing in negation), from yes/no, from who is affected, and from measured
//! values; an action's outcome from its own cues ([`super::outcomes`]). The answer is read as
//! an option only when one option clearly leads; otherwise the result says so, and which
//! options were close, so the caller can ask.
//!
//! An embedder can add its similarity as one more piece of evidence ([`AnswerSimilarity`]);
//! the rules are built to be right without it.

use std::sync::Arc;

use domain::flow::FlowNode;
use domain::step::{StepOutput, StepType};

use super::outcomes;
use super::people;
use super::values;
use super::words::{self, Mark, Polarity, Reading, Token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    Worked,
    NoChange,
    CouldNotDo,
}

impl ActionOutcome {
    pub const ALL: [ActionOutcome; 3] = [
        ActionOutcome::Worked,
        ActionOutcome::NoChange,
        ActionOutcome::CouldNotDo,
    ];

    pub fn value(self) -> &'static str {
        match self {
            ActionOutcome::Worked => "done_worked",
            ActionOutcome::NoChange => "done_no_change",
            ActionOutcome::CouldNotDo => "could_not_do",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ActionOutcome::Worked => "Done, that worked",
            ActionOutcome::NoChange => "Done, no change",
            ActionOutcome::CouldNotDo => "Could not do it",
        }
    }

    pub fn from_value(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.value() == v)
    }
}

/// Whether the step asks something or asks for something to be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Question,
    Action,
}

/// One choice offered on a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub label: String,
    pub value: String,
    pub hint: Option<String>,
}

/// What the answer is an answer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedStep {
    pub kind: StepKind,
    /// The question or the instruction.
    pub text: String,
    /// For an action, what should happen when it works.
    pub expected_outcome: Option<String>,
    pub choices: Vec<Choice>,
}

impl AskedStep {
    /// A question or action node of a flow as the offline engine shows it; other nodes ask
    /// nothing.
    pub fn from_node(node: &FlowNode) -> Option<AskedStep> {
        match node {
            FlowNode::Question { text, options, .. } => Some(AskedStep {
                kind: StepKind::Question,
                text: text.clone(),
                expected_outcome: None,
                choices: options
                    .iter()
                    .map(|o| Choice {
                        label: o.label.clone(),
                        value: o.value.clone(),
                        hint: None,
                    })
                    .collect(),
            }),
            FlowNode::Action {
                text,
                expected_outcome,
                ..
            } => Some(AskedStep {
                kind: StepKind::Action,
                text: text.clone(),
                expected_outcome: expected_outcome.clone(),
                choices: ActionOutcome::ALL
                    .iter()
                    .map(|o| Choice {
                        label: o.label().into(),
                        value: o.value().into(),
                        hint: None,
                    })
                    .collect(),
            }),
            FlowNode::Solution { .. } | FlowNode::Escalate { .. } => None,
        }
    }

    /// A step as any engine produced it. An action is read by outcome only when it offers
    /// the offline engine's outcome options.
    pub fn from_output(step: &StepOutput) -> AskedStep {
        let outcomes = step
            .options
            .iter()
            .any(|o| ActionOutcome::from_value(&o.value).is_some());
        AskedStep {
            kind: if step.step_type == StepType::Action && outcomes {
                StepKind::Action
            } else {
                StepKind::Question
            },
            text: step.content.clone(),
            expected_outcome: step.expected_outcome.clone(),
            choices: step
                .options
                .iter()
                .map(|o| Choice {
                    label: o.label.clone(),
                    value: o.value.clone(),
                    hint: o.followup_hint.clone(),
                })
                .collect(),
        }
    }
}

/// What an answer was understood as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Understood {
    /// The value of the option the answer means.
    Chosen(String),
    Unclear(Unclear),
}

impl Understood {
    pub fn value(&self) -> Option<&str> {
        match self {
            Understood::Chosen(v) => Some(v),
            Understood::Unclear(_) => None,
        }
    }
}

/// Why an answer was not read as an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unclear {
    /// Nothing in the answer points at any option.
    NothingFits,
    /// These options (values, closest first) fit about equally well.
    Between(Vec<String>),
}

/// A similarity between an answer and an option's text, in 0..=1, from a sentence embedder.
/// It must be deterministic for a given model. `None` when it cannot say.
pub trait AnswerSimilarity: Send + Sync {
    fn similarity(&self, answer: &str, option: &str) -> Option<f64>;
}

/// Reads answers; optionally with an embedder's similarity as extra evidence.
#[derive(Clone, Default)]
pub struct AnswerReader {
    similarity: Option<Arc<dyn AnswerSimilarity>>,
}

/// The least evidence that names an option, and the lead it needs over the next one.
const ENOUGH: f64 = 0.5;
const LEAD: f64 = 0.5;
/// What a word of the question itself counts for, against a word only the option has.
const TOPIC: f64 = 0.5;
/// How much an embedder's similarity (above the mean over the options) counts.
const SIMILARITY_WEIGHT: f64 = 1.5;

impl AnswerReader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_similarity(similarity: Arc<dyn AnswerSimilarity>) -> Self {
        AnswerReader {
            similarity: Some(similarity),
        }
    }

    /// The evidence for each option (by value), as [`AnswerReader::read`] weighs it: for
    /// diagnosing a reading, not for deciding.
    pub fn evidence(&self, step: &AskedStep, text: &str) -> Vec<(String, f64)> {
        let mut scores = match step.kind {
            StepKind::Action => action_scores(step, text),
            StepKind::Question => question_scores(step, text),
        };
        if let Some(similarity) = &self.similarity {
            add_similarity(similarity.as_ref(), step, text, &mut scores);
        }
        step.choices
            .iter()
            .map(|c| c.value.clone())
            .zip(scores)
            .collect()
    }

    pub fn read(&self, step: &AskedStep, text: &str) -> Understood {
        let trimmed = text.trim();
        if trimmed.is_empty() || step.choices.is_empty() {
            return Understood::Unclear(Unclear::NothingFits);
        }
        if let Some(exact) = exact(step, trimmed) {
            return Understood::Chosen(exact);
        }
        let mut scores = match step.kind {
            StepKind::Action => action_scores(step, trimmed),
            StepKind::Question => question_scores(step, trimmed),
        };
        if let Some(similarity) = &self.similarity {
            add_similarity(similarity.as_ref(), step, trimmed, &mut scores);
        }
        decide(step, &scores)
    }
}

/// Reads `text` as an answer to `step` with the rules alone.
pub fn understand(step: &AskedStep, text: &str) -> Understood {
    AnswerReader::new().read(step, text)
}

fn exact(step: &AskedStep, text: &str) -> Option<String> {
    let norm = |s: &str| {
        s.trim()
            .trim_end_matches(['.', '!'])
            .to_lowercase()
            .replace('_', " ")
    };
    let said = norm(text);
    step.choices
        .iter()
        .find(|c| norm(&c.value) == said || norm(&c.label) == said)
        .map(|c| c.value.clone())
}

fn action_scores(step: &AskedStep, text: &str) -> Vec<f64> {
    let answer = words::read(text, false);
    let expected = step
        .expected_outcome
        .as_deref()
        .map(|e| words::read(e, false));
    let evidence = outcomes::evidence(&answer, expected.as_ref());
    let decided = outcomes::decide(evidence);
    // Outcome evidence has its own scale; map it onto the step's choices so that the shared
    // decision sees one clear winner or none.
    step.choices
        .iter()
        .map(|c| match ActionOutcome::from_value(&c.value) {
            Some(o) if Some(o) == decided => ENOUGH + LEAD + 1.0,
            Some(o) => {
                let i = ActionOutcome::ALL.iter().position(|x| *x == o).unwrap_or(0);
                if decided.is_none() && evidence[i] >= 1.5 {
                    ENOUGH
                } else {
                    0.0
                }
            }
            None => 0.0,
        })
        .collect()
}

/// One option as read for comparison.
struct OptionReading {
    label: Reading,
    /// Words of the value and hint: evidence when said, never a contradiction.
    extra: Vec<String>,
    markers: Vec<&'static str>,
    range: Option<values::Range>,
    mark: Option<Mark>,
}

fn question_scores(step: &AskedStep, text: &str) -> Vec<f64> {
    let vocabulary: Vec<String> = std::iter::once(step.text.as_str())
        .chain(step.choices.iter().map(|c| c.label.as_str()))
        .flat_map(|t| {
            t.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let known = |w: &str| words::known(w) || vocabulary.iter().any(|v| v == w);
    let mut options: Vec<OptionReading> = step
        .choices
        .iter()
        .map(|c| {
            let label = words::read(&c.label, true);
            // A value's short filler words ("no", "all" in `no_link`, `all_sites`) say
            // nothing the label does not say better.
            let mut extra: Vec<String> = c
                .value
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| w.len() > 3 || (!w.is_empty() && !words::known(w)))
                .map(words::canonical)
                .collect();
            if let Some(hint) = &c.hint {
                extra.extend(words::read(hint, false).content().map(|t| t.word.clone()));
            }
            OptionReading {
                markers: people::markers(&label.clauses, &known),
                range: values::range(&label.clauses),
                mark: label.mark,
                label,
                extra,
            }
        })
        .collect();
    infer_marks(step, &mut options);

    let answer = words::read(text, false);
    let answer_markers = people::markers(&answer.clauses, &known);
    let mut said: Vec<Token> = Vec::new();
    for t in answer.tokens() {
        if !said
            .iter()
            .any(|s| s.word == t.word && s.polarity == t.polarity)
        {
            said.push(t.clone());
        }
    }
    said.extend(answer_markers.iter().map(|m| Token {
        word: (*m).to_string(),
        polarity: Polarity::Neutral,
    }));

    // Words shared by many options tell little (counting only the options that say them the
    // same way); words of the question itself are its topic.
    let question = words::read(&step.text, false);
    let weight = |t: &Token| {
        let df = options.iter().filter(|o| option_says(o, t)).count().max(1);
        let topic = if question.tokens().any(|q| q.word == t.word) {
            TOPIC
        } else {
            1.0
        };
        topic / df as f64
    };

    let mark = answer
        .mark
        .map(|m| (m, 2.0))
        .or_else(|| restated(step, &options, &answer).map(|m| (m, 1.0)));
    let value = values::value(&answer.clauses);
    // A team is several people when the question is about who.
    let asks_who = {
        let q = step.text.to_lowercase();
        q.starts_with("who") || q.contains("affected") || q.contains("user")
    };
    // A share close to all of something ("99% used") says it is full.
    if value.is_some_and(|v| v.unit == Some("%") && v.number >= 90.0) {
        for word in ["full", "max"] {
            said.push(Token {
                word: word.into(),
                polarity: Polarity::Positive,
            });
        }
    }

    options
        .iter()
        .map(|o| {
            let mut score = o
                .label
                .alternatives
                .iter()
                .map(|alt| alternative_score(alt, o, &said, &weight))
                .fold(f64::MIN, f64::max)
                .max(0.0);
            // Value and hint words said without a counterpart in the label.
            for t in &said {
                if o.extra.iter().any(|e| words::near(e, &t.word))
                    && !o.label.tokens().any(|l| words::near(&l.word, &t.word))
                {
                    score += weight(t);
                }
            }
            if asks_who
                && answer_markers.contains(&people::GROUP)
                && !o.markers.contains(&people::GROUP)
                && o.markers.contains(&people::SOME)
            {
                score += 0.5;
            }
            // "Everyone" answers "one or several?" as several when no option says everyone.
            if asks_who
                && answer_markers.contains(&people::ALL)
                && !options.iter().any(|x| x.markers.contains(&people::ALL))
                && o.markers.contains(&people::SOME)
            {
                score += 1.0;
            }
            if let (Some(v), Some(r)) = (value, o.range) {
                if r.holds(v) {
                    score += 2.0;
                }
            }
            if let (Some((said_mark, strength)), Some(option_mark)) = (mark, o.mark) {
                if said_mark == option_mark {
                    score += strength;
                } else {
                    score -= strength / 2.0;
                }
            }
            score
        })
        .collect()
}

fn option_says(o: &OptionReading, said: &Token) -> bool {
    o.label.tokens().any(|t| {
        words::near(&t.word, &said.word)
            && (t.polarity == said.polarity
                || t.polarity == Polarity::Neutral
                || said.polarity == Polarity::Neutral)
    }) || (o.extra.iter().any(|e| words::near(e, &said.word))
        && !o.label.tokens().any(|t| words::near(&t.word, &said.word)))
        || o.markers.contains(&said.word.as_str())
}

/// Shared words agreeing in negation count for the option; disagreeing ones against it.
fn alternative_score(
    alt: &[Token],
    o: &OptionReading,
    said: &[Token],
    weight: &dyn Fn(&Token) -> f64,
) -> f64 {
    let mut score = 0.0;
    for t in said {
        let in_alt: Vec<&Token> = alt
            .iter()
            .filter(|a| words::near(&a.word, &t.word))
            .collect();
        let marker = t.word.starts_with('@') && o.markers.contains(&t.word.as_str());
        if marker {
            score += weight(t);
            continue;
        }
        if in_alt.is_empty() {
            continue;
        }
        let agrees = in_alt.iter().any(|a| {
            a.polarity == t.polarity
                || a.polarity == Polarity::Neutral
                || t.polarity == Polarity::Neutral
        });
        let w = weight(t);
        if agrees {
            score += w;
        } else {
            score -= w / 2.0;
        }
    }
    score
}

const YES_NO_QUESTION: &[&str] = &[
    "is", "are", "does", "do", "did", "has", "have", "can", "could", "was", "were", "will",
    "should", "would",
];

fn is_yes_no(step: &AskedStep) -> bool {
    let first = step
        .text
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase();
    YES_NO_QUESTION.contains(&first.as_str())
}

/// Options that say yes or no without the word: in a two-option yes/no question, the other
/// of a "Yes - …" option is the no; an option opening with "No"/"Not" is the no; failing
/// both, the option restating the question is the yes.
fn infer_marks(step: &AskedStep, options: &mut [OptionReading]) {
    if options.len() != 2 || !is_yes_no(step) {
        return;
    }
    let opposite = |m: Mark| match m {
        Mark::Yes => Mark::No,
        Mark::No => Mark::Yes,
    };
    let negative_led = |c: &Choice| {
        let first = c
            .label
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_lowercase();
        matches!(first.as_str(), "no" | "not" | "nothing" | "none" | "never")
    };
    match (options[0].mark, options[1].mark) {
        (Some(_), Some(_)) => {}
        (Some(m), None) => options[1].mark = Some(opposite(m)),
        (None, Some(m)) => options[0].mark = Some(opposite(m)),
        (None, None) => {
            let led: Vec<bool> = step.choices.iter().map(negative_led).collect();
            let first_no = match (led[0], led[1]) {
                (true, false) => Some(true),
                (false, true) => Some(false),
                _ if step.text.contains(" or ") => None,
                _ => {
                    let question = words::read(&step.text, false);
                    let overlap = |o: &OptionReading| {
                        o.label
                            .tokens()
                            .filter(|t| {
                                question
                                    .tokens()
                                    .any(|q| q.word == t.word && q.polarity == t.polarity)
                            })
                            .count()
                    };
                    let (a, b) = (overlap(&options[0]), overlap(&options[1]));
                    (a != b).then_some(a < b)
                }
            };
            if let Some(first_no) = first_no {
                options[0].mark = Some(if first_no { Mark::No } else { Mark::Yes });
                options[1].mark = Some(if first_no { Mark::Yes } else { Mark::No });
            }
        }
    }
}

/// A yes or no said by restating the question ("not registered" to "Is it registered?").
fn restated(step: &AskedStep, options: &[OptionReading], answer: &Reading) -> Option<Mark> {
    if !is_yes_no(step) || options.iter().all(|o| o.mark.is_none()) {
        return None;
    }
    let question = words::read(&step.text, false);
    let in_options = |w: &str| {
        options
            .iter()
            .any(|o| o.label.tokens().any(|t| t.word == w))
    };
    let content: Vec<&Token> = answer
        .content()
        .filter(|t| t.polarity != Polarity::Neutral)
        .collect();
    if content.is_empty() {
        return None;
    }
    let shared: Vec<(&Token, &Token)> = content
        .iter()
        .filter_map(|t| {
            question
                .tokens()
                .find(|q| q.word == t.word)
                .map(|q| (*t, q))
        })
        .collect();
    let predicate = shared.iter().any(|(t, _)| in_options(&t.word));
    if shared.is_empty() || !predicate || shared.len() < content.len() {
        return None;
    }
    let agreeing = shared
        .iter()
        .filter(|(t, q)| t.polarity == q.polarity)
        .count();
    let disagreeing = shared.len() - agreeing;
    match agreeing.cmp(&disagreeing) {
        std::cmp::Ordering::Greater => Some(Mark::Yes),
        std::cmp::Ordering::Less => Some(Mark::No),
        std::cmp::Ordering::Equal => None,
    }
}

fn add_similarity(
    similarity: &dyn AnswerSimilarity,
    step: &AskedStep,
    text: &str,
    scores: &mut [f64],
) {
    let sims: Vec<Option<f64>> = step
        .choices
        .iter()
        .map(|c| {
            let option = match &c.hint {
                Some(h) => format!("{} ({h})", c.label),
                None => c.label.clone(),
            };
            similarity.similarity(text, &option)
        })
        .collect();
    let known: Vec<f64> = sims.iter().flatten().copied().collect();
    if known.len() != sims.len() || known.is_empty() {
        return;
    }
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    for (score, sim) in scores.iter_mut().zip(known) {
        *score += SIMILARITY_WEIGHT * (sim - mean);
    }
}

fn decide(step: &AskedStep, scores: &[f64]) -> Understood {
    let mut ranked: Vec<(f64, &Choice)> = scores.iter().copied().zip(&step.choices).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = ranked[0].0;
    let second = ranked.get(1).map_or(0.0, |r| r.0);
    if best < ENOUGH {
        return Understood::Unclear(Unclear::NothingFits);
    }
    if best - second >= LEAD - 1e-9 {
        return Understood::Chosen(ranked[0].1.value.clone());
    }
    Understood::Unclear(Unclear::Between(
        ranked
            .iter()
            .filter(|(s, _)| best - s < LEAD && *s >= ENOUGH)
            .map(|(_, c)| c.value.clone())
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(text: &str, options: &[(&str, &str)]) -> AskedStep {
        AskedStep {
            kind: StepKind::Question,
            text: text.into(),
            expected_outcome: None,
            choices: options
                .iter()
                .map(|(l, v)| Choice {
                    label: l.to_string(),
                    value: v.to_string(),
                    hint: None,
                })
                .collect(),
        }
    }

    fn who() -> AskedStep {
        question(
            "Who is affected?",
            &[
                ("One user", "one"),
                ("Several users", "many"),
                ("Everyone in the office", "all"),
            ],
        )
    }

    fn chosen(step: &AskedStep, text: &str) -> Option<String> {
        understand(step, text).value().map(str::to_string)
    }

    #[test]
    fn exact_labels_and_values_map() {
        assert_eq!(chosen(&who(), "many").as_deref(), Some("many"));
        assert_eq!(chosen(&who(), "  one user ").as_deref(), Some("one"));
    }

    #[test]
    fn people_and_groups_map() {
        assert_eq!(chosen(&who(), "just me").as_deref(), Some("one"));
        assert_eq!(chosen(&who(), "only Tom").as_deref(), Some("one"));
        assert_eq!(chosen(&who(), "the accounts team").as_deref(), Some("many"));
        assert_eq!(
            chosen(&who(), "everyone in the office").as_deref(),
            Some("all")
        );
        assert_eq!(chosen(&who(), "the printer is on fire"), None);
    }

    #[test]
    fn yes_no_and_negation_map() {
        let link = question(
            "Is the link light on?",
            &[
                ("Yes - link light on", "on"),
                ("No - link light off", "off"),
            ],
        );
        for (text, value) in [
            ("yep", "on"),
            ("nope", "off"),
            ("the link light isn't on", "off"),
            ("it is", "on"),
            ("it isn't", "off"),
            ("negative", "off"),
        ] {
            assert_eq!(chosen(&link, text).as_deref(), Some(value), "{text}");
        }
    }

    #[test]
    fn close_options_are_named_and_nothing_is_guessed() {
        let step = question(
            "Which test failed first?",
            &[
                ("Cannot ping the gateway", "gateway"),
                ("Gateway OK but 1.1.1.1 fails", "internet"),
            ],
        );
        assert_eq!(
            understand(&step, "the moon is full"),
            Understood::Unclear(Unclear::NothingFits)
        );
        assert_eq!(
            understand(&who(), "users"),
            Understood::Unclear(Unclear::Between(vec!["one".into(), "many".into()]))
        );
    }

    struct Fixed;
    impl AnswerSimilarity for Fixed {
        fn similarity(&self, _answer: &str, option: &str) -> Option<f64> {
            Some(if option.starts_with("Several") {
                0.9
            } else {
                0.1
            })
        }
    }

    #[test]
    fn an_embedder_adds_evidence() {
        let text = "the folks upstairs";
        assert_eq!(understand(&who(), text).value(), None);
        let reader = AnswerReader::with_similarity(Arc::new(Fixed));
        assert_eq!(reader.read(&who(), text).value(), Some("many"));
    }
}
