use domain::flow::{Flow, FlowNode};
use domain::proposal::{diff, ProposalKind};
use domain::session::SessionStatus;
use domain::step::{Answer, StepType};
use serde_json::{json, Value};

use super::*;

fn flow() -> Flow {
    serde_json::from_value(json!({
        "id": "00000000-0000-0000-0000-0000000000f1", "account_id": null,
        "title": "VPN keeps dropping", "description": "", "domain": "network",
        "tags": [], "start": "q_where",
        "nodes": {
            "q_where": {"type": "question", "text": "Where does it drop?", "options": [
                {"label": "At home", "value": "home", "next": "a_router"},
                {"label": "In the office", "value": "office", "next": "s_client"}]},
            "a_router": {"type": "action", "text": "Restart the home router", "next": "s_client"},
            "s_client": {"type": "solution", "text": "Update the VPN client"}
        },
        "version": 3, "usage_count": 0, "success_rate": null, "last_matched_at": null,
        "created_by": null, "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z"
    }))
    .unwrap()
}

fn at(node: &str) -> Value {
    json!({"at": "node", "node": node})
}

fn step(state: Value, kind: StepType, content: &str, answer: Option<Answer>) -> WalkedStep {
    WalkedStep {
        state,
        step_type: kind,
        content: content.into(),
        expected_outcome: None,
        options: vec![],
        resolution_summary: None,
        follow_ups: vec![],
        answer,
        observations: vec![],
    }
}

fn picked(value: &str) -> Option<Answer> {
    Some(Answer {
        selected_option: Some(value.into()),
        ..Default::default()
    })
}

fn said(text: &str) -> Option<Answer> {
    Some(Answer {
        free_text_input: Some(text.into()),
        ..Default::default()
    })
}

fn session<'a>(
    status: SessionStatus,
    fix: Option<&'a str>,
    steps: &'a [WalkedStep],
) -> ClosedSession<'a> {
    ClosedSession {
        status,
        resolution_summary: fix,
        title: "VPN drops every hour",
        problem_summary: Some("The VPN drops every hour"),
        problem_domain: Some("network"),
        steps,
    }
}

fn proposal(analysis: Analysis) -> Proposed {
    match analysis {
        Analysis::Proposal(p) => *p,
        other => panic!("expected a proposal, got {other:?}"),
    }
}

/// The offline pilot keeps an answer it could not read as an observation on the step and
/// asks again; the engineer then resolved with a fix of their own.
fn left_at_where(words: &str, fix: &'static str) -> (Vec<WalkedStep>, &'static str) {
    let mut asked = step(
        at("q_where"),
        StepType::Question,
        "Where does it drop?",
        None,
    );
    asked.observations = vec![words.into()];
    (vec![asked], fix)
}

#[test]
fn following_the_flow_to_its_fix_is_reinforcement() {
    let steps = [
        step(at("q_where"), StepType::Question, "Where?", picked("home")),
        step(
            at("a_router"),
            StepType::Action,
            "Restart",
            picked("done_no_change"),
        ),
        step(
            at("s_client"),
            StepType::ResolutionSuggestion,
            "Update the VPN client",
            None,
        ),
    ];
    let s = session(
        SessionStatus::Resolved,
        Some("Update the VPN client"),
        &steps,
    );
    assert_eq!(
        analyse(&s, Some(&flow())),
        Analysis::Reinforcement { flow_id: flow().id }
    );
}

#[test]
fn free_text_no_option_meant_then_a_fix_adds_that_branch_where_it_left() {
    let (steps, fix) = left_at_where("only on the hotel wifi", "Lower the MTU to 1400");
    let p = proposal(analyse(
        &session(SessionStatus::Resolved, Some(fix), &steps),
        Some(&flow()),
    ));
    assert_eq!(p.kind, ProposalKind::BranchAddition);
    assert_eq!(p.flow_id, Some(flow().id));
    assert_eq!(p.base_version, Some(3));
    assert_eq!(p.attached_at.as_deref(), Some("q_where"));
    p.definition.validate().expect("a valid flow");
    let change = diff(Some(&flow().definition), &p.definition);
    assert_eq!(change.added_options.len(), 1);
    assert_eq!(change.added_options[0].node, "q_where");
    assert_eq!(change.added_options[0].label, "only on the hotel wifi");
    let fix_node = &p.definition.nodes[&change.added_options[0].next];
    assert_eq!(fix_node.text(), "Lower the MTU to 1400");
    assert!(matches!(fix_node, FlowNode::Solution { .. }));
    assert!(change.removed_nodes.is_empty() && change.changed_nodes.is_empty());
}

#[test]
fn the_same_fix_at_the_same_node_has_the_same_merge_key_whatever_the_wording() {
    let (a, _) = left_at_where("only on the hotel wifi", "");
    let (b, _) = left_at_where("on hotel wi-fi only", "");
    let first = proposal(analyse(
        &session(SessionStatus::Resolved, Some("Lower the MTU to 1400"), &a),
        Some(&flow()),
    ));
    let second = proposal(analyse(
        &session(SessionStatus::Resolved, Some("lower MTU to 1400."), &b),
        Some(&flow()),
    ));
    assert_eq!(first.merge_key, second.merge_key);
    let other_fix = proposal(analyse(
        &session(SessionStatus::Resolved, Some("Reinstall the client"), &a),
        Some(&flow()),
    ));
    assert_ne!(first.merge_key, other_fix.merge_key);
}

#[test]
fn steps_the_flow_does_not_have_become_the_branch_in_order() {
    // A model-led session: the first step asked the flow's question, the engineer typed an
    // answer, and the model went on with steps of its own.
    let mut check = step(
        Value::Null,
        StepType::Action,
        "Run ping -f -l 1472 to the gateway",
        picked("done_worked"),
    );
    check.expected_outcome = Some("Packets need to be fragmented".into());
    let mut ask = step(
        Value::Null,
        StepType::Question,
        "Does the hotel network use a captive portal?",
        picked("yes"),
    );
    ask.options = vec![("Yes".into(), "yes".into()), ("No".into(), "no".into())];
    let mut fix = step(
        Value::Null,
        StepType::ResolutionSuggestion,
        "Lower the MTU",
        None,
    );
    fix.resolution_summary = Some("Lower the MTU to 1400".into());
    fix.follow_ups = vec!["Note the MTU in the client's profile".into()];
    let steps = [
        step(
            json!({"flow_node": "q_where"}),
            StepType::Question,
            "Where does it drop?",
            said("hotels"),
        ),
        check,
        ask,
        fix,
    ];
    let p = proposal(analyse(
        &session(
            SessionStatus::Resolved,
            Some("Lower the MTU to 1400"),
            &steps,
        ),
        Some(&flow()),
    ));
    let def = &p.definition;
    let way_in = match &def.nodes["q_where"] {
        FlowNode::Question { options, .. } => options.last().unwrap().clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(way_in.label, "hotels");
    let FlowNode::Action {
        text,
        expected_outcome,
        next,
        ..
    } = &def.nodes[&way_in.next]
    else {
        panic!("the branch starts with the action")
    };
    assert_eq!(text, "Run ping -f -l 1472 to the gateway");
    assert_eq!(
        expected_outcome.as_deref(),
        Some("Packets need to be fragmented")
    );
    let FlowNode::Question { options, .. } = &def.nodes[next] else {
        panic!("then the question")
    };
    assert_eq!(options[0].label, "Yes");
    let FlowNode::Solution {
        text, follow_up, ..
    } = &def.nodes[&options[0].next]
    else {
        panic!("then the fix")
    };
    assert_eq!(text, "Lower the MTU to 1400");
    assert_eq!(follow_up, &["Note the MTU in the client's profile"]);
    def.validate().expect("valid");
}

#[test]
fn a_typed_answer_the_pilot_understood_stays_on_the_flow() {
    let steps = [
        step(
            at("q_where"),
            StepType::Question,
            "Where?",
            said("from home"),
        ),
        step(
            at("a_router"),
            StepType::Action,
            "Restart",
            said("no change"),
        ),
        step(
            at("s_client"),
            StepType::ResolutionSuggestion,
            "Update the VPN client",
            None,
        ),
    ];
    let s = session(
        SessionStatus::Resolved,
        Some("Update the VPN client"),
        &steps,
    );
    assert_eq!(
        analyse(&s, Some(&flow())),
        Analysis::Reinforcement { flow_id: flow().id }
    );
}

#[test]
fn a_fix_of_the_flow_that_did_not_work_hangs_the_branch_from_the_step_before_it() {
    let mut rejected = step(
        at("s_client"),
        StepType::ResolutionSuggestion,
        "Update the VPN client",
        picked("not_fixed"),
    );
    rejected.observations = vec![];
    let steps = [
        step(at("q_where"), StepType::Question, "Where?", picked("home")),
        step(
            at("a_router"),
            StepType::Action,
            "Restart",
            picked("done_no_change"),
        ),
        rejected,
        step(
            json!({"at": "after_solution"}),
            StepType::Question,
            "Escalate?",
            None,
        ),
    ];
    let p = proposal(analyse(
        &session(
            SessionStatus::Resolved,
            Some("Replace the home router's firmware"),
            &steps,
        ),
        Some(&flow()),
    ));
    assert_eq!(p.attached_at.as_deref(), Some("a_router"));
    let FlowNode::Action { on_failure, .. } = &p.definition.nodes["a_router"] else {
        panic!("an action")
    };
    let fix = on_failure
        .as_deref()
        .expect("the branch is the action's way on when it fails");
    assert_eq!(
        p.definition.nodes[fix].text(),
        "Replace the home router's firmware"
    );
}

#[test]
fn a_resolved_session_no_flow_matched_proposes_a_flow_of_its_steps() {
    let steps = [
        step(
            json!({"at": "triage"}),
            StepType::Question,
            "Which area?",
            picked("printing"),
        ),
        step(
            Value::Null,
            StepType::Action,
            "Clear the spooler folder",
            picked("done_worked"),
        ),
    ];
    let mut s = session(
        SessionStatus::Resolved,
        Some("Cleared the stuck spooler"),
        &steps,
    );
    s.problem_domain = Some("Printing");
    s.problem_summary = Some("Label printer prints blank pages");
    let p = proposal(analyse(&s, None));
    assert_eq!(p.kind, ProposalKind::NewFlow);
    assert_eq!(p.flow_id, None);
    assert_eq!(p.definition.title, "Label printer prints blank pages");
    assert_eq!(p.definition.domain, "printing");
    let first = &p.definition.nodes[&p.definition.start];
    assert_eq!(first.text(), "Clear the spooler folder");
    assert!(p.merge_key.starts_with("new:printing:"));
    p.definition.validate().expect("valid");
}

#[test]
fn sessions_that_were_not_resolved_teach_nothing() {
    let (steps, _) = left_at_where("only on the hotel wifi", "");
    for status in [SessionStatus::Escalated, SessionStatus::Abandoned] {
        let s = session(status, None, &steps);
        assert!(matches!(
            analyse(&s, Some(&flow())),
            Analysis::Nothing { .. }
        ));
        assert!(matches!(analyse(&s, None), Analysis::Nothing { .. }));
    }
}

#[test]
fn a_question_with_every_option_it_may_have_gets_no_branch() {
    let mut full = flow();
    if let Some(FlowNode::Question { options, .. }) = full.definition.nodes.get_mut("q_where") {
        for n in 0..4 {
            options.push(domain::flow::FlowOption {
                label: format!("Place {n}"),
                value: format!("p{n}"),
                next: "s_client".into(),
            });
        }
    }
    let (steps, fix) = left_at_where("only on the hotel wifi", "Lower the MTU");
    assert!(matches!(
        analyse(
            &session(SessionStatus::Resolved, Some(fix), &steps),
            Some(&full)
        ),
        Analysis::Nothing { .. }
    ));
}

#[test]
fn the_analysis_is_deterministic() {
    let (steps, fix) = left_at_where("only on the hotel wifi", "Lower the MTU to 1400");
    let s = session(SessionStatus::Resolved, Some(fix), &steps);
    assert_eq!(analyse(&s, Some(&flow())), analyse(&s, Some(&flow())));
}

#[test]
fn leaving_at_an_action_that_already_goes_on_when_it_fails_asks_which_it_was() {
    let mut with_failure = flow();
    if let Some(FlowNode::Action { on_failure, .. }) =
        with_failure.definition.nodes.get_mut("a_router")
    {
        *on_failure = Some("s_client".into());
    }
    let mut restart = step(
        at("a_router"),
        StepType::Action,
        "Restart the home router",
        None,
    );
    restart.observations = vec!["the router is the ISP's, I can't reach it".into()];
    let steps = [
        step(at("q_where"), StepType::Question, "Where?", picked("home")),
        restart,
    ];
    let p = proposal(analyse(
        &session(
            SessionStatus::Resolved,
            Some("Use the phone's hotspot instead"),
            &steps,
        ),
        Some(&with_failure),
    ));
    let def = &p.definition;
    let FlowNode::Action { on_failure, .. } = &def.nodes["a_router"] else {
        panic!("an action")
    };
    let ask = on_failure.as_deref().unwrap();
    let FlowNode::Question { options, .. } = &def.nodes[ask] else {
        panic!("a question after the action")
    };
    // The way the flow already went, and the session's way to its fix.
    assert_eq!(options[0].label, "It still fails");
    assert_eq!(options[0].next, "s_client");
    assert_eq!(
        options[1].label,
        "the router is the ISP's, I can't reach it"
    );
    assert_eq!(
        def.nodes[&options[1].next].text(),
        "Use the phone's hotspot instead"
    );
    let change = diff(Some(&with_failure.definition), def);
    assert_eq!(change.changed_nodes.len(), 1);
    assert_eq!(change.changed_nodes[0].id, "a_router");
    assert_eq!(change.changed_nodes[0].fields, ["on_failure"]);
    assert_eq!(change.added_nodes.len(), 2);
}

#[test]
fn a_new_flow_keeps_its_questions_with_a_way_out_for_other_answers() {
    let mut which = step(
        Value::Null,
        StepType::Question,
        "Which ledger posts twice?",
        picked("nominal"),
    );
    which.options = vec![
        ("Nominal".into(), "nominal".into()),
        ("Purchase".into(), "purchase".into()),
    ];
    let steps = [which];
    let p = proposal(analyse(
        &session(
            SessionStatus::Resolved,
            Some("Clear the batch lock"),
            &steps,
        ),
        None,
    ));
    let def = &p.definition;
    let FlowNode::Question { text, options, .. } = &def.nodes[&def.start] else {
        panic!("the flow starts with the question")
    };
    assert_eq!(text, "Which ledger posts twice?");
    assert_eq!(options[0].label, "Nominal");
    assert_eq!(def.nodes[&options[0].next].text(), "Clear the batch lock");
    assert!(matches!(
        def.nodes[&options[1].next],
        FlowNode::Escalate { .. }
    ));
    def.validate().expect("valid");
}
