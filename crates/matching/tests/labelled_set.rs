//! Calibration against the built-in library: paraphrases of a flow's problem must find it,
//! intakes no flow covers must find nothing (flows.md "Matching").
//!
//! The set is `flows/queries/labelled.yaml` (or the file named by
//! `FLOWPILOT_LABELLED_QUERIES`): paraphrases close to the flows' wording, paraphrases
//! reworded by someone who had not read the flows, near-miss IT intakes no flow covers, and
//! requests that are not IT support at all. The targets (issue 14) hold with and without the
//! embedding model, on a fresh install (every flow updated today) and on a library whose
//! flows were last used at very different times, since recency must not decide a match.
//!
//! `flows/queries/held_out.yaml` is a second set written after the defaults were chosen and
//! never used to choose them; its runs are held to the figures it gave when it was written.
//!
//! With the `embeddings` feature and `FLOWPILOT_EMBEDDING_MODEL_DIR` set, the set also runs
//! with the model. `calibration_grid` (ignored) prints the figures over a grid of thresholds,
//! weights and keyword scales: the numbers behind the defaults in docs/matching.md.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::flow::{parse_flow_documents, FlowDefinition, FlowFormat};
use flowpilot_matching::{FlowEntry, FlowIndex, MatchConfig, MatchQuery};
use serde::Deserialize;
use uuid::Uuid;

const RECALL_AT_1: f64 = 0.92;
const RECALL_AT_3: f64 = 0.98;
const FALSE_MATCH_RATE: f64 = 0.03;

/// Recall as measured when the defaults were calibrated, for the runs still short of the
/// recall targets (docs/matching.md says by how much). A run fails when a figure drops below
/// its target or, where the target is not reached yet, below this.
#[derive(Clone, Copy)]
struct Floor {
    recall_at_1: f64,
    recall_at_3: f64,
    /// The false-match rate a run may not exceed (the target, or the figure measured where
    /// the target is not reached).
    false_match_rate: f64,
}

const WITHOUT_MODEL: Floor = Floor {
    recall_at_1: 0.79,
    recall_at_3: 0.80,
    false_match_rate: FALSE_MATCH_RATE,
};

#[cfg(feature = "embeddings")]
const WITH_MODEL: Floor = Floor {
    recall_at_1: 0.92,
    recall_at_3: 0.93,
    false_match_rate: FALSE_MATCH_RATE,
};

#[derive(Deserialize)]
struct Labelled {
    paraphrases: Vec<Paraphrase>,
    #[serde(default)]
    reworded: Vec<Paraphrase>,
    /// Whole tickets: the problem with the context engineers add (who, since when, what
    /// was tried), which a flow's text does not mention.
    #[serde(default)]
    tickets: Vec<Paraphrase>,
    #[serde(default)]
    near_misses: Vec<String>,
    out_of_scope: Vec<String>,
}

#[derive(Deserialize, Clone)]
struct Paraphrase {
    query: String,
    /// The file stem of the flow the query describes.
    flow: String,
}

impl Labelled {
    fn all_paraphrases(&self) -> Vec<Paraphrase> {
        self.paraphrases
            .iter()
            .chain(&self.reworded)
            .chain(&self.tickets)
            .cloned()
            .collect()
    }

    fn all_unmatched(&self) -> Vec<String> {
        self.near_misses
            .iter()
            .chain(&self.out_of_scope)
            .cloned()
            .collect()
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).single().unwrap()
}

/// The built-in flows by file stem, each checked valid.
fn library() -> Vec<(String, FlowDefinition)> {
    let mut flows = Vec::new();
    let dir = repo().join("flows");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut defs = parse_flow_documents(&text, FlowFormat::Yaml)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(defs.len(), 1, "{} should hold one flow", path.display());
        let def = defs.remove(0);
        if let Err(errors) = def.validate() {
            panic!("{} is invalid: {errors}", path.display());
        }
        flows.push((stem, def));
    }
    assert!(!flows.is_empty(), "no flows in {}", dir.display());
    flows
}

fn labelled() -> Labelled {
    let path = std::env::var_os("FLOWPILOT_LABELLED_QUERIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("flows/queries/labelled.yaml"));
    load_set(&path)
}

/// Rewordings and intakes no flow covers written after the defaults were chosen and never
/// used to choose them: how much the calibration flatters the labelled set.
fn held_out() -> Labelled {
    load_set(&repo().join("flows/queries/held_out.yaml"))
}

fn load_set(path: &Path) -> Labelled {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let set: Labelled =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stems: Vec<String> = library().into_iter().map(|(stem, _)| stem).collect();
    for p in set.all_paraphrases() {
        assert!(stems.contains(&p.flow), "{:?} names no flow", p.flow);
    }
    set
}

/// How long ago each flow was last used or updated.
#[derive(Clone, Copy)]
enum Ages {
    /// A fresh install: every built-in flow loaded today.
    AllToday,
    /// Every other flow used today, the rest over a year ago.
    Mixed,
}

fn build(
    mut index: FlowIndex,
    flows: &[(String, FlowDefinition)],
    ages: Ages,
) -> (FlowIndex, HashMap<Uuid, String>) {
    let mut names = HashMap::new();
    for (n, (stem, def)) in flows.iter().enumerate() {
        let id = Uuid::from_u128(n as u128 + 1);
        names.insert(id, stem.clone());
        let age = match ages {
            Ages::Mixed if n % 2 == 1 => Duration::days(400),
            _ => Duration::zero(),
        };
        index.upsert(FlowEntry {
            id,
            account_id: None,
            domain: def.domain.clone(),
            published: true,
            search_text: def.search_text(),
            semantic_text: def.semantic_text(),
            last_activity: now() - age,
        });
    }
    (index, names)
}

struct Figures {
    recall_at_1: f64,
    recall_at_3: f64,
    false_match_rate: f64,
}

impl Figures {
    fn meets_targets(&self) -> bool {
        self.recall_at_1 >= RECALL_AT_1
            && self.recall_at_3 >= RECALL_AT_3
            && self.false_match_rate <= FALSE_MATCH_RATE
    }
}

fn rate(hits: usize, of: usize) -> f64 {
    hits as f64 / of.max(1) as f64
}

/// The queries with their embeddings, computed once per run.
struct Queries {
    paraphrases: Vec<(Paraphrase, Option<Vec<f32>>)>,
    reworded: usize,
    unmatched: Vec<(String, Option<Vec<f32>>)>,
    near_misses: usize,
}

impl Queries {
    fn new(index: &FlowIndex, set: &Labelled) -> Self {
        let embed = |text: &str| index.embed_query(&ask(text));
        Self {
            paraphrases: set
                .all_paraphrases()
                .into_iter()
                .map(|p| {
                    let e = embed(&p.query);
                    (p, e)
                })
                .collect(),
            reworded: set.reworded.len(),
            unmatched: set
                .all_unmatched()
                .into_iter()
                .map(|t| {
                    let e = embed(&t);
                    (t, e)
                })
                .collect(),
            near_misses: set.near_misses.len(),
        }
    }
}

fn ask(text: &str) -> MatchQuery {
    MatchQuery {
        text: text.into(),
        account_id: None,
        domain: None,
        limit: 3,
    }
}

fn evaluate(
    label: &str,
    index: &FlowIndex,
    names: &HashMap<Uuid, String>,
    queries: &Queries,
    verbose: bool,
) -> Figures {
    let search = |text: &str, embedding: &Option<Vec<f32>>| {
        index.search_with_embedding(&ask(text), embedding.clone(), now())
    };
    let describe = |r: &flowpilot_matching::MatchResult| {
        format!(
            "{} {:.2} (kw {:.2}, sem {})",
            names[&r.flow_id],
            r.relevance,
            r.signals.keyword,
            r.signals.semantic.map_or("-".into(), |s| format!("{s:.2}"))
        )
    };
    let original = queries.paraphrases.len() - queries.reworded;
    let (mut top1, mut top3) = ([0usize; 2], [0usize; 2]);
    for (n, (p, embedding)) in queries.paraphrases.iter().enumerate() {
        let part = usize::from(n >= original);
        let results = search(&p.query, embedding);
        let found: Vec<&str> = results.iter().map(|r| names[&r.flow_id].as_str()).collect();
        match found.iter().position(|f| *f == p.flow) {
            Some(0) => {
                top1[part] += 1;
                top3[part] += 1;
            }
            Some(_) => top3[part] += 1,
            None => {}
        }
        if verbose && found.first() != Some(&p.flow.as_str()) {
            let got: Vec<String> = results.iter().map(describe).collect();
            println!("  miss@1 {:?} want {} got {:?}", p.query, p.flow, got);
        }
    }
    let mut false_matches = [0usize; 2];
    for (n, (text, embedding)) in queries.unmatched.iter().enumerate() {
        let part = usize::from(n >= queries.near_misses);
        if let Some(best) = search(text, embedding).first() {
            false_matches[part] += 1;
            if verbose {
                println!("  false match {:?} -> {}", text, describe(best));
            }
        }
    }
    let paraphrases = queries.paraphrases.len();
    let unmatched = queries.unmatched.len();
    let figures = Figures {
        recall_at_1: rate(top1[0] + top1[1], paraphrases),
        recall_at_3: rate(top3[0] + top3[1], paraphrases),
        false_match_rate: rate(false_matches[0] + false_matches[1], unmatched),
    };
    let far = unmatched - queries.near_misses;
    println!(
        "{label}: {} flows; {paraphrases} paraphrases: recall@1 {:.3}, recall@3 {:.3} \
         (close wording {:.3}/{:.3}, reworded {:.3}/{:.3}); {unmatched} out of scope: \
         false-match rate {:.3} (near misses {}/{}, not IT {}/{})",
        names.len(),
        figures.recall_at_1,
        figures.recall_at_3,
        rate(top1[0], original),
        rate(top3[0], original),
        rate(top1[1], queries.reworded),
        rate(top3[1], queries.reworded),
        figures.false_match_rate,
        false_matches[0],
        queries.near_misses,
        false_matches[1],
        far,
    );
    figures
}

fn assert_targets(label: &str, figures: &Figures, floor: Floor) {
    for (name, got, target, floor) in [
        (
            "recall@1",
            figures.recall_at_1,
            RECALL_AT_1,
            floor.recall_at_1,
        ),
        (
            "recall@3",
            figures.recall_at_3,
            RECALL_AT_3,
            floor.recall_at_3,
        ),
    ] {
        if got < target {
            println!("{label}: {name} {got:.3} is short of the target {target}");
        }
        assert!(
            got >= target.min(floor),
            "{label}: {name} {got:.3} dropped below {:.3}",
            target.min(floor)
        );
    }
    if figures.false_match_rate > FALSE_MATCH_RATE {
        println!(
            "{label}: false-match rate {:.3} is above the target {FALSE_MATCH_RATE}",
            figures.false_match_rate
        );
    }
    let ceiling = FALSE_MATCH_RATE.max(floor.false_match_rate);
    assert!(
        figures.false_match_rate <= ceiling + 1e-9,
        "{label}: false-match rate {:.3} is above {ceiling:.3}",
        figures.false_match_rate
    );
}

/// Runs the set on a fresh install and on a library of mixed ages, with indexes made by
/// `new_index`, and holds each run to the targets.
fn run(label: &str, floor: Floor, new_index: impl Fn() -> FlowIndex) {
    let set = labelled();
    assert!(
        set.near_misses.len() >= 100,
        "the set needs its near misses"
    );
    run_set(label, &set, floor, new_index);
}

fn run_set(label: &str, set: &Labelled, floor: Floor, new_index: impl Fn() -> FlowIndex) {
    let flows = library();
    for (ages, age_label) in [
        (Ages::AllToday, "fresh install"),
        (Ages::Mixed, "flows of mixed ages"),
    ] {
        let (index, names) = build(new_index(), &flows, ages);
        assert_eq!(index.missing_embeddings(), 0);
        let queries = Queries::new(&index, set);
        let label = format!("{label}, {age_label}");
        let figures = evaluate(&label, &index, &names, &queries, true);
        assert_targets(&label, &figures, floor);
    }
}

#[test]
fn without_the_model_paraphrases_match_and_intakes_no_flow_covers_do_not() {
    run("keyword only", WITHOUT_MODEL, FlowIndex::default);
}

/// Floors of the held-out set: what it measured when it was written, before anything was
/// tuned after it.
const HELD_OUT_WITHOUT_MODEL: Floor = Floor {
    recall_at_1: 0.68,
    recall_at_3: 0.72,
    false_match_rate: 0.08,
};

#[cfg(feature = "embeddings")]
const HELD_OUT_WITH_MODEL: Floor = Floor {
    recall_at_1: 0.86,
    recall_at_3: 0.88,
    false_match_rate: 0.04,
};

#[test]
fn without_the_model_held_out_rewordings_match_and_intakes_no_flow_covers_do_not() {
    run_set(
        "held out, keyword only",
        &held_out(),
        HELD_OUT_WITHOUT_MODEL,
        FlowIndex::default,
    );
}

#[cfg(feature = "embeddings")]
#[test]
fn with_the_model_held_out_rewordings_match_and_intakes_no_flow_covers_do_not() {
    let Some(embedder) = model() else {
        return;
    };
    run_set(
        "held out, semantic + keyword",
        &held_out(),
        HELD_OUT_WITH_MODEL,
        || FlowIndex::default().with_embedder(embedder.clone()),
    );
}

#[cfg(feature = "embeddings")]
fn model() -> Option<std::sync::Arc<flowpilot_matching::MiniLmEmbedder>> {
    let Some(dir) = std::env::var_os("FLOWPILOT_EMBEDDING_MODEL_DIR") else {
        println!("FLOWPILOT_EMBEDDING_MODEL_DIR not set: skipping the model run");
        return None;
    };
    let embedder = flowpilot_matching::MiniLmEmbedder::load(Path::new(&dir)).expect("model loads");
    Some(std::sync::Arc::new(embedder))
}

#[cfg(feature = "embeddings")]
#[test]
fn with_the_model_paraphrases_match_and_intakes_no_flow_covers_do_not() {
    let Some(embedder) = model() else {
        return;
    };
    run("semantic + keyword", WITH_MODEL, || {
        FlowIndex::default().with_embedder(embedder.clone())
    });
}

/// Prints the figures over a grid of configurations; the defaults are chosen from it
/// (docs/matching.md). `cargo test -p flowpilot-matching --test labelled_set -- --ignored
/// --nocapture calibration_grid`, with the model as above to include the semantic signal.
#[test]
#[ignore]
fn calibration_grid() {
    let flows = library();
    let set = labelled();
    #[cfg(feature = "embeddings")]
    let embedder = model();
    #[cfg_attr(not(feature = "embeddings"), allow(unused_mut))]
    let mut index = FlowIndex::default();
    #[cfg(feature = "embeddings")]
    if let Some(e) = &embedder {
        index = index.with_embedder(e.clone());
    }
    let with_model = index.embedder().is_some();
    let (mut index, names) = build(index, &flows, Ages::AllToday);
    let queries = Queries::new(&index, &set);
    let base = MatchConfig::default();
    let semantic_weights: &[f64] = if with_model {
        &[0.5, 0.7, 0.9, 1.2]
    } else {
        &[0.5]
    };
    let mut passing = Vec::new();
    for &half in &[1.2, 1.5, 1.8, 2.1] {
        for &power in &[2.0, 3.0, 4.0, 6.0] {
            for &coverage_power in &[0.5, 1.0] {
                for &semantic in semantic_weights {
                    for threshold in (30..=70).step_by(5).map(|t| f64::from(t) / 100.0) {
                        let config = MatchConfig {
                            threshold,
                            weights: flowpilot_matching::Weights {
                                semantic,
                                keyword: base.weights.keyword,
                            },
                            keyword_scale: flowpilot_matching::KeywordScale {
                                half,
                                power,
                                coverage_power,
                                ..base.keyword_scale
                            },
                            ..base
                        };
                        index.set_config(config);
                        let label = format!(
                            "half {half} power {power} coverage {coverage_power} w_s {semantic} \
                             threshold {threshold:.2}"
                        );
                        let figures = evaluate(&label, &index, &names, &queries, false);
                        if figures.meets_targets() {
                            passing.push(label);
                        }
                    }
                }
            }
        }
    }
    println!("meeting every target: {passing:#?}");
}
