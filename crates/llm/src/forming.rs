//! The human text of a step while its JSON is still being generated: an incremental reader
//! of the reply that hands out, piece by piece, the decoded text of the string fields an
//! engineer reads (the question or instruction, why it is asked, the options' labels, the
//! expected outcome, a suggested fix and its follow-ups), so a page can show the step
//! forming. It only previews: the whole reply is parsed and validated as before, and a reply
//! that turns out invalid is simply never stored.
//!
//! It never fails. Text before the first `{` (a fence, a sentence) is skipped, anything after
//! the object closes is ignored, and a reply that is not JSON at all shows nothing.

/// A field of the step an engineer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepField {
    /// The question, the instruction or the proposed fix.
    Content,
    /// Why this step.
    ContextMessage,
    /// The label of the n-th option (0-based).
    OptionLabel(usize),
    ExpectedOutcome,
    ResolutionSummary,
    /// The n-th follow-up recommendation (0-based).
    FollowUp(usize),
}

impl StepField {
    /// A stable name, for a page to place the text: `content`, `options.0.label`, ….
    pub fn name(&self) -> String {
        match self {
            StepField::Content => "content".into(),
            StepField::ContextMessage => "context_message".into(),
            StepField::OptionLabel(i) => format!("options.{i}.label"),
            StepField::ExpectedOutcome => "expected_outcome".into(),
            StepField::ResolutionSummary => "resolution_summary".into(),
            StepField::FollowUp(i) => format!("follow_up_recommendations.{i}"),
        }
    }
}

/// Text to append to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormingText {
    pub field: StepField,
    pub text: String,
}

#[derive(Debug)]
enum Frame {
    Object { key: Option<String>, stage: Stage },
    Array { index: usize, stage: Stage },
}

/// Where a container is: for an object, `Key` expects a key (or `}`), `Colon` the colon,
/// `Value` the value; `Next` expects a comma or the end (arrays use `Value` and `Next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Key,
    Colon,
    Value,
    Next,
}

#[derive(Debug)]
enum Escape {
    None,
    Backslash,
    /// Inside `\uXXXX`: the digits so far.
    Unicode {
        value: u32,
        digits: u8,
    },
}

#[derive(Debug)]
enum Scan {
    /// Before the object starts.
    Seek,
    /// Between tokens.
    Structure,
    /// Inside a key: its text so far.
    Key { text: String, escape: Escape },
    /// Inside a string value; `field` when it is one an engineer reads.
    Value {
        field: Option<StepField>,
        escape: Escape,
    },
    /// Inside a number, `true`, `false` or `null`.
    Literal,
    /// The object has closed.
    Done,
}

/// Reads a reply's text as it arrives; see the module documentation.
#[derive(Debug)]
pub struct StepTextReader {
    scan: Scan,
    frames: Vec<Frame>,
    /// A `\uD800`–`\uDBFF` escape waiting for the low half of its surrogate pair.
    high_surrogate: Option<u32>,
}

impl Default for StepTextReader {
    fn default() -> Self {
        Self::new()
    }
}

impl StepTextReader {
    pub fn new() -> Self {
        Self {
            scan: Scan::Seek,
            frames: Vec::new(),
            high_surrogate: None,
        }
    }

    /// Reads the next piece of the reply; answers the text it added to each field, in order
    /// (consecutive text of one field in one piece).
    pub fn push(&mut self, chunk: &str) -> Vec<FormingText> {
        let mut out: Vec<FormingText> = Vec::new();
        for c in chunk.chars() {
            self.step(c, &mut out);
        }
        out
    }

    fn step(&mut self, c: char, out: &mut Vec<FormingText>) {
        match &mut self.scan {
            Scan::Done => {}
            Scan::Seek => {
                if c == '{' {
                    self.frames.push(Frame::Object {
                        key: None,
                        stage: Stage::Key,
                    });
                    self.scan = Scan::Structure;
                }
            }
            Scan::Key { text, escape } => {
                if let Some(decoded) = string_char(c, escape, &mut self.high_surrogate) {
                    match decoded {
                        Decoded::Char(ch) => text.push(ch),
                        Decoded::End => {
                            let key = std::mem::take(text);
                            if let Some(Frame::Object { key: k, stage }) = self.frames.last_mut() {
                                *k = Some(key);
                                *stage = Stage::Colon;
                            }
                            self.scan = Scan::Structure;
                        }
                    }
                }
            }
            Scan::Value { field, escape } => {
                let field = *field;
                if let Some(decoded) = string_char(c, escape, &mut self.high_surrogate) {
                    match decoded {
                        Decoded::Char(ch) => {
                            if let Some(field) = field {
                                append(out, field, ch);
                            }
                        }
                        Decoded::End => {
                            self.scan = Scan::Structure;
                            self.value_done();
                        }
                    }
                }
            }
            Scan::Literal => {
                if matches!(c, ',' | '}' | ']') || c.is_whitespace() {
                    self.scan = Scan::Structure;
                    self.value_done();
                    self.structure(c);
                }
            }
            Scan::Structure => self.structure(c),
        }
    }

    /// A token character between values.
    fn structure(&mut self, c: char) {
        if c.is_whitespace() {
            return;
        }
        let expecting_value = match self.frames.last() {
            Some(Frame::Object { stage, .. }) => *stage == Stage::Value,
            Some(Frame::Array { stage, .. }) => *stage == Stage::Value,
            None => false,
        };
        match c {
            '"' if expecting_value => {
                self.scan = Scan::Value {
                    field: self.field_here(),
                    escape: Escape::None,
                };
            }
            '"' => {
                self.scan = Scan::Key {
                    text: String::new(),
                    escape: Escape::None,
                };
            }
            '{' if expecting_value => self.frames.push(Frame::Object {
                key: None,
                stage: Stage::Key,
            }),
            '[' if expecting_value => self.frames.push(Frame::Array {
                index: 0,
                stage: Stage::Value,
            }),
            '}' | ']' => {
                self.frames.pop();
                if self.frames.is_empty() {
                    self.scan = Scan::Done;
                } else {
                    self.value_done();
                }
            }
            ':' => {
                if let Some(Frame::Object { stage, .. }) = self.frames.last_mut() {
                    *stage = Stage::Value;
                }
            }
            ',' => match self.frames.last_mut() {
                Some(Frame::Object { key, stage }) => {
                    *key = None;
                    *stage = Stage::Key;
                }
                Some(Frame::Array { index, stage }) => {
                    *index += 1;
                    *stage = Stage::Value;
                }
                None => {}
            },
            _ if expecting_value => self.scan = Scan::Literal,
            _ => {} // not JSON; the parser will say so at the end
        }
    }

    /// The value at the top of the stack is complete.
    fn value_done(&mut self) {
        match self.frames.last_mut() {
            Some(Frame::Object { stage, .. }) | Some(Frame::Array { stage, .. }) => {
                *stage = Stage::Next
            }
            None => {}
        }
    }

    /// The field a string value starting now belongs to, when an engineer reads it.
    fn field_here(&self) -> Option<StepField> {
        fn key(frame: &Frame) -> Option<&str> {
            match frame {
                Frame::Object { key, .. } => key.as_deref(),
                Frame::Array { .. } => None,
            }
        }
        fn index(frame: &Frame) -> Option<usize> {
            match frame {
                Frame::Array { index, .. } => Some(*index),
                Frame::Object { .. } => None,
            }
        }
        match self.frames.as_slice() {
            [root] => match key(root)? {
                "content" => Some(StepField::Content),
                "context_message" => Some(StepField::ContextMessage),
                "expected_outcome" => Some(StepField::ExpectedOutcome),
                "resolution_summary" => Some(StepField::ResolutionSummary),
                _ => None,
            },
            [root, list] if key(root) == Some("follow_up_recommendations") => {
                index(list).map(StepField::FollowUp)
            }
            [root, list, option]
                if key(root) == Some("options") && key(option) == Some("label") =>
            {
                index(list).map(StepField::OptionLabel)
            }
            _ => None,
        }
    }
}

enum Decoded {
    Char(char),
    End,
}

/// One character inside a string: the character it stands for, the string's end, or nothing
/// yet (inside an escape).
fn string_char(c: char, escape: &mut Escape, high: &mut Option<u32>) -> Option<Decoded> {
    match escape {
        Escape::None => match c {
            '"' => {
                *high = None;
                Some(Decoded::End)
            }
            '\\' => {
                *escape = Escape::Backslash;
                None
            }
            _ => Some(with_pending(high, c)),
        },
        Escape::Backslash => {
            *escape = Escape::None;
            let ch = match c {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'u' => {
                    *escape = Escape::Unicode {
                        value: 0,
                        digits: 0,
                    };
                    return None;
                }
                other => other, // \" \\ \/ and, leniently, anything else as itself
            };
            Some(with_pending(high, ch))
        }
        Escape::Unicode { value, digits } => {
            let Some(digit) = c.to_digit(16) else {
                // A broken escape: show a replacement and go on with the string.
                *escape = Escape::None;
                return Some(Decoded::Char(char::REPLACEMENT_CHARACTER));
            };
            *value = *value * 16 + digit;
            *digits += 1;
            if *digits < 4 {
                return None;
            }
            let code = *value;
            *escape = Escape::None;
            match code {
                0xD800..=0xDBFF => {
                    let earlier = high.replace(code);
                    earlier.map(|_| Decoded::Char(char::REPLACEMENT_CHARACTER))
                }
                0xDC00..=0xDFFF => match high.take() {
                    Some(h) => {
                        let combined = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                        Some(Decoded::Char(
                            char::from_u32(combined).unwrap_or(char::REPLACEMENT_CHARACTER),
                        ))
                    }
                    None => Some(Decoded::Char(char::REPLACEMENT_CHARACTER)),
                },
                _ => Some(with_pending(
                    high,
                    char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                )),
            }
        }
    }
}

/// A character after a high surrogate that found no low half: the lone half is shown as a
/// replacement. Only the character itself is returned; a lost half is rare enough that one
/// replacement character standing for both is fine.
fn with_pending(high: &mut Option<u32>, c: char) -> Decoded {
    if high.take().is_some() {
        return Decoded::Char(char::REPLACEMENT_CHARACTER);
    }
    Decoded::Char(c)
}

fn append(out: &mut Vec<FormingText>, field: StepField, c: char) {
    match out.last_mut() {
        Some(last) if last.field == field => last.text.push(c),
        _ => out.push(FormingText {
            field,
            text: c.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every field's whole text after reading `chunks`.
    fn read(chunks: &[&str]) -> BTreeMap<String, String> {
        let mut reader = StepTextReader::new();
        let mut fields = BTreeMap::new();
        for chunk in chunks {
            for piece in reader.push(chunk) {
                fields
                    .entry(piece.field.name())
                    .or_insert_with(String::new)
                    .push_str(&piece.text);
            }
        }
        fields
    }

    fn step_json() -> String {
        serde_json::json!({
            "type": "question",
            "content": "Does \"Outlook\" ask on\nOWA too? caf\u{e9} \u{1f600}",
            "context_message": "Separates client from account \\ path C:\\Users",
            "reasoning": "internal, never shown",
            "options": [
                {"label": "Desktop only", "value": "desktop", "followup_hint": null},
                {"label": "Both \u{2014} everywhere", "value": "both", "followup_hint": "label"}
            ],
            "allow_free_text": true,
            "allow_skip": false,
            "action_type": null,
            "expected_outcome": null,
            "resolution_summary": null,
            "follow_up_recommendations": ["Check MFA", "Re-create profile"],
            "confidence": 0.35,
            "problem_summary": "Outlook prompts",
            "problem_domain": "email"
        })
        .to_string()
    }

    fn expected() -> BTreeMap<String, String> {
        [
            (
                "content",
                "Does \"Outlook\" ask on\nOWA too? caf\u{e9} \u{1f600}",
            ),
            (
                "context_message",
                "Separates client from account \\ path C:\\Users",
            ),
            ("options.0.label", "Desktop only"),
            ("options.1.label", "Both \u{2014} everywhere"),
            ("follow_up_recommendations.0", "Check MFA"),
            ("follow_up_recommendations.1", "Re-create profile"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn reads_the_visible_fields_of_a_whole_step() {
        assert_eq!(read(&[&step_json()]), expected());
    }

    #[test]
    fn any_chunk_boundary_gives_the_same_text() {
        let json = step_json();
        let cuts: Vec<usize> = json.char_indices().map(|(i, _)| i).skip(1).collect();
        for cut in cuts {
            let (a, b) = json.split_at(cut);
            assert_eq!(read(&[a, b]), expected(), "cut at {cut}: {a:?}");
        }
        let singles: Vec<String> = json.chars().map(String::from).collect();
        let singles: Vec<&str> = singles.iter().map(String::as_str).collect();
        assert_eq!(read(&singles), expected());
    }

    #[test]
    fn unicode_escapes_split_mid_escape_and_mid_surrogate_pair() {
        // What a server that escapes non-ASCII sends: \u00e9 and the pair \ud83d\ude00.
        let json = r#"{"content": "caf\u00e9 \ud83d\ude00 \"q\" \\n", "options": []}"#;
        let whole = read(&[json]);
        assert_eq!(whole["content"], "caf\u{e9} \u{1f600} \"q\" \\n");
        for cut in 1..json.len() {
            let (a, b) = json.split_at(cut);
            assert_eq!(read(&[a, b]), whole, "cut at {cut}: {a:?}");
        }
    }

    #[test]
    fn text_arrives_as_it_forms() {
        let mut reader = StepTextReader::new();
        assert!(reader
            .push("```json\n{\"type\": \"question\", \"cont")
            .is_empty());
        let pieces = reader.push("ent\": \"Is the link li");
        assert_eq!(
            pieces,
            vec![FormingText {
                field: StepField::Content,
                text: "Is the link li".into()
            }]
        );
        let pieces = reader.push("ght on?\", \"context_message\": \"Cab");
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].text, "ght on?");
        assert_eq!(pieces[1].field, StepField::ContextMessage);
    }

    #[test]
    fn nested_values_and_text_after_the_object_are_not_shown() {
        let json = r#"{"reasoning": {"content": "no"}, "options": [{"label": "A", "x": [{"label": "no"}]}, {"value": "b", "label": "B"}], "content": "yes"} {"content": "after"}"#;
        let fields = read(&[json]);
        assert_eq!(fields["content"], "yes");
        assert_eq!(fields["options.0.label"], "A");
        assert_eq!(fields["options.1.label"], "B");
        assert_eq!(fields.len(), 3);
    }

    #[test]
    fn prose_and_broken_escapes_never_fail() {
        assert!(read(&["Sure! First check OWA."]).is_empty());
        let fields = read(&[r#"{"content": "bad \uZZ12 ok \ud83d only"}"#]);
        assert_eq!(fields["content"], "bad \u{fffd}Z12 ok \u{fffd}only");
    }
}
