//! JSON and YAML documents holding flows, for import and export.
//!
//! Import accepts one flow or a list of flows; YAML may also hold several `---` documents.
//! Unknown fields are ignored, so an export of stored flows (with ids and statistics)
//! imports as it is.

use serde::{Deserialize, Serialize};

use super::model::FlowDefinition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowFormat {
    Json,
    Yaml,
}

impl FlowFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowFormat::Json => "json",
            FlowFormat::Yaml => "yaml",
        }
    }
}

impl std::fmt::Display for FlowFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowParseError {
    /// The text is not well-formed JSON or YAML.
    #[error("invalid {format}: {message}")]
    Syntax { format: FlowFormat, message: String },
    /// A document or list item is not a flow; `index` counts flows from 0 across documents.
    #[error("flow {index}: {message}")]
    Flow { index: usize, message: String },
    /// A document is neither a flow object nor a list of them.
    #[error("document {document} is not a flow object or a list of flows")]
    NotAFlow { document: usize },
}

#[derive(Debug, thiserror::Error)]
#[error("could not serialize flows: {0}")]
pub struct FlowExportError(String);

/// Reads every flow in `text`. Empty YAML documents are skipped; structure only is checked
/// here, the graph rules are [`FlowDefinition::validate`]'s.
pub fn parse_flow_documents(
    text: &str,
    format: FlowFormat,
) -> Result<Vec<FlowDefinition>, FlowParseError> {
    let mut flows = Vec::new();
    match format {
        FlowFormat::Json => {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| syntax(format, e))?;
            collect(value, 0, &mut flows)?;
        }
        FlowFormat::Yaml => {
            for (document, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
                let value = serde_yaml::Value::deserialize(de).map_err(|e| syntax(format, e))?;
                if !value.is_null() {
                    collect(value, document, &mut flows)?;
                }
            }
        }
    }
    Ok(flows)
}

/// A value that is either a single flow object or a list of flows.
trait Document: Sized {
    fn into_items(self) -> Option<Vec<Self>>;
    fn is_object(&self) -> bool;
    fn into_flow(self) -> Result<FlowDefinition, String>;
}

impl Document for serde_json::Value {
    fn into_items(self) -> Option<Vec<Self>> {
        match self {
            serde_json::Value::Array(items) => Some(items),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        self.is_object()
    }
    fn into_flow(self) -> Result<FlowDefinition, String> {
        serde_json::from_value(self).map_err(|e| e.to_string())
    }
}

impl Document for serde_yaml::Value {
    fn into_items(self) -> Option<Vec<Self>> {
        match self {
            serde_yaml::Value::Sequence(items) => Some(items),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        self.is_mapping()
    }
    fn into_flow(self) -> Result<FlowDefinition, String> {
        serde_yaml::from_value(self).map_err(|e| e.to_string())
    }
}

fn collect<D: Document>(
    value: D,
    document: usize,
    flows: &mut Vec<FlowDefinition>,
) -> Result<(), FlowParseError> {
    let items = if value.is_object() {
        vec![value]
    } else {
        value
            .into_items()
            .ok_or(FlowParseError::NotAFlow { document })?
    };
    for item in items {
        let index = flows.len();
        let flow = item
            .into_flow()
            .map_err(|message| FlowParseError::Flow { index, message })?;
        flows.push(flow);
    }
    Ok(())
}

fn syntax(format: FlowFormat, err: impl std::fmt::Display) -> FlowParseError {
    FlowParseError::Syntax {
        format,
        message: err.to_string(),
    }
}

/// A pretty-printed JSON array of `flows` (definitions or stored flows).
pub fn to_json<T: Serialize>(flows: &[T]) -> Result<String, FlowExportError> {
    serde_json::to_string_pretty(flows).map_err(|e| FlowExportError(e.to_string()))
}

/// A single YAML document holding the list of `flows`; [`parse_flow_documents`] reads it back.
pub fn to_yaml<T: Serialize>(flows: &[T]) -> Result<String, FlowExportError> {
    serde_yaml::to_string(flows).map_err(|e| FlowExportError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowNode, FlowStatus};

    const YAML_FLOW: &str = r#"
title: Printer offline
domain: printing
tags: [printer, spooler]
start: q1
extra_field: ignored
nodes:
  q1:
    type: question
    text: Is it one printer or all of them?
    options:
      - {label: One, value: one, next: s1}
      - {label: All, value: all, next: e1}
  s1: {type: solution, text: Restart the spooler, follow_up: [Check the queue]}
  e1: {type: escalate, text: Call the print server admin}
"#;

    #[test]
    fn reads_a_single_yaml_flow_ignoring_unknown_fields() {
        let flows = parse_flow_documents(YAML_FLOW, FlowFormat::Yaml).unwrap();
        assert_eq!(flows.len(), 1);
        let flow = &flows[0];
        assert_eq!(flow.title, "Printer offline");
        assert_eq!(flow.status, FlowStatus::Published);
        assert!(
            matches!(flow.nodes["q1"], FlowNode::Question { ref options, .. } if options.len() == 2)
        );
        assert!(flow.validate().is_ok());
    }

    #[test]
    fn reads_several_yaml_documents_and_lists() {
        let text = format!(
            "{YAML_FLOW}\n---\n- {}\n- {}\n---\n",
            indent(YAML_FLOW),
            indent(YAML_FLOW)
        );
        let flows = parse_flow_documents(&text, FlowFormat::Yaml).unwrap();
        assert_eq!(flows.len(), 3);
    }

    fn indent(doc: &str) -> String {
        doc.trim().lines().collect::<Vec<_>>().join("\n  ")
    }

    #[test]
    fn reads_a_json_object_or_array() {
        let one = to_json(&parse_flow_documents(YAML_FLOW, FlowFormat::Yaml).unwrap()).unwrap();
        let flows = parse_flow_documents(&one, FlowFormat::Json).unwrap();
        assert_eq!(flows.len(), 1);
        let object = serde_json::to_string(&flows[0]).unwrap();
        assert_eq!(
            parse_flow_documents(&object, FlowFormat::Json).unwrap(),
            flows
        );
    }

    #[test]
    fn yaml_export_reads_back_the_same_flows() {
        let flows = parse_flow_documents(YAML_FLOW, FlowFormat::Yaml).unwrap();
        let two = [flows[0].clone(), flows[0].clone()];
        let yaml = to_yaml(&two).unwrap();
        assert_eq!(parse_flow_documents(&yaml, FlowFormat::Yaml).unwrap(), two);
    }

    #[test]
    fn reports_which_flow_is_malformed() {
        let text = r#"[{"title": "ok", "domain": "x", "start": "s", "nodes": {"s": {"type": "solution", "text": "t"}}},
                       {"title": "no start", "domain": "x", "nodes": {}}]"#;
        let err = parse_flow_documents(text, FlowFormat::Json).unwrap_err();
        assert!(
            matches!(err, FlowParseError::Flow { index: 1, ref message } if message.contains("start")),
            "{err}"
        );
    }

    #[test]
    fn rejects_documents_that_are_not_flows() {
        assert_eq!(
            parse_flow_documents("42", FlowFormat::Json),
            Err(FlowParseError::NotAFlow { document: 0 })
        );
        assert!(matches!(
            parse_flow_documents("{not json", FlowFormat::Json),
            Err(FlowParseError::Syntax {
                format: FlowFormat::Json,
                ..
            })
        ));
        assert!(matches!(
            parse_flow_documents("a: [unclosed", FlowFormat::Yaml),
            Err(FlowParseError::Syntax {
                format: FlowFormat::Yaml,
                ..
            })
        ));
    }

    #[test]
    fn an_unknown_node_type_is_a_parse_error() {
        let text = YAML_FLOW.replace("type: escalate", "type: teleport");
        assert!(matches!(
            parse_flow_documents(&text, FlowFormat::Yaml),
            Err(FlowParseError::Flow { index: 0, .. })
        ));
    }
}
