//! `/flows`: the flow library the user can see (built-in and their account's, drafts
//! included), from the same store query as `GET /api/v1/flows`, with a text search, a domain
//! filter and paging. The flow page itself is `flow_view`.

use domain::flow::domain_label;
use std::collections::BTreeSet;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use domain::flow::{Flow, FlowStatus};
use uuid::Uuid;

use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::error::WebError;
use crate::web::flow_view::percent;
use crate::web::listing::{self, Pager, Params, PAGE_SIZE};
use crate::web::page::{render, Layout};
use crate::web::user::WebUser;

/// Descriptions are cut to this many characters in the list; the flow page shows them whole.
const SUMMARY_CHARS: usize = 240;

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct Row {
    id: Uuid,
    title: String,
    domain: String,
    description: String,
    usage_count: i64,
    success_rate: Option<String>,
    built_in: bool,
    draft: bool,
}

#[derive(Template)]
#[template(path = "flows.html")]
struct FlowsPage {
    layout: Layout,
    q: String,
    domains: Vec<Choice>,
    any_domain: bool,
    filtered: bool,
    rows: Vec<Row>,
    pager: Pager,
}

pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    uri: Uri,
) -> Result<Response, WebError> {
    let params = Params::parse(uri.query());
    let q = params.get("q").unwrap_or_default().to_string();
    let page = params.page();
    let library = state
        .store
        .library_flows(user.user.account_id, None, None)
        .await?;
    // The select offers the domains the library has; any other value (a stale link) is
    // ignored like an unset filter.
    let known: BTreeSet<&str> = library
        .iter()
        .map(|f| f.definition.domain.as_str())
        .collect();
    let domain = params.get("domain").filter(|d| known.contains(d));
    let domains = known
        .iter()
        .map(|d| Choice {
            value: (*d).to_string(),
            label: domain_label(d),
            selected: domain == Some(*d),
        })
        .collect();
    let needle = q.to_lowercase();
    let found: Vec<&Flow> = library
        .iter()
        .filter(|f| domain.is_none_or(|d| f.definition.domain == d))
        .filter(|f| needle.is_empty() || mentions(f, &needle))
        .collect();
    let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let rows: Vec<Row> = found
        .into_iter()
        .skip(usize::try_from(listing::skip(page)).unwrap_or(usize::MAX))
        .take(usize::try_from(PAGE_SIZE).unwrap_or(20))
        .map(row)
        .collect();
    let pager = Pager::new(
        "/flows",
        &[("q", &q), ("domain", domain.unwrap_or_default())],
        page,
        rows.len(),
        total,
    );
    Ok(render(
        StatusCode::OK,
        &FlowsPage {
            layout: Layout::new("Flows", &csrf, Some(&user.user)).current("flows"),
            any_domain: domain.is_none(),
            filtered: domain.is_some() || !q.is_empty(),
            q,
            domains,
            rows,
            pager,
        },
    ))
}

/// Whether the flow's searchable text (title, description, tags, domain, questions and
/// their options) contains every word of `needle`, already lower-case: a browsing filter,
/// wider than the API's `q` so a symptom worded like a question finds its flow, and by word
/// so "outlook password prompt" finds what "password prompt" finds.
fn mentions(flow: &Flow, needle: &str) -> bool {
    let text = flow.definition.search_text().to_lowercase();
    needle.split_whitespace().all(|word| text.contains(word))
}

fn row(flow: &Flow) -> Row {
    let def = &flow.definition;
    Row {
        id: flow.id,
        title: def.title.clone(),
        domain: domain_label(&def.domain),
        description: summary(&def.description),
        usage_count: flow.usage_count,
        success_rate: flow.success_rate.map(percent),
        built_in: flow.account_id.is_none(),
        draft: def.status == FlowStatus::Draft,
    }
}

/// The first `SUMMARY_CHARS` characters, cut at a word where possible.
fn summary(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= SUMMARY_CHARS {
        return text.to_string();
    }
    let cut: String = text.chars().take(SUMMARY_CHARS).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_descriptions_are_cut_at_a_word() {
        assert_eq!(summary("  short  "), "short");
        let long = "word ".repeat(100);
        let cut = summary(&long);
        assert!(cut.ends_with("word…"), "{cut}");
        assert!(cut.chars().count() <= SUMMARY_CHARS + 1);
        let unbroken = "é".repeat(300);
        assert_eq!(summary(&unbroken).chars().count(), SUMMARY_CHARS + 1);
    }
}
