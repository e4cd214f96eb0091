//! The embedding model: where it is looked for, whether it loads and embeds. Without it
//! flow matching runs on keywords and recency, so a missing model is a note, not a failure.

use std::path::{Path, PathBuf};

use providers::probe::{duration, Level};
use server::embedding::ModelStatus;
use server::Settings;

use super::report::{finding, Section};

const VAR: &str = "FLOWPILOT_EMBEDDING_MODEL_DIR";
const FETCH: &str = "scripts/fetch-embedding-model.sh";

pub fn check(settings: &Settings) -> Section {
    let found = match server::embedding::check(settings) {
        ModelStatus::NotBuilt { dir_set: None } => finding(
            Level::Note,
            "this build has no `embeddings` feature: semantic flow matching is off (keywords and recency still match flows)",
            Some(format!(
                "to turn it on, build with --features embeddings and fetch the model with {FETCH}"
            )),
        ),
        ModelStatus::NotBuilt { dir_set: Some(dir) } => finding(
            Level::Warn,
            format!(
                "{VAR} is set ({}) but this build has no `embeddings` feature, so it is not used",
                dir.display()
            ),
            Some(format!("build with --features embeddings, or unset {VAR}")),
        ),
        ModelStatus::NotFound {
            searched,
            explicit: true,
        } => finding(
            Level::Warn,
            format!(
                "{VAR}={} does not hold the model ({}): semantic flow matching is off",
                shown(&searched[0]).display(),
                matching_files()
            ),
            Some(format!(
                "fetch it with {FETCH} and point {VAR} at the directory it fills, or unset {VAR}"
            )),
        ),
        ModelStatus::NotFound {
            searched,
            explicit: false,
        } => finding(
            Level::Note,
            format!(
                "no model found, semantic flow matching is off; looked in {}",
                searched
                    .iter()
                    .map(|d| shown(d).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(format!(
                "fetch it with {FETCH} (into ./models/all-MiniLM-L6-v2), or set {VAR}"
            )),
        ),
        ModelStatus::Broken { dir, error } => finding(
            Level::Fail,
            format!("the model in {} does not work: {error}", shown(&dir).display()),
            Some(format!("fetch it again with {FETCH}")),
        ),
        ModelStatus::Works {
            dir,
            dimensions,
            took,
        } => finding(
            Level::Ok,
            format!(
                "loaded from {}, one sentence embedded ({dimensions} dimensions, {})",
                shown(&dir).display(),
                duration(took)
            ),
            None,
        ),
    };
    Section {
        key: "embedding_model",
        title: "Embedding model (all-MiniLM-L6-v2)".into(),
        findings: vec![found],
    }
}

fn matching_files() -> String {
    server::embedding::MODEL_FILES.join(", ")
}

/// Relative directories are looked up from the working directory; say which.
fn shown(dir: &Path) -> PathBuf {
    if dir.is_relative() {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    } else {
        dir.to_path_buf()
    }
}
