//! FlowPilot matching.
