//! Team memory (memory.md): what the account's earlier sessions say about a problem. Both
//! front ends come through here, as they do through `sessions`.
//!
//! A reading guide: `similar` (the closed sessions most like a problem, and the "seen
//! before" summary), `gaps` (sessions that matched no flow, grouped by topic), `draft` (a
//! draft flow built from a gap's sessions), `age` (how long ago, in words).

pub mod age;
pub mod draft;
pub mod gaps;
pub mod similar;

pub use gaps::{Gap, GapSample};
pub use similar::{SeenBefore, SimilarSession};
