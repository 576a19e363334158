//! The `odin-sim` binary: parse the flags, start the simulator, print its base URL, serve until
//! SIGINT or SIGTERM.

#![expect(
    clippy::print_stderr,
    reason = "the binary reports start-up failures on stderr"
)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use odin_sim::cli::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let config = match args.to_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(usize::from(threads));
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: odin_sim::SimConfig) -> anyhow::Result<()> {
    let handle = odin_sim::spawn(config).await?;
    // Listen for signals before announcing the URL: a script that reads the line and stops the
    // simulator at once must get a clean stop, not the default action of the signal.
    let signal = shutdown_signal()?;
    if let Some(addr) = handle.ocip_addr()
        && !addr.ip().is_loopback()
    {
        eprintln!(
            "warning: OCI-P listening on `{addr}`, not loopback: anyone who can reach it can change credentials"
        );
    }
    if !handle.addr().ip().is_loopback() {
        eprintln!(
            "warning: listening on `{}`, not loopback: /_sim/credentials serves every password in plain text",
            handle.addr()
        );
    }
    // Scripts wait for this exact line, so it goes out whole and at once.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "odin-sim listening on {}", handle.base_url())?;
    if let Some(url) = handle.ocip_url() {
        writeln!(stdout, "odin-sim ocip listening on {url}")?;
    }
    stdout.flush()?;
    drop(stdout);
    signal.await?;
    handle.shutdown().await;
    Ok(())
}

/// A future that completes on SIGINT or SIGTERM; the handlers are in place when this returns.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            Ok(())
        })
    }
    #[cfg(not(unix))]
    {
        Ok(tokio::signal::ctrl_c())
    }
}
