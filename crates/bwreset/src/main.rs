//! `bwreset`: reset SIP passwords, voicemail passcodes or web passwords in bulk on Cisco
//! BroadWorks through the Odin API or OCI-P. This file parses the command line and dispatches;
//! the one place that prints errors is `errors`.

mod backend;
mod cli;
mod commands;
mod devices;
mod encryption;
mod errors;
mod files;
mod output;
mod progress;
mod settings;
mod users_file;
mod zeroizing_writer;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::settings::Environment;

fn main() -> ExitCode {
    errors::install_panic_hook();
    errors::finish(run())
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let environment = Environment::from_process();
    match cli.command {
        Command::Reset(arguments) => commands::reset::run(arguments, environment),
        Command::Resume(arguments) => commands::resume::run(arguments, environment),
        Command::Check(arguments) => commands::check::run(arguments, environment),
        Command::Demo(arguments) => commands::demo::run(arguments),
        Command::Completions(arguments) => commands::completions::run(arguments),
    }
}

/// Quiet by default: stderr holds bwreset's own messages only, so no log subscriber is installed
/// (and no library's log line or timestamp can appear). `--verbose` shows bwreset's and its
/// libraries' debug lines; `RUST_LOG` chooses any levels. The libraries log field names and
/// outcomes, never a secret's value.
fn init_logging(verbose: bool) {
    let from_environment = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .and_then(|_| tracing_subscriber::EnvFilter::try_from_default_env().ok());
    let filter = match from_environment {
        Some(filter) => filter,
        None if verbose => tracing_subscriber::EnvFilter::new(
            "warn,bwreset=debug,bwreset_core=debug,bwreset_backend=debug,odin_client=debug,ocip_client=debug",
        ),
        None => return,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose)
        .init();
}
