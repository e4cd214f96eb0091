//! Messages shown next to form fields, and the translation of the shared validation rules'
//! API-shaped errors into sentences for people.

use domain::{FieldError, ValidationErrors};

#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    /// The message for `field`, rendered with `id="<field>-error"` and referenced from the
    /// field's `aria-describedby`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one message per field named in `errors`, worded by `describe(field, kind)`;
    /// `fields` lists the form's fields (errors on other locations are not expected).
    pub fn absorb(
        &mut self,
        errors: ValidationErrors,
        fields: &[&'static str],
        describe: impl Fn(&str, &str) -> Option<String>,
    ) {
        for error in errors.0 {
            let named = error.loc.last().and_then(|v| v.as_str()).unwrap_or("");
            if let Some(field) = fields.iter().copied().find(|f| *f == named) {
                let message = describe(field, &error.kind).unwrap_or(error.msg);
                self.add(field, message);
            }
        }
    }
}

/// Wording shared by the forms for a text length rule.
pub fn length_message(kind: &str, empty: &str, max: usize) -> Option<String> {
    match kind {
        "string_too_short" => Some(empty.to_string()),
        "string_too_long" => Some(format!("Use at most {max} characters.")),
        _ => None,
    }
}

/// The API's validation messages as one sentence run, for a message that is not tied to one
/// field of the form.
pub fn sentences(errors: Vec<FieldError>) -> String {
    errors
        .into_iter()
        .map(|e| e.msg)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A textarea's value as the API counts and stores it: browsers send line breaks as CRLF,
/// which `maxlength` in the page counted as one character.
pub fn text_field(value: &str) -> String {
    value.replace("\r\n", "\n")
}
