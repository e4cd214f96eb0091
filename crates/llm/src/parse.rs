//! Reading a model's reply: find the one JSON object in it, validate it against a contract, and
//! report every problem at once, because the list is sent back to the model in the repair
//! attempt and a model fixes what it is told about, not more.

use domain::step::{StepOutput, StepType};
use serde_json::{Map, Value};

use crate::contract::{
    DocumentationReply, EscalationReply, Hypothesis, Likelihood, MAX_CONTENT_CHARS, MAX_OPTIONS,
};
use crate::flow_choices::{FlowChoices, FLOW_NODE_FIELD};

/// A validated step and the flow question it says it asks, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowStep {
    pub output: StepOutput,
    pub flow_node: Option<String>,
}

const ACTION_TYPES: [&str; 4] = ["instruction", "script", "verification", "info_request"];

/// Past this many `{` the text is not "one object with a bit of prose" any more.
const MAX_OBJECT_STARTS: usize = 64;

/// Finds the JSON object in a reply: inside a markdown code fence when there is one, and
/// otherwise the first object in the text, ignoring prose before and after it.
pub fn extract_json(text: &str) -> Result<Map<String, Value>, String> {
    let mut first_error = None;
    let fenced = fenced_block(text);
    for candidate in fenced.iter().copied().chain(std::iter::once(text)) {
        match first_object(candidate) {
            Ok(obj) => return Ok(obj),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "the reply contains no JSON object".to_string()))
}

/// The body of the first ``` fence (with or without a language tag), or `None` when the text
/// has no fence. An unclosed fence runs to the end of the text, as truncated replies do.
fn fenced_block(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after_tick = &text[start + 3..];
    // The language tag, if any, runs to the end of the opening line.
    let body = match after_tick.find('\n') {
        Some(nl) => &after_tick[nl + 1..],
        None => after_tick.trim_start_matches(|c: char| c.is_ascii_alphanumeric()),
    };
    Some(match body.find("```") {
        Some(end) => &body[..end],
        None => body,
    })
}

fn first_object(text: &str) -> Result<Map<String, Value>, String> {
    let mut first_error = None;
    for (i, _) in text.match_indices('{').take(MAX_OBJECT_STARTS) {
        let mut stream = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(Value::Object(obj))) => return Ok(obj),
            Some(Ok(_)) | None => {}
            Some(Err(e)) => {
                first_error.get_or_insert_with(|| format!("the reply is not valid JSON: {e}"));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "the reply contains no JSON object".to_string()))
}

/// Parses and validates a `flowpilot_step` reply, then applies the rules a reply may not change
/// (`StepOutput::normalize`). `first_step` demands the problem summary and domain.
pub fn parse_step(text: &str, first_step: bool) -> Result<StepOutput, Vec<String>> {
    parse_step_within(text, first_step, &FlowChoices::none()).map(|step| step.output)
}

/// [`parse_step`] for a step within a matched flow: a step that names a flow question (or
/// that the flow leads to) must offer exactly that question's options, so an invented option
/// fails validation and goes to the repair attempt.
pub fn parse_step_within(
    text: &str,
    first_step: bool,
    choices: &FlowChoices,
) -> Result<FlowStep, Vec<String>> {
    let mut obj = extract_json(text).map_err(|e| vec![e])?;
    let mut f = Fields::new(&obj);
    let flow_node = check_flow_node(&mut f, choices);

    match f.string("type") {
        Some(t) if StepType::parse(&t.trim().to_ascii_lowercase()).is_some() => {}
        Some(t) => f.error(format!(
            "`type` is \"{t}\"; it must be one of \"question\", \"action\", \"resolution_suggestion\""
        )),
        None => f.missing("type", "a string"),
    }
    match f.string("content") {
        Some(c) if c.trim().is_empty() => f.error("`content` must not be empty".to_string()),
        Some(c) if c.chars().count() > MAX_CONTENT_CHARS => f.error(format!(
            "`content` is {} characters long; at most {MAX_CONTENT_CHARS} are allowed",
            c.chars().count()
        )),
        Some(_) => {}
        None => f.missing("content", "a non-empty string"),
    }
    for key in [
        "context_message",
        "reasoning",
        "expected_outcome",
        "resolution_summary",
    ] {
        f.optional_string(key);
    }
    for key in ["allow_free_text", "allow_skip"] {
        f.optional_bool(key);
    }
    f.string_list("follow_up_recommendations");
    check_options(&mut f);
    match f.get("action_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) if ACTION_TYPES.contains(&a.trim().to_ascii_lowercase().as_str()) => {}
        Some(other) => f.error(format!(
            "`action_type` is {}; it must be null or one of \"instruction\", \"script\", \"verification\", \"info_request\"",
            show(other)
        )),
    }
    match f.get("confidence") {
        Some(Value::Number(_)) => {}
        Some(other) => f.error(format!(
            "`confidence` is {}; it must be a number between 0 and 1",
            show(other)
        )),
        None => f.missing("confidence", "a number between 0 and 1"),
    }
    for key in ["problem_summary", "problem_domain"] {
        if first_step {
            match f.string(key) {
                Some(s) if !s.trim().is_empty() => {}
                _ => f.error(format!(
                    "`{key}` must be a non-empty string on the first step"
                )),
            }
        } else {
            f.optional_string(key);
        }
    }
    f.finish()?;

    // Validated; now make the object fit serde's view: nulls mean "absent" and enum values
    // are matched exactly.
    obj.remove(FLOW_NODE_FIELD);
    obj.retain(|_, v| !v.is_null());
    for key in ["type", "action_type"] {
        if let Some(Value::String(s)) = obj.get_mut(key) {
            *s = s.trim().to_ascii_lowercase();
        }
    }
    let mut step: StepOutput =
        serde_json::from_value(Value::Object(obj)).map_err(|e| vec![e.to_string()])?;
    step.normalize();
    Ok(FlowStep {
        output: step,
        flow_node,
    })
}

/// The flow question the step asks: the one it names, else the one the flow leads to (a
/// server that ignores the schema may leave the field out). Its options must be exactly that
/// question's values, each once; anything else is reported for the repair.
fn check_flow_node(f: &mut Fields<'_>, choices: &FlowChoices) -> Option<String> {
    if choices.is_empty() {
        return None;
    }
    let named = match f.get(FLOW_NODE_FIELD) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if choices.is_question(id.trim()) => Some(id.trim().to_string()),
        Some(other) => {
            let known: Vec<String> = choices
                .question_ids()
                .map(|id| format!("\"{id}\""))
                .collect();
            f.error(format!(
                "`{FLOW_NODE_FIELD}` is {}; it must be null or one of the flow's questions: {}",
                show(other),
                known.join(", ")
            ));
            return None;
        }
    };
    if let (Some(named), Some(due)) = (named.as_deref(), choices.due()) {
        if named != due {
            f.error(format!(
                "`{FLOW_NODE_FIELD}` is \"{named}\", but the engineer's answer leads to the flow's question \"{due}\"; ask that one"
            ));
            return None;
        }
    }
    let node = named.or_else(|| choices.due().map(str::to_string))?;
    let allowed = choices.values_of(&node).unwrap_or_default();
    let listed = allowed
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ");
    if choices.due() == Some(node.as_str()) {
        match f.string("type") {
            Some(t) if t.trim().eq_ignore_ascii_case("question") => {}
            _ => f.error(format!(
                "`type` must be \"question\": the step asks the flow's question \"{node}\""
            )),
        }
    }
    let given: Vec<Option<String>> = match f.get("options") {
        Some(Value::Array(options)) => options
            .iter()
            .map(|o| {
                o.get("value")
                    .and_then(Value::as_str)
                    .map(|v| v.trim().to_string())
            })
            .collect(),
        _ => Vec::new(),
    };
    if given.is_empty() {
        f.error(format!(
            "`options` is empty; the flow's question \"{node}\" has the options {listed}"
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, value) in given.iter().enumerate() {
        let Some(value) = value else { continue };
        if !allowed.contains(&value.as_str()) {
            f.error(format!(
                "`options[{i}].value` is \"{}\", which is not an option of the flow's question \"{node}\"; use only {listed}",
                crate::text::truncate(value, 60)
            ));
        } else if !seen.insert(value.clone()) {
            f.error(format!("`options[{i}].value` \"{value}\" is offered twice"));
        }
    }
    Some(node)
}

fn check_options(f: &mut Fields<'_>) {
    let options = match f.get("options") {
        None | Some(Value::Null) => return,
        Some(Value::Array(options)) => options,
        Some(other) => {
            return f.error(format!(
                "`options` is {}; it must be a list of {{label, value, followup_hint}}",
                show(other)
            ))
        }
    };
    if options.len() > MAX_OPTIONS {
        f.error(format!(
            "`options` has {} entries; at most {MAX_OPTIONS} are allowed",
            options.len()
        ));
    }
    for (i, option) in options.iter().enumerate() {
        let Some(option) = option.as_object() else {
            f.error(format!(
                "`options[{i}]` must be an object {{label, value, followup_hint}}"
            ));
            continue;
        };
        match option.get("label") {
            Some(Value::String(l)) if !l.trim().is_empty() => {}
            _ => f.error(format!("`options[{i}].label` must be a non-empty string")),
        }
        match option.get("value") {
            Some(Value::String(_)) => {}
            _ => f.error(format!("`options[{i}].value` must be a string")),
        }
        match option.get("followup_hint") {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(_) => f.error(format!(
                "`options[{i}].followup_hint` must be a string or null"
            )),
        }
    }
}

/// Parses and validates a `flowpilot_documentation` reply.
pub fn parse_documentation(text: &str) -> Result<DocumentationReply, Vec<String>> {
    let obj = extract_json(text).map_err(|e| vec![e])?;
    let mut f = Fields::new(&obj);
    let title = f.non_empty_string("title");
    let root_cause = f.non_empty_string("root_cause");
    let resolution_summary = f.non_empty_string("resolution_summary");
    let follow_up_recommendations = f.string_list("follow_up_recommendations");
    f.finish()?;
    Ok(DocumentationReply {
        title,
        root_cause,
        resolution_summary,
        follow_up_recommendations,
    })
}

/// Parses and validates a `flowpilot_escalation` reply.
pub fn parse_escalation(text: &str) -> Result<EscalationReply, Vec<String>> {
    let obj = extract_json(text).map_err(|e| vec![e])?;
    let mut f = Fields::new(&obj);
    let summary = f.non_empty_string("summary");
    let suggested_next_steps = f.string_list("suggested_next_steps");
    let mut hypotheses = Vec::new();
    match f.get("hypotheses") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let cause = item.get("cause").and_then(Value::as_str).map(str::trim);
                let likelihood = item
                    .get("likelihood")
                    .and_then(Value::as_str)
                    .and_then(Likelihood::parse);
                match cause {
                    Some(c) if !c.is_empty() => {}
                    _ => f.error(format!(
                        "`hypotheses[{i}].cause` must be a non-empty string"
                    )),
                }
                if likelihood.is_none() {
                    f.error(format!(
                        "`hypotheses[{i}].likelihood` must be one of \"high\", \"medium\", \"low\""
                    ));
                }
                if let (Some(cause), Some(likelihood)) = (cause, likelihood) {
                    hypotheses.push(Hypothesis {
                        cause: cause.to_string(),
                        likelihood,
                    });
                }
            }
        }
        Some(other) => f.error(format!(
            "`hypotheses` is {}; it must be a list of {{cause, likelihood}}",
            show(other)
        )),
    }
    f.finish()?;
    Ok(EscalationReply {
        summary,
        hypotheses,
        suggested_next_steps,
    })
}

/// A wrong value as quoted back to the model: enough to recognise it, short enough that a
/// runaway field does not blow up the repair prompt.
fn show(value: &Value) -> String {
    crate::text::truncate(&value.to_string(), 80)
}

/// Field checks over one JSON object that collect errors instead of stopping at the first.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: Vec<String>,
}

impl<'a> Fields<'a> {
    fn new(obj: &'a Map<String, Value>) -> Self {
        Self {
            obj,
            errors: Vec::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key)
    }

    fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    fn missing(&mut self, key: &str, what: &str) {
        let message = match self.obj.get(key) {
            None => format!("`{key}` is missing; it must be {what}"),
            Some(v) => format!("`{key}` is {}; it must be {what}", show(v)),
        };
        self.errors.push(message);
    }

    fn string(&self, key: &str) -> Option<String> {
        self.obj
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn non_empty_string(&mut self, key: &str) -> String {
        match self.string(key) {
            Some(s) if !s.trim().is_empty() => s.trim().to_string(),
            Some(_) => {
                self.error(format!("`{key}` must not be empty"));
                String::new()
            }
            None => {
                self.missing(key, "a non-empty string");
                String::new()
            }
        }
    }

    fn optional_string(&mut self, key: &str) {
        match self.obj.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(v) => self.error(format!(
                "`{key}` is {}; it must be a string or null",
                show(v)
            )),
        }
    }

    fn optional_bool(&mut self, key: &str) {
        match self.obj.get(key) {
            None | Some(Value::Null) | Some(Value::Bool(_)) => {}
            Some(v) => self.error(format!("`{key}` is {}; it must be true or false", show(v))),
        }
    }

    fn string_list(&mut self, key: &str) -> Vec<String> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => self.error(format!("`{key}[{i}]` must be a string")),
                    }
                }
                out
            }
            Some(v) => {
                self.error(format!(
                    "`{key}` is {}; it must be a list of strings",
                    show(v)
                ));
                Vec::new()
            }
        }
    }

    fn finish(self) -> Result<(), Vec<String>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::step::ActionType;
    use serde_json::json;

    fn full_step() -> Value {
        json!({
            "type": "question",
            "content": "Does the user see the error in Outlook or in OWA?",
            "context_message": "Narrows it to the client or the mailbox.",
            "reasoning": null,
            "options": [
                {"label": "Outlook", "value": "outlook", "followup_hint": null},
                {"label": "OWA", "value": "owa", "followup_hint": "then it is server side"}
            ],
            "allow_free_text": false,
            "allow_skip": true,
            "action_type": null,
            "expected_outcome": null,
            "resolution_summary": null,
            "follow_up_recommendations": [],
            "confidence": 0.35,
            "problem_summary": "Outlook prompts for a password repeatedly",
            "problem_domain": "email"
        })
    }

    #[test]
    fn accepts_a_reply_with_every_field_present() {
        let step = parse_step(&full_step().to_string(), true).unwrap();
        assert_eq!(step.step_type, StepType::Question);
        assert_eq!(step.options.len(), 2);
        assert_eq!(step.problem_domain.as_deref(), Some("email"));
        assert!(step.allow_skip);
    }

    #[test]
    fn accepts_a_minimal_reply_with_optional_fields_absent() {
        let text = r#"{"type":"action","content":"Run gpupdate /force","confidence":0.6,
                       "action_type":"script"}"#;
        let step = parse_step(text, false).unwrap();
        assert_eq!(step.action_type, Some(ActionType::Script));
        assert!(step.options.is_empty());
    }

    #[test]
    fn strips_a_json_code_fence() {
        let text = format!("```json\n{}\n```", full_step());
        assert!(parse_step(&text, true).is_ok());
    }

    #[test]
    fn strips_a_bare_code_fence_with_prose_around_it() {
        let text = format!("Here is the step:\n```\n{}\n```\nGood luck!", full_step());
        assert!(parse_step(&text, true).is_ok());
    }

    #[test]
    fn tolerates_prose_around_an_unfenced_object() {
        let text = format!("Sure! {} Let me know how it goes {{:", full_step());
        assert!(parse_step(&text, true).is_ok());
    }

    #[test]
    fn reports_invalid_json() {
        let errors = parse_step("{\"type\": \"question\", ", false).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("not valid JSON"), "{errors:?}");
        let errors = parse_step("I cannot help with that.", false).unwrap_err();
        assert!(errors[0].contains("no JSON object"), "{errors:?}");
    }

    #[test]
    fn reports_every_problem_at_once() {
        let mut v = full_step();
        v["type"] = json!("poll");
        v["content"] = json!("  ");
        v["confidence"] = json!("high");
        v["action_type"] = json!("reboot");
        v["problem_summary"] = json!(null);
        v["options"][1]["label"] = json!("");
        let errors = parse_step(&v.to_string(), true).unwrap_err();
        let all = errors.join("\n");
        for needle in [
            "`type`",
            "`content`",
            "`confidence`",
            "`action_type`",
            "`problem_summary`",
            "`options[1].label`",
        ] {
            assert!(all.contains(needle), "missing {needle} in {all}");
        }
        assert_eq!(errors.len(), 6);
    }

    #[test]
    fn rejects_more_than_six_options() {
        let mut v = full_step();
        v["options"] = json!((0..7)
            .map(|i| json!({"label": format!("L{i}"), "value": format!("v{i}"), "followup_hint": null}))
            .collect::<Vec<_>>());
        let errors = parse_step(&v.to_string(), false).unwrap_err();
        assert!(errors[0].contains("at most 6"), "{errors:?}");
    }

    #[test]
    fn rejects_overlong_content() {
        let mut v = full_step();
        v["content"] = json!("x".repeat(MAX_CONTENT_CHARS + 1));
        let errors = parse_step(&v.to_string(), false).unwrap_err();
        assert!(errors[0].contains("4001"), "{errors:?}");
    }

    #[test]
    fn first_step_needs_summary_and_domain_but_later_steps_do_not() {
        let mut v = full_step();
        v["problem_summary"] = json!(null);
        v["problem_domain"] = json!("");
        assert_eq!(parse_step(&v.to_string(), true).unwrap_err().len(), 2);
        assert!(parse_step(&v.to_string(), false).is_ok());
    }

    #[test]
    fn applies_the_rules_a_reply_may_not_change() {
        let mut v = full_step();
        v["confidence"] = json!(3.5);
        v["options"][1]["value"] = json!("outlook");
        let step = parse_step(&v.to_string(), false).unwrap();
        assert_eq!(step.confidence, 1.0);
        assert_eq!(step.options[1].value, "outlook_2");

        let mut v = full_step();
        v["options"] = json!([]);
        assert!(parse_step(&v.to_string(), false).unwrap().allow_free_text);
    }

    #[test]
    fn tolerates_capitalised_enums_and_null_lists() {
        let mut v = full_step();
        v["type"] = json!("Action");
        v["action_type"] = json!("Verification");
        v["options"] = json!(null);
        v["follow_up_recommendations"] = json!(null);
        let step = parse_step(&v.to_string(), false).unwrap();
        assert_eq!(step.step_type, StepType::Action);
        assert_eq!(step.action_type, Some(ActionType::Verification));
    }

    #[test]
    fn parses_documentation() {
        let text = r#"```json
        {"title":"Outlook password prompts","root_cause":"Stale credentials in Credential Manager",
         "resolution_summary":"Removed the cached entry","follow_up_recommendations":["Enable modern auth"]}
        ```"#;
        let doc = parse_documentation(text).unwrap();
        assert_eq!(doc.title, "Outlook password prompts");
        assert_eq!(doc.follow_up_recommendations, ["Enable modern auth"]);
    }

    #[test]
    fn documentation_reports_every_missing_field() {
        let errors =
            parse_documentation(r#"{"title":"","follow_up_recommendations":[1]}"#).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn parses_escalation() {
        let text = r#"{"summary":"Printer offline after update","hypotheses":[
            {"cause":"Driver replaced by Windows Update","likelihood":"High"},
            {"cause":"Spooler crash","likelihood":"low"}],
            "suggested_next_steps":["Roll back the driver"]}"#;
        let esc = parse_escalation(text).unwrap();
        assert_eq!(esc.hypotheses.len(), 2);
        assert_eq!(esc.hypotheses[0].likelihood, Likelihood::High);
    }

    #[test]
    fn escalation_reports_bad_hypotheses() {
        let text = r#"{"summary":"x","hypotheses":[{"cause":"","likelihood":"certain"}],
                       "suggested_next_steps":[]}"#;
        let errors = parse_escalation(text).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
