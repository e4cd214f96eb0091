//! `flowpilot eval` on the project's own suite (eval/), offline, as CI runs it: the summary
//! carries every field of eval.md, and the figures do not fall below the floors set just
//! under what the offline engine achieves today (docs/eval.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary as CI runs it: no provider configured, no embedding model, so the offline
/// engine on keyword matching, whatever the machine has installed.
fn flowpilot(no_model: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowpilot"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FLOWPILOT_LLM_PROVIDER", "offline")
        .env("FLOWPILOT_EMBEDDING_MODEL_DIR", no_model)
        .env("RUST_LOG", "warn")
        .current_dir(workspace());
    cmd
}

fn run_suite(out: &Path) -> Value {
    let no_model = tempfile::tempdir().unwrap();
    let result = flowpilot(no_model.path())
        .args(["eval", "--cases", "eval/", "--json"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "flowpilot eval failed:\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn figure(summary: &Value, field: &str) -> f64 {
    summary[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number: {summary}"))
}

#[test]
fn the_shipped_suite_runs_offline_and_holds_its_floors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let document = run_suite(&out);
    let summary = &document["summary"];

    for field in [
        "cases",
        "repeat",
        "flow_top1",
        "no_match_when_expected",
        "outcome_correct",
        "resolution_keyword_hit",
        "steps_mean",
        "steps_p90",
        "ece",
        "brier",
        "step_latency_p50_ms",
        "step_latency_p95_ms",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "engine",
    ] {
        assert!(
            summary.get(field).is_some(),
            "summary lacks {field}: {summary}"
        );
    }
    assert_eq!(summary["engine"], "offline");
    assert_eq!(summary["repeat"], 1);
    assert_eq!(summary["input_tokens"], 0);
    assert_eq!(summary["output_tokens"], 0);
    assert_eq!(summary["cost_usd"], 0.0);

    let cases = document["cases"].as_array().unwrap();
    assert_eq!(cases.len() as u64, summary["cases"].as_u64().unwrap());
    for case in cases {
        for field in [
            "id",
            "outcome",
            "matched_flow",
            "steps",
            "confidence",
            "resolution",
        ] {
            assert!(case.get(field).is_some(), "a case lacks {field}: {case}");
        }
        let outcome = case["outcome"].as_str().unwrap();
        assert!(
            ["resolved", "escalated", "step_limit"].contains(&outcome),
            "{case}"
        );
    }

    // Floors: today's offline figures (docs/eval.md) less a small margin. A change that
    // makes matching, the walk or the confidence worse on the suite fails here.
    let floors = [
        ("flow_top1", 0.70),
        ("no_match_when_expected", 0.80),
        ("outcome_correct", 0.63),
        ("resolution_keyword_hit", 0.65),
    ];
    for (field, floor) in floors {
        let value = figure(summary, field);
        assert!(value >= floor, "{field} fell to {value:.3} (floor {floor})");
    }
    let ceilings = [("ece", 0.22), ("brier", 0.24), ("steps_mean", 5.0)];
    for (field, ceiling) in ceilings {
        let value = figure(summary, field);
        assert!(
            value <= ceiling,
            "{field} rose to {value:.3} (ceiling {ceiling})"
        );
    }
}

#[test]
fn the_same_suite_gives_the_same_sessions_twice() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_suite(&dir.path().join("a.json"));
    let second = run_suite(&dir.path().join("b.json"));
    assert_eq!(first["cases"], second["cases"]);
}

/// The suite's make-up (issue 15): at least 60 cases, every domain of the built-in library,
/// and at least 8 out-of-scope problems that should escalate.
#[test]
fn the_suite_covers_every_domain_and_problems_out_of_scope() {
    let mut library = BTreeSet::new();
    for entry in std::fs::read_dir(workspace().join("flows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let flow: serde_yaml::Value =
                serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            library.insert(flow["domain"].as_str().unwrap().to_string());
        }
    }
    let (mut cases, mut covered, mut out_of_scope) = (0, BTreeSet::new(), 0);
    for entry in std::fs::read_dir(workspace().join("eval")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let suite: Vec<serde_yaml::Value> =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in suite {
            cases += 1;
            let expect = &case["expect"];
            match expect["domain"].as_str() {
                Some(domain) => {
                    covered.insert(domain.to_string());
                }
                None if expect["outcome"] == "escalate" && expect["flow"].is_null() => {
                    out_of_scope += 1
                }
                None => {}
            }
        }
    }
    assert!(cases >= 60, "only {cases} cases");
    let missing: Vec<_> = library.difference(&covered).collect();
    assert!(missing.is_empty(), "no case for the domains {missing:?}");
    assert!(out_of_scope >= 8, "only {out_of_scope} out-of-scope cases");
}

#[test]
fn a_malformed_case_file_is_refused_naming_the_file_case_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "- {id: fine, intake: x, expect: {outcome: resolve}}\n- {id: bad-one, intake: x, expect: {outcome: maybe}}\n",
    )
    .unwrap();
    let result = flowpilot(dir.path())
        .args(["eval", "--cases"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!result.status.success());
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(
        err.contains("broken.yaml: case 2 (bad-one): expect.outcome"),
        "{err}"
    );
}
