//! Delivering the outbox (docs/outbox.md): the store keeps every outgoing write as an entry,
//! queued in the same transaction as the change it reports; this module sends them, in the
//! background, through one [`Deliverer`] per kind of write (a PSA note, a webhook, an
//! email), with retries and backoff, and records what each attempt did.
//!
//! Nothing here knows a PSA: a deliverer is a port, and the adapters that implement it are
//! registered where the server is launched. The [`worker`] claims due entries with a lease,
//! so with several servers on one PostgreSQL database each entry is sent by one of them; an
//! attempt whose result is unknown (a timeout, a server that died with the lease) is followed
//! by asking the deliverer whether the write landed before sending it again.

pub mod backoff;
pub mod deliverer;
pub mod email;
pub mod flow_analysis;
pub mod http;
pub mod psa;
pub mod webhook;
pub mod worker;

pub use backoff::Backoff;
pub use deliverer::{Deliverer, Deliverers, Landed, Outcome};
pub use worker::{Worker, WorkerConfig};

use std::time::Duration;

use store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A worker running on its own task, until [`Running::stop`].
pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    grace: Duration,
}

/// Starts this server's worker.
pub fn start(store: Store, deliverers: Deliverers, config: WorkerConfig) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(store, deliverers, config);
    let task = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    Running {
        stop,
        task,
        // The round under way may still be waiting for its slowest call.
        grace: config.attempt_timeout + Duration::from_secs(2),
    }
}

impl Running {
    /// Lets the round under way finish, then stops. A round that does not finish in time is
    /// cut short: its entries stay leased, and come back uncertain when the leases end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(self.grace, &mut task).await.is_err() {
            tracing::warn!("the outbox worker did not stop in time; its entries will be retried");
            task.abort();
        }
    }
}
