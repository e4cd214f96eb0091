//! FlowPilot store.
