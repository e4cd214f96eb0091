//! Creating, changing, deleting, listing and testing an account's PSA connections. The JSON
//! API and the settings page both come through here, so the checks and the answers are the
//! same for a form and a request.

use chrono::Utc;
use domain::psa::{ConnectionSettings, Credentials, PsaKind};
use domain::{FieldError, User, ValidationErrors};
use integrations::SecretError;
use store::{PsaConnection, PsaConnectionPatch, StoreError};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A new connection, as typed: checked by [`create`].
#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    pub kind: String,
    pub name: String,
    pub base_url: String,
    pub credentials: Option<serde_json::Value>,
    pub settings: Option<serde_json::Value>,
}

/// A change to a connection: what is `None` stays as stored, credentials included.
#[derive(Debug, Clone, Default)]
pub struct ConnectionChange {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub credentials: Option<serde_json::Value>,
    pub settings: Option<serde_json::Value>,
}

/// What `POST …/{id}/test` answers: whether the PSA took the credentials, and what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTest {
    pub ok: bool,
    pub detail: String,
}

/// What `Credentials::from_json` says is missing, as the API's field errors: one sentence
/// (located at the credentials), or errors located at each field.
trait IntoFieldErrors {
    fn into_field_errors(self) -> Vec<FieldError>;
}

impl IntoFieldErrors for String {
    fn into_field_errors(self) -> Vec<FieldError> {
        vec![FieldError::body(&["credentials"], self, "value_error")]
    }
}

impl IntoFieldErrors for ValidationErrors {
    fn into_field_errors(self) -> Vec<FieldError> {
        self.0
    }
}

const NAME_MAX: usize = 200;
const URL_MAX: usize = 2_000;

/// The one place the store's `psa_connections_one_per_kind` conflict becomes an answer.
fn one_per_kind(err: StoreError, kind: PsaKind) -> ApiError {
    match err {
        StoreError::Conflict(_) => ApiError::Conflict(format!(
            "This account already has a {} connection; change or delete that one",
            kind.display_name()
        )),
        other => other.into(),
    }
}

fn check_name(errors: &mut ValidationErrors, name: &str) -> String {
    let name = name.trim();
    errors.check_len(&["name"], name, 1, NAME_MAX);
    name.to_string()
}

fn check_base_url(errors: &mut ValidationErrors, base_url: &str) -> String {
    if base_url.chars().count() > URL_MAX {
        errors.push(FieldError::body(
            &["base_url"],
            format!("Use at most {URL_MAX} characters"),
            "string_too_long",
        ));
        return String::new();
    }
    match integrations::psa::normalize_base(base_url) {
        Ok(base) => base,
        Err(err) => {
            errors.push(FieldError::body(
                &["base_url"],
                err.to_string(),
                "url_parsing",
            ));
            String::new()
        }
    }
}

fn check_settings(
    errors: &mut ValidationErrors,
    settings: Option<&serde_json::Value>,
) -> Option<ConnectionSettings> {
    let value = settings.filter(|v| !v.is_null())?;
    match serde_json::from_value::<ConnectionSettings>(value.clone()) {
        Ok(settings) => Some(settings),
        Err(err) => {
            errors.push(FieldError::body(
                &["settings"],
                err.to_string(),
                "value_error",
            ));
            None
        }
    }
}

/// Reads and seals the credentials for `kind`. Missing fields are named; a server without
/// `FLOWPILOT_SECRET_KEY` refuses them, saying so.
fn sealed_credentials(
    state: &AppState,
    errors: &mut ValidationErrors,
    kind: PsaKind,
    value: &serde_json::Value,
) -> ApiResult<Option<String>> {
    let credentials = match Credentials::from_json(kind, value) {
        Ok(credentials) => credentials,
        Err(refused) => {
            for error in refused.into_field_errors() {
                errors.push(error);
            }
            return Ok(None);
        }
    };
    match state.psa.seal(&credentials) {
        Ok(sealed) => Ok(Some(sealed)),
        Err(SecretError::MissingKey) => {
            errors.push(FieldError::body(
                &["credentials"],
                SecretError::MissingKey.to_string(),
                "secret_key_missing",
            ));
            Ok(None)
        }
        Err(other) => Err(ApiError::fault(
            "the credentials could not be sealed",
            other,
        )),
    }
}

pub async fn create(
    state: &AppState,
    admin: &User,
    new: NewConnection,
) -> ApiResult<PsaConnection> {
    let mut errors = ValidationErrors::new();
    let kind = PsaKind::parse(&new.kind);
    if kind.is_none() {
        errors.push(FieldError::body(
            &["kind"],
            "Input should be 'connectwise', 'autotask' or 'halo'",
            "enum",
        ));
    }
    let name = check_name(&mut errors, &new.name);
    let base_url = check_base_url(&mut errors, &new.base_url);
    let settings = check_settings(&mut errors, new.settings.as_ref()).unwrap_or_default();
    let sealed = match (kind, new.credentials.as_ref().filter(|c| !c.is_null())) {
        (Some(kind), Some(value)) => sealed_credentials(state, &mut errors, kind, value)?,
        (_, None) => {
            errors.push(FieldError::body(
                &["credentials"],
                "Field required",
                "missing",
            ));
            None
        }
        (None, Some(_)) => None,
    };
    errors.into_result()?;
    let (Some(kind), Some(sealed_credentials)) = (kind, sealed) else {
        return Err(ApiError::internal(
            "a connection passed its checks incomplete",
        ));
    };
    let now = Utc::now();
    let connection = PsaConnection {
        id: Uuid::new_v4(),
        account_id: admin.account_id,
        kind,
        name,
        base_url,
        sealed_credentials,
        settings,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .create_psa_connection(&connection)
        .await
        .map_err(|err| one_per_kind(err, kind))?;
    tracing::info!(admin = %admin.id, connection = %connection.id, kind = %kind, "PSA connection created");
    Ok(connection)
}

/// The connection `id` of the user's account; another account's is a 404.
pub async fn find(state: &AppState, user: &User, id: Uuid) -> ApiResult<PsaConnection> {
    Ok(state.store.psa_connection(user.account_id, id).await?)
}

pub async fn list(state: &AppState, user: &User) -> ApiResult<Vec<PsaConnection>> {
    Ok(state.store.psa_connections(user.account_id).await?)
}

pub async fn update(
    state: &AppState,
    admin: &User,
    id: Uuid,
    change: ConnectionChange,
) -> ApiResult<PsaConnection> {
    let current = find(state, admin, id).await?;
    let mut errors = ValidationErrors::new();
    let name = change.name.as_deref().map(|n| check_name(&mut errors, n));
    let base_url = change
        .base_url
        .as_deref()
        .map(|u| check_base_url(&mut errors, u));
    let settings = check_settings(&mut errors, change.settings.as_ref());
    let sealed = match change.credentials.as_ref().filter(|c| !c.is_null()) {
        Some(value) => sealed_credentials(state, &mut errors, current.kind, value)?,
        None => None,
    };
    errors.into_result()?;
    let patch = PsaConnectionPatch {
        name,
        base_url,
        sealed_credentials: sealed,
        settings,
    };
    let updated = state
        .store
        .update_psa_connection(admin.account_id, id, &patch, Utc::now())
        .await?;
    tracing::info!(admin = %admin.id, connection = %id, credentials_replaced = patch.sealed_credentials.is_some(), "PSA connection updated");
    Ok(updated)
}

pub async fn delete(state: &AppState, admin: &User, id: Uuid) -> ApiResult<()> {
    if !state
        .store
        .delete_psa_connection(admin.account_id, id)
        .await?
    {
        return Err(ApiError::NotFound);
    }
    tracing::info!(admin = %admin.id, connection = %id, "PSA connection deleted");
    Ok(())
}

/// Calls the PSA once with the stored credentials. A PSA that refuses or does not answer is
/// an answer too (`ok: false`, saying what to check), not an error of this request.
pub async fn test(state: &AppState, admin: &User, id: Uuid) -> ApiResult<ConnectionTest> {
    let connection = find(state, admin, id).await?;
    super::limit(state, admin).await?;
    let result = state
        .psa
        .call(&connection, |client| async move {
            client.test_connection().await
        })
        .await;
    Ok(match result {
        Ok(check) => ConnectionTest {
            ok: true,
            detail: check.detail,
        },
        Err(problem) => {
            tracing::info!(connection = %id, error = %problem, "PSA connection test failed");
            ConnectionTest {
                ok: false,
                detail: problem.to_string(),
            }
        }
    })
}
