//! The shapes of `/flows` requests and answers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::flow::limits;
use domain::flow::{Flow, MarkedNode};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
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
    /// Node id → node: `question`, `action`, `solution` or `escalate`; `unreviewed: true` on a
    /// node an LLM wrote or changed and no admin has approved yet.
    #[schema(value_type = Object)]
    pub nodes: BTreeMap<String, MarkedNode>,
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
        let mut d = f.definition;
        let nodes = d.take_marked_nodes();
        FlowOut {
            id: f.id,
            account_id: f.account_id,
            title: d.title,
            description: d.description,
            domain: d.domain,
            tags: d.tags,
            status: d.status.as_str().into(),
            start: d.start,
            nodes,
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

/// What create and update accept (documentation only: handlers parse `FlowDefinition`,
/// whose `validate()` enforces these limits and the graph rules of flows.md).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct FlowIn {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(required = false, default = "", max_length = 5000)]
    pub description: String,
    /// Lower-case letters, digits, `_` and `-`.
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9][a-z0-9_-]*$")]
    pub domain: String,
    #[schema(required = false, schema_with = tags_schema)]
    pub tags: Vec<String>,
    #[schema(required = false, default = "published", value_type = FlowStatusName)]
    pub status: String,
    /// The id of the first node.
    pub start: String,
    /// Node id → node: `question`, `action`, `solution` or `escalate`.
    #[schema(schema_with = nodes_schema)]
    pub nodes: BTreeMap<String, serde_json::Value>,
}

/// What `PUT /flows/{id}` reads: a flow document, the version it edits, and why.
#[derive(Debug, Deserialize)]
pub struct FlowUpdate {
    #[serde(flatten)]
    pub definition: domain::flow::FlowDefinition,
    /// A whole number, or its digits as a string; `If-Match` wins when both are sent.
    #[serde(default)]
    pub version: Option<serde_json::Value>,
    #[serde(default)]
    pub why: Option<String>,
}

/// The update's body (documentation only: the handler parses [`FlowUpdate`]).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct FlowUpdateIn {
    #[serde(flatten)]
    pub flow: FlowIn,
    /// The version this edit is based on (instead of `If-Match`). Without either, the
    /// current version is taken.
    #[schema(required = false, minimum = 1)]
    pub version: Option<i64>,
    /// What changed and why, shown in the flow's history.
    #[schema(required = false, max_length = 2000)]
    pub why: Option<String>,
}

/// One flow or a list of them (documentation only: the import reads the body itself).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ImportIn {
    One(FlowIn),
    Many(Vec<FlowIn>),
}

// The limits below are the ones `FlowDefinition::validate` enforces, read from the same
// constants so the document cannot promise more or less than the handlers accept.

fn text(min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
}

fn list_of(item: ObjectBuilder, max: usize) -> ArrayBuilder {
    ArrayBuilder::new().items(item).max_items(Some(max))
}

fn tags_schema() -> ArrayBuilder {
    list_of(text(1, limits::TAG), limits::MAX_TAGS)
}

fn nodes_schema() -> ObjectBuilder {
    let node_id = text(1, limits::NODE_ID).pattern(Some("^[A-Za-z0-9_-]+$"));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(limits::MAX_NODES))
        .property_names(Some(node_id))
        .additional_properties(Some(node_schema()))
}

/// One node. A single object whose fields say which kinds use them, not a `oneOf` per kind:
/// Schemathesis 4.32 cannot negate a `oneOf` of objects below the document root and fails
/// the run on it at random.
fn node_schema() -> ObjectBuilder {
    let kinds = ["question", "action", "solution", "escalate"];
    let described = |schema: ObjectBuilder, what: &str| schema.description(Some(what));
    let node_ref = |what| described(ObjectBuilder::new().schema_type(Type::String), what);
    let option = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("label", text(1, limits::LABEL))
        .required("label")
        .property("value", text(1, limits::LABEL))
        .required("value")
        .property("next", node_ref("The id of the node this answer leads to"))
        .required("next");
    let options = list_of(option, limits::MAX_OPTIONS)
        .min_items(Some(limits::MIN_OPTIONS))
        .description(Some("Questions: the answers offered"));
    let follow_up = list_of(text(1, limits::NODE_TEXT), limits::MAX_FOLLOW_UPS)
        .description(Some("Solutions: what to do afterwards"));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(kinds)),
        )
        .required("type")
        .property("text", text(1, limits::NODE_TEXT))
        .required("text")
        .property("help", text(0, limits::HELP))
        .property("options", options)
        .property(
            "expected_outcome",
            described(text(0, limits::NODE_TEXT), "Actions: what should happen"),
        )
        .property("next", node_ref("Actions (required): the node after it"))
        .property("on_failure", node_ref("Actions: the node when it fails"))
        .property("follow_up", follow_up)
        .property(
            "unreviewed",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some(
                    "Written or changed by an LLM and not yet approved by an admin; \
                     only an admin's write clears it (default false)",
                )),
        )
}

/// A flow's status as the API spells it (documentation only: handlers parse it).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FlowStatusName {
    Published,
    Draft,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Case-insensitive substring of the title, description or a tag.
    pub q: Option<String>,
    pub domain: Option<String>,
    #[param(value_type = Option<FlowStatusName>, inline)]
    pub status: Option<String>,
    /// Default 0.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>, minimum = 0)]
    pub skip: Option<i64>,
    /// Default 20.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Default `json`.
    #[param(value_type = Option<ExportFormat>, inline)]
    pub format: Option<String>,
}

/// How the export is answered (documentation only: the handler parses it).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ExportFormat {
    Json,
    Yaml,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    pub imported: usize,
    pub ids: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MatchIn {
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
    pub domain: Option<String>,
    /// Default 3.
    #[schema(minimum = 1, maximum = 20)]
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
