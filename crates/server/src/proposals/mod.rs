//! The flywheel's use cases (memory.md "The flywheel"): each resolved session is analysed in
//! the background ([`analysis`], through the durable outbox, so a server that stops loses
//! none), and admins review what it proposes ([`review`]): list, read the change against the
//! current version, approve (publishing a version of the flow, or a new flow), reject. The
//! JSON API and the web UI both call [`review`].

pub mod analysis;
pub mod review;

pub use analysis::{analyse_session, analysis_entry, KIND};
