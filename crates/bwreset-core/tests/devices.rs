//! The device follow-up against the simulator, compared with its truth (`/_sim/devices`):
//! shared devices, devices with their own credentials, a device that cannot be reset, offline
//! devices, devices of users outside the run, and a second pass that resets nothing twice.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::time::Duration;

use bwreset_core::{
    DeviceAction, DeviceOptions, DeviceReport, DeviceResult, Journal, JournalHeader, NoProgress,
    PasswordType, ResetRequest, Targets, UserId,
};
use odin_sim::{DeviceSettings, DeviceTruth, SimConfig, SimHandle, WorldSpec};

/// One group `acme/sales`: a phone shared by ann (primary) and ben, ben's own phone, cat's
/// DECT handset with its own credentials, dan's lobby phone that cannot be reset, eve's
/// service-provider phone, a system phone carrying ann and fay (another provider), zed's
/// phone (zed is not in the run), and two devices of users outside the run where run users are
/// shared call appearances: hal's hall phone carrying dan, and ivy's DECT base with its own
/// credentials carrying eve (what they are is learnt from their primary users).
const FIXTURE: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "acme",
    "groups": [{
      "groupId": "sales",
      "users": [{"userId": "ann@acme.example"}, {"userId": "ben@acme.example"},
                {"userId": "cat@acme.example"}, {"userId": "dan@acme.example"},
                {"userId": "eve@acme.example"}, {"userId": "zed@acme.example"},
                {"userId": "hal@acme.example"}, {"userId": "ivy@acme.example"}],
      "devices": [
        {"deviceName": "ann-phone", "lines": ["ann@acme.example", "ben@acme.example"]},
        {"deviceName": "ben-phone", "deviceType": "Polycom VVX 450", "lines": ["ben@acme.example"]},
        {"deviceName": "cat-dect", "useCustomUserNamePassword": true, "lines": ["cat@acme.example"]},
        {"deviceName": "lobby", "supportsReset": false, "lines": ["dan@acme.example"]},
        {"deviceName": "eve-phone", "deviceLevel": "Service Provider", "lines": ["eve@acme.example"]},
        {"deviceName": "board-room", "deviceLevel": "System",
         "lines": ["fay@other.example", "ann@acme.example"]},
        {"deviceName": "zed-phone", "lines": ["zed@acme.example"]},
        {"deviceName": "hall", "deviceType": "Cisco 8851", "lines": ["hal@acme.example", "dan@acme.example"]},
        {"deviceName": "ivy-dect", "useCustomUserNamePassword": true,
         "lines": ["ivy@acme.example", "eve@acme.example"]}
      ]
    }]
  }, {
    "serviceProviderId": "other",
    "groups": [{"groupId": "g", "users": [{"userId": "fay@other.example"}]}]
  }]
}"#;

const RUN_USERS: [&str; 5] = [
    "ann@acme.example",
    "ben@acme.example",
    "cat@acme.example",
    "dan@acme.example",
    "eve@acme.example",
];

async fn simulator(offline_fraction: f64) -> (SimHandle, odin_client::OdinClient) {
    common::start(SimConfig {
        world: WorldSpec::from_json(FIXTURE).expect("fixture"),
        seed: Some(7),
        devices: DeviceSettings {
            reboot: Duration::ZERO,
            offline_fraction,
        },
        ..SimConfig::default()
    })
    .await
}

fn request() -> ResetRequest {
    ResetRequest {
        password_type: PasswordType::Sip,
        targets: Targets::Users {
            group: bwreset_core::GroupRef::new("acme", "sales"),
            users: RUN_USERS
                .iter()
                .map(|user| UserId::try_from(*user).unwrap())
                .collect(),
        },
    }
}

fn options(action: DeviceAction) -> DeviceOptions {
    DeviceOptions {
        reset_rate: 1000.0,
        registration_timeout: Duration::from_millis(300),
        poll_interval: Duration::from_millis(20),
        ..DeviceOptions::new(action)
    }
}

fn truth<'a>(devices: &'a [DeviceTruth], name: &str) -> &'a DeviceTruth {
    devices
        .iter()
        .find(|device| device.device_name == name)
        .unwrap_or_else(|| panic!("no device {name}"))
}

fn result(report: &DeviceReport, name: &str) -> DeviceResult {
    report
        .entries
        .iter()
        .find(|entry| entry.device.name == name)
        .unwrap_or_else(|| panic!("{name} not in the report"))
        .result
}

async fn run(
    client: &odin_client::OdinClient,
    journal: Journal,
    action: DeviceAction,
    found: Option<&bwreset_core::DevicePlan>,
) -> (bwreset_core::Report, DeviceReport) {
    let config = common::engine_config();
    let plan = bwreset_core::plan(client, request(), &config, bwreset_core::Checks::Full)
        .await
        .unwrap();
    let options = DeviceOptions {
        found: found.cloned(),
        ..options(action)
    };
    common::execute_with_devices(client, plan, journal, &config, &options, &NoProgress)
        .await
        .unwrap()
}

fn header(client: &odin_client::OdinClient) -> JournalHeader {
    JournalHeader::new(
        PasswordType::Sip,
        "acme",
        "sales",
        client.base_url(),
        serde_json::Value::Null,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_rebuilds_and_resets_each_device_once_and_sees_it_registered() {
    let (simulator, client) = simulator(0.0).await;
    // The devices found before the run (as the CLI shows them) are not read again.
    let users: Vec<UserId> = RUN_USERS
        .iter()
        .map(|user| UserId::try_from(*user).unwrap())
        .collect();
    let found = bwreset_core::plan_devices(&client, &users, 4)
        .await
        .unwrap();
    assert_eq!(
        (found.to_touch(), found.own_credentials(), found.shared()),
        (6, 2, 1)
    );
    let (report, devices) = run(
        &client,
        Journal::memory(header(&client)),
        DeviceAction::Reset,
        Some(&found),
    )
    .await;
    assert_eq!(
        simulator
            .stats()
            .count("GET", "/api/v2/users/shared-call-appearance"),
        RUN_USERS.len() as u64,
        "each user's devices read once"
    );
    assert!(report.is_complete());
    let truth_now = simulator.devices();
    for name in ["ann-phone", "ben-phone", "eve-phone", "board-room"] {
        let device = truth(&truth_now, name);
        assert!(
            device.config_current,
            "{name} rebuilt after its users changed"
        );
        assert_eq!(device.resets, 1, "{name} reset exactly once");
        assert!(device.registered, "{name} registered again");
        assert_eq!(result(&devices, name), DeviceResult::Registered, "{name}");
    }
    // ann-phone carries ann and ben: one device, both users, one rebuild.
    let shared = devices
        .entries
        .iter()
        .find(|entry| entry.device.name == "ann-phone")
        .unwrap();
    assert_eq!(shared.users.len(), 2);
    assert_eq!(truth(&truth_now, "ann-phone").rebuilds, 1);
    // Own credentials: untouched, reported as skipped.
    let dect = truth(&truth_now, "cat-dect");
    assert_eq!((dect.rebuilds, dect.resets), (0, 0));
    assert_eq!(result(&devices, "cat-dect"), DeviceResult::Skipped);
    // A device that cannot be reset: rebuilt, the reset refused, reported failed.
    let lobby = truth(&truth_now, "lobby");
    assert_eq!(lobby.rebuilds, 1);
    assert_eq!(result(&devices, "lobby"), DeviceResult::Failed);
    // Devices seen only as shared call appearances: what they are comes from their primary.
    let hall = truth(&truth_now, "hall");
    assert_eq!((hall.rebuilds, hall.resets), (1, 1));
    assert_eq!(result(&devices, "hall"), DeviceResult::Registered);
    let hall_entry = devices
        .entries
        .iter()
        .find(|entry| entry.device.name == "hall")
        .unwrap();
    assert_eq!(hall_entry.device_type.as_deref(), Some("Cisco 8851"));
    let base = truth(&truth_now, "ivy-dect");
    assert_eq!((base.rebuilds, base.resets), (0, 0));
    assert_eq!(result(&devices, "ivy-dect"), DeviceResult::Skipped);
    // A user outside the run: its phone untouched and not reported.
    let zed = truth(&truth_now, "zed-phone");
    assert_eq!((zed.rebuilds, zed.resets), (0, 0));
    assert!(
        devices
            .entries
            .iter()
            .all(|entry| entry.device.name != "zed-phone")
    );
    assert!(!devices.is_complete(), "the lobby phone's reset failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_only_never_resets() {
    let (simulator, client) = simulator(0.0).await;
    let (_, devices) = run(
        &client,
        Journal::memory(header(&client)),
        DeviceAction::Rebuild,
        None,
    )
    .await;
    for device in simulator.devices() {
        assert_eq!(device.resets, 0, "{}", device.device_name);
        if device.device_name != "zed-phone" && !device.custom_credentials {
            assert!(device.config_current, "{}", device.device_name);
            assert_eq!(result(&devices, &device.device_name), DeviceResult::Rebuilt);
        }
    }
    assert!(devices.is_complete());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_devices_are_reported_not_registered_and_a_second_pass_resets_nothing() {
    let (simulator, client) = simulator(0.5).await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, header(&client)).unwrap();
    let (_, devices) = run(&client, journal, DeviceAction::Reset, None).await;
    let before = simulator.devices();
    let mut offline_seen = 0;
    for entry in &devices.entries {
        let device = truth(&before, &entry.device.name);
        if entry.result == DeviceResult::NotRegistered {
            offline_seen += 1;
            assert!(
                !device.registered && device.offline,
                "{}",
                entry.device.name
            );
        }
        if entry.result == DeviceResult::Registered {
            assert!(device.registered, "{}", entry.device.name);
        }
    }
    assert!(offline_seen > 0, "the seed makes some reset device offline");
    assert!(!devices.is_complete());

    // Resuming the same journal: answered resets are never sent again.
    let journal = Journal::open(&path).unwrap();
    let (_, again) = common::resume_with_devices(
        &client,
        journal,
        &common::engine_config(),
        &options(DeviceAction::Reset),
        &NoProgress,
    )
    .await
    .unwrap();
    let after = simulator.devices();
    for device in &after {
        let earlier = truth(&before, &device.device_name);
        assert_eq!(device.resets, earlier.resets, "{}", device.device_name);
    }
    assert_eq!(
        again.count(DeviceResult::NotRegistered),
        devices.count(DeviceResult::NotRegistered)
    );
}

/// A device shared by a user set and a user whose value may be in effect waits for the latter:
/// the resume that settles it does the device, once, with both users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_waits_for_its_unsettled_user_and_is_done_once_by_the_resume() {
    let (simulator, client) = simulator(0.0).await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let header = serde_json::to_string(&header(&client)).unwrap();
    let header = header.replacen('{', "{\"record\":\"header\",", 1);
    let lines = [
        header.as_str(),
        r#"{"record":"targets","users":["ann@acme.example","ben@acme.example"]}"#,
        r#"{"record":"planEnd","users":2}"#,
        r#"{"record":"intent","user":"ann@acme.example","value":"Fixture-Ann-Value-1","attempt":1}"#,
        r#"{"record":"outcome","user":"ann@acme.example","result":"set"}"#,
        r#"{"record":"intent","user":"ben@acme.example","value":"Fixture-Ben-Value-2","attempt":1}"#,
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let journal = Journal::open(&path).unwrap();
    let devices = bwreset_core::follow_up_devices(
        &client,
        &journal,
        &options(DeviceAction::Reset),
        &NoProgress,
    )
    .await
    .unwrap();
    drop(journal);
    let waiting = devices
        .entries
        .iter()
        .find(|entry| entry.device.name == "ann-phone")
        .unwrap();
    assert_eq!(waiting.result, DeviceResult::NotAttempted);
    assert!(
        waiting
            .reason
            .as_deref()
            .unwrap()
            .contains("waiting for `ben@acme.example`")
    );
    assert_eq!(result(&devices, "board-room"), DeviceResult::Registered);
    assert_eq!(truth(&simulator.devices(), "ann-phone").resets, 0);
    assert!(!devices.is_complete());

    let (report, devices) = common::resume_with_devices(
        &client,
        Journal::open(&path).unwrap(),
        &common::engine_config(),
        &options(DeviceAction::Reset),
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(report.is_complete());
    let after = simulator.devices();
    for name in ["ann-phone", "ben-phone", "board-room"] {
        assert_eq!(truth(&after, name).resets, 1, "{name}");
        assert_eq!(result(&devices, name), DeviceResult::Registered, "{name}");
    }
    let shared = devices
        .entries
        .iter()
        .find(|entry| entry.device.name == "ann-phone")
        .unwrap();
    assert_eq!(shared.users.len(), 2, "done once, with both users");
    assert!(devices.is_complete(), "{devices:?}");
}

/// A backend that stops the device phase at its first reset, as a kill would: the reset's
/// intent is journaled, and the reset is sent (`send`) or not; no answer is ever recorded.
#[derive(Clone)]
struct KilledAtFirstReset {
    inner: odin_client::OdinClient,
    send: bool,
    killed: std::sync::Arc<tokio::sync::Notify>,
    device: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl bwreset_backend::Backend for KilledAtFirstReset {
    fn server(&self) -> &str {
        bwreset_backend::Backend::server(&self.inner)
    }

    async fn group_user_ids(
        &self,
        group: bwreset_backend::GroupScope<'_>,
    ) -> Result<bwreset_backend::UserIdList, bwreset_backend::BackendError> {
        bwreset_backend::Backend::group_user_ids(&self.inner, group).await
    }

    async fn check_user(
        &self,
        user_id: &str,
        credential: bwreset_backend::Credential,
    ) -> Result<bwreset_backend::UserFacts, bwreset_backend::BackendError> {
        bwreset_backend::Backend::check_user(&self.inner, user_id, credential).await
    }

    async fn generate(
        &self,
        credential: bwreset_backend::Credential,
        group: bwreset_backend::GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<bwreset_backend::SecretString>, bwreset_backend::BackendError> {
        bwreset_backend::Backend::generate(&self.inner, credential, group, count).await
    }

    async fn set(
        &self,
        credential: bwreset_backend::Credential,
        user_id: &str,
        value: &bwreset_backend::SecretString,
    ) -> Result<(), bwreset_backend::BackendError> {
        bwreset_backend::Backend::set(&self.inner, credential, user_id, value).await
    }
}

impl bwreset_backend::DeviceBackend for KilledAtFirstReset {
    async fn user_devices(
        &self,
        user_id: &str,
    ) -> Result<Vec<bwreset_backend::UserDevice>, bwreset_backend::BackendError> {
        bwreset_backend::DeviceBackend::user_devices(&self.inner, user_id).await
    }

    async fn device_facts(
        &self,
        device: &bwreset_backend::DeviceId,
    ) -> Result<bwreset_backend::DeviceFacts, bwreset_backend::BackendError> {
        bwreset_backend::DeviceBackend::device_facts(&self.inner, device).await
    }

    async fn rebuild_device(
        &self,
        device: &bwreset_backend::DeviceId,
    ) -> Result<(), bwreset_backend::BackendError> {
        bwreset_backend::DeviceBackend::rebuild_device(&self.inner, device).await
    }

    async fn reset_device(
        &self,
        device: &bwreset_backend::DeviceId,
    ) -> Result<(), bwreset_backend::BackendError> {
        if self.send {
            bwreset_backend::DeviceBackend::reset_device(&self.inner, device)
                .await
                .unwrap();
        }
        *self.device.lock().unwrap() = Some(device.name.clone());
        self.killed.notify_one();
        // The process is gone: no answer ever comes.
        std::future::pending().await
    }

    async fn group_registrations(
        &self,
        group: bwreset_backend::GroupScope<'_>,
    ) -> Result<Vec<bwreset_backend::UserRegistrations>, bwreset_backend::BackendError> {
        bwreset_backend::DeviceBackend::group_registrations(&self.inner, group).await
    }
}

/// Runs a SIP reset of three users with `--devices reset` whose device phase is killed at its
/// first reset (sent or not), then resumes it. The phones take a second to reboot, so that a new
/// registration's `expiration` (to the second) differs from the one before. The killed device's
/// name, the resume's report, the truth, and how many reset intents the journal holds for the
/// killed device and for the others together.
async fn killed_at_first_reset_then_resumed(
    send: bool,
) -> (String, DeviceReport, Vec<DeviceTruth>, (usize, usize)) {
    let mut config = SimConfig::with_users(3);
    config.devices.reboot = Duration::from_millis(1100);
    let (simulator, client) = common::start(config).await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, common::header(PasswordType::Sip, &client)).unwrap();
    let options = DeviceOptions {
        reset_rate: 1000.0,
        registration_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        ..DeviceOptions::new(DeviceAction::Reset)
    };
    let backend = KilledAtFirstReset {
        inner: client.clone(),
        send,
        killed: std::sync::Arc::default(),
        device: std::sync::Arc::default(),
    };
    let engine = common::engine_config();
    let plan = bwreset_core::plan(
        &backend,
        common::request(PasswordType::Sip, common::users(3)),
        &engine,
        bwreset_core::Checks::Full,
    )
    .await
    .unwrap();
    tokio::select! {
        _ = common::execute_with_devices(&backend, plan, journal, &engine, &options, &NoProgress) => panic!("the device phase ended although its first reset never got an answer"),
        () = backend.killed.notified() => {}
    }
    let killed = backend.device.lock().unwrap().clone().unwrap();
    let resets: u64 = simulator.devices().iter().map(|device| device.resets).sum();
    assert_eq!(resets, u64::from(send), "resets before the resume");

    let journal = Journal::open(&path).unwrap();
    let (report, devices) =
        common::resume_with_devices(&client, journal, &engine, &options, &NoProgress)
            .await
            .unwrap();
    assert!(report.is_complete());
    let intents = reset_intents(&std::fs::read_to_string(&path).unwrap(), &killed);
    (killed, devices, simulator.devices(), intents)
}

/// How many reset intents a journal holds for the device named `name`, and for the others.
fn reset_intents(journal: &str, name: &str) -> (usize, usize) {
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let index = lines
        .iter()
        .filter(|line| line["record"] == "device")
        .position(|line| line["name"] == name)
        .unwrap();
    lines
        .iter()
        .filter(|line| line["record"] == "deviceIntent" && line["action"] == "reset")
        .fold((0, 0), |(named, others), line| {
            if line["device"] == index {
                (named + 1, others)
            } else {
                (named, others + 1)
            }
        })
}

/// A reset journaled but never sent: the phone is still registered from before (with its old
/// password), which proves nothing; the resume waits for a new registration, sees none, and
/// resets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_journaled_but_never_sent_is_sent_by_the_resume() {
    let (killed, devices, truth_after, intents) = killed_at_first_reset_then_resumed(false).await;
    assert_eq!(devices.entries.len(), 3);
    for device in &truth_after {
        assert_eq!(device.resets, 1, "{}", device.device_name);
        assert!(device.config_current, "{}", device.device_name);
        assert!(device.registered, "{}", device.device_name);
        assert_eq!(
            result(&devices, &device.device_name),
            DeviceResult::Registered,
            "{}",
            device.device_name
        );
    }
    assert!(devices.is_complete());
    // The killed device's reset was journaled by the killed run and again by the resume, which
    // sent it (its one reset above); every other device's reset was journaled once.
    assert_eq!(
        intents,
        (2, 2),
        "reset intents of `{killed}` and of the others"
    );
    assert_eq!(result(&devices, &killed), DeviceResult::Registered);
}

/// A reset sent whose answer was never recorded: the phone registers again after its reboot,
/// with a new `expiration`; the resume counts it and does not reset it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_sent_but_unanswered_whose_phone_registered_again_is_not_sent_again() {
    let (killed, devices, truth_after, intents) = killed_at_first_reset_then_resumed(true).await;
    assert_eq!(devices.entries.len(), 3);
    for device in &truth_after {
        assert_eq!(device.resets, 1, "{}", device.device_name);
        assert!(device.registered, "{}", device.device_name);
    }
    assert_eq!(result(&devices, &killed), DeviceResult::Registered);
    assert!(devices.is_complete());
    // Its registration proved the reset: the resume did not journal it again.
    assert_eq!(
        intents,
        (1, 2),
        "reset intents of `{killed}` and of the others"
    );
}

/// Keeps every device status the follow-up tells.
#[derive(Default)]
struct Statuses(std::sync::Mutex<Vec<bwreset_core::DeviceStatus>>);

impl bwreset_core::Progress for Statuses {
    fn devices(&self, status: &bwreset_core::DeviceStatus) {
        self.0.lock().unwrap().push(*status);
    }
}

/// The progress of the device phase: each step counted out of its total as it goes, the wait's
/// time left told while it runs, and the last status equal to the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_phase_tells_each_step_out_of_its_total_and_the_time_left() {
    let (_simulator, client) = simulator(0.5).await;
    let config = common::engine_config();
    let plan = bwreset_core::plan(&client, request(), &config, bwreset_core::Checks::Full)
        .await
        .unwrap();
    let statuses = Statuses::default();
    let (_, devices) = common::execute_with_devices(
        &client,
        plan,
        Journal::memory(header(&client)),
        &config,
        &options(DeviceAction::Reset),
        &statuses,
    )
    .await
    .unwrap();
    let statuses = statuses.0.into_inner().unwrap();
    let last = *statuses.last().expect("statuses told");
    let not_registered = devices.count(DeviceResult::NotRegistered);
    let registered = devices.count(DeviceResult::Registered);
    assert!(not_registered > 0);
    assert_eq!((last.rebuilt, last.to_rebuild), (6, 6));
    // `lobby` refuses its reset.
    assert_eq!(
        (last.reset, last.to_reset),
        (registered + not_registered, 6)
    );
    assert_eq!(
        (last.registered, last.to_register),
        (registered, registered + not_registered)
    );
    assert_eq!(last.wait_left, None, "the wait is over");
    assert!(
        statuses.iter().any(|status| status.wait_left.is_some()),
        "the wait's time left told while it ran"
    );
    assert!(
        statuses
            .windows(2)
            .all(|pair| pair[0].rebuilt <= pair[1].rebuilt && pair[0].reset <= pair[1].reset),
        "counts only go up"
    );
}

/// `reset_unregistered`: a second pass resets again exactly the devices reset before that did
/// not register, once each, journal first; without it a second pass resets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_unregistered_resets_again_only_the_phones_that_did_not_register() {
    let (simulator, client) = simulator(0.5).await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run.journal");
    let journal = Journal::create(&path, header(&client)).unwrap();
    let (_, devices) = run(&client, journal, DeviceAction::Reset, None).await;
    let not_registered: Vec<String> = devices
        .entries
        .iter()
        .filter(|entry| entry.result == DeviceResult::NotRegistered)
        .map(|entry| entry.device.name.clone())
        .collect();
    assert!(
        !not_registered.is_empty(),
        "the seed makes some phone offline"
    );
    let before = simulator.devices();

    let journal = Journal::open(&path).unwrap();
    let options = DeviceOptions {
        reset_unregistered: true,
        ..options(DeviceAction::Reset)
    };
    let (_, again) = common::resume_with_devices(
        &client,
        journal,
        &common::engine_config(),
        &options,
        &NoProgress,
    )
    .await
    .unwrap();
    for device in &simulator.devices() {
        let earlier = truth(&before, &device.device_name);
        let expected = earlier.resets + u64::from(not_registered.contains(&device.device_name));
        assert_eq!(device.resets, expected, "{}", device.device_name);
    }
    // Still offline: still not registered, and the journal says it was reset twice.
    for name in &not_registered {
        assert_eq!(result(&again, name), DeviceResult::NotRegistered, "{name}");
    }
    let journal_text = std::fs::read_to_string(&path).unwrap();
    let intents = journal_text
        .lines()
        .filter(|line| line.contains("\"deviceIntent\"") && line.contains("\"reset\""))
        .count();
    // Each pass: the phones not registered once more, and `lobby` (its reset refused) again.
    assert_eq!(
        intents,
        devices.count(DeviceResult::Registered)
            + 2 * (not_registered.len() + devices.count(DeviceResult::Failed)),
        "one intent journaled per reset sent"
    );
}
