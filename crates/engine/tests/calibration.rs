#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Calibration of the offline engine's confidence on simulated sessions over every built-in
//! flow (engine.md "Confidence"; figures in docs/guidance.md, "Confidence").
//!
//! For each flow and each of its solution nodes as the true cause, a scripted engineer who
//! knows that cause walks the flow through the real offline pilot: each question answered
//! with an option on a path to the cause, each action "worked" when the cause lies behind
//! it and "no change" otherwise. Like a person, the engineer sometimes types instead of
//! clicking (real phrasings from the labelled answer sets where the step has them), sometimes
//! is not sure, sometimes cannot do an action, and now and then slips. Some sessions are
//! matched to a flow that does not cover the cause at all, as often as the match score says
//! (see `flow_fits`); there the engineer's answers follow no cause. The pilot sees only the
//! steps and answers, never the truth.
//!
//! Each resolution suggestion is recorded with its confidence and whether it is the true
//! cause. The test prints the reliability table and fails when the expected calibration
//! error goes above 0.08.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use domain::flow::{parse_flow_documents, Flow, FlowDefinition, FlowFormat, FlowNode};
use domain::step::{EarlierSteps, StepType};
use domain::ConfidenceTier;
use flowpilot_engine::offline::{ActionOutcome, OfflinePilot};
use flowpilot_engine::{
    FlowLibrary, History, Intake, MatchedFlow, PastStep, Pilot, PilotInput, Reply, StepAnswer,
};
use serde::Deserialize;
use uuid::Uuid;

const ECE_AT_MOST: f64 = 0.08;
const BINS: usize = 10;
/// Sessions per (flow, true cause).
const REPEATS: u64 = 12;
const MAX_STEPS: usize = 30;

/// How the scripted engineer behaves. The rates are assumptions about people, not
/// measurements; `noisier` doubles the mistakes to show how much calibration depends on them.
#[derive(Debug, Clone, Copy)]
struct Habits {
    /// Types an answer instead of clicking an option.
    types: f64,
    /// Is not sure, and says so, on a flow that fits the problem.
    unsure_on_fit: f64,
    /// Is not sure on a flow that does not fit (its questions do not quite apply).
    unsure_on_misfit: f64,
    /// Gives the wrong answer with a firm hand (clicked or typed).
    slips: f64,
    /// Gives the wrong answer after being asked again, having been unsure.
    slips_when_unsure: f64,
    /// Cannot do an action (no rights, user gone home).
    cannot_do: f64,
}

const ASSUMED: Habits = Habits {
    types: 0.3,
    unsure_on_fit: 0.08,
    unsure_on_misfit: 0.3,
    slips: 0.03,
    slips_when_unsure: 0.2,
    cannot_do: 0.04,
};

const NOISIER: Habits = Habits {
    types: 0.5,
    unsure_on_fit: 0.16,
    unsure_on_misfit: 0.4,
    slips: 0.06,
    slips_when_unsure: 0.35,
    cannot_do: 0.08,
};

/// How likely a match at `score` is the flow that covers the problem. This is the
/// simulation's assumption about the matcher, the same figure the pilot's prior takes from
/// docs/matching.md, so this part of the confidence is calibrated by construction; the run
/// measures the rest (path, answers, their clarity).
fn flow_fits(score: f64) -> f64 {
    0.5 + 0.45 * ((score - 0.3) / 0.5).clamp(0.0, 1.0)
}

/// SplitMix64: small, seedable, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every built-in flow with its file name (which the labelled answer sets use).
fn built_in_flows() -> Vec<(String, Flow)> {
    let dir = manifest().join("../../flows");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    let now = Utc::now();
    paths
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut defs = parse_flow_documents(&text, FlowFormat::Yaml).unwrap();
            assert_eq!(defs.len(), 1, "{path:?} holds one flow");
            let definition = defs.remove(0);
            definition.validate().unwrap();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let flow = Flow {
                id: Uuid::from_u128(i as u128 + 1),
                account_id: None,
                definition,
                version: 1,
                usage_count: 0,
                success_rate: None,
                last_matched_at: None,
                created_by: None,
                created_at: now,
                updated_at: now,
            };
            (name, flow)
        })
        .collect()
}

#[derive(Deserialize)]
struct StepCases {
    flow: String,
    node: String,
    cases: Vec<(String, String)>,
}

/// Real phrasings from the labelled answer sets: (flow file, node, option value) → answers.
fn phrasings() -> BTreeMap<(String, String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for file in ["cases.yaml", "held_out.yaml"] {
        let text = std::fs::read_to_string(manifest().join("tests/answers").join(file)).unwrap();
        let steps: Vec<StepCases> = serde_yaml::from_str(&text).unwrap();
        for step in steps {
            for (answer, expected) in step.cases {
                out.entry((step.flow.clone(), step.node.clone(), expected))
                    .or_default()
                    .push(answer);
            }
        }
    }
    out
}

/// The solution nodes reachable from each node.
fn reach(def: &FlowDefinition) -> BTreeMap<String, BTreeSet<String>> {
    fn fill(def: &FlowDefinition, id: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
        if out.contains_key(id) {
            return;
        }
        let node = &def.nodes[id];
        let mut found = BTreeSet::new();
        if matches!(node, FlowNode::Solution { .. }) {
            found.insert(id.to_string());
        }
        for next in node.successors() {
            fill(def, next, out);
            found.extend(out[next].iter().cloned());
        }
        out.insert(id.to_string(), found);
    }
    let mut out = BTreeMap::new();
    for id in def.nodes.keys() {
        fill(def, id, &mut out);
    }
    out
}

struct Library(Vec<Flow>);

/// The simulation gives each session its flow; nothing is re-matched mid-session.
#[async_trait]
impl FlowLibrary for Library {
    async fn find(&self, _: Uuid, _: &str, _: Option<&str>) -> Vec<MatchedFlow> {
        Vec::new()
    }
    async fn best_in_domain(&self, _: Uuid, _: &str, _: &str) -> Option<MatchedFlow> {
        None
    }
    async fn domains(&self, _: Uuid) -> Vec<(String, i64)> {
        Vec::new()
    }
    async fn flow(&self, _: Uuid, id: Uuid) -> Option<Flow> {
        self.0.iter().find(|f| f.id == id).cloned()
    }
}

const WORKED: &[&str] = &[
    "that fixed it",
    "sorted it",
    "works now",
    "yep that did the trick",
    "all good now",
];
const NO_CHANGE: &[&str] = &[
    "no change",
    "still the same",
    "didn't help",
    "same as before",
    "no difference",
];
const COULD_NOT: &[&str] = &[
    "not allowed to run that",
    "i don't have admin rights on that box",
];
const UNSURE: &[&str] = &[
    "not sure",
    "hard to say",
    "no idea tbh",
    "dunno",
    "can't tell from here",
];

/// What the engineer knows: the true cause, and whether the session's flow covers it.
struct Engineer<'a> {
    habits: Habits,
    truth: &'a str,
    fits: bool,
    reach: BTreeMap<String, BTreeSet<String>>,
    file: &'a str,
    phrasings: &'a BTreeMap<(String, String, String), Vec<String>>,
    rng: Rng,
}

/// The answer the engineer means at a node, before any slip: (value, values that would also
/// be consistent with the cause, every value).
fn intended(e: &mut Engineer<'_>, node: &FlowNode) -> (String, Vec<String>, Vec<String>) {
    match node {
        FlowNode::Question { options, .. } => {
            let all: Vec<String> = options.iter().map(|o| o.value.clone()).collect();
            let fitting: Vec<String> = options
                .iter()
                .filter(|o| e.fits && e.reach[&o.next].contains(e.truth))
                .map(|o| o.value.clone())
                .collect();
            let value = if fitting.is_empty() {
                e.rng.pick(&all).clone()
            } else {
                e.rng.pick(&fitting).clone()
            };
            (value, fitting, all)
        }
        FlowNode::Action {
            next, on_failure, ..
        } => {
            let worked = ActionOutcome::Worked.value().to_string();
            let same = ActionOutcome::NoChange.value().to_string();
            let all = vec![worked.clone(), same.clone()];
            let failure = on_failure.as_deref().unwrap_or(next);
            let fitting = if e.fits && e.reach[next].contains(e.truth) {
                vec![worked]
            } else if e.fits && e.reach[failure].contains(e.truth) {
                vec![same]
            } else {
                Vec::new()
            };
            let value = if fitting.is_empty() {
                e.rng.pick(&all).clone()
            } else {
                fitting[0].clone()
            };
            (value, fitting, all)
        }
        _ => unreachable!("only questions and actions are answered"),
    }
}

/// A slip: another answer than the one meant, among those that do not fit the cause.
fn slip(e: &mut Engineer<'_>, value: String, fitting: &[String], all: &[String]) -> String {
    let wrong: Vec<String> = all
        .iter()
        .filter(|v| !fitting.contains(v) && **v != value)
        .cloned()
        .collect();
    if fitting.is_empty() || wrong.is_empty() {
        value
    } else {
        e.rng.pick(&wrong).clone()
    }
}

fn typed(e: &mut Engineer<'_>, node_id: &str, node: &FlowNode, value: &str) -> String {
    if let Some(real) =
        e.phrasings
            .get(&(e.file.to_string(), node_id.to_string(), value.to_string()))
    {
        if e.rng.chance(0.7) {
            return e.rng.pick(real).clone();
        }
    }
    match node {
        FlowNode::Question { options, .. } => {
            let label = options
                .iter()
                .find(|o| o.value == value)
                .map(|o| o.label.to_lowercase())
                .unwrap_or_default();
            let mut forms = vec![
                label.clone(),
                format!("{label} i think"),
                format!("i'd say {label}"),
                format!("{label}, from what i can see"),
            ];
            if label.starts_with("yes") {
                forms.extend(["yes".to_string(), "yep".to_string()]);
            } else if label.starts_with("no") {
                forms.extend(["no".to_string(), "nope".to_string()]);
            }
            e.rng.pick(&forms).clone()
        }
        _ => {
            let forms = if value == ActionOutcome::Worked.value() {
                WORKED
            } else {
                NO_CHANGE
            };
            e.rng.pick(forms).to_string()
        }
    }
}

/// What the engineer meant by an answer.
#[derive(Debug, Clone, PartialEq)]
enum Meant {
    /// This option (or outcome) value, firmly.
    Firm(String),
    /// Nothing firm: the engineer was not sure.
    Unsure,
}

fn click(value: String) -> StepAnswer {
    StepAnswer {
        selected_option: Some(value),
        ..Default::default()
    }
}

fn say(text: &str) -> StepAnswer {
    StepAnswer {
        free_text_input: Some(text.to_string()),
        ..Default::default()
    }
}

/// The engineer's first answer to a node, and what they meant by it.
fn answer(e: &mut Engineer<'_>, node_id: &str, node: &FlowNode) -> (StepAnswer, Meant) {
    let (meant, fitting, all) = intended(e, node);
    let action = matches!(node, FlowNode::Action { .. });
    if action && e.rng.chance(e.habits.cannot_do) {
        let value = ActionOutcome::CouldNotDo.value().to_string();
        let given = if e.rng.chance(0.5) {
            click(value.clone())
        } else {
            say(e.rng.pick::<&str>(COULD_NOT))
        };
        return (given, Meant::Firm(value));
    }
    let unsure = if e.fits {
        e.habits.unsure_on_fit
    } else {
        e.habits.unsure_on_misfit
    };
    if e.rng.chance(unsure) {
        return (say(e.rng.pick::<&str>(UNSURE)), Meant::Unsure);
    }
    let value = if e.rng.chance(e.habits.slips) {
        slip(e, meant, &fitting, &all)
    } else {
        meant
    };
    let given = if e.rng.chance(e.habits.types) {
        say(&typed(e, node_id, node, &value))
    } else {
        click(value.clone())
    };
    (given, Meant::Firm(value))
}

/// The answer once asked again: a firm answer the pilot could not read is clicked as
/// meant; after "not sure", the engineer picks, and is wrong more often.
fn answer_again(e: &mut Engineer<'_>, node: &FlowNode, meant: &Meant) -> StepAnswer {
    match meant {
        Meant::Firm(value) => click(value.clone()),
        Meant::Unsure => {
            let (meant, fitting, all) = intended(e, node);
            let value = if e.rng.chance(e.habits.slips_when_unsure) {
                slip(e, meant, &fitting, &all)
            } else {
                meant
            };
            click(value)
        }
    }
}

/// One resolution suggestion: its confidence, and whether it was the true cause.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Suggestion {
    confidence: f64,
    right: bool,
}

#[derive(Default)]
struct Run {
    suggestions: Vec<Suggestion>,
    sessions: usize,
    steps: usize,
    clarified: usize,
    misfit_sessions: usize,
}

fn node_of(state: &serde_json::Value) -> Option<String> {
    if state.get("at")?.as_str()? != "node" {
        return None;
    }
    state.get("node")?.as_str().map(str::to_string)
}

/// Walks one session to its first suggestion (or the end of the flow), as the session loop
/// does: the pilot is shown only the step being answered.
async fn session(
    pilot: &OfflinePilot,
    flow: &Flow,
    score: f64,
    engineer: &mut Engineer<'_>,
    run: &mut Run,
) -> Option<Suggestion> {
    let intake = Intake {
        text: Some(flow.definition.title.clone()),
        log: None,
    };
    let matched = MatchedFlow {
        flow: flow.clone(),
        score,
    };
    let none = EarlierSteps::default();
    let mut step = pilot
        .first_step(PilotInput {
            account_id: Uuid::nil(),
            intake: &intake,
            matched: Some(&matched),
            history: History {
                earlier: &none,
                recent: &[],
            },
            remaining_after: MAX_STEPS as i64,
        })
        .await
        .unwrap();
    let mut history: Vec<PastStep> = Vec::new();
    loop {
        assert!(
            !step.confidence_reasons.is_empty(),
            "a step without reasons: {:?}",
            step.output.content
        );
        run.steps += 1;
        let node_id = node_of(&step.state);
        if step.output.step_type == StepType::ResolutionSuggestion {
            let node_id = node_id.expect("a suggestion is a solution node");
            return Some(Suggestion {
                confidence: step.output.confidence,
                right: engineer.fits && node_id == engineer.truth,
            });
        }
        // An escalation offer ends the simulated session.
        let node_id = node_id?;
        if history.len() >= MAX_STEPS {
            return None;
        }
        let node = &flow.definition.nodes[&node_id];
        history.push(PastStep {
            output: step.output.clone(),
            state: step.state.clone(),
            answer: None,
            observations: Vec::new(),
            marks: Default::default(),
        });
        let (mut given, meant) = answer(engineer, &node_id, node);
        loop {
            history.last_mut().unwrap().answer = Some(given);
            let earlier = EarlierSteps {
                steps: history.len() as i64 - 1,
                ..EarlierSteps::default()
            };
            let reply = pilot
                .next_step(PilotInput {
                    account_id: Uuid::nil(),
                    intake: &intake,
                    matched: Some(&matched),
                    history: History {
                        earlier: &earlier,
                        recent: &history[history.len() - 1..],
                    },
                    remaining_after: (MAX_STEPS - history.len()) as i64,
                })
                .await
                .unwrap();
            match reply {
                Reply::Next(next) => {
                    step = next;
                    break;
                }
                Reply::Clarify { .. } => {
                    // As the session loop does: the text becomes an observation on the same
                    // step, which is asked again.
                    run.clarified += 1;
                    let last = history.last_mut().unwrap();
                    let text = last.answer.take().and_then(|a| a.free_text_input);
                    last.observations.extend(text);
                    given = answer_again(engineer, node, &meant);
                }
            }
        }
    }
}

async fn simulate(habits: Habits, seed: u64, repeats: u64) -> Run {
    let flows = built_in_flows();
    let phrasings = phrasings();
    let library: Vec<Flow> = flows.iter().map(|(_, f)| f.clone()).collect();
    let pilot = OfflinePilot::new(Arc::new(Library(library)));
    let mut run = Run::default();
    let mut rng = Rng(seed);
    for (_, flow) in &flows {
        let solutions: Vec<String> = flow
            .definition
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n, FlowNode::Solution { .. }))
            .map(|(id, _)| id.clone())
            .collect();
        for truth in &solutions {
            for _ in 0..repeats {
                // Most sessions match above the threshold; some start from a flow picked
                // below it.
                let score = if rng.chance(0.85) {
                    0.5 + 0.5 * rng.unit()
                } else {
                    0.2 + 0.3 * rng.unit()
                };
                let fits = rng.chance(flow_fits(score));
                // A misfit: the session walks another flow, preferably of the same area.
                let (file, walked) = if fits {
                    flows.iter().find(|(_, f)| f.id == flow.id).unwrap()
                } else {
                    run.misfit_sessions += 1;
                    let same: Vec<&(String, Flow)> = flows
                        .iter()
                        .filter(|(_, f)| {
                            f.id != flow.id && f.definition.domain == flow.definition.domain
                        })
                        .collect();
                    if same.is_empty() {
                        rng.pick(&flows)
                    } else {
                        *rng.pick(&same)
                    }
                };
                let mut engineer = Engineer {
                    habits,
                    truth,
                    fits,
                    reach: reach(&walked.definition),
                    file,
                    phrasings: &phrasings,
                    rng: Rng(rng.next()),
                };
                run.sessions += 1;
                if let Some(s) = session(&pilot, walked, score, &mut engineer, &mut run).await {
                    run.suggestions.push(s);
                }
            }
        }
    }
    run
}

struct Bin {
    from: f64,
    to: f64,
    count: usize,
    confidence: f64,
    right: f64,
}

fn reliability(suggestions: &[Suggestion]) -> Vec<Bin> {
    (0..BINS)
        .map(|b| {
            let from = b as f64 / BINS as f64;
            let to = (b + 1) as f64 / BINS as f64;
            let inside: Vec<&Suggestion> = suggestions
                .iter()
                .filter(|s| {
                    let i = ((s.confidence * BINS as f64) as usize).min(BINS - 1);
                    i == b
                })
                .collect();
            let n = inside.len().max(1) as f64;
            Bin {
                from,
                to,
                count: inside.len(),
                confidence: inside.iter().map(|s| s.confidence).sum::<f64>() / n,
                right: inside.iter().filter(|s| s.right).count() as f64 / n,
            }
        })
        .collect()
}

fn ece(bins: &[Bin], total: usize) -> f64 {
    bins.iter()
        .map(|b| b.count as f64 / total as f64 * (b.right - b.confidence).abs())
        .sum()
}

fn brier(suggestions: &[Suggestion]) -> f64 {
    suggestions
        .iter()
        .map(|s| (s.confidence - if s.right { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / suggestions.len() as f64
}

/// Prints the run's figures as the Markdown tables docs/guidance.md shows; returns the ECE.
fn report(name: &str, run: &Run) -> f64 {
    let s = &run.suggestions;
    let bins = reliability(s);
    let ece = ece(&bins, s.len());
    let right = s.iter().filter(|x| x.right).count();
    println!(
        "\n## {name}: {} sessions ({} on a flow that does not cover the cause), {} steps, {} \
         answers asked again, {} suggestions, {right} right ({:.1}%)",
        run.sessions,
        run.misfit_sessions,
        run.steps,
        run.clarified,
        s.len(),
        100.0 * right as f64 / s.len() as f64
    );
    println!("\n| confidence | suggestions | mean confidence | share right | gap |");
    println!("|---|---|---|---|---|");
    for b in &bins {
        if b.count == 0 {
            println!("| {:.1}–{:.1} | 0 | | | |", b.from, b.to);
        } else {
            println!(
                "| {:.1}–{:.1} | {} | {:.3} | {:.3} | {:+.3} |",
                b.from,
                b.to,
                b.count,
                b.confidence,
                b.right,
                b.right - b.confidence
            );
        }
    }
    println!("\nECE {ece:.4}, Brier {:.4}", brier(s));
    println!("\n| tier | suggestions | mean confidence | share right |");
    println!("|---|---|---|---|");
    for tier in [
        ConfidenceTier::Discovery,
        ConfidenceTier::Exploring,
        ConfidenceTier::Guided,
    ] {
        let inside: Vec<&Suggestion> = s
            .iter()
            .filter(|x| ConfidenceTier::from_score(x.confidence) == tier)
            .collect();
        let n = inside.len().max(1) as f64;
        println!(
            "| {} | {} | {:.3} | {:.3} |",
            tier.as_str(),
            inside.len(),
            inside.iter().map(|x| x.confidence).sum::<f64>() / n,
            inside.iter().filter(|x| x.right).count() as f64 / n
        );
    }
    ece
}

#[tokio::test]
async fn suggestions_are_right_about_as_often_as_their_confidence_says() {
    let run = simulate(ASSUMED, 14, REPEATS).await;
    assert!(
        run.suggestions.len() >= 1000,
        "too few suggestions to measure: {}",
        run.suggestions.len()
    );
    let ece = report("engineer as assumed", &run);
    // For the docs: how far calibration moves when people slip twice as often as assumed.
    report(
        "noisier engineer (not a target)",
        &simulate(NOISIER, 14, REPEATS).await,
    );
    assert!(
        ece <= ECE_AT_MOST,
        "expected calibration error {ece:.4} is above {ECE_AT_MOST}"
    );
}

#[tokio::test]
async fn the_same_answers_give_the_same_confidence() {
    let a = simulate(ASSUMED, 7, 1).await;
    let b = simulate(ASSUMED, 7, 1).await;
    assert_eq!(a.suggestions, b.suggestions);
}
