//! Autotask over its REST API: the tenant's zone URL as base, three headers for auth, notes
//! whose type and visibility are the tenant's own picklist values, and at most three requests
//! in flight per endpoint (Autotask's thread limit per integration code).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use domain::psa::{
    AutotaskCredentials, ConnectionCheck, Contact, Member, Note, NoteVisibility, PsaClient,
    PsaError, PsaKind, RemoteId, StatusChange, Ticket, TicketNote, TicketQuery, TicketSummary,
    TimeEntry, RECENT_NOTES,
};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::{OnceCell, Semaphore};

use super::http::{
    api_root, created_id, find_marked, id_string, numeric_id, secret_header, str_field, web_root,
    Http,
};
use super::text::{markdown_to_plain, title_of, within_with_marker};

const API_ROOT: &str = "atservicesrest/v1.0";
/// Autotask's limit of concurrent requests per endpoint and integration.
pub const MAX_CONCURRENT_PER_ENDPOINT: usize = 3;
/// The system value of the "Complete" ticket status, the same in every tenant.
const STATUS_COMPLETE: i64 = 5;
/// Autotask's query ceiling.
const MAX_RECORDS: u32 = 500;
const TITLE_MAX: usize = 250;
const NOTE_MAX: usize = 32_000;
const TIME_NOTES_MAX: usize = 8_000;

/// One semaphore per endpoint, shared by every client of the same integration (zone and
/// integration code): the limit is Autotask's, not one client's.
#[derive(Default)]
pub struct EndpointLimits {
    endpoints: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl EndpointLimits {
    fn semaphore(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut endpoints = match self.endpoints.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the map leaves it intact: keep using it.
            Err(poisoned) => poisoned.into_inner(),
        };
        endpoints
            .entry(endpoint.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_CONCURRENT_PER_ENDPOINT)))
            .clone()
    }
}

/// The endpoint a path counts against: its entity (`/Tickets/42/Notes` → `tickets`).
fn endpoint_of(path: &str) -> &str {
    path.trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or("")
}

/// A picklist from `entityInformation/fields`: value and label of each active entry.
#[derive(Debug, Clone, Default)]
struct Picklist {
    values: Vec<(Value, String, bool)>,
}

impl Picklist {
    fn from_fields(fields: &Value, name: &str, with_system: bool) -> Picklist {
        let values = fields
            .get("fields")
            .and_then(Value::as_array)
            .and_then(|fields| {
                fields.iter().find(|f| {
                    f.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
            .and_then(|f| f.get("picklistValues"))
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter(|v| v.get("isActive").and_then(Value::as_bool) != Some(false))
                    // System note types (workflow notes and the like) are Autotask's own to
                    // set; system statuses (Complete) are everyone's.
                    .filter(|v| {
                        with_system || v.get("isSystem").and_then(Value::as_bool) != Some(true)
                    })
                    .filter_map(|v| {
                        let label = str_field(v, "/label")?;
                        let value = v.get("value")?;
                        // Picklist values arrive as strings of digits; the entities take numbers.
                        let value = match value.as_str().and_then(|s| s.parse::<i64>().ok()) {
                            Some(n) => Value::from(n),
                            None => value.clone(),
                        };
                        let default =
                            v.get("isDefaultValue").and_then(Value::as_bool) == Some(true);
                        Some((value, label, default))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Picklist { values }
    }

    fn labelled(&self, matches: impl Fn(&str) -> bool) -> Option<&Value> {
        self.values
            .iter()
            .find(|(_, label, _)| matches(&label.to_ascii_lowercase()))
            .map(|(value, _, _)| value)
    }

    fn default_value(&self) -> Option<&Value> {
        self.values
            .iter()
            .find(|(_, _, default)| *default)
            .or_else(|| self.values.first())
            .map(|(value, _, _)| value)
    }

    fn label_of(&self, value: &Value) -> Option<String> {
        let wanted = id_string(Some(value))?;
        self.values
            .iter()
            .find(|(v, _, _)| id_string(Some(v)).as_deref() == Some(wanted.as_str()))
            .map(|(_, label, _)| label.clone())
    }
}

/// A `publish` label for internal users only. "Internal & Co-Managed" and the like reach
/// people outside the MSP, so they do not count.
fn internal_only(label: &str) -> bool {
    label.contains("internal")
        && ![
            "co-managed",
            "comanaged",
            "co managed",
            "customer",
            "client",
            "portal",
            "&",
        ]
        .iter()
        .any(|wider| label.contains(wider))
}

/// The picklist values a note is posted with, for one visibility.
#[derive(Debug, Clone, PartialEq)]
struct NoteFlags {
    note_type: Value,
    publish: Value,
}

#[derive(Debug)]
struct NotePicklists {
    note_type: Picklist,
    publish: Picklist,
}

impl NotePicklists {
    /// Internal: the publish value for internal users only ("Internal Only", "Internal Project
    /// Team"), the note type labelled internal where the tenant has one. Customer: the publish
    /// value for all users. A tenant without such a value gets no guess: a wrong visibility
    /// cannot be undone.
    fn flags(&self, visibility: NoteVisibility) -> Result<NoteFlags, PsaError> {
        let publish = match visibility {
            NoteVisibility::Internal => self.publish.labelled(internal_only),
            NoteVisibility::Customer => self
                .publish
                .labelled(|l| l.contains("all") && !l.contains("internal")),
        }
        .cloned()
        .ok_or_else(|| {
            PsaError::Misconfigured(format!(
                "Autotask has no {} value in the ticket notes' publish picklist; FlowPilot will not guess who may read the note",
                match visibility {
                    NoteVisibility::Internal => "\"internal\"",
                    NoteVisibility::Customer => "\"all users\"",
                }
            ))
        })?;
        let note_type = match visibility {
            NoteVisibility::Internal => self.note_type.labelled(|l| l.contains("internal")),
            NoteVisibility::Customer => None,
        }
        .or_else(|| self.note_type.default_value())
        .cloned()
        .ok_or_else(|| {
            PsaError::Misconfigured("Autotask's ticket notes have no note type to post with".into())
        })?;
        Ok(NoteFlags { note_type, publish })
    }
}

pub struct AutotaskClient {
    http: Http,
    root: String,
    web: String,
    headers: HeaderMap,
    limits: Arc<EndpointLimits>,
    note_picklists: OnceCell<Arc<NotePicklists>>,
    ticket_statuses: OnceCell<Arc<Picklist>>,
}

impl AutotaskClient {
    /// `limits` should be shared by every client of one integration code (see
    /// [`crate::psa::PsaConnector`]); a fresh one per client only bounds that client.
    pub fn new(
        base_url: &str,
        credentials: &AutotaskCredentials,
        timeout: Duration,
        limits: Arc<EndpointLimits>,
    ) -> Result<Self, PsaError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "ApiIntegrationCode",
            secret_header(&credentials.integration_code, "integration code")?,
        );
        headers.insert(
            "UserName",
            secret_header(&credentials.username, "username")?,
        );
        headers.insert("Secret", secret_header(&credentials.secret, "secret")?);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = Http::new(
            PsaKind::Autotask,
            timeout,
            &[&credentials.secret, &credentials.integration_code],
        )?;
        let root = api_root(base_url, API_ROOT);
        let web = web_url(&web_root(base_url, API_ROOT));
        Ok(Self {
            http,
            root,
            web,
            headers,
            limits,
            note_picklists: OnceCell::new(),
            ticket_statuses: OnceCell::new(),
        })
    }

    /// Every request goes through here: it waits for a slot of its endpoint first.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, PsaError> {
        let semaphore = self.limits.semaphore(endpoint_of(path));
        let _permit = semaphore
            .acquire_owned()
            .await
            .map_err(|_| PsaError::Transport("the Autotask request limiter was closed".into()))?;
        let mut request = self
            .http
            .client
            .request(method, format!("{}{path}", self.root))
            .headers(self.headers.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        self.http.send(request, what).await
    }

    async fn get(&self, path: &str, what: &str) -> Result<Value, PsaError> {
        self.call(Method::GET, path, None, what).await
    }

    async fn query(&self, entity: &str, body: Value) -> Result<Vec<Value>, PsaError> {
        let answer = self
            .call(
                Method::POST,
                &format!("/{entity}/query"),
                Some(&body),
                &format!("the {entity} query"),
            )
            .await?;
        items(&answer, entity)
    }

    /// `GET /{entity}/{id}`: Autotask answers an unknown id with `{"item": null}`, not a 404.
    async fn item(&self, entity: &str, id: u64, what: &str) -> Result<Value, PsaError> {
        let answer = self.get(&format!("/{entity}/{id}"), what).await?;
        match answer.get("item") {
            Some(item) if item.is_object() => Ok(item.clone()),
            _ => Err(PsaError::NotFound {
                what: what.to_string(),
            }),
        }
    }

    async fn note_picklists(&self) -> Result<Arc<NotePicklists>, PsaError> {
        self.note_picklists
            .get_or_try_init(|| async {
                let fields = self
                    .get(
                        "/TicketNotes/entityInformation/fields",
                        "the ticket note fields",
                    )
                    .await?;
                Ok::<_, PsaError>(Arc::new(NotePicklists {
                    note_type: Picklist::from_fields(&fields, "noteType", false),
                    publish: Picklist::from_fields(&fields, "publish", true),
                }))
            })
            .await
            .cloned()
    }

    async fn ticket_statuses(&self) -> Result<Arc<Picklist>, PsaError> {
        self.ticket_statuses
            .get_or_try_init(|| async {
                let fields = self
                    .get("/Tickets/entityInformation/fields", "the ticket fields")
                    .await?;
                Ok::<_, PsaError>(Arc::new(Picklist::from_fields(&fields, "status", true)))
            })
            .await
            .cloned()
    }

    /// Status labels for display; a list without them is still a list.
    async fn status_label(&self, value: Option<&Value>) -> Option<String> {
        let value = value?;
        match self.ticket_statuses().await {
            Ok(statuses) => statuses.label_of(value),
            Err(e) => {
                tracing::debug!(error = %e, "Autotask ticket statuses not read");
                None
            }
        }
    }

    async fn notes(&self, ticket: u64) -> Result<Vec<Value>, PsaError> {
        let answer = self
            .get(
                &format!("/Tickets/{ticket}/Notes"),
                &format!("the notes of ticket {ticket}"),
            )
            .await?;
        items(&answer, "ticket notes")
    }

    /// Best effort: company, contact and configuration item names are extras of the intake.
    async fn optional_item(&self, entity: &str, id: Option<u64>) -> Option<Value> {
        let id = id?;
        match self.item(entity, id, &format!("{entity} {id}")).await {
            Ok(item) => Some(item),
            Err(e) => {
                tracing::debug!(error = %e, entity, id, "Autotask item not read");
                None
            }
        }
    }

    async fn company_names(&self, ids: Vec<u64>) -> HashMap<String, String> {
        if ids.is_empty() {
            return HashMap::new();
        }
        let body = json!({
            "IncludeFields": ["id", "companyName"],
            "filter": [{"op": "in", "field": "id", "value": ids}],
        });
        match self.query("Companies", body).await {
            Ok(companies) => companies
                .iter()
                .filter_map(|c| Some((id_string(c.get("id"))?, str_field(c, "/companyName")?)))
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "Autotask company names not read");
                HashMap::new()
            }
        }
    }

    async fn status_value(&self, change: &StatusChange) -> Result<Value, PsaError> {
        if let Some(id) = change.id() {
            return Ok(Value::from(id));
        }
        let wanted = change.status.trim().to_ascii_lowercase();
        self.ticket_statuses()
            .await?
            .labelled(|label| label.trim() == wanted)
            .cloned()
            .ok_or_else(|| {
                PsaError::Misconfigured(format!(
                    "Autotask has no ticket status named {:?}; set the connection's status to one of the tenant's statuses or to its id",
                    change.status.trim()
                ))
            })
    }
}

/// The web UI's host for an API zone: `webservices5.autotask.net` → `ww5.autotask.net`.
fn web_url(zone: &str) -> String {
    match zone.split_once("://webservices") {
        Some((scheme, rest)) => format!("{scheme}://ww{rest}"),
        None => zone.to_string(),
    }
}

fn items(answer: &Value, what: &str) -> Result<Vec<Value>, PsaError> {
    answer
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| PsaError::InvalidResponse(format!("{what}: expected `items`")))
}

fn number(value: Option<&Value>) -> Option<u64> {
    id_string(value)?.parse().ok()
}

fn open_filter(q: Option<&str>) -> Value {
    let mut filter = vec![json!({"op": "noteq", "field": "status", "value": STATUS_COMPLETE})];
    if let Some(q) = q {
        filter.push(json!({"op": "contains", "field": "title", "value": q}));
    }
    Value::Array(filter)
}

#[async_trait]
impl PsaClient for AutotaskClient {
    fn kind(&self) -> PsaKind {
        PsaKind::Autotask
    }

    async fn test_connection(&self) -> Result<ConnectionCheck, PsaError> {
        let tickets = self
            .query(
                "Tickets",
                json!({"MaxRecords": 1, "IncludeFields": ["id"], "filter": open_filter(None)}),
            )
            .await?;
        Ok(ConnectionCheck {
            detail: format!(
                "connected to Autotask; {}",
                if tickets.is_empty() {
                    "no open ticket yet"
                } else {
                    "open tickets readable"
                }
            ),
        })
    }

    async fn list_open_tickets(&self, query: &TicketQuery) -> Result<Vec<TicketSummary>, PsaError> {
        let limit = query.page_size();
        // Autotask pages by cursor, not offset: ask for the head and drop the skipped part.
        let wanted = (query.skip + limit).min(MAX_RECORDS);
        let tickets = self
            .query(
                "Tickets",
                json!({
                    "MaxRecords": wanted,
                    "IncludeFields": ["id", "ticketNumber", "title", "status", "companyID"],
                    "filter": open_filter(query.search()),
                }),
            )
            .await?;
        let page: Vec<&Value> = tickets
            .iter()
            .skip(query.skip as usize)
            .take(limit as usize)
            .collect();
        let mut company_ids: Vec<u64> = page
            .iter()
            .filter_map(|t| number(t.get("companyID")))
            .collect();
        company_ids.sort_unstable();
        company_ids.dedup();
        let companies = self.company_names(company_ids).await;
        let mut out = Vec::with_capacity(page.len());
        for ticket in page {
            let Some(id) = id_string(ticket.get("id")) else {
                continue;
            };
            out.push(TicketSummary {
                number: str_field(ticket, "/ticketNumber").unwrap_or_else(|| id.clone()),
                id,
                summary: str_field(ticket, "/title").unwrap_or_default(),
                company: id_string(ticket.get("companyID"))
                    .and_then(|c| companies.get(&c).cloned()),
                status: self.status_label(ticket.get("status")).await,
            });
        }
        Ok(out)
    }

    async fn read_ticket(&self, ticket_id: &str) -> Result<Ticket, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let ticket = self.item("Tickets", id, &format!("ticket {id}")).await?;
        let mut notes = self.notes(id).await?;
        notes.sort_by_key(|n| std::cmp::Reverse(number(n.get("id")).unwrap_or(0)));
        let picklists = self.note_picklists().await.ok();
        let internal_publish = picklists
            .as_ref()
            .and_then(|p| p.publish.labelled(internal_only).cloned());
        let recent = notes
            .iter()
            .take(RECENT_NOTES)
            .map(|n| TicketNote {
                author: None,
                text: [str_field(n, "/title"), str_field(n, "/description")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": "),
                created_at: str_field(n, "/createDateTime"),
                internal: internal_publish.is_some()
                    && n.get("publish") == internal_publish.as_ref(),
            })
            .collect();
        let company = self
            .optional_item("Companies", number(ticket.get("companyID")))
            .await
            .and_then(|c| str_field(&c, "/companyName"));
        let contact = self
            .optional_item("Contacts", number(ticket.get("contactID")))
            .await
            .map(|c| Contact {
                name: [str_field(&c, "/firstName"), str_field(&c, "/lastName")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                email: str_field(&c, "/emailAddress"),
            });
        let configuration_items = self
            .optional_item(
                "ConfigurationItems",
                number(ticket.get("configurationItemID")),
            )
            .await
            .and_then(|ci| {
                str_field(&ci, "/referenceTitle").or_else(|| str_field(&ci, "/serialNumber"))
            })
            .into_iter()
            .collect();
        Ok(Ticket {
            id: id.to_string(),
            number: str_field(&ticket, "/ticketNumber").unwrap_or_else(|| id.to_string()),
            summary: str_field(&ticket, "/title").unwrap_or_default(),
            description: str_field(&ticket, "/description").unwrap_or_default(),
            notes: recent,
            company,
            contact,
            configuration_items,
            status: self.status_label(ticket.get("status")).await,
            url: Some(format!(
                "{}/Mvc/ServiceDesk/TicketDetail.mvc?workspace=False&ticketId={id}",
                self.web
            )),
        })
    }

    async fn list_members(&self) -> Result<Vec<Member>, PsaError> {
        let resources = self
            .query(
                "Resources",
                json!({
                    "IncludeFields": ["id", "firstName", "lastName", "email", "userName"],
                    "filter": [{"op": "eq", "field": "isActive", "value": true}],
                }),
            )
            .await?;
        Ok(resources
            .iter()
            .filter_map(|r| {
                let id = id_string(r.get("id"))?;
                let full = [str_field(r, "/firstName"), str_field(r, "/lastName")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(Member {
                    name: if full.is_empty() {
                        str_field(r, "/userName").unwrap_or_else(|| id.clone())
                    } else {
                        full
                    },
                    id,
                    email: str_field(r, "/email"),
                })
            })
            .collect())
    }

    async fn post_note(&self, ticket_id: &str, note: &Note) -> Result<RemoteId, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let flags = self.note_picklists().await?.flags(note.visibility)?;
        let title = title_of(&note.text, TITLE_MAX).unwrap_or_else(|| "FlowPilot session".into());
        let description = within_with_marker(
            &markdown_to_plain(&note.text),
            &Note::marker_line(&note.marker),
            NOTE_MAX,
        );
        let body = json!({
            "ticketID": id,
            "title": title,
            "description": description,
            "noteType": flags.note_type,
            "publish": flags.publish,
        });
        let created = self
            .call(
                Method::POST,
                &format!("/Tickets/{id}/Notes"),
                Some(&body),
                &format!("ticket {id}"),
            )
            .await?;
        Ok(RemoteId(created_id(
            &created,
            &["itemId", "id"],
            "the note",
        )?))
    }

    async fn find_note(&self, ticket_id: &str, marker: &str) -> Result<Option<RemoteId>, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        Ok(find_marked(
            &self.notes(id).await?,
            &["description"],
            marker,
        ))
    }

    async fn post_time_entry(
        &self,
        ticket_id: &str,
        entry: &TimeEntry,
    ) -> Result<RemoteId, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let resource = numeric_id(&entry.member_id, "resource")?;
        let body = json!({
            "ticketID": id,
            "resourceID": resource,
            "dateWorked": entry.start.format("%Y-%m-%dT00:00:00Z").to_string(),
            "startDateTime": entry.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "endDateTime": entry.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "hoursWorked": entry.hours(),
            "summaryNotes": within_with_marker(&entry.notes, &Note::marker_line(&entry.marker), TIME_NOTES_MAX),
        });
        let created = self
            .call(
                Method::POST,
                "/TimeEntries",
                Some(&body),
                &format!("ticket {id}"),
            )
            .await?;
        Ok(RemoteId(created_id(
            &created,
            &["itemId", "id"],
            "the time entry",
        )?))
    }

    async fn find_time_entry(
        &self,
        ticket_id: &str,
        marker: &str,
    ) -> Result<Option<RemoteId>, PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let entries = self
            .query(
                "TimeEntries",
                json!({"filter": [{"op": "eq", "field": "ticketID", "value": id}]}),
            )
            .await?;
        Ok(find_marked(&entries, &["summaryNotes"], marker))
    }

    async fn set_status(&self, ticket_id: &str, change: &StatusChange) -> Result<(), PsaError> {
        let id = numeric_id(ticket_id, "ticket")?;
        let status = self.status_value(change).await?;
        self.call(
            Method::PATCH,
            "/Tickets",
            Some(&json!({"id": id, "status": status})),
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
    fn endpoints_are_entities() {
        assert_eq!(endpoint_of("/Tickets/42/Notes"), "Tickets");
        assert_eq!(endpoint_of("/Tickets/query"), "Tickets");
        assert_eq!(
            endpoint_of("/TicketNotes/entityInformation/fields"),
            "TicketNotes"
        );
    }

    #[test]
    fn web_urls_follow_the_zone() {
        assert_eq!(
            web_url("https://webservices5.autotask.net"),
            "https://ww5.autotask.net"
        );
        assert_eq!(web_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }

    #[test]
    fn note_flags_come_from_the_labels() {
        let fields = json!({"fields": [
            {"name": "noteType", "picklistValues": [
                {"value": "20", "label": "Internal System Workflow Note", "isActive": true, "isSystem": true},
                {"value": "1", "label": "Task Summary", "isActive": true, "isDefaultValue": true},
                {"value": "13", "label": "Internal Notes", "isActive": true}
            ]},
            {"name": "publish", "picklistValues": [
                {"value": "1", "label": "All Autotask Users", "isActive": true},
                {"value": "4", "label": "Internal & Co-Managed", "isActive": true},
                {"value": "2", "label": "Internal Only", "isActive": true},
                {"value": "9", "label": "Internal (retired)", "isActive": false}
            ]}
        ]});
        let lists = NotePicklists {
            note_type: Picklist::from_fields(&fields, "noteType", false),
            publish: Picklist::from_fields(&fields, "publish", true),
        };
        assert_eq!(
            lists.flags(NoteVisibility::Internal).unwrap(),
            NoteFlags {
                note_type: json!(13),
                publish: json!(2)
            }
        );
        assert_eq!(
            lists.flags(NoteVisibility::Customer).unwrap(),
            NoteFlags {
                note_type: json!(1),
                publish: json!(1)
            }
        );
        let no_internal = NotePicklists {
            note_type: Picklist::from_fields(&fields, "noteType", false),
            publish: Picklist::default(),
        };
        assert!(matches!(
            no_internal.flags(NoteVisibility::Internal),
            Err(PsaError::Misconfigured(_))
        ));
    }
}
