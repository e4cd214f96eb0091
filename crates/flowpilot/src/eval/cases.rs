//! The case files of an evaluation suite (eval.md "Case file"): a YAML (or JSON) list of
//! tickets, each with what the engineer knows and what should happen.
//!
//! Cases are read field by field from a parsed document rather than through derived
//! deserialisation, so a refusal names the file, the case and the field, the way eval.md asks,
//! and unknown keys are ignored without a second schema to keep in step.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One ticket of the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: String,
    pub intake: String,
    /// A pasted log, as for a `log_paste` or `combined` intake.
    pub log: Option<String>,
    /// What the engineer knows, revealed only when asked.
    pub facts: Vec<String>,
    pub expect: Expect,
}

/// What a right run of the case looks like. The simulated engineer never sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub outcome: ExpectedOutcome,
    pub domain: Option<String>,
    /// A case-insensitive part of the title of the flow that should match.
    pub flow: Option<String>,
    pub resolution_keywords: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedOutcome {
    Resolve,
    /// Nothing should be fixed here: the session should end handed over.
    Escalate,
}

impl ExpectedOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedOutcome::Resolve => "resolve",
            ExpectedOutcome::Escalate => "escalate",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not valid {format}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("{}: the file must hold a list of cases", path.display())]
    NotAList { path: PathBuf },
    #[error("{}: case {case}: {field}: {problem}", path.display())]
    Field {
        path: PathBuf,
        /// The case's position (from 1) and its id when it has one.
        case: String,
        field: &'static str,
        problem: String,
    },
    #[error("{}: case id {id:?} is used twice in the suite", path.display())]
    DuplicateId { path: PathBuf, id: String },
    #[error("{}: holds no case files (.yaml, .yml or .json)", path.display())]
    EmptyDirectory { path: PathBuf },
    #[error("the suite holds no cases")]
    NoCases,
}

/// Every case of the given files and directories (a directory: its `.yaml`, `.yml` and
/// `.json` files in name order), in order. Ids must be unique across the whole suite.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Case>, CaseError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = case_files(path)?;
            if found.is_empty() {
                return Err(CaseError::EmptyDirectory { path: path.clone() });
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut cases = Vec::new();
    let mut seen = HashSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|source| CaseError::Read {
            path: file.clone(),
            source,
        })?;
        for case in parse(file, &text)? {
            if !seen.insert(case.id.clone()) {
                return Err(CaseError::DuplicateId {
                    path: file.clone(),
                    id: case.id,
                });
            }
            cases.push(case);
        }
    }
    if cases.is_empty() {
        return Err(CaseError::NoCases);
    }
    Ok(cases)
}

fn case_files(dir: &Path) -> Result<Vec<PathBuf>, CaseError> {
    let read_error = |source| CaseError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let is_case_file = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["yaml", "yml", "json"].contains(&e.to_ascii_lowercase().as_str()));
        if path.is_file() && is_case_file {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The cases of one file's text; `.json` files are read as JSON, anything else as YAML.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Case>, CaseError> {
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let document: Value = if is_json {
        serde_json::from_str(text).map_err(|e| CaseError::Syntax {
            path: path.to_path_buf(),
            format: "JSON",
            message: e.to_string(),
        })?
    } else {
        serde_yaml::from_str(text).map_err(|e| CaseError::Syntax {
            path: path.to_path_buf(),
            format: "YAML",
            message: e.to_string(),
        })?
    };
    let Value::Array(items) = document else {
        return Err(CaseError::NotAList {
            path: path.to_path_buf(),
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| read_case(path, index, item))
        .collect()
}

fn read_case(path: &Path, index: usize, item: &Value) -> Result<Case, CaseError> {
    let named = item
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!("{} ({id})", index + 1))
        .unwrap_or_else(|| (index + 1).to_string());
    let fail = |field: &'static str, problem: String| CaseError::Field {
        path: path.to_path_buf(),
        case: named.clone(),
        field,
        problem,
    };
    if !item.is_object() {
        return Err(fail("case", "must be a mapping of fields".into()));
    }
    let id = required_text(item.get("id")).map_err(|p| fail("id", p))?;
    let intake = required_text(item.get("intake")).map_err(|p| fail("intake", p))?;
    let log = optional_text(item.get("log")).map_err(|p| fail("log", p))?;
    let facts = text_list(item.get("facts")).map_err(|p| fail("facts", p))?;
    let Some(expect) = item.get("expect").filter(|e| !e.is_null()) else {
        return Err(fail("expect", "is required".into()));
    };
    if !expect.is_object() {
        return Err(fail("expect", "must be a mapping".into()));
    }
    let outcome = match expect.get("outcome").and_then(Value::as_str) {
        Some("resolve") => ExpectedOutcome::Resolve,
        Some("escalate") => ExpectedOutcome::Escalate,
        Some(other) => {
            return Err(fail(
                "expect.outcome",
                format!("must be resolve or escalate, not {other:?}"),
            ))
        }
        None => {
            return Err(fail(
                "expect.outcome",
                "is required (resolve or escalate)".into(),
            ))
        }
    };
    Ok(Case {
        id,
        intake,
        log,
        facts,
        expect: Expect {
            outcome,
            domain: optional_text(expect.get("domain")).map_err(|p| fail("expect.domain", p))?,
            flow: optional_text(expect.get("flow")).map_err(|p| fail("expect.flow", p))?,
            resolution_keywords: text_list(expect.get("resolution_keywords"))
                .map_err(|p| fail("expect.resolution_keywords", p))?,
        },
    })
}

fn required_text(value: Option<&Value>) -> Result<String, String> {
    optional_text(value)?.ok_or_else(|| "is required".to_string())
}

/// A non-blank string, trimmed; absent or null is `None`.
fn optional_text(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Err("must not be blank".into()),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(format!("must be text, not {}", kind(other))),
    }
}

fn text_list(value: Option<&Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                Value::String(_) => Err(format!("item {} is blank", i + 1)),
                other => Err(format!("item {} must be text, not {}", i + 1, kind(other))),
            })
            .collect(),
        Some(other) => Err(format!("must be a list of text, not {}", kind(other))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Vec<Case>, CaseError> {
        parse(Path::new("suite.yaml"), text)
    }

    #[test]
    fn the_example_of_eval_md_reads_with_every_field() {
        let cases = yaml(
            r#"
- id: printer-offline-01
  intake: "The office printer shows offline for everyone since this morning"
  log: null
  facts:
    - "The printer's panel shows a different IP address than the port on the print server"
    - "Pinging the old IP fails, the new one answers"
  expect:
    outcome: resolve
    domain: printing
    flow: "printer shows offline"
    resolution_keywords: ["dhcp reservation", "port"]
"#,
        )
        .unwrap();
        assert_eq!(cases.len(), 1);
        let case = &cases[0];
        assert_eq!(case.id, "printer-offline-01");
        assert_eq!(case.log, None);
        assert_eq!(case.facts.len(), 2);
        assert_eq!(case.expect.outcome, ExpectedOutcome::Resolve);
        assert_eq!(case.expect.domain.as_deref(), Some("printing"));
        assert_eq!(case.expect.flow.as_deref(), Some("printer shows offline"));
        assert_eq!(
            case.expect.resolution_keywords,
            ["dhcp reservation", "port"]
        );
    }

    #[test]
    fn unknown_keys_are_ignored_and_optional_ones_may_be_left_out() {
        let cases =
            yaml("- {id: a, intake: x, owner: me, expect: {outcome: escalate, why: out of scope}}")
                .unwrap();
        assert!(cases[0].facts.is_empty());
        assert_eq!(cases[0].expect.outcome, ExpectedOutcome::Escalate);
        assert!(cases[0].expect.resolution_keywords.is_empty());
    }

    #[test]
    fn json_is_read_too() {
        let cases = parse(
            Path::new("suite.json"),
            r#"[{"id": "a", "intake": "x", "facts": ["f"], "expect": {"outcome": "resolve"}}]"#,
        )
        .unwrap();
        assert_eq!(cases[0].facts, ["f"]);
    }

    #[test]
    fn a_refusal_names_the_file_the_case_and_the_field() {
        let err = yaml(
            "- {id: fine, intake: x, expect: {outcome: resolve}}\n\
             - {id: printer-02, intake: x, expect: {outcome: fix}}",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "suite.yaml: case 2 (printer-02): expect.outcome: must be resolve or escalate, not \"fix\""
        );

        let err = yaml("- {id: no-intake, expect: {outcome: resolve}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "suite.yaml: case 1 (no-intake): intake: is required"
        );

        let err = yaml("- {intake: x, expect: {outcome: resolve}}").unwrap_err();
        assert_eq!(err.to_string(), "suite.yaml: case 1: id: is required");

        let err =
            yaml("- {id: a, intake: x, facts: [ok, 3], expect: {outcome: resolve}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "suite.yaml: case 1 (a): facts: item 2 must be text, not a number"
        );

        let err = yaml("- {id: a, intake: x}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "suite.yaml: case 1 (a): expect: is required"
        );
    }

    #[test]
    fn a_file_that_is_not_a_list_or_not_yaml_is_refused() {
        assert!(matches!(
            yaml("id: a\nintake: x").unwrap_err(),
            CaseError::NotAList { .. }
        ));
        assert!(matches!(
            yaml("- [unclosed").unwrap_err(),
            CaseError::Syntax { .. }
        ));
    }

    #[test]
    fn a_directory_is_read_file_by_file_and_ids_must_be_unique() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "- {id: two, intake: x, expect: {outcome: resolve}}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("a.yml"),
            "- {id: one, intake: x, expect: {outcome: resolve}}",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a case file").unwrap();
        let ids: Vec<String> = load(&[dir.path().to_path_buf()])
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["one", "two"]);

        std::fs::write(
            dir.path().join("c.json"),
            r#"[{"id": "one", "intake": "x", "expect": {"outcome": "escalate"}}]"#,
        )
        .unwrap();
        assert!(matches!(
            load(&[dir.path().to_path_buf()]).unwrap_err(),
            CaseError::DuplicateId { id, .. } if id == "one"
        ));
    }
}
