//! Field-level validation errors in the shape FastAPI clients expect
//! (`{"loc": [...], "msg": "...", "type": "..."}`).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// An error on a field of the request body: `loc` becomes `["body", ...path]`.
    pub fn body(path: &[&str], msg: impl Into<String>, kind: impl Into<String>) -> Self {
        let mut loc = vec![serde_json::Value::from("body")];
        loc.extend(path.iter().map(|p| serde_json::Value::from(*p)));
        Self {
            loc,
            msg: msg.into(),
            kind: kind.into(),
        }
    }

    pub fn query(name: &str, msg: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            loc: vec!["query".into(), name.into()],
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// A list of field errors; empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("validation failed: {0:?}")]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(err: FieldError) -> Self {
        Self(vec![err])
    }

    pub fn push(&mut self, err: FieldError) {
        self.0.push(err);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was pushed, the errors otherwise.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Checks the char length of a string field against inclusive bounds.
    pub fn check_len(&mut self, path: &[&str], value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min {
            self.push(FieldError::body(
                path,
                format!("String should have at least {min} character{}", plural(min)),
                "string_too_short",
            ));
        } else if n > max {
            self.push(FieldError::body(
                path,
                format!("String should have at most {max} character{}", plural(max)),
                "string_too_long",
            ));
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
