//! `flowpilot eval` (eval.md): runs a suite of cases through the real session loop and
//! reports how well FlowPilot guided, at what cost and latency.
//!
//! A reading guide: `cases` (the case files), `engineer` and `llm_engineer` (who answers the
//! steps), `harness` (a case as a session on a throwaway database), `summary` (the figures),
//! `report` (what is printed and written), `words` (the scripted engineer's reading).

pub mod cases;
pub mod engineer;
pub mod harness;
pub mod llm_engineer;
pub mod report;
pub mod summary;
mod words;

use std::path::PathBuf;

use anyhow::{Context, Result};
use server::Settings;

use crate::cli::{EngineerKind, Eval};
use engineer::{Engineer, ScriptedEngineer};
use harness::Harness;
use report::{CaseLine, Document, Progress};
use summary::{ended_right, summarise};

pub async fn run(settings: Settings, args: Eval) -> Result<()> {
    let cases = cases::load(&args.cases)?;
    let repeat = usize::from(args.repeat);
    let engineer: Box<dyn Engineer> = match args.engineer {
        EngineerKind::Scripted => Box::new(ScriptedEngineer),
        EngineerKind::Llm => Box::new(llm_engineer::LlmEngineer::new(llm_engineer::from_vars(
            |name| std::env::var(name).ok(),
        )?)),
    };
    let harness = Harness::start(settings, args.flows.as_deref()).await?;
    let engine = harness.engine();
    println!(
        "evaluating {} cases x {repeat} with engine {engine}, engineer {}",
        cases.len(),
        engineer.describe()
    );
    let progress = Progress::new(cases.len() * repeat);
    let mut runs = Vec::with_capacity(cases.len() * repeat);
    let mut right = 0;
    for run_index in 1..=repeat {
        for case in &cases {
            let run = harness.run(case, engineer.as_ref()).await?;
            right += usize::from(ended_right(case, &run));
            progress.clear();
            println!(
                "{}",
                report::case_line(&CaseLine::new(case, run_index, &run))
            );
            runs.push((case, run_index, run));
            progress.update(runs.len(), right);
        }
    }
    progress.clear();
    let spend = harness.spend().await?;
    harness.close().await;
    let paired: Vec<_> = runs.iter().map(|(c, _, r)| (*c, r.clone())).collect();
    let summary = summarise(&paired, cases.len(), repeat, spend, engine);
    println!("\n{}", report::table(&summary));
    if let Some(path) = &args.json {
        write_json(path, &summary, &runs)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn write_json(
    path: &PathBuf,
    summary: &summary::Summary,
    runs: &[(&cases::Case, usize, summary::CaseRun)],
) -> Result<()> {
    let document = Document {
        summary,
        cases: runs
            .iter()
            .map(|(case, index, run)| CaseLine::new(case, *index, run))
            .collect(),
    };
    let text = serde_json::to_string_pretty(&document).context("encoding the results")?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
