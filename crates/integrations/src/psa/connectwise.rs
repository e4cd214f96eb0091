//! ConnectWise PSA (Manage) over its REST API 3.0: an API member's keys in Basic auth plus
//! the integration's `clientId` header; notes are plain text with three flags that decide who
//! sees them.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use domain::psa::{
    ConnectWiseCredentials, ConnectionCheck, Contact, Member, Note, NoteVisibility, PsaClient,
    PsaError, PsaKind, RemoteId, StatusChange, Ticket, TicketNote, TicketQuery, TicketSummary,
    TimeEntry, RECENT_NOTES,
};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::Method;
use serde_json::{json, Value};

use super::http::{
    api_root, created_id, find_marked, id_string, numbered_page, numeric_id, secret_header,
    str_field, web_root, Http,
};
use super::text::{plain_with_marker, within_with_marker};

const API_ROOT: &str = "v4_6_release/apis/3.0";
/// ConnectWise's page size ceiling.
const MAX_PAGE: u32 = 1000;
/// CW rejects timestamps with fractions of a second.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
/// Time entry notes are long text in ConnectWise; keep them to a readable summary.
const TIME_NOTES_MAX: usize = 4000;

pub struct ConnectWiseClient {
    http: Http,
    root: String,
    web: String,
    company_id: String,
    headers: HeaderMap,
}

impl ConnectWiseClient {
    pub fn new(
        base_url: &str,
        credentials: &ConnectWiseCredentials,
        timeout: Duration,
    ) -> Result<Self, PsaError> {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}+{}:{}",
            credentials.company_id, credentials.public_key, credentials.private_key
        ));
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            secret_header(&format!("Basic {basic}"), "API member's key pair")?,
        );
        headers.insert(
            "clientId",
            secret_header(&credentials.client_id, "client id")?,
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = Http::new(
            PsaKind::ConnectWise,
            timeout,
            &[&credentials.public_key, &credentials.private_key, &basic],
        )?;
        let root = api_root(base_url, API_ROOT);
        let web = web_url(&web_root(base_url, API_ROOT));
        Ok(Self {
            http,
            root,
            web,
            company_id: credentials.company_id.clone(),
            headers,
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .client
            .request(method, format!("{}{path}", self.root))
            .headers(self.headers.clone())
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<Value, PsaError> {
        self.http
            .send(self.request(Method::GET, path).query(query), what)
            .await
    }

    async fn notes(&self, ticket: u64) -> Result<Vec<Value>, PsaError> {
        let notes = self
            .get(
                &format!("/service/tickets/{ticket}/notes"),
                &[
                    ("orderBy", "id desc".into()),
                    ("pageSize", MAX_PAGE.to_string()),
                ],
                &format!("the notes of ticket {ticket}"),
            )
            .await?;
        array(notes, "ticket notes")
    }

    fn ticket_url(&self, ticket: &str) -> String {
        format!(
            "{}/v4_6_release/services/system_io/Service/fv_sr100_request.rsvc?service_recid={ticket}&companyName={}",
            self.web, self.company_id
        )
    }

    /// A status id from the setting: digits as they are, a name looked up on the ticket's board
    /// (CW statuses belong to a board).
    async fn status_id(&self, ticket: u64, change: &StatusChange) -> Result<i64, PsaError> {
        if let Some(id) = change.id() {
            return Ok(id);
        }
        let current = self
            .get(
                &format!("/service/tickets/{ticket}"),
                &[],
                &format!("ticket {ticket}"),
            )
            .await?;
        let board = id_string(current.pointer("/board/id"))
            .ok_or_else(|| PsaError::InvalidResponse(format!("ticket {ticket} has no board")))?;
        let statuses = self
            .get(
                &format!("/service/boards/{board}/statuses"),
                &[("pageSize", MAX_PAGE.to_string())],
                &format!("the statuses of board {board}"),
            )
            .await?;
        let wanted = change.status.trim();
        array(statuses, "board statuses")?
            .iter()
            .find(|s| {
                s.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case(wanted))
            })
            .and_then(|s| s.get("id").and_then(Value::as_i64))
            .ok_or_else(|| {
                PsaError::Misconfigured(format!(
                    "ConnectWise has no status named {wanted:?} on the board of ticket {ticket}; \
                     set the connection's status to one of that board's statuses or to its id"
                ))
            })
    }
}

/// ConnectWise's cloud serves the API from `api-{region}.myconnectwise.net` and the web UI
/// from `{region}.myconnectwise.net`; a server of one's own serves both.
fn web_url(api: &str) -> String {
    match api.split_once("://api-") {
        Some((scheme, rest)) => format!("{scheme}://{rest}"),
        None => api.to_string(),
    }
}

fn array(value: Value, what: &str) -> Result<Vec<Value>, PsaError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(PsaError::InvalidResponse(format!(
            "{what}: expected a list"
        ))),
    }
}

/// CW conditions quote strings with `"`; a search text cannot break out of them.
fn condition_text(q: &str) -> String {
    q.chars().filter(|c| !matches!(c, '"' | '\\')).collect()
}

fn summary_of(ticket: &Value) -> Option<TicketSummary> {
    let id = id_string(ticket.get("id"))?;
    Some(TicketSummary {
        number: id.clone(),
        id,
        summary: str_field(ticket, "/summary").unwrap_or_default(),
        company: str_field(ticket, "/company/name"),
        status: str_field(ticket, "/status/name"),
    })
}

fn member_name(note: &Value) -> Option<String> {
    str_field(note, "/member/name")
        .or_else(|| str_field(note, "/contact/name"))
        .or_else(|| str_field(note, "/createdBy"))
}

#[async_trait]
impl PsaClient for ConnectWiseClient {
    fn kind(&self) -> PsaKind {
        PsaKind::ConnectWise
    }

    async fn test_connection(&self) -> Result<ConnectionCheck, PsaError> {
        let page = self
            .get(
                "/service/tickets",
                &[
                    ("conditions", "closedFlag=false".into()),
                    ("pageSize", "1".into()),
                ],
                "the open tickets",
            )
            .await?;
        let seen = array(page, "tickets")?.len();
        Ok(ConnectionCheck {
            detail: format!(
                "connected to ConnectWise PSA as company {}; {}",
                self.company_id,
                if seen == 0 {
                    "no open ticket yet"
                } else {
                    "open tickets readable"
                }
            ),
        })
    }

    async fn list_open_tickets(&self, query: &TicketQuery) -> Result<Vec<TicketSummary>, PsaError> {
        let mut conditions = "closedFlag=false".to_string();
        if let Some(q) = query.search() {
            conditions.push_str(&format!(" and summary contains \"{}\"", condition_text(q)));
        }
        let (page, page_size, drop) = numbered_page(query, MAX_PAGE);
        let tickets = self
            .get(
                "/service/tickets",
                &[
                    ("conditions", conditions),
                    ("orderBy", "id desc".into()),
                    ("page", page.to_string()),
                    ("pageSize", page_size.to_string()),
                    ("fields", "id,summary,company/name,status/name".into()),
                ],
                "the open tickets",
            )
            .await?;
        Ok(array(tickets, "tickets")?
            .iter()
            .skip(drop)
            .filter_map(summary_of)
            .take(query.page_size() as usize)
            .collect())
    }

    async fn read_ticket(&self, ticket_id: &str) -> Result<Ticket, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let ticket = self
            .get(
                &format!("/service/tickets/{id}"),
                &[],
                &format!("ticket {id}"),
            )
            .await?;
        let mut notes = self.notes(id).await?;
        notes.sort_by_key(|n| std::cmp::Reverse(n.get("id").and_then(Value::as_i64).unwrap_or(0)));
        // The description is the ticket's first "detail description" note.
        let description_at = notes
            .iter()
            .rposition(|n| n.get("detailDescriptionFlag").and_then(Value::as_bool) == Some(true));
        let description = description_at
            .map(|at| notes.remove(at))
            .and_then(|n| str_field(&n, "/text"))
            .unwrap_or_default();
        let recent = notes
            .iter()
            .take(RECENT_NOTES)
            .map(|n| TicketNote {
                author: member_name(n),
                text: str_field(n, "/text").unwrap_or_default(),
                created_at: str_field(n, "/dateCreated"),
                internal: n.get("internalAnalysisFlag").and_then(Value::as_bool) == Some(true),
            })
            .collect();
        // Configuration items are an extra that an API member without that permission must not
        // turn into a failed intake.
        let configuration_items = match self
            .get(
                &format!("/service/tickets/{id}/configurations"),
                &[("pageSize", "100".into())],
                &format!("the configurations of ticket {id}"),
            )
            .await
        {
            Ok(Value::Array(items)) => items
                .iter()
                .filter_map(|c| str_field(c, "/deviceIdentifier").or_else(|| str_field(c, "/name")))
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::debug!(error = %e, ticket = id, "ConnectWise configurations not read");
                Vec::new()
            }
        };
        let contact = str_field(&ticket, "/contact/name")
            .or_else(|| str_field(&ticket, "/contactName"))
            .map(|name| Contact {
                name,
                email: str_field(&ticket, "/contactEmailAddress"),
            });
        Ok(Ticket {
            id: id.to_string(),
            number: id.to_string(),
            summary: str_field(&ticket, "/summary").unwrap_or_default(),
            description,
            notes: recent,
            company: str_field(&ticket, "/company/name"),
            contact,
            configuration_items,
            status: str_field(&ticket, "/status/name"),
            url: Some(self.ticket_url(&id.to_string())),
        })
    }

    async fn list_members(&self) -> Result<Vec<Member>, PsaError> {
        let members = self
            .get(
                "/system/members",
                &[
                    ("conditions", "inactiveFlag=false".into()),
                    ("pageSize", MAX_PAGE.to_string()),
                    (
                        "fields",
                        "id,identifier,firstName,lastName,primaryEmail".into(),
                    ),
                ],
                "the members",
            )
            .await?;
        Ok(array(members, "members")?
            .iter()
            .filter_map(|m| {
                let id = id_string(m.get("id"))?;
                let full = [str_field(m, "/firstName"), str_field(m, "/lastName")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                let name = if full.is_empty() {
                    str_field(m, "/identifier").unwrap_or_else(|| id.clone())
                } else {
                    full
                };
                Some(Member {
                    id,
                    name,
                    email: str_field(m, "/primaryEmail"),
                })
            })
            .collect())
    }

    async fn post_note(&self, ticket_id: &str, note: &Note) -> Result<RemoteId, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let internal = note.visibility == NoteVisibility::Internal;
        let body = json!({
            "text": plain_with_marker(&note.text, &Note::marker_line(&note.marker)),
            "internalAnalysisFlag": internal,
            "detailDescriptionFlag": !internal,
            "resolutionFlag": note.resolution,
        });
        let created = self
            .http
            .send(
                self.request(Method::POST, &format!("/service/tickets/{id}/notes"))
                    .json(&body),
                &format!("ticket {id}"),
            )
            .await?;
        Ok(RemoteId(created_id(&created, &["id"], "the note")?))
    }

    async fn find_note(&self, ticket_id: &str, marker: &str) -> Result<Option<RemoteId>, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        Ok(find_marked(&self.notes(id).await?, &["text"], marker))
    }

    async fn post_time_entry(
        &self,
        ticket_id: &str,
        entry: &TimeEntry,
    ) -> Result<RemoteId, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let member = numeric_id(&entry.member_id, "member")?;
        let body = json!({
            "chargeToId": id,
            "chargeToType": "ServiceTicket",
            "timeStart": entry.start.format(TIME_FORMAT).to_string(),
            "timeEnd": entry.end.format(TIME_FORMAT).to_string(),
            "notes": within_with_marker(&entry.notes, &Note::marker_line(&entry.marker), TIME_NOTES_MAX),
            "member": {"id": member},
        });
        let created = self
            .http
            .send(
                self.request(Method::POST, "/time/entries").json(&body),
                &format!("ticket {id}"),
            )
            .await?;
        Ok(RemoteId(created_id(&created, &["id"], "the time entry")?))
    }

    async fn find_time_entry(
        &self,
        ticket_id: &str,
        marker: &str,
    ) -> Result<Option<RemoteId>, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let entries = self
            .get(
                "/time/entries",
                &[
                    (
                        "conditions",
                        format!("chargeToId={id} and chargeToType=\"ServiceTicket\""),
                    ),
                    ("orderBy", "id desc".into()),
                    ("pageSize", MAX_PAGE.to_string()),
                ],
                &format!("the time entries of ticket {id}"),
            )
            .await?;
        Ok(find_marked(
            &array(entries, "time entries")?,
            &["notes"],
            marker,
        ))
    }

    async fn set_status(&self, ticket_id: &str, change: &StatusChange) -> Result<(), PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let status = self.status_id(id, change).await?;
        let patch = json!([{"op": "replace", "path": "status", "value": {"id": status}}]);
        self.http
            .send(
                self.request(Method::PATCH, &format!("/service/tickets/{id}"))
                    .json(&patch),
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
    fn links_go_to_the_web_ui() {
        assert_eq!(
            web_url("https://api-eu.myconnectwise.net"),
            "https://eu.myconnectwise.net"
        );
        assert_eq!(web_url("https://cw.msp.example"), "https://cw.msp.example");
    }

    #[test]
    fn search_text_stays_inside_its_quotes() {
        assert_eq!(condition_text(r#"vpn" or id>0 \"#), "vpn or id>0 ");
    }
}
