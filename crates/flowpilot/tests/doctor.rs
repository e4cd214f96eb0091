//! `flowpilot doctor` as an operator runs it: the real binary, configured through the
//! environment, against local fakes of the model servers on random ports. It tells a working
//! setup from a broken one, names what to change, and never prints a secret.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

#[path = "../../providers/tests/support/local_servers.rs"]
mod local_servers;
// Only the SMTP sink is used here; the webhook sink beside it serves the server's tests.
#[allow(dead_code)]
#[path = "../../server/tests/api/sinks.rs"]
mod sinks;

use std::path::Path;
use std::process::Command;

use local_servers::{Dialect, LocalServer};
use serde_json::Value;
use sinks::SmtpSink;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The binary in an empty directory with an empty home, so no embedding model and no
/// configuration file is found by accident; `env` is the operator's configuration.
async fn doctor(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowpilot"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env(
            "FLOWPILOT_DATABASE_URL",
            format!("sqlite://{}", dir.join("fp.db").display()),
        )
        .current_dir(dir)
        .arg("doctor")
        .args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    // The fakes run on this test's runtime; the binary is waited for off it.
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run flowpilot doctor"))
        .await
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_a_working_ollama_says_all_is_well_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let ollama = LocalServer::start(Dialect::OllamaNative).await;
    let run = doctor(
        dir.path(),
        &[],
        &[("OLLAMA_BASE_URL", ollama.configured_url())],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    let out = &run.stdout;
    assert!(
        out.contains("LLM provider: ollama, model llama3.2:3b"),
        "{out}"
    );
    assert!(out.contains("model llama3.2:3b is served"), "{out}");
    assert!(out.contains("structured call: schema enforced"), "{out}");
    // A missing embedding model is a note, with how to fetch it.
    assert!(out.contains("scripts/fetch-embedding-model.sh"), "{out}");
    assert!(out.contains("All is well"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    // A database that does not exist yet is reported, not created.
    assert!(out.contains("does not exist yet"), "{out}");
    assert!(!dir.path().join("fp.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_an_existing_database_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = Command::new(env!("CARGO_BIN_EXE_flowpilot"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env(
            "FLOWPILOT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("fp.db").display()),
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrate.status.success());
    let run = doctor(
        dir.path(),
        &[],
        &[("FLOWPILOT_LLM_PROVIDER", "offline".into())],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    assert!(
        run.stdout
            .contains("opened (SQLite), migrations applied and current, a read works"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("offline engine"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_wrong_key_names_openai_api_key_and_does_not_print_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::requiring_key(Dialect::Vllm, "sk-the-right-one").await;
    let key = "sk-live-do-not-print-4242";
    let run = doctor(
        dir.path(),
        &[],
        &[
            ("OPENAI_BASE_URL", server.configured_url()),
            ("OPENAI_API_KEY", key.into()),
            ("FLOWPILOT_OPENAI_MODEL", "qwen2.5-7b-instruct".into()),
        ],
    )
    .await;
    assert!(!run.ok, "{}", run.all());
    assert!(
        run.stdout.contains("refused the credentials (HTTP 401"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("check OPENAI_API_KEY"),
        "{}",
        run.stdout
    );
    assert!(
        !run.all().contains(key) && !run.all().contains("4242"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("check failed"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_a_dead_port_fails_and_names_the_base_url_setting() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let run = doctor(
        dir.path(),
        &[],
        &[("OPENAI_BASE_URL", format!("http://{addr}/v1"))],
    )
    .await;
    assert!(!run.ok, "{}", run.all());
    assert!(
        run.stdout
            .contains(&format!("FAIL  cannot reach http://{addr}/v1")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("check OPENAI_BASE_URL"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_model_ollama_lacks_says_which_to_pull() {
    let dir = tempfile::tempdir().unwrap();
    let ollama = LocalServer::serving(Dialect::OllamaNative, &["mistral:7b"]).await;
    let run = doctor(
        dir.path(),
        &[],
        &[
            ("OLLAMA_BASE_URL", ollama.configured_url()),
            ("FLOWPILOT_OLLAMA_MODEL", "qwen2.5:7b".into()),
        ],
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stdout.contains("`ollama pull qwen2.5:7b`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("mistral:7b"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_the_mode_auto_uses_with_a_vllm_server() {
    let dir = tempfile::tempdir().unwrap();
    let vllm = LocalServer::start(Dialect::Vllm).await;
    let run = doctor(
        dir.path(),
        &[],
        &[
            ("OPENAI_BASE_URL", vllm.configured_url()),
            ("FLOWPILOT_OPENAI_MODEL", "qwen2.5-7b-instruct".into()),
        ],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    let out = &run.stdout;
    assert!(
        out.contains("strict (response_format): not enforced, the model answered prose"),
        "{out}"
    );
    assert!(
        out.contains("vllm (structured_outputs): schema enforced"),
        "{out}"
    );
    assert!(
        out.contains("FLOWPILOT_OPENAI_STRUCTURED=auto uses vllm"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_mode_the_server_ignores_says_which_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let llamacpp = LocalServer::start(Dialect::LlamaCpp).await;
    let run = doctor(
        dir.path(),
        &[],
        &[
            ("OPENAI_BASE_URL", llamacpp.configured_url()),
            ("FLOWPILOT_OPENAI_MODEL", "qwen2.5-7b-instruct".into()),
            ("FLOWPILOT_OPENAI_STRUCTURED", "strict".into()),
        ],
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stdout
            .contains("set FLOWPILOT_OPENAI_STRUCTURED=llamacpp"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_never_prints_the_password_of_a_postgres_url() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let run = doctor(
        dir.path(),
        &[],
        &[
            (
                "FLOWPILOT_DATABASE_URL",
                format!("postgres://flowpilot:pg-s3cret-pw@127.0.0.1:{port}/flowpilot"),
            ),
            ("FLOWPILOT_LLM_PROVIDER", "offline".into()),
        ],
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stdout
            .contains("Database: postgres://flowpilot:***@127.0.0.1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("cannot connect to the PostgreSQL server"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("in FLOWPILOT_DATABASE_URL"),
        "{}",
        run.stdout
    );
    assert!(!run.all().contains("pg-s3cret-pw"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_json_has_a_section_per_check_and_the_overall_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let run = doctor(
        dir.path(),
        &["--json"],
        &[("FLOWPILOT_LLM_PROVIDER", "offline".into())],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(report["ok"], true);
    let checks: Vec<&str> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "database",
            "embedding_model",
            "llm_provider",
            "notifications"
        ]
    );
    let finding = &report["sections"][1]["findings"][0];
    assert_eq!(finding["level"], "note");
    assert!(finding["fix"]
        .as_str()
        .unwrap()
        .contains("fetch-embedding-model.sh"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_model_dir_that_holds_no_model_names_it_and_still_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("models");
    std::fs::create_dir_all(&empty).unwrap();
    let run = doctor(
        dir.path(),
        &[],
        &[
            ("FLOWPILOT_LLM_PROVIDER", "offline".into()),
            ("FLOWPILOT_EMBEDDING_MODEL_DIR", empty.display().to_string()),
        ],
    )
    .await;
    // With the `embeddings` feature the directory lacks the files; without it the setting
    // is unused. Either way a warning naming the variable, not a failure.
    assert!(run.ok, "{}", run.all());
    assert!(
        run.stdout.contains("warn  FLOWPILOT_EMBEDDING_MODEL_DIR"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reaches_the_mail_server_without_mailing_anyone_and_shows_where_links_point() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let run = doctor(
        dir.path(),
        &[],
        &[
            ("FLOWPILOT_SMTP_URL", smtp.url()),
            (
                "FLOWPILOT_PUBLIC_URL",
                "https://flowpilot.acme.test/".into(),
            ),
        ],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    let out = &run.stdout;
    assert!(out.contains("Notifications (email and links)"), "{out}");
    let port = smtp
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!(
            "ok    the mail server at 127.0.0.1:{port} (no TLS) took a connection"
        )),
        "{out}"
    );
    assert!(
        out.contains("ok    links in notifications start with https://flowpilot.acme.test\n"),
        "{out}"
    );
    assert!(smtp.mails().is_empty(), "the check sends no message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_the_mail_server_down_fails_names_the_setting_and_hides_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    smtp.set_down(true);
    let url = smtp.url().replace("smtp://", "smtp://ops:s3cret-mail-pw@");
    let run = doctor(dir.path(), &["--json"], &[("FLOWPILOT_SMTP_URL", url)]).await;
    assert!(!run.ok, "{}", run.all());
    assert!(!run.all().contains("s3cret-mail-pw"), "{}", run.all());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let section = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"] == "notifications")
        .unwrap();
    let findings = section["findings"].as_array().unwrap();
    let mail = &findings[0];
    assert_eq!(mail["level"], "fail", "{mail}");
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("did not take a connection"),
        "{mail}"
    );
    assert!(
        mail["fix"].as_str().unwrap().contains("FLOWPILOT_SMTP_URL"),
        "{mail}"
    );
    // With email on, links that open only on this machine are worth a warning.
    let links = &findings[1];
    assert_eq!(links["level"], "warn", "{links}");
    assert!(
        links["text"]
            .as_str()
            .unwrap()
            .contains("http://127.0.0.1:8080"),
        "{links}"
    );
    assert!(
        links["fix"]
            .as_str()
            .unwrap()
            .contains("FLOWPILOT_PUBLIC_URL"),
        "{links}"
    );
}
