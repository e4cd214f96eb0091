//! Similar sessions (memory.md): the account's closed sessions most like a problem.
//!
//! Computed per request: the account's latest [`CORPUS`] closed sessions are read (one read
//! of their rows and of their steps' answers) and searched with
//! `matching::SessionCorpus`. The cost grows with that bound, not with the account's
//! history: a few hundred rows and a few milliseconds of tokenising (docs/memory.md). With
//! an embedding model installed, each session's text is embedded once per process and kept
//! in [`VECTORS`].
//!
//! These items are team memory: every engineer and admin of the account sees them, whoever
//! ran the session. Opening one still follows the session visibility rules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Datelike, Utc};
use domain::session::{Session, SessionStatus};
use domain::step::Step;
use domain::User;
use matching::{SessionCorpus, SessionText};
use store::RememberedSession;
use uuid::Uuid;

use super::age::ago;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Action;
use crate::state::AppState;

/// How many of the account's latest closed sessions are searched.
pub const CORPUS: i64 = 500;
/// The default and the largest number of items returned.
pub const DEFAULT_LIMIT: usize = 5;
pub const MAX_LIMIT: usize = 20;
/// The longest problem text `POST /ai-sessions/similar` takes (as the intake's).
pub const TEXT_MAX: usize = 10_000;

/// Session embeddings by session id, kept for the life of the process: a closed session's
/// text does not change. Cleared when it holds more than [`VECTORS_MAX`] (about 30 MB).
static VECTORS: OnceLock<Mutex<HashMap<Uuid, Arc<Vec<f32>>>>> = OnceLock::new();
const VECTORS_MAX: usize = 20_000;

/// One similar session, as the API and the pages show it.
#[derive(Debug, Clone)]
pub struct SimilarSession {
    pub id: Uuid,
    pub title: String,
    pub problem_summary: String,
    /// `Resolved` or `Escalated`.
    pub outcome: SessionStatus,
    /// What fixed it (the resolution summary, or the suggestion it was resolved with).
    pub fix: Option<String>,
    pub escalation_reason: Option<String>,
    pub flow: Option<(Uuid, String)>,
    pub closed_at: DateTime<Utc>,
    pub age: String,
    pub owner_name: String,
    pub shared_terms: Vec<String>,
    pub same_flow: bool,
    pub score: f64,
}

/// "Seen before: 3 times this month, fixed twice by …".
#[derive(Debug, Clone, Default)]
pub struct SeenBefore {
    pub items: Vec<SimilarSession>,
    /// Of the items, how many closed this calendar month.
    pub this_month: usize,
    /// Of the items, how many were resolved.
    pub fixed: usize,
    /// The fix most of the resolved items share, and how many.
    pub top_fix: Option<(String, usize)>,
}

impl SeenBefore {
    pub fn new(items: Vec<SimilarSession>, now: DateTime<Utc>) -> Self {
        let this_month = items
            .iter()
            .filter(|s| s.closed_at.year() == now.year() && s.closed_at.month() == now.month())
            .count();
        let fixed = items
            .iter()
            .filter(|s| s.outcome == SessionStatus::Resolved)
            .count();
        // The most frequent fix, the newest first among equals (items come best first).
        let mut counts: Vec<(String, usize)> = Vec::new();
        for fix in items.iter().filter_map(|s| s.fix.as_deref()) {
            let key = fix.trim().to_string();
            match counts
                .iter_mut()
                .find(|(f, _)| f.eq_ignore_ascii_case(&key))
            {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
        }
        let top_fix = counts.into_iter().fold(None, |best, (f, n)| match best {
            Some((_, bn)) if bn >= n => best,
            _ => Some((f, n)),
        });
        SeenBefore {
            items,
            this_month,
            fixed,
            top_fix,
        }
    }

    /// The sentence above the list, e.g. "Seen before: 3 times this month, fixed twice by
    /// clearing the cached credentials."
    pub fn headline(&self) -> String {
        let times = |n: usize| match n {
            1 => "once".to_string(),
            2 => "twice".to_string(),
            n => format!("{n} times"),
        };
        let seen = if self.this_month == self.items.len() {
            format!("{} this month", times(self.items.len()))
        } else if self.this_month > 0 {
            format!(
                "{} ({} this month)",
                times(self.items.len()),
                self.this_month
            )
        } else {
            times(self.items.len())
        };
        let fixed = match &self.top_fix {
            Some((fix, n)) => format!(", fixed {} by “{}”", times(*n), clip(fix, 120)),
            None if self.fixed == 0 => ", never resolved here".to_string(),
            None => String::new(),
        };
        format!("Seen before: {seen}{fixed}.")
    }
}

/// The closed sessions most like session `id` (which the caller must be able to see), not
/// counting itself.
pub async fn for_session(
    state: &AppState,
    user: &User,
    id: Uuid,
    limit: usize,
) -> ApiResult<Vec<SimilarSession>> {
    // 404 for an unknown session and for one the caller may not open.
    let (s, steps) = crate::sessions::for_page(state, user, id).await?;
    crate::sessions::limit(state, Action::SessionRead, user.id, "similar").await?;
    like_session(state, &s, &steps, limit).await
}

/// [`for_session`] for a session the caller has already been shown (the session page),
/// not counted against the read limit, as the page's own read is not.
pub async fn like_session(
    state: &AppState,
    s: &Session,
    steps: &[Step],
    limit: usize,
) -> ApiResult<Vec<SimilarSession>> {
    let mut text = vec![s.title.clone(), s.intake.text.clone().unwrap_or_default()];
    text.extend(s.problem_summary.clone());
    for step in steps {
        text.extend(step.observations.iter().cloned());
        if let Some(free) = step
            .response
            .as_ref()
            .and_then(|r| r.answer.free_text_input.clone())
        {
            text.push(free);
        }
    }
    search(
        state,
        s.account_id,
        &text.join("\n"),
        s.matched_flow_id,
        Some(s.id),
        limit,
    )
    .await
}

/// The closed sessions most like a problem not started yet; the flow it would follow
/// counts as "the same flow".
pub async fn for_text(
    state: &AppState,
    user: &User,
    text: &str,
    limit: usize,
) -> ApiResult<Vec<SimilarSession>> {
    crate::sessions::limit(state, Action::SessionRead, user.id, "similar").await?;
    let flow = state
        .catalog
        .search(user.account_id, text, None, 1)
        .await
        .into_iter()
        .next()
        .map(|(f, _)| f.id);
    search(state, user.account_id, text, flow, None, limit).await
}

/// The checks both endpoints share: `limit` in 1..=20 (default 5).
pub fn check_limit(limit: Option<i64>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(ApiError::Validation(vec![domain::FieldError::query(
            "limit",
            "Input should be between 1 and 20",
            "value_error",
        )])),
    }
}

async fn search(
    state: &AppState,
    account_id: Uuid,
    query: &str,
    flow: Option<Uuid>,
    exclude: Option<Uuid>,
    limit: usize,
) -> ApiResult<Vec<SimilarSession>> {
    let mut closed = state.store.closed_sessions(account_id, CORPUS).await?;
    closed.retain(|s| Some(s.id) != exclude);
    let mut texts: Vec<SessionText> = closed
        .iter()
        .map(|s| SessionText {
            text: corpus_text(s),
            flow_id: s.matched_flow_id,
            semantic: None,
        })
        .collect();
    if let Some(embedder) = state.catalog.embedder().await {
        semantic(embedder, query, &closed, &mut texts).await;
    }
    let corpus = SessionCorpus::new(&texts);
    let now = Utc::now();
    Ok(corpus
        .search(query, flow, limit)
        .into_iter()
        .filter_map(|hit| {
            let s = &closed[hit.index];
            let closed_at = s.closed_at?;
            Some(SimilarSession {
                id: s.id,
                title: s.title.clone(),
                problem_summary: s.problem_summary.clone().unwrap_or_else(|| s.title.clone()),
                outcome: s.status,
                fix: (s.status == SessionStatus::Resolved)
                    .then(|| s.resolution_summary.clone())
                    .flatten(),
                escalation_reason: s.escalation_reason.clone(),
                flow: s.matched_flow_id.zip(s.matched_flow_name.clone()),
                age: ago(closed_at, now),
                closed_at,
                owner_name: s.owner_name.clone(),
                shared_terms: hit.shared_terms,
                same_flow: hit.same_flow,
                score: (hit.relevance * 1000.0).round() / 1000.0,
            })
        })
        .collect())
}

/// What a closed session is compared by: the problem, the answers and how it ended.
fn corpus_text(s: &RememberedSession) -> String {
    let mut parts: Vec<&str> = vec![&s.title, &s.intake_text];
    parts.extend(s.problem_summary.as_deref());
    parts.extend(s.answers.iter().map(String::as_str));
    parts.extend(s.resolution_summary.as_deref());
    parts.extend(s.escalation_reason.as_deref());
    parts.join("\n")
}

/// Fills in each session's cosine with the query, embedding what the process has not
/// embedded yet, off the async threads. A failure leaves the semantic signal out.
async fn semantic(
    embedder: Arc<dyn matching::Embedder>,
    query: &str,
    closed: &[RememberedSession],
    texts: &mut [SessionText],
) {
    let cache = VECTORS.get_or_init(Default::default);
    let missing: Vec<(Uuid, String)> = {
        let held = cache.lock().unwrap_or_else(|p| p.into_inner());
        closed
            .iter()
            .filter(|s| !held.contains_key(&s.id))
            .map(|s| {
                let summary = s.problem_summary.as_deref().unwrap_or(&s.title);
                let end = s
                    .resolution_summary
                    .as_deref()
                    .or(s.escalation_reason.as_deref())
                    .unwrap_or("");
                (s.id, format!("{summary}\n{end}"))
            })
            .collect()
    };
    let query = query.to_string();
    let work = tokio::task::spawn_blocking(move || {
        let q = embedder.embed(&query).ok()?;
        let done: Vec<(Uuid, Vec<f32>)> = missing
            .into_iter()
            .filter_map(|(id, text)| embedder.embed(&text).ok().map(|v| (id, v)))
            .collect();
        Some((q, done))
    })
    .await;
    let Ok(Some((q, done))) = work else {
        tracing::warn!("similar sessions without the semantic signal: the embedder failed");
        return;
    };
    let mut held = cache.lock().unwrap_or_else(|p| p.into_inner());
    if held.len() + done.len() > VECTORS_MAX {
        held.clear();
    }
    for (id, v) in done {
        held.insert(id, Arc::new(v));
    }
    for (s, t) in closed.iter().zip(texts.iter_mut()) {
        t.semantic = held.get(&s.id).map(|v| matching::cosine(&q, v));
    }
}

fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}
