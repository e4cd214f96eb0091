//! The in-memory flow index: keyword postings, flow embeddings and the metadata that
//! decides which flows an account may match.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use domain::flow::{Flow, FlowStatus};

use crate::embed::{dot, normalize, Embedder};
use crate::keyword::KeywordIndex;
use crate::recency::recency;
use crate::score::{MatchConfig, Signals};

/// What the index needs to know about one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowEntry {
    pub id: Uuid,
    /// `None` for a built-in flow, visible to every account.
    pub account_id: Option<Uuid>,
    pub domain: String,
    pub published: bool,
    /// `FlowDefinition::search_text`: what the keyword signal reads.
    pub search_text: String,
    /// `FlowDefinition::semantic_text`: what the flow's embedding is made of.
    pub semantic_text: String,
    /// The later of the last update and the last match.
    pub last_activity: DateTime<Utc>,
}

impl From<&Flow> for FlowEntry {
    fn from(flow: &Flow) -> Self {
        Self {
            id: flow.id,
            account_id: flow.account_id,
            domain: flow.definition.domain.clone(),
            published: flow.definition.status == FlowStatus::Published,
            search_text: flow.definition.search_text(),
            semantic_text: flow.definition.semantic_text(),
            last_activity: flow
                .last_matched_at
                .map_or(flow.updated_at, |matched| matched.max(flow.updated_at)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchQuery {
    /// The intake.
    pub text: String,
    /// The account searching; `None` sees the built-in flows only.
    pub account_id: Option<Uuid>,
    /// Restricts candidates to one domain (the offline engine's triage) and is added to
    /// the text that is embedded.
    pub domain: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatchResult {
    pub flow_id: Uuid,
    /// What the intake says about the flow; a result exists only when it clears the
    /// threshold.
    pub relevance: f64,
    /// Relevance adjusted for recency (see [`crate::score`]); results are ordered by it.
    pub score: f64,
    pub signals: Signals,
}

/// Approximate heap use, counted from the index's own structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUsage {
    pub flows: usize,
    pub keyword_bytes: usize,
    pub embedding_bytes: usize,
    pub metadata_bytes: usize,
}

impl MemoryUsage {
    pub fn total(&self) -> usize {
        self.keyword_bytes + self.embedding_bytes + self.metadata_bytes
    }

    pub fn per_flow(&self) -> usize {
        self.total() / self.flows.max(1)
    }
}

#[derive(Debug, Clone)]
struct Doc {
    id: Uuid,
    account_id: Option<Uuid>,
    /// Index into `FlowIndex::domains`; domains repeat across flows, so they are interned.
    domain: u32,
    published: bool,
    last_activity: DateTime<Utc>,
    has_vector: bool,
}

/// Flows searchable by intake. Not synchronised: wrap it in a lock to share it.
///
/// Each flow occupies a slot; slots of removed flows are reused. Flow embeddings live in
/// one contiguous `f32` array (one row per slot, unit length) for a cache-friendly scan.
pub struct FlowIndex {
    config: MatchConfig,
    embedder: Option<Arc<dyn Embedder>>,
    slot_of: HashMap<Uuid, u32>,
    docs: Vec<Option<Doc>>,
    free: Vec<u32>,
    domains: Vec<Box<str>>,
    keywords: KeywordIndex,
    /// Row length; set by the first embedding stored.
    dim: usize,
    vectors: Vec<f32>,
    missing_embeddings: usize,
}

impl std::fmt::Debug for FlowIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowIndex")
            .field("flows", &self.len())
            .field("config", &self.config)
            .field("embedder", &self.embedder.is_some())
            .finish()
    }
}

impl Default for FlowIndex {
    fn default() -> Self {
        Self::new(MatchConfig::default())
    }
}

impl FlowIndex {
    pub fn new(config: MatchConfig) -> Self {
        Self {
            config,
            embedder: None,
            slot_of: HashMap::new(),
            docs: Vec::new(),
            free: Vec::new(),
            domains: Vec::new(),
            keywords: KeywordIndex::default(),
            dim: 0,
            vectors: Vec::new(),
            missing_embeddings: 0,
        }
    }

    /// Enables the semantic signal for flows upserted from now on.
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: MatchConfig) {
        self.config = config;
    }

    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Flows indexed without an embedding although an embedder is set (the embedder
    /// failed for them; they still match on keywords).
    pub fn missing_embeddings(&self) -> usize {
        self.missing_embeddings
    }

    /// Adds or replaces a flow, embedding its search text when an embedder is set. A
    /// failed embedding is logged and the flow indexed without one.
    pub fn upsert(&mut self, entry: FlowEntry) {
        let vector = self
            .embedder
            .as_ref()
            .map(|embedder| embedder.embed(&entry.semantic_text));
        let vector = match vector {
            Some(Ok(v)) => Some(v),
            Some(Err(err)) => {
                tracing::warn!(flow_id = %entry.id, error = %err, "flow indexed without an embedding");
                None
            }
            None => None,
        };
        self.upsert_with_embedding(entry, vector);
    }

    /// Adds or replaces a flow with an embedding computed by the caller (for example
    /// outside a lock held around the index). The vector is normalised here.
    pub fn upsert_with_embedding(&mut self, entry: FlowEntry, vector: Option<Vec<f32>>) {
        self.remove(entry.id);
        let slot = self.free.pop().unwrap_or(self.docs.len() as u32);
        let s = slot as usize;
        if self.docs.len() <= s {
            self.docs.resize(s + 1, None);
        }
        self.keywords.insert(slot, &entry.search_text);
        let has_vector = vector.is_some_and(|v| self.store_vector(s, v));
        if self.embedder.is_some() && !has_vector {
            self.missing_embeddings += 1;
        }
        self.docs[s] = Some(Doc {
            id: entry.id,
            account_id: entry.account_id,
            domain: self.intern_domain(&entry.domain),
            published: entry.published,
            last_activity: entry.last_activity,
            has_vector,
        });
        self.slot_of.insert(entry.id, slot);
    }

    /// Removes a flow; false when it was not indexed.
    pub fn remove(&mut self, id: Uuid) -> bool {
        let Some(slot) = self.slot_of.remove(&id) else {
            return false;
        };
        self.keywords.remove(slot);
        if let Some(doc) = self.docs[slot as usize].take() {
            if self.embedder.is_some() && !doc.has_vector {
                self.missing_embeddings = self.missing_embeddings.saturating_sub(1);
            }
        }
        self.free.push(slot);
        true
    }

    /// Records activity on a flow (a match, an update) for the recency signal; an older
    /// timestamp than the one held is ignored. False when the flow is not indexed.
    pub fn touch(&mut self, id: Uuid, at: DateTime<Utc>) -> bool {
        let Some(doc) = self
            .slot_of
            .get(&id)
            .and_then(|&slot| self.docs[slot as usize].as_mut())
        else {
            return false;
        };
        doc.last_activity = doc.last_activity.max(at);
        true
    }

    /// The query's embedding, or `None` without an embedder or when embedding fails (the
    /// semantic signal is then unavailable and the other weights are renormalised).
    pub fn embed_query(&self, query: &MatchQuery) -> Option<Vec<f32>> {
        let embedder = self.embedder.as_ref()?;
        let text = match &query.domain {
            Some(domain) => format!("{}\n{domain}", query.text),
            None => query.text.clone(),
        };
        match embedder.embed(&text) {
            Ok(v) => Some(v),
            Err(err) => {
                tracing::warn!(error = %err, "matching without the semantic signal");
                None
            }
        }
    }

    /// The flows matching `query`, best first: only published flows of the query's account
    /// or built in whose relevance is strictly above the threshold, ordered by score (then
    /// relevance, then id, so that equal scores come back in the same order everywhere).
    pub fn search(&self, query: &MatchQuery, now: DateTime<Utc>) -> Vec<MatchResult> {
        let embedding = self.embed_query(query);
        self.search_with_embedding(query, embedding, now)
    }

    /// [`search`](Self::search) with the query embedding computed by the caller.
    pub fn search_with_embedding(
        &self,
        query: &MatchQuery,
        embedding: Option<Vec<f32>>,
        now: DateTime<Utc>,
    ) -> Vec<MatchResult> {
        if query.limit == 0 || self.is_empty() {
            return Vec::new();
        }
        let domain = match &query.domain {
            Some(name) => match self.domains.iter().position(|d| **d == **name) {
                Some(i) => Some(i as u32),
                None => return Vec::new(),
            },
            None => None,
        };
        let visible = |doc: &Doc| {
            doc.published
                && (doc.account_id.is_none() || doc.account_id == query.account_id)
                && domain.is_none_or(|d| d == doc.domain)
        };
        let query_vector =
            embedding.and_then(|mut v| (v.len() == self.dim && normalize(&mut v)).then_some(v));

        let hits = self
            .keywords
            .search(&query.text, &self.config.keyword_scale);

        // Without the semantic signal, relevance is keyword evidence alone: a flow sharing
        // no term with the intake cannot match, so only the touched ones are scored.
        let slots: Box<dyn Iterator<Item = u32>> = if query_vector.is_some() {
            Box::new(0..self.docs.len() as u32)
        } else {
            Box::new(hits.touched.iter().copied())
        };

        let mut results = Vec::new();
        for slot in slots {
            let s = slot as usize;
            let Some(doc) = self.docs[s].as_ref().filter(|d| visible(d)) else {
                continue;
            };
            let semantic = match (&query_vector, doc.has_vector) {
                (Some(q), true) => Some(dot(q, self.row(s)).clamp(0.0, 1.0)),
                _ => None,
            };
            let signals = Signals {
                semantic,
                keyword: hits.signal.get(s).copied().unwrap_or(0.0),
                recency: recency(doc.last_activity, now),
            };
            let verdict = self.config.judge(&signals);
            if verdict.matches {
                results.push(MatchResult {
                    flow_id: doc.id,
                    relevance: verdict.relevance,
                    score: verdict.score,
                    signals,
                });
            }
        }
        results.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| b.relevance.total_cmp(&a.relevance))
                .then_with(|| a.flow_id.cmp(&b.flow_id))
        });
        results.truncate(query.limit);
        results
    }

    /// Gives back the slack that growing leaves in the index's arrays (up to half of the
    /// embedding matrix); worth calling after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        self.vectors.shrink_to_fit();
        self.docs.shrink_to_fit();
        self.keywords.shrink_to_fit();
    }

    pub fn memory_usage(&self) -> MemoryUsage {
        use std::mem::size_of;
        let metadata = self.docs.capacity() * size_of::<Option<Doc>>()
            + self.slot_of.capacity() * (size_of::<Uuid>() + size_of::<u32>() + 8)
            + self.free.capacity() * size_of::<u32>()
            + self.domains.iter().map(|d| d.len() + 16).sum::<usize>();
        MemoryUsage {
            flows: self.len(),
            keyword_bytes: self.keywords.memory_bytes(),
            embedding_bytes: self.vectors.capacity() * size_of::<f32>(),
            metadata_bytes: metadata,
        }
    }

    fn row(&self, slot: usize) -> &[f32] {
        &self.vectors[slot * self.dim..(slot + 1) * self.dim]
    }

    /// Stores a normalised copy of `v` in `slot`'s row; false for an unusable vector (zero,
    /// or of another length than the vectors already held).
    fn store_vector(&mut self, slot: usize, mut v: Vec<f32>) -> bool {
        if self.dim == 0 && !v.is_empty() {
            self.dim = v.len();
        }
        if v.len() != self.dim || !normalize(&mut v) {
            return false;
        }
        let end = (slot + 1) * self.dim;
        if self.vectors.len() < end {
            self.vectors.resize(end, 0.0);
        }
        self.vectors[slot * self.dim..end].copy_from_slice(&v);
        true
    }

    fn intern_domain(&mut self, domain: &str) -> u32 {
        match self.domains.iter().position(|d| **d == *domain) {
            Some(i) => i as u32,
            None => {
                self.domains.push(domain.into());
                (self.domains.len() - 1) as u32
            }
        }
    }
}
