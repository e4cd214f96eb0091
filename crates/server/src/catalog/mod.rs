//! The flow catalog: the built-in library loaded into the database, and an in-process match
//! index kept current with the database in every server instance.

mod builtin;
mod library;

pub use builtin::load_builtin_flows;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use domain::flow::Flow;
use matching::{FlowEntry, FlowIndex, MatchConfig, MatchQuery, MatchResult};
use store::Store;
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

pub struct Catalog {
    store: Store,
    index: RwLock<Indexed>,
    revision: AtomicI64,
    reload: Mutex<()>,
}

struct Indexed {
    index: FlowIndex,
    flows: HashMap<Uuid, Flow>,
}

impl Catalog {
    pub async fn new(
        store: Store,
        config: MatchConfig,
        embedder: Option<Arc<dyn matching::Embedder>>,
    ) -> Result<Arc<Catalog>, store::StoreError> {
        let mut index = FlowIndex::new(config);
        if let Some(e) = embedder {
            index = index.with_embedder(e);
        }
        let catalog = Arc::new(Catalog {
            store,
            index: RwLock::new(Indexed {
                index,
                flows: HashMap::new(),
            }),
            revision: AtomicI64::new(-1),
            reload: Mutex::new(()),
        });
        catalog.refresh().await?;
        Ok(catalog)
    }

    /// Rebuilds the index when another writer (this instance or another one on the same
    /// database) changed the library since the last look.
    pub async fn refresh(&self) -> Result<(), store::StoreError> {
        let current = self.store.flows_revision().await?;
        if current == self.revision.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self.reload.lock().await;
        if current == self.revision.load(Ordering::Acquire) {
            return Ok(());
        }
        let flows = self.store.all_flows().await?;
        // Only flows whose content changed are (re-)indexed: with an embedding model each
        // upsert runs the model, and that work happens before taking the write lock.
        let changed: Vec<(Flow, Option<Vec<f32>>)> = {
            let indexed = self.index.read().await;
            flows
                .iter()
                .filter(|f| {
                    indexed.flows.get(&f.id).is_none_or(|old| {
                        old.version != f.version || old.updated_at != f.updated_at
                    })
                })
                .map(|f| {
                    let vector = indexed.index.embedder().and_then(|e| {
                        e.embed(&f.definition.semantic_text())
                            .map_err(
                                |err| tracing::warn!(%err, flow = %f.id, "could not embed a flow"),
                            )
                            .ok()
                    });
                    (f.clone(), vector)
                })
                .collect()
        };
        let live: std::collections::HashSet<Uuid> = flows.iter().map(|f| f.id).collect();
        let mut indexed = self.index.write().await;
        let gone: Vec<Uuid> = indexed
            .flows
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        for id in gone {
            indexed.index.remove(id);
            indexed.flows.remove(&id);
        }
        for (flow, vector) in changed {
            indexed
                .index
                .upsert_with_embedding(FlowEntry::from(&flow), vector);
            indexed.flows.insert(flow.id, flow);
        }
        // Statistics (usage, success rate) change without a revision bump; keep them fresh.
        for flow in flows {
            indexed.flows.insert(flow.id, flow);
        }
        indexed.index.shrink_to_fit();
        self.revision.store(current, Ordering::Release);
        tracing::debug!(
            flows = indexed.flows.len(),
            revision = current,
            "flow index rebuilt"
        );
        Ok(())
    }

    async fn refreshed(&self) {
        if let Err(err) = self.refresh().await {
            tracing::warn!(%err, "could not refresh the flow index; using the last one");
        }
    }

    /// The one matching decision: the flows visible to `account_id` whose relevance to
    /// `text` clears the threshold, best first. `POST /flows/match`, session start and the
    /// pilots' re-matching all ask here, so a flow the API lists first is the flow a session
    /// started with the same text follows, and an intake the API finds nothing for starts a
    /// session on no flow.
    pub async fn search(
        &self,
        account_id: Uuid,
        text: &str,
        domain: Option<&str>,
        limit: usize,
    ) -> Vec<(Flow, MatchResult)> {
        self.refreshed().await;
        let query = MatchQuery {
            text: text.trim().to_string(),
            account_id: Some(account_id),
            domain: domain
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(Into::into),
            limit,
        };
        let indexed = self.index.read().await;
        indexed
            .index
            .search(&query, Utc::now())
            .into_iter()
            .filter_map(|m| indexed.flows.get(&m.flow_id).map(|f| (f.clone(), m)))
            .collect()
    }

    /// The sentence embedder flows are indexed with, when one is loaded: similar sessions
    /// embed with the same model, so one model is loaded per process.
    pub async fn embedder(&self) -> Option<Arc<dyn matching::Embedder>> {
        self.index.read().await.index.embedder().cloned()
    }

    /// A visible flow by id.
    pub async fn visible_flow(&self, account_id: Uuid, id: Uuid) -> Option<Flow> {
        self.refreshed().await;
        self.indexed_flow(account_id, id).await
    }

    /// [`Catalog::visible_flow`] for a caller that read the library's `revision` itself,
    /// together with what it needed anyway: the index is refreshed only when it is older.
    pub async fn visible_flow_as_of(
        &self,
        account_id: Uuid,
        id: Uuid,
        revision: i64,
    ) -> Option<Flow> {
        if revision > self.revision.load(Ordering::Acquire) {
            self.refreshed().await;
        }
        self.indexed_flow(account_id, id).await
    }

    /// The flow a session follows: `id` as it was at `version`, the version the session
    /// matched, even when the flow changed since (memory.md "Versions"); the flow as it is
    /// when the session predates versions or its version was not kept. `None` when the
    /// flow is gone or not visible, as for [`Catalog::visible_flow`].
    pub async fn followed_flow(
        &self,
        account_id: Uuid,
        id: Uuid,
        version: Option<i64>,
        revision: Option<i64>,
    ) -> Option<Flow> {
        let mut flow = match revision {
            Some(revision) => self.visible_flow_as_of(account_id, id, revision).await?,
            None => self.visible_flow(account_id, id).await?,
        };
        let Some(version) = version.filter(|v| *v != flow.version) else {
            return Some(flow);
        };
        match self.store.flow_version(id, version).await {
            Ok(Some(kept)) => {
                flow.definition = kept.definition;
                flow.version = kept.version;
            }
            Ok(None) => {
                tracing::warn!(flow = %id, version, "a session's flow version was not kept; using the current one");
            }
            Err(err) => {
                tracing::warn!(%err, flow = %id, version, "could not read a session's flow version; using the current one");
            }
        }
        Some(flow)
    }

    async fn indexed_flow(&self, account_id: Uuid, id: Uuid) -> Option<Flow> {
        let indexed = self.index.read().await;
        indexed
            .flows
            .get(&id)
            .filter(|f| f.account_id.is_none() || f.account_id == Some(account_id))
            .cloned()
    }

    /// Published flows visible to the account.
    pub async fn visible_flows(&self, account_id: Uuid) -> Vec<Flow> {
        self.refreshed().await;
        let indexed = self.index.read().await;
        let mut flows: Vec<Flow> = indexed
            .flows
            .values()
            .filter(|f| f.account_id.is_none() || f.account_id == Some(account_id))
            .cloned()
            .collect();
        flows.sort_by(|a, b| {
            a.definition
                .title
                .cmp(&b.definition.title)
                .then(a.id.cmp(&b.id))
        });
        flows
    }

    /// Records that a session matched `id`; statistics never block a session.
    pub async fn record_match(&self, id: Uuid) {
        let now = Utc::now();
        if let Err(err) = self.store.record_flow_match(id, now).await {
            tracing::warn!(%err, flow = %id, "could not update flow usage");
        }
        self.index.write().await.index.touch(id, now);
    }

    pub async fn record_resolved(&self, id: Uuid) {
        if let Err(err) = self.store.record_flow_resolved(id).await {
            tracing::warn!(%err, flow = %id, "could not update flow success rate");
        }
    }
}
