//! Reading an import body: a JSON array (or object) of flows, or YAML when the client says
//! so with its `Content-Type`. Every error is located as `["body", index, ...]`, the index
//! counting flows from 0 across the whole body.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use domain::flow::{parse_flow_documents, FlowDefinition, FlowFormat, FlowParseError};
use domain::validation::FieldError;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{deserialize_value, media_type, read_body, refuse_nul};

/// The raw body and the format its `Content-Type` names. `ApiJson` cannot be used: it
/// parses JSON only, and import also takes YAML.
pub struct ImportBody {
    pub bytes: Bytes,
    pub format: FlowFormat,
}

impl<S: Send + Sync> FromRequest<S> for ImportBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let format = format_of(media_type(req.headers()).as_deref());
        let bytes = read_body(req, state).await?;
        match format {
            Some(format) => Ok(ImportBody { bytes, format }),
            // No body at all is a missing body (422), whatever the headers say.
            None if bytes.is_empty() => Ok(ImportBody {
                bytes,
                format: FlowFormat::Json,
            }),
            None => Err(ApiError::UnsupportedMediaType(
                "Send the flows as JSON (Content-Type: application/json) or YAML \
                 (Content-Type: application/yaml)"
                    .into(),
            )),
        }
    }
}

/// The format a media type names; `None` for anything that is neither JSON nor YAML.
fn format_of(media_type: Option<&str>) -> Option<FlowFormat> {
    match media_type? {
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            Some(FlowFormat::Yaml)
        }
        "application/json" => Some(FlowFormat::Json),
        m if m.starts_with("application/") && m.ends_with("+json") => Some(FlowFormat::Json),
        _ => None,
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
        if body.format == FlowFormat::Yaml {
            // YAML's "\0" escape only shows once parsed; a JSON body was checked as it came.
            let text = serde_json::to_value(flow)
                .map_err(|e| ApiError::fault("a flow could not be read as JSON", e))?;
            if let Err(ApiError::Validation(found)) = refuse_nul(&text, vec!["body".into()]) {
                errors.extend(found.into_iter().map(|e| at_index(e, index)));
            }
        }
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
    refuse_nul(&value, vec!["body".into()])?;
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
    fn json_and_yaml_media_types_are_read_and_others_are_not() {
        assert_eq!(format_of(Some("application/yaml")), Some(FlowFormat::Yaml));
        assert_eq!(format_of(Some("text/x-yaml")), Some(FlowFormat::Yaml));
        assert_eq!(format_of(Some("application/json")), Some(FlowFormat::Json));
        assert_eq!(format_of(Some("text/plain")), None);
        assert_eq!(format_of(None), None);
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
