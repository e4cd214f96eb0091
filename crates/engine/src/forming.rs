//! Showing a step while the model writes it: the provider's text goes through
//! [`llm::StepTextReader`], and what an engineer reads of it reaches a [`StepTextSink`].

use std::sync::Mutex;

use domain::llm::TextSink;
use llm::{FormingText, StepTextReader};

/// Receives the human text of a step as it forms (a preview; the step itself is validated
/// whole when the reply is complete).
pub trait StepTextSink: Send + Sync {
    /// Text to append to one field of the step.
    fn text(&self, piece: &FormingText);
    /// The reply so far was not a valid step and a repair was asked for: start again.
    fn restart(&self);
}

/// The provider-side sink: raw reply text in, forming step text out.
pub(crate) struct Forming<'a> {
    sink: &'a dyn StepTextSink,
    reader: Mutex<StepTextReader>,
}

impl<'a> Forming<'a> {
    pub(crate) fn new(sink: &'a dyn StepTextSink) -> Self {
        Self {
            sink,
            reader: Mutex::new(StepTextReader::new()),
        }
    }
}

impl TextSink for Forming<'_> {
    fn delta(&self, text: &str) {
        // A poisoned lock only means an earlier preview panicked; the reader is still usable.
        let pieces = self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(text);
        for piece in &pieces {
            self.sink.text(piece);
        }
    }

    fn restart(&self) {
        *self
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = StepTextReader::new();
        self.sink.restart();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm::StepField;

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl StepTextSink for Seen {
        fn text(&self, piece: &FormingText) {
            let line = format!("{}={}", piece.field.name(), piece.text);
            self.0.lock().unwrap().push(line);
        }
        fn restart(&self) {
            self.0.lock().unwrap().push("restart".into());
        }
    }

    #[test]
    fn raw_text_becomes_field_text_and_a_restart_starts_over() {
        let seen = Seen::default();
        let forming = Forming::new(&seen);
        forming.delta("{\"content\": \"Is it ");
        forming.delta("plugged in?\"");
        forming.restart();
        forming.delta("{\"content\": \"Again\"}");
        assert_eq!(
            *seen.0.lock().unwrap(),
            vec![
                "content=Is it ",
                "content=plugged in?",
                "restart",
                "content=Again"
            ]
        );
        assert_eq!(StepField::Content.name(), "content");
    }
}
