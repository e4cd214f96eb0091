//! Request extractors whose failures answer in the API's error shape: 400 for malformed JSON,
//! 413 for bodies over the limit, 422 with FastAPI-style `loc/msg/type` items otherwise.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use domain::validation::FieldError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body deserialised into `T`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
        parse_json_body(&bytes).map(ApiJson)
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
    deserialize_value(value, "body")
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
        deserialize_value(serde_json::Value::Object(map), "query").map(ApiQuery)
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
    fn query_strings_are_percent_decoded() {
        assert_eq!(
            serde_urlencoded_pairs("q=a%20b+c&x=").unwrap(),
            vec![("q".into(), "a b c".into()), ("x".into(), String::new())]
        );
        assert!(serde_urlencoded_pairs("q=%zz").is_err());
        assert!(serde_urlencoded_pairs("q=%2").is_err());
    }
}
