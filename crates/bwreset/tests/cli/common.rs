//! What the CLI tests share: a simulator per test, a private directory, and the real binary
//! with an environment that only holds what the test puts in it.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use odin_sim::{SimConfig, SimHandle};

/// The login the simulator accepts by default.
pub(crate) const PASSWORD: &str = "admin";
pub(crate) const SERVICE_PROVIDER: &str = "demo-sp";
pub(crate) const GROUP: &str = "demo-group";

pub(crate) struct Fixture {
    pub simulator: SimHandle,
    pub directory: tempfile::TempDir,
}

impl Fixture {
    /// A simulator with `users` users in `demo-sp` / `demo-group`, and an empty directory.
    pub(crate) fn new(users: usize) -> Self {
        Fixture::with_config(SimConfig::with_users(users))
    }

    pub(crate) fn with_config(config: SimConfig) -> Self {
        let simulator = SimHandle::start_in_thread(config).expect("simulator starts");
        let directory = tempfile::tempdir().expect("temporary directory");
        Fixture {
            simulator,
            directory,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    /// The simulator's user IDs, sorted.
    pub(crate) fn user_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .simulator
            .all_credentials()
            .into_iter()
            .map(|credentials| credentials.user_id)
            .collect();
        ids.sort();
        ids
    }

    /// Writes a file in the test's directory and returns its path.
    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// The binary with a clean environment: the simulator's URL and login, no config file.
    pub(crate) fn bwreset(&self) -> Command {
        self.with_environment(Command::cargo_bin("bwreset").expect("the bwreset binary is built"))
    }

    /// Any program with the environment [`Fixture::bwreset`] gives the binary.
    pub(crate) fn with_environment(&self, mut command: Command) -> Command {
        clean_environment(&mut command, self.directory.path());
        command
            .env("ODIN_BASE_URL", self.simulator.base_url())
            .env("ODIN_USERNAME", "admin")
            .env("ODIN_PASSWORD", PASSWORD);
        command
    }

    /// `bwreset reset --type TYPE --service-provider demo-sp --group demo-group` and the rest.
    pub(crate) fn reset(&self, password_type: &str, rest: &[&str]) -> Command {
        let mut command = self.bwreset();
        command.args([
            "reset",
            "--type",
            password_type,
            "--service-provider",
            SERVICE_PROVIDER,
            "--group",
            GROUP,
        ]);
        command.args(rest);
        command
    }

    /// `reset --all-users --out OUT --yes`, which must succeed: how many tests set up a run.
    pub(crate) fn reset_all_users(&self, password_type: &str, out: &Path) {
        let output = self
            .reset(
                password_type,
                &["--all-users", "--out", out.to_str().unwrap(), "--yes"],
            )
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }

    /// Total accepted changes of every kind, over every user.
    pub(crate) fn total_changes(&self) -> u64 {
        self.simulator
            .all_credentials()
            .iter()
            .map(|credentials| {
                credentials.changes.sip + credentials.changes.vm + credentials.changes.web
            })
            .sum()
    }

    /// The value now in effect on the simulator for one user and type.
    pub(crate) fn value_in_effect(&self, user_id: &str, password_type: &str) -> Option<String> {
        let credentials = self.simulator.credentials(user_id)?;
        match password_type {
            "sip" => credentials.sip_password,
            "vm" => credentials.portal_passcode,
            "web" => credentials.web_password,
            other => panic!("unknown type {other}"),
        }
    }
}

/// The binary with nothing from the test runner's environment that bwreset reads, and a home
/// and config directory inside `home` so that no real config file is found.
pub(crate) fn bare_bwreset(home: &Path) -> Command {
    let mut command = Command::cargo_bin("bwreset").expect("the bwreset binary is built");
    clean_environment(&mut command, home);
    command
}

fn clean_environment(command: &mut Command, home: &Path) {
    for name in [
        "ODIN_BASE_URL",
        "ODIN_USERNAME",
        "ODIN_PASSWORD",
        "BWRESET_CONFIG",
        "BWRESET_PROFILE",
        "RUST_LOG",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("TMPDIR", home);
}

/// The file mode's permission bits.
pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").mode() & 0o777
}

/// Parses a JSON output file into (userId, value) pairs, in file order.
pub(crate) fn read_json_output(path: &Path, value_key: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("output file");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).expect("output is a JSON array");
    rows.iter()
        .map(|row| {
            let object = row.as_object().expect("each row is an object");
            assert_eq!(object.len(), 2, "exactly userId and {value_key}: {row}");
            (
                object["userId"].as_str().expect("userId").to_owned(),
                object[value_key].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

/// The text of a command's stderr and stdout, for messages on failure.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
