//! The OCI-P backend's device operations against odin-sim's OCI-P front: a user's devices read
//! as the simulator holds them, rebuild and reset changing the simulator's devices, a group's
//! registrations in shared documents, and each refusal mapped to the seam's kinds.

use std::time::Duration;

use bwreset_backend::{
    DeviceBackend, DeviceId, DeviceLevel, DeviceRole, ErrorKind, GroupScope, SecretString,
    UserDevice,
};
use ocip_client::{OcipClient, OcipConfig};
use odin_sim::{DeviceSettings, SimConfig, SimHandle, WorldSpec};

/// acme/sales: ann's phone, which ben shares; ben's own phone; cat's handset with its own
/// credentials; dan's lobby phone, which cannot be reset; a service provider phone in the hall
/// whose lines are zed and dan.
const FIXTURE: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "acme",
    "groups": [{
      "groupId": "sales",
      "users": [{"userId": "ann@acme.example"}, {"userId": "ben@acme.example"},
                {"userId": "cat@acme.example"}, {"userId": "dan@acme.example"},
                {"userId": "zed@acme.example"}],
      "devices": [
        {"deviceName": "ann-phone", "lines": ["ann@acme.example", "ben@acme.example"]},
        {"deviceName": "ben-phone", "deviceType": "Polycom VVX 450", "lines": ["ben@acme.example"]},
        {"deviceName": "cat-dect", "useCustomUserNamePassword": true, "lines": ["cat@acme.example"]},
        {"deviceName": "lobby", "supportsReset": false, "lines": ["dan@acme.example"]},
        {"deviceName": "hall", "deviceLevel": "Service Provider",
         "lines": ["zed@acme.example", "dan@acme.example"]}
      ]
    }]
  }]
}"#;

const GROUP: GroupScope<'static> = GroupScope {
    service_provider_id: "acme",
    group_id: "sales",
};

async fn simulator() -> SimHandle {
    odin_sim::spawn(
        SimConfig {
            world: WorldSpec::from_json(FIXTURE).expect("fixture"),
            devices: DeviceSettings {
                reboot: Duration::ZERO,
                offline_fraction: 0.0,
            },
            ..SimConfig::default()
        }
        .with_ocip(odin_sim::OcipFrontConfig::default()),
    )
    .await
    .expect("the simulator starts")
}

async fn client(simulator: &SimHandle) -> OcipClient {
    let url = simulator.ocip_url().expect("an OCI-P front");
    OcipClient::login(OcipConfig::new(url, "admin", SecretString::from("admin")))
        .await
        .expect("login")
}

fn group_device(name: &str) -> DeviceId {
    DeviceId::group("acme", "sales", name)
}

#[tokio::test]
async fn a_users_devices_are_read_as_the_simulator_holds_them() {
    let simulator = simulator().await;
    let client = client(&simulator).await;
    let primary = |name: &str, device_type: &str, own: bool| UserDevice {
        device: group_device(name),
        role: DeviceRole::Primary,
        device_type: Some(device_type.into()),
        own_credentials: Some(own),
    };
    let generic = "Generic SIP Phone";
    assert_eq!(
        client.user_devices("ann@acme.example").await.expect("ann"),
        vec![primary("ann-phone", generic, false)]
    );
    assert_eq!(
        client.user_devices("ben@acme.example").await.expect("ben"),
        vec![
            primary("ben-phone", "Polycom VVX 450", false),
            UserDevice {
                device: group_device("ann-phone"),
                role: DeviceRole::SharedCallAppearance,
                device_type: Some(generic.into()),
                own_credentials: None,
            },
        ]
    );
    assert_eq!(
        client.user_devices("cat@acme.example").await.expect("cat"),
        vec![primary("cat-dect", generic, true)]
    );
    // A service provider device seen as a shared call appearance: its place is the provider's,
    // and what OCI-P cannot read of it stays unknown.
    let hall = DeviceId::service_provider("acme", "hall");
    let dan = client.user_devices("dan@acme.example").await.expect("dan");
    assert_eq!(dan.len(), 2, "{dan:?}");
    assert_eq!(dan[1].device, hall);
    assert_eq!(dan[1].role, DeviceRole::SharedCallAppearance);
    assert_eq!(
        client.device_facts(&hall).await.expect("facts"),
        Default::default()
    );
    let facts = client
        .device_facts(&group_device("ben-phone"))
        .await
        .expect("facts");
    assert_eq!(facts.device_type.as_deref(), Some("Polycom VVX 450"));
    assert_eq!(facts.own_credentials, Some(false));
    // zed's primary device is the hall phone, at service provider level.
    let zed = client.user_devices("zed@acme.example").await.expect("zed");
    assert_eq!(zed.len(), 1);
    assert_eq!(
        (zed[0].device.clone(), zed[0].role),
        (hall, DeviceRole::Primary)
    );
    assert_eq!(zed[0].own_credentials, None);
}

#[tokio::test]
async fn rebuild_reset_and_registrations_change_and_show_the_simulators_devices() {
    let simulator = simulator().await;
    let client = client(&simulator).await;
    let ben_phone = group_device("ben-phone");
    client.rebuild_device(&ben_phone).await.expect("rebuild");
    client.reset_device(&ben_phone).await.expect("reset");
    let truth = simulator.devices();
    let ben = truth
        .iter()
        .find(|device| device.device_name == "ben-phone")
        .expect("ben-phone");
    assert_eq!((ben.rebuilds, ben.resets), (1, 1));
    assert!(ben.registered && ben.config_current);

    let before = client.counts();
    let registrations = client.group_registrations(GROUP).await.expect("read");
    let after = client.counts();
    // The listing, then five registration reads sharing documents.
    assert_eq!(after.commands - before.commands, 6);
    assert!(after.documents - before.documents < 6);
    let users: Vec<&str> = registrations
        .iter()
        .map(|user| user.user_id.as_str())
        .collect();
    assert_eq!(
        users,
        [
            "ann@acme.example",
            "ben@acme.example",
            "cat@acme.example",
            "dan@acme.example",
            "zed@acme.example"
        ]
    );
    let ben = &registrations[1];
    let mut names: Vec<(DeviceLevel, &str)> = ben
        .devices
        .iter()
        .map(|device| (device.level, device.name.as_str()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            (DeviceLevel::Group, "ann-phone"),
            (DeviceLevel::Group, "ben-phone")
        ]
    );
    assert!(ben.devices.iter().all(|device| device.expiration.is_some()));
    assert_eq!(
        registrations[4].devices[0].level,
        DeviceLevel::ServiceProvider
    );
}

#[tokio::test]
async fn device_refusals_map_to_the_seams_kinds() {
    let simulator = simulator().await;
    let client = client(&simulator).await;
    let unknown = client
        .rebuild_device(&group_device("no-such-phone"))
        .await
        .expect_err("unknown device");
    assert_eq!(unknown.kind(), ErrorKind::Refused);
    assert!(
        unknown.reason().contains("Device not found"),
        "{}",
        unknown.reason()
    );
    let lobby = client
        .reset_device(&group_device("lobby"))
        .await
        .expect_err("no reset");
    assert_eq!(lobby.kind(), ErrorKind::Refused);
    assert!(lobby.reason().contains("does not support reset"));
    let ghost = client
        .user_devices("ghost@acme.example")
        .await
        .expect_err("no such user");
    assert_eq!(ghost.kind(), ErrorKind::UserNotFound);
    let elsewhere = client
        .group_registrations(GroupScope {
            service_provider_id: "acme",
            group_id: "nowhere",
        })
        .await
        .expect_err("no such group");
    assert_eq!(elsewhere.kind(), ErrorKind::GroupNotFound);

    // No rebuild or reset command is recorded for a service provider device: refused here,
    // nothing sent.
    let hall = DeviceId::service_provider("acme", "hall");
    let before = client.counts();
    for refusal in [
        client.rebuild_device(&hall).await.expect_err("rebuild"),
        client.reset_device(&hall).await.expect_err("reset"),
    ] {
        assert_eq!(refusal.kind(), ErrorKind::Refused);
        assert!(
            refusal.reason().contains("over OCI-P"),
            "{}",
            refusal.reason()
        );
    }
    assert_eq!(client.counts(), before);
    let hall_truth = simulator
        .devices()
        .into_iter()
        .find(|device| device.device_name == "hall")
        .expect("hall");
    assert_eq!((hall_truth.rebuilds, hall_truth.resets), (0, 0));
}

/// On release 21 there is no `UserGetRequest22`: finding a user's devices is refused, in the
/// server's words, and nothing is guessed.
#[tokio::test]
async fn release_21_cannot_find_a_users_devices() {
    let simulator = odin_sim::spawn(
        SimConfig {
            world: WorldSpec::from_json(FIXTURE).expect("fixture"),
            ..SimConfig::default()
        }
        .with_ocip(odin_sim::OcipFrontConfig {
            release: odin_sim::Release::R21,
            ..odin_sim::OcipFrontConfig::default()
        }),
    )
    .await
    .expect("the simulator starts");
    let client = client(&simulator).await;
    let refusal = client
        .user_devices("ann@acme.example")
        .await
        .expect_err("R21");
    assert_eq!(refusal.kind(), ErrorKind::Refused);
    assert!(
        refusal.reason().contains("UserGetRequest22"),
        "{}",
        refusal.reason()
    );
}
