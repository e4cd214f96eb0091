//! Sign-up and sign-in rules, shared by the JSON API and the web pages so the two cannot drift.

use std::net::IpAddr;

use chrono::{Duration, Utc};
use domain::user::{is_plausible_email, normalize_email, PASSWORD_MAX, PASSWORD_MIN};
use domain::{FieldError, Role, User, ValidationErrors};
use store::{NewAccount, NewToken, NewUser, StoreError};

use crate::auth::{password, token};
use crate::error::ApiError;
use crate::rate_limit::Action;
use crate::state::AppState;

/// A new account and its first user, as typed (fields are trimmed and normalised here).
pub struct Registration<'a> {
    /// Where the sign-up came from: sign-ups are limited per client address.
    pub client: IpAddr,
    pub email: &'a str,
    pub password: String,
    pub full_name: &'a str,
    pub account_name: &'a str,
}

/// Creates the account with the user as its admin; `None` when the email is taken.
/// The fields must already have been checked. Sign-ups need no account, so each client
/// address gets a few a minute (`Action::SignUp`).
pub async fn register(state: &AppState, r: Registration<'_>) -> Result<Option<User>, ApiError> {
    state
        .limiter
        .check(Action::SignUp, &format!("ip:{}", r.client), Utc::now())
        .await?;
    let password_hash = password::hash(r.password).await?;
    let created = state
        .store
        .create_account_with_user(
            NewAccount {
                name: r.account_name.trim().to_string(),
                plan: state.settings.default_plan,
            },
            NewUser {
                email: normalize_email(r.email),
                full_name: r.full_name.trim().to_string(),
                password_hash,
                role: Role::Admin,
                team_id: None,
                is_super_admin: false,
            },
            Utc::now(),
        )
        .await;
    match created {
        Ok((_, user)) => {
            tracing::info!(user_id = %user.id, account_id = %user.account_id, "account registered");
            Ok(Some(user))
        }
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Checks a sign-in: the attempt limits first (per client IP, then per email), a dummy hash
/// for unknown emails so timing tells nothing, one message for unknown emails and wrong
/// passwords alike. Refusals are `Unauthorized` (with the message to show) or `TooManyRequests`.
pub async fn authenticate(
    state: &AppState,
    ip: IpAddr,
    email: &str,
    password: String,
) -> Result<User, ApiError> {
    let now = Utc::now();
    let email = normalize_email(email);
    state.limiter.check_login_from(&ip.to_string(), now).await?;
    state.limiter.check_login(&email, now).await?;
    let found = state.store.user_for_login(&email).await?;
    let stored_hash = found.as_ref().map(|f| f.password_hash.clone());
    let valid = password::verify(password, stored_hash).await?;
    match (found, valid) {
        (Some(found), true) if found.user.is_active => Ok(found.user),
        (Some(_), true) => Err(ApiError::Unauthorized(
            "This user has been deactivated".into(),
        )),
        _ => Err(ApiError::Unauthorized("Incorrect email or password".into())),
    }
}

/// Checks an email and a new password; shared by sign-up and user creation.
pub fn check_credentials(errors: &mut ValidationErrors, email: &str, password: &str) {
    if !is_plausible_email(email.trim()) {
        errors.push(FieldError::body(
            &["email"],
            "value is not a valid email address",
            "value_error",
        ));
    }
    errors.check_len(&["password"], password, PASSWORD_MIN, PASSWORD_MAX);
}

/// A user with a new access token.
pub struct SignedIn {
    pub user: User,
    /// The token itself: shown this once, stored only as its digest.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Issues a new access token for `user`.
pub async fn sign_in(state: &AppState, user: User) -> Result<SignedIn, ApiError> {
    let now = Utc::now();
    let ttl = Duration::hours(state.settings.token_ttl_hours);
    let raw = token::generate();
    state
        .store
        .insert_token(
            NewToken {
                token_hash: token::digest(&raw),
                user_id: user.id,
                expires_at: now + ttl,
            },
            now,
        )
        .await?;
    Ok(SignedIn {
        user,
        token: raw,
        expires_in: ttl.num_seconds(),
    })
}
