//! The catalog as the pilots see it.

use async_trait::async_trait;
use domain::flow::{Flow, FlowStatus};
use engine::{FlowLibrary, MatchedFlow};
use uuid::Uuid;

use super::Catalog;

#[async_trait]
impl FlowLibrary for Catalog {
    async fn find(&self, account_id: Uuid, text: &str, domain: Option<&str>) -> Vec<MatchedFlow> {
        self.search(account_id, text, domain, 3)
            .await
            .into_iter()
            .map(|(flow, m)| MatchedFlow {
                flow,
                score: m.score,
            })
            .collect()
    }

    async fn best_in_domain(
        &self,
        account_id: Uuid,
        text: &str,
        domain: &str,
    ) -> Option<MatchedFlow> {
        if let Some(found) = self
            .find(account_id, text, Some(domain))
            .await
            .into_iter()
            .next()
        {
            return Some(found);
        }
        // Nothing above the threshold: the most used published flow of the domain is the
        // usual starting point for that kind of problem.
        let mut candidates: Vec<Flow> = self
            .visible_flows(account_id)
            .await
            .into_iter()
            .filter(|f| {
                f.definition.domain == domain && f.definition.status == FlowStatus::Published
            })
            .collect();
        candidates.sort_by(|a, b| {
            b.usage_count
                .cmp(&a.usage_count)
                .then(a.definition.title.cmp(&b.definition.title))
        });
        candidates
            .into_iter()
            .next()
            .map(|flow| MatchedFlow { flow, score: 0.3 })
    }

    async fn domains(&self, account_id: Uuid) -> Vec<(String, i64)> {
        let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
        for f in self.visible_flows(account_id).await {
            if f.definition.status == FlowStatus::Published {
                *counts.entry(f.definition.domain).or_default() += 1;
            }
        }
        let mut out: Vec<(String, i64)> = counts.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    async fn flow(&self, account_id: Uuid, id: Uuid) -> Option<Flow> {
        self.visible_flow(account_id, id).await
    }
}
