//! The device endpoints (§13 of `docs/odin-api.md`): a user's device and shared call
//! appearances, the users on a group device, rebuild and reset at the three device levels, and
//! registrations per user and per group.

use bwreset_backend::{DeviceId, DeviceLevel, GroupScope};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::OdinClient;
use crate::call::{Call, Kind};
use crate::client::{AboutOneUser, check_same_user, decode, first_byte};
use crate::types::{optional_text, text};

/// The device part of `GET /users?userId=`: where the user is and its primary device.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEndpoint {
    /// `userId`.
    #[serde(deserialize_with = "text")]
    pub user_id: String,
    /// `serviceProviderId`.
    #[serde(default, deserialize_with = "optional_text")]
    pub service_provider_id: Option<String>,
    /// `groupId`.
    #[serde(default, deserialize_with = "optional_text")]
    pub group_id: Option<String>,
    /// `endpointType` (`accessDeviceEndpoint` for a user with a primary device).
    #[serde(default, deserialize_with = "optional_text")]
    pub endpoint_type: Option<String>,
    /// `accessDeviceEndpoint`, when the user has a primary device.
    #[serde(default)]
    pub access_device_endpoint: Option<AccessDeviceEndpoint>,
}

impl AboutOneUser for UserEndpoint {
    fn user_id(&self) -> &str {
        &self.user_id
    }
}

/// `accessDeviceEndpoint` of a user.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessDeviceEndpoint {
    /// `accessDevice`.
    pub access_device: AccessDevice,
    /// `linePort`.
    #[serde(default, deserialize_with = "optional_text")]
    pub line_port: Option<String>,
}

/// `accessDevice` of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessDevice {
    /// `deviceName`.
    #[serde(deserialize_with = "text")]
    pub device_name: String,
    /// `deviceType`.
    #[serde(default, deserialize_with = "optional_text")]
    pub device_type: Option<String>,
    /// `deviceLevel`: `Group`, `Service Provider` or `System`.
    #[serde(default, deserialize_with = "optional_text")]
    pub device_level: Option<String>,
    /// `useCustomUserNamePassword`.
    #[serde(default)]
    pub use_custom_user_name_password: Option<bool>,
}

/// One entry of `GET /users/shared-call-appearance`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedCallAppearance {
    /// `deviceName`.
    #[serde(deserialize_with = "text")]
    pub device_name: String,
    /// `deviceLevel`.
    #[serde(default, deserialize_with = "optional_text")]
    pub device_level: Option<String>,
    /// `linePort`.
    #[serde(default, deserialize_with = "optional_text")]
    pub line_port: Option<String>,
}

/// One entry of `GET /groups/devices/users`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceUserEntry {
    /// `userId`.
    #[serde(deserialize_with = "text")]
    pub user_id: String,
    /// `endpointType`: `Primary` or `Shared Call Appearance`.
    #[serde(default, deserialize_with = "optional_text")]
    pub endpoint_type: Option<String>,
    /// `order`, counting lines from 1.
    #[serde(default)]
    pub order: Option<u32>,
}

/// One registration of a user.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRegistration {
    /// `deviceName`.
    #[serde(deserialize_with = "text")]
    pub device_name: String,
    /// `deviceLevel`.
    #[serde(default, deserialize_with = "optional_text")]
    pub device_level: Option<String>,
    /// `expiration`: renewed each time the device registers.
    #[serde(default, deserialize_with = "optional_text")]
    pub expiration: Option<String>,
}

/// `GET /users/registration`: a user's registrations (empty: registered nowhere).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistration {
    /// `userId`.
    #[serde(deserialize_with = "text")]
    pub user_id: String,
    /// `registrations`.
    #[serde(default)]
    pub registrations: Vec<DeviceRegistration>,
}

#[derive(Deserialize)]
struct GroupRegistrations {
    #[serde(default)]
    users: Vec<GroupRegistrationEntry>,
}

#[derive(Deserialize)]
struct GroupRegistrationEntry {
    data: UserRegistration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    service_provider_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<&'a str>,
    device_name: &'a str,
}

/// Rebuild or reset.
#[derive(Clone, Copy)]
enum DeviceAction {
    Rebuild,
    Reset,
}

impl OdinClient {
    /// `GET /users?userId=` read for the user's place and primary device.
    pub async fn user_endpoint(&self, user_id: &str) -> Result<UserEndpoint, Error> {
        self.one_user(user_id).await
    }

    /// `GET /users/shared-call-appearance?userId=`: the devices where the user is a shared call
    /// appearance (not its primary device).
    pub async fn shared_call_appearances(
        &self,
        user_id: &str,
    ) -> Result<Vec<SharedCallAppearance>, Error> {
        let query = [("userId", user_id)];
        let call = Call::get("/users/shared-call-appearance", &query);
        let body = self.inner.call(&call).await?;
        if first_byte(&body).is_none() {
            return Ok(Vec::new());
        }
        decode(&body, &call)
    }

    /// `GET /groups/devices/users?serviceProviderId=&groupId=&deviceName=`: the users on a group
    /// device, in line order.
    pub async fn group_device_users(
        &self,
        group: GroupScope<'_>,
        device_name: &str,
    ) -> Result<Vec<DeviceUserEntry>, Error> {
        let query = [
            ("serviceProviderId", group.service_provider_id),
            ("groupId", group.group_id),
            ("deviceName", device_name),
        ];
        let call = Call::get("/groups/devices/users", &query);
        let body = self.inner.call(&call).await?;
        if first_byte(&body).is_none() {
            return Ok(Vec::new());
        }
        decode(&body, &call)
    }

    /// `POST /{groups,service-providers,system}/devices/rebuild`: rebuilds a device's
    /// configuration files. Any 2xx is done (the answer's body is not documented).
    pub async fn rebuild_device(&self, device: &DeviceId) -> Result<(), Error> {
        self.device_action(device, DeviceAction::Rebuild).await
    }

    /// `POST /{groups,service-providers,system}/devices/reset`: resets a device. Retried inside
    /// the client only where the server certainly did not process it.
    pub async fn reset_device(&self, device: &DeviceId) -> Result<(), Error> {
        self.device_action(device, DeviceAction::Reset).await
    }

    async fn device_action(&self, device: &DeviceId, action: DeviceAction) -> Result<(), Error> {
        let route = match (device.level(), action) {
            (DeviceLevel::Group, DeviceAction::Rebuild) => "/groups/devices/rebuild",
            (DeviceLevel::Group, DeviceAction::Reset) => "/groups/devices/reset",
            (DeviceLevel::ServiceProvider, DeviceAction::Rebuild) => {
                "/service-providers/devices/rebuild"
            }
            (DeviceLevel::ServiceProvider, DeviceAction::Reset) => {
                "/service-providers/devices/reset"
            }
            (DeviceLevel::System, DeviceAction::Rebuild) => "/system/devices/rebuild",
            (DeviceLevel::System, DeviceAction::Reset) => "/system/devices/reset",
        };
        let body = DeviceBody {
            service_provider_id: device.service_provider_id(),
            group_id: device.group_id(),
            device_name: &device.name,
        };
        let body = serde_json::to_vec(&body)
            .map_err(|_| Error::config("could not encode the device request"))?;
        let fields = match device.level() {
            DeviceLevel::Group => "serviceProviderId,groupId,deviceName",
            DeviceLevel::ServiceProvider => "serviceProviderId,deviceName",
            DeviceLevel::System => "deviceName",
        };
        let call = Call::with_body(Method::POST, route, Some(&body), fields, Kind::Setter);
        let answer = self.inner.call(&call).await?;
        if first_byte(&answer).is_some() {
            // Any JSON is done; only text that is not JSON at all is an answer not understood.
            let _: serde::de::IgnoredAny = decode(&answer, &call)?;
        }
        Ok(())
    }

    /// `GET /users/registration?userId=`: one user's registrations.
    pub async fn user_registration(&self, user_id: &str) -> Result<UserRegistration, Error> {
        let query = [("userId", user_id)];
        let call = Call::get("/users/registration", &query);
        let body = self.inner.call(&call).await?;
        let registration: UserRegistration = decode(&body, &call)?;
        check_same_user(Some(&registration.user_id), user_id, &call)?;
        Ok(registration)
    }

    /// `GET /users/registration/bulk?serviceProviderId=&groupId=`: the registrations of every
    /// user of a group, in one request.
    pub async fn group_registrations(
        &self,
        group: GroupScope<'_>,
    ) -> Result<Vec<UserRegistration>, Error> {
        let query = [
            ("serviceProviderId", group.service_provider_id),
            ("groupId", group.group_id),
        ];
        let call = Call::get("/users/registration/bulk", &query);
        let body = self.inner.call(&call).await?;
        let answer: GroupRegistrations = decode(&body, &call)?;
        Ok(answer.users.into_iter().map(|entry| entry.data).collect())
    }
}
