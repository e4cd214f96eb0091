//! The optional sentence-embedding model for flow matching.

use std::sync::Arc;

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
