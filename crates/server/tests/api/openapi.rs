//! The served OpenAPI document describes the API as it answers: parameters where the paths
//! say, the statuses the extractors and handlers give, the error shape, and the limits the
//! handlers enforce. The fuzzer (scripts/fuzz-api.sh) checks the same against live traffic;
//! these keep the document's shape from regressing between its runs.

use domain::flow::limits;
use domain::user::{PASSWORD_MAX, PASSWORD_MIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::stories;

stories!(
    parameters_are_where_the_paths_say,
    every_operation_lists_the_statuses_its_shape_implies,
    every_authenticated_operation_answers_401_without_a_token,
    error_detail_is_a_message_a_field_list_or_an_object,
    request_schemas_carry_the_limits_the_handlers_enforce,
    rate_limited_operations_list_429_with_retry_after,
    links_name_operations_of_the_document,
);

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let resp = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

/// `(method, path, operation)` for every operation of the document.
fn operations(doc: &Value) -> Vec<(&'static str, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                found.push((method, path.clone(), op.clone()));
            }
        }
    }
    assert!(found.len() > 30, "only {} operations", found.len());
    found
}

fn parameters<'a>(op: &'a Value, place: &str) -> Vec<&'a Value> {
    op["parameters"]
        .as_array()
        .map(|ps| ps.iter().filter(|p| p["in"] == place).collect())
        .unwrap_or_default()
}

fn authenticated(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|s| !s.is_empty())
}

fn statuses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default()
}

/// The schema a `$ref` names, or the schema itself.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().expect("ref name");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

async fn parameters_are_where_the_paths_say(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    for (method, path, op) in operations(&doc) {
        let in_template: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let in_path: Vec<&str> = parameters(&op, "path")
            .iter()
            .map(|p| p["name"].as_str().expect("name"))
            .collect();
        assert_eq!(in_path, in_template, "{method} {path}: path parameters");
        for p in parameters(&op, "path") {
            assert_eq!(p["required"], true, "{method} {path}: {p}");
        }
        for p in parameters(&op, "query") {
            assert_eq!(p["required"], false, "{method} {path}: {p}");
        }
    }
}

async fn every_operation_lists_the_statuses_its_shape_implies(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    for (method, path, op) in operations(&doc) {
        let listed = statuses(&op);
        let mut implied = Vec::new();
        if authenticated(&op) {
            implied.push("401");
        }
        if op.get("requestBody").is_some() {
            implied.extend(["400", "413", "415", "422"]);
        }
        if !parameters(&op, "path").is_empty() {
            implied.extend(["400", "404"]);
        }
        if !parameters(&op, "query").is_empty() {
            implied.extend(["400", "422"]);
        }
        for status in implied {
            assert!(
                listed.iter().any(|s| s == status),
                "{method} {path} does not list {status}: {listed:?}"
            );
        }
        for (status, response) in op["responses"].as_object().expect("responses") {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: no description"
            );
            let is_error = status.starts_with('4') || status.starts_with('5');
            if is_error && path.starts_with("/api/") {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

/// Each authenticated operation, called without a token (any id, an empty JSON body),
/// answers 401: the document's `security` is what the handler requires.
async fn every_authenticated_operation_answers_401_without_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        if !authenticated(&op) {
            continue;
        }
        let url = format!(
            "{}{}",
            app.base,
            path.replace("{id}", &uuid::Uuid::new_v4().to_string())
        );
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let mut req = app.client.request(method.clone(), url);
        if op.get("requestBody").is_some() {
            req = req.json(&json!({}));
        }
        let (status, body) = TestApp::read(req.send().await.expect("request")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert!(body["detail"].is_string(), "{method} {path}: {body}");
        checked += 1;
    }
    assert!(checked >= 28, "only {checked} authenticated operations");
}

async fn error_detail_is_a_message_a_field_list_or_an_object(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    let error_body = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error_body["required"], json!(["detail"]));
    let detail = resolve(&doc, &error_body["properties"]["detail"]);
    let kinds: Vec<&Value> = detail["oneOf"]
        .as_array()
        .expect("detail is oneOf")
        .iter()
        .map(|k| resolve(&doc, k))
        .collect();
    assert!(kinds.iter().any(|k| k["type"] == "string"), "{detail}");
    let list = kinds
        .iter()
        .find(|k| k["type"] == "array")
        .expect("a list of field errors");
    let field = resolve(&doc, &list["items"]);
    assert_eq!(field["required"], json!(["loc", "msg", "type"]), "{field}");
    let quota = kinds
        .iter()
        .find(|k| k["type"] == "object")
        .expect("the quota object");
    assert_eq!(
        quota["required"],
        json!(["message", "reset_at", "quota"]),
        "{quota}"
    );
}

/// The limit a request schema's field declares, e.g. `("RegisterIn", "password", "maxLength")`.
fn limit(doc: &Value, schema: &str, field: &str, keyword: &str) -> Value {
    doc["components"]["schemas"][schema]["properties"][field][keyword].clone()
}

async fn request_schemas_carry_the_limits_the_handlers_enforce(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    let expected: Vec<(&str, &str, &str, Value)> = vec![
        ("RegisterIn", "email", "format", json!("email")),
        ("RegisterIn", "password", "minLength", json!(PASSWORD_MIN)),
        ("RegisterIn", "password", "maxLength", json!(PASSWORD_MAX)),
        ("RegisterIn", "full_name", "maxLength", json!(200)),
        ("RegisterIn", "account_name", "maxLength", json!(200)),
        ("CreateUserIn", "email", "format", json!("email")),
        ("CreateUserIn", "password", "minLength", json!(PASSWORD_MIN)),
        ("CreateUserIn", "password", "maxLength", json!(PASSWORD_MAX)),
        ("CreateUserIn", "full_name", "maxLength", json!(200)),
        ("UpdateUserIn", "full_name", "maxLength", json!(200)),
        ("TeamIn", "name", "maxLength", json!(200)),
        ("AccountPatchIn", "ai_daily_limit", "minimum", json!(0)),
        ("AccountPatchIn", "ai_monthly_limit", "minimum", json!(0)),
        ("IntakeContentIn", "text", "maxLength", json!(10_000)),
        ("IntakeContentIn", "log", "maxLength", json!(200_000)),
        ("StartIn", "title", "maxLength", json!(200)),
        ("RespondIn", "free_text_input", "maxLength", json!(5000)),
        ("ResolveIn", "resolution_summary", "maxLength", json!(5000)),
        ("EscalateIn", "escalation_reason", "maxLength", json!(2000)),
        ("RateIn", "rating", "minimum", json!(1)),
        ("RateIn", "rating", "maximum", json!(5)),
        ("RateIn", "feedback", "maxLength", json!(2000)),
        ("MatchIn", "text", "maxLength", json!(10_000)),
        ("MatchIn", "limit", "maximum", json!(20)),
        ("FlowIn", "title", "maxLength", json!(limits::TITLE)),
        (
            "FlowIn",
            "description",
            "maxLength",
            json!(limits::DESCRIPTION),
        ),
        ("FlowIn", "domain", "maxLength", json!(limits::DOMAIN)),
        ("FlowIn", "tags", "maxItems", json!(limits::MAX_TAGS)),
        ("FlowIn", "nodes", "maxProperties", json!(limits::MAX_NODES)),
    ];
    for (schema, field, keyword, value) in expected {
        assert_eq!(
            limit(&doc, schema, field, keyword),
            value,
            "{schema}.{field} {keyword}"
        );
    }
    // Every string a request carries is bounded, or is an id, an enum, or one of the few
    // the handler matches against stored values instead of storing.
    let unbounded_on_purpose = [
        "LoginIn.email",
        "LoginIn.password",
        "RespondIn.selected_option",
        "MatchIn.domain",
        "FlowIn.start",
    ];
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        if !name.ends_with("In") {
            continue;
        }
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let is_string = property["type"] == "string"
                || property["type"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("string")));
            let bounded = property.get("maxLength").is_some()
                || property.get("format").is_some()
                || property.get("enum").is_some();
            let named = format!("{name}.{field}");
            assert!(
                !is_string || bounded || unbounded_on_purpose.contains(&named.as_str()),
                "{named} has no maxLength: {property}"
            );
        }
    }
}

async fn rate_limited_operations_list_429_with_retry_after(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    let limited = [
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/ai-sessions"),
        ("get", "/api/v1/ai-sessions"),
        ("get", "/api/v1/ai-sessions/{id}"),
        ("get", "/api/v1/ai-sessions/{id}/documentation"),
        ("post", "/api/v1/ai-sessions/{id}/respond"),
        ("post", "/api/v1/ai-sessions/{id}/resolve"),
        ("post", "/api/v1/ai-sessions/{id}/escalate"),
        ("post", "/api/v1/ai-sessions/{id}/rate"),
    ];
    for (method, path) in limited {
        let response = &doc["paths"][path][method]["responses"]["429"];
        assert!(
            response["headers"]["Retry-After"].is_object(),
            "{method} {path}: {response}"
        );
    }
}

/// Links (creation → the operations on what it created, a step → the next) are written with
/// the specification's names and point at operations that exist.
async fn links_name_operations_of_the_document(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    let mut ids: Vec<String> = operations(&doc)
        .iter()
        .filter_map(|(_, _, op)| op["operationId"].as_str().map(String::from))
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "operationIds are not unique");
    let mut links = 0;
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                let target = link["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.iter().any(|id| id == target),
                    "{method} {path} {status} link {name}: {link}"
                );
                assert!(link.get("operation_id").is_none(), "{link}");
                links += 1;
            }
        }
    }
    let started = &doc["paths"]["/api/v1/ai-sessions"]["post"]["responses"]["201"]["links"];
    for target in ["respond", "session_detail", "resolve", "pause"] {
        assert!(started[target].is_object(), "start links to {target}");
    }
    assert_eq!(
        started["respond"]["requestBody"]["step_id"],
        "$response.body#/first_step/step_id"
    );
    assert!(links >= 15, "only {links} links");
}
