//! `/analytics`: the overview (memory.md "Flow health and analytics") as charts drawn on the
//! server and the tables under them, each table also a CSV download
//! (`/analytics/<table>.csv` with the page's filters). The same use case as
//! `GET /api/v1/analytics/overview`; the filters are a plain GET form.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use domain::escalation::human_duration;

use crate::analytics::figures::Outcomes;
use crate::analytics::{self, Overview};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::charts::{self, Bar, Series};
use crate::web::csrf::CsrfToken;
use crate::web::csv::{self, Cell};
use crate::web::error::WebError;
use crate::web::listing::Params;
use crate::web::page::{render, Layout};
use crate::web::user::WebUser;

/// A table as the page shows it: cells already worded.
struct Table {
    /// The CSV's name (`flows` for `/analytics/flows.csv`).
    name: &'static str,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// How many leading columns are words (aligned left); the rest are figures.
    words: usize,
}

struct Section {
    id: &'static str,
    heading: &'static str,
    intro: &'static str,
    chart: Option<String>,
    table: Table,
}

struct Fact {
    label: &'static str,
    value: String,
}

struct DomainChoice {
    value: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "analytics.html")]
struct AnalyticsPage {
    layout: Layout,
    from: String,
    to: String,
    domains: Vec<DomainChoice>,
    /// The filters as a query string, for the CSV links.
    query: String,
    scope_note: String,
    error: Option<String>,
    facts: Vec<Fact>,
    sections: Vec<Section>,
}

const TABLES: [&str; 6] = [
    "summary",
    "domains",
    "flows",
    "nodes",
    "reliability",
    "cost",
];

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

fn secs(v: Option<i64>) -> String {
    v.map_or("—".into(), |s| human_duration(Duration::seconds(s)))
}

fn usd(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("${v:.4}"))
}

const OUTCOME_HEADER: [&str; 13] = [
    "started",
    "resolved",
    "escalated",
    "abandoned",
    "open",
    "resolution_rate",
    "escalation_rate",
    "mttr_p50_seconds",
    "mttr_p90_seconds",
    "steps_per_resolved",
    "rating_mean",
    "unmatched",
    "coverage",
];

fn outcome_cells(o: &Outcomes) -> Vec<Cell> {
    vec![
        Cell::int(o.started),
        Cell::int(o.resolved),
        Cell::int(o.escalated),
        Cell::int(o.abandoned),
        Cell::int(o.open),
        Cell::float(o.resolution_rate),
        Cell::float(o.escalation_rate),
        o.mttr_p50_seconds.map_or(Cell::Empty, Cell::int),
        o.mttr_p90_seconds.map_or(Cell::Empty, Cell::int),
        Cell::float(o.steps_per_resolved),
        Cell::float(o.rating_mean),
        Cell::int(o.unmatched),
        Cell::float(o.coverage),
    ]
}

fn outcome_words(o: &Outcomes) -> Vec<String> {
    vec![
        o.started.to_string(),
        o.resolved.to_string(),
        o.escalated.to_string(),
        o.abandoned.to_string(),
        pct(o.resolution_rate),
        secs(o.mttr_p50_seconds),
        secs(o.mttr_p90_seconds),
        num(o.steps_per_resolved),
        num(o.rating_mean),
        pct(o.coverage),
    ]
}

const OUTCOME_WORDS_HEADER: [&str; 10] = [
    "Started",
    "Resolved",
    "Escalated",
    "Abandoned",
    "Resolution rate",
    "MTTR p50",
    "MTTR p90",
    "Steps per resolved",
    "Rating",
    "Coverage",
];

fn domain_label(d: &Option<String>) -> String {
    d.clone().unwrap_or_else(|| "(no domain)".into())
}

fn flow_label(name: &Option<String>, matched: bool) -> String {
    match (name, matched) {
        (_, false) => "(no matching flow)".into(),
        (Some(n), true) => n.clone(),
        (None, true) => "(unnamed flow)".into(),
    }
}

/// One CSV document of the overview; `None` for a name that is no table.
fn csv_of(o: &Overview, table: &str) -> Option<String> {
    Some(match table {
        "summary" => csv::write(&OUTCOME_HEADER, [outcome_cells(&o.totals)]),
        "domains" => {
            let mut header = vec!["domain"];
            header.extend(OUTCOME_HEADER);
            csv::write(
                &header,
                o.by_domain.iter().map(|d| {
                    let mut row = vec![Cell::opt_text(d.domain.as_deref())];
                    row.extend(outcome_cells(&d.outcomes));
                    row
                }),
            )
        }
        "flows" => {
            let mut header = vec!["flow_id", "flow_name"];
            header.extend(OUTCOME_HEADER);
            csv::write(
                &header,
                o.by_flow.iter().map(|f| {
                    let mut row = vec![
                        f.flow_id
                            .map_or(Cell::Empty, |id| Cell::text(id.to_string())),
                        Cell::opt_text(f.flow_name.as_deref()),
                    ];
                    row.extend(outcome_cells(&f.outcomes));
                    row
                }),
            )
        }
        "nodes" => csv::write(
            &[
                "flow_id",
                "flow_name",
                "node_id",
                "node_type",
                "node_text",
                "reached",
                "shown",
                "answered",
                "left_resolved",
                "left_escalated",
                "left_abandoned",
                "free_text",
                "free_text_rate",
                "not_relevant",
                "not_relevant_rate",
                "dead_end_sessions",
                "dead_end",
            ],
            o.nodes.iter().map(|n| {
                vec![
                    Cell::text(n.flow_id.to_string()),
                    Cell::opt_text(n.flow_name.as_deref()),
                    Cell::text(n.node_id.clone()),
                    Cell::opt_text(n.node_type.as_deref()),
                    Cell::opt_text(n.node_text.as_deref()),
                    Cell::int(n.reached),
                    Cell::int(n.shown),
                    Cell::int(n.answered),
                    Cell::int(n.left_resolved),
                    Cell::int(n.left_escalated),
                    Cell::int(n.left_abandoned),
                    Cell::int(n.free_text),
                    Cell::float(n.free_text_rate),
                    Cell::int(n.not_relevant),
                    Cell::float(n.not_relevant_rate),
                    Cell::int(n.dead_end_sessions),
                    Cell::text(n.dead_end.to_string()),
                ]
            }),
        ),
        "reliability" => csv::write(
            &[
                "from",
                "to",
                "suggestions",
                "fixes",
                "fix_rate",
                "mean_confidence",
            ],
            o.reliability.iter().map(|b| {
                vec![
                    Cell::float(Some(b.from)),
                    Cell::float(Some(b.to)),
                    Cell::int(b.suggestions),
                    Cell::int(b.fixes),
                    Cell::float(b.fix_rate),
                    Cell::float(b.mean_confidence),
                ]
            }),
        ),
        "cost" => csv::write(
            &[
                "engine",
                "sessions",
                "resolved",
                "calls",
                "cost_usd",
                "input_tokens",
                "output_tokens",
                "cost_per_resolved_usd",
                "tokens_per_resolved",
            ],
            o.cost_by_engine.iter().map(|e| {
                vec![
                    Cell::text(e.engine.clone()),
                    Cell::int(e.sessions),
                    Cell::int(e.resolved),
                    Cell::int(e.calls),
                    Cell::float(Some(e.cost_usd)),
                    Cell::int(e.input_tokens),
                    Cell::int(e.output_tokens),
                    Cell::float(e.cost_per_resolved_usd),
                    Cell::float(e.tokens_per_resolved),
                ]
            }),
        ),
        _ => return None,
    })
}

const OUTCOME_SERIES: [Series; 4] = [
    Series {
        class: "chart-resolved",
        name: "Resolved",
    },
    Series {
        class: "chart-escalated",
        name: "Escalated",
    },
    Series {
        class: "chart-abandoned",
        name: "Abandoned",
    },
    Series {
        class: "chart-open",
        name: "Open",
    },
];

fn outcome_bar(label: String, o: &Outcomes) -> Bar {
    Bar {
        label,
        values: vec![
            o.resolved as f64,
            o.escalated as f64,
            o.abandoned as f64,
            o.open as f64,
        ],
    }
}

fn sections(o: &Overview) -> Vec<Section> {
    let words_header = |first: &'static str| {
        let mut h = vec![first];
        h.extend(OUTCOME_WORDS_HEADER);
        h
    };
    let domain_bars: Vec<Bar> = o
        .by_domain
        .iter()
        .map(|d| outcome_bar(domain_label(&d.domain), &d.outcomes))
        .collect();
    let flow_bars: Vec<Bar> = o
        .by_flow
        .iter()
        .map(|f| outcome_bar(flow_label(&f.flow_name, f.flow_id.is_some()), &f.outcomes))
        .collect();
    let mttr_bars: Vec<Bar> = o
        .by_domain
        .iter()
        .filter(|d| d.outcomes.mttr_p50_seconds.is_some())
        .map(|d| Bar {
            label: domain_label(&d.domain),
            values: vec![
                d.outcomes.mttr_p50_seconds.unwrap_or(0) as f64,
                d.outcomes.mttr_p90_seconds.unwrap_or(0) as f64,
            ],
        })
        .collect();
    let bands: Vec<charts::Band> = o
        .reliability
        .iter()
        .map(|b| charts::Band {
            from: b.from,
            to: b.to,
            suggestions: b.suggestions,
            fix_rate: b.fix_rate,
        })
        .collect();
    vec![
        Section {
            id: "domains",
            heading: "Outcomes by problem domain",
            intro: "How the sessions of each problem domain ended, and how long a resolution took.",
            chart: Some(charts::stacked(
                "chart-domains",
                "Outcomes by problem domain",
                &OUTCOME_SERIES,
                &domain_bars,
            )),
            table: Table {
                name: "domains",
                words: 1,
                header: words_header("Domain"),
                rows: o
                    .by_domain
                    .iter()
                    .map(|d| {
                        let mut row = vec![domain_label(&d.domain)];
                        row.extend(outcome_words(&d.outcomes));
                        row
                    })
                    .collect(),
            },
        },
        Section {
            id: "mttr",
            heading: "Time to resolution by problem domain",
            intro: "Nearest-rank percentiles of the time from start to resolution of resolved sessions: half were faster than p50, nine in ten faster than p90.",
            chart: Some(charts::grouped(
                "chart-mttr",
                "Time to resolution (p50 and p90) by problem domain",
                &[
                    Series {
                        class: "chart-p50",
                        name: "p50",
                    },
                    Series {
                        class: "chart-p90",
                        name: "p90",
                    },
                ],
                &mttr_bars,
                |s| human_duration(Duration::seconds(s as i64)),
            )),
            table: Table {
                name: "summary",
                words: 1,
                header: OUTCOME_WORDS_HEADER.to_vec(),
                rows: vec![outcome_words(&o.totals)],
            },
        },
        Section {
            id: "flows",
            heading: "Outcomes by flow",
            intro: "Sessions per matched flow; coverage is the share a flow matched at all.",
            chart: Some(charts::stacked(
                "chart-flows",
                "Outcomes by flow",
                &OUTCOME_SERIES,
                &flow_bars,
            )),
            table: Table {
                name: "flows",
                words: 1,
                header: words_header("Flow"),
                rows: o
                    .by_flow
                    .iter()
                    .map(|f| {
                        let mut row = vec![flow_label(&f.flow_name, f.flow_id.is_some())];
                        row.extend(outcome_words(&f.outcomes));
                        row
                    })
                    .collect(),
            },
        },
        Section {
            id: "nodes",
            heading: "Flow health by node",
            intro: "Where sessions went through each flow, where they left it, and where engineers went off it (free text, marked not relevant). A dead end: sessions reached it and closed, none resolved.",
            chart: None,
            table: Table {
                name: "nodes",
                words: 2,
                header: vec![
                    "Node",
                    "Flow",
                    "Reached",
                    "Left resolved",
                    "Left escalated",
                    "Left abandoned",
                    "Free text",
                    "Not relevant",
                    "Dead end",
                ],
                rows: o
                    .nodes
                    .iter()
                    .map(|n| {
                        vec![
                            n.node_text.clone().map_or(n.node_id.clone(), |t| {
                                format!("{} ({})", clip(&t, 80), n.node_id)
                            }),
                            flow_label(&n.flow_name, true),
                            n.reached.to_string(),
                            n.left_resolved.to_string(),
                            n.left_escalated.to_string(),
                            n.left_abandoned.to_string(),
                            pct(n.free_text_rate),
                            pct(n.not_relevant_rate),
                            if n.dead_end {
                                "dead end".to_string()
                            } else if n.dead_end_sessions > 0 {
                                format!("{} left here unresolved", n.dead_end_sessions)
                            } else {
                                "—".to_string()
                            },
                        ]
                    })
                    .collect(),
            },
        },
        Section {
            id: "reliability",
            heading: "Confidence against outcome",
            intro: "Resolution suggestions by the confidence they were made at, and the share that turned out to be the fix. A calibrated engine's bars follow the diagonal.",
            chart: Some(charts::reliability(
                "chart-reliability",
                "Reliability: share of suggestions that were the fix, by confidence",
                &bands,
            )),
            table: Table {
                name: "reliability",
                words: 1,
                header: vec!["Confidence", "Suggestions", "Were the fix", "Share", "Mean confidence"],
                rows: o
                    .reliability
                    .iter()
                    .map(|b| {
                        vec![
                            format!("{:.0}–{:.0}%", b.from * 100.0, b.to * 100.0),
                            b.suggestions.to_string(),
                            b.fixes.to_string(),
                            pct(b.fix_rate),
                            pct(b.mean_confidence),
                        ]
                    })
                    .collect(),
            },
        },
        Section {
            id: "cost",
            heading: "AI cost per resolved session",
            intro: "The AI ledger of the sessions of each engine, divided by the sessions it resolved (the spend on unresolved sessions included).",
            chart: None,
            table: Table {
                name: "cost",
                words: 1,
                header: vec![
                    "Engine",
                    "Sessions",
                    "Resolved",
                    "Calls",
                    "Cost",
                    "Tokens in",
                    "Tokens out",
                    "Cost per resolved",
                    "Tokens per resolved",
                ],
                rows: o
                    .cost_by_engine
                    .iter()
                    .map(|e| {
                        vec![
                            e.engine.clone(),
                            e.sessions.to_string(),
                            e.resolved.to_string(),
                            e.calls.to_string(),
                            usd(Some(e.cost_usd)),
                            e.input_tokens.to_string(),
                            e.output_tokens.to_string(),
                            usd(e.cost_per_resolved_usd),
                            num(e.tokens_per_resolved),
                        ]
                    })
                    .collect(),
            },
        },
    ]
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    } else {
        text.to_string()
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The filters as given, for the CSV links (so a download has exactly the page's figures).
fn query_of(params: &Params) -> String {
    let pairs: Vec<(&str, &str)> = ["from", "to", "domain"]
        .into_iter()
        .filter_map(|k| params.get(k).map(|v| (k, v)))
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    uri: Uri,
) -> Result<Response, WebError> {
    let params = Params::parse(uri.query());
    let me = &user.user;
    let result = analytics::overview(
        &state,
        me,
        params.get("from"),
        params.get("to"),
        params.get("domain"),
    )
    .await;
    let (status, overview, error) = match result {
        Ok(o) => (StatusCode::OK, Some(o), None),
        Err(ApiError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(
                errors
                    .iter()
                    .map(|e| e.msg.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        Err(other) => return Err(other.into()),
    };
    let library = state.store.library_flows(me.account_id, None, None).await?;
    let mut domain_names: BTreeSet<String> =
        library.into_iter().map(|f| f.definition.domain).collect();
    if let Some(o) = &overview {
        domain_names.extend(o.by_domain.iter().filter_map(|d| d.domain.clone()));
    }
    let current = params.get("domain").map(str::to_string);
    domain_names.extend(current.clone());
    let (from, to) = match &overview {
        // The form's `to` is a day included whole, so it shows the last day the range covers.
        Some(o) => (day(o.from), day(o.to - Duration::milliseconds(1))),
        None => (
            params.get("from").unwrap_or_default().to_string(),
            params.get("to").unwrap_or_default().to_string(),
        ),
    };
    let facts = overview.as_ref().map_or_else(Vec::new, |o| {
        let t = &o.totals;
        vec![
            Fact {
                label: "Sessions started",
                value: t.started.to_string(),
            },
            Fact {
                label: "Resolved",
                value: format!("{} ({})", t.resolved, pct(t.resolution_rate)),
            },
            Fact {
                label: "Escalated",
                value: format!("{} ({})", t.escalated, pct(t.escalation_rate)),
            },
            Fact {
                label: "Abandoned",
                value: t.abandoned.to_string(),
            },
            Fact {
                label: "Time to resolution p50 / p90",
                value: format!(
                    "{} / {}",
                    secs(t.mttr_p50_seconds),
                    secs(t.mttr_p90_seconds)
                ),
            },
            Fact {
                label: "Steps per resolved session",
                value: num(t.steps_per_resolved),
            },
            Fact {
                label: "Rating",
                value: match t.rating_mean {
                    Some(m) => format!("{m:.1} of 5 ({} rated)", t.rated),
                    None => "—".into(),
                },
            },
            Fact {
                label: "Flow coverage",
                value: format!("{} ({} unmatched)", pct(t.coverage), t.unmatched),
            },
        ]
    });
    let scope_note = if me.is_admin() {
        "Every session of your account".to_string()
    } else {
        "Your own sessions".to_string()
    };
    Ok(render(
        status,
        &AnalyticsPage {
            layout: Layout::new("Analytics", &csrf, Some(me)).current("analytics"),
            from,
            to,
            domains: domain_names
                .into_iter()
                .map(|value| DomainChoice {
                    selected: current.as_deref() == Some(value.as_str()),
                    value,
                })
                .collect(),
            query: query_of(&params),
            scope_note,
            error,
            facts,
            sections: overview.as_ref().map_or_else(Vec::new, sections),
        },
    ))
}

/// `/analytics/<table>.csv`: one table of the overview with the same filters.
pub async fn download(
    State(state): State<AppState>,
    user: WebUser,
    Path(file): Path<String>,
    uri: Uri,
) -> Result<Response, WebError> {
    let table = file
        .strip_suffix(".csv")
        .filter(|t| TABLES.contains(t))
        .ok_or(ApiError::NotFound)?;
    let params = Params::parse(uri.query());
    let overview = analytics::overview(
        &state,
        &user.user,
        params.get("from"),
        params.get("to"),
        params.get("domain"),
    )
    .await?;
    let body = csv_of(&overview, table).ok_or(ApiError::NotFound)?;
    let name = format!(
        "flowpilot-{table}-{}-{}.csv",
        day(overview.from),
        day(overview.to - Duration::milliseconds(1))
    );
    Ok(csv::attachment(&name, body))
}
