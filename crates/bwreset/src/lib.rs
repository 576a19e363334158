//! `bwreset` as a library: the command line the binary runs, callable from another program
//! (the Python package runs it from its `bwreset` console script). Everything behind it stays
//! private; [`run_with_args`] is the one way in, and [`main`] is what the binary calls.
//!
//! The one place that prints errors is `errors`.

mod backend;
mod cli;
mod commands;
mod devices;
mod encryption;
mod errors;
mod files;
pub mod interrupt;
mod output;
mod progress;
mod settings;
mod user_names;
mod users_file;
mod zeroizing_writer;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
/// The login password [`run_reporting`] takes: redacted in `Debug`, wiped when dropped.
pub use secrecy::SecretString;

pub use crate::backend::AnyBackend;
use crate::cli::{Cli, Command};
use crate::settings::Environment;

/// The binary's `main`: parses the process's arguments (clap prints usage errors and `--help`
/// and exits, as any clap program does), runs the command, prints any error once, and returns the
/// exit code.
pub fn main() -> ExitCode {
    errors::install_panic_hook();
    let cli = Cli::parse();
    errors::finish(run(cli, None))
}

/// Runs the command line `arguments` (the program's name first, as in `std::env::args_os`) in
/// this process, exactly as the binary would, and returns the exit code instead of exiting:
/// clap's own messages (usage errors, `--help`, `--version`) are printed as the binary prints
/// them, with the same codes. Reads the environment and stdin, writes stdout and stderr, like the
/// binary. Installs bwreset's panic hook (a panic never prints its message) and, with
/// `--verbose` or `RUST_LOG`, a global log subscriber: call it once per process.
pub fn run_with_args<I, T>(arguments: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    errors::install_panic_hook();
    let cli = match Cli::try_parse_from(arguments) {
        Ok(cli) => cli,
        Err(error) => {
            // What `clap::Error::exit` does, without ending the process.
            let _ = error.print();
            return u8::try_from(error.exit_code()).unwrap_or(errors::exit::USAGE);
        }
    };
    exit_code_number(errors::finish(run(cli, None)))
}

/// How a command line run by [`run_reporting`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEnd {
    /// The exit code the binary would have ended with.
    pub exit_code: u8,
    /// The error the binary would have printed (`error: ...`, its causes, a `hint:`), or `None`
    /// when the command ended without one (exit code 0, or 1 with some users not set).
    pub error: Option<String>,
}

/// [`run_with_args`] for a program that shows errors its own way: the error the binary would
/// print on stderr (clap's usage errors included) is returned instead, with the exit code.
/// Everything else (the summary, progress, prompts) goes where the binary sends it.
///
/// `password`, when given, is the login password, as `BWRESET_PASSWORD` would give it (and beats
/// it): a caller never has to put a secret in the process environment or in `arguments`.
pub fn run_reporting<I, T>(arguments: I, password: Option<SecretString>) -> RunEnd
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    errors::install_panic_hook();
    interrupt::clear();
    let cli = match Cli::try_parse_from(arguments) {
        Ok(cli) => cli,
        Err(error) => {
            return RunEnd {
                exit_code: u8::try_from(error.exit_code()).unwrap_or(errors::exit::USAGE),
                error: Some(error.render().to_string()),
            };
        }
    };
    match run(cli, password) {
        Ok(code) => RunEnd {
            exit_code: exit_code_number(code),
            error: None,
        },
        Err(error) => {
            let (exit_code, text) = errors::render(&error);
            RunEnd {
                exit_code,
                error: Some(text),
            }
        }
    }
}

/// The number behind an `ExitCode`, which the standard library does not hand out: every code
/// bwreset returns is built from a `u8`, so one of the 256 matches.
fn exit_code_number(code: ExitCode) -> u8 {
    (0..=u8::MAX)
        .find(|number| ExitCode::from(*number) == code)
        .unwrap_or(errors::exit::SOME_USERS_NOT_SET)
}

/// Runs a parsed command line; `password` beats the one of the environment.
fn run(cli: Cli, password: Option<SecretString>) -> anyhow::Result<ExitCode> {
    init_logging(cli.verbose);
    let mut environment = Environment::from_process();
    if password.is_some() {
        environment.password = password;
        environment.password_from_caller = true;
    }
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
    // `try_init`: a program that runs the command line twice (or set a subscriber of its own)
    // keeps the first subscriber rather than panicking.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose)
        .try_init();
}
