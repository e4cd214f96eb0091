//! Calibration against the built-in library: paraphrases of a flow's problem must find it,
//! intakes unrelated to every flow must find nothing (flows.md "Matching").
//!
//! Every flow gets the same last activity, 400 days before `now`, so recency (then ≈ 0.05)
//! neither helps nor ranks: this measures what the intake says, and is the harder case for
//! the threshold, since a recently used flow only scores higher. The same queries are also
//! run with every flow used today, to show that recency alone does not create matches.
//!
//! The query set is `flows/queries/labelled.yaml`, or the file named by
//! `FLOWPILOT_LABELLED_QUERIES`. With the `embeddings` feature and
//! `FLOWPILOT_EMBEDDING_MODEL_DIR` set, the set is run again with the model.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::flow::{parse_flow_documents, FlowDefinition, FlowFormat};
use flowpilot_matching::{FlowEntry, FlowIndex, MatchQuery};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Labelled {
    paraphrases: Vec<Paraphrase>,
    out_of_scope: Vec<String>,
}

#[derive(Deserialize)]
struct Paraphrase {
    query: String,
    /// The file stem of the flow the query describes.
    flow: String,
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
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn build(
    mut index: FlowIndex,
    flows: &[(String, FlowDefinition)],
    age: Duration,
) -> (FlowIndex, HashMap<Uuid, String>) {
    let mut names = HashMap::new();
    for (n, (stem, def)) in flows.iter().enumerate() {
        let id = Uuid::from_u128(n as u128 + 1);
        names.insert(id, stem.clone());
        index.upsert(FlowEntry {
            id,
            account_id: None,
            domain: def.domain.clone(),
            published: true,
            search_text: def.search_text(),
            last_activity: now() - age,
        });
    }
    (index, names)
}

struct Report {
    recall_at_1: f64,
    recall_at_3: f64,
    false_match_rate: f64,
}

fn evaluate(
    label: &str,
    index: &FlowIndex,
    names: &HashMap<Uuid, String>,
    set: &Labelled,
) -> Report {
    let search = |text: &str| {
        let query = MatchQuery {
            text: text.into(),
            account_id: None,
            domain: None,
            limit: 3,
        };
        index.search(&query, now())
    };
    let (mut top1, mut top3) = (0, 0);
    println!("--- {label}");
    for p in &set.paraphrases {
        let results = search(&p.query);
        let found: Vec<&str> = results.iter().map(|r| names[&r.flow_id].as_str()).collect();
        match found.iter().position(|f| *f == p.flow) {
            Some(0) => top1 += 1,
            Some(_) => top3 += 1,
            None => {}
        }
        if found.first() != Some(&p.flow.as_str()) {
            let scores: Vec<String> = results
                .iter()
                .map(|r| {
                    format!(
                        "{} {:.2} (kw {:.2}, sem {:?})",
                        names[&r.flow_id],
                        r.score,
                        r.signals.keyword,
                        r.signals.semantic.map(|s| (s * 100.0).round() / 100.0)
                    )
                })
                .collect();
            println!("  miss@1 {:?} want {} got {:?}", p.query, p.flow, scores);
        }
    }
    top3 += top1;
    let mut false_matches = 0;
    for text in &set.out_of_scope {
        let results = search(text);
        if let Some(best) = results.first() {
            false_matches += 1;
            println!(
                "  false match {:?} -> {} {:.2} (kw {:.2}, sem {:?})",
                text, names[&best.flow_id], best.score, best.signals.keyword, best.signals.semantic
            );
        }
    }
    let n = set.paraphrases.len().max(1) as f64;
    let report = Report {
        recall_at_1: f64::from(top1) / n,
        recall_at_3: f64::from(top3) / n,
        false_match_rate: f64::from(false_matches) / set.out_of_scope.len().max(1) as f64,
    };
    println!(
        "{label}: {} flows, {} paraphrases, {} out-of-scope: recall@1 {:.3}, recall@3 {:.3}, false-match rate {:.3}",
        names.len(),
        set.paraphrases.len(),
        set.out_of_scope.len(),
        report.recall_at_1,
        report.recall_at_3,
        report.false_match_rate
    );
    report
}

#[test]
fn keywords_and_recency_alone_find_paraphrases_and_ignore_unrelated_intakes() {
    let flows = library();
    let set = labelled();
    let (index, names) = build(FlowIndex::default(), &flows, Duration::days(400));
    let report = evaluate("keyword + recency", &index, &names, &set);

    let (fresh, names) = build(FlowIndex::default(), &flows, Duration::zero());
    let fresh_report = evaluate(
        "keyword + recency, every flow used today",
        &fresh,
        &names,
        &set,
    );

    // Floors a little under the measured figures (docs/matching.md), so that adding
    // flows or queries does not break the build over one query, while a real regression does.
    assert!(
        report.recall_at_1 >= 0.85,
        "recall@1 {}",
        report.recall_at_1
    );
    assert!(report.recall_at_3 >= 0.9, "recall@3 {}", report.recall_at_3);
    assert!(
        report.false_match_rate <= 0.05,
        "false-match rate {}",
        report.false_match_rate
    );
    assert!(
        fresh_report.false_match_rate <= 0.05,
        "false-match rate with every flow used today {}",
        fresh_report.false_match_rate
    );
}

#[cfg(feature = "embeddings")]
#[test]
fn with_the_embedding_model_paraphrases_match_and_unrelated_intakes_do_not() {
    use std::sync::Arc;

    use flowpilot_matching::MiniLmEmbedder;

    let Some(dir) = std::env::var_os("FLOWPILOT_EMBEDDING_MODEL_DIR") else {
        println!("FLOWPILOT_EMBEDDING_MODEL_DIR not set: skipping the model run");
        return;
    };
    let embedder = MiniLmEmbedder::load(Path::new(&dir)).expect("model loads");
    let flows = library();
    let set = labelled();
    let index = FlowIndex::default().with_embedder(Arc::new(embedder));
    let (index, names) = build(index, &flows, Duration::days(400));
    assert_eq!(index.missing_embeddings(), 0);
    let report = evaluate("semantic + keyword + recency", &index, &names, &set);
    assert!(
        report.recall_at_1 >= 0.85,
        "recall@1 {}",
        report.recall_at_1
    );
    assert!(report.recall_at_3 >= 0.9, "recall@3 {}", report.recall_at_3);
    assert!(
        report.false_match_rate <= 0.05,
        "false-match rate {}",
        report.false_match_rate
    );
}
