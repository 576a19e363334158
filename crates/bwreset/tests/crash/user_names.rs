//! `reset --type sip --new-user-names --devices reset` (issue 26) killed with SIGKILL in the
//! middle of the credentials, twice, and finished with `resume`, over Odin and over OCI-P: every
//! user's name and password in the output are the simulator's truth, no two users share a name,
//! none keeps its old one, every password changed once, and every phone registers again (it does
//! only with both current halves in its file).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use odin_sim::{DeviceSettings, Faults, OcipFrontConfig, SimConfig};

use crate::harness::{KillPoint, Kind, Scenario, Targets};

const USERS: usize = 300;

fn config() -> SimConfig {
    SimConfig {
        // Over a second: a registration after a reboot has another `expiration` than before.
        devices: DeviceSettings {
            reboot: Duration::from_millis(1100),
            offline_fraction: 0.0,
        },
        ..SimConfig::with_users(USERS).with_faults(Faults {
            latency_ms: 2,
            ..Faults::default()
        })
    }
}

fn with_names(mut scenario: Scenario, template: Option<&str>) -> Scenario {
    scenario.reset_only_arguments = vec!["--new-user-names".to_owned()];
    if let Some(template) = template {
        scenario
            .reset_only_arguments
            .extend(["--user-name-template".to_owned(), template.to_owned()]);
    }
    scenario.extra_arguments = [
        "--devices",
        "reset",
        "--reset-rate",
        "2000",
        "--registration-timeout",
        "60",
    ]
    .map(str::to_owned)
    .to_vec();
    scenario
}

fn names_now(scenario: &Scenario) -> BTreeMap<String, Option<String>> {
    scenario
        .simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| (credentials.user_id, credentials.sip_user_name))
        .collect()
}

/// The checks that matter for names, after the harness's own (every target once in the output,
/// each password the one in effect, changed once).
fn assert_names_equal_truth(
    scenario: &Scenario,
    old_names: &BTreeMap<String, Option<String>>,
    form: impl Fn(&str, &str) -> bool,
) {
    scenario.assert_truth_equals_output();
    let text = std::fs::read_to_string(scenario.out()).unwrap();
    // `newUserName` right after `userId`, before the password.
    let first = text.find("\"userId\"").unwrap();
    let name = text.find("\"newUserName\"").unwrap();
    let password = text.find("\"newPassword\"").unwrap();
    assert!(first < name && name < password, "the keys are out of order");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.len(), USERS);
    let truth = names_now(scenario);
    let mut seen = BTreeSet::new();
    for row in &rows {
        let user_id = row["userId"].as_str().unwrap();
        let name = row["newUserName"].as_str().expect("every row has its name");
        assert_eq!(truth[user_id].as_deref(), Some(name), "{user_id}");
        assert!(seen.insert(name.to_owned()), "{name} given to two users");
        assert_ne!(
            old_names[user_id].as_deref(),
            Some(name),
            "{user_id} kept its name"
        );
        assert!(
            form(user_id, name),
            "{user_id}: `{name}` is not of the template's form"
        );
    }
    let devices = scenario.simulator.devices();
    assert_eq!(devices.len(), USERS);
    for device in &devices {
        assert!(device.config_current, "{} not rebuilt", device.device_name);
        assert!(device.registered, "{} not registered", device.device_name);
    }
}

/// `{random}`: twelve lowercase letters and digits.
fn default_form(_user_id: &str, name: &str) -> bool {
    name.len() == 12
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
}

#[test]
fn new_user_names_over_odin_killed_in_the_middle_of_the_credentials_end_as_the_truth() {
    let mut scenario = with_names(Scenario::new(config(), Kind::Sip, Targets::AllUsers), None);
    let old_names = names_now(&scenario);
    scenario.kill_at(KillPoint::after_ok("PUT", "/users/authentication", 90));
    // The resume reads the names of the users left pending before it sends anything to them.
    scenario.kill_at(KillPoint::after_ok("PUT", "/users/authentication", 90));
    scenario.finish(1);
    assert!(
        scenario.kills_with_pending_users > 0,
        "no kill found a pair in flight: the test did not test what it says"
    );
    assert_names_equal_truth(&scenario, &old_names, default_form);
    let stats = scenario.simulator.stats();
    // Every resume settled its pending users by reading their names.
    assert!(stats.count("GET", "/users/authentication") > 0);
}

#[test]
fn new_user_names_over_ocip_killed_in_the_middle_of_the_credentials_end_as_the_truth() {
    let mut scenario = Scenario::new(
        config().with_ocip(OcipFrontConfig::default()),
        Kind::Sip,
        Targets::AllUsers,
    );
    scenario.server = Some(scenario.simulator.ocip_url().expect("an OCI-P front"));
    let mut scenario = with_names(scenario, Some("{local}.{random:8}"));
    let old_names = names_now(&scenario);
    let setter = "UserAuthenticationModifyRequest";
    // Documents carry several commands: many pairs are in flight at each kill, and the resume
    // settles most of them by reading names, so it sends fewer setters than the reset did. At
    // four users in flight (not 16 x 15 per document) a loaded machine cannot apply nearly every
    // pair before the first kill lands, leaving the resume fewer setters than its kill point.
    scenario
        .extra_arguments
        .extend(["--concurrency".to_owned(), "4".to_owned()]);
    scenario.kill_at(KillPoint::after_ok("OCIP", setter, 60));
    scenario.kill_at(KillPoint::after_ok("OCIP", setter, 20));
    scenario.finish(1);
    assert!(
        scenario.kills_with_pending_users > 0,
        "no kill found a pair in flight: the test did not test what it says"
    );
    assert_names_equal_truth(&scenario, &old_names, |user_id, name| {
        let local = user_id.split('@').next().unwrap();
        name.len() == local.len() + 9 && name.starts_with(&format!("{local}."))
    });
}
