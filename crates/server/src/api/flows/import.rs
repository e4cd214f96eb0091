//! Reading an import body: a JSON array (or object) of flows, or YAML when the client says
//! so with its `Content-Type`. Every error is located as `["body", index, ...]`, the index
//! counting flows from 0 across the whole body.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use domain::flow::{parse_flow_documents, FlowDefinition, FlowFormat, FlowParseError};
use domain::validation::FieldError;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{deserialize_value, BodyLimit};

/// The raw body and the format its `Content-Type` names. `ApiJson` cannot be used: it
/// parses JSON only, and import also takes YAML.
pub struct ImportBody {
    pub bytes: Bytes,
    pub format: FlowFormat,
}

impl<S: Send + Sync> FromRequest<S> for ImportBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let format = format_of(
            req.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(1024 * 1024, |l| l.0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::BadRequest(format!("Could not read the request body: {rejection}"))
            }
        })?;
        Ok(ImportBody { bytes, format })
    }
}

/// YAML only when asked for; anything else (including no header) is read as JSON, the API's form.
fn format_of(content_type: Option<&str>) -> FlowFormat {
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => FlowFormat::Yaml,
        _ => FlowFormat::Json,
    }
}

/// Every flow of the body, each checked by `validate()`; all errors of all flows are
/// reported together so nothing is imported until the whole file is right.
pub fn parse(body: &ImportBody) -> Result<Vec<FlowDefinition>, ApiError> {
    if body.bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![FieldError::body(
            &[],
            "Field required",
            "missing",
        )]));
    }
    let flows = match body.format {
        FlowFormat::Json => parse_json(&body.bytes)?,
        FlowFormat::Yaml => parse_yaml(&body.bytes)?,
    };
    if flows.is_empty() {
        return Err(ApiError::Validation(vec![FieldError::body(
            &[],
            "List should have at least 1 item",
            "too_short",
        )]));
    }
    let mut errors = Vec::new();
    for (index, flow) in flows.iter().enumerate() {
        if let Err(invalid) = flow.validate() {
            errors.extend(invalid.0.into_iter().map(|e| at_index(e, index)));
        }
    }
    if errors.is_empty() {
        Ok(flows)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Each item deserialized on its own so a structural error names the flow and the field.
fn parse_json(bytes: &[u8]) -> Result<Vec<FlowDefinition>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))?;
    let items = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(ApiError::Validation(vec![FieldError::body(
                &[],
                "Input should be a list of flows or a flow object",
                "type_error",
            )]))
        }
    };
    let mut flows = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match deserialize_value::<FlowDefinition>(item, "body") {
            Ok(flow) => flows.push(flow),
            Err(ApiError::Validation(items)) => {
                errors.extend(items.into_iter().map(|e| at_index(e, index)))
            }
            Err(other) => return Err(other),
        }
    }
    if errors.is_empty() {
        Ok(flows)
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn parse_yaml(bytes: &[u8]) -> Result<Vec<FlowDefinition>, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest("The YAML body is not UTF-8".into()))?;
    parse_flow_documents(text, FlowFormat::Yaml).map_err(|err| match err {
        FlowParseError::Syntax { message, .. } => {
            ApiError::BadRequest(format!("Malformed YAML body: {message}"))
        }
        FlowParseError::Flow { index, message } => ApiError::Validation(vec![FieldError {
            loc: vec!["body".into(), index.into()],
            msg: message,
            kind: "value_error".into(),
        }]),
        FlowParseError::NotAFlow { document } => ApiError::Validation(vec![FieldError::body(
            &[],
            format!("Document {document} is not a flow object or a list of flows"),
            "type_error",
        )]),
    })
}

/// `["body", rest...]` becomes `["body", index, rest...]`.
fn at_index(mut error: FieldError, index: usize) -> FieldError {
    let at = usize::from(error.loc.first().is_some_and(|l| l == "body"));
    error.loc.insert(at, index.into());
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yaml_content_types_read_yaml() {
        assert_eq!(
            format_of(Some("application/yaml; charset=utf-8")),
            FlowFormat::Yaml
        );
        assert_eq!(format_of(Some("text/x-yaml")), FlowFormat::Yaml);
        assert_eq!(format_of(Some("application/json")), FlowFormat::Json);
        assert_eq!(format_of(None), FlowFormat::Json);
    }

    #[test]
    fn errors_gain_the_flow_index_after_body() {
        let e = at_index(FieldError::body(&["nodes", "q1"], "bad", "value_error"), 2);
        assert_eq!(
            e.loc,
            vec![Value::from("body"), 2.into(), "nodes".into(), "q1".into()]
        );
    }
}
