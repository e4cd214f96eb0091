//! The pilots: what produces each step of a session.
//!
//! One trait ([`Pilot`]) with two implementations: the offline pilot walks the matched flow
//! itself; the LLM pilot asks a provider, grounded in the matched flow.

pub mod flywheel;
pub mod forming;
pub mod library;
pub mod llm_pilot;
pub mod offline;
pub mod pilot;
pub mod position;

pub use forming::StepTextSink;
pub use library::{FlowLibrary, MatchedFlow};
pub use llm_pilot::LlmPilot;
pub use offline::OfflinePilot;

pub use pilot::{
    History, Intake, PastStep, Pilot, PilotError, PilotInput, PilotStep, Reply, SessionRecap,
    StepAnswer, Usage, WrittenDocumentation, WrittenEscalation,
};
