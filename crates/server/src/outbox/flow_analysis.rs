//! The deliverer of `flow_analysis` entries: nothing leaves the server, but the entry gives
//! the analysis of a resolved session what every outbox write has (queued with the close,
//! retried after a failure, taken over by another server after a crash). Analysing twice
//! records once, so an uncertain attempt is simply run again.

use async_trait::async_trait;
use store::{OutboxEntry, Store};
use uuid::Uuid;

use super::deliverer::{Deliverer, Deliverers, Outcome};
use crate::proposals::analysis::{analyse_session, Analysed, KIND};

pub struct FlowAnalysis {
    store: Store,
}

#[async_trait]
impl Deliverer for FlowAnalysis {
    async fn deliver(&self, entry: &OutboxEntry) -> Outcome {
        let session = entry
            .payload
            .get("session_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        let Some(session) = session else {
            return Outcome::Fail {
                reason: "not a flow analysis entry: no session_id".into(),
            };
        };
        match analyse_session(&self.store, session).await {
            Ok(Analysed::Proposal(id)) => Outcome::Delivered {
                remote_id: Some(id.to_string()),
            },
            Ok(Analysed::NoProposal(why)) => {
                tracing::debug!(%session, why, "no flow proposal from this session");
                Outcome::Delivered { remote_id: None }
            }
            Ok(Analysed::AlreadyRecorded) => Outcome::Delivered { remote_id: None },
            Err(store::StoreError::NotFound) => Outcome::Fail {
                reason: "the session no longer exists".into(),
            },
            Err(err) => Outcome::Retry {
                after: None,
                uncertain: false,
                error: format!("could not analyse the session: {err}"),
            },
        }
    }
}

impl Deliverers {
    /// The analysis of resolved sessions into flow proposals.
    pub fn with_flow_analysis(self, store: Store) -> Deliverers {
        self.with(KIND, std::sync::Arc::new(FlowAnalysis { store }))
    }
}
