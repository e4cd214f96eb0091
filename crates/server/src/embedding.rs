//! The optional sentence-embedding model for flow matching.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use matching::MODEL_FILES;

use crate::settings::Settings;

/// The embedder when the `embeddings` feature is built and the model is found; otherwise
/// `None`, said once in the log, and matching runs on keywords and recency alone.
#[cfg(feature = "embeddings")]
pub fn load(settings: &Settings) -> Option<Arc<dyn matching::Embedder>> {
    let Some(dir) = matching::locate_model_dir(settings.embedding_model_dir.clone()) else {
        tracing::info!(
            "no embedding model found: semantic flow matching is off (see docs/matching.md)"
        );
        return None;
    };
    match matching::MiniLmEmbedder::load(&dir) {
        Ok(model) => {
            tracing::info!(dir = %dir.display(), "semantic flow matching on");
            Some(Arc::new(model))
        }
        Err(err) => {
            tracing::warn!(%err, dir = %dir.display(), "embedding model failed to load: semantic flow matching is off");
            None
        }
    }
}

#[cfg(not(feature = "embeddings"))]
pub fn load(settings: &Settings) -> Option<Arc<dyn matching::Embedder>> {
    if settings.embedding_model_dir.is_some() {
        tracing::warn!("FLOWPILOT_EMBEDDING_MODEL_DIR is set but this build has no `embeddings` feature: semantic flow matching is off");
    } else {
        tracing::info!("semantic flow matching is off (build with --features embeddings and install the model to turn it on)");
    }
    None
}

/// What `flowpilot doctor` finds about the embedding model.
#[derive(Debug)]
pub enum ModelStatus {
    /// This build has no `embeddings` feature; `dir_set` is `FLOWPILOT_EMBEDDING_MODEL_DIR`.
    NotBuilt { dir_set: Option<PathBuf> },
    /// No directory holding the model files; `searched` in order, `explicit` when it was the
    /// configured directory alone.
    NotFound {
        searched: Vec<PathBuf>,
        explicit: bool,
    },
    /// Found, but it would not load or embed.
    Broken { dir: PathBuf, error: String },
    /// Loaded and embedded a sentence.
    Works {
        dir: PathBuf,
        dimensions: usize,
        took: Duration,
    },
}

/// Where the model is looked for, whether it is found and loads, and whether it embeds one
/// sentence, the same way [`load`] finds it at start.
#[cfg(feature = "embeddings")]
pub fn check(settings: &Settings) -> ModelStatus {
    let explicit = settings.embedding_model_dir.clone();
    let Some(dir) = matching::locate_model_dir(explicit.clone()) else {
        return ModelStatus::NotFound {
            explicit: explicit.is_some(),
            searched: matching::search_dirs(explicit),
        };
    };
    let started = std::time::Instant::now();
    let embedded = matching::MiniLmEmbedder::load(&dir).and_then(|model| {
        use matching::Embedder;
        model.embed("Outlook keeps asking for the password on a laptop")
    });
    match embedded {
        Ok(vector) => ModelStatus::Works {
            dir,
            dimensions: vector.len(),
            took: started.elapsed(),
        },
        Err(err) => ModelStatus::Broken {
            dir,
            error: err.to_string(),
        },
    }
}

#[cfg(not(feature = "embeddings"))]
pub fn check(settings: &Settings) -> ModelStatus {
    ModelStatus::NotBuilt {
        dir_set: settings.embedding_model_dir.clone(),
    }
}
