//! The shapes of `/flows` requests and answers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::flow::{Flow, FlowNode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::query_value;

/// A stored flow as the API answers it (flows.md "Format").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowOut {
    pub id: Uuid,
    /// Null for the built-in library (visible to every account, read-only).
    pub account_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub domain: String,
    pub tags: Vec<String>,
    /// `published` or `draft`.
    pub status: String,
    pub start: String,
    /// Node id → node: `question`, `action`, `solution` or `escalate`.
    #[schema(value_type = Object)]
    pub nodes: BTreeMap<String, FlowNode>,
    pub version: i64,
    pub usage_count: i64,
    /// Resolved sessions / sessions that matched the flow; null before the first match.
    pub success_rate: Option<f64>,
    pub last_matched_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Flow> for FlowOut {
    fn from(f: Flow) -> Self {
        let d = f.definition;
        FlowOut {
            id: f.id,
            account_id: f.account_id,
            title: d.title,
            description: d.description,
            domain: d.domain,
            tags: d.tags,
            status: d.status.as_str().into(),
            start: d.start,
            nodes: d.nodes,
            version: f.version,
            usage_count: f.usage_count,
            success_rate: f.success_rate,
            last_matched_at: f.last_matched_at,
            created_by: f.created_by,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// What create and update accept (documentation only: handlers parse `FlowDefinition`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FlowIn {
    pub title: String,
    #[schema(default = "")]
    pub description: Option<String>,
    pub domain: String,
    pub tags: Option<Vec<String>>,
    /// `published` (default) or `draft`.
    pub status: Option<String>,
    /// The id of the first node.
    pub start: String,
    #[schema(value_type = Object)]
    pub nodes: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Case-insensitive substring of the title, description or a tag.
    pub q: Option<String>,
    pub domain: Option<String>,
    /// `published` or `draft`.
    pub status: Option<String>,
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub skip: Option<i64>,
    /// 1..100, default 20.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `json` (default) or `yaml`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    pub imported: usize,
    pub ids: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MatchIn {
    pub text: String,
    pub domain: Option<String>,
    /// 1..20, default 3.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalsOut {
    /// Null when no embedding model is installed (its weight is then spread over the others).
    pub semantic: Option<f64>,
    pub keyword: f64,
    pub recency: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchOut {
    pub flow_id: Uuid,
    pub title: String,
    pub domain: String,
    pub score: f64,
    pub signals: SignalsOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainOut {
    pub domain: String,
    pub count: i64,
}
