//! What an evaluation shows: progress on a terminal, a line per case, the summary table,
//! and the `--json` document (eval.md).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::cases::Case;
use super::summary::{ended_right, CaseRun, Summary};

/// A case of the `--json` file.
#[derive(Debug, Serialize)]
pub struct CaseLine<'a> {
    pub id: &'a str,
    /// Which run of the case, from 1 (`--repeat`).
    pub run: usize,
    pub outcome: &'static str,
    pub expected: &'static str,
    pub matched_flow: Option<&'a str>,
    pub steps: i64,
    pub confidence: f64,
    pub resolution: Option<&'a str>,
    pub ended_right: bool,
}

impl<'a> CaseLine<'a> {
    pub fn new(case: &'a Case, run_index: usize, run: &'a CaseRun) -> Self {
        CaseLine {
            id: &run.id,
            run: run_index,
            outcome: run.outcome.as_str(),
            expected: case.expect.outcome.as_str(),
            matched_flow: run.matched_flow.as_deref(),
            steps: run.steps,
            confidence: run.confidence,
            resolution: run.resolution.as_deref(),
            ended_right: ended_right(case, run),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub summary: &'a Summary,
    pub cases: Vec<CaseLine<'a>>,
}

/// One line per case run, for stdout.
pub fn case_line(line: &CaseLine<'_>) -> String {
    format!(
        "{mark} {id:<34} {outcome:<10} (expected {expected:<8}) steps {steps:>2}  confidence {conf:.2}  flow: {flow}",
        mark = if line.ended_right { "ok  " } else { "MISS" },
        id = line.id,
        outcome = line.outcome,
        expected = line.expected,
        steps = line.steps,
        conf = line.confidence,
        flow = line.matched_flow.unwrap_or("none"),
    )
}

/// The summary's fields in eval.md's order.
pub const FIELDS: [&str; 16] = [
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
];

/// The summary as a two-column table, the same fields as the JSON.
pub fn table(summary: &Summary) -> String {
    let Ok(Value::Object(fields)) = serde_json::to_value(summary) else {
        return String::new();
    };
    let mut out = String::from("| field | value |\n|---|---|\n");
    for name in FIELDS {
        let value = fields.get(name).cloned().unwrap_or(Value::Null);
        let shown = match value {
            Value::Null => "–".to_string(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() => format!("{f:.3}"),
                _ => n.to_string(),
            },
            Value::String(s) => s,
            other => other.to_string(),
        };
        out.push_str(&format!("| {name} | {shown} |\n"));
    }
    out
}

/// Cases done of total, elapsed time and the running share of right outcomes, rewritten in
/// place on a terminal and silent otherwise (a log file wants only the case lines).
pub struct Progress {
    on_terminal: bool,
    started: Instant,
    total: usize,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            on_terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            total,
        }
    }

    pub fn update(&self, done: usize, right: usize) {
        if !self.on_terminal {
            return;
        }
        let rate = if done == 0 {
            0.0
        } else {
            100.0 * right as f64 / done as f64
        };
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r{done}/{} cases, {:.1}s, {rate:.0}% ended right ",
            self.total,
            self.started.elapsed().as_secs_f64()
        );
        let _ = err.flush();
    }

    pub fn clear(&self) {
        if self.on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::summary::{summarise, Spend};
    use super::*;

    #[test]
    fn the_table_shows_every_summary_field_and_null_as_a_dash() {
        let summary = summarise(&[], 0, 1, Spend::default(), "offline".into());
        let table = table(&summary);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json.as_object().unwrap().len(), FIELDS.len());
        for field in FIELDS {
            assert!(
                table.contains(&format!("| {field} |")),
                "{field} missing:\n{table}"
            );
        }
        assert!(table.contains("| flow_top1 | – |"));
        assert!(table.contains("| engine | offline |"));
    }
}
