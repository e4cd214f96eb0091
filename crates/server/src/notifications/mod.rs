//! Escalation notifications (escalation.md "Notifications"), the use cases: an account's
//! settings (`settings`, for the JSON API and the settings page), what a notice says in each
//! channel (`message`), who is told and the outbox entries that tell them (`entries`, queued
//! by the escalation use cases in their own transactions), and the periodic scan for the
//! reminders (`reminders`), and "Send a test" (`test_send`), which sends at once. Sending is the outbox's (`outbox::webhook`, `outbox::email`).

pub mod entries;
pub mod message;
pub mod reminders;
pub mod settings;
pub mod test_send;
