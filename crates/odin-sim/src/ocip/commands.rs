//! The OCI-P commands other than the session ones, over the same world as the REST front: user
//! lists, services, the three credential setters, generation, the rule reads, and the device
//! rebuild and reset commands and the registration list.

use std::fmt::Write as _;

use rand::Rng;
use rand::rngs::StdRng;

use super::Release;
use super::xml::{Element, field, flag, number, table};
use crate::devices::{DeviceError, DeviceLevel, DevicePlace, DeviceRef, user_devices};
use crate::faults::chance;
use crate::generate;
use crate::reply::ApiError;
use crate::rules::{PasscodeOwner, PasscodeRules, SipPasswordRules, WebPasswordRules};
use crate::state::{SimState, lock};
use crate::world::{AUTHENTICATION, ScopeError, ScopeRules, SipUserName, User, World};

/// What a command answers when it succeeds.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A data response: its type name and its children, already written.
    Data(String, String),
    Success,
}

/// A command refused: the `summary` of its ErrorResponse, and the status it is counted under in
/// `/_sim/stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub summary: String,
    pub status: u16,
}

impl Refusal {
    pub(crate) fn new(status: u16, summary: impl Into<String>) -> Self {
        Refusal {
            summary: summary.into(),
            status,
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::new(error.status.as_u16(), error.details)
    }
}

pub(crate) type Outcome = Result<Answer, Refusal>;

/// The commands this front answers once logged in, and the first release that has each.
const COMMANDS: &[(&str, Release)] = &[
    ("UserGetListInGroupRequest", Release::R21),
    ("GroupGetListInServiceProviderRequest", Release::R21),
    ("UserServiceGetAssignmentListRequest", Release::R21),
    ("UserAuthenticationGetRequest", Release::R21),
    ("UserAuthenticationModifyRequest", Release::R21),
    ("UserPortalPasscodeModifyRequest", Release::R21),
    ("UserPortalPasscodeGetInfoRequest", Release::R21),
    ("PasswordModifyRequest", Release::R21),
    ("PasswordGenerateRequest", Release::R24),
    ("GroupPasswordRulesGetRequest16", Release::R21),
    ("ServiceProviderPasswordRulesGetRequest16", Release::R21),
    ("SystemPasswordRulesGetRequest16", Release::R21),
    (
        "SystemSIPAuthenticationPasswordRulesGetRequest",
        Release::R21,
    ),
    (
        "ServiceProviderSIPAuthenticationPasswordRulesGetRequest",
        Release::R21,
    ),
    ("GroupPortalPasscodeRulesGetRequest19", Release::R21),
    (
        "ServiceProviderPortalPasscodeRulesGetRequest19",
        Release::R21,
    ),
    ("SystemPortalPasscodeRulesGetRequest19", Release::R21),
    ("UserPortalPasscodeRulesGetRequest", Release::R24),
    // Devices and registrations, over the same device model as the REST front. The service
    // provider and system `CPEConfig` counterparts are not recorded in the spec: not served.
    ("GroupCPEConfigRebuildDeviceConfigFileRequest", Release::R21),
    ("GroupCPEConfigResetDeviceRequest", Release::R21),
    ("GroupAccessDeviceResetRequest", Release::R21),
    ("UserAccessDeviceResetRequest", Release::R21),
    ("UserGetRegistrationListRequest", Release::R21),
    // The reads that find a user's devices (names and elements from the published schema).
    ("UserGetRequest22", Release::R24),
    ("UserSharedCallAppearanceGetRequest21sp1", Release::R21),
    ("GroupAccessDeviceGetRequest18sp1", Release::R21),
];

/// Whether `name` is a command of this front on `release` (session commands aside).
pub(crate) fn is_known(name: &str, release: Release) -> bool {
    COMMANDS
        .iter()
        .any(|(known, since)| *known == name && release >= *since)
}

/// The commands that change a credential, whose value an injected failure can quote.
pub(crate) const SETTERS: [(&str, &str); 3] = [
    ("UserAuthenticationModifyRequest", "newPassword"),
    ("UserPortalPasscodeModifyRequest", "newPasscode"),
    ("PasswordModifyRequest", "newPassword"),
];

/// Runs a known command (see [`is_known`]).
pub(crate) fn execute(state: &SimState, name: &str, body: &Element) -> Outcome {
    match name {
        "UserGetListInGroupRequest" => user_list(state, body),
        "GroupGetListInServiceProviderRequest" => group_list(state, body),
        "UserServiceGetAssignmentListRequest" => assigned_services(state, body),
        "UserAuthenticationGetRequest" => authentication(state, body),
        "UserAuthenticationModifyRequest" => modify_authentication(state, body),
        "UserPortalPasscodeModifyRequest" => modify_passcode(state, body),
        "UserPortalPasscodeGetInfoRequest" => passcode_info(state, body),
        "PasswordModifyRequest" => modify_password(state, body),
        "PasswordGenerateRequest" => generate_passwords(state, body),
        "GroupPasswordRulesGetRequest16"
        | "ServiceProviderPasswordRulesGetRequest16"
        | "SystemPasswordRulesGetRequest16" => web_rules(state, name, body),
        "SystemSIPAuthenticationPasswordRulesGetRequest"
        | "ServiceProviderSIPAuthenticationPasswordRulesGetRequest" => sip_rules(state, name, body),
        "GroupPortalPasscodeRulesGetRequest19"
        | "ServiceProviderPortalPasscodeRulesGetRequest19"
        | "SystemPortalPasscodeRulesGetRequest19"
        | "UserPortalPasscodeRulesGetRequest" => passcode_rules(state, name, body),
        "GroupCPEConfigRebuildDeviceConfigFileRequest" => {
            let device = group_device(body)?;
            state.rebuild_device(&device).map_err(device_refusal)?;
            Ok(Answer::Success)
        }
        "GroupCPEConfigResetDeviceRequest" | "GroupAccessDeviceResetRequest" => {
            let device = group_device(body)?;
            state.reset_device(&device).map_err(device_refusal)?;
            Ok(Answer::Success)
        }
        "UserAccessDeviceResetRequest" => user_device_reset(state, body),
        "UserGetRegistrationListRequest" => registration_list(state, body),
        "UserGetRequest22" => user_get(state, body),
        "UserSharedCallAppearanceGetRequest21sp1" => shared_call_appearances(state, body),
        "GroupAccessDeviceGetRequest18sp1" => group_device_get(state, body),
        _ => Err(unknown_command(name)),
    }
}

/// The answer to a command this front does not know (or not on this release).
pub(crate) fn unknown_command(name: &str) -> Refusal {
    Refusal::new(
        404,
        format!("[Error 4100] Unknown request type: {name} is not supported by this server"),
    )
}

fn required(body: &Element, name: &str) -> Result<String, Refusal> {
    body.token(name)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::missing_field(name).into())
}

/// A secret element: unescaped, then collapsed as an `xs:token`, but present even when empty
/// (so that the rules, not this front, refuse an empty value).
fn required_secret(body: &Element, name: &str) -> Result<String, Refusal> {
    body.token(name)
        .ok_or_else(|| ApiError::missing_field(name).into())
}

fn scope_error(error: ScopeError, service_provider_id: &str, group_id: &str) -> Refusal {
    match error {
        ScopeError::UnknownServiceProvider => {
            ApiError::service_provider_not_found(service_provider_id).into()
        }
        ScopeError::UnknownGroup => ApiError::group_not_found(service_provider_id, group_id).into(),
    }
}

fn world(state: &SimState) -> std::sync::MutexGuard<'_, World> {
    lock(&state.shared.world)
}

fn data(type_name: &str, children: String) -> Outcome {
    Ok(Answer::Data(type_name.to_owned(), children))
}

// ---- users and services ----

const USER_HEADINGS: [&str; 13] = [
    "User Id",
    "Last Name",
    "First Name",
    "Department",
    "Phone Number",
    "Phone Number Activated",
    "Email Address",
    "Hiragana Last Name",
    "Hiragana First Name",
    "In Trunk Group",
    "Extension",
    "Country Code",
    "National Prefix",
];

fn user_row(user: &User) -> Vec<String> {
    let phone = user.phone_number.clone().unwrap_or_default();
    // Numbers are written `+CC-number`; the country code is the part between `+` and `-`.
    let country_code = phone
        .strip_prefix('+')
        .and_then(|rest| rest.split_once('-'))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_default();
    vec![
        user.user_id.clone(),
        user.last_name.clone(),
        user.first_name.clone(),
        String::new(),
        phone.clone(),
        (!phone.is_empty()).to_string(),
        String::new(),
        user.last_name.clone(),
        user.first_name.clone(),
        "false".to_owned(),
        user.extension.clone().unwrap_or_default(),
        country_code,
        String::new(),
    ]
}

fn user_list(state: &SimState, body: &Element) -> Outcome {
    let service_provider_id = required(body, "serviceProviderId")?;
    let group_id = required(body, "GroupId")?;
    // An empty `<responseSizeLimit/>` counts as absent.
    let limit = match body
        .token("responseSizeLimit")
        .filter(|text| !text.is_empty())
    {
        None => usize::MAX,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if limit >= 1 => limit,
            _ => return Err(ApiError::invalid_value("responseSizeLimit").into()),
        },
    };
    let world = world(state);
    let group = world
        .group(&service_provider_id, &group_id)
        .map_err(|error| scope_error(error, &service_provider_id, &group_id))?;
    let rows: Vec<Vec<String>> = world.groups[group]
        .users
        .iter()
        .take(limit)
        .map(|&index| user_row(&world.users[index]))
        .collect();
    drop(world);
    let mut children = String::with_capacity(256 + rows.len() * 200);
    table(&mut children, "userTable", &USER_HEADINGS, &rows);
    data("UserGetListInGroupResponse", children)
}

/// The headings of `GroupGetListInServiceProviderResponse`'s `groupTable` (inferred from the
/// public schema).
const GROUP_HEADINGS: [&str; 3] = ["Group Id", "Group Name", "User Limit"];

/// `GroupGetListInServiceProviderRequest`: every group of a service provider, in world order;
/// `responseSizeLimit` and `searchCriteria…` are ignored.
fn group_list(state: &SimState, body: &Element) -> Outcome {
    let service_provider_id = required(body, "serviceProviderId")?;
    let world = world(state);
    let provider = *world
        .service_provider_index
        .get(&service_provider_id)
        .ok_or_else(|| ApiError::service_provider_not_found(&service_provider_id))?;
    let rows: Vec<Vec<String>> = world
        .groups
        .iter()
        .filter(|group| group.service_provider == provider)
        .map(|group| {
            vec![
                group.group_id.clone(),
                group.group_id.clone(),
                group.users.len().max(1000).to_string(),
            ]
        })
        .collect();
    drop(world);
    let mut children = String::with_capacity(128 + rows.len() * 64);
    table(&mut children, "groupTable", &GROUP_HEADINGS, &rows);
    data("GroupGetListInServiceProviderResponse", children)
}

/// The user services a listing shows: the usual ones, and whatever else the user has.
const LISTED_SERVICES: [&str; 3] = [
    AUTHENTICATION,
    "Voice Messaging User",
    "Call Forwarding Always",
];

fn assigned_services(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let world = world(state);
    let user = &world.users[world.existing_user(&user_id)?];
    let mut rows: Vec<Vec<String>> = LISTED_SERVICES
        .iter()
        .map(|service| vec![(*service).to_owned(), user.has_service(service).to_string()])
        .collect();
    for service in &user.services {
        if !LISTED_SERVICES.contains(&service.as_str()) {
            rows.push(vec![service.clone(), "true".to_owned()]);
        }
    }
    drop(world);
    let mut children = String::new();
    table(
        &mut children,
        "servicePacksAssignmentTable",
        &["Service Pack Name", "Assigned", "Description"],
        &[] as &[Vec<String>],
    );
    table(
        &mut children,
        "userServicesAssignmentTable",
        &["Service Name", "Assigned"],
        &rows,
    );
    data("UserServiceGetAssignmentListResponse", children)
}

// ---- credentials ----

fn authentication(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let world = world(state);
    let user = &world.users[world.existing_user(&user_id)?];
    if !user.has_service(AUTHENTICATION) {
        return Err(ApiError::service_not_assigned(AUTHENTICATION).into());
    }
    let mut children = String::new();
    if let Some(name) = &user.sip_user_name {
        field(&mut children, "userName", &name.as_text());
    }
    data("UserAuthenticationGetResponse", children)
}

fn modify_authentication(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let user_name = body.token("userName");
    let (password, old) = match (body.token("newPassword"), body.child("password")) {
        (Some(new), _) => (Some(new), None),
        (None, Some(pair)) => (
            Some(required_secret(pair, "new")?),
            Some(required_secret(pair, "old")?),
        ),
        (None, None) => (None, None),
    };
    let mut world = world(state);
    let index = world.existing_user(&user_id)?;
    world.change_sip_credentials(index, user_name, password, old.as_deref())?;
    Ok(Answer::Success)
}

fn modify_passcode(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    // `oldPasscode` is for XS mode; an AS ignores it.
    let passcode = required_secret(body, "newPasscode")?;
    let mut world = world(state);
    let index = world.existing_user(&user_id)?;
    world.change_portal_passcode(index, passcode)?;
    Ok(Answer::Success)
}

fn modify_password(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let password = required_secret(body, "newPassword")?;
    let mut world = world(state);
    let index = world.existing_user(&user_id)?;
    if let Some(old) = body.token("oldPassword")
        && world.users[index].web_password.current.as_deref() != Some(old.as_str())
    {
        return Err(Refusal::new(400, "[Error 4512] Invalid old password"));
    }
    world.change_web_password(index, password)?;
    Ok(Answer::Success)
}

fn passcode_info(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let world = world(state);
    let user = &world.users[world.existing_user(&user_id)?];
    let mut children = String::new();
    flag(&mut children, "isLoginDisabled", false);
    children.push_str("<doesNotExpire>true</doesNotExpire>");
    field(
        &mut children,
        "passcode",
        user.portal_passcode.current.as_deref().unwrap_or_default(),
    );
    data("UserPortalPasscodeGetInfoResponse", children)
}

// ---- generation ----

/// What a generated value must avoid for one user of the group: their name and history.
struct UserContext {
    user_id: String,
    sip_user_name: Option<String>,
    sip_password: Option<String>,
    phone_number: Option<String>,
    extension: Option<String>,
    passcodes: Vec<String>,
}

/// How many times a generator draws again when a value breaks a rule about the user.
const ATTEMPTS: usize = 50;

fn generate_passwords(state: &SimState, body: &Element) -> Outcome {
    let mut children = String::new();
    let Some(request) = body.child("userPassword") else {
        // Only the user part is simulated; the administrator and device parts get nothing.
        return data("PasswordGenerateResponse", children);
    };
    let service_provider_id = required(request, "serviceProviderId")?;
    let group_id = required(request, "groupId")?;
    let wanted = |name: &str| request.token(name).as_deref() == Some("true");
    let (rules, user) = {
        let world = world(state);
        let group = world
            .group(&service_provider_id, &group_id)
            .map_err(|error| scope_error(error, &service_provider_id, &group_id))?;
        // Without a userId, or for a user outside the group, only new-user rules apply.
        let user = request
            .token("userId")
            .and_then(|user_id| world.user(&user_id))
            .map(|index| &world.users[index])
            .filter(|user| user.group == group)
            .map(|user| UserContext {
                user_id: user.user_id.clone(),
                sip_user_name: user.sip_user_name.as_ref().map(SipUserName::as_text),
                sip_password: user.sip_password.current.clone(),
                phone_number: user.phone_number.clone(),
                extension: user.extension.clone(),
                passcodes: user
                    .portal_passcode
                    .history()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            });
        (world.group_rules(group), user)
    };
    let faults = state.shared.faults.snapshot();
    let mut source = lock(&state.shared.values);
    let rng = &mut source.rng;
    let mut values: Vec<(&str, String)> = Vec::new();
    if wanted("generatePassword") {
        values.push(("userPassword", web_password(rng, &rules.web, user.as_ref())));
    }
    if wanted("generatePasscode") {
        values.push((
            "userPasscode",
            passcode(rng, &rules.passcode, user.as_ref()),
        ));
    }
    if wanted("generateSipPassword") {
        values.push((
            "userSIPAuthenticationPassword",
            sip_password(rng, &rules.sip, user.as_ref()),
        ));
    }
    if let Some(faults) = faults {
        for (name, value) in &mut values {
            if chance(rng, faults.bad_value_rate) {
                *value = bad_value(rng, name, &rules);
            }
            if chance(rng, faults.control_char_rate) {
                value.insert(value.len() / 2, '\t');
            }
            if chance(rng, faults.empty_value_rate) {
                value.clear();
            }
        }
    }
    drop(source);
    for (name, value) in &values {
        field(&mut children, name, value);
    }
    data("PasswordGenerateResponse", children)
}

fn web_password(rng: &mut StdRng, rules: &WebPasswordRules, user: Option<&UserContext>) -> String {
    let shape = rules.shape();
    let mut value = generate::password(rng, &shape, generate::WEB_PASSWORD_LENGTH);
    for _ in 0..ATTEMPTS {
        let Some(user) = user else { break };
        if rules.check(&value, &user.user_id).is_ok() {
            break;
        }
        value = generate::password(rng, &shape, generate::WEB_PASSWORD_LENGTH);
    }
    value
}

fn sip_password(rng: &mut StdRng, rules: &SipPasswordRules, user: Option<&UserContext>) -> String {
    let shape = rules.shape();
    let mut value = generate::password(rng, &shape, generate::SIP_PASSWORD_LENGTH);
    for _ in 0..ATTEMPTS {
        let Some(user) = user else { break };
        let fits = rules.check(
            &value,
            user.sip_user_name.as_deref(),
            user.sip_password.as_deref(),
        );
        if fits.is_ok() {
            break;
        }
        value = generate::password(rng, &shape, generate::SIP_PASSWORD_LENGTH);
    }
    value
}

fn passcode(rng: &mut StdRng, rules: &PasscodeRules, user: Option<&UserContext>) -> String {
    let mut value = generate::passcode(rng, rules);
    for _ in 0..ATTEMPTS {
        let Some(user) = user else { break };
        let history: Vec<&str> = user.passcodes.iter().map(String::as_str).collect();
        let owner = PasscodeOwner {
            phone_number: user.phone_number.as_deref(),
            extension: user.extension.as_deref(),
            history: &history,
        };
        if rules.check(&value, &owner).is_ok() {
            break;
        }
        value = generate::passcode(rng, rules);
    }
    value
}

fn bad_value(rng: &mut impl Rng, name: &str, rules: &ScopeRules) -> String {
    match name {
        "userPasscode" => generate::bad_passcode(rng, &rules.passcode),
        "userSIPAuthenticationPassword" => generate::bad_password(rng, &[rules.sip.shape()]),
        _ => generate::bad_password(rng, &[rules.web.shape()]),
    }
}

// ---- rule reads ----

/// A count for a `min…` field: present even when its rule is off, within the schema's 1-10.
fn count(value: usize) -> usize {
    value.clamp(1, 10)
}

fn character_rules(out: &mut String, shape: crate::rules::PasswordShape) {
    for (restrict, min, value) in [
        ("restrictMinDigits", "minDigits", shape.min_digits),
        (
            "restrictMinUpperCaseLetters",
            "minUpperCaseLetters",
            shape.min_upper_case,
        ),
        (
            "restrictMinLowerCaseLetters",
            "minLowerCaseLetters",
            shape.min_lower_case,
        ),
        (
            "restrictMinNonAlphanumericCharacters",
            "minNonAlphanumericCharacters",
            shape.min_non_alphanumeric,
        ),
    ] {
        flag(out, restrict, value > 0);
        number(out, min, count(value));
    }
    number(out, "minLength", shape.min_length.clamp(3, 40));
}

fn group_of(state: &SimState, body: &Element) -> Result<ScopeRules, Refusal> {
    let service_provider_id = required(body, "serviceProviderId")?;
    let group_id = required(body, "groupId")?;
    let world = world(state);
    let group = world
        .group(&service_provider_id, &group_id)
        .map_err(|error| scope_error(error, &service_provider_id, &group_id))?;
    Ok(world.group_rules(group))
}

fn service_provider_sip_rules(
    state: &SimState,
    body: &Element,
) -> Result<SipPasswordRules, Refusal> {
    let service_provider_id = required(body, "serviceProviderId")?;
    let world = world(state);
    let index = world
        .service_provider_index
        .get(&service_provider_id)
        .ok_or_else(|| Refusal::from(ApiError::service_provider_not_found(&service_provider_id)))?;
    Ok(world.service_providers[*index].sip_rules)
}

fn web_rules(state: &SimState, name: &str, body: &Element) -> Outcome {
    let mut children = String::new();
    let rules = if name.starts_with("Group") {
        group_of(state, body)?.web
    } else {
        if name.starts_with("ServiceProvider") {
            // Validates the service provider; web rules live at system and group level here.
            service_provider_sip_rules(state, body)?;
        }
        field(&mut children, "rulesApplyTo", "Administrator and User");
        flag(
            &mut children,
            "allowWebAddExternalAuthenticationUsers",
            false,
        );
        world(state).system.web
    };
    flag(&mut children, "disallowUserId", rules.disallow_user_id);
    flag(&mut children, "disallowOldPassword", false);
    flag(&mut children, "disallowReversedOldPassword", false);
    character_rules(&mut children, rules.shape());
    number(&mut children, "maxFailedLoginAttempts", 0);
    number(&mut children, "passwordExpiresDays", 0);
    flag(&mut children, "sendLoginDisabledNotifyEmail", false);
    flag(&mut children, "disallowRulesModification", false);
    flag(&mut children, "disallowPreviousPasswords", false);
    number(&mut children, "numberOfPreviousPasswords", 1);
    data(&name.replace("Request16", "Response16"), children)
}

fn sip_rules(state: &SimState, name: &str, body: &Element) -> Outcome {
    let mut children = String::new();
    let service_provider = name.starts_with("ServiceProvider");
    let rules = if service_provider {
        // The simulator applies a service provider's own SIP rules to its users.
        flag(&mut children, "useServiceProviderSettings", true);
        service_provider_sip_rules(state, body)?
    } else {
        world(state).system.sip
    };
    flag(
        &mut children,
        "disallowAuthenticationName",
        rules.disallow_user_name,
    );
    flag(
        &mut children,
        "disallowOldPassword",
        rules.disallow_old_password,
    );
    flag(
        &mut children,
        "disallowReversedOldPassword",
        rules.disallow_reversed_old_password,
    );
    character_rules(&mut children, rules.shape());
    flag(&mut children, "sendPermanentLockoutNotification", false);
    for prefix in ["endpoint", "trunkGroup"] {
        let lockout_type = format!("{prefix}AuthenticationLockoutType");
        let threshold = format!("{prefix}TemporaryLockoutThreshold");
        // The service provider form lists the trunk group threshold before its type.
        if service_provider && prefix == "trunkGroup" {
            number(&mut children, &threshold, 3);
            field(&mut children, &lockout_type, "None");
        } else {
            field(&mut children, &lockout_type, "None");
            number(&mut children, &threshold, 3);
        }
        let _ = write!(
            children,
            "<{prefix}WaitAlgorithm>Double</{prefix}WaitAlgorithm>\
             <{prefix}LockoutFixedMinutes>5</{prefix}LockoutFixedMinutes>\
             <{prefix}PermanentLockoutThreshold>10</{prefix}PermanentLockoutThreshold>"
        );
    }
    data(&name.replace("Request", "Response"), children)
}

fn passcode_rules(state: &SimState, name: &str, body: &Element) -> Outcome {
    let mut children = String::new();
    let rules = match name {
        "GroupPortalPasscodeRulesGetRequest19" => {
            let rules = group_of(state, body)?.passcode;
            field(&mut children, "useRuleLevel", "Group");
            rules
        }
        "UserPortalPasscodeRulesGetRequest" => match body.token("userId") {
            Some(user_id) => {
                let world = world(state);
                let user = &world.users[world.existing_user(&user_id)?];
                world.groups[user.group].passcode_rules
            }
            None => group_of(state, body)?.passcode,
        },
        "ServiceProviderPortalPasscodeRulesGetRequest19" => {
            service_provider_sip_rules(state, body)?;
            world(state).system.passcode
        }
        _ => world(state).system.passcode,
    };
    flag(
        &mut children,
        "disallowRepeatedDigits",
        rules.max_repeated_digits > 0,
    );
    number(
        &mut children,
        "numberOfRepeatedDigits",
        rules.max_repeated_digits.clamp(1, 6),
    );
    flag(
        &mut children,
        "disallowRepeatedPatterns",
        rules.disallow_repeated_patterns,
    );
    flag(
        &mut children,
        "disallowContiguousSequences",
        rules.max_sequence_length > 0,
    );
    let sequence = rules.max_sequence_length.clamp(2, 5);
    number(&mut children, "numberOfAscendingDigits", sequence);
    number(&mut children, "numberOfDescendingDigits", sequence);
    flag(
        &mut children,
        "disallowUserNumber",
        rules.disallow_user_number,
    );
    flag(
        &mut children,
        "disallowReversedUserNumber",
        rules.disallow_user_number,
    );
    flag(
        &mut children,
        "disallowOldPasscode",
        rules.disallow_last_passcodes > 0,
    );
    number(
        &mut children,
        "numberOfPreviousPasscodes",
        count(rules.disallow_last_passcodes),
    );
    flag(
        &mut children,
        "disallowReversedOldPasscode",
        rules.disallow_reversed_old_passcode,
    );
    number(&mut children, "minCodeLength", rules.min_code_length);
    number(&mut children, "maxCodeLength", rules.max_code_length);
    flag(
        &mut children,
        "disableLoginAfterMaxFailedLoginAttempts",
        false,
    );
    flag(&mut children, "expirePassword", false);
    flag(&mut children, "sendLoginDisabledNotifyEmail", false);
    if name == "SystemPortalPasscodeRulesGetRequest19" {
        // The system default passcode for new users: a fixed value, nobody's credential.
        field(&mut children, "defaultPassword", "246813");
    }
    let response = match name.strip_suffix("19") {
        Some(stem) => format!("{}19", stem.replace("Request", "Response")),
        None => name.replace("Request", "Response"),
    };
    data(&response, children)
}

// ---- devices and registrations ----

fn device_refusal(error: DeviceError) -> Refusal {
    ApiError::from(error).into()
}

/// The group device a `Group…` device command names.
fn group_device(body: &Element) -> Result<DeviceRef, Refusal> {
    Ok(DeviceRef {
        place: DevicePlace::Group {
            service_provider_id: required(body, "serviceProviderId")?,
            group_id: required(body, "groupId")?,
        },
        device_name: required(body, "deviceName")?,
    })
}

/// `UserAccessDeviceResetRequest`: the device is named by level and name among the devices that
/// carry the user (its place is the user's for `Group` and `Service Provider` devices).
fn user_device_reset(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let access_device = body
        .child("accessDevice")
        .ok_or_else(|| Refusal::from(ApiError::missing_field("accessDevice")))?;
    let level = required(access_device, "deviceLevel")?;
    let device_name = required(access_device, "deviceName")?;
    let level = match level.as_str() {
        "Group" => DeviceLevel::Group,
        "Service Provider" => DeviceLevel::ServiceProvider,
        "System" => DeviceLevel::System,
        _ => return Err(ApiError::invalid_value("deviceLevel").into()),
    };
    let devices = state.devices_of_user(&user_id).map_err(device_refusal)?;
    let found = devices
        .into_iter()
        .find(|device| device.device_level == level && device.device_name == device_name)
        .ok_or_else(|| {
            device_refusal(DeviceError::UnknownDevice {
                device_name: device_name.clone(),
                place: format!("the devices of {user_id}"),
            })
        })?;
    let place = match (level, found.service_provider_id, found.group_id) {
        (DeviceLevel::Group, Some(service_provider_id), Some(group_id)) => DevicePlace::Group {
            service_provider_id,
            group_id,
        },
        (DeviceLevel::ServiceProvider, Some(service_provider_id), _) => {
            DevicePlace::ServiceProvider {
                service_provider_id,
            }
        }
        _ => DevicePlace::System,
    };
    state
        .reset_device(&DeviceRef { place, device_name })
        .map_err(device_refusal)?;
    Ok(Answer::Success)
}

const REGISTRATION_HEADINGS: [&str; 8] = [
    "Device Level",
    "Device Name",
    "Order",
    "URI",
    "Expiration",
    "Line/Port",
    "Endpoint Type",
    "User Agent",
];

/// `UserGetRegistrationListRequest`: the user's registrations as a `registrationTable` (no
/// rows: not registered).
fn registration_list(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let registrations = state.user_registrations(&user_id).map_err(device_refusal)?;
    let rows: Vec<Vec<String>> = registrations
        .into_iter()
        .map(|registration| {
            vec![
                registration.device_level.to_owned(),
                registration.device_name,
                registration.order.to_string(),
                registration.uri,
                registration.expiration,
                registration.line_port,
                registration.endpoint_type.to_owned(),
                registration.user_agent,
            ]
        })
        .collect();
    let mut children = String::new();
    table(
        &mut children,
        "registrationTable",
        &REGISTRATION_HEADINGS,
        &rows,
    );
    data("UserGetRegistrationListResponse", children)
}

// ---- finding a user's devices ----

/// `UserGetRequest22`: the user, with its primary device as `accessDeviceEndpoint`. The
/// response's required elements are all written (a schema-checking client rejects a reply
/// without them); what the simulator has no model for is constant **(sim)**.
fn user_get(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let world = world(state);
    let index = world.existing_user(&user_id)?;
    let user = &world.users[index];
    let group = &world.groups[user.group];
    let service_provider_id = &world.service_providers[group.service_provider].service_provider_id;
    let mut children = String::with_capacity(1024);
    field(&mut children, "serviceProviderId", service_provider_id);
    field(&mut children, "groupId", &group.group_id);
    field(&mut children, "userId", &user.user_id);
    field(&mut children, "lastName", &user.last_name);
    field(&mut children, "firstName", &user.first_name);
    field(&mut children, "callingLineIdLastName", &user.last_name);
    field(&mut children, "callingLineIdFirstName", &user.first_name);
    field(&mut children, "hiraganaLastName", &user.last_name);
    field(&mut children, "hiraganaFirstName", &user.first_name);
    if let Some(phone_number) = &user.phone_number {
        field(&mut children, "phoneNumber", phone_number);
    }
    if let Some(extension) = &user.extension {
        field(&mut children, "extension", extension);
    }
    field(&mut children, "language", "English");
    field(&mut children, "timeZone", "America/New_York");
    field(
        &mut children,
        "timeZoneDisplayName",
        "(GMT-05:00) (US) Eastern Time",
    );
    field(&mut children, "defaultAlias", &user.user_id);
    if let Some(primary) = user_devices(&world, index)
        .into_iter()
        .find(|device| device.primary)
    {
        children.push_str("<accessDeviceEndpoint><accessDevice>");
        field(&mut children, "deviceLevel", primary.device_level.as_str());
        field(&mut children, "deviceName", &primary.device_name);
        children.push_str("</accessDevice>");
        field(&mut children, "linePort", &primary.line_port);
        flag(&mut children, "staticRegistrationCapable", false);
        flag(&mut children, "useDomain", true);
        flag(&mut children, "supportVisualDeviceManagement", false);
        children.push_str("</accessDeviceEndpoint>");
    }
    let country_code = user
        .phone_number
        .as_deref()
        .and_then(|phone| phone.strip_prefix('+'))
        .and_then(|rest| rest.split_once('-'))
        .map_or("1", |(code, _)| code);
    field(&mut children, "countryCode", country_code);
    drop(world);
    data("UserGetResponse22", children)
}

const APPEARANCE_HEADINGS: [&str; 12] = [
    "Device Level",
    "Device Name",
    "Device Type",
    "Line/Port",
    "SIP Contact",
    "Port Number",
    "Device Support Visual Device Management",
    "Is Active",
    "Allow Origination",
    "Allow Termination",
    "Mac Address",
    "Path Header",
];

/// `UserSharedCallAppearanceGetRequest21sp1`: the settings (constant **(sim)**) and the
/// `endpointTable` of the devices where the user is a shared call appearance.
fn shared_call_appearances(state: &SimState, body: &Element) -> Outcome {
    let user_id = required(body, "userId")?;
    let world = world(state);
    let index = world.existing_user(&user_id)?;
    let rows: Vec<Vec<String>> = user_devices(&world, index)
        .into_iter()
        .filter(|device| !device.primary)
        .map(|device| {
            vec![
                device.device_level.as_str().to_owned(),
                device.device_name,
                device.device_type,
                device.line_port,
                String::new(),
                String::new(),
                "false".to_owned(),
                "true".to_owned(),
                "true".to_owned(),
                "true".to_owned(),
                String::new(),
                String::new(),
            ]
        })
        .collect();
    drop(world);
    let mut children = String::new();
    flag(
        &mut children,
        "alertAllAppearancesForClickToDialCalls",
        false,
    );
    flag(
        &mut children,
        "alertAllAppearancesForGroupPagingCalls",
        false,
    );
    number(&mut children, "maxAppearances", 35);
    flag(&mut children, "allowSCACallRetrieve", false);
    flag(&mut children, "enableMultipleCallArrangement", false);
    flag(&mut children, "multipleCallArrangementIsActive", false);
    table(&mut children, "endpointTable", &APPEARANCE_HEADINGS, &rows);
    flag(&mut children, "allowBridgingBetweenLocations", false);
    field(&mut children, "bridgeWarningTone", "None");
    flag(&mut children, "enableCallParkNotification", false);
    data("UserSharedCallAppearanceGetResponse21sp1", children)
}

/// `GroupAccessDeviceGetRequest18sp1`: a group device's type, ports and whether it uses
/// credentials of its own; the rest constant **(sim)**.
fn group_device_get(state: &SimState, body: &Element) -> Outcome {
    let device = group_device(body)?;
    let world = world(state);
    let index = world.find_device(&device).map_err(device_refusal)?;
    let device = &world.devices.list[index];
    let mut children = String::new();
    field(&mut children, "deviceType", &device.device_type);
    field(&mut children, "protocol", "SIP 2.0");
    children.push_str("<numberOfPorts><unlimited>true</unlimited></numberOfPorts>");
    number(&mut children, "numberOfAssignedPorts", device.lines.len());
    field(&mut children, "status", "Online");
    field(&mut children, "transportProtocol", "Unspecified");
    flag(
        &mut children,
        "useCustomUserNamePassword",
        device.custom_credentials,
    );
    drop(world);
    data("GroupAccessDeviceGetResponse18sp1", children)
}
