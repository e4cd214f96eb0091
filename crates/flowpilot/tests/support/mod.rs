//! The real `flowpilot serve` on a SQLite file, for the stories that kill it with SIGKILL
//! and start another on the same file: what a restart test needs to start, ask and stop it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A `FLOWPILOT_SECRET_KEY`, for the stories that store sealed secrets.
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary on `db` at `port` with nothing of the caller's environment but `PATH`
/// and `env`, so a developer's own settings cannot leak in.
pub fn start_server(db: &Path, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowpilot"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "FLOWPILOT_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .env("FLOWPILOT_BIND", format!("127.0.0.1:{port}"))
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start flowpilot")
}

/// SIGKILL and reap: no graceful shutdown, so whatever was pending stays as it was.
pub fn sigkill(server: &mut Child) {
    server.kill().unwrap();
    server.wait().unwrap();
}

/// One HTTP/1.1 request on its own connection; the status and the JSON body (null if none).
pub async fn call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let ask = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    conn.write_all(ask.as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Waits for `/readyz` to answer 200; a server that exits first fails the story at once.
pub async fn ready(port: u16, server: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            panic!("the server exited: {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            && call(port, "GET", "/readyz", None, None).await.0 == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
