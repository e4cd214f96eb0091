//! `/review`: the admins' review queue of flow proposals (memory.md "The flywheel"), the same
//! use cases as `/api/v1/flow-proposals`. A proposal's page shows its change as the proposed
//! decision tree with what it adds or changes marked in words as well as colour, what it
//! removes listed, its evidence sessions linked, and plain forms to approve, edit and
//! approve (the document in a textarea, validated like any flow) or reject with a reason.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use domain::proposal::{ProposalKind, ProposalStatus};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::flow_proposals::{edited_flow, status_param};
use crate::error::ApiError;
use crate::proposals::review::{self, Review};
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::fields;
use crate::web::flow_outline::{self, Line};
use crate::web::listing::Params;
use crate::web::page::{render, see_other, Layout};
use crate::web::user::WebUser;

/// How a line of the tree differs from the current version, said in words and by class.
struct Mark {
    class: &'static str,
    label: &'static str,
}

const ADDED: Mark = Mark {
    class: "diff-added",
    label: "Added",
};
const CHANGED: Mark = Mark {
    class: "diff-changed",
    label: "Changed",
};

struct TreeLine {
    line: Line,
    mark: Option<Mark>,
}

struct Removed {
    what: &'static str,
    text: String,
}

struct EvidenceLine {
    session_id: Uuid,
    title: String,
    fix: Option<String>,
    owner: String,
    resolved: Option<String>,
    resolved_iso: Option<String>,
}

struct Summary {
    id: Uuid,
    heading: String,
    kind: &'static str,
    evidence: i64,
    place: Option<String>,
    updated: String,
    updated_iso: String,
    stale: bool,
}

struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "review_queue.html")]
struct QueuePage {
    layout: Layout,
    statuses: Vec<Choice>,
    status: &'static str,
    lines: Vec<Summary>,
}

#[derive(Template)]
#[template(path = "proposal.html")]
struct ProposalPage {
    layout: Layout,
    id: Uuid,
    heading: String,
    kind: &'static str,
    status: &'static str,
    open: bool,
    stale: bool,
    reason: Option<String>,
    published: Option<(Uuid, i64)>,
    flow_link: Option<Uuid>,
    base_version: Option<i64>,
    current_version: Option<i64>,
    changes: Vec<String>,
    tree: Vec<TreeLine>,
    removed: Vec<Removed>,
    evidence: Vec<EvidenceLine>,
    document: String,
    /// The edit was sent back with errors: show the form open.
    editing: bool,
    reject_reason: String,
    notice: Option<String>,
}

const STATUSES: [(&str, &str); 3] = [
    ("open", "Open"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
];

fn admin(user: &WebUser) -> Result<(), WebError> {
    if user.user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("Only account admins review flow proposals".into()).into())
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> (String, String) {
    (t.format("%d %b %Y, %H:%M UTC").to_string(), t.to_rfc3339())
}

fn heading(r: &Review) -> String {
    match r.proposal.kind {
        ProposalKind::BranchAddition => format!("Add a branch to “{}”", r.flow_title()),
        ProposalKind::NewFlow => format!("New flow: “{}”", r.proposal.definition.title),
    }
}

fn kind_label(kind: ProposalKind) -> &'static str {
    match kind {
        ProposalKind::BranchAddition => "Branch addition",
        ProposalKind::NewFlow => "New flow",
    }
}

/// Where the branch hangs, as the flow says it.
fn place(r: &Review) -> Option<String> {
    let at = r.proposal.attached_at.as_deref()?;
    let node = r.proposal.definition.nodes.get(at)?;
    Some(node.text().to_string())
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    uri: Uri,
) -> Result<Response, WebError> {
    admin(&user)?;
    let params = Params::parse(uri.query());
    let asked = params
        .get("status")
        .filter(|s| STATUSES.iter().any(|(v, _)| v == s))
        .unwrap_or("open");
    let status = status_param(Some(asked))?;
    let reviews = review::list(&state, &user.user, status).await?;
    let lines = reviews
        .iter()
        .map(|r| {
            let (updated, updated_iso) = when(r.proposal.updated_at);
            Summary {
                id: r.proposal.id,
                heading: heading(r),
                kind: kind_label(r.proposal.kind),
                evidence: r.proposal.evidence_count,
                place: place(r),
                updated,
                updated_iso,
                stale: r.is_stale() && r.proposal.status == ProposalStatus::Open,
            }
        })
        .collect();
    let page = QueuePage {
        layout: Layout::new("Review queue", &csrf, Some(&user.user)).current("review"),
        statuses: STATUSES
            .iter()
            .map(|&(value, label)| Choice {
                value,
                label,
                selected: value == asked,
            })
            .collect(),
        status: status.as_str(),
        lines,
    };
    Ok(render(StatusCode::OK, &page))
}

fn proposal_id(raw: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound.into())
}

/// The proposed tree with its added and changed steps and answers marked.
fn tree(r: &Review) -> Vec<TreeLine> {
    let def = &r.proposal.definition;
    let outline = flow_outline::outline(def);
    let added: HashSet<&str> = r.change.added_nodes.iter().map(|n| n.id.as_str()).collect();
    let changed: HashSet<&str> = r
        .change
        .changed_nodes
        .iter()
        .map(|n| n.id.as_str())
        .collect();
    let mut options: HashMap<(&str, &str), &'static str> = HashMap::new();
    for o in &r.change.added_options {
        options.insert((o.node.as_str(), o.label.as_str()), "added");
    }
    for o in &r.change.changed_options {
        options.insert((o.node.as_str(), o.label.as_str()), "changed");
    }
    // Which node each answer belongs to: the innermost node open around it.
    let mut open: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in outline.lines.into_iter().chain(outline.unreachable) {
        let mark = match &line {
            Line::NodeOpen(node) => {
                open.push(node.id.clone());
                if added.contains(node.id.as_str()) {
                    Some(ADDED)
                } else if changed.contains(node.id.as_str()) {
                    Some(CHANGED)
                } else {
                    None
                }
            }
            Line::NodeClose => {
                open.pop();
                None
            }
            Line::BranchOpen(branch) => {
                let node = open.last().map(String::as_str).unwrap_or_default();
                let label = branch.label.as_deref().unwrap_or_default();
                match options.get(&(node, label)) {
                    Some(&"added") => Some(ADDED),
                    Some(_) => Some(CHANGED),
                    None => None,
                }
            }
            _ => None,
        };
        out.push(TreeLine { line, mark });
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The change in a sentence per kind of change.
fn changes(r: &Review) -> Vec<String> {
    let c = &r.change;
    let mut out = Vec::new();
    let counts = [
        (c.added_nodes.len(), "step added", "steps added"),
        (c.added_options.len(), "answer added", "answers added"),
        (c.changed_nodes.len(), "step changed", "steps changed"),
        (c.changed_options.len(), "answer changed", "answers changed"),
        (c.removed_nodes.len(), "step removed", "steps removed"),
        (c.removed_options.len(), "answer removed", "answers removed"),
    ];
    for (n, one, many) in counts {
        if n > 0 {
            out.push(plural(n, one, many));
        }
    }
    if !c.fields.is_empty() {
        out.push(format!("flow details changed: {}", c.fields.join(", ")));
    }
    out
}

/// What a refused form sends back to the page: the message, and what the admin typed.
#[derive(Default)]
struct Typed {
    notice: Option<String>,
    /// The edited document, shown in the open "Edit and approve" form.
    document: Option<String>,
    reject_reason: String,
}

async fn proposal_page(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    id: Uuid,
    code: StatusCode,
    typed: Typed,
) -> Result<Response, WebError> {
    let r = review::get(state, &user.user, id).await?;
    let p = &r.proposal;
    let evidence = r
        .evidence
        .iter()
        .map(|e| {
            let resolved = e.resolved_at.map(when);
            EvidenceLine {
                session_id: e.session_id,
                title: e.title.clone(),
                fix: e.resolution_summary.clone(),
                owner: e.owner_name.clone(),
                resolved: resolved.as_ref().map(|w| w.0.clone()),
                resolved_iso: resolved.map(|w| w.1),
            }
        })
        .collect();
    let mut removed: Vec<Removed> = r
        .change
        .removed_nodes
        .iter()
        .map(|n| Removed {
            what: "Step",
            text: n.text.clone(),
        })
        .collect();
    removed.extend(r.change.removed_options.iter().map(|o| Removed {
        what: "Answer",
        text: o.label.clone(),
    }));
    let editing = typed.document.is_some();
    let document = match typed.document {
        Some(text) => text,
        None => serde_json::to_string_pretty(&p.definition)
            .map_err(|e| ApiError::fault("writing a proposed flow", e))?,
    };
    let page = ProposalPage {
        layout: Layout::new(&heading(&r), csrf, Some(&user.user)).current("review"),
        id,
        heading: heading(&r),
        kind: kind_label(p.kind),
        status: p.status.as_str(),
        open: p.status == ProposalStatus::Open,
        stale: r.is_stale() && p.status == ProposalStatus::Open,
        reason: p.reason.clone(),
        published: p.published_flow_id.zip(p.published_version),
        flow_link: r.current.as_ref().map(|f| f.id),
        base_version: p.base_version,
        current_version: r.current.as_ref().map(|f| f.version),
        changes: changes(&r),
        tree: tree(&r),
        removed,
        evidence,
        document,
        editing,
        reject_reason: typed.reject_reason,
        notice: typed.notice,
    };
    Ok(render(code, &page))
}

pub async fn show_one(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    admin(&user)?;
    let id = proposal_id(&raw)?;
    proposal_page(&state, &user, &csrf, id, StatusCode::OK, Typed::default()).await
}

#[derive(Debug, Deserialize)]
pub struct ApproveForm {
    /// The edited document, from "Edit and approve"; absent for a plain approval.
    #[serde(default)]
    flow: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    reason: String,
}

/// A refusal shown on the proposal's page, with what the admin typed kept.
fn in_place(err: ApiError) -> Result<(StatusCode, String), WebError> {
    let code = err.status();
    let message = match err {
        ApiError::Validation(errors) => fields::sentences(errors),
        ApiError::Conflict(message) => message,
        stale @ ApiError::StaleVersion { .. } => stale.to_string(),
        other => return Err(other.into()),
    };
    Ok((code, message))
}

pub async fn approve(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<ApproveForm>,
) -> Result<Response, WebError> {
    admin(&user)?;
    let id = proposal_id(&raw)?;
    let typed = form.flow.filter(|t| !t.trim().is_empty());
    let edited = match &typed {
        None => Ok(None),
        Some(text) => serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| {
                ApiError::field(
                    &["flow"],
                    format!("The document is not JSON: {e}"),
                    "json_invalid",
                )
            })
            .and_then(|v| edited_flow(Some(v))),
    };
    let done = match edited {
        Ok(doc) => review::approve(&state, &user.user, id, doc)
            .await
            .map(|_| ()),
        Err(err) => Err(err),
    };
    match done {
        Ok(()) => Ok(see_other(&format!("/review/{id}"))),
        Err(err) => {
            let (code, message) = in_place(err)?;
            let typed = Typed {
                notice: Some(message),
                document: typed,
                reject_reason: String::new(),
            };
            proposal_page(&state, &user, &csrf, id, code, typed).await
        }
    }
}

pub async fn reject(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<RejectForm>,
) -> Result<Response, WebError> {
    admin(&user)?;
    let id = proposal_id(&raw)?;
    match review::reject(&state, &user.user, id, &form.reason).await {
        Ok(_) => Ok(see_other(&format!("/review/{id}"))),
        Err(err) => {
            let (code, message) = in_place(err)?;
            let typed = Typed {
                notice: Some(message),
                document: None,
                reject_reason: form.reason,
            };
            proposal_page(&state, &user, &csrf, id, code, typed).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::flow::FlowDefinition;

    /// The proposal page's decision tree for `def`, `q1` added and its "No" answer changed.
    fn rendered_tree(def: &FlowDefinition) -> String {
        let outline = flow_outline::outline(def);
        let tree = outline
            .lines
            .into_iter()
            .chain(outline.unreachable)
            .map(|line| {
                let mark = match &line {
                    Line::NodeOpen(node) if node.id == "q1" => Some(ADDED),
                    Line::BranchOpen(b) if b.label.as_deref() == Some("No") => Some(CHANGED),
                    _ => None,
                };
                TreeLine { line, mark }
            })
            .collect();
        let page = ProposalPage {
            layout: Layout::new("Proposal", "csrf", None),
            id: Uuid::nil(),
            heading: "Add a branch".into(),
            kind: "Branch addition",
            status: "open",
            open: false,
            stale: false,
            reason: None,
            published: None,
            flow_link: None,
            base_version: None,
            current_version: None,
            changes: Vec::new(),
            tree,
            removed: Vec::new(),
            evidence: Vec::new(),
            document: String::new(),
            editing: false,
            reject_reason: String::new(),
            notice: None,
        };
        let html = page.render().unwrap();
        let start = html.find("<div class=\"flow-outline\">").unwrap();
        let end = start + html[start..].find("</div>").unwrap();
        html[start..end].to_string()
    }

    #[test]
    fn the_proposed_tree_marks_added_steps_and_changed_answers_and_keeps_the_outline_whole() {
        let def: FlowDefinition = serde_json::from_value(serde_json::json!({
            "title": "T", "domain": "email", "start": "q1",
            "nodes": {
                "q1": {"type": "question", "text": "Does it print?", "options": [
                    {"label": "Yes", "value": "yes", "next": "a1"},
                    {"label": "No", "value": "no", "next": "s1"}]},
                "a1": {"type": "action", "text": "Reinstall the driver", "expected_outcome": "Labels print",
                       "next": "s1", "on_failure": "gone"},
                "s1": {"type": "solution", "text": "Fixed", "follow_up": ["Tell the user"]}}}))
        .unwrap();
        let tree = rendered_tree(&def);
        for shown in [
            "<li class=\"node node-question diff-added\" id=\"node-q1\">",
            "<p class=\"node-head\"><span class=\"badge diff-badge diff-added\">Added</span> <span class=\"badge badge-question\">Question</span> <span class=\"node-text\">Does it print?</span></p>",
            "<li class=\"branch\">\n  <p class=\"branch-label\">Answer <strong class=\"option-label\">Yes</strong>",
            "<li class=\"branch diff-changed\">\n  <p class=\"branch-label\"><span class=\"badge diff-badge diff-changed\">Changed</span> Answer <strong class=\"option-label\">No</strong>",
            "<li class=\"node node-action\" id=\"node-a1\">",
            "<p class=\"node-outcome\"><strong>Expected outcome:</strong> Labels print</p>",
            "<p class=\"node-outcome\"><strong>Follow-up:</strong></p>\n  <ul class=\"follow-up\">\n    <li>Tell the user</li>\n  </ul>",
            "<p class=\"see-above\"><span class=\"badge badge-quiet\">Solution</span> Fixed (<a href=\"#node-s1\">see above</a>)</p>",
            "<p class=\"see-above\">A step named “gone” that this flow does not have.</p>",
        ] {
            assert!(tree.contains(shown), "{shown}\nnot in\n{tree}");
        }
        for (open, close) in [("<ul", "</ul>"), ("<li", "</li>")] {
            assert_eq!(
                tree.matches(open).count(),
                tree.matches(close).count(),
                "{tree}"
            );
        }
        assert_eq!(tree.matches("<ul class=\"outline\">").count(), 3, "{tree}");
        assert_eq!(tree.matches("<ul class=\"branches\">").count(), 2, "{tree}");
    }
}
