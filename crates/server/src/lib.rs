//! FlowPilot server.
