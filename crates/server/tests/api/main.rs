//! API stories against the real server, each run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

// The PSA fakes of the adapters' own tests name the adapters' crate by its package name.
extern crate integrations as flowpilot_integrations;

mod fake_llm;
mod fake_psa;
mod helpers;
#[path = "../../../integrations/tests/support/mod.rs"]
mod psa_fakes;
mod sinks;

mod accounts;
mod ai_providers;
mod ai_quota;
mod ai_sessions;
mod analytics;
mod auth;
mod clarification;
mod errors;
mod escalation;
mod fix_outcomes;
mod flow_proposals;
mod flow_versions;
mod flows;
mod gaps;
mod hardening;
mod local_models;
mod metrics;
mod notification_test;
mod notifications;
mod offline_handoff;
mod openapi;
mod operations;
mod provider_probe;
mod psa;
mod psa_push;
mod psa_push_kinds;
mod redaction;
mod sessions;
mod similar_sessions;
mod step_writes;
mod users;
