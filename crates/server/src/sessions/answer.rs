//! Answering the latest step: the answer checked, the step claimed (one answer wins), the
//! next step produced from the session's history, and both stored together.

use chrono::{Duration, Utc};
use domain::session::Session;
use domain::session::Transition;
use domain::step::{Answer, Response, Step};
use domain::step::{EarlierSteps, StepMarks, StepType};
use domain::{FieldError, SessionId, StepId, User, ValidationErrors};
use engine::{History, MatchedFlow, PilotInput, Reply, StepTextSink};
use store::{SessionWindow, StepAdvance, StepClaim};
use uuid::Uuid;

use super::input::Respond;
use super::start::pilot_failure;
use super::{history, ledger};
use crate::error::ApiError;
use crate::quota;
use crate::state::AppState;

pub struct Answered {
    pub session: Session,
    /// The next step; when the answer was not clear, the same step again, still unanswered,
    /// with the answer among its observations.
    pub next: Option<Step>,
    /// What the engine needs to know, when it could not tell what a free-text answer means.
    pub clarification: Option<String>,
}

/// The most free-text notes one step keeps; past it the engineer is asked to pick an option.
pub const MAX_OBSERVATIONS: usize = 20;

fn check_answer(body: &Respond, step: &Step) -> Result<Answer, ApiError> {
    let body = &body.answer;
    let mut errors = ValidationErrors::new();
    let skipped = body.skipped;
    let free = body.free_text_input.as_deref();
    if body.selected_option.is_none() && free.is_none() && !skipped {
        errors.push(FieldError::body(
            &[],
            "Send at least one of selected_option, free_text_input or skipped",
            "value_error",
        ));
    }
    if let Some(value) = &body.selected_option {
        if !step.output.options.iter().any(|o| &o.value == value) {
            errors.push(FieldError::body(
                &["selected_option"],
                format!("'{value}' is not one of this step's options"),
                "value_error",
            ));
        }
    }
    if let Some(text) = free {
        errors.check_len(&["free_text_input"], text, 1, 5000);
        if step.observations.len() >= MAX_OBSERVATIONS && body.selected_option.is_none() {
            errors.push(FieldError::body(
                &["free_text_input"],
                format!(
                    "This step already keeps {MAX_OBSERVATIONS} notes that did not answer it: \
                     pick one of its options, skip it or escalate"
                ),
                "value_error",
            ));
        }
        if !step.output.allow_free_text {
            errors.push(FieldError::body(
                &["free_text_input"],
                "This step does not accept free text",
                "value_error",
            ));
        }
    }
    if skipped && !step.output.allow_skip {
        errors.push(FieldError::body(
            &["skipped"],
            "This step cannot be skipped",
            "value_error",
        ));
    }
    errors.into_result()?;
    Ok(body.clone())
}

/// Answers the latest step of `window.session`, read with its newest steps
/// (as many as the pilot reads in full, [`engine::Pilot::recent_steps`]).
/// `sink`, when given, is shown the next step's text while the pilot writes it.
pub async fn respond(
    state: &AppState,
    user: &User,
    window: SessionWindow,
    body: Respond,
    sink: Option<&dyn StepTextSink>,
) -> Result<Answered, ApiError> {
    // Only the newest steps are read in full; older ones, when the pilot needs them, from the
    // summary the oldest of them carries (history.rs), so a step's cost does not grow with the
    // session.
    let current = open_step(&window, body.step_id)?;
    let answer = check_answer(&body, current)?;
    answer_open(
        state,
        user,
        &window,
        current,
        answer,
        StepMarks::default(),
        sink,
    )
    .await
}

/// The latest step of `window.session` when it is `step_id`, unanswered, and the session
/// takes answers; 409 otherwise.
pub(super) fn open_step(window: &SessionWindow, step_id: Uuid) -> Result<&Step, ApiError> {
    let session = &window.session;
    if session.status.apply(Transition::Respond).is_none() {
        return Err(ApiError::Conflict(format!(
            "The session is {}, not active",
            session.status.as_str()
        )));
    }
    window
        .steps
        .last()
        .filter(|s| s.id == step_id && s.response.is_none() && s.step_order == session.step_count)
        .ok_or_else(|| {
            ApiError::Conflict(
                "This step is not the latest unanswered step of the session (or the step limit is reached)".into(),
            )
        })
}

/// Answers `current`, the open step of `window.session`, with `answer` and what was said of
/// the step (`marks`: a fix's outcome, "not relevant"): claimed so that one answer wins,
/// the next step produced knowing both.
pub(super) async fn answer_open(
    state: &AppState,
    user: &User,
    window: &SessionWindow,
    current: &Step,
    answer: Answer,
    marks: StepMarks,
    sink: Option<&dyn StepTextSink>,
) -> Result<Answered, ApiError> {
    let session = &window.session;
    let now = Utc::now();
    let claim_for = Duration::seconds(state.settings.llm_timeout_secs as i64 * 3 + 30);
    // The provider call for the next step, when there will be one, is reserved together with
    // the claim: one write instead of two on every step.
    let ask = if session.step_count < state.settings.max_steps && state.pilot.uses_ai() {
        Some(quota::Ask::new(state, user, now).await?)
    } else {
        None
    };
    let claim = state
        .store
        .claim_step(
            SessionId(session.id),
            StepId(current.id),
            now,
            now + claim_for,
            ask.as_ref().map(|a| &a.counters),
        )
        .await?;
    let reservation = match (claim, &ask) {
        (StepClaim::Claimed, Some(ask)) => ask.granted(state),
        (StepClaim::Claimed, None) => quota::Reservation::none(),
        (StepClaim::Taken, _) => {
            return Err(ApiError::Conflict(
                "This step is being answered by another request".into(),
            ))
        }
        (StepClaim::OverQuota(limit), Some(ask)) => return Err(ask.refused(state, limit).await),
        (StepClaim::OverQuota(_), None) => {
            return Err(ApiError::internal(
                "the quota refused a step that asked for no provider call",
            ))
        }
    };
    // From here on, a way out that does not store the answer lets go of the claim, so the
    // same request can be sent again at once (api.md: a failed call changes nothing).
    let step_id = StepId(current.id);
    let claim = HeldClaim::new(state, step_id);
    match answer_claimed(
        state,
        user,
        window,
        step_id,
        answer,
        marks,
        reservation,
        sink,
    )
    .await
    {
        Ok(answered) => {
            claim.answered();
            Ok(answered)
        }
        Err(err) => {
            claim.release().await;
            Err(err)
        }
    }
}

/// Produces the next step after the answer to the claimed step and stores both; or, when
/// the pilot could not tell what the answer means, keeps it on the step as an observation.
#[allow(clippy::too_many_arguments)]
async fn answer_claimed(
    state: &AppState,
    user: &User,
    window: &SessionWindow,
    step_id: StepId,
    answer: Answer,
    marks: StepMarks,
    reservation: quota::Reservation,
    sink: Option<&dyn StepTextSink>,
) -> Result<Answered, ApiError> {
    let session = &window.session;
    let told = (answer.clone(), marks.clone());
    let (next, advance, usage, reservation) =
        match produce_next(state, user, window, told, reservation, sink).await? {
            Produced::Next {
                next,
                advance,
                usage,
                reservation,
            } => (next, advance, usage, reservation),
            Produced::Clarify {
                clarification,
                usage,
                reservation,
            } => {
                if !marks.is_empty() {
                    // What was said of the step is kept even while its answer is unclear.
                    state
                        .store
                        .mark_step(SessionId(session.id), step_id, &marks, Utc::now())
                        .await?;
                }
                return observe(
                    state,
                    user,
                    window,
                    answer,
                    clarification,
                    usage,
                    reservation,
                )
                .await;
            }
        };
    let response = Response {
        answer,
        responded_at: Utc::now(),
    };
    let records = ledger::records(user, Some(session.id), &usage);
    let Some(session) = state
        .store
        .answer_step_marked(
            SessionId(session.id),
            step_id,
            &response,
            next.as_ref(),
            &advance,
            &records,
            &marks,
        )
        .await?
    else {
        return Err(ApiError::Conflict(
            "This step was answered by another request".into(),
        ));
    };
    ledger::settle(state, user, &usage, reservation).await;
    if let Some((flow_id, _, _)) = &advance.matched_flow {
        state.catalog.record_match(*flow_id).await;
    }
    Ok(Answered {
        session,
        next,
        clarification: None,
    })
}

/// Keeps an unclear answer on the step it was given to (the step stays unanswered, and the
/// claim is let go with the same write) and answers with that step and the clarification.
async fn observe(
    state: &AppState,
    user: &User,
    window: &SessionWindow,
    answer: Answer,
    clarification: String,
    usage: Vec<engine::Usage>,
    reservation: quota::Reservation,
) -> Result<Answered, ApiError> {
    let session = &window.session;
    let Some(mut step) = window.steps.last().cloned() else {
        return Err(ApiError::internal("a clarification without a step"));
    };
    step.observations.extend(answer.free_text_input);
    step.clarification = Some(clarification.clone());
    let records = ledger::records(user, Some(session.id), &usage);
    let Some(session) = state
        .store
        .observe_step(
            SessionId(session.id),
            StepId(step.id),
            &step.observations,
            &clarification,
            Utc::now(),
            &records,
        )
        .await?
    else {
        return Err(ApiError::Conflict(
            "This step was answered by another request".into(),
        ));
    };
    ledger::settle(state, user, &usage, reservation).await;
    Ok(Answered {
        session,
        next: Some(step),
        clarification: Some(clarification),
    })
}

/// A step claimed by this request. Dropped before it is answered or released (a client that
/// went away mid-call) it is released in the background; releasing touches only a step that
/// is still unanswered.
struct HeldClaim {
    store: Option<store::Store>,
    step_id: StepId,
}

impl HeldClaim {
    fn new(state: &AppState, step_id: StepId) -> Self {
        HeldClaim {
            store: Some(state.store.clone()),
            step_id,
        }
    }

    fn answered(mut self) {
        self.store = None;
    }

    /// Releases the claim before the failure is answered, so a retry finds the step free.
    async fn release(mut self) {
        if let Some(store) = self.store.take() {
            let_go(&store, self.step_id).await;
        }
    }
}

async fn let_go(store: &store::Store, step_id: StepId) {
    if let Err(err) = store.release_step(step_id).await {
        tracing::warn!(%err, "could not release a step claim");
    }
}

impl Drop for HeldClaim {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let step_id = self.step_id;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { let_go(&store, step_id).await });
            }
            Err(_) => tracing::error!("a step claim was dropped outside a runtime"),
        }
    }
}

/// What the pilot made of the answer.
// Made once per answer and taken apart at once: boxing the step would save nothing.
#[allow(clippy::large_enum_variant)]
enum Produced {
    Next {
        next: Option<Step>,
        advance: StepAdvance,
        usage: Vec<engine::Usage>,
        reservation: quota::Reservation,
    },
    Clarify {
        clarification: String,
        usage: Vec<engine::Usage>,
        reservation: quota::Reservation,
    },
}

/// The next step after `answer`, produced with the provider call `reservation` holds quota
/// for (none when the step limit is reached or the engine is offline).
async fn produce_next(
    state: &AppState,
    user: &User,
    window: &SessionWindow,
    (answer, marks): (Answer, StepMarks),
    reservation: quota::Reservation,
    sink: Option<&dyn StepTextSink>,
) -> Result<Produced, ApiError> {
    let (session, steps) = (&window.session, window.steps.as_slice());
    // The session row's count, which the claim checked is the answered step's position.
    let count = session.step_count;
    if count >= state.settings.max_steps {
        // The last allowed step is answered: no next step; the session stays active for
        // resolve or escalate.
        let advance = StepAdvance {
            confidence_score: session.confidence_score,
            matched_flow: None,
            input_tokens: 0,
            output_tokens: 0,
        };
        return Ok(Produced::Next {
            next: None,
            advance,
            usage: Vec::new(),
            reservation,
        });
    }
    // After a briefing, the step the first engineer stopped at, as it was: no pilot call.
    if let Some(resumed) = steps
        .last()
        .and_then(|answered| super::escalation::resumed_after(session, answered))
    {
        let advance = StepAdvance {
            confidence_score: resumed.output.confidence,
            matched_flow: None,
            input_tokens: 0,
            output_tokens: 0,
        };
        return Ok(Produced::Next {
            next: Some(resumed),
            advance,
            usage: Vec::new(),
            reservation,
        });
    }
    let earlier = earlier_steps(steps)?;
    let mut recent = history::history(steps);
    let skipped = answer.skipped;
    if let Some(last) = recent.last_mut() {
        last.answer = Some(answer);
        last.marks = marks;
    }
    let told = History {
        earlier: &earlier,
        recent: &recent,
    };
    if told.len() as i64 != count {
        return Err(ApiError::internal(format!(
            "session {} has {} steps on record but step_count {count}",
            session.id,
            told.len()
        )));
    }
    let intake = &session.intake;
    let matched = match session.matched_flow_id {
        Some(id) => state
            .catalog
            .followed_flow(
                session.account_id,
                id,
                session.matched_flow_version,
                Some(window.flows_revision),
            )
            .await
            .map(|flow| MatchedFlow {
                flow,
                score: session.match_score.unwrap_or(0.0),
            }),
        None => None,
    };
    let input = PilotInput {
        account_id: session.account_id,
        intake,
        matched: matched.as_ref(),
        history: told,
        remaining_after: state.settings.max_steps - count - 1,
    };
    let produced = match sink {
        Some(sink) => state.pilot.next_step_forming(input, sink).await,
        None => state.pilot.next_step(input).await,
    };
    let step = match produced {
        Ok(Reply::Next(step)) => step,
        Ok(Reply::Clarify {
            clarification,
            usage,
        }) => {
            return Ok(Produced::Clarify {
                clarification,
                usage,
                reservation,
            })
        }
        Err(err) => {
            ledger::record_reserved(state, user, Some(session.id), err.usage(), reservation).await;
            return Err(pilot_failure(err));
        }
    };
    let (input_tokens, output_tokens) = ledger::tokens(&step.usage);
    // The next step's summary of what came before it: the answered step's, plus that step.
    let earlier = steps
        .last()
        .and_then(|a| a.earlier.as_ref().map(|e| e.then(&a.output, skipped)));
    let advance = StepAdvance {
        confidence_score: step.output.confidence,
        matched_flow: step
            .rematched
            .as_ref()
            .map(|m| (m.flow.id, m.flow.definition.title.clone(), m.score)),
        input_tokens,
        output_tokens,
    };
    let next = Step {
        id: Uuid::new_v4(),
        session_id: session.id,
        step_order: count + 1,
        output: step.output,
        engine_state: step.state,
        response: None,
        earlier,
        observations: Vec::new(),
        clarification: None,
        confidence_reasons: step.confidence_reasons,
        marks: Default::default(),
        created_at: Utc::now(),
    };
    Ok(Produced::Next {
        next: Some(next),
        advance,
        usage: step.usage,
        reservation,
    })
}

/// The steps before `window`, in brief: the summary the oldest step of the window carries
/// (every step row has one; migration 0006 gave it to the steps stored before it was kept).
fn earlier_steps(window: &[Step]) -> Result<EarlierSteps, ApiError> {
    let Some(first) = window.first().filter(|s| s.step_order > 1) else {
        return Ok(EarlierSteps::default());
    };
    match &first.earlier {
        Some(earlier) if earlier.steps == first.step_order - 1 => Ok(earlier.clone()),
        _ => Err(ApiError::internal(format!(
            "step {} of session {} carries no summary of the {} steps before it",
            first.step_order,
            first.session_id,
            first.step_order - 1
        ))),
    }
}

pub fn is_resolution(step: Option<&Step>) -> bool {
    step.is_some_and(|s| s.output.step_type == StepType::ResolutionSuggestion)
}
