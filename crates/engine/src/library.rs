//! What pilots need from the flow library: matching and the list of domains.

use async_trait::async_trait;
use domain::flow::Flow;
use uuid::Uuid;

/// A flow chosen for a session, with how strongly it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedFlow {
    pub flow: Flow,
    pub score: f64,
}

#[async_trait]
pub trait FlowLibrary: Send + Sync {
    /// Flows matching `text` above the threshold, best first (optionally within one domain).
    async fn find(&self, account_id: Uuid, text: &str, domain: Option<&str>) -> Vec<MatchedFlow>;

    /// The best flow of `domain` for `text` even below the threshold: the engineer has told
    /// us the domain, so the closest flow in it is a better start than nothing.
    async fn best_in_domain(
        &self,
        account_id: Uuid,
        text: &str,
        domain: &str,
    ) -> Option<MatchedFlow>;

    /// The problem domains of the visible library with their flow counts, largest first.
    async fn domains(&self, account_id: Uuid) -> Vec<(String, i64)>;

    /// A flow by id, if visible to the account.
    async fn flow(&self, account_id: Uuid, id: Uuid) -> Option<Flow>;
}
