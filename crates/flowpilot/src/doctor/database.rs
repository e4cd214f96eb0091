//! The database `serve` would use: opened, migrated, read. The URL is shown with its password
//! hidden, and any error text is cleaned of it too.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use providers::probe::{Finding, Level};
use server::Settings;
use store::{Backend, Store};

use super::report::{finding, Section};

/// A PostgreSQL server that does not answer should not hold the doctor for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

const VAR: &str = "FLOWPILOT_DATABASE_URL";

pub async fn check(settings: &Settings) -> Section {
    let url = &settings.database_url;
    Section {
        key: "database",
        title: format!("Database: {}", store::redact_url(url)),
        findings: vec![examine(url).await],
    }
}

async fn examine(url: &str) -> Finding {
    let Some(backend) = Backend::from_url(url) else {
        return finding(
            Level::Fail,
            format!("{VAR} is neither sqlite://PATH nor postgres://…"),
            Some(format!(
                "set {VAR}, e.g. sqlite://flowpilot.db or postgres://flowpilot@db-host/flowpilot"
            )),
        );
    };
    if backend == Backend::Sqlite {
        if let Some(missing) = missing_sqlite_file(url) {
            return missing;
        }
    }
    if backend == Backend::Postgres {
        if let Some(closed) = unreachable_server(url).await {
            return closed;
        }
    }
    let started = Instant::now();
    match tokio::time::timeout(CONNECT_TIMEOUT, open_migrate_read(url)).await {
        Ok(Ok(())) => finding(
            Level::Ok,
            format!(
                "opened ({}), migrations applied and current, a read works ({})",
                match backend {
                    Backend::Sqlite => "SQLite",
                    Backend::Postgres => "PostgreSQL",
                },
                providers::probe::duration(started.elapsed())
            ),
            None,
        ),
        Ok(Err(err)) => finding(
            Level::Fail,
            scrub_password(&err, url),
            Some(match backend {
                Backend::Sqlite => format!(
                    "check the file's permissions and that no other program holds it locked, or point {VAR} elsewhere"
                ),
                Backend::Postgres => format!(
                    "check {VAR} (host, port, user, password, database) and that the server accepts connections from here"
                ),
            }),
        ),
        Err(_) => finding(
            Level::Fail,
            format!(
                "no answer from the database within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
            Some(format!("check the host and port in {VAR}, and any firewall between")),
        ),
    }
}

/// The pool retries a refused connection until its own timeout; a plain connect first says
/// at once that nothing listens.
async fn unreachable_server(url: &str) -> Option<Finding> {
    let addr = postgres_address(url)?;
    let connect = tokio::net::TcpStream::connect(&addr);
    let error = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => return None,
        Ok(Err(err)) => err.to_string(),
        Err(_) => "no answer within 5 s".to_string(),
    };
    Some(finding(
        Level::Fail,
        format!("cannot connect to the PostgreSQL server at {addr}: {error}"),
        Some(format!(
            "is PostgreSQL running and listening there? check the host and port in {VAR}"
        )),
    ))
}

/// `host:port` of a `postgres://` URL; `None` for a Unix socket (host in the query).
fn postgres_address(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let has_port = match host_port.rfind(']') {
        Some(bracket) => host_port[bracket..].contains(':'),
        None => host_port.contains(':'),
    };
    Some(if has_port {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    })
}

async fn open_migrate_read(url: &str) -> Result<(), String> {
    let store = Store::connect(url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let result = async {
        store
            .migrate()
            .await
            .map_err(|e| format!("cannot apply the migrations: {e}"))?;
        // A table the migrations create, not just `SELECT 1`.
        store
            .account_by_name("flowpilot doctor")
            .await
            .map_err(|e| format!("cannot read the accounts table: {e}"))?;
        Ok(())
    }
    .await;
    store.close().await;
    result
}

/// A SQLite file that is not there yet is what a new install has: `migrate` or `serve`
/// creates it. The doctor does not, so that a check run from the wrong directory leaves no
/// stray database behind; it only says whether it could be created.
fn missing_sqlite_file(url: &str) -> Option<Finding> {
    let path = sqlite_path(url);
    if path.exists() {
        return None;
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let writable = std::fs::metadata(&dir)
        .map(|m| m.is_dir() && !m.permissions().readonly())
        .unwrap_or(false);
    Some(if writable {
        finding(
            Level::Ok,
            format!(
                "{} does not exist yet: `flowpilot migrate` (or `serve`) creates it",
                path.display()
            ),
            None,
        )
    } else {
        finding(
            Level::Fail,
            format!(
                "{} does not exist and its directory {} cannot be written",
                path.display(),
                dir.display()
            ),
            Some(format!("create the directory, or point {VAR} elsewhere")),
        )
    })
}

fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    Path::new(path).to_path_buf()
}

/// Error texts can quote the URL; the password never leaves.
fn scrub_password(text: &str, url: &str) -> String {
    let password = url.split_once("://").and_then(|(_, rest)| {
        let creds = &rest[..rest.rfind('@')?];
        creds.split_once(':').map(|(_, p)| p)
    });
    match password {
        Some(p) if !p.is_empty() => text.replace(p, "***"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_path_is_read_from_the_url() {
        assert_eq!(
            sqlite_path("sqlite://flowpilot.db"),
            Path::new("flowpilot.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/fp/fp.db?mode=rwc"),
            Path::new("/var/lib/fp/fp.db")
        );
    }

    #[test]
    fn the_postgres_address_is_read_from_the_url() {
        assert_eq!(
            postgres_address("postgres://fp:p@w@db.local:6432/fp").as_deref(),
            Some("db.local:6432")
        );
        assert_eq!(
            postgres_address("postgres://db.local/fp").as_deref(),
            Some("db.local:5432")
        );
        assert_eq!(
            postgres_address("postgresql://[::1]/fp").as_deref(),
            Some("[::1]:5432")
        );
        assert_eq!(
            postgres_address("postgres:///fp?host=/run/postgresql"),
            None
        );
    }

    #[test]
    fn a_password_is_scrubbed_from_error_text() {
        let url = "postgres://fp:pa55word@db:5432/fp";
        assert_eq!(
            scrub_password("failed for postgres://fp:pa55word@db", url),
            "failed for postgres://fp:***@db"
        );
    }
}
