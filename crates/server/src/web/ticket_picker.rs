//! The ticket picker of the intake page: a plain GET form searches the open tickets of one of
//! the account's PSA connections, and the tickets found are radio buttons in the intake form,
//! so it works without JavaScript. A PSA that fails says so in the picker; the intake still
//! works from typed text.

use domain::psa::TicketQuery;
use domain::User;
use uuid::Uuid;

use crate::psa::{connections, tickets};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::psa_settings::psa_notice;

pub struct ConnectionChoice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

pub struct TicketChoice {
    pub id: String,
    pub number: String,
    pub summary: String,
    pub company: Option<String>,
    pub status: Option<String>,
    pub checked: bool,
}

pub struct Picker {
    pub connections: Vec<ConnectionChoice>,
    /// The connection searched (or the only one).
    pub connection_id: String,
    pub q: String,
    /// Whether a search was made (so "no ticket found" can be said).
    pub searched: bool,
    pub tickets: Vec<TicketChoice>,
    /// Why the PSA gave no list.
    pub problem: Option<String>,
}

impl Picker {
    pub fn single(&self) -> bool {
        self.connections.len() == 1
    }
}

/// How many tickets the picker lists at once.
const SHOWN: u32 = 15;

/// The picker for `user`, `None` when the account has no PSA connection. `connection` and
/// `q` come from the search form; `picked` is the ticket chosen before (kept when the intake
/// comes back with an error).
pub async fn build(
    state: &AppState,
    user: &User,
    connection: &str,
    q: &str,
    searched: bool,
    picked: &str,
) -> Result<Option<Picker>, WebError> {
    let found = connections::list(state, user).await?;
    if found.is_empty() {
        return Ok(None);
    }
    let wanted = Uuid::parse_str(connection.trim()).ok();
    let chosen = found
        .iter()
        .find(|c| Some(c.id) == wanted)
        .unwrap_or(&found[0]);
    let mut picker = Picker {
        connections: found
            .iter()
            .map(|c| ConnectionChoice {
                id: c.id.to_string(),
                name: format!("{} ({})", c.name, c.kind.display_name()),
                selected: c.id == chosen.id,
            })
            .collect(),
        connection_id: chosen.id.to_string(),
        q: q.trim().to_string(),
        searched,
        tickets: Vec::new(),
        problem: None,
    };
    if !searched {
        return Ok(Some(picker));
    }
    let query = TicketQuery {
        q: Some(picker.q.clone()).filter(|q| !q.is_empty()),
        skip: 0,
        limit: SHOWN,
    };
    // Searching is limited like the API's ticket list; past it the picker says so and the
    // intake still works from typed text.
    if let Err(err) = crate::psa::limit(state, user).await {
        let (_, message) = psa_notice(err)?;
        picker.problem = Some(format!("{message} You can still start from a description."));
        return Ok(Some(picker));
    }
    match tickets::list(state, chosen, query).await {
        Ok(list) => {
            picker.tickets = list
                .into_iter()
                .map(|t| TicketChoice {
                    checked: t.id == picked,
                    id: t.id,
                    number: t.number,
                    summary: t.summary,
                    company: t.company,
                    status: t.status,
                })
                .collect();
        }
        Err(problem) => {
            let (_, message) = psa_notice(problem.into())?;
            picker.problem = Some(format!("{message} You can still start from a description."));
        }
    }
    Ok(Some(picker))
}
