//! The figures of a run (eval.md "Summary"), computed from the runs of the cases alone, so
//! the same results always give the same summary.

use serde::Serialize;

use super::cases::{Case, ExpectedOutcome};

/// How a run of a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Resolved,
    Escalated,
    StepLimit,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Escalated => "escalated",
            Outcome::StepLimit => "step_limit",
        }
    }
}

/// The flow a session matched first.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedFlow {
    pub title: String,
    pub domain: String,
}

/// One run of one case, as observed from FlowPilot's side.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRun {
    pub id: String,
    pub outcome: Outcome,
    /// The match at the start of the session (re-matching later does not change it).
    pub first_match: Option<MatchedFlow>,
    /// The flow the session ended on.
    pub matched_flow: Option<String>,
    pub steps: i64,
    /// The final step's confidence.
    pub confidence: f64,
    /// The suggested fix the engineer resolved with.
    pub resolution: Option<String>,
    /// Milliseconds FlowPilot took for each step it produced (or re-asked).
    pub step_latencies_ms: Vec<f64>,
}

/// Totals of FlowPilot's own provider calls (the simulated engineer's are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spend {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub cases: usize,
    pub repeat: usize,
    pub flow_top1: Option<f64>,
    pub no_match_when_expected: Option<f64>,
    pub outcome_correct: Option<f64>,
    pub resolution_keyword_hit: Option<f64>,
    pub steps_mean: Option<f64>,
    pub steps_p90: Option<f64>,
    pub ece: Option<f64>,
    pub brier: Option<f64>,
    pub step_latency_p50_ms: Option<f64>,
    pub step_latency_p95_ms: Option<f64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub engine: String,
}

/// Whether the run's first match is the flow (or domain) the case expects; `None` when the
/// case names neither.
pub fn first_match_right(case: &Case, run: &CaseRun) -> Option<bool> {
    let expect = &case.expect;
    if expect.flow.is_none() && expect.domain.is_none() {
        return None;
    }
    let Some(m) = &run.first_match else {
        return Some(false);
    };
    let flow_ok = expect
        .flow
        .as_ref()
        .is_none_or(|f| m.title.to_lowercase().contains(&f.to_lowercase()));
    let domain_ok = expect
        .domain
        .as_ref()
        .is_none_or(|d| m.domain.eq_ignore_ascii_case(d));
    Some(flow_ok && domain_ok)
}

pub fn outcome_right(case: &Case, run: &CaseRun) -> bool {
    matches!(
        (case.expect.outcome, run.outcome),
        (ExpectedOutcome::Resolve, Outcome::Resolved)
            | (ExpectedOutcome::Escalate, Outcome::Escalated)
    )
}

/// The share of the case's `resolution_keywords` in the resolution; `None` when the case
/// has none or the run did not resolve a `resolve` case.
pub fn keyword_hit(case: &Case, run: &CaseRun) -> Option<f64> {
    let keywords = &case.expect.resolution_keywords;
    if keywords.is_empty() || case.expect.outcome != ExpectedOutcome::Resolve {
        return None;
    }
    let resolution = run.resolution.as_deref()?.to_lowercase();
    if run.outcome != Outcome::Resolved {
        return None;
    }
    let hits = keywords
        .iter()
        .filter(|k| resolution.contains(&k.to_lowercase()))
        .count();
    Some(hits as f64 / keywords.len() as f64)
}

/// Whether the case ended right: the expected outcome and, for a fix the case can check,
/// at least half of its keywords.
pub fn ended_right(case: &Case, run: &CaseRun) -> bool {
    outcome_right(case, run) && keyword_hit(case, run).is_none_or(|hit| hit >= 0.5)
}

/// The summary of `runs`, each paired with its case.
pub fn summarise(
    runs: &[(&Case, CaseRun)],
    cases: usize,
    repeat: usize,
    spend: Spend,
    engine: String,
) -> Summary {
    let top1: Vec<bool> = runs
        .iter()
        .filter_map(|(c, r)| first_match_right(c, r))
        .collect();
    let no_match: Vec<bool> = runs
        .iter()
        .filter(|(c, _)| c.expect.outcome == ExpectedOutcome::Escalate)
        .map(|(_, r)| r.first_match.is_none())
        .collect();
    let outcomes: Vec<bool> = runs.iter().map(|(c, r)| outcome_right(c, r)).collect();
    let hits: Vec<f64> = runs.iter().filter_map(|(c, r)| keyword_hit(c, r)).collect();
    let steps: Vec<f64> = runs.iter().map(|(_, r)| r.steps as f64).collect();
    // Calibration is of fixes suggested (engine.md "Confidence"): the runs that ended on a
    // resolution suggestion, against whether it was the right end.
    let forecasts: Vec<(f64, bool)> = runs
        .iter()
        .filter(|(_, r)| r.outcome == Outcome::Resolved)
        .map(|(c, r)| (r.confidence.clamp(0.0, 1.0), ended_right(c, r)))
        .collect();
    let latencies: Vec<f64> = runs
        .iter()
        .flat_map(|(_, r)| r.step_latencies_ms.iter().copied())
        .collect();
    Summary {
        cases,
        repeat,
        flow_top1: share(&top1),
        no_match_when_expected: share(&no_match),
        outcome_correct: share(&outcomes),
        resolution_keyword_hit: mean(&hits),
        steps_mean: mean(&steps),
        steps_p90: percentile(&steps, 0.90),
        ece: ece(&forecasts),
        brier: brier(&forecasts),
        step_latency_p50_ms: percentile(&latencies, 0.50),
        step_latency_p95_ms: percentile(&latencies, 0.95),
        input_tokens: spend.input_tokens,
        output_tokens: spend.output_tokens,
        cost_usd: spend.cost_usd,
        engine,
    }
}

fn share(flags: &[bool]) -> Option<f64> {
    if flags.is_empty() {
        return None;
    }
    Some(flags.iter().filter(|f| **f).count() as f64 / flags.len() as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The nearest-rank percentile: the smallest value with at least `q` of the values at or
/// below it.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Bins of the expected calibration error: ten of equal width, as the engine's own
/// calibration figures use.
const ECE_BINS: usize = 10;

/// Expected calibration error: the gap between confidence and the share that ended right,
/// per confidence bin, weighted by the bin's size.
pub fn ece(forecasts: &[(f64, bool)]) -> Option<f64> {
    if forecasts.is_empty() {
        return None;
    }
    let mut bins = [(0.0f64, 0.0f64, 0usize); ECE_BINS];
    for &(p, right) in forecasts {
        let bin = ((p * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[bin].0 += p;
        bins[bin].1 += if right { 1.0 } else { 0.0 };
        bins[bin].2 += 1;
    }
    let n = forecasts.len() as f64;
    Some(
        bins.iter()
            .filter(|b| b.2 > 0)
            .map(|&(p, right, count)| {
                let count = count as f64;
                (count / n) * (p / count - right / count).abs()
            })
            .sum(),
    )
}

pub fn brier(forecasts: &[(f64, bool)]) -> Option<f64> {
    let scores: Vec<f64> = forecasts
        .iter()
        .map(|&(p, right)| (p - if right { 1.0 } else { 0.0 }).powi(2))
        .collect();
    mean(&scores)
}

#[cfg(test)]
mod tests {
    use super::super::cases::Expect;
    use super::*;

    fn case(outcome: ExpectedOutcome, flow: Option<&str>, keywords: &[&str]) -> Case {
        Case {
            id: "c".into(),
            intake: "x".into(),
            log: None,
            facts: Vec::new(),
            expect: Expect {
                outcome,
                domain: None,
                flow: flow.map(Into::into),
                resolution_keywords: keywords.iter().map(|k| k.to_string()).collect(),
            },
        }
    }

    fn run(outcome: Outcome, matched: Option<&str>, resolution: Option<&str>, p: f64) -> CaseRun {
        CaseRun {
            id: "c".into(),
            outcome,
            first_match: matched.map(|t| MatchedFlow {
                title: t.into(),
                domain: "printing".into(),
            }),
            matched_flow: matched.map(Into::into),
            steps: 4,
            confidence: p,
            resolution: resolution.map(Into::into),
            step_latencies_ms: vec![2.0, 4.0],
        }
    }

    #[test]
    fn the_first_match_is_right_when_its_title_holds_the_expected_part() {
        let c = case(ExpectedOutcome::Resolve, Some("printer shows OFFLINE"), &[]);
        let hit = run(
            Outcome::Resolved,
            Some("Network printer shows offline"),
            None,
            0.9,
        );
        let miss = run(Outcome::Resolved, Some("Print jobs stuck"), None, 0.9);
        let none = run(Outcome::Resolved, None, None, 0.9);
        assert_eq!(first_match_right(&c, &hit), Some(true));
        assert_eq!(first_match_right(&c, &miss), Some(false));
        assert_eq!(first_match_right(&c, &none), Some(false));
        let unnamed = case(ExpectedOutcome::Resolve, None, &[]);
        assert_eq!(first_match_right(&unnamed, &hit), None);
    }

    #[test]
    fn keywords_count_only_on_a_resolved_case_that_should_resolve() {
        let c = case(
            ExpectedOutcome::Resolve,
            None,
            &["DHCP reservation", "port"],
        );
        let resolved = run(
            Outcome::Resolved,
            None,
            Some("Gave the printer a dhcp reservation"),
            0.8,
        );
        assert_eq!(keyword_hit(&c, &resolved), Some(0.5));
        assert!(ended_right(&c, &resolved));
        let escalated = run(Outcome::Escalated, None, None, 0.3);
        assert_eq!(keyword_hit(&c, &escalated), None);
        assert!(!ended_right(&c, &escalated));
        let wrong_fix = run(Outcome::Resolved, None, Some("Reinstalled the driver"), 0.8);
        assert_eq!(keyword_hit(&c, &wrong_fix), Some(0.0));
        assert!(outcome_right(&c, &wrong_fix) && !ended_right(&c, &wrong_fix));
    }

    #[test]
    fn the_summary_counts_each_share_over_the_cases_it_concerns() {
        let resolve = case(ExpectedOutcome::Resolve, Some("offline"), &["port"]);
        let escalate = case(ExpectedOutcome::Escalate, None, &[]);
        let runs = vec![
            (
                &resolve,
                run(
                    Outcome::Resolved,
                    Some("Printer offline"),
                    Some("fix the port"),
                    0.9,
                ),
            ),
            (&escalate, run(Outcome::Escalated, None, None, 0.2)),
            (
                &escalate,
                run(
                    Outcome::Resolved,
                    Some("Printer offline"),
                    Some("port"),
                    0.6,
                ),
            ),
        ];
        let s = summarise(&runs, 2, 1, Spend::default(), "offline".into());
        assert_eq!(s.flow_top1, Some(1.0));
        assert_eq!(s.no_match_when_expected, Some(0.5));
        assert_eq!(s.outcome_correct, Some(2.0 / 3.0));
        assert_eq!(s.resolution_keyword_hit, Some(1.0));
        assert_eq!(s.steps_mean, Some(4.0));
        // Two fixes suggested: one right at 0.9, one wrong at 0.6.
        assert_eq!(s.brier, Some((0.01 + 0.36) / 2.0));
        assert!((s.ece.unwrap() - (0.1 + 0.6) / 2.0).abs() < 1e-9);
        assert_eq!(s.step_latency_p50_ms, Some(2.0));
        assert_eq!(s.step_latency_p95_ms, Some(4.0));
    }

    #[test]
    fn shares_of_nothing_are_null() {
        let s = summarise(&[], 0, 1, Spend::default(), "offline".into());
        assert_eq!(s.flow_top1, None);
        assert_eq!(s.ece, None);
        assert_eq!(s.steps_p90, None);
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["flow_top1"].is_null());
    }

    #[test]
    fn the_nearest_rank_percentile() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.9), Some(9.0));
        assert_eq!(percentile(&v, 0.5), Some(5.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
    }
}
