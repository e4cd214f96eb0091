//! A fake HaloPSA: the token endpoint at `/auth/token` and the API under `/api`.

use std::collections::HashMap;

use axum::http::Method;
use serde_json::{json, Value};

use super::{segment_number, segments, Fake, Reply, Seen};

pub const CLIENT_ID: &str = "halo-client-id";
pub const CLIENT_SECRET: &str = "haloSECRETabc";
pub const TENANT: &str = "acmemsp";

pub struct World {
    pub tickets: Vec<Value>,
    pub actions: HashMap<u64, Vec<Value>>,
    pub statuses: Vec<Value>,
    pub agents: Vec<Value>,
    /// Requests to the token endpoint, good or bad.
    pub token_requests: usize,
    /// Tokens the API accepts.
    pub live_tokens: Vec<String>,
    /// The `expires_in` the token endpoint answers.
    pub expires_in: u64,
    /// Whether the token request must name the tenant (a Halo-hosted instance).
    pub tenant: Option<&'static str>,
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

    /// Every token issued so far stops working, as when an admin revokes them.
    pub fn revoke_tokens(&mut self) {
        self.live_tokens.clear();
    }

    pub fn all_actions(&self, ticket: u64) -> Vec<Value> {
        self.actions.get(&ticket).cloned().unwrap_or_default()
    }
}

pub fn world() -> World {
    let ticket = |id: u64, summary: &str, status: u64| {
        json!({"id": id, "summary": summary, "status_id": status,
               "details": "<p>User reports Outlook prompts&nbsp;for a password since <b>Monday</b>.</p>",
               "client_id": 1, "client_name": "Acme Ltd", "site_name": "Head Office",
               "user_id": 5, "user_name": "Jane Doe", "user_email": "jane@acme.example",
               "assets": [{"id": 7, "inventory_number": "ACME-LT-042"}]})
    };
    World {
        tickets: vec![
            ticket(301, "Outlook keeps asking for password", 1),
            ticket(302, "VPN drops every hour", 2),
            ticket(303, "Printer offline", 9),
        ],
        actions: HashMap::from([(
            301,
            vec![
                json!({"id": 1, "ticket_id": 301, "note": "<p>Called the user, MFA re-registered.</p>",
                        "who": "Ann Tech", "datetime": "2026-11-30T10:00:00", "hiddenfromuser": true, "outcome": "Private Note"}),
            ],
        )]),
        statuses: vec![
            json!({"id": 1, "name": "New"}),
            json!({"id": 2, "name": "In Progress"}),
            json!({"id": 8, "name": "Resolved"}),
            json!({"id": 9, "name": "Closed"}),
        ],
        agents: vec![
            json!({"id": 4, "name": "Ann Tech", "email": "ann@msp.example", "isdisabled": false}),
            json!({"id": 6, "name": "Old Agent", "email": "old@msp.example", "isdisabled": true}),
        ],
        token_requests: 0,
        live_tokens: Vec::new(),
        expires_in: 3600,
        tenant: None,
        next_id: 9000,
    }
}

pub async fn start(world: World) -> Fake<World> {
    // The fake sees full paths: `/auth/token` beside `/api/...`.
    Fake::start(world, handle, "").await
}

fn is_open(ticket: &Value) -> bool {
    ticket["status_id"] != 9
}

fn token(world: &mut World, seen: &Seen) -> Reply {
    world.token_requests += 1;
    let form = seen.form();
    let field = |name: &str| form.get(name).map(String::as_str);
    let content_type = seen.header("content-type").unwrap_or("");
    if seen.method != Method::POST || !content_type.starts_with("application/x-www-form-urlencoded")
    {
        return Reply::status(400, json!({"error": "invalid_request"}));
    }
    if field("grant_type") != Some("client_credentials") || field("scope") != Some("all") {
        return Reply::status(
            400,
            json!({"error": "invalid_request", "error_description": "grant_type and scope"}),
        );
    }
    if world.tenant.is_some() && seen.q("tenant") != world.tenant {
        return Reply::status(
            400,
            json!({"error": "invalid_request", "error_description": "unknown tenant"}),
        );
    }
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return Reply::status(400, json!({"error": "invalid_client"}));
    }
    let token = format!("token-{}", world.token_requests);
    world.live_tokens.push(token.clone());
    Reply::ok(
        json!({"access_token": token, "token_type": "Bearer", "expires_in": world.expires_in, "scope": "all"}),
    )
}

fn not_found(what: &str) -> Reply {
    Reply::status(
        404,
        json!({"ClassName": "NotFound", "Message": format!("{what} not found")}),
    )
}

fn bad(message: &str) -> Reply {
    Reply::status(400, json!({"ClassName": "BadRequest", "Message": message}))
}

fn handle(world: &mut World, seen: &Seen) -> Reply {
    if seen.path == "/auth/token" {
        return token(world, seen);
    }
    let Some(path) = seen.path.strip_prefix("/api") else {
        return not_found(&seen.path);
    };
    let bearer = seen
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| world.live_tokens.iter().any(|live| live == t)) {
        return Reply::status(401, Value::Null);
    }
    let parts = segments(path);
    let body = &seen.body;
    match (seen.method.clone(), parts.as_slice()) {
        (Method::GET, ["Tickets"]) => {
            if seen.q("open_only") != Some("true") {
                return bad("expected open_only=true");
            }
            let search = seen.q("search").map(str::to_lowercase);
            let mut tickets: Vec<Value> = world
                .tickets
                .iter()
                .filter(|t| is_open(t))
                .filter(|t| {
                    search.as_ref().is_none_or(|q| {
                        t["summary"].as_str().unwrap_or("").to_lowercase().contains(q)
                    })
                })
                .map(|t| json!({"id": t["id"], "summary": t["summary"], "client_name": t["client_name"], "status_id": t["status_id"]}))
                .collect();
            tickets.sort_by_key(|t| std::cmp::Reverse(t["id"].as_u64()));
            let count = tickets.len();
            let size: usize = seen
                .q("page_size")
                .and_then(|s| s.parse().ok())
                .unwrap_or(50);
            let page: usize = seen.q("page_no").and_then(|s| s.parse().ok()).unwrap_or(1);
            let tickets: Vec<Value> = tickets
                .into_iter()
                .skip((page - 1) * size)
                .take(size)
                .collect();
            Reply::ok(json!({"record_count": count, "tickets": tickets}))
        }
        (Method::GET, ["Tickets", _]) => {
            let id = segment_number(path, 1).unwrap_or(0);
            if seen.q("includedetails") != Some("true") {
                return bad("expected includedetails=true");
            }
            match world.ticket(id) {
                Some(t) => Reply::ok(t.clone()),
                None => not_found(&format!("Ticket {id}")),
            }
        }
        (Method::GET, ["Actions"]) => {
            let Some(id) = seen.q("ticket_id").and_then(|t| t.parse::<u64>().ok()) else {
                return bad("ticket_id is required");
            };
            let actions = world.all_actions(id);
            Reply::ok(json!({"record_count": actions.len(), "actions": actions}))
        }
        (Method::POST, ["Actions"]) => {
            let Some(list) = body.as_array() else {
                return bad("expected a list of actions");
            };
            let mut created = Vec::new();
            for action in list {
                let Some(ticket) = action["ticket_id"].as_u64() else {
                    return bad("ticket_id is required");
                };
                if world.ticket(ticket).is_none() {
                    return not_found(&format!("Ticket {ticket}"));
                }
                if let Some(id) = action["id"].as_u64() {
                    // Halo's POST is an upsert: an id updates that action.
                    let Some(existing) = world
                        .actions
                        .get_mut(&ticket)
                        .and_then(|a| a.iter_mut().find(|a| a["id"] == id))
                    else {
                        return not_found(&format!("Action {id}"));
                    };
                    if let Some(fields) = action.as_object() {
                        for (k, v) in fields {
                            existing[k] = v.clone();
                        }
                    }
                    created.push(existing.clone());
                    continue;
                }
                if action["note"].as_str().is_none_or(|n| n.is_empty())
                    || !action["hiddenfromuser"].is_boolean()
                    || !action["outcome"].is_string()
                {
                    return bad("note, hiddenfromuser and outcome are required");
                }
                let mut stored = action.clone();
                stored["id"] = json!(world.next());
                world
                    .actions
                    .entry(ticket)
                    .or_default()
                    .push(stored.clone());
                created.push(stored);
            }
            // Halo answers one posted object with that object.
            match created.len() {
                1 => Reply::status(201, created.remove(0)),
                _ => Reply::status(201, Value::Array(created)),
            }
        }
        (Method::POST, ["Tickets"]) => {
            let Some(list) = body.as_array() else {
                return bad("expected a list of tickets");
            };
            let mut updated = Vec::new();
            for change in list {
                let (Some(id), Some(status)) =
                    (change["id"].as_u64(), change["status_id"].as_u64())
                else {
                    return bad("id and status_id are required");
                };
                if !world.statuses.iter().any(|s| s["id"] == status) {
                    return bad("unknown status_id");
                }
                let Some(ticket) = world.tickets.iter_mut().find(|t| t["id"] == id) else {
                    return not_found(&format!("Ticket {id}"));
                };
                ticket["status_id"] = json!(status);
                updated.push(ticket.clone());
            }
            Reply::status(201, updated.into_iter().next().unwrap_or(Value::Null))
        }
        (Method::GET, ["Status"]) => Reply::ok(Value::Array(world.statuses.clone())),
        (Method::GET, ["Agent"]) => Reply::ok(Value::Array(world.agents.clone())),
        _ => not_found(&format!("{} {}", seen.method, seen.path)),
    }
}
