use chrono::Utc;
use domain::flow::{parse_flow_documents, FlowFormat};
use sha2::{Digest, Sha256};
use store::{BuiltinLoad, Store};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_flows.rs"));
}

/// Loads the shipped flows into the database: new files are inserted, changed files update
/// their flow in place (keeping its id and statistics), unchanged files cost one lookup.
/// A shipped file that does not parse or validate is logged and skipped: one bad file must
/// not keep the server from starting.
pub async fn load_builtin_flows(store: &Store) -> Result<(usize, usize), store::StoreError> {
    let (mut inserted, mut updated) = (0, 0);
    for (key, text) in embedded::BUILTIN_FLOWS {
        let definitions = match parse_flow_documents(text, FlowFormat::Yaml) {
            Ok(defs) => defs,
            Err(err) => {
                tracing::error!(flow = key, %err, "built-in flow does not parse; skipped");
                continue;
            }
        };
        let Some(def) = definitions.into_iter().next() else {
            continue;
        };
        if let Err(errors) = def.validate() {
            tracing::error!(flow = key, ?errors, "built-in flow is invalid; skipped");
            continue;
        }
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        match store
            .upsert_builtin_flow(key, &hash, &def, Utc::now())
            .await?
        {
            BuiltinLoad::Inserted => inserted += 1,
            BuiltinLoad::Updated => updated += 1,
            BuiltinLoad::Unchanged => {}
        }
    }
    if inserted + updated > 0 {
        tracing::info!(inserted, updated, "built-in flow library loaded");
    }
    Ok((inserted, updated))
}
