//! `flowpilot doctor` (config.md, engine.md "Probe"): the database, the embedding model, the
//! LLM provider and the mail server checked end to end with the settings `serve` uses, each finding with what
//! to change. Exits non-zero only on a failure; a missing embedding model is a note.

mod database;
mod embedding;
mod notifications;
mod provider;
mod report;

use anyhow::{bail, Result};
use providers::probe::Level;
use server::Settings;

use crate::cli::Doctor;
use report::Report;

pub async fn run(settings: Settings, args: Doctor) -> Result<()> {
    let report = Report {
        sections: vec![
            database::check(&settings).await,
            embedding::check(&settings),
            provider::check(&settings).await,
            notifications::check(&settings).await,
        ],
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    let failed = report.count(Level::Fail);
    if failed > 0 {
        bail!(
            "{failed} check{} failed (the FAIL lines say what to change)",
            if failed == 1 { "" } else { "s" }
        );
    }
    Ok(())
}
