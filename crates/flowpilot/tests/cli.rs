//! The binary as an operator uses it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn flowpilot(db: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowpilot"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "FLOWPILOT_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .env("RUST_LOG", "warn");
    cmd
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run flowpilot");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_describes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["user", "create", "--help"],
        vec!["config", "--help"],
        vec!["doctor", "--help"],
        vec!["flows", "import", "--help"],
        vec!["flows", "export", "--help"],
    ] {
        let (ok, out, err) = run(flowpilot(&db).args(&args));
        assert!(ok, "{args:?}: {err}");
        assert!(out.contains("Usage"), "{args:?}: {out}");
    }
}

#[test]
fn an_operator_migrates_then_creates_the_first_super_admin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    let (ok, out, err) = run(flowpilot(&db).arg("migrate"));
    assert!(ok, "{err}");
    assert!(out.contains("migrations applied"));
    assert!(db.exists());

    let (ok, out, err) = run(flowpilot(&db).args([
        "user",
        "create",
        "--email",
        "Ops@Example.com",
        "--password",
        "a long operator password",
        "--name",
        "Ops",
        "--super-admin",
    ]));
    assert!(ok, "{err}");
    assert!(
        out.contains("ops@example.com") && out.contains("super admin"),
        "{out}"
    );

    let (ok, _, err) = run(flowpilot(&db).args([
        "user",
        "create",
        "--email",
        "ops@example.com",
        "--password",
        "a long operator password",
        "--name",
        "Ops",
    ]));
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");

    let (ok, _, err) = run(flowpilot(&db).args([
        "user",
        "create",
        "--email",
        "x@example.com",
        "--password",
        "short",
        "--name",
        "X",
    ]));
    assert!(!ok);
    assert!(err.contains("password"), "{err}");
}

const YAML_FLOWS: &str = "- title: Blank labels\n  domain: label_printing\n  start: s1\n  nodes:\n    s1: {type: solution, text: Set the media type}\n- title: Ribbon out\n  domain: label_printing\n  start: e1\n  nodes:\n    e1: {type: escalate, text: Order ribbons}\n";
const JSON_FLOW: &str = r#"{"title": "Printhead worn", "domain": "label_printing", "start": "s1", "nodes": {"s1": {"type": "solution", "text": "Replace the printhead"}}}"#;
const BAD_FLOW: &str = "title: Broken\ndomain: label_printing\nstart: q1\nnodes:\n  s1: {type: solution, text: Unreachable}\n";

#[test]
fn an_operator_imports_and_exports_an_account_library() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    let (ok, _, err) = run(flowpilot(&db).args([
        "user",
        "create",
        "--email",
        "admin@acme.test",
        "--password",
        "a long admin password",
        "--name",
        "Admin",
        "--account",
        "Acme",
    ]));
    assert!(ok, "{err}");
    let yaml = dir.path().join("labels.yaml");
    let json = dir.path().join("printhead.json");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&yaml, YAML_FLOWS).unwrap();
    std::fs::write(&json, JSON_FLOW).unwrap();
    std::fs::write(&bad, BAD_FLOW).unwrap();

    let (ok, out, err) = run(flowpilot(&db)
        .args(["flows", "import", "--account", "Acme"])
        .arg(&yaml)
        .arg(&json));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(err.contains("imported 3"), "{err}");

    // A bad file anywhere imports nothing, and the error names the file and the node.
    let (ok, _, err) = run(flowpilot(&db)
        .args(["flows", "import", "--account", "Acme"])
        .arg(&json)
        .arg(&bad));
    assert!(!ok);
    assert!(
        err.contains("bad.yml") && err.contains("nothing imported"),
        "{err}"
    );
    let (ok, _, err) = run(flowpilot(&db)
        .args(["flows", "import", "--account", "Nobody"])
        .arg(&json));
    assert!(!ok);
    assert!(err.contains("Nobody"), "{err}");

    let (ok, out, err) =
        run(flowpilot(&db).args(["flows", "export", "--account", "Acme", "--format", "json"]));
    assert!(ok, "{err}");
    assert!(out.trim_start().starts_with('['), "{out}");
    for title in ["Blank labels", "Ribbon out", "Printhead worn"] {
        assert_eq!(out.matches(title).count(), 1, "{title} in {out}");
    }
    assert!(!out.contains("Broken"));
    let (ok, out, err) = run(flowpilot(&db).args(["flows", "export", "--account", "Acme"]));
    assert!(ok, "{err}");
    assert!(out.contains("title: Blank labels"), "{out}");
}

#[test]
fn config_prints_the_effective_settings_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    let (ok, out, err) = run(flowpilot(&db)
        .arg("config")
        .env("OPENAI_API_KEY", "sk-very-secret")
        .env("FLOWPILOT_MAX_STEPS", "12"));
    assert!(ok, "{err}");
    assert!(out.contains("FLOWPILOT_MAX_STEPS = 12"), "{out}");
    assert!(out.contains("OPENAI_API_KEY = ***"));
    assert!(!out.contains("sk-very-secret"));

    let (ok, _, err) = run(flowpilot(&db)
        .arg("config")
        .env("FLOWPILOT_RATE_LIMITS", "sometimes"));
    assert!(!ok);
    assert!(err.contains("FLOWPILOT_RATE_LIMITS"), "{err}");
}

#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = flowpilot(&db)
        .env("FLOWPILOT_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until it answers HTTP, not merely accepts connections: the signal handler is
    // installed once the server is up.
    while !healthy(port) {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap();
    assert!(code.success(), "exit status {code:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
}

fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}
