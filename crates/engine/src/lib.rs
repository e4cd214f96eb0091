//! FlowPilot engine.
