use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// FlowPilot: guided troubleshooting for MSP and IT engineers.
///
/// Settings come from built-in defaults, then the TOML file given by --config (or
/// FLOWPILOT_CONFIG), then environment variables (see `flowpilot config`).
#[derive(Debug, Parser)]
#[command(name = "flowpilot", version, propagate_version = true)]
pub struct Cli {
    /// A TOML configuration file (keys are the variable names without FLOWPILOT_, in lower case).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve the API and web UI (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Import and export troubleshooting flows.
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Run an evaluation suite through the real session loop and report its figures.
    Eval(Eval),
    /// Check the database, the embedding model and the LLM provider end to end, and say
    /// what to change. Exits non-zero when a check fails (a missing embedding model does not).
    Doctor(Doctor),
}

#[derive(Debug, Args)]
pub struct Doctor {
    /// Print the findings as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A case is a ticket with what the engineer knows and what should happen (docs/eval.md).
#[derive(Debug, Args)]
pub struct Eval {
    /// A case file (YAML or JSON list) or a directory of them; repeat for more.
    #[arg(long, required = true, value_name = "FILE")]
    pub cases: Vec<PathBuf>,
    /// A directory of flows to use besides the built-in library.
    #[arg(long, value_name = "DIR")]
    pub flows: Option<PathBuf>,
    /// Who answers FlowPilot's steps: scripted (deterministic) or llm
    /// (FLOWPILOT_EVAL_ENGINEER_* variables).
    #[arg(long, value_enum, default_value = "scripted")]
    pub engineer: EngineerKind,
    /// Runs per case.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub repeat: u16,
    /// Write the summary and every case's result to this JSON file.
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineerKind {
    Scripted,
    Llm,
}

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Import flows from YAML or JSON files into an account, all or nothing.
    Import(ImportFlows),
    /// Print an account's flows (or the built-in library) to stdout.
    Export(ExportFlows),
}

#[derive(Debug, Args)]
pub struct ImportFlows {
    /// The account (tenant) name that receives the flows; it must exist.
    #[arg(long)]
    pub account: String,
    /// Files holding one flow or a list (`.json` is read as JSON, anything else as YAML).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportFlows {
    /// The account whose own flows are exported; without it, the built-in library.
    #[arg(long)]
    pub account: Option<String>,
    /// yaml or json.
    #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
    pub format: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (and its account when --account names a new one).
    Create(CreateUser),
}

#[derive(Debug, Args)]
pub struct CreateUser {
    #[arg(long)]
    pub email: String,
    /// At least 10 characters.
    #[arg(long)]
    pub password: String,
    /// Full name.
    #[arg(long)]
    pub name: String,
    /// Account (tenant) name; created when it does not exist. Default: "Operators".
    #[arg(long)]
    pub account: Option<String>,
    /// viewer, engineer or admin (default: admin for a new account, engineer otherwise).
    #[arg(long)]
    pub role: Option<String>,
    /// Make the user an instance operator who manages accounts and plans.
    #[arg(long)]
    pub super_admin: bool,
}
