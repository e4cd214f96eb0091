//! FlowPilot's domain: pure types and rules, no I/O.
//!
//! Everything else in the workspace depends on this crate; it depends on none of them.

pub mod account;
pub mod briefing;
pub mod confidence;
pub mod documentation;
pub mod escalation;
pub mod flow;
pub mod ids;
pub mod llm;
pub mod notification;
pub mod outcome;
pub mod proposal;
pub mod psa;
pub mod quota;
pub mod session;
pub mod step;
pub mod text;
pub mod ticket_link;
pub mod user;
pub mod validation;

pub use account::{Account, AiLimits, Plan};
pub use confidence::ConfidenceTier;
pub use ids::{SessionId, StepId};
pub use user::{Role, User};
pub use validation::{FieldError, ValidationErrors};
