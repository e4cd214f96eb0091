//! The background worker: claims the entries that are due, sends each through its kind's
//! deliverer, and records the outcome. One per server, started by `launch`; it polls every
//! [`WorkerConfig::poll`] (for entries other servers queued, and retries that came due) and
//! wakes at once when this server queues one. It runs on its own task and never holds up a
//! request: a request only writes the entry.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use store::{OutboxEntry, Settle, Store};
use tokio::task::JoinSet;
use tracing::instrument;
use uuid::Uuid;

use super::backoff::Backoff;
use super::deliverer::{Deliverers, Landed, Outcome};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerConfig {
    /// How often the outbox is read when nothing wakes the worker.
    pub poll: Duration,
    /// How long a claimed entry is this server's: longer than an attempt may take, so that a
    /// live server never loses an entry it is sending to another.
    pub lease: Duration,
    /// How long one call to a deliverer may take; one that takes longer counts as a timeout
    /// (uncertain: the write may have landed).
    pub attempt_timeout: Duration,
    /// At most this many entries are claimed, and sent at the same time, per round.
    pub batch: i64,
    pub backoff: Backoff,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(90),
            attempt_timeout: Duration::from_secs(30),
            batch: 16,
            backoff: Backoff::default(),
        }
    }
}

/// The worker of one server.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    deliverers: Arc<Deliverers>,
    config: WorkerConfig,
    /// Names this server's leases: unique per process, so two servers never share one.
    holder: Arc<str>,
}

impl Worker {
    pub fn new(store: Store, deliverers: Deliverers, config: WorkerConfig) -> Worker {
        Worker {
            store,
            deliverers: Arc::new(deliverers),
            config,
            holder: format!("server-{}", Uuid::new_v4().simple()).into(),
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Sends what is due until `stop` completes; a round under way when it does is finished
    /// first (its calls are bounded by `attempt_timeout`).
    pub async fn run(self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let full = match self.round().await {
                Ok(claimed) => claimed as i64 >= self.config.batch,
                Err(err) => {
                    tracing::warn!(%err, "could not read the outbox; trying again");
                    false
                }
            };
            if full {
                // More may be due: go on at once, unless told to stop.
                tokio::select! {
                    biased;
                    () = &mut stop => return,
                    () = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(self.config.poll) => {}
                () = self.store.outbox_wakeup() => {}
            }
        }
    }

    /// One round: claims what is due and sends it, all at once; returns how many entries it
    /// claimed.
    #[instrument(skip_all)]
    pub async fn round(&self) -> store::Result<usize> {
        let now = Utc::now();
        let lease_until = now + chrono_duration(self.config.lease);
        let claimed = self
            .store
            .claim_outbox(&self.holder, now, lease_until, self.config.batch)
            .await?;
        let count = claimed.len();
        let mut attempts = JoinSet::new();
        for entry in claimed {
            let worker = self.clone();
            attempts.spawn(async move { worker.attempt(entry).await });
        }
        while let Some(done) = attempts.join_next().await {
            if let Err(err) = done {
                // The entry stays leased, and another attempt follows when the lease ends.
                tracing::error!(%err, "an outbox attempt panicked");
            }
        }
        Ok(count)
    }

    /// Sends one claimed entry and records the outcome.
    #[instrument(skip_all, fields(entry = %entry.id, kind = %entry.kind, attempt = entry.attempts))]
    async fn attempt(&self, entry: OutboxEntry) {
        let settle = self.outcome_of(&entry).await;
        match &settle {
            Settle::Delivered { .. } => tracing::info!("outbox entry delivered"),
            Settle::Retry { error, .. } => tracing::info!(%error, "outbox entry will be retried"),
            Settle::Failed { reason, .. } => tracing::warn!(%reason, "outbox entry failed"),
        }
        match self
            .store
            .settle_outbox(entry.id, &self.holder, &settle, Utc::now())
            .await
        {
            Ok(true) => {}
            // Its lease ran out and another server took it: that one's record stands.
            Ok(false) => tracing::warn!("lost the lease on an outbox entry before recording it"),
            // The lease runs out and the entry comes back, uncertain: it is asked about then.
            Err(err) => tracing::warn!(%err, "could not record an outbox attempt"),
        }
    }

    async fn outcome_of(&self, entry: &OutboxEntry) -> Settle {
        let Some(deliverer) = self.deliverers.get(&entry.kind) else {
            // Another server (a newer version, one with the integration configured) may.
            return self.retry(
                entry,
                None,
                entry.uncertain,
                format!("no deliverer for {:?} on this server", entry.kind),
            );
        };
        let limit = self.config.attempt_timeout;
        if entry.uncertain {
            match tokio::time::timeout(limit, deliverer.already_delivered(entry)).await {
                Ok(Landed::Yes { remote_id }) => return Settle::Delivered { remote_id },
                Ok(Landed::No) => {}
                Ok(Landed::Unknown(error)) => {
                    return self.retry(entry, None, true, format!("could not check: {error}"))
                }
                Err(_) => {
                    return self.retry(
                        entry,
                        None,
                        true,
                        format!("checking timed out after {limit:?}"),
                    )
                }
            }
        }
        let outcome = match tokio::time::timeout(limit, deliverer.deliver(entry)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Retry {
                after: None,
                uncertain: true,
                error: format!("timed out after {limit:?}"),
            },
        };
        match outcome {
            Outcome::Delivered { remote_id } => Settle::Delivered { remote_id },
            Outcome::Retry {
                after,
                uncertain,
                error,
            } => self.retry(entry, after, uncertain, error),
            Outcome::Fail { reason } => Settle::Failed {
                reason,
                uncertain: false,
            },
        }
    }

    /// Another attempt later, or none after the last one the backoff allows.
    fn retry(
        &self,
        entry: &OutboxEntry,
        after: Option<Duration>,
        uncertain: bool,
        error: String,
    ) -> Settle {
        let backoff = self.config.backoff;
        if backoff.gives_up_after(entry.attempts) {
            return Settle::Failed {
                reason: format!("gave up after {} attempts: {error}", entry.attempts),
                uncertain,
            };
        }
        let wait = backoff.wait(entry.attempts, after);
        Settle::Retry {
            at: Utc::now() + chrono_duration(wait),
            error,
            uncertain,
        }
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
