//! A fake Autotask zone (REST API under `/atservicesrest/v1.0`).

use std::collections::HashMap;

use axum::http::Method;
use serde_json::{json, Value};

use super::{segment_number, segments, Fake, Reply, Seen};

pub const API_ROOT: &str = "/atservicesrest/v1.0";
pub const USERNAME: &str = "flowpilot-api@msp.example";
pub const SECRET: &str = "atSECRET789";
pub const INTEGRATION_CODE: &str = "INTCODE42XYZ";

pub const NOTE_TYPE_INTERNAL: i64 = 13;
pub const NOTE_TYPE_DEFAULT: i64 = 1;
pub const PUBLISH_ALL: i64 = 1;
pub const PUBLISH_INTERNAL: i64 = 2;

pub struct World {
    pub tickets: Vec<Value>,
    pub notes: HashMap<u64, Vec<Value>>,
    pub time_entries: Vec<Value>,
    pub companies: Vec<Value>,
    pub contacts: Vec<Value>,
    pub configuration_items: Vec<Value>,
    pub resources: Vec<Value>,
    /// How often the note picklists were read (FlowPilot caches them per client).
    pub note_field_reads: usize,
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

const STATUSES: [(i64, &str); 4] = [
    (1, "New"),
    (5, "Complete"),
    (8, "In Progress"),
    (13, "Waiting Customer"),
];

pub fn world() -> World {
    let ticket = |id: u64, number: &str, title: &str, status: i64| {
        json!({"id": id, "ticketNumber": number, "title": title, "status": status,
               "description": "User reports Outlook prompts for a password since Monday.",
               "companyID": 1, "contactID": 5, "configurationItemID": 7})
    };
    World {
        tickets: vec![
            ticket(
                201,
                "T20261130.0001",
                "Outlook keeps asking for password",
                1,
            ),
            ticket(202, "T20261130.0002", "VPN drops every hour", 8),
            ticket(203, "T20261129.0007", "Printer offline", 5),
        ],
        notes: HashMap::from([(
            201,
            vec![
                json!({"id": 1, "ticketID": 201, "title": "Called user", "description": "MFA re-registered.",
                        "noteType": 1, "publish": 2, "createDateTime": "2026-11-30T10:00:00Z"}),
            ],
        )]),
        time_entries: Vec::new(),
        companies: vec![json!({"id": 1, "companyName": "Acme Ltd"})],
        contacts: vec![
            json!({"id": 5, "firstName": "Jane", "lastName": "Doe", "emailAddress": "jane@acme.example"}),
        ],
        configuration_items: vec![
            json!({"id": 7, "referenceTitle": "ACME-LT-042", "serialNumber": "SN1"}),
        ],
        resources: vec![
            json!({"id": 29682885, "firstName": "Ann", "lastName": "Tech", "email": "ann@msp.example", "isActive": true}),
            json!({"id": 29682886, "firstName": "Bob", "lastName": "Ops", "email": "bob@msp.example", "isActive": true}),
        ],
        note_field_reads: 0,
        next_id: 5000,
    }
}

pub async fn start() -> Fake<World> {
    Fake::start(world(), handle, API_ROOT).await
}

fn picklist(name: &str, values: &[(i64, &str, bool)]) -> Value {
    json!({
        "name": name, "dataType": "integer", "isPickList": true,
        "picklistValues": values.iter().map(|(value, label, default)| json!({
            "value": value.to_string(), "label": label, "isDefaultValue": default, "isActive": true,
        })).collect::<Vec<_>>()
    })
}

fn errors(status: u16, message: &str) -> Reply {
    Reply::status(status, json!({"errors": [message]}))
}

fn items(items: Vec<Value>) -> Reply {
    let count = items.len();
    Reply::ok(
        json!({"items": items, "pageDetails": {"count": count, "requestCount": 500, "prevPageUrl": null, "nextPageUrl": null}}),
    )
}

/// Autotask's query filters: the operators FlowPilot uses.
fn matches(item: &Value, filter: &Value) -> Result<bool, String> {
    let field = filter["field"].as_str().ok_or("filter without field")?;
    let value = &filter["value"];
    let actual = &item[field];
    Ok(match filter["op"].as_str().ok_or("filter without op")? {
        "eq" => actual == value,
        "noteq" => actual != value,
        "contains" => actual.as_str().unwrap_or("").to_lowercase().contains(
            &value
                .as_str()
                .ok_or("contains needs a string")?
                .to_lowercase(),
        ),
        "in" => value.as_array().ok_or("in needs a list")?.contains(actual),
        op => return Err(format!("unknown op {op}")),
    })
}

fn query(all: &[Value], body: &Value) -> Reply {
    let Some(filters) = body["filter"].as_array() else {
        return errors(400, "filter is required");
    };
    let mut out = Vec::new();
    for item in all {
        let mut keep = true;
        for filter in filters {
            match matches(item, filter) {
                Ok(m) => keep &= m,
                Err(e) => return errors(400, &e),
            }
        }
        if keep {
            out.push(item.clone());
        }
    }
    let max = body["MaxRecords"].as_u64().unwrap_or(500) as usize;
    items(out.into_iter().take(max).collect())
}

fn is_picklist_value(value: &Value, allowed: &[i64]) -> bool {
    value.as_i64().is_some_and(|v| allowed.contains(&v))
}

fn handle(world: &mut World, seen: &Seen) -> Reply {
    if seen.header("apiintegrationcode") != Some(INTEGRATION_CODE)
        || seen.header("username") != Some(USERNAME)
        || seen.header("secret") != Some(SECRET)
    {
        return Reply::status(401, Value::Null);
    }
    let parts = segments(&seen.path);
    let body = &seen.body;
    match (seen.method.clone(), parts.as_slice()) {
        (Method::GET, ["TicketNotes", "entityInformation", "fields"]) => {
            world.note_field_reads += 1;
            Reply::ok(json!({"fields": [
                {"name": "id", "dataType": "long", "isPickList": false},
                picklist("noteType", &[(NOTE_TYPE_DEFAULT, "Task Summary", true), (NOTE_TYPE_INTERNAL, "Internal Notes", false)]),
                picklist("publish", &[(PUBLISH_ALL, "All Autotask Users", false), (PUBLISH_INTERNAL, "Internal Only", true)]),
            ]}))
        }
        (Method::GET, ["Tickets", "entityInformation", "fields"]) => {
            let values: Vec<(i64, &str, bool)> =
                STATUSES.iter().map(|(v, l)| (*v, *l, *v == 1)).collect();
            Reply::ok(json!({"fields": [picklist("status", &values)]}))
        }
        (Method::POST, ["Tickets", "query"]) => query(&world.tickets, body),
        (Method::POST, ["Companies", "query"]) => query(&world.companies, body),
        (Method::POST, ["Resources", "query"]) => query(&world.resources, body),
        (Method::POST, ["TimeEntries", "query"]) => query(&world.time_entries, body),
        (
            Method::GET,
            [entity @ ("Tickets" | "Companies" | "Contacts" | "ConfigurationItems"), _],
        ) => {
            let id = segment_number(&seen.path, 1);
            let list = match *entity {
                "Tickets" => &world.tickets,
                "Companies" => &world.companies,
                "Contacts" => &world.contacts,
                _ => &world.configuration_items,
            };
            // Autotask answers an unknown id with a null item, not a 404.
            let item = list
                .iter()
                .find(|i| Some(i["id"].as_u64().unwrap_or(0)) == id)
                .cloned();
            Reply::ok(json!({"item": item}))
        }
        (Method::GET, ["Tickets", _, "Notes"]) => {
            let id = segment_number(&seen.path, 1).unwrap_or(0);
            if world.ticket(id).is_none() {
                return errors(404, "ticket not found");
            }
            items(world.notes.get(&id).cloned().unwrap_or_default())
        }
        (Method::POST, ["Tickets", _, "Notes"]) => {
            let id = segment_number(&seen.path, 1).unwrap_or(0);
            if world.ticket(id).is_none() {
                return errors(404, "ticket not found");
            }
            if !body["title"]
                .as_str()
                .is_some_and(|t| !t.is_empty() && t.chars().count() <= 250)
            {
                return errors(400, "title is required (at most 250 characters)");
            }
            if !body["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty() && d.chars().count() <= 32000)
            {
                return errors(400, "description is required (at most 32000 characters)");
            }
            if !is_picklist_value(&body["noteType"], &[NOTE_TYPE_DEFAULT, NOTE_TYPE_INTERNAL]) {
                return errors(400, "noteType is not a value of the picklist");
            }
            if !is_picklist_value(&body["publish"], &[PUBLISH_ALL, PUBLISH_INTERNAL]) {
                return errors(400, "publish is not a value of the picklist");
            }
            let item_id = world.next();
            let mut note = body.clone();
            note["id"] = json!(item_id);
            note["ticketID"] = json!(id);
            world.notes.entry(id).or_default().push(note);
            Reply::ok(json!({"itemId": item_id}))
        }
        (Method::POST, ["TimeEntries"]) => {
            if world
                .ticket(body["ticketID"].as_u64().unwrap_or(0))
                .is_none()
            {
                return errors(400, "ticketID is not a ticket");
            }
            if !world
                .resources
                .iter()
                .any(|r| r["id"] == body["resourceID"])
            {
                return errors(400, "resourceID is not a resource");
            }
            for field in ["dateWorked", "startDateTime", "endDateTime", "summaryNotes"] {
                if !body[field].is_string() {
                    return errors(400, &format!("{field} is required"));
                }
            }
            if !body["hoursWorked"].as_f64().is_some_and(|h| h > 0.0) {
                return errors(400, "hoursWorked must be positive");
            }
            let item_id = world.next();
            let mut entry = body.clone();
            entry["id"] = json!(item_id);
            world.time_entries.push(entry);
            Reply::ok(json!({"itemId": item_id}))
        }
        (Method::PATCH, ["Tickets"]) => {
            let Some(id) = body["id"].as_u64() else {
                return errors(400, "id is required");
            };
            if !is_picklist_value(&body["status"], &STATUSES.map(|(v, _)| v)) {
                return errors(400, "status is not a value of the picklist");
            }
            let Some(ticket) = world.tickets.iter_mut().find(|t| t["id"] == id) else {
                return errors(404, "ticket not found");
            };
            ticket["status"] = body["status"].clone();
            Reply::ok(json!({"itemId": id}))
        }
        _ => errors(404, &format!("no route {} {}", seen.method, seen.path)),
    }
}
