//! FlowPilot matching: which flows of the library fit an intake (flows.md "Matching").
//!
//! `relevance = (w_s·semantic + w_k·keyword) / (sum of the available weights)`; a flow
//! matches only when its relevance is strictly above the threshold, and its reported score
//! is the relevance plus at most 0.05 for recency ([`score`]).
//!
//! - [`keyword`]: BM25 over each flow's search text, scaled into 0..1 (see that module for
//!   how the scale stays comparable across queries and library sizes).
//! - [`recency`]: 1 for a flow used or updated today, halving every 90 days.
//! - [`embed`]: the semantic signal's [`Embedder`] port and cosine similarity; a candle
//!   implementation of all-MiniLM-L6-v2 lives in `minilm` behind the `embeddings` feature.
//! - [`index`]: the in-memory [`FlowIndex`] that combines them.
//!
//! Nothing here reads the clock or the network: `now` is passed in, and the model is read
//! from a local directory ([`locate_model_dir`]).

pub mod embed;
pub mod index;
pub mod keyword;
#[cfg(feature = "embeddings")]
pub mod minilm;
pub mod model_dir;
pub mod recency;
pub mod score;
pub mod similar;
mod synonyms;
pub mod text;
pub mod topics;

pub use embed::{cosine, EmbedError, Embedder};
pub use index::{FlowEntry, FlowIndex, MatchQuery, MatchResult, MemoryUsage};
pub use keyword::KeywordScale;
#[cfg(feature = "embeddings")]
pub use minilm::MiniLmEmbedder;
pub use model_dir::{has_model, locate_model_dir, search_dirs, MODEL_FILES, MODEL_NAME};
pub use recency::recency;
pub use score::{
    MatchConfig, Signals, Verdict, Weights, DEFAULT_THRESHOLD, MAX_RECENCY_ADJUSTMENT,
};
pub use similar::{SessionCorpus, SessionText, SimilarHit};
pub use topics::{group_by_topic, Topic};
