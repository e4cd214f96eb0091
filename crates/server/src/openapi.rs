//! The OpenAPI document, collected from the handlers' annotations so it cannot drift.
//!
//! Each handler lists the responses only it knows (403, 409, 429, ...). The ones an
//! operation's shape implies (a bearer token: 401; a body: 400, 413, 415, 422; an id in the
//! path: 400, 404) are what the extractors answer before any handler runs, so
//! [`StandardResponses`] derives them from the operation instead of every handler repeating
//! them, and a new operation gets them by having that shape.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::openapi::header::Header;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::Response;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Object, OpenApi as OpenApiDoc, Ref, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi};

use crate::api::dto::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "FlowPilot API", description = "Guided troubleshooting sessions, flows and accounts."),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Adds to every operation the error responses its shape implies, gives every response its
/// usual description and headers (`Retry-After` on 429, `WWW-Authenticate` on 401), and links
/// each creation (`POST /things` answering 201) to the operations on what it created
/// (`/things/{id}...`), so clients and the fuzzer can follow one to the other. It runs on the
/// API router's document, once every operation is in it: `ApiDoc`'s own modifiers run before
/// the routes are collected.
pub struct StandardResponses;

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        link_creations(openapi);
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for (status, reasons) in implied(operation) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(error_response(&sentence(&reasons))));
                }
                for (status, response) in &mut operation.responses.responses {
                    if let RefOr::T(response) = response {
                        complete(status, response);
                    }
                }
            }
        }
    }
}

/// `POST /things` answering 201 with an object carrying `id` (or `session_id`, for a started
/// session) links to every operation on `/things/{id}` and below, passing that id.
fn link_creations(openapi: &mut OpenApiDoc) {
    let Some(components) = &openapi.components else {
        return;
    };
    let schemas = &components.schemas;
    let mut targets: Vec<(String, String)> = Vec::new();
    for (path, item) in &mut openapi.paths.paths {
        for operation in operations(item) {
            if let Some(id) = &operation.operation_id {
                targets.push((path.clone(), id.clone()));
            }
        }
    }
    for (path, item) in &mut openapi.paths.paths {
        let Some(RefOr::T(created)) = item
            .post
            .as_mut()
            .and_then(|post| post.responses.responses.get_mut("201"))
        else {
            continue;
        };
        let Some(field) = id_field(created, schemas) else {
            continue;
        };
        let object = format!("{path}/{{id}}");
        for (target_path, target) in &targets {
            let under = target_path
                .strip_prefix(&object)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if under {
                created.links.entry(target.clone()).or_insert_with(|| {
                    RefOr::T(
                        LinkBuilder::new()
                            .operation_id(target)
                            .parameter("id", format!("$response.body#/{field}"))
                            .build(),
                    )
                });
            }
        }
    }
}

/// The field of a response's JSON object that holds the id of what it describes.
fn id_field(
    response: &Response,
    schemas: &BTreeMap<String, RefOr<Schema>>,
) -> Option<&'static str> {
    let schema = response.content.get("application/json")?.schema.as_ref()?;
    let schema = match schema {
        RefOr::Ref(r) => schemas.get(r.ref_location.rsplit('/').next()?)?,
        inline => inline,
    };
    let RefOr::T(Schema::Object(object)) = schema else {
        return None;
    };
    ["id", "session_id"]
        .into_iter()
        .find(|f| object.properties.contains_key(*f))
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// Status → why the operation can answer it, from what the request carries.
fn implied(operation: &Operation) -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut found: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    let mut add = |status, reason| found.entry(status).or_default().push(reason);
    let params = operation.parameters.as_deref().unwrap_or_default();
    let takes = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        add(
            "401",
            "missing, invalid, expired or revoked token, or a deactivated user",
        );
    }
    if takes(ParameterIn::Path) {
        add("400", "an id in the path is malformed");
        add("404", "not found, or not visible to this user");
    }
    if takes(ParameterIn::Query) {
        add("400", "the query string is malformed");
        add("422", "a query parameter is invalid");
    }
    if operation.request_body.is_some() {
        add("400", "the body is malformed");
        add("413", "the body is over the size limit");
        add(
            "415",
            "the body's Content-Type is not one this operation reads",
        );
        add("422", "a field of the body is invalid");
    }
    found
}

/// `["a", "b"]` → "A, or b".
fn sentence(reasons: &[&str]) -> String {
    let joined = reasons.join(", or ");
    let mut chars = joined.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn error_response(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        "application/json".into(),
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    response
}

/// What every error response of a status says when its annotation says nothing.
fn usual_description(status: &str) -> Option<&'static str> {
    Some(match status {
        "400" => "The request is malformed",
        "401" => "Missing, invalid, expired or revoked token, or a deactivated user",
        "403" => "Not allowed for this user",
        "404" => "Not found, or not visible to this user",
        "409" => "The object's state forbids this",
        "413" => "The body is over the size limit",
        "415" => "The body's Content-Type is not one this operation reads",
        "422" => "Validation failed; `detail` lists the fields",
        "429" => "Too many requests, or the AI quota is used up; see Retry-After",
        "502" => "The AI provider failed; nothing was saved",
        "503" => "AI is needed but not configured, or the database is unavailable",
        _ => return None,
    })
}

/// utoipa 5.5 writes a link's `operationId`, `operationRef` and `requestBody` in snake case,
/// which no OpenAPI reader knows; the specification's names go out through the link's
/// extensions, which serialize flattened into it.
fn spell_links(response: &mut Response) {
    for link in response.links.values_mut() {
        let RefOr::T(link) = link else { continue };
        let extensions = link.extensions.get_or_insert_with(Default::default);
        for (name, value) in [
            ("operationId", std::mem::take(&mut link.operation_id)),
            ("operationRef", std::mem::take(&mut link.operation_ref)),
        ] {
            if !value.is_empty() {
                extensions.insert(name.into(), value.into());
            }
        }
        if let Some(body) = link.request_body.take() {
            extensions.insert("requestBody".into(), body);
        }
    }
}

fn complete(status: &str, response: &mut Response) {
    spell_links(response);
    if response.description.is_empty() {
        let reason = || {
            StatusCode::from_bytes(status.as_bytes())
                .ok()?
                .canonical_reason()
        };
        if let Some(usual) = usual_description(status).or_else(reason) {
            response.description = usual.into();
        }
    }
    let header = |name: &str, schema: Object, description: &str| {
        let mut header = Header::new(schema);
        header.description = Some(description.into());
        (name.to_string(), header)
    };
    let (name, value) = match status {
        "401" => header(
            "WWW-Authenticate",
            Object::with_type(Type::String),
            "Always `Bearer`",
        ),
        "429" => header(
            "Retry-After",
            Object::with_type(Type::Integer),
            "Seconds to wait before trying again",
        ),
        _ => return,
    };
    response.headers.entry(name).or_insert(value);
}
