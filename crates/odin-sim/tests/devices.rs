//! Devices and registrations, in process: the fixture, the reads, rebuild and reset at the three
//! levels, staleness after a SIP change, the reboot (on tokio's paused clock, so no test waits
//! for real time), offline devices, and faults on the new routes.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod common;

use std::time::Duration;

use clap::Parser;
use common::{ALICE, Answer, BOB, Sim};
use odin_sim::{
    DeviceError, DeviceLevel, DevicePlace, DeviceRef, DeviceSettings, DeviceTruth, Faults,
    SimConfig, WorldSpec,
};
use serde_json::{Value, json};

/// Two service providers; in acme/sales a phone shared by two users, a phone of its own for
/// the second, a DECT handset with its own credentials, a lobby phone that cannot be reset, a
/// service-provider phone and a system phone that carries users of both providers; a second
/// group reuses a group device name; hal has no device.
const FIXTURE: &str = r#"{
  "serviceProviders": [{
    "serviceProviderId": "acme",
    "groups": [{
      "groupId": "sales",
      "users": [{"userId": "ann@acme.example"}, {"userId": "ben@acme.example"},
                {"userId": "cat@acme.example"}, {"userId": "dan@acme.example"},
                {"userId": "eve@acme.example"}, {"userId": "hal@acme.example"}],
      "devices": [
        {"deviceName": "ann-phone", "lines": ["ann@acme.example", "ben@acme.example"]},
        {"deviceName": "ben-phone", "deviceType": "Polycom VVX 450", "lines": ["ben@acme.example"]},
        {"deviceName": "cat-dect", "useCustomUserNamePassword": true, "lines": ["cat@acme.example"]},
        {"deviceName": "lobby", "supportsReset": false, "lines": ["dan@acme.example"]},
        {"deviceName": "eve-phone", "deviceLevel": "Service Provider", "lines": ["eve@acme.example"]},
        {"deviceName": "board-room", "deviceLevel": "System",
         "lines": ["fay@other.example", "ann@acme.example"]}
      ]
    }, {
      "groupId": "support",
      "users": [{"userId": "gil@acme.example"}],
      "devices": [{"deviceName": "ann-phone", "lines": ["gil@acme.example"]}]
    }]
  }, {
    "serviceProviderId": "other",
    "groups": [{"groupId": "g", "users": [{"userId": "fay@other.example"}]}]
  }]
}"#;

const ANN: &str = "ann@acme.example";
const BEN: &str = "ben@acme.example";
const CAT: &str = "cat@acme.example";
const REBOOT: Duration = Duration::from_millis(1500);

fn acme_with(devices: DeviceSettings) -> Sim {
    Sim::new(SimConfig {
        world: WorldSpec::from_json(FIXTURE).expect("fixture"),
        seed: Some(3),
        devices,
        ..SimConfig::default()
    })
}

fn acme() -> Sim {
    acme_with(DeviceSettings::default())
}

fn device(sim: &Sim, group: Option<&str>, name: &str) -> DeviceTruth {
    sim.state
        .devices()
        .into_iter()
        .find(|device| device.device_name == name && device.group_id.as_deref() == group)
        .unwrap_or_else(|| panic!("no device {name} in {group:?}"))
}

/// A device of acme/sales.
fn sales(sim: &Sim, name: &str) -> DeviceTruth {
    device(sim, Some("sales"), name)
}

fn group_body(name: &str) -> String {
    json!({"serviceProviderId": "acme", "groupId": "sales", "deviceName": name}).to_string()
}

async fn post(sim: &Sim, token: &str, path: &str, body: &str) -> Answer {
    sim.send("POST", &format!("/api/v2{path}"), Some(token), Some(body))
        .await
}

async fn set_sip(sim: &Sim, token: &str, user_id: &str, password: &str) {
    let answer = sim
        .put(
            token,
            "/users/authentication",
            json!({"userId": user_id, "newPassword": password}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
}

fn registered_devices(answer: &Value) -> Vec<String> {
    answer["registrations"]
        .as_array()
        .expect("registrations")
        .iter()
        .map(|registration| registration["deviceName"].as_str().unwrap().to_owned())
        .collect()
}

// ---- the fixture ----

#[test]
fn device_fixture_errors_name_the_problem() {
    let world = |devices: &str, extra_group: &str| {
        format!(
            r#"{{"serviceProviders": [{{"serviceProviderId": "sp", "groups": [
                {{"groupId": "g", "users": [{{"userId": "a@x"}}, {{"userId": "b@x"}}],
                  "devices": {devices}}}{extra_group}]}},
              {{"serviceProviderId": "sp2", "groups": [{{"groupId": "h", "users": [{{"userId": "c@x"}}]}}]}}]}}"#
        )
    };
    let other_group = r#", {"groupId": "g2", "users": [{"userId": "d@x"}],
        "devices": [{"deviceName": "dup", "deviceLevel": "Service Provider", "lines": ["d@x"]}]}"#;
    let cases = [
        (
            world(
                r#"[{"deviceName": "p", "lines": ["a@x"], "colour": "red"}]"#,
                "",
            ),
            "unknown field `colour`",
        ),
        (
            world(r#"[{"deviceName": "p", "lines": ["zed@x"]}]"#, ""),
            "sp/g: device `p`: unknown user `zed@x` in lines",
        ),
        (
            world(
                r#"[{"deviceName": "p", "lines": ["a@x"]}, {"deviceName": "p", "lines": ["b@x"]}]"#,
                "",
            ),
            "sp/g: duplicate deviceName `p` (Group devices of group sp/g)",
        ),
        (
            world(
                r#"[{"deviceName": "dup", "deviceLevel": "Service Provider", "lines": ["a@x"]}]"#,
                other_group,
            ),
            "sp/g2: duplicate deviceName `dup` (Service Provider devices of service provider sp)",
        ),
        (
            world(r#"[{"deviceName": "p", "lines": []}]"#, ""),
            "sp/g: device `p` has no lines",
        ),
        (
            world(r#"[{"deviceName": "p"}]"#, ""),
            "missing field `lines`",
        ),
        (
            world(r#"[{"lines": ["a@x"]}]"#, ""),
            "missing field `deviceName`",
        ),
        (
            world(r#"[{"deviceName": " ", "lines": ["a@x"]}]"#, ""),
            "sp/g: invalid deviceName ` `",
        ),
        (
            world(r#"[{"deviceName": "p", "lines": ["a@x", "a@x"]}]"#, ""),
            "sp/g: device `p` lists user `a@x` twice",
        ),
        (
            world(r#"[{"deviceName": "p", "lines": ["a@x", "c@x"]}]"#, ""),
            "sp/g: device `p`: user `c@x` is outside group sp/g",
        ),
        (
            world(
                r#"[{"deviceName": "p", "deviceLevel": "Service Provider", "lines": ["c@x"]}]"#,
                "",
            ),
            "sp/g: device `p`: user `c@x` is outside service provider sp",
        ),
        (
            world(
                r#"[{"deviceName": "p", "lines": ["a@x"]}, {"deviceName": "q", "lines": ["a@x", "b@x"]}]"#,
                "",
            ),
            "sp/g: user `a@x` is the first line (primary user) of both `p` and `q`",
        ),
        (
            world(
                r#"[{"deviceName": "p", "deviceLevel": "Enterprise", "lines": ["a@x"]}]"#,
                "",
            ),
            "unknown variant `Enterprise`",
        ),
        (
            world(
                r#"[{"deviceName": "p", "supportsReset": "no", "lines": ["a@x"]}]"#,
                "",
            ),
            "invalid type",
        ),
    ];
    for (text, expected) in cases {
        let error = WorldSpec::from_json(&text).expect_err(expected).to_string();
        assert!(
            error.starts_with("invalid world: ") && error.contains(expected),
            "`{error}` does not say `{expected}`"
        );
    }
    // A system device may carry users of any provider, and the same group device name may be
    // used in two groups.
    let fine = world(
        r#"[{"deviceName": "p", "lines": ["a@x"]},
            {"deviceName": "s", "deviceLevel": "System", "lines": ["c@x", "b@x"]}]"#,
        r#", {"groupId": "g2", "users": [{"userId": "d@x"}],
              "devices": [{"deviceName": "p", "lines": ["d@x"]}]}"#,
    );
    assert!(WorldSpec::from_json(&fine).is_ok());
}

#[test]
fn device_fields_take_their_defaults() {
    let sim = acme();
    let ann = sales(&sim, "ann-phone");
    assert_eq!(ann.device_type, "Generic SIP Phone");
    assert_eq!(ann.device_level, DeviceLevel::Group);
    assert_eq!(ann.service_provider_id.as_deref(), Some("acme"));
    assert_eq!(ann.lines, [ANN, BEN]);
    assert!(!ann.custom_credentials && ann.supports_reset && !ann.offline);
    assert!(ann.registered && ann.config_current);
    assert_eq!((ann.rebuilds, ann.resets), (0, 0));
    let eve = device(&sim, None, "eve-phone");
    assert_eq!(eve.device_level, DeviceLevel::ServiceProvider);
    assert_eq!(eve.service_provider_id.as_deref(), Some("acme"));
    let board = device(&sim, None, "board-room");
    assert_eq!(board.device_level, DeviceLevel::System);
    assert_eq!(board.service_provider_id, None);
    assert_eq!(sim.state.devices().len(), 7);
}

#[test]
fn the_seeded_world_gives_every_user_one_phone_and_nothing_else() {
    let sim = Sim::new(SimConfig::with_users(12));
    let devices = sim.state.devices();
    assert_eq!(devices.len(), 12);
    for (number, device) in (1..).zip(&devices) {
        assert_eq!(device.device_name, format!("phone-{number:04}"));
        assert_eq!(device.lines, [format!("user{number:04}@demo.example")]);
        assert_eq!(device.group_id.as_deref(), Some("demo-group"));
        assert_eq!(device.device_level, DeviceLevel::Group);
        assert!(device.registered && device.config_current && !device.custom_credentials);
    }
}

#[test]
fn the_device_flags_become_settings_and_bad_ones_are_refused() {
    let args = odin_sim::cli::Args::try_parse_from([
        "odin-sim",
        "--reboot-ms",
        "250",
        "--offline-devices",
        "0.25",
    ])
    .unwrap();
    let config = args.to_config().unwrap();
    assert_eq!(config.devices.reboot, Duration::from_millis(250));
    assert_eq!(config.devices.offline_fraction, 0.25);
    let defaults = odin_sim::cli::Args::try_parse_from(["odin-sim"])
        .unwrap()
        .to_config()
        .unwrap();
    assert_eq!(defaults.devices, DeviceSettings::default());
    assert_eq!(defaults.devices.reboot, REBOOT);
    for bad in [
        &["odin-sim", "--offline-devices", "1.5"][..],
        &["odin-sim", "--offline-devices", "half"],
        &["odin-sim", "--reboot-ms", "-1"],
    ] {
        assert!(odin_sim::cli::Args::try_parse_from(bad).is_err(), "{bad:?}");
    }
    let error = odin_sim::SimState::try_new(SimConfig {
        devices: DeviceSettings {
            offline_fraction: 2.0,
            ..DeviceSettings::default()
        },
        ..SimConfig::with_users(1)
    })
    .unwrap_err();
    assert!(error.to_string().contains("offline device fraction 2"));
}

// ---- reads ----

#[tokio::test]
async fn a_users_read_shows_its_primary_device() {
    let sim = acme();
    let token = sim.login().await;
    let ben = sim
        .get(&token, &format!("/users?userId={BEN}"))
        .await
        .json();
    assert_eq!(ben["endpointType"], "accessDeviceEndpoint");
    assert_eq!(
        ben["accessDeviceEndpoint"],
        json!({
            "accessDevice": {"deviceName": "ben-phone", "deviceType": "Polycom VVX 450",
                             "deviceLevel": "Group", "useCustomUserNamePassword": false},
            "linePort": BEN,
        })
    );
    let cat = sim
        .get(&token, &format!("/users?userId={CAT}"))
        .await
        .json();
    assert_eq!(
        cat["accessDeviceEndpoint"]["accessDevice"]["useCustomUserNamePassword"],
        true
    );
    let eve = sim
        .get(&token, "/users?userId=eve@acme.example")
        .await
        .json();
    assert_eq!(
        eve["accessDeviceEndpoint"]["accessDevice"]["deviceLevel"],
        "Service Provider"
    );
    let fay = sim
        .get(&token, "/users?userId=fay@other.example")
        .await
        .json();
    assert_eq!(
        fay["accessDeviceEndpoint"]["accessDevice"]["deviceLevel"],
        "System"
    );
    let hal = sim
        .get(&token, "/users?userId=hal@acme.example")
        .await
        .json();
    assert_eq!(hal["userId"], "hal@acme.example");
    assert!(hal.get("endpointType").is_none() && hal.get("accessDeviceEndpoint").is_none());
}

#[tokio::test]
async fn shared_call_appearances_list_the_other_devices_of_a_user() {
    let sim = acme();
    let token = sim.login().await;
    let ben = sim
        .get(
            &token,
            &format!("/users/shared-call-appearance?userId={BEN}"),
        )
        .await;
    assert_eq!(ben.status, 200);
    assert_eq!(
        ben.json(),
        json!([{"userId": BEN, "isActive": true, "allowOrigination": true,
                "allowTermination": true, "deviceName": "ann-phone", "deviceLevel": "Group",
                "linePort": "ben_1@acme.example"}])
    );
    let ann = sim
        .get(
            &token,
            &format!("/users/shared-call-appearance?userId={ANN}"),
        )
        .await
        .json();
    assert_eq!(ann[0]["deviceName"], "board-room");
    assert_eq!(ann[0]["deviceLevel"], "System");
    assert_eq!(ann[0]["linePort"], "ann_1@acme.example");
    let cat = sim
        .get(
            &token,
            &format!("/users/shared-call-appearance?userId={CAT}"),
        )
        .await;
    assert_eq!(cat.json(), json!([]));
    let errors = [
        (
            "/users/shared-call-appearance",
            "[Error 4001] Missing mandatory field: userId",
        ),
        (
            "/users/shared-call-appearance?userId=zed@acme.example",
            "[Error 4008] User not found: zed@acme.example",
        ),
        (
            "/users/shared-call-appearance?userId=ann@acme.example&groupId=support",
            "[Error 4009] User not in group: ann@acme.example is not in acme/support",
        ),
    ];
    for (path, details) in errors {
        let answer = sim.get(&token, path).await;
        assert_eq!((answer.status, answer.details().as_str()), (400, details));
    }
}

#[tokio::test]
async fn users_on_a_device_come_in_line_order() {
    let sim = acme();
    let token = sim.login().await;
    let answer = sim
        .get(
            &token,
            "/groups/devices/users?serviceProviderId=acme&groupId=sales&deviceName=ann-phone",
        )
        .await;
    assert_eq!(answer.status, 200);
    let users = answer.json();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(users[0]["userId"], ANN);
    assert_eq!(users[0]["endpointType"], "Primary");
    assert_eq!(users[0]["order"], 1);
    assert_eq!(users[0]["linePort"], ANN);
    assert_eq!(users[1]["userId"], BEN);
    assert_eq!(users[1]["endpointType"], "Shared Call Appearance");
    assert_eq!(users[1]["linePort"], "ben_1@acme.example");
    // The same name in another group is another device.
    let support = sim
        .get(
            &token,
            "/groups/devices/users?serviceProviderId=acme&groupId=support&deviceName=ann-phone",
        )
        .await
        .json();
    assert_eq!(support[0]["userId"], "gil@acme.example");
    let errors = [
        (
            "/groups/devices/users?serviceProviderId=acme&groupId=sales",
            "[Error 4001] Missing mandatory field: deviceName",
        ),
        (
            "/groups/devices/users?serviceProviderId=acme&groupId=sales&deviceName=eve-phone",
            "[Error 4010] Device not found: eve-phone in acme/sales",
        ),
        (
            "/groups/devices/users?serviceProviderId=acme&groupId=nope&deviceName=x",
            "[Error 4007] Group not found: nope in acme",
        ),
    ];
    for (path, details) in errors {
        let answer = sim.get(&token, path).await;
        assert_eq!((answer.status, answer.details().as_str()), (400, details));
    }
}

#[tokio::test]
async fn groups_are_listed_and_read_one_at_a_time() {
    let sim = acme();
    let token = sim.login().await;
    let listed = sim.get(&token, "/groups?serviceProviderId=acme").await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json(),
        json!([
            {"serviceProviderId": "acme", "groupId": "sales", "groupName": "sales", "userCount": 6},
            {"serviceProviderId": "acme", "groupId": "support", "groupName": "support", "userCount": 1},
        ])
    );
    let one = sim
        .get(&token, "/groups?serviceProviderId=acme&groupId=support")
        .await
        .json();
    assert_eq!(one["groupId"], "support");
    assert_eq!(one["userCount"], 1);
    let errors = [
        (
            "/groups",
            "[Error 4001] Missing mandatory field: serviceProviderId",
        ),
        (
            "/groups?serviceProviderId=nope",
            "[Error 4006] Service provider not found: nope",
        ),
        (
            "/groups?serviceProviderId=acme&groupId=nope",
            "[Error 4007] Group not found: nope in acme",
        ),
    ];
    for (path, details) in errors {
        let answer = sim.get(&token, path).await;
        assert_eq!((answer.status, answer.details().as_str()), (400, details));
    }
}

#[tokio::test]
async fn registrations_per_user_and_per_group() {
    let sim = acme();
    let token = sim.login().await;
    let ann = sim
        .get(&token, &format!("/users/registration?userId={ANN}"))
        .await;
    assert_eq!(ann.status, 200);
    let ann = ann.json();
    assert_eq!(ann["userId"], ANN);
    assert_eq!(registered_devices(&ann), ["ann-phone", "board-room"]);
    let first = &ann["registrations"][0];
    assert_eq!(first["deviceLevel"], "Group");
    assert_eq!(first["order"], 1);
    assert_eq!(first["line/Port"], ANN);
    assert_eq!(first["endpointType"], "Primary");
    assert!(first["uRI"].as_str().unwrap().starts_with("sip:ann@"));
    assert!(first["expiration"].as_str().unwrap().ends_with("GMT"));
    assert!(
        first["userAgent"]
            .as_str()
            .unwrap()
            .contains("Generic SIP Phone")
    );
    let second = &ann["registrations"][1];
    assert_eq!(second["deviceLevel"], "System");
    assert_eq!(second["order"], 2);
    assert_eq!(second["endpointType"], "Shared Call Appearance");

    let hal = sim
        .get(&token, "/users/registration?userId=hal@acme.example")
        .await
        .json();
    assert_eq!(hal["registrations"], json!([]));

    let bulk = sim
        .get(
            &token,
            "/users/registration/bulk?serviceProviderId=acme&groupId=sales",
        )
        .await;
    assert_eq!(bulk.status, 200);
    let bulk = bulk.json();
    assert_eq!(bulk["serviceProviderId"], "acme");
    assert_eq!(bulk["groupId"], "sales");
    let users = bulk["users"].as_array().unwrap();
    let ids: Vec<&str> = users
        .iter()
        .map(|user| user["profile"]["userId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            ANN,
            BEN,
            CAT,
            "dan@acme.example",
            "eve@acme.example",
            "hal@acme.example"
        ]
    );
    assert_eq!(users[0]["data"], ann);
    assert_eq!(
        registered_devices(&users[1]["data"]),
        ["ben-phone", "ann-phone"]
    );

    let errors = [
        (
            "/users/registration",
            "[Error 4001] Missing mandatory field: userId",
        ),
        (
            "/users/registration?userId=zed@x",
            "[Error 4008] User not found: zed@x",
        ),
        (
            "/users/registration/bulk?serviceProviderId=acme",
            "[Error 4001] Missing mandatory field: groupId",
        ),
        (
            "/users/registration/bulk?serviceProviderId=acme&groupId=nope",
            "[Error 4007] Group not found: nope in acme",
        ),
    ];
    for (path, details) in errors {
        let answer = sim.get(&token, path).await;
        assert_eq!((answer.status, answer.details().as_str()), (400, details));
    }
}

// ---- staleness, rebuild, reset ----

#[tokio::test]
async fn a_sip_change_makes_every_device_of_the_user_stale_until_rebuilt() {
    let sim = acme();
    let token = sim.login().await;
    set_sip(&sim, &token, BEN, "Brand-New-Pass7").await;
    assert!(
        !sales(&sim, "ann-phone").config_current,
        "ben is a line of ann-phone"
    );
    assert!(!sales(&sim, "ben-phone").config_current);
    for (group, name) in [
        (None, "board-room"),
        (Some("sales"), "lobby"),
        (Some("support"), "ann-phone"),
    ] {
        assert!(device(&sim, group, name).config_current, "{name}");
    }
    // A change alone does not unregister a phone: it is found out at its next registration,
    // which a reset forces.
    assert!(sales(&sim, "ben-phone").registered);

    let answer = post(
        &sim,
        &token,
        "/groups/devices/rebuild",
        &group_body("ann-phone"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.details());
    assert_eq!(answer.json(), json!([]));
    let ann_phone = sales(&sim, "ann-phone");
    assert!(ann_phone.config_current);
    assert_eq!((ann_phone.rebuilds, ann_phone.resets), (1, 0));
    assert!(!sales(&sim, "ben-phone").config_current);
    // Another change after the rebuild makes it stale again.
    set_sip(&sim, &token, ANN, "Another-Pass8").await;
    assert!(!sales(&sim, "ann-phone").config_current);
    assert!(!device(&sim, None, "board-room").config_current);
}

#[tokio::test]
async fn a_device_with_its_own_credentials_is_never_stale() {
    let sim = acme_with(DeviceSettings {
        reboot: Duration::ZERO,
        ..DeviceSettings::default()
    });
    let token = sim.login().await;
    set_sip(&sim, &token, CAT, "Brand-New-Pass7").await;
    assert!(sales(&sim, "cat-dect").config_current);
    let answer = post(
        &sim,
        &token,
        "/groups/devices/reset",
        &group_body("cat-dect"),
    )
    .await;
    assert_eq!(answer.status, 200);
    let cat_dect = sales(&sim, "cat-dect");
    assert!(cat_dect.registered && cat_dect.config_current);
    assert_eq!(cat_dect.resets, 1);
}

#[tokio::test(start_paused = true)]
async fn a_reset_device_registers_again_after_the_reboot_only_with_a_current_file() {
    // The clock is tokio's paused one: each `sleep` below jumps to its deadline at once, after
    // every timer due before it (the reboots) has fired and run.
    let sim = acme();
    let token = sim.login().await;
    set_sip(&sim, &token, BEN, "Brand-New-Pass7").await;
    let rebuilt = post(
        &sim,
        &token,
        "/groups/devices/rebuild",
        &group_body("ben-phone"),
    )
    .await;
    assert_eq!(rebuilt.status, 200);
    for name in ["ben-phone", "ann-phone"] {
        let answer = post(&sim, &token, "/groups/devices/reset", &group_body(name)).await;
        assert_eq!(answer.status, 200, "{}", answer.details());
        assert_eq!(answer.json(), json!([]));
    }
    let ben_registrations = format!("/users/registration?userId={BEN}");
    assert!(!sales(&sim, "ben-phone").registered);
    assert!(!sales(&sim, "ann-phone").registered);
    assert_eq!(
        registered_devices(&sim.get(&token, &ben_registrations).await.json()),
        Vec::<String>::new()
    );
    tokio::time::sleep(REBOOT - Duration::from_millis(1)).await;
    assert!(
        !sales(&sim, "ben-phone").registered,
        "back before the reboot was over"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    let ben_phone = sales(&sim, "ben-phone");
    assert!(ben_phone.registered && ben_phone.config_current);
    assert_eq!((ben_phone.rebuilds, ben_phone.resets), (1, 1));
    // ann-phone still holds ben's old password: it rebooted and could not register.
    let ann_phone = sales(&sim, "ann-phone");
    assert!(!ann_phone.registered && !ann_phone.config_current);
    assert_eq!(
        registered_devices(&sim.get(&token, &ben_registrations).await.json()),
        ["ben-phone"]
    );
    // Nor does it come back later by itself; a rebuild and another reset bring it back.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(!sales(&sim, "ann-phone").registered);
    post(
        &sim,
        &token,
        "/groups/devices/rebuild",
        &group_body("ann-phone"),
    )
    .await;
    assert!(
        !sales(&sim, "ann-phone").registered,
        "a rebuild alone re-registers nothing"
    );
    post(
        &sim,
        &token,
        "/groups/devices/reset",
        &group_body("ann-phone"),
    )
    .await;
    tokio::time::sleep(REBOOT + Duration::from_millis(1)).await;
    let ann_phone = sales(&sim, "ann-phone");
    assert!(ann_phone.registered);
    assert_eq!((ann_phone.rebuilds, ann_phone.resets), (1, 2));
    assert_eq!(
        registered_devices(&sim.get(&token, &ben_registrations).await.json()),
        ["ben-phone", "ann-phone"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_reset_during_the_reboot_starts_the_reboot_over() {
    let sim = acme();
    let token = sim.login().await;
    post(
        &sim,
        &token,
        "/groups/devices/reset",
        &group_body("ben-phone"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    post(
        &sim,
        &token,
        "/groups/devices/reset",
        &group_body("ben-phone"),
    )
    .await;
    // Past the first reset's reboot, within the second's.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!sales(&sim, "ben-phone").registered);
    tokio::time::sleep(Duration::from_millis(501)).await;
    let ben_phone = sales(&sim, "ben-phone");
    assert!(ben_phone.registered);
    assert_eq!(ben_phone.resets, 2);
}

#[tokio::test]
async fn a_file_rebuilt_during_the_reboot_counts() {
    // The file is checked when the reboot ends, not when the reset is asked: driven through the
    // model's own methods, as a second front (OCI-P) would drive it.
    let sim = acme();
    let token = sim.login().await;
    set_sip(&sim, &token, BEN, "Brand-New-Pass7").await;
    let ben_phone = DeviceRef {
        place: DevicePlace::Group {
            service_provider_id: "acme".to_owned(),
            group_id: "sales".to_owned(),
        },
        device_name: "ben-phone".to_owned(),
    };
    tokio::time::pause();
    sim.state.reset_device(&ben_phone).unwrap();
    sim.state.rebuild_device(&ben_phone).unwrap();
    tokio::time::sleep(REBOOT + Duration::from_millis(1)).await;
    assert!(sales(&sim, "ben-phone").registered);
    assert_eq!(
        sim.state.user_registrations(BEN).unwrap()[0].device_name,
        "ben-phone"
    );
}

#[tokio::test]
async fn a_device_that_cannot_be_reset_says_so_and_stays_as_it_was() {
    let sim = acme();
    let token = sim.login().await;
    let answer = post(&sim, &token, "/groups/devices/reset", &group_body("lobby")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.details(),
        "[Error 4011] Device does not support reset: lobby"
    );
    let lobby = sales(&sim, "lobby");
    assert!(lobby.registered && !lobby.supports_reset);
    assert_eq!(lobby.resets, 0);
    // It can still be rebuilt.
    let rebuilt = post(
        &sim,
        &token,
        "/groups/devices/rebuild",
        &group_body("lobby"),
    )
    .await;
    assert_eq!(rebuilt.status, 200);
    assert_eq!(sales(&sim, "lobby").rebuilds, 1);
}

#[tokio::test]
async fn rebuild_and_reset_reach_each_level_only_through_its_own_calls() {
    let sim = acme_with(DeviceSettings {
        reboot: Duration::ZERO,
        ..DeviceSettings::default()
    });
    let token = sim.login().await;
    let sp_body = json!({"serviceProviderId": "acme", "deviceName": "eve-phone"}).to_string();
    let system_body = json!({"deviceName": "board-room"}).to_string();
    for action in ["rebuild", "reset"] {
        let answer = post(
            &sim,
            &token,
            &format!("/service-providers/devices/{action}"),
            &sp_body,
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.details());
        let answer = post(
            &sim,
            &token,
            &format!("/system/devices/{action}"),
            &system_body,
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.details());
    }
    for name in ["eve-phone", "board-room"] {
        let truth = device(&sim, None, name);
        assert_eq!((truth.rebuilds, truth.resets), (1, 1), "{name}");
        assert!(truth.registered, "{name}");
    }
    let errors = [
        (
            "/groups/devices/reset",
            group_body("eve-phone"),
            "[Error 4010] Device not found: eve-phone in acme/sales",
        ),
        (
            "/service-providers/devices/rebuild",
            json!({"serviceProviderId": "acme", "deviceName": "ann-phone"}).to_string(),
            "[Error 4010] Device not found: ann-phone in acme",
        ),
        (
            "/service-providers/devices/reset",
            json!({"serviceProviderId": "nope", "deviceName": "eve-phone"}).to_string(),
            "[Error 4006] Service provider not found: nope",
        ),
        (
            "/system/devices/reset",
            json!({"deviceName": "eve-phone"}).to_string(),
            "[Error 4010] Device not found: eve-phone in the system",
        ),
        (
            "/groups/devices/rebuild",
            json!({"serviceProviderId": "acme", "groupId": "nope", "deviceName": "x"}).to_string(),
            "[Error 4007] Group not found: nope in acme",
        ),
        (
            "/groups/devices/rebuild",
            json!({"serviceProviderId": "acme", "deviceName": "x"}).to_string(),
            "[Error 4001] Missing mandatory field: groupId",
        ),
        (
            "/system/devices/rebuild",
            "{}".to_owned(),
            "[Error 4001] Missing mandatory field: deviceName",
        ),
        (
            "/system/devices/rebuild",
            json!({"deviceName": 7}).to_string(),
            "[Error 4002] Invalid value for deviceName",
        ),
        (
            "/system/devices/rebuild",
            "[]".to_owned(),
            "[Error 4000] Invalid request body: expected a JSON object",
        ),
    ];
    for (path, body, details) in errors {
        let answer = post(&sim, &token, path, &body).await;
        assert_eq!(
            (answer.status, answer.details().as_str()),
            (400, details),
            "{path}"
        );
    }
    // A refused call changed nothing.
    assert_eq!(device(&sim, None, "eve-phone").resets, 1);
}

#[tokio::test(start_paused = true)]
async fn offline_devices_never_come_back_after_a_reset() {
    let everything = acme_with(DeviceSettings {
        offline_fraction: 1.0,
        ..DeviceSettings::default()
    });
    let token = everything.login().await;
    assert!(
        everything
            .state
            .devices()
            .iter()
            .all(|device| device.offline)
    );
    assert!(
        sales(&everything, "ben-phone").registered,
        "offline only after a reset"
    );
    post(
        &everything,
        &token,
        "/groups/devices/reset",
        &group_body("ben-phone"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let ben_phone = sales(&everything, "ben-phone");
    assert!(!ben_phone.registered && ben_phone.config_current);

    // A fraction picks that share of the devices, rounded, the same ones for the same seed.
    let offline = |seed: u64| -> Vec<String> {
        let sim = Sim::new(SimConfig {
            seed: Some(seed),
            devices: DeviceSettings {
                offline_fraction: 0.25,
                ..DeviceSettings::default()
            },
            ..SimConfig::with_users(40)
        });
        sim.state
            .devices()
            .into_iter()
            .filter(|device| device.offline)
            .map(|device| device.device_name)
            .collect()
    };
    assert_eq!(offline(9).len(), 10);
    assert_eq!(offline(9), offline(9));
    assert_ne!(offline(9), offline(10));
}

#[tokio::test]
async fn the_truth_endpoint_lists_every_device_without_a_token() {
    let sim = acme();
    let answer = sim.truth("/_sim/devices").await;
    assert_eq!(answer.status, 200);
    let devices = answer.json();
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 7);
    assert_eq!(
        devices[0],
        json!({"serviceProviderId": "acme", "groupId": "sales", "deviceName": "ann-phone",
               "deviceLevel": "Group", "deviceType": "Generic SIP Phone", "lines": [ANN, BEN],
               "customCredentials": false, "supportsReset": true, "rebuilds": 0, "resets": 0,
               "configCurrent": true, "registered": true, "offline": false})
    );
    assert_eq!(devices[5]["deviceName"], "board-room");
    assert_eq!(devices[5]["serviceProviderId"], Value::Null);
    let parsed: Vec<DeviceTruth> = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(parsed, sim.state.devices());
}

#[tokio::test]
async fn the_models_methods_refuse_unknown_places_and_users() {
    let sim = acme();
    let nowhere = DeviceRef {
        place: DevicePlace::ServiceProvider {
            service_provider_id: "nope".to_owned(),
        },
        device_name: "x".to_owned(),
    };
    assert_eq!(
        sim.state.reset_device(&nowhere),
        Err(DeviceError::UnknownServiceProvider("nope".to_owned()))
    );
    assert!(matches!(
        sim.state.devices_of_user("zed@x"),
        Err(DeviceError::UnknownUser(_))
    ));
    let ben = sim.state.devices_of_user(BEN).unwrap();
    let names: Vec<(&str, bool)> = ben
        .iter()
        .map(|device| (device.device_name.as_str(), device.primary))
        .collect();
    assert_eq!(names, [("ben-phone", true), ("ann-phone", false)]);
    let group = sim.state.group_registrations("acme", "support").unwrap();
    assert_eq!(group.len(), 1);
    assert_eq!(group[0].0, "gil@acme.example");
    assert_eq!(group[0].1.len(), 1);
}

// ---- faults and counting ----

const DEVICE_ROUTES: [(&str, &str); 11] = [
    ("GET", "/api/v2/groups?serviceProviderId=demo-sp"),
    (
        "GET",
        "/api/v2/users/shared-call-appearance?userId=user0001@demo.example",
    ),
    (
        "GET",
        "/api/v2/groups/devices/users?serviceProviderId=demo-sp&groupId=demo-group&deviceName=phone-0001",
    ),
    ("POST", "/api/v2/groups/devices/rebuild"),
    ("POST", "/api/v2/groups/devices/reset"),
    ("POST", "/api/v2/service-providers/devices/rebuild"),
    ("POST", "/api/v2/service-providers/devices/reset"),
    ("POST", "/api/v2/system/devices/rebuild"),
    ("POST", "/api/v2/system/devices/reset"),
    (
        "GET",
        "/api/v2/users/registration?userId=user0001@demo.example",
    ),
    (
        "GET",
        "/api/v2/users/registration/bulk?serviceProviderId=demo-sp&groupId=demo-group",
    ),
];

fn demo_device_body() -> String {
    json!({"serviceProviderId": "demo-sp", "groupId": "demo-group", "deviceName": "phone-0001"})
        .to_string()
}

#[tokio::test]
async fn every_device_route_needs_a_live_token() {
    let sim = Sim::demo();
    for (method, uri) in DEVICE_ROUTES {
        for token in [None, Some("e30.e30.bm90LWlzc3VlZA")] {
            let answer = sim
                .send(method, uri, token, Some(&demo_device_body()))
                .await;
            assert_eq!(answer.status, 401, "{method} {uri}");
            assert_eq!(
                answer.details(),
                "[Error 4962] Token missing, expired or revoked"
            );
        }
    }
    let expired = Sim::new(SimConfig {
        token_ttl: Duration::ZERO,
        ..SimConfig::with_users(1)
    });
    let token = expired.login().await;
    let answer = post(
        &expired,
        &token,
        "/groups/devices/reset",
        &demo_device_body(),
    )
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(expired.state.devices()[0].resets, 0);
}

#[tokio::test]
async fn faults_apply_to_the_device_routes_and_stats_count_them() {
    let sim = Sim::new(SimConfig::with_users(2).with_seed(7));
    let token = sim.login().await;
    let reset = "/groups/devices/reset";

    sim.state.set_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    });
    for (method, uri) in DEVICE_ROUTES {
        let answer = sim
            .send(method, uri, Some(&token), Some(&demo_device_body()))
            .await;
        assert!(
            [500, 502, 503, 504].contains(&answer.status),
            "{method} {uri}: {}",
            answer.status
        );
    }
    assert_eq!(
        sim.state.devices()[0].resets,
        0,
        "failed before anything happened"
    );

    // The ambiguous case: the reset happened, the answer says it failed.
    sim.state.set_faults(Faults {
        fail_after_rate: 1.0,
        ..Faults::default()
    });
    let answer = post(&sim, &token, reset, &demo_device_body()).await;
    assert_eq!(answer.status, 500);
    assert_eq!(sim.state.devices()[0].resets, 1);

    sim.state.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let mut resets = 1;
    for _ in 0..20 {
        let answer = post(&sim, &token, reset, &demo_device_body()).await;
        assert!(answer.dropped);
        let now = sim.state.devices()[0].resets;
        assert!(now == resets || now == resets + 1);
        resets = now;
    }
    assert!(
        resets > 1 && resets < 21,
        "drops before and after: {resets}"
    );

    // One request per 1,000 s: the bucket holds one, so the first passes and the rest wait.
    sim.state.set_faults(Faults {
        rate_limit: Some(0.001),
        ..Faults::default()
    });
    let mut limited = 0;
    for _ in 0..3 {
        let answer = sim
            .get(&token, "/users/registration?userId=user0001@demo.example")
            .await;
        if answer.status == 429 {
            assert!(answer.headers.contains_key("retry-after"));
            limited += 1;
        }
    }
    assert_eq!(limited, 2);

    // The truth endpoint is never faulted.
    sim.state.set_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    });
    assert_eq!(sim.truth("/_sim/devices").await.status, 200);

    let stats: odin_sim::Stats =
        serde_json::from_slice(&sim.truth("/_sim/stats").await.body).unwrap();
    // fail_after_rate's 500, and perhaps fail_rate's (its status is drawn among the 5xx).
    assert!(stats.count_with_status("POST", "/api/v2/groups/devices/reset", 500) >= 1);
    assert_eq!(
        stats.count_with_status("POST", "/api/v2/groups/devices/reset", 0),
        20
    );
    assert_eq!(stats.count("POST", "/api/v2/groups/devices/reset"), 22);
    assert_eq!(
        stats.count_with_status("GET", "/api/v2/users/registration", 429),
        limited
    );
    assert_eq!(stats.count("GET", "/_sim/devices"), 1);
}

#[tokio::test]
async fn a_stranger_in_the_answer_does_not_hide_the_device() {
    // The other-user fault names another user in `GET /users?userId=`; the device it shows is
    // then that user's, consistently.
    let sim = Sim::demo();
    let token = sim.login().await;
    sim.state.set_faults(Faults {
        other_user_rate: 1.0,
        ..Faults::default()
    });
    let answer = sim
        .get(&token, &format!("/users?userId={ALICE}"))
        .await
        .json();
    assert_eq!(answer["userId"], BOB);
    assert_eq!(
        answer["accessDeviceEndpoint"]["accessDevice"]["deviceName"],
        "phone-0002"
    );
}

// ---- over the wire ----

#[tokio::test]
async fn a_spawned_simulator_serves_the_device_calls_over_the_wire() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = odin_sim::spawn(SimConfig {
        world: WorldSpec::from_json(FIXTURE).expect("fixture"),
        devices: DeviceSettings {
            reboot: Duration::ZERO,
            ..DeviceSettings::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("spawn");
    let base_url = sim.base_url();
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base_url}/auth/token"))
        .json(&json!({"username": "admin", "password": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let answer = client
        .put(format!("{base_url}/users/authentication"))
        .bearer_auth(&token)
        .json(&json!({"userId": ANN, "newPassword": "Brand-New-Pass7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body = json!({"serviceProviderId": "acme", "groupId": "sales", "deviceName": "ann-phone"});
    for action in ["rebuild", "reset"] {
        let answer = client
            .post(format!("{base_url}/groups/devices/{action}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.text().await.unwrap(), "[]");
    }
    // With no reboot time, the reset device is back within the reset call.
    let registrations: Value = client
        .get(format!("{base_url}/users/registration"))
        .query(&[("userId", ANN)])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registrations["registrations"][0]["deviceName"], "ann-phone");
    // board-room carries ann too, was never rebuilt, but was never reset either.
    assert_eq!(
        registrations["registrations"][1]["deviceName"],
        "board-room"
    );
    let truth: Vec<DeviceTruth> = client
        .get(format!("{}/_sim/devices", sim.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth, sim.devices());
    let ann_phone = truth
        .iter()
        .find(|device| {
            device.device_name == "ann-phone" && device.group_id.as_deref() == Some("sales")
        })
        .unwrap();
    assert!(ann_phone.registered && ann_phone.config_current);
    assert_eq!((ann_phone.rebuilds, ann_phone.resets), (1, 1));
    let board_room = truth
        .iter()
        .find(|device| device.device_name == "board-room")
        .unwrap();
    assert!(board_room.registered && !board_room.config_current);
}

#[test]
fn the_binary_refuses_a_fixture_with_a_bad_device_and_says_which() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("world.json");
    std::fs::write(
        &path,
        r#"{"serviceProviders": [{"serviceProviderId": "sp", "groups": [{"groupId": "g",
            "users": [{"userId": "a@x"}],
            "devices": [{"deviceName": "desk", "lines": ["ghost@x"]}]}]}]}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_odin-sim"))
        .arg("--fixture")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: invalid world: ")
            && stderr.contains("sp/g: device `desk`: unknown user `ghost@x` in lines"),
        "{stderr}"
    );
}
