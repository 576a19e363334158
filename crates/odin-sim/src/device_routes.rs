//! The REST front of the device model (`crate::devices`): a user's device and shared call
//! appearances, users on a device, rebuild and reset at the three device levels, registrations
//! per user and per group, the group reads, and the truth endpoint `GET /_sim/devices`.
//!
//! These routes sit behind the same guard as every other `/api/v2` route, so faults, the rate
//! limit and the token check apply to them unchanged.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::api::{body_object, find_user, required_id, required_param, scope_error};
use crate::devices::{DeviceError, DevicePlace, DeviceRef, Registration, UserDevice, user_devices};
use crate::reply::{ApiError, json_bytes, ok};
use crate::state::{SimState, lock};
use crate::world::World;

/// The `/api/v2` device routes, to be merged in front of the guard.
pub(crate) fn api_routes() -> Router<SimState> {
    Router::new()
        .route("/api/v2/groups", get(groups))
        .route(
            "/api/v2/users/shared-call-appearance",
            get(shared_call_appearances),
        )
        .route("/api/v2/groups/devices/users", get(device_users))
        .route("/api/v2/groups/devices/rebuild", post(group_rebuild))
        .route("/api/v2/groups/devices/reset", post(group_reset))
        .route(
            "/api/v2/service-providers/devices/rebuild",
            post(service_provider_rebuild),
        )
        .route(
            "/api/v2/service-providers/devices/reset",
            post(service_provider_reset),
        )
        .route("/api/v2/system/devices/rebuild", post(system_rebuild))
        .route("/api/v2/system/devices/reset", post(system_reset))
        .route("/api/v2/users/registration", get(user_registration))
        .route("/api/v2/users/registration/bulk", get(group_registration))
}

impl From<DeviceError> for ApiError {
    fn from(error: DeviceError) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error.details())
    }
}

/// The query parameters of a GET; empty values count as absent, the last of a repeated key wins.
fn query(uri: &Uri) -> Map<String, Value> {
    let mut found = Map::new();
    if let Some(text) = uri.query() {
        for (key, value) in form_urlencoded::parse(text.as_bytes()) {
            if !value.is_empty() {
                found.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    found
}

fn text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_owned)
}

// ---- what a user's read says about its device ----

/// The endpoint fields of `GET /users?userId=` for a user with a primary device.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Endpoint {
    endpoint_type: &'static str,
    access_device_endpoint: AccessDeviceEndpoint,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessDeviceEndpoint {
    access_device: AccessDevice,
    line_port: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessDevice {
    device_name: String,
    device_type: String,
    device_level: &'static str,
    use_custom_user_name_password: bool,
}

/// The user's primary device as an `accessDeviceEndpoint`, or `None` for a user without one.
pub(crate) fn endpoint(world: &World, user: usize) -> Option<Endpoint> {
    let primary = user_devices(world, user)
        .into_iter()
        .find(|device| device.primary)?;
    Some(Endpoint {
        endpoint_type: "accessDeviceEndpoint",
        access_device_endpoint: AccessDeviceEndpoint {
            access_device: AccessDevice {
                device_name: primary.device_name,
                device_type: primary.device_type,
                device_level: primary.device_level.as_str(),
                use_custom_user_name_password: primary.custom_credentials,
            },
            line_port: primary.line_port,
        },
    })
}

/// `GET /users/shared-call-appearance?userId=`: the devices where the user is a shared call
/// appearance (its primary device is not one of them).
async fn shared_call_appearances(
    State(state): State<SimState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let fields = query(&uri);
    let user_id = required_param(text(&fields, "userId"), "userId")?;
    let world = lock(&state.shared.world);
    let user = find_user(
        &world,
        &user_id,
        text(&fields, "serviceProviderId").as_deref(),
        text(&fields, "groupId").as_deref(),
    )?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Appearance<'a> {
        user_id: &'a str,
        is_active: bool,
        allow_origination: bool,
        allow_termination: bool,
        device_name: String,
        device_level: &'static str,
        line_port: String,
    }
    let answer: Vec<Appearance<'_>> = user_devices(&world, user)
        .into_iter()
        .filter(|device| !device.primary)
        .map(|device: UserDevice| Appearance {
            user_id: &user_id,
            is_active: true,
            allow_origination: true,
            allow_termination: true,
            device_name: device.device_name,
            device_level: device.device_level.as_str(),
            line_port: device.line_port,
        })
        .collect();
    Ok(ok(&answer))
}

/// `GET /groups/devices/users?serviceProviderId=&groupId=&deviceName=`: the users on one
/// group-level device, in line order.
async fn device_users(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    let fields = query(&uri);
    let device = DeviceRef {
        place: DevicePlace::Group {
            service_provider_id: required_param(
                text(&fields, "serviceProviderId"),
                "serviceProviderId",
            )?,
            group_id: required_param(text(&fields, "groupId"), "groupId")?,
        },
        device_name: required_param(text(&fields, "deviceName"), "deviceName")?,
    };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct OnDevice {
        user_id: String,
        first_name: String,
        last_name: String,
        line_port: String,
        endpoint_type: &'static str,
        primary_line_port: bool,
        order: usize,
    }
    let answer: Vec<OnDevice> = state
        .device_users(&device)?
        .into_iter()
        .map(|user| OnDevice {
            user_id: user.user_id,
            first_name: user.first_name,
            last_name: user.last_name,
            line_port: user.line_port,
            endpoint_type: if user.order == 1 {
                "Primary"
            } else {
                "Shared Call Appearance"
            },
            primary_line_port: user.order == 1,
            order: user.order,
        })
        .collect();
    Ok(ok(&answer))
}

// ---- rebuild and reset ----

#[derive(Clone, Copy)]
enum Action {
    Rebuild,
    Reset,
}

#[derive(Clone, Copy)]
enum Level {
    Group,
    ServiceProvider,
    System,
}

/// Reads the device a rebuild or reset body names at `level`, and applies `action` to it.
fn device_action(
    state: &SimState,
    body: &[u8],
    level: Level,
    action: Action,
) -> Result<Response, ApiError> {
    let body = body_object(body)?;
    let place = match level {
        Level::Group => DevicePlace::Group {
            service_provider_id: required_id(&body, "serviceProviderId")?,
            group_id: required_id(&body, "groupId")?,
        },
        Level::ServiceProvider => DevicePlace::ServiceProvider {
            service_provider_id: required_id(&body, "serviceProviderId")?,
        },
        Level::System => DevicePlace::System,
    };
    let device = DeviceRef {
        place,
        device_name: required_id(&body, "deviceName")?,
    };
    match action {
        Action::Rebuild => state.rebuild_device(&device)?,
        Action::Reset => state.reset_device(&device)?,
    }
    Ok(json_bytes(StatusCode::OK, b"[]".to_vec()))
}

async fn group_rebuild(State(state): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    device_action(&state, &body, Level::Group, Action::Rebuild)
}

async fn group_reset(State(state): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    device_action(&state, &body, Level::Group, Action::Reset)
}

async fn service_provider_rebuild(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    device_action(&state, &body, Level::ServiceProvider, Action::Rebuild)
}

async fn service_provider_reset(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    device_action(&state, &body, Level::ServiceProvider, Action::Reset)
}

async fn system_rebuild(State(state): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    device_action(&state, &body, Level::System, Action::Rebuild)
}

async fn system_reset(State(state): State<SimState>, body: Bytes) -> Result<Response, ApiError> {
    device_action(&state, &body, Level::System, Action::Reset)
}

// ---- registrations ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserRegistrations<'a> {
    user_id: &'a str,
    registrations: Vec<Registration>,
}

/// `GET /users/registration?userId=`.
async fn user_registration(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    let fields = query(&uri);
    let user_id = required_param(text(&fields, "userId"), "userId")?;
    let world = lock(&state.shared.world);
    let user = find_user(
        &world,
        &user_id,
        text(&fields, "serviceProviderId").as_deref(),
        text(&fields, "groupId").as_deref(),
    )?;
    Ok(ok(&UserRegistrations {
        user_id: &user_id,
        registrations: world.registrations_of(user),
    }))
}

/// `GET /users/registration/bulk?serviceProviderId=&groupId=`: every user of the group, in one
/// answer.
async fn group_registration(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    let fields = query(&uri);
    let sp = required_param(text(&fields, "serviceProviderId"), "serviceProviderId")?;
    let group = required_param(text(&fields, "groupId"), "groupId")?;
    let world = lock(&state.shared.world);
    let group_index = world
        .group(&sp, &group)
        .map_err(|error| scope_error(error, &sp, &group))?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Profile<'a> {
        user_id: &'a str,
        first_name: &'a str,
        last_name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        phone_number: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        extension: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Entry<'a> {
        profile: Profile<'a>,
        data: UserRegistrations<'a>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer<'a> {
        service_provider_id: &'a str,
        group_id: &'a str,
        users: Vec<Entry<'a>>,
    }
    let users = world.groups[group_index]
        .users
        .iter()
        .map(|&index| {
            let user = &world.users[index];
            Entry {
                profile: Profile {
                    user_id: &user.user_id,
                    first_name: &user.first_name,
                    last_name: &user.last_name,
                    phone_number: user.phone_number.as_deref(),
                    extension: user.extension.as_deref(),
                },
                data: UserRegistrations {
                    user_id: &user.user_id,
                    registrations: world.registrations_of(index),
                },
            }
        })
        .collect();
    Ok(ok(&Answer {
        service_provider_id: &sp,
        group_id: &group,
        users,
    }))
}

// ---- groups ----

/// `GET /groups?serviceProviderId=` (every group of the provider) or
/// `GET /groups?serviceProviderId=&groupId=` (one group).
async fn groups(State(state): State<SimState>, uri: Uri) -> Result<Response, ApiError> {
    let fields = query(&uri);
    let sp = required_param(text(&fields, "serviceProviderId"), "serviceProviderId")?;
    let world = lock(&state.shared.world);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct GroupAnswer<'a> {
        service_provider_id: &'a str,
        group_id: &'a str,
        group_name: &'a str,
        user_count: usize,
    }
    let describe = |index: usize| {
        let group = &world.groups[index];
        GroupAnswer {
            service_provider_id: &world.service_providers[group.service_provider]
                .service_provider_id,
            group_id: &group.group_id,
            group_name: &group.group_id,
            user_count: group.users.len(),
        }
    };
    if let Some(group) = text(&fields, "groupId") {
        let index = world
            .group(&sp, &group)
            .map_err(|error| scope_error(error, &sp, &group))?;
        return Ok(ok(&describe(index)));
    }
    let sp_index = *world
        .service_provider_index
        .get(&sp)
        .ok_or_else(|| ApiError::service_provider_not_found(&sp))?;
    // The provider's groups in world order (its own map is unordered).
    let answer: Vec<GroupAnswer<'_>> = (0..world.groups.len())
        .filter(|&index| world.groups[index].service_provider == sp_index)
        .map(describe)
        .collect();
    Ok(ok(&answer))
}

// ---- truth ----

/// `GET /_sim/devices`: every device with its counters, file state and registration.
pub(crate) async fn sim_devices(State(state): State<SimState>) -> Response {
    ok(&state.devices())
}
