use anyhow::{bail, Context, Result};
use chrono::Utc;
use domain::user::{is_plausible_email, normalize_email, PASSWORD_MAX, PASSWORD_MIN};
use domain::{Plan, Role};
use server::Settings;
use store::{NewAccount, NewUser, Store, StoreError};

use crate::cli::{Cli, Command, CreateUser, UserCommand};
use crate::telemetry;

pub async fn run(cli: Cli) -> Result<()> {
    let settings = Settings::from_process(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            telemetry::init(&settings.log);
            let store = open(&settings).await?;
            store.close().await;
            println!(
                "migrations applied to {}",
                store::redact_url(&settings.database_url)
            );
            Ok(())
        }
        Command::User(UserCommand::Create(args)) => {
            telemetry::init(&settings.log);
            create_user(&settings, args).await
        }
        Command::Flows(command) => {
            telemetry::init(&settings.log);
            let store = open(&settings).await?;
            let result = crate::flows::run(&store, command).await;
            store.close().await;
            result
        }
        Command::Eval(args) => {
            telemetry::init(&settings.log);
            crate::eval::run(settings, args).await
        }
        Command::Doctor(args) => {
            // The findings are the output; the log only when asked for with RUST_LOG.
            let filter = match std::env::var_os("RUST_LOG") {
                Some(_) => settings.log.as_str(),
                None => "warn",
            };
            telemetry::init(filter);
            crate::doctor::run(settings, args).await
        }
        Command::Config => {
            for ((name, value), (_, doc)) in settings
                .describe()
                .into_iter()
                .zip(Settings::documentation())
            {
                println!("# {doc}\n{name} = {value}");
            }
            Ok(())
        }
    }
}

pub(crate) async fn open(settings: &Settings) -> Result<Store> {
    let store = Store::connect(&settings.database_url)
        .await
        .with_context(|| format!("opening {}", store::redact_url(&settings.database_url)))?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

async fn serve(settings: Settings) -> Result<()> {
    telemetry::init(&settings.log);
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    tracing::info!(
        database = %store::redact_url(&settings.database_url),
        engine = settings.resolved_provider().as_str(),
        "starting FlowPilot on http://{}",
        settings.bind
    );
    server::launch(settings, listener, shutdown_signal()).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn create_user(settings: &Settings, args: CreateUser) -> Result<()> {
    let email = normalize_email(&args.email);
    if !is_plausible_email(&email) {
        bail!("{:?} is not a valid email address", args.email);
    }
    let len = args.password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&len) {
        bail!("the password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters");
    }
    let name = args.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        bail!("--name must be 1 to 200 characters");
    }
    let role = match args.role.as_deref() {
        Some(r) => Some(
            Role::parse(r)
                .with_context(|| format!("unknown role {r:?}: use viewer, engineer or admin"))?,
        ),
        None => None,
    };
    let store = open(settings).await?;
    let password_hash = server::auth::password::hash(args.password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let account_name = args
        .account
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("Operators");
    let now = Utc::now();
    let existing = store.account_by_name(account_name).await?;
    let result = match existing {
        Some(account) => {
            let new = NewUser {
                email: email.clone(),
                full_name: name.into(),
                password_hash,
                role: role.unwrap_or(Role::Engineer),
                team_id: None,
                is_super_admin: args.super_admin,
            };
            store
                .create_user(account.id, new, now)
                .await
                .map(|u| (account, u))
        }
        None => {
            let plan: Plan = settings.default_plan;
            let new = NewUser {
                email: email.clone(),
                full_name: name.into(),
                password_hash,
                role: role.unwrap_or(Role::Admin),
                team_id: None,
                is_super_admin: args.super_admin,
            };
            store
                .create_account_with_user(
                    NewAccount {
                        name: account_name.into(),
                        plan,
                    },
                    new,
                    now,
                )
                .await
        }
    };
    store.close().await;
    match result {
        Ok((account, user)) => {
            println!(
                "created {} ({}) in account {:?} ({}){}",
                user.email,
                user.role.as_str(),
                account.name,
                account.id,
                if user.is_super_admin {
                    " as super admin"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Err(StoreError::Conflict(_)) => bail!("a user with the email {email} already exists"),
        Err(err) => Err(err.into()),
    }
}
