//! FlowPilot llm.
