//! `flowpilot flows import|export`: moving flow libraries in and out without the API.

use anyhow::{bail, Context, Result};
use chrono::Utc;
use domain::flow::{parse_flow_documents, to_json, to_yaml, FlowDefinition, FlowFormat};
use domain::Account;
use store::Store;

use crate::cli::{ExportFlows, FlowsCommand, ImportFlows};

pub async fn run(store: &Store, command: FlowsCommand) -> Result<()> {
    match command {
        FlowsCommand::Import(args) => import(store, args).await,
        FlowsCommand::Export(args) => export(store, args).await,
    }
}

async fn account(store: &Store, name: &str) -> Result<Account> {
    store
        .account_by_name(name.trim())
        .await?
        .with_context(|| format!("no account named {name:?}"))
}

/// Reads and validates every file before writing anything, then imports all flows in one
/// transaction: a library is never left half imported.
async fn import(store: &Store, args: ImportFlows) -> Result<()> {
    let account = account(store, &args.account).await?.id;
    let mut flows: Vec<FlowDefinition> = Vec::new();
    let mut problems = Vec::new();
    for path in &args.files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => FlowFormat::Json,
            _ => FlowFormat::Yaml,
        };
        let defs = parse_flow_documents(&text, format)
            .with_context(|| format!("parsing {}", path.display()))?;
        for (index, def) in defs.into_iter().enumerate() {
            if let Err(errors) = def.validate() {
                for e in errors.0 {
                    let loc: Vec<String> = e.loc.iter().skip(1).map(|l| l.to_string()).collect();
                    problems.push(format!(
                        "{} flow {index} ({}): {}: {}",
                        path.display(),
                        def.title,
                        loc.join("."),
                        e.msg
                    ));
                }
            }
            flows.push(def);
        }
    }
    if !problems.is_empty() {
        bail!("nothing imported:\n  {}", problems.join("\n  "));
    }
    if flows.is_empty() {
        bail!("the files hold no flows");
    }
    let ids = store
        .import_flows(account, None, &flows, Utc::now())
        .await?;
    for (id, def) in ids.iter().zip(&flows) {
        println!("{id} {}", def.title);
    }
    eprintln!("imported {} flows into {:?}", ids.len(), args.account);
    Ok(())
}

async fn export(store: &Store, args: ExportFlows) -> Result<()> {
    let flows = match args.account.as_deref() {
        Some(name) => store.account_flows(account(store, name).await?.id).await?,
        None => store
            .all_flows()
            .await?
            .into_iter()
            .filter(|f| f.account_id.is_none())
            .collect(),
    };
    let defs: Vec<FlowDefinition> = flows.into_iter().map(|f| f.definition).collect();
    let text = if args.format == "json" {
        to_json(&defs)?
    } else {
        to_yaml(&defs)?
    };
    println!("{}", text.trim_end());
    Ok(())
}
