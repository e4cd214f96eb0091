//! Runs a case as a real session: the server's state built in-process on a throwaway SQLite
//! database, and the session use cases (start, respond, resolve, escalate) that the API and
//! the web UI call, so matching, the session loop and the documentation are the product's
//! own. Only FlowPilot's side of each call is timed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use domain::flow::{parse_flow_documents, FlowDefinition, FlowFormat};
use domain::step::{Answer, StepOutput, StepType};
use domain::{Plan, Role, User};
use server::error::ApiError;
use server::sessions::{self, input};
use server::{AppState, Settings};
use store::{NewAccount, NewUser};

use super::cases::Case;
use super::engineer::{Asked, Engineer, EngineerError, Move, Ticket};
use super::summary::{CaseRun, MatchedFlow, Outcome, Spend};

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot make the temporary database directory: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("cannot start FlowPilot: {0}")]
    Launch(#[from] server::LaunchError),
    #[error("the evaluation database failed: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot read the flows in {}: {source}", path.display())]
    FlowsDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Flow { path: PathBuf, problem: String },
    #[error("case {case}: FlowPilot failed to {doing}: {source}")]
    Session {
        case: String,
        doing: &'static str,
        #[source]
        source: ApiError,
    },
    #[error("case {case}: {source}")]
    Engineer {
        case: String,
        #[source]
        source: EngineerError,
    },
}

/// The product, set up once for a whole evaluation.
pub struct Harness {
    state: AppState,
    user: User,
    /// The database lives as long as the harness.
    _dir: tempfile::TempDir,
}

/// Answers the engineer gives beyond the step limit's worth (unclear answers do not add
/// steps): a guard against an engineer and a pilot that keep asking each other.
const MOVES_PER_STEP: i64 = 3;

impl Harness {
    /// FlowPilot as `settings` configure it, on a fresh database in a temporary directory,
    /// with the built-in flows and those in `flows_dir`.
    pub async fn start(
        mut settings: Settings,
        flows_dir: Option<&Path>,
    ) -> Result<Harness, HarnessError> {
        let dir = tempfile::tempdir().map_err(HarnessError::TempDir)?;
        settings.database_url = format!("sqlite://{}", dir.path().join("eval.db").display());
        // One engineer running case after case is not the traffic the limits are for.
        settings.rate_limits = false;
        let state = server::build_state(settings).await?;
        let now = Utc::now();
        let (account, user) = state
            .store
            .create_account_with_user(
                NewAccount {
                    name: "FlowPilot evaluation".into(),
                    // Unlimited: a suite must not stop half way on a daily AI quota.
                    plan: Plan::Enterprise,
                },
                NewUser {
                    email: "eval@flowpilot.invalid".into(),
                    full_name: "Simulated engineer".into(),
                    password_hash: "!".into(),
                    role: Role::Engineer,
                    team_id: None,
                    is_super_admin: false,
                },
                now,
            )
            .await?;
        if let Some(dir) = flows_dir {
            let flows = read_flows(dir)?;
            state
                .store
                .import_flows(account.id, Some(user.id), &flows, now)
                .await?;
            state.catalog.refresh().await?;
        }
        Ok(Harness {
            state,
            user,
            _dir: dir,
        })
    }

    /// `offline`, or the provider and model.
    pub fn engine(&self) -> String {
        self.state.pilot.engine()
    }

    /// FlowPilot's provider calls so far, from its own ledger.
    pub async fn spend(&self) -> Result<Spend, HarnessError> {
        let records = self.state.store.ai_usage_of_user(self.user.id).await?;
        Ok(records.iter().fold(Spend::default(), |s, r| Spend {
            input_tokens: s.input_tokens + r.input_tokens,
            output_tokens: s.output_tokens + r.output_tokens,
            cost_usd: s.cost_usd + r.cost_usd,
        }))
    }

    pub async fn close(self) {
        self.state.store.close().await;
    }

    /// One run of `case` with `engineer` answering.
    pub async fn run(&self, case: &Case, engineer: &dyn Engineer) -> Result<CaseRun, HarnessError> {
        let fail = |doing: &'static str| {
            move |source| HarnessError::Session {
                case: case.id.clone(),
                doing,
                source,
            }
        };
        let (state, user) = (&self.state, &self.user);
        let ticket = Ticket {
            intake: &case.intake,
            facts: &case.facts,
        };
        let mut latencies = Vec::new();
        let clock = Instant::now();
        let started = sessions::start(
            state,
            user,
            input::NewSession {
                intake_type: if case.log.is_some() {
                    "combined"
                } else {
                    "free_text"
                }
                .into(),
                text: Some(case.intake.clone()),
                log: case.log.clone(),
                title: Some(case.id.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(fail("start the session"))?;
        latencies.push(ms(clock));
        let first_match = match started.session.matched_flow_id {
            Some(id) => state
                .catalog
                .visible_flow(user.account_id, id)
                .await
                .map(|f| MatchedFlow {
                    title: f.definition.title.clone(),
                    domain: f.definition.domain.clone(),
                }),
            None => None,
        };
        let mut session = started.session;
        let mut step = started.first;
        let mut clarification: Option<String> = None;
        let mut unclear = 0usize;
        let mut moves = 0i64;
        let max_moves = state.settings.max_steps * MOVES_PER_STEP;
        let outcome = loop {
            if step.output.step_type == StepType::ResolutionSuggestion {
                break Outcome::Resolved;
            }
            if offers_escalation(&step.output) {
                break Outcome::Escalated;
            }
            moves += 1;
            if moves > max_moves {
                break Outcome::StepLimit;
            }
            let asked = Asked {
                step: &step.output,
                clarification: clarification.as_deref(),
                unclear_answers: unclear,
            };
            let chosen = engineer.answer(&ticket, &asked).await.map_err(|source| {
                HarnessError::Engineer {
                    case: case.id.clone(),
                    source,
                }
            })?;
            // What went on in a case, for whoever asks with RUST_LOG=flowpilot=debug.
            tracing::debug!(case = %case.id, step = %step.output.content, options = ?step.output.options.iter().map(|o| &o.value).collect::<Vec<_>>(), answer = ?chosen, "engineer answered");
            let answer = match chosen {
                Move::Escalate { reason } => {
                    self.escalate(session.id, reason)
                        .await
                        .map_err(fail("escalate"))?;
                    return Ok(self.finish(
                        case,
                        Outcome::Escalated,
                        first_match,
                        &session,
                        &step,
                        latencies,
                    ));
                }
                Move::Skip => Answer {
                    selected_option: None,
                    free_text_input: None,
                    skipped: true,
                },
                Move::Answer { option, text } => fit(&step.output, option, text),
            };
            let clock = Instant::now();
            let answered = sessions::respond(
                state,
                user,
                session.id,
                input::Respond {
                    step_id: step.id,
                    answer,
                },
            )
            .await
            .map_err(fail("answer a step"))?;
            latencies.push(ms(clock));
            session = answered.session;
            match (answered.next, answered.clarification) {
                (Some(next), Some(asked_again)) => {
                    step = next;
                    clarification = Some(asked_again);
                    unclear += 1;
                }
                (Some(next), None) => {
                    step = next;
                    clarification = None;
                    unclear = 0;
                }
                // The session's last allowed step is answered.
                (None, _) => break Outcome::StepLimit,
            }
        };
        match outcome {
            Outcome::Resolved => {
                sessions::resolve(
                    state,
                    user,
                    session.id,
                    input::Resolution {
                        summary: None,
                        use_suggested: true,
                        psa_note: None,
                    },
                )
                .await
                .map_err(fail("resolve"))?;
            }
            Outcome::Escalated => {
                self.escalate(session.id, "FlowPilot suggested escalation.".into())
                    .await
                    .map_err(fail("escalate"))?;
            }
            Outcome::StepLimit => {}
        }
        Ok(self.finish(case, outcome, first_match, &session, &step, latencies))
    }

    async fn escalate(&self, id: uuid::Uuid, reason: String) -> Result<(), ApiError> {
        sessions::escalate(
            &self.state,
            &self.user,
            id,
            input::Escalation {
                reason,
                to: None,
                team: None,
                psa_note: None,
            },
        )
        .await
        .map(|_| ())
    }

    fn finish(
        &self,
        case: &Case,
        outcome: Outcome,
        first_match: Option<MatchedFlow>,
        session: &domain::session::Session,
        last: &domain::step::Step,
        step_latencies_ms: Vec<f64>,
    ) -> CaseRun {
        let resolution = (outcome == Outcome::Resolved).then(|| {
            last.output
                .resolution_summary
                .clone()
                .unwrap_or_else(|| last.output.content.clone())
        });
        CaseRun {
            id: case.id.clone(),
            outcome,
            first_match,
            matched_flow: session.matched_flow_name.clone(),
            steps: session.step_count,
            confidence: last.output.confidence,
            resolution,
            step_latencies_ms,
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Whether a step hands the session over rather than asking or doing something: the
/// offline engine's escalation offer and a flow's escalate node both lead with it.
pub fn offers_escalation(step: &StepOutput) -> bool {
    step.step_type != StepType::ResolutionSuggestion
        && step
            .content
            .trim_start()
            .to_lowercase()
            .starts_with("escalate")
}

/// The engineer's move as the step accepts it: text only where free text is allowed, a
/// skip when nothing is left and skipping is.
fn fit(step: &StepOutput, option: Option<String>, text: Option<String>) -> Answer {
    let option = option.filter(|v| step.options.iter().any(|o| &o.value == v));
    let text = text.filter(|_| step.allow_free_text);
    let skipped = option.is_none() && text.is_none();
    // Neither is left (and no skip is allowed): the first option, as an engineer forced to
    // click something would.
    let option = match (option, skipped && !step.allow_skip) {
        (None, true) => step.options.first().map(|o| o.value.clone()),
        (option, _) => option,
    };
    Answer {
        skipped: option.is_none() && text.is_none(),
        selected_option: option,
        free_text_input: text,
    }
}

/// Flows in `dir`: every `.yaml`, `.yml` and `.json` file, validated before any is
/// imported.
fn read_flows(dir: &Path) -> Result<Vec<FlowDefinition>, HarnessError> {
    let read_error = |source| HarnessError::FlowsDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if path.is_file() && matches!(ext.as_deref(), Some("yaml" | "yml" | "json")) {
            paths.push((path, ext));
        }
    }
    paths.sort();
    let mut flows = Vec::new();
    for (path, ext) in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| HarnessError::FlowsDir {
            path: path.clone(),
            source,
        })?;
        let format = if ext.as_deref() == Some("json") {
            FlowFormat::Json
        } else {
            FlowFormat::Yaml
        };
        let defs = parse_flow_documents(&text, format).map_err(|e| HarnessError::Flow {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        for def in defs {
            if let Err(errors) = def.validate() {
                let problems: Vec<String> = errors
                    .0
                    .iter()
                    .map(|e| {
                        let loc: Vec<String> =
                            e.loc.iter().skip(1).map(|l| l.to_string()).collect();
                        format!("{}: {}", loc.join("."), e.msg)
                    })
                    .collect();
                return Err(HarnessError::Flow {
                    path: path.clone(),
                    problem: format!("flow {:?}: {}", def.title, problems.join("; ")),
                });
            }
            flows.push(def);
        }
    }
    Ok(flows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::step::StepOption;

    fn step(step_type: StepType, content: &str) -> StepOutput {
        StepOutput {
            step_type,
            content: content.into(),
            context_message: None,
            reasoning: None,
            options: vec![StepOption {
                label: "Keep troubleshooting".into(),
                value: "continue".into(),
                followup_hint: None,
            }],
            allow_free_text: false,
            allow_skip: false,
            action_type: None,
            expected_outcome: None,
            resolution_summary: None,
            follow_up_recommendations: Vec::new(),
            confidence: 0.2,
            problem_summary: None,
            problem_domain: None,
        }
    }

    #[test]
    fn an_escalation_offer_is_told_from_a_step_that_mentions_escalating() {
        assert!(offers_escalation(&step(
            StepType::Action,
            "Escalate this session to a colleague with the hand-off package."
        )));
        assert!(!offers_escalation(&step(
            StepType::Question,
            "Should we escalate if the restart fails?"
        )));
    }

    #[test]
    fn text_a_step_does_not_take_is_dropped_and_a_blank_answer_clicks_the_first_option() {
        let s = step(StepType::Question, "Pick one");
        let answer = fit(&s, None, Some("whatever".into()));
        assert_eq!(answer.selected_option.as_deref(), Some("continue"));
        assert_eq!(answer.free_text_input, None);
        assert!(!answer.skipped);
        let unknown = fit(&s, Some("invented".into()), None);
        assert_eq!(unknown.selected_option.as_deref(), Some("continue"));
    }
}
