//! Request extractors whose failures answer in the API's error shape: 400 for malformed JSON
//! or a malformed path, 413 for bodies over the limit, 415 for a body that is not JSON, 422
//! with FastAPI-style `loc/msg/type` items otherwise (a NUL character in any text included).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use domain::validation::FieldError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON body deserialised into `T`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let says_json = is_json(req.headers());
        let bytes = read_body(req, state).await?;
        // No body at all is a missing body (422), whatever the headers say.
        if !says_json && !bytes.is_empty() {
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as JSON, with Content-Type: application/json".into(),
            ));
        }
        parse_json_body(&bytes).map(ApiJson)
    }
}

/// The body, up to the configured limit.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(1024 * 1024, |l| l.0);
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::BadRequest(format!("Could not read the request body: {rejection}"))
        }
    })
}

/// The media type a request's `Content-Type` names, lower case and without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

/// `application/json`, or a JSON-based type such as `application/problem+json`.
fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    })
}

/// A path parameter (an id) deserialised into `T`; a malformed one is a 400 in the error shape.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::BadRequest(path_message(&rejection.body_text())))
    }
}

/// axum's "Invalid URL: Cannot parse `id` with value `x` to a `u128`" says what failed in
/// its own terms; an id is what the client sent.
fn path_message(axum_text: &str) -> String {
    let value = axum_text
        .split("with value `")
        .nth(1)
        .and_then(|rest| rest.split('`').next());
    match value {
        Some(value) => format!("'{value}' is not a valid id: ids are UUIDs"),
        None => format!("The path is not valid: {axum_text}"),
    }
}

/// The configured body limit, put in request extensions so errors can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

pub fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![FieldError {
            loc: vec!["body".into()],
            msg: "Field required".into(),
            kind: "missing".into(),
        }]));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))?;
    refuse_nul(&value, vec!["body".into()])?;
    deserialize_value(value, "body")
}

/// PostgreSQL cannot store a NUL character (U+0000) in text and SQLite can, so the same input
/// would be kept on one backend and fail on the other: it is refused on both, wherever it
/// comes in, with every place it occurs located.
pub fn refuse_nul(value: &Value, at: Vec<Value>) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    find_nul(value, at, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn find_nul(value: &Value, at: Vec<Value>, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) if text.contains('\0') => errors.push(FieldError {
            loc: at,
            msg: "Text must not contain NUL characters (\\u0000)".into(),
            kind: "string_nul".into(),
        }),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let mut loc = at.clone();
                loc.push(index.into());
                find_nul(item, loc, errors);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let mut loc = at.clone();
                loc.push(key.clone().into());
                find_nul(item, loc, errors);
            }
        }
        _ => {}
    }
}

/// Deserialises a JSON value, turning the first error into a located 422 item.
pub fn deserialize_value<T: DeserializeOwned>(
    value: serde_json::Value,
    root: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let mut loc: Vec<serde_json::Value> = vec![root.into()];
        for segment in err.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => loc.push((*index).into()),
                serde_path_to_error::Segment::Map { key } => loc.push(key.clone().into()),
                serde_path_to_error::Segment::Enum { variant } => loc.push(variant.clone().into()),
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = err.inner().to_string();
        let (msg, kind) = classify_serde_error(&message, &mut loc);
        ApiError::Validation(vec![FieldError { loc, msg, kind }])
    })
}

fn classify_serde_error(message: &str, loc: &mut Vec<serde_json::Value>) -> (String, String) {
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(field) = rest.split('`').next() {
            loc.push(field.into());
        }
        return ("Field required".into(), "missing".into());
    }
    let kind = if message.starts_with("invalid type") {
        "type_error"
    } else if message.starts_with("unknown variant") {
        "enum"
    } else {
        "value_error"
    };
    // serde appends " at line 1 column 5"; the location is already in `loc`.
    let msg = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string();
    (msg, kind.into())
}

/// Query parameters deserialised into `T`, with 422 items located under `query`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> =
            serde_urlencoded_pairs(query).map_err(ApiError::BadRequest)?;
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            map.insert(k, serde_json::Value::String(v));
        }
        let value = serde_json::Value::Object(map);
        refuse_nul(&value, vec!["query".into()])?;
        deserialize_value(value, "query").map(ApiQuery)
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|_| "bad escape")?;
                out.push(
                    u8::from_str_radix(hex, 16)
                        .map_err(|_| format!("Invalid query escape %{hex}"))?,
                );
                i += 2;
            }
            b'%' => return Err("Invalid query escape".into()),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "Query string is not UTF-8".into())
}

/// Query values arrive as strings; these accept numbers and booleans written in a query.
pub mod query_value {
    use serde::{Deserialize, Deserializer};

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        match raw.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom("Input should be a valid integer")),
        }
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        match raw.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => match s.as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(serde::de::Error::custom("Input should be a valid boolean")),
            },
        }
    }
}

/// Distinguishes "absent" from "null" for PATCH fields: `Option<Option<T>>`.
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: i64,
    }

    fn field_errors(err: ApiError) -> Vec<FieldError> {
        match err {
            ApiError::Validation(items) => items,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse_json_body::<Body>(b"{\"email\":"),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn missing_fields_are_located_like_fastapi() {
        let errs = field_errors(parse_json_body::<Body>(b"{\"age\": 3}").unwrap_err());
        assert_eq!(
            errs[0].loc,
            vec![serde_json::json!("body"), serde_json::json!("email")]
        );
        assert_eq!(errs[0].kind, "missing");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let errs =
            field_errors(parse_json_body::<Body>(b"{\"email\": 1, \"age\": 3}").unwrap_err());
        assert_eq!(
            errs[0].loc,
            vec![serde_json::json!("body"), serde_json::json!("email")]
        );
        assert_eq!(errs[0].kind, "type_error");
    }

    #[test]
    fn a_nul_anywhere_in_the_body_is_refused_where_it_is() {
        let errs = field_errors(
            parse_json_body::<serde_json::Value>(
                br#"{"email": "a@b.co", "tags": ["ok", "b\u0000d"], "n": {"x": "\u0000"}}"#,
            )
            .unwrap_err(),
        );
        let mut locs: Vec<String> = errs
            .iter()
            .map(|e| serde_json::json!(e.loc).to_string())
            .collect();
        locs.sort();
        assert_eq!(locs, [r#"["body","n","x"]"#, r#"["body","tags",1]"#]);
        assert!(errs.iter().all(|e| e.kind == "string_nul"));
        assert!(parse_json_body::<serde_json::Value>(br#"{"text": "a\\u0000b"}"#).is_ok());
    }

    #[test]
    fn a_malformed_id_is_named_in_the_message() {
        assert_eq!(
            path_message("Invalid URL: Cannot parse `id` with value `abc` to a `u128`"),
            "'abc' is not a valid id: ids are UUIDs"
        );
    }

    #[test]
    fn query_strings_are_percent_decoded() {
        assert_eq!(
            serde_urlencoded_pairs("q=a%20b+c&x=").unwrap(),
            vec![("q".into(), "a b c".into()), ("x".into(), String::new())]
        );
        assert!(serde_urlencoded_pairs("q=%zz").is_err());
        assert!(serde_urlencoded_pairs("q=%2").is_err());
    }
}
