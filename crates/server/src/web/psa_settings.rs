//! `/settings/psa`: an admin's PSA connections (create, change, test, delete) and the mapping
//! of users to PSA members. Every form goes through the same use cases as the JSON API
//! (`psa::connections`, `psa::members`). Credential fields are write-only: they are never
//! filled in, and left empty on an edit they keep what is stored.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::psa::{ConnectionSettings, NoteVisibility, PostOn, PsaKind};
use domain::User;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use store::PsaConnection;
use uuid::Uuid;

use crate::error::ApiError;
use crate::psa::connections::{self, ConnectionChange, ConnectionTest, NewConnection};
use crate::psa::members;
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken, EmptyForm};
use crate::web::error::WebError;
use crate::web::fields::FieldErrors;
use crate::web::notice::Trouble;
use crate::web::page::{render, see_other, Layout};
use crate::web::user::WebUser;

/// One credential field of a kind's form.
pub struct CredentialField {
    pub name: &'static str,
    pub label: &'static str,
    /// Shown as a password field.
    pub secret: bool,
    pub optional: bool,
}

const fn field(name: &'static str, label: &'static str, secret: bool) -> CredentialField {
    CredentialField {
        name,
        label,
        secret,
        optional: false,
    }
}

fn credential_fields(kind: PsaKind) -> Vec<CredentialField> {
    match kind {
        PsaKind::ConnectWise => vec![
            field("company_id", "Company id", false),
            field("public_key", "Public key", true),
            field("private_key", "Private key", true),
            field("client_id", "Client id", true),
        ],
        PsaKind::Autotask => vec![
            field("username", "API user name", false),
            field("secret", "Secret", true),
            field("integration_code", "Integration code", true),
        ],
        PsaKind::Halo => vec![
            field("client_id", "Client id", false),
            field("client_secret", "Client secret", true),
            CredentialField {
                optional: true,
                ..field("tenant", "Tenant (Halo-hosted instances)", false)
            },
        ],
    }
}

fn base_url_hint(kind: PsaKind) -> &'static str {
    match kind {
        PsaKind::ConnectWise => {
            "Your ConnectWise PSA site, e.g. https://na.myconnectwise.net or your own server."
        }
        PsaKind::Autotask => "The zone URL of your tenant, e.g. https://webservices5.autotask.net.",
        PsaKind::Halo => "Your HaloPSA address, e.g. https://acme.halopsa.com.",
    }
}

/// Only admins manage connections; others get the API's 403, as a page.
fn admin_only(user: &WebUser) -> Result<&User, WebError> {
    if user.user.is_admin() {
        Ok(&user.user)
    } else {
        Err(WebError::Api(ApiError::Forbidden(
            "Only account admins manage PSA connections.".into(),
        )))
    }
}

/// A failure of a PSA page answered in place: what went wrong in a sentence, with the API's
/// status. A PSA that failed is named as such (the session pages' notices speak of the AI).
pub(crate) fn psa_notice(err: ApiError) -> Result<(StatusCode, String), WebError> {
    match err {
        ApiError::BadGateway { message, .. } => Ok((StatusCode::BAD_GATEWAY, message)),
        other => Trouble::from_api(other).map(|t| (t.status, t.message)),
    }
}

fn connection_id(raw: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::Api(ApiError::NotFound))
}

pub struct ConnectionRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub base_url: String,
}

pub struct AddableKind {
    pub kind: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "psa_settings.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ConnectionRow>,
    addable: Vec<AddableKind>,
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    deleted: String,
}

pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let found = connections::list(&state, admin).await?;
    let addable = PsaKind::ALL
        .into_iter()
        .filter(|k| found.iter().all(|c| c.kind != *k))
        .map(|k| AddableKind {
            kind: k.as_str(),
            label: k.display_name(),
        })
        .collect();
    let rows = found
        .into_iter()
        .map(|c| ConnectionRow {
            id: c.id.to_string(),
            name: c.name,
            kind: c.kind.display_name(),
            base_url: c.base_url,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            layout: Layout::new("PSA connections", &csrf, Some(admin)).current("settings"),
            rows,
            addable,
            status: (!q.deleted.is_empty()).then(|| "The connection was deleted.".to_string()),
        },
    ))
}

/// What the connection form holds, as typed (credentials never come back into it).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConnectionForm {
    kind: String,
    name: String,
    base_url: String,
    company_id: String,
    public_key: String,
    private_key: String,
    client_id: String,
    username: String,
    secret: String,
    integration_code: String,
    client_secret: String,
    tenant: String,
    note_visibility: String,
    post_on_resolve: String,
    post_on_escalate: String,
    time_entry: String,
    resolve_status: String,
    escalate_status: String,
    preview_before_post: String,
}

impl ConnectionForm {
    fn credential(&self, name: &str) -> &str {
        match name {
            "company_id" => &self.company_id,
            "public_key" => &self.public_key,
            "private_key" => &self.private_key,
            "client_id" => &self.client_id,
            "username" => &self.username,
            "secret" => &self.secret,
            "integration_code" => &self.integration_code,
            "client_secret" => &self.client_secret,
            "tenant" => &self.tenant,
            _ => "",
        }
    }

    /// The credentials typed in, or `None` when every field was left empty.
    fn credentials(&self, kind: PsaKind) -> Option<Value> {
        let mut object = Map::new();
        for f in credential_fields(kind) {
            let value = self.credential(f.name).trim();
            if !value.is_empty() {
                object.insert(f.name.into(), value.into());
            }
        }
        (!object.is_empty()).then_some(Value::Object(object))
    }

    fn settings(&self) -> Value {
        let mut post_on = Vec::new();
        if !self.post_on_resolve.is_empty() {
            post_on.push("resolve");
        }
        if !self.post_on_escalate.is_empty() {
            post_on.push("escalate");
        }
        let status = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        json!({
            "note_visibility": if self.note_visibility == "customer" { "customer" } else { "internal" },
            "post_on": post_on,
            "time_entry": !self.time_entry.is_empty(),
            "resolve_status": status(&self.resolve_status),
            "escalate_status": status(&self.escalate_status),
            "preview_before_post": !self.preview_before_post.is_empty(),
        })
    }
}

/// The settings as the form shows them.
pub struct SettingsView {
    pub customer_notes: bool,
    pub on_resolve: bool,
    pub on_escalate: bool,
    pub time_entry: bool,
    pub resolve_status: String,
    pub escalate_status: String,
    pub preview: bool,
}

impl From<&ConnectionSettings> for SettingsView {
    fn from(s: &ConnectionSettings) -> Self {
        SettingsView {
            customer_notes: s.note_visibility == NoteVisibility::Customer,
            on_resolve: s.posts_on(PostOn::Resolve),
            on_escalate: s.posts_on(PostOn::Escalate),
            time_entry: s.time_entry,
            resolve_status: s.resolve_status.clone().unwrap_or_default(),
            escalate_status: s.escalate_status.clone().unwrap_or_default(),
            preview: s.preview_before_post,
        }
    }
}

#[derive(Template)]
#[template(path = "psa_connection.html")]
struct FormPage {
    layout: Layout,
    /// The connection's id when editing one.
    id: Option<String>,
    kind: &'static str,
    kind_label: &'static str,
    base_url_hint: &'static str,
    fields: Vec<CredentialField>,
    name: String,
    base_url: String,
    settings: SettingsView,
    errors: FieldErrors,
    notice: Option<String>,
    status: Option<String>,
    test: Option<ConnectionTest>,
}

struct FormState {
    id: Option<Uuid>,
    kind: PsaKind,
    name: String,
    base_url: String,
    settings: SettingsView,
}

impl FormState {
    fn of(connection: &PsaConnection) -> Self {
        FormState {
            id: Some(connection.id),
            kind: connection.kind,
            name: connection.name.clone(),
            base_url: connection.base_url.clone(),
            settings: SettingsView::from(&connection.settings),
        }
    }

    /// What was typed, for a form shown again (credentials never).
    fn typed(id: Option<Uuid>, kind: PsaKind, form: &ConnectionForm) -> Self {
        let settings =
            serde_json::from_value::<ConnectionSettings>(form.settings()).unwrap_or_default();
        FormState {
            id,
            kind,
            name: form.name.clone(),
            base_url: form.base_url.clone(),
            settings: SettingsView::from(&settings),
        }
    }
}

struct Extras {
    errors: FieldErrors,
    notice: Option<String>,
    status: Option<String>,
    test: Option<ConnectionTest>,
}

impl Extras {
    fn none() -> Self {
        Extras {
            errors: FieldErrors::default(),
            notice: None,
            status: None,
            test: None,
        }
    }
}

fn form_page(
    status: StatusCode,
    csrf: &CsrfToken,
    user: &User,
    form: FormState,
    extras: Extras,
) -> Response {
    let title = match form.id {
        Some(_) => format!("{} connection", form.kind.display_name()),
        None => format!("Connect {}", form.kind.display_name()),
    };
    render(
        status,
        &FormPage {
            layout: Layout::new(&title, csrf, Some(user)).current("settings"),
            id: form.id.map(|id| id.to_string()),
            kind: form.kind.as_str(),
            kind_label: form.kind.display_name(),
            base_url_hint: base_url_hint(form.kind),
            fields: credential_fields(form.kind),
            name: form.name,
            base_url: form.base_url,
            settings: form.settings,
            errors: extras.errors,
            notice: extras.notice,
            status: extras.status,
            test: extras.test,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    kind: String,
}

pub async fn new(
    user: WebUser,
    csrf: CsrfToken,
    Query(q): Query<NewQuery>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let kind = PsaKind::parse(&q.kind).ok_or(WebError::Api(ApiError::NotFound))?;
    let form = FormState {
        id: None,
        kind,
        name: kind.display_name().to_string(),
        base_url: String::new(),
        settings: SettingsView::from(&ConnectionSettings::default()),
    };
    Ok(form_page(
        StatusCode::OK,
        &csrf,
        admin,
        form,
        Extras::none(),
    ))
}

/// The API's field errors as messages next to the form's fields.
fn field_errors(errors: Vec<domain::FieldError>, kind: PsaKind) -> FieldErrors {
    let mut out = FieldErrors::default();
    for e in errors {
        let named = e.loc.get(1).and_then(Value::as_str).unwrap_or("");
        let field: &'static str = match named {
            "name" => "name",
            "base_url" => "base_url",
            "settings" => "settings",
            _ => "credentials",
        };
        let message = match (field, e.kind.as_str()) {
            ("name", "string_too_short") => "Give the connection a name.".to_string(),
            ("credentials", "missing") => {
                format!("Fill in the {} credentials.", kind.display_name())
            }
            _ => e.msg,
        };
        out.add(field, message);
    }
    out
}

/// A use case's failure on a form: field errors next to their fields (422), anything else
/// as a notice with the API's status.
fn failed(
    err: ApiError,
    csrf: &CsrfToken,
    user: &User,
    form: FormState,
) -> Result<Response, WebError> {
    let kind = form.kind;
    match err {
        ApiError::Validation(errors) => {
            let extras = Extras {
                errors: field_errors(errors, kind),
                ..Extras::none()
            };
            Ok(form_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                csrf,
                user,
                form,
                extras,
            ))
        }
        other => {
            let (status, message) = psa_notice(other)?;
            let extras = Extras {
                notice: Some(message),
                ..Extras::none()
            };
            Ok(form_page(status, csrf, user, form, extras))
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<ConnectionForm>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let kind = PsaKind::parse(&form.kind).ok_or(WebError::BadRequest)?;
    let new = NewConnection {
        kind: kind.as_str().into(),
        name: form.name.clone(),
        base_url: form.base_url.clone(),
        credentials: form.credentials(kind),
        settings: Some(form.settings()),
    };
    match connections::create(&state, admin, new).await {
        Ok(created) => Ok(see_other(&format!("/settings/psa/{}?saved=1", created.id))),
        Err(err) => failed(err, &csrf, admin, FormState::typed(None, kind, &form)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditQuery {
    saved: String,
}

pub async fn edit(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    Query(q): Query<EditQuery>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let connection = connections::find(&state, admin, connection_id(&raw)?).await?;
    let extras = Extras {
        status: (!q.saved.is_empty())
            .then(|| "Saved. Test the connection to check the credentials.".into()),
        ..Extras::none()
    };
    Ok(form_page(
        StatusCode::OK,
        &csrf,
        admin,
        FormState::of(&connection),
        extras,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<ConnectionForm>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let id = connection_id(&raw)?;
    let connection = connections::find(&state, admin, id).await?;
    let change = ConnectionChange {
        name: Some(form.name.clone()),
        base_url: Some(form.base_url.clone()),
        credentials: form.credentials(connection.kind),
        settings: Some(form.settings()),
    };
    match connections::update(&state, admin, id, change).await {
        Ok(_) => Ok(see_other(&format!("/settings/psa/{id}?saved=1"))),
        Err(err) => failed(
            err,
            &csrf,
            admin,
            FormState::typed(Some(id), connection.kind, &form),
        ),
    }
}

pub async fn test(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let id = connection_id(&raw)?;
    let connection = connections::find(&state, admin, id).await?;
    let test = connections::test(&state, admin, id).await?;
    let extras = Extras {
        test: Some(test),
        ..Extras::none()
    };
    Ok(form_page(
        StatusCode::OK,
        &csrf,
        admin,
        FormState::of(&connection),
        extras,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    user: WebUser,
    Path(raw): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    connections::delete(&state, admin, connection_id(&raw)?).await?;
    Ok(see_other("/settings/psa?deleted=1"))
}

pub struct MemberChoice {
    pub id: String,
    pub label: String,
}

pub struct UserRow {
    pub user_id: String,
    pub name: String,
    pub email: String,
    /// The mapped member's id; empty when none.
    pub member_id: String,
    pub mapped_by: &'static str,
}

#[derive(Template)]
#[template(path = "psa_members.html")]
struct MembersPage {
    layout: Layout,
    id: String,
    kind_label: &'static str,
    connection_name: String,
    members: Vec<MemberChoice>,
    users: Vec<UserRow>,
    notice: Option<String>,
    status: Option<String>,
}

async fn members_page(
    state: &AppState,
    csrf: &CsrfToken,
    admin: &User,
    id: Uuid,
    status: Option<String>,
    problem: Option<(StatusCode, String)>,
) -> Result<Response, WebError> {
    let connection = connections::find(state, admin, id).await?;
    let (members, users, notice, code) = match members::mappings(state, admin, id).await {
        Ok(found) => {
            let members = found
                .members
                .into_iter()
                .map(|m| MemberChoice {
                    label: match &m.email {
                        Some(email) => format!("{} ({email})", m.name),
                        None => m.name.clone(),
                    },
                    id: m.id,
                })
                .collect();
            let users = found
                .users
                .into_iter()
                .map(|u| UserRow {
                    user_id: u.user.id.to_string(),
                    name: u.user.full_name,
                    email: u.user.email,
                    member_id: u
                        .mapping
                        .as_ref()
                        .and_then(|m| m.member_id.clone())
                        .unwrap_or_default(),
                    mapped_by: match u.mapping.map(|m| m.mapped_by) {
                        Some(store::MappedBy::Email) => "matched by email",
                        Some(store::MappedBy::Manual) => "chosen by an admin",
                        None => "not mapped",
                    },
                })
                .collect();
            (members, users, None, StatusCode::OK)
        }
        Err(err) => {
            let (code, message) = psa_notice(err)?;
            (Vec::new(), Vec::new(), Some(message), code)
        }
    };
    let (code, notice) = match problem {
        Some((code, message)) => (code, Some(message)),
        None => (code, notice),
    };
    Ok(render(
        code,
        &MembersPage {
            layout: Layout::new("Member mapping", csrf, Some(admin)).current("settings"),
            id: id.to_string(),
            kind_label: connection.kind.display_name(),
            connection_name: connection.name,
            members,
            users,
            notice,
            status,
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MembersQuery {
    saved: String,
}

pub async fn members_show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    Query(q): Query<MembersQuery>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let status = (!q.saved.is_empty()).then(|| "The mapping was saved.".to_string());
    members_page(&state, &csrf, admin, connection_id(&raw)?, status, None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MemberForm {
    member_id: String,
}

pub async fn members_map(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path((raw, raw_user)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<MemberForm>,
) -> Result<Response, WebError> {
    let admin = admin_only(&user)?;
    let id = connection_id(&raw)?;
    let user_id = connection_id(&raw_user)?;
    let member = Some(form.member_id.trim().to_string()).filter(|m| !m.is_empty());
    match members::map(&state, admin, id, user_id, member).await {
        Ok(_) => Ok(see_other(&format!("/settings/psa/{id}/members?saved=1"))),
        Err(ApiError::NotFound) => Err(WebError::Api(ApiError::NotFound)),
        Err(err) => {
            let problem = psa_notice(err)?;
            members_page(&state, &csrf, admin, id, None, Some(problem)).await
        }
    }
}
