//! The seed's call end to end: start a simulator, reset three users' credentials, print the new
//! values in the seed's JSON shape.
//!
//! `cargo run -p bwreset-core --example bulk_reset -- vm` (type: `sip`, `vm` or `web`; default
//! `sip`). The journal goes to a temporary directory, mode 0600.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example prints what it did"
)]

use bwreset_core::{JournalStore, bulk_password_reset};
use odin_client::{ClientConfig, OdinClient, SecretString};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let password_type = std::env::args().nth(1).unwrap_or_else(|| "sip".to_owned());

    // A simulator stands in for Odin; point `ClientConfig::new` at a real base URL instead.
    let simulator = odin_sim::spawn(odin_sim::SimConfig::with_users(5)).await?;
    let client = OdinClient::login(ClientConfig::new(
        simulator.base_url(),
        "admin",
        SecretString::from("admin"),
    ))
    .await?;

    let directory = tempfile::tempdir()?;
    let journal = directory.path().join("bulk-reset.journal");
    let result = bulk_password_reset(
        &client,
        "demo-sp",
        "demo-group",
        &[
            "user0001@demo.example",
            "user0002@demo.example",
            "nobody@demo.example",
        ],
        &password_type,
        JournalStore::File(journal),
    )
    .await?;

    // `[{"userId": ..., "newPassword": ...}]` (or `newPasscode` for VM): the users set.
    println!("{}", serde_json::to_string_pretty(&result)?);
    // Every user's outcome, without values: the missing user is failed with the server's reason.
    eprintln!("{}", serde_json::to_string_pretty(&result.report)?);
    Ok(())
}
