//! HaloPSA over its REST API: an OAuth2 client-credentials token cached until it expires,
//! writes as lists (`POST /Actions [{…}]`, `POST /Tickets [{…}]`, Halo's upsert shape), notes
//! as HTML, and time recorded on the action itself (`timetaken`).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::psa::{
    ConnectionCheck, Contact, HaloCredentials, Member, Note, NoteVisibility, PsaClient, PsaError,
    PsaKind, RemoteId, StatusChange, Ticket, TicketNote, TicketQuery, TicketSummary, TimeEntry,
    RECENT_NOTES,
};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Mutex;

use super::http::{
    api_root, created_id, id_string, numbered_page, numeric_id, secret_header, str_field, web_root,
    Http,
};
use super::text::{html_to_text, html_with_marker};

const API_ROOT: &str = "api";
/// A page size Halo serves without complaint.
const MAX_PAGE: u32 = 500;

/// A bearer token and when to stop using it.
struct Token {
    value: String,
    usable_until: Instant,
}

/// The token of one Halo application, shared by every client of it (see
/// [`crate::psa::PsaConnector`]). The lock is held while a token is fetched, so concurrent
/// calls wait for one token request instead of each making their own.
#[derive(Default)]
pub struct TokenCache {
    token: Mutex<Option<Token>>,
}

pub struct HaloClient {
    http: Http,
    root: String,
    web: String,
    token_url: String,
    credentials: HaloCredentials,
    tokens: Arc<TokenCache>,
}

/// Renew a little before Halo's expiry, so a token does not lapse between check and use.
fn usable_for(expires_in: u64) -> Duration {
    let lifetime = Duration::from_secs(expires_in);
    lifetime - (lifetime / 10).min(Duration::from_secs(60))
}

impl HaloClient {
    pub fn new(
        base_url: &str,
        credentials: &HaloCredentials,
        timeout: Duration,
        tokens: Arc<TokenCache>,
    ) -> Result<Self, PsaError> {
        let http = Http::new(PsaKind::Halo, timeout, &[&credentials.client_secret])?;
        let root = api_root(base_url, API_ROOT);
        let web = web_root(base_url, API_ROOT);
        Ok(Self {
            http,
            token_url: format!("{web}/auth/token"),
            root,
            web,
            credentials: credentials.clone(),
            tokens,
        })
    }

    async fn token(&self) -> Result<String, PsaError> {
        let mut cached = self.tokens.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.usable_until) {
            return Ok(token.value.clone());
        }
        let token = self.fetch_token().await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Drops `used` from the cache, unless another call already replaced it.
    async fn forget(&self, used: &str) {
        let mut cached = self.tokens.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == used) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<Token, PsaError> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.credentials.client_id.as_str()),
            ("client_secret", self.credentials.client_secret.as_str()),
            ("scope", "all"),
        ];
        let mut request = self.http.client.post(&self.token_url);
        // Halo-hosted instances name the tenant on the token request.
        if let Some(tenant) = self.credentials.tenant.as_deref() {
            request = request.query(&[("tenant", tenant)]);
            form.push(("tenant", tenant));
        }
        let answer = match self.http.send(request.form(&form), "the token endpoint").await {
            Ok(answer) => answer,
            // Halo answers a wrong client id or secret with 400 `invalid_client`.
            Err(PsaError::Rejected { status: 400, message })
                if message.contains("invalid_client") || message.contains("unauthorized_client") || message.contains("invalid_grant") =>
            {
                return Err(PsaError::Unauthorized {
                    kind: PsaKind::Halo,
                    status: 400,
                    hint: PsaKind::Halo.credentials_hint(false),
                })
            }
            Err(PsaError::NotFound { .. }) => {
                return Err(PsaError::Misconfigured(format!(
                    "no HaloPSA token endpoint at {}: base_url should be the address of the Halo instance",
                    self.token_url
                )))
            }
            Err(e) => return Err(e),
        };
        let value = str_field(&answer, "/access_token").ok_or_else(|| {
            PsaError::InvalidResponse("the token answer carries no access_token".into())
        })?;
        let expires_in = answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        Ok(Token {
            value,
            usable_until: Instant::now() + usable_for(expires_in),
        })
    }

    /// One API call with the cached token; a 401 (the token revoked or expired early) gets one
    /// new token and one more try. A 401 means nothing was applied, so a write may repeat.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, PsaError> {
        let build = |token: &str| -> Result<RequestBuilder, PsaError> {
            let mut request = self
                .http
                .client
                .request(method.clone(), format!("{}{path}", self.root))
                .header(
                    AUTHORIZATION,
                    secret_header(&format!("Bearer {token}"), "token")?,
                )
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            Ok(request)
        };
        let token = self.token().await?;
        match self.http.send(build(&token)?, what).await {
            Err(PsaError::Unauthorized { status: 401, .. }) => {
                self.forget(&token).await;
                let token = self.token().await?;
                self.http.send(build(&token)?, what).await
            }
            other => other,
        }
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<Value, PsaError> {
        self.call(Method::GET, path, query, None, what).await
    }

    async fn actions(&self, ticket: u64) -> Result<Vec<Value>, PsaError> {
        let answer = self
            .get(
                "/Actions",
                &[("ticket_id", ticket.to_string())],
                &format!("the actions of ticket {ticket}"),
            )
            .await?;
        list(&answer, "actions")
    }

    async fn post_action(&self, action: Value, what: &str) -> Result<RemoteId, PsaError> {
        let created = self
            .call(Method::POST, "/Actions", &[], Some(&json!([action])), what)
            .await?;
        Ok(RemoteId(created_id(&created, &["id"], "the action")?))
    }

    async fn statuses(&self) -> Result<Vec<Value>, PsaError> {
        let answer = self.get("/Status", &[], "the ticket statuses").await?;
        list(&answer, "statuses")
    }

    async fn status_name(&self, id: Option<&Value>) -> Option<String> {
        let id = id_string(id)?;
        match self.statuses().await {
            Ok(statuses) => statuses
                .iter()
                .find(|s| id_string(s.get("id")).as_deref() == Some(id.as_str()))
                .and_then(|s| str_field(s, "/name")),
            Err(e) => {
                tracing::debug!(error = %e, "Halo statuses not read");
                None
            }
        }
    }

    fn find_marked(actions: &[Value], marker: &str) -> Option<RemoteId> {
        super::http::find_marked(actions, &["note", "note_html"], marker)
    }
}

/// Halo answers lists bare or wrapped (`{"tickets": […]}`, `{"actions": […]}`).
fn list(answer: &Value, key: &str) -> Result<Vec<Value>, PsaError> {
    match answer {
        Value::Array(items) => Ok(items.clone()),
        other => other
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| PsaError::InvalidResponse(format!("{key}: expected a list"))),
    }
}

#[async_trait]
impl PsaClient for HaloClient {
    fn kind(&self) -> PsaKind {
        PsaKind::Halo
    }

    async fn test_connection(&self) -> Result<ConnectionCheck, PsaError> {
        self.tokens.token.lock().await.take();
        let page = self
            .get(
                "/Tickets",
                &[
                    ("open_only", "true".into()),
                    ("pageinate", "true".into()),
                    ("page_size", "1".into()),
                    ("page_no", "1".into()),
                ],
                "the open tickets",
            )
            .await?;
        let seen = list(&page, "tickets")?.len();
        Ok(ConnectionCheck {
            detail: format!(
                "connected to HaloPSA (token issued); {}",
                if seen == 0 {
                    "no open ticket yet"
                } else {
                    "open tickets readable"
                }
            ),
        })
    }

    async fn list_open_tickets(&self, query: &TicketQuery) -> Result<Vec<TicketSummary>, PsaError> {
        let limit = query.page_size();
        let (page_no, page_size, drop) = numbered_page(query, MAX_PAGE);
        let mut params = vec![
            ("open_only", "true".to_string()),
            ("pageinate", "true".into()),
            ("page_size", page_size.to_string()),
            ("page_no", page_no.to_string()),
            ("order", "id".into()),
            ("orderdesc", "true".into()),
        ];
        if let Some(q) = query.search() {
            params.push(("search", q.to_string()));
        }
        let answer = self.get("/Tickets", &params, "the open tickets").await?;
        let tickets = list(&answer, "tickets")?;
        let statuses = if tickets.iter().any(|t| t.get("status_name").is_none()) {
            self.statuses().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(tickets
            .iter()
            .skip(drop)
            .take(limit as usize)
            .filter_map(|t| {
                let id = id_string(t.get("id"))?;
                let status_id = id_string(t.get("status_id"));
                let status = str_field(t, "/status_name").or_else(|| {
                    statuses
                        .iter()
                        .find(|s| id_string(s.get("id")) == status_id)
                        .and_then(|s| str_field(s, "/name"))
                });
                Some(TicketSummary {
                    number: id.clone(),
                    id,
                    summary: str_field(t, "/summary").unwrap_or_default(),
                    company: str_field(t, "/client_name"),
                    status,
                })
            })
            .collect())
    }

    async fn read_ticket(&self, ticket_id: &str) -> Result<Ticket, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let ticket = self
            .get(
                &format!("/Tickets/{id}"),
                &[("includedetails", "true".into())],
                &format!("ticket {id}"),
            )
            .await?;
        let mut actions = self.actions(id).await?;
        actions
            .sort_by_key(|a| std::cmp::Reverse(a.get("id").and_then(Value::as_i64).unwrap_or(0)));
        let notes = actions
            .iter()
            .filter_map(|a| {
                let text = str_field(a, "/note_html")
                    .or_else(|| str_field(a, "/note"))
                    .map(|t| html_to_text(&t))
                    .filter(|t| !t.is_empty())?;
                Some(TicketNote {
                    author: str_field(a, "/who"),
                    text,
                    created_at: str_field(a, "/datetime"),
                    internal: a.get("hiddenfromuser").and_then(Value::as_bool) == Some(true),
                })
            })
            .take(RECENT_NOTES)
            .collect();
        let configuration_items = ticket
            .get("assets")
            .and_then(Value::as_array)
            .map(|assets| {
                assets
                    .iter()
                    .filter_map(|a| {
                        str_field(a, "/inventory_number")
                            .or_else(|| str_field(a, "/key_field"))
                            .or_else(|| id_string(a.get("id")).map(|id| format!("asset {id}")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let status = match str_field(&ticket, "/status_name") {
            Some(name) => Some(name),
            None => self.status_name(ticket.get("status_id")).await,
        };
        let description = str_field(&ticket, "/details_html")
            .or_else(|| str_field(&ticket, "/details"))
            .map(|d| html_to_text(&d))
            .unwrap_or_default();
        Ok(Ticket {
            id: id.to_string(),
            number: id.to_string(),
            summary: str_field(&ticket, "/summary").unwrap_or_default(),
            description,
            notes,
            company: str_field(&ticket, "/client_name"),
            contact: str_field(&ticket, "/user_name").map(|name| Contact {
                name,
                email: str_field(&ticket, "/user_email")
                    .or_else(|| str_field(&ticket, "/emailaddress")),
            }),
            configuration_items,
            status,
            url: Some(format!("{}/ticket?id={id}", self.web)),
        })
    }

    async fn list_members(&self) -> Result<Vec<Member>, PsaError> {
        let answer = self.get("/Agent", &[], "the agents").await?;
        Ok(list(&answer, "agents")?
            .iter()
            .filter(|a| a.get("isdisabled").and_then(Value::as_bool) != Some(true))
            .filter_map(|a| {
                let id = id_string(a.get("id"))?;
                Some(Member {
                    name: str_field(a, "/name").unwrap_or_else(|| id.clone()),
                    id,
                    email: str_field(a, "/email"),
                })
            })
            .collect())
    }

    async fn post_note(&self, ticket_id: &str, note: &Note) -> Result<RemoteId, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let action = json!({
            "ticket_id": id,
            "note": html_with_marker(&note.text, &Note::marker_line(&note.marker)),
            "hiddenfromuser": note.visibility == NoteVisibility::Internal,
            "outcome": if note.resolution { "FlowPilot resolution" } else { "FlowPilot note" },
        });
        self.post_action(action, &format!("ticket {id}")).await
    }

    async fn find_note(&self, ticket_id: &str, marker: &str) -> Result<Option<RemoteId>, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        Ok(Self::find_marked(&self.actions(id).await?, marker))
    }

    /// Halo keeps time on actions: with the note's action known, its `timetaken` is set (an
    /// update, so repeating it is harmless); otherwise a hidden action of its own carries it.
    async fn post_time_entry(
        &self,
        ticket_id: &str,
        entry: &TimeEntry,
    ) -> Result<RemoteId, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let agent = numeric_id(&entry.member_id, "agent")?;
        let action = match entry.on_note.as_deref() {
            // The agent too: Halo books an action's time to its agent, and the note was
            // posted by the API's own user.
            Some(note) => json!({
                "id": numeric_id(note, "action")?,
                "ticket_id": id,
                "timetaken": entry.hours(),
                "who_agentid": agent,
            }),
            None => json!({
                "ticket_id": id,
                "note": html_with_marker(&entry.notes, &Note::marker_line(&entry.marker)),
                "hiddenfromuser": true,
                "outcome": "FlowPilot time",
                "timetaken": entry.hours(),
                "who_agentid": agent,
            }),
        };
        self.post_action(action, &format!("ticket {id}")).await
    }

    async fn find_time_entry(
        &self,
        ticket_id: &str,
        marker: &str,
    ) -> Result<Option<RemoteId>, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        Ok(Self::find_marked(&self.actions(id).await?, marker))
    }

    async fn set_status(&self, ticket_id: &str, change: &StatusChange) -> Result<(), PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let status = match change.id() {
            Some(status) => status,
            None => {
                let wanted = change.status.trim();
                self.statuses()
                    .await?
                    .iter()
                    .find(|s| {
                        str_field(s, "/name").is_some_and(|n| n.eq_ignore_ascii_case(wanted))
                    })
                    .and_then(|s| s.get("id").and_then(Value::as_i64))
                    .ok_or_else(|| {
                        PsaError::Misconfigured(format!(
                            "HaloPSA has no ticket status named {wanted:?}; set the connection's status to one of Halo's statuses or to its id"
                        ))
                    })?
            }
        };
        self.call(
            Method::POST,
            "/Tickets",
            &[],
            Some(&json!([{"id": id, "status_id": status}])),
            &format!("ticket {id}"),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(usable_for(3600), Duration::from_secs(3540));
        assert_eq!(usable_for(10), Duration::from_secs(9));
        assert_eq!(usable_for(0), Duration::ZERO);
    }
}
