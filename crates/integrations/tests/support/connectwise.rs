//! A fake ConnectWise PSA (REST API 3.0 under `/v4_6_release/apis/3.0`).

use std::collections::HashMap;

use axum::http::Method;
use serde_json::{json, Value};

use super::{segment_number, segments, Fake, Reply, Seen};

pub const API_ROOT: &str = "/v4_6_release/apis/3.0";
pub const COMPANY_ID: &str = "acme";
pub const PUBLIC_KEY: &str = "pubKEY123";
pub const PRIVATE_KEY: &str = "privSECRET456";
pub const CLIENT_ID: &str = "c1d2e3f4-client";

pub struct World {
    pub tickets: Vec<Value>,
    pub notes: HashMap<u64, Vec<Value>>,
    pub configurations: HashMap<u64, Vec<Value>>,
    pub time_entries: Vec<Value>,
    pub statuses: Vec<Value>,
    pub members: Vec<Value>,
    next_id: u64,
}

impl World {
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn ticket(&self, id: u64) -> Option<&Value> {
        self.tickets.iter().find(|t| t["id"] == id)
    }
}

pub fn world() -> World {
    let ticket = |id: u64, summary: &str, status: (u64, &str), closed: bool| {
        json!({
            "id": id, "summary": summary, "closedFlag": closed,
            "company": {"id": 1, "identifier": "AcmeLtd", "name": "Acme Ltd"},
            "contact": {"id": 5, "name": "Jane Doe"},
            "contactEmailAddress": "jane@acme.example",
            "status": {"id": status.0, "name": status.1},
            "board": {"id": 1, "name": "Help Desk"},
        })
    };
    World {
        tickets: vec![
            ticket(101, "Outlook keeps asking for password", (10, "New"), false),
            ticket(102, "VPN drops every hour", (11, "In Progress"), false),
            ticket(103, "Printer offline", (12, "Resolved"), true),
        ],
        notes: HashMap::from([(
            101,
            vec![
                json!({"id": 1, "ticketId": 101, "text": "User reports Outlook prompts for a password since Monday.",
                       "detailDescriptionFlag": true, "internalAnalysisFlag": false, "resolutionFlag": false,
                       "contact": {"name": "Jane Doe"}, "dateCreated": "2026-11-30T09:00:00Z"}),
                json!({"id": 2, "ticketId": 101, "text": "Called the user, MFA re-registered.",
                       "detailDescriptionFlag": false, "internalAnalysisFlag": true, "resolutionFlag": false,
                       "member": {"name": "Ann Tech"}, "dateCreated": "2026-11-30T10:00:00Z"}),
            ],
        )]),
        configurations: HashMap::from([(
            101,
            vec![json!({"id": 7, "deviceIdentifier": "ACME-LT-042"})],
        )]),
        time_entries: Vec::new(),
        statuses: vec![
            json!({"id": 10, "name": "New"}),
            json!({"id": 11, "name": "In Progress"}),
            json!({"id": 12, "name": "Resolved"}),
        ],
        members: vec![
            json!({"id": 31, "identifier": "ann", "firstName": "Ann", "lastName": "Tech", "primaryEmail": "ann@msp.example"}),
            json!({"id": 32, "identifier": "bob", "firstName": "Bob", "lastName": "Ops", "primaryEmail": "bob@msp.example"}),
        ],
        next_id: 1000,
    }
}

pub async fn start() -> Fake<World> {
    Fake::start(world(), handle, API_ROOT).await
}

fn expected_authorization() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{COMPANY_ID}+{PUBLIC_KEY}:{PRIVATE_KEY}"))
    )
}

fn invalid(message: &str) -> Reply {
    Reply::status(
        400,
        json!({"code": "InvalidObject", "message": "The object is invalid", "errors": [{"code": "Invalid", "message": message}]}),
    )
}

fn not_found(what: &str) -> Reply {
    Reply::status(
        404,
        json!({"code": "NotFound", "message": format!("{what} not found")}),
    )
}

fn is_bool(body: &Value, field: &str) -> bool {
    body.get(field).is_some_and(Value::is_boolean)
}

/// `yyyy-mm-ddThh:mm:ssZ`: ConnectWise refuses fractions of a second and offsets.
fn is_cw_time(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && !s.contains('.')
    })
}

fn page(items: Vec<Value>, seen: &Seen) -> Value {
    let size: usize = seen
        .q("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let page: usize = seen.q("page").and_then(|s| s.parse().ok()).unwrap_or(1);
    Value::Array(
        items
            .into_iter()
            .skip((page - 1) * size)
            .take(size)
            .collect(),
    )
}

fn handle(world: &mut World, seen: &Seen) -> Reply {
    if seen.header("authorization") != Some(expected_authorization().as_str())
        || seen.header("clientid") != Some(CLIENT_ID)
    {
        return Reply::status(
            401,
            json!({"code": "Unauthorized", "message": "The request requires user authentication"}),
        );
    }
    let parts = segments(&seen.path);
    let method = seen.method.clone();
    match (method, parts.as_slice()) {
        (Method::GET, ["service", "tickets"]) => {
            let conditions = seen.q("conditions").unwrap_or("");
            if !conditions.starts_with("closedFlag=false") {
                return invalid("expected closedFlag=false in the conditions");
            }
            let search = conditions
                .split_once("summary contains \"")
                .and_then(|(_, rest)| rest.strip_suffix('"'))
                .map(str::to_lowercase);
            let mut tickets: Vec<Value> = world
                .tickets
                .iter()
                .filter(|t| t["closedFlag"] == false)
                .filter(|t| {
                    search.as_ref().is_none_or(|q| {
                        t["summary"]
                            .as_str()
                            .unwrap_or("")
                            .to_lowercase()
                            .contains(q)
                    })
                })
                .cloned()
                .collect();
            tickets.sort_by_key(|t| std::cmp::Reverse(t["id"].as_u64()));
            Reply::ok(page(tickets, seen))
        }
        (Method::GET, ["service", "tickets", _]) => {
            let id = segment_number(&seen.path, 2).unwrap_or(0);
            match world.ticket(id) {
                Some(t) => Reply::ok(t.clone()),
                None => not_found(&format!("Ticket recId {id}")),
            }
        }
        (Method::GET, ["service", "tickets", _, "notes"]) => {
            let id = segment_number(&seen.path, 2).unwrap_or(0);
            if world.ticket(id).is_none() {
                return not_found(&format!("Ticket recId {id}"));
            }
            let mut notes = world.notes.get(&id).cloned().unwrap_or_default();
            if seen.q("orderBy") == Some("id desc") {
                notes.reverse();
            }
            Reply::ok(page(notes, seen))
        }
        (Method::GET, ["service", "tickets", _, "configurations"]) => {
            let id = segment_number(&seen.path, 2).unwrap_or(0);
            Reply::ok(Value::Array(
                world.configurations.get(&id).cloned().unwrap_or_default(),
            ))
        }
        (Method::POST, ["service", "tickets", _, "notes"]) => {
            let id = segment_number(&seen.path, 2).unwrap_or(0);
            if world.ticket(id).is_none() {
                return not_found(&format!("Ticket recId {id}"));
            }
            let body = &seen.body;
            if body["text"].as_str().is_none_or(|t| t.is_empty()) {
                return invalid("text is required");
            }
            for flag in [
                "internalAnalysisFlag",
                "detailDescriptionFlag",
                "resolutionFlag",
            ] {
                if !is_bool(body, flag) {
                    return invalid(&format!("{flag} must be a boolean"));
                }
            }
            let mut note = body.clone();
            note["id"] = json!(world.next());
            note["ticketId"] = json!(id);
            world.notes.entry(id).or_default().push(note.clone());
            Reply::status(201, note)
        }
        (Method::POST, ["time", "entries"]) => {
            let body = &seen.body;
            let ticket = body["chargeToId"].as_u64().unwrap_or(0);
            if world.ticket(ticket).is_none() {
                return invalid("chargeToId is not a ticket");
            }
            if body["chargeToType"] != "ServiceTicket" {
                return invalid("chargeToType must be ServiceTicket");
            }
            if !is_cw_time(&body["timeStart"]) || !is_cw_time(&body["timeEnd"]) {
                return invalid("timeStart and timeEnd must be yyyy-mm-ddThh:mm:ssZ");
            }
            if !body["member"]["id"].is_u64() || !body["notes"].is_string() {
                return invalid("member {id} and notes are required");
            }
            let mut entry = body.clone();
            entry["id"] = json!(world.next());
            world.time_entries.push(entry.clone());
            Reply::status(201, entry)
        }
        (Method::GET, ["time", "entries"]) => {
            let conditions = seen.q("conditions").unwrap_or("");
            let ticket: Option<u64> = conditions
                .strip_prefix("chargeToId=")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok());
            let Some(ticket) = ticket else {
                return invalid("expected chargeToId=… in the conditions");
            };
            let mut entries: Vec<Value> = world
                .time_entries
                .iter()
                .filter(|e| e["chargeToId"] == ticket)
                .cloned()
                .collect();
            entries.reverse();
            Reply::ok(Value::Array(entries))
        }
        (Method::PATCH, ["service", "tickets", _]) => {
            let id = segment_number(&seen.path, 2).unwrap_or(0);
            let ops = seen.body.as_array().cloned().unwrap_or_default();
            let [op] = ops.as_slice() else {
                return invalid("expected a JSON Patch with one operation");
            };
            if op["op"] != "replace" || op["path"] != "status" {
                return invalid("expected replace of status");
            }
            let Some(status) = world
                .statuses
                .iter()
                .find(|s| s["id"] == op["value"]["id"])
                .cloned()
            else {
                return invalid("unknown status");
            };
            let Some(ticket) = world.tickets.iter_mut().find(|t| t["id"] == id) else {
                return not_found(&format!("Ticket recId {id}"));
            };
            ticket["status"] = status;
            Reply::ok(ticket.clone())
        }
        (Method::GET, ["service", "boards", _, "statuses"]) => {
            Reply::ok(Value::Array(world.statuses.clone()))
        }
        (Method::GET, ["system", "members"]) => Reply::ok(Value::Array(world.members.clone())),
        _ => not_found(&format!("{} {}", seen.method, seen.path)),
    }
}
