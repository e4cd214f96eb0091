//! The doctor's findings grouped by what was checked, as plain text or JSON.

use std::fmt::Write as _;

use providers::probe::{Finding, Level};
use serde_json::{json, Value};

pub struct Section {
    /// `database`, `embedding_model`, `llm_provider`: stable, for `--json` readers.
    pub key: &'static str,
    /// What was checked, as a person reads it (no secrets).
    pub title: String,
    pub findings: Vec<Finding>,
}

pub struct Report {
    pub sections: Vec<Section>,
}

impl Report {
    pub fn count(&self, level: Level) -> usize {
        self.sections
            .iter()
            .flat_map(|s| &s.findings)
            .filter(|f| f.level == level)
            .count()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for section in &self.sections {
            let _ = writeln!(out, "{}", section.title);
            for finding in &section.findings {
                let _ = writeln!(out, "  {:<5} {}", finding.level.as_str(), finding.text);
                if let Some(fix) = &finding.fix {
                    let _ = writeln!(out, "        -> {fix}");
                }
            }
            out.push('\n');
        }
        let (failed, warned) = (self.count(Level::Fail), self.count(Level::Warn));
        let _ = match (failed, warned) {
            (0, 0) => writeln!(out, "All is well."),
            (0, w) => writeln!(out, "All is well, with {w} warning{} above.", plural(w)),
            (f, _) => writeln!(
                out,
                "{f} problem{} to fix: see the FAIL lines above.",
                plural(f)
            ),
        };
        out
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.count(Level::Fail) == 0,
            "sections": self.sections.iter().map(|s| json!({
                "check": s.key,
                "title": s.title,
                "findings": s.findings.iter().map(|f| json!({
                    "level": f.level.as_str().to_ascii_lowercase(),
                    "text": f.text,
                    "fix": f.fix,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A finding, for the sections the provider probe does not write.
pub fn finding(level: Level, text: impl Into<String>, fix: Option<String>) -> Finding {
    Finding {
        level,
        text: text.into(),
        fix,
    }
}
