//! The flow index's behaviour as a caller sees it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use flowpilot_matching::{
    EmbedError, Embedder, FlowEntry, FlowIndex, MatchConfig, MatchQuery, MAX_RECENCY_ADJUSTMENT,
};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).single().unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn entry(n: u128, domain: &str, text: &str) -> FlowEntry {
    FlowEntry {
        id: id(n),
        account_id: None,
        domain: domain.into(),
        published: true,
        search_text: text.into(),
        semantic_text: text.into(),
        last_activity: now() - Duration::days(400),
    }
}

const OUTLOOK: &str = "Outlook keeps asking for a password\nCredential prompt loop in Outlook \
    after a Microsoft 365 password change\noutlook\nm365\ncredentials\nemail";
const PRINTER: &str = "Printer shows offline\nJobs stuck in the print queue, spooler \
    stopped\nprinter\nspooler\nprinting";
const VPN: &str = "VPN client will not connect\nThe remote access VPN fails to establish a \
    tunnel\nvpn\nremote access\nnetworking";

/// Flows on unrelated topics, so that term statistics look like a real library's (in a
/// library of three near-duplicates every word is common and nothing stands out).
fn with_filler(mut index: FlowIndex) -> FlowIndex {
    for n in 1000..1020 {
        index.upsert(entry(
            n,
            "misc",
            &format!("Topic {n}\nthing{n} widget{n} gadget{n}"),
        ));
    }
    index
}

fn library() -> FlowIndex {
    let mut index = FlowIndex::default();
    index.upsert(entry(1, "email", OUTLOOK));
    index.upsert(entry(2, "printing", PRINTER));
    index.upsert(entry(3, "networking", VPN));
    with_filler(index)
}

fn ask(text: &str) -> MatchQuery {
    MatchQuery {
        text: text.into(),
        account_id: None,
        domain: None,
        limit: 3,
    }
}

fn ids(index: &FlowIndex, query: &MatchQuery) -> Vec<Uuid> {
    index
        .search(query, now())
        .iter()
        .map(|r| r.flow_id)
        .collect()
}

#[test]
fn a_paraphrase_finds_its_flow() {
    let index = library();
    let results = index.search(&ask("outlook password prompt loop"), now());
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].flow_id, id(1));
    assert!(results[0].score > 0.5);
    assert_eq!(results[0].signals.semantic, None);
    assert!(results[0].signals.keyword > 0.5, "{results:?}");
}

#[test]
fn an_unrelated_intake_matches_nothing() {
    let index = library();
    assert!(ids(
        &index,
        &ask("the coffee machine in the kitchen leaks water")
    )
    .is_empty());
    assert!(ids(&index, &ask("")).is_empty());
}

#[test]
fn only_published_flows_of_the_account_or_built_in_are_candidates() {
    let mine = Uuid::from_u128(100);
    let theirs = Uuid::from_u128(200);
    let mut index = library();
    let mut own = entry(10, "printing", PRINTER);
    own.account_id = Some(mine);
    let mut foreign = entry(11, "printing", PRINTER);
    foreign.account_id = Some(theirs);
    let mut draft = entry(12, "printing", PRINTER);
    draft.published = false;
    for e in [own, foreign, draft] {
        index.upsert(e);
    }
    let mut query = ask("printer offline, print jobs stuck in the queue, spooler stopped");
    query.account_id = Some(mine);
    query.limit = 10;
    assert_eq!(ids(&index, &query), [id(2), id(10)]);
    query.account_id = None;
    assert_eq!(ids(&index, &query), [id(2)]);
}

#[test]
fn a_domain_restricts_the_candidates() {
    let index = library();
    let mut query = ask("printer offline, jobs stuck in the print queue");
    query.domain = Some("email".into());
    assert!(ids(&index, &query).is_empty());
    query.domain = Some("printing".into());
    assert_eq!(ids(&index, &query), [id(2)]);
    query.domain = Some("no-such-domain".into());
    assert!(ids(&index, &query).is_empty());
}

#[test]
fn equal_scores_are_ordered_by_id_and_limited() {
    let mut index = with_filler(FlowIndex::default());
    for n in [5, 3, 4] {
        index.upsert(entry(n, "printing", PRINTER));
    }
    let mut query = ask("printer offline, jobs stuck in the print queue, spooler stopped");
    assert_eq!(ids(&index, &query), [id(3), id(4), id(5)]);
    query.limit = 2;
    assert_eq!(ids(&index, &query), [id(3), id(4)]);
    query.limit = 0;
    assert!(ids(&index, &query).is_empty());
}

#[test]
fn upsert_replaces_and_remove_forgets() {
    let mut index = library();
    index.upsert(entry(
        2,
        "printing",
        "Scanner jams\nPaper feed jam in the scanner",
    ));
    assert_eq!(index.len(), 23);
    assert!(ids(&index, &ask("printer offline spooler stopped")).is_empty());
    assert_eq!(ids(&index, &ask("paper jam in the scanner feed")), [id(2)]);
    assert!(index.remove(id(2)));
    assert!(!index.remove(id(2)));
    assert!(ids(&index, &ask("paper jam in the scanner feed")).is_empty());
    assert_eq!(index.len(), 22);
}

#[test]
fn recent_activity_raises_the_score_but_not_the_relevance() {
    let mut index = library();
    let query = ask("outlook password prompt");
    let before = index.search(&query, now())[0];
    assert!(index.touch(id(1), now()));
    let after = index.search(&query, now())[0];
    assert_eq!(after.signals.recency, 1.0);
    assert_eq!(after.relevance, before.relevance);
    assert!(after.score > before.score);
    assert!(after.score - after.relevance <= MAX_RECENCY_ADJUSTMENT + 1e-12);
    assert!(!index.touch(id(99), now()));
}

#[test]
fn on_a_fresh_install_an_unrelated_intake_matches_nothing() {
    let mut index = FlowIndex::default();
    for (n, domain, text) in [
        (1, "email", OUTLOOK),
        (2, "printing", PRINTER),
        (3, "networking", VPN),
    ] {
        let mut fresh = entry(n, domain, text);
        fresh.last_activity = now();
        index.upsert(fresh);
    }
    let index = with_filler(index);
    assert!(ids(&index, &ask("the coffee machine leaks")).is_empty());
    assert!(ids(&index, &ask("Sage 200 month-end batch stuck posting")).is_empty());
}

#[test]
fn recency_orders_only_flows_of_close_relevance() {
    let mut index = with_filler(FlowIndex::default());
    index.upsert(entry(1, "printing", PRINTER));
    index.upsert(entry(2, "printing", PRINTER));
    let query = ask("printer offline, jobs stuck in the print queue, spooler stopped");
    assert_eq!(ids(&index, &query), [id(1), id(2)]);
    index.touch(id(2), now());
    assert_eq!(
        ids(&index, &query),
        [id(2), id(1)],
        "equal relevance: the used one first"
    );

    // A flow that fits the intake clearly better stays first, however stale it is.
    let mut index = with_filler(FlowIndex::default());
    index.upsert(entry(1, "printing", PRINTER));
    index.upsert(entry(
        2,
        "printing",
        "Printer jams\nPaper jam in the printer tray\nprinter",
    ));
    index.touch(id(2), now());
    let results = index.search(&query, now());
    assert_eq!(results[0].flow_id, id(1), "{results:?}");
}

#[test]
fn the_threshold_is_exclusive_and_applies_to_relevance() {
    let mut index = library();
    let query = ask("outlook password prompt");
    index.touch(id(1), now());
    let relevance = index.search(&query, now())[0].relevance;
    index.set_config(MatchConfig {
        threshold: relevance,
        ..MatchConfig::default()
    });
    assert!(index.search(&query, now()).is_empty());
}

/// Embeds by counting a few marker words, so similarity is predictable.
struct MarkerEmbedder;

impl Embedder for MarkerEmbedder {
    fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let lower = text.to_lowercase();
        if lower.contains("unembeddable") {
            return Err(EmbedError::Inference("refused".into()));
        }
        let has = |w: &str| if lower.contains(w) { 1.0 } else { 0.0 };
        Ok(vec![
            has("mail") + has("outlook"),
            has("print"),
            has("vpn"),
            0.1,
        ])
    }
}

#[test]
fn the_semantic_signal_counts_when_an_embedder_is_set() {
    let mut index = FlowIndex::default().with_embedder(Arc::new(MarkerEmbedder));
    index.upsert(entry(1, "email", OUTLOOK));
    index.upsert(entry(2, "printing", PRINTER));
    // No shared keyword, but the embedder sees "mail" in "mailbox".
    let results = index.search(&ask("mailbox nagging"), now());
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].flow_id, id(1));
    let semantic = results[0].signals.semantic.unwrap();
    assert!(semantic > 0.9, "{semantic}");
    assert_eq!(results[0].signals.keyword, 0.0);
}

#[test]
fn a_flow_that_cannot_be_embedded_still_matches_on_keywords() {
    let mut index = FlowIndex::default().with_embedder(Arc::new(MarkerEmbedder));
    index.upsert(entry(1, "email", &format!("{OUTLOOK}\nunembeddable")));
    assert_eq!(index.missing_embeddings(), 1);
    let results = index.search(&ask("outlook password prompt loop"), now());
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].signals.semantic, None);
    index.remove(id(1));
    assert_eq!(index.missing_embeddings(), 0);
}

#[test]
fn memory_use_is_reported_per_flow() {
    let index = library();
    let usage = index.memory_usage();
    assert_eq!(usage.flows, 23);
    assert!(usage.per_flow() > 0 && usage.embedding_bytes == 0);
}
