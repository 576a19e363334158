//! The BroadWorks model: the fixture shape (`WorldSpec`) and the live world the handlers read and
//! change (service providers, groups, users, their services and three credentials each).

use std::collections::HashMap;

use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize};

use crate::devices::{self, DeviceSpec, Devices};
use crate::generate;
use crate::rules::{
    MAX_HISTORY, PasscodeRules, PasscodeRulesSpec, PasswordShape, SipPasswordRules,
    SipPasswordRulesSpec, WebPasswordRules, WebPasswordRulesSpec,
};
use crate::{Error, redact};

/// The service that a SIP password reset needs.
pub const AUTHENTICATION: &str = "Authentication";

/// The services a user gets when the fixture does not list them.
const DEFAULT_USER_SERVICES: [&str; 3] = [
    AUTHENTICATION,
    "Voice Messaging User",
    "Call Forwarding Always",
];
/// The services a group gets when the fixture does not list them.
const DEFAULT_GROUP_SERVICES: [&str; 3] = ["Voice Messaging Group", "Call Capacity", "Hunt Group"];

/// The world to load: the JSON fixture shape of `odin-sim --fixture`. Everything left out takes
/// a default (see docs/odin-api.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct WorldSpec {
    /// System-level SIP password rules (service providers may override them).
    pub sip_password_rules: SipPasswordRulesSpec,
    /// System-level passcode rules (groups may override them).
    pub passcode_rules: PasscodeRulesSpec,
    /// System-level web password rules (groups may override them).
    pub password_rules: WebPasswordRulesSpec,
    pub service_providers: Vec<ServiceProviderSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceProviderSpec {
    pub service_provider_id: String,
    #[serde(default)]
    pub sip_password_rules: SipPasswordRulesSpec,
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupSpec {
    pub group_id: String,
    #[serde(default)]
    pub passcode_rules: PasscodeRulesSpec,
    #[serde(default)]
    pub password_rules: WebPasswordRulesSpec,
    /// Services assigned to the group; left out: a few usual ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_services: Option<Vec<String>>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Devices declared in the group (see `crate::devices`); left out: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceSpec>,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserSpec {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone_number: Option<String>,
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub extension: Option<String>,
    /// Services assigned to the user; left out: Authentication and a few usual ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// The SIP authentication user name; left out: the part of the userId before `@` (for users
    /// with the Authentication service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_user_name: Option<SipUserName>,
    /// Current values; left out: generated ones that pass the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_passcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_password: Option<String>,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("UserSpec")
            .field("user_id", &self.user_id)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("phone_number", &self.phone_number)
            .field("extension", &self.extension)
            .field("services", &self.services)
            .field("sip_user_name", &self.sip_user_name)
            .field("sip_password", &redact(&self.sip_password))
            .field("portal_passcode", &redact(&self.portal_passcode))
            .field("web_password", &redact(&self.web_password))
            .finish()
    }
}

/// A SIP authentication user name. Odin has been seen answering it as a JSON number, so a
/// fixture can ask for that; the simulator then answers it the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SipUserName {
    Text(String),
    Number(u64),
}

impl SipUserName {
    pub fn as_text(&self) -> String {
        match self {
            SipUserName::Text(text) => text.clone(),
            SipUserName::Number(number) => number.to_string(),
        }
    }
}

/// Accepts `"1001"` or `1001` for fields such as extensions.
fn string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Text(String),
        Number(u64),
    }
    Ok(
        Option::<Loose>::deserialize(deserializer)?.map(|loose| match loose {
            Loose::Text(text) => text,
            Loose::Number(number) => number.to_string(),
        }),
    )
}

const FIRST_NAMES: [&str; 12] = [
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Dennis",
    "Edsger",
    "Frances",
    "Grace",
    "Hedy",
    "John",
    "Katherine",
    "Linus",
];
const LAST_NAMES: [&str; 12] = [
    "Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen", "Hopper", "Lamarr",
    "Backus", "Johnson", "Torvalds",
];

impl WorldSpec {
    /// One service provider, one group, `users` users `user0001@demo.example`, ... (at least four
    /// digits, zero-padded), all with the Authentication service, each with its own phone number
    /// and extension, a SIP user name equal to the userId's local part, and one group-level
    /// phone `phone-0001`, ... whose only line is that user.
    pub fn seeded(service_provider: &str, group: &str, users: usize) -> Self {
        let digits = users.to_string().len().max(4);
        let extension_digits = (users.to_string().len() + 1).max(4);
        let extension_base = 10usize.pow(u32::try_from(extension_digits - 1).unwrap_or(3));
        let users = (1..=users)
            .map(|number| {
                let local_part = format!("user{number:0digits$}");
                UserSpec {
                    user_id: format!("{local_part}@demo.example"),
                    first_name: Some(FIRST_NAMES[number % FIRST_NAMES.len()].to_owned()),
                    last_name: Some(
                        LAST_NAMES[(number / FIRST_NAMES.len()) % LAST_NAMES.len()].to_owned(),
                    ),
                    phone_number: Some(format!("+1-{}", 2_025_550_000u64 + number as u64)),
                    extension: Some((extension_base + number).to_string()),
                    services: None,
                    sip_user_name: Some(SipUserName::Text(local_part)),
                    sip_password: None,
                    portal_passcode: None,
                    web_password: None,
                }
            })
            .collect::<Vec<UserSpec>>();
        let devices = (1..=users.len())
            .zip(&users)
            .map(|(number, user)| {
                DeviceSpec::phone(format!("phone-{number:0digits$}"), &user.user_id)
            })
            .collect();
        WorldSpec {
            service_providers: vec![ServiceProviderSpec {
                service_provider_id: service_provider.to_owned(),
                sip_password_rules: SipPasswordRulesSpec::default(),
                groups: vec![GroupSpec {
                    group_id: group.to_owned(),
                    passcode_rules: PasscodeRulesSpec::default(),
                    password_rules: WebPasswordRulesSpec::default(),
                    group_services: None,
                    users,
                    devices,
                }],
            }],
            ..WorldSpec::default()
        }
    }

    /// `service_providers` service providers `sp1`, `sp2`, ..., each with `groups` groups
    /// `sp1-g1`, `sp1-g2`, ..., each with `users` users as [`WorldSpec::seeded`] makes them but
    /// named after their group (`sp1-g2-user0001@demo.example`, SIP user name
    /// `sp1-g2-user0001`), each with its own phone `phone-0001`, ... in its group. For runs that
    /// span groups.
    pub fn seeded_groups(service_providers: usize, groups: usize, users: usize) -> Self {
        let mut world = WorldSpec::default();
        for provider in 1..=service_providers {
            let service_provider_id = format!("sp{provider}");
            let mut spec = ServiceProviderSpec {
                service_provider_id: service_provider_id.clone(),
                ..ServiceProviderSpec::default()
            };
            for group in 1..=groups {
                let group_id = format!("{service_provider_id}-g{group}");
                let seeded = WorldSpec::seeded(&service_provider_id, &group_id, users);
                let mut seeded_group = seeded
                    .service_providers
                    .into_iter()
                    .flat_map(|provider| provider.groups)
                    .next()
                    .unwrap_or_default();
                for user in &mut seeded_group.users {
                    let local_part = format!(
                        "{group_id}-{}",
                        user.user_id.split('@').next().unwrap_or_default()
                    );
                    user.user_id = format!("{local_part}@demo.example");
                    user.sip_user_name = Some(SipUserName::Text(local_part));
                }
                seeded_group.devices = seeded_group
                    .users
                    .iter()
                    .zip(&seeded_group.devices)
                    .map(|(user, device)| {
                        DeviceSpec::phone(device.device_name.clone(), &user.user_id)
                    })
                    .collect();
                spec.groups.push(seeded_group);
            }
            world.service_providers.push(spec);
        }
        world
    }

    /// Parses and checks a fixture. The error says what is wrong and where.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let spec: WorldSpec = serde_json::from_str(text).map_err(|error| Error::InvalidWorld {
            message: error.to_string(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks ids and rules without building the world.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |message: String| Error::InvalidWorld { message };
        let system_sip = self
            .sip_password_rules
            .resolve(&SipPasswordRules::default());
        let system_passcode = self.passcode_rules.resolve(&PasscodeRules::default());
        let system_web = self.password_rules.resolve(&WebPasswordRules::default());
        system_sip
            .validate()
            .map_err(|message| invalid(format!("sipPasswordRules: {message}")))?;
        system_passcode
            .validate()
            .map_err(|message| invalid(format!("passcodeRules: {message}")))?;
        system_web
            .validate()
            .map_err(|message| invalid(format!("passwordRules: {message}")))?;
        check_combined(&system_web, &system_sip)
            .map_err(|message| invalid(format!("system rules: {message}")))?;
        let mut service_provider_ids = std::collections::HashSet::new();
        let mut user_ids = std::collections::HashSet::new();
        for service_provider in &self.service_providers {
            let sp_id = &service_provider.service_provider_id;
            if !is_valid_id(sp_id) {
                return Err(invalid(format!("invalid serviceProviderId `{sp_id}`")));
            }
            if !service_provider_ids.insert(sp_id.as_str()) {
                return Err(invalid(format!("duplicate serviceProviderId `{sp_id}`")));
            }
            let sip = service_provider.sip_password_rules.resolve(&system_sip);
            sip.validate()
                .map_err(|message| invalid(format!("{sp_id}: sipPasswordRules: {message}")))?;
            let mut group_ids = std::collections::HashSet::new();
            for group in &service_provider.groups {
                let group_id = &group.group_id;
                if !is_valid_id(group_id) {
                    return Err(invalid(format!("{sp_id}: invalid groupId `{group_id}`")));
                }
                if !group_ids.insert(group_id.as_str()) {
                    return Err(invalid(format!("{sp_id}: duplicate groupId `{group_id}`")));
                }
                let place = format!("{sp_id}/{group_id}");
                group
                    .passcode_rules
                    .resolve(&system_passcode)
                    .validate()
                    .map_err(|message| invalid(format!("{place}: passcodeRules: {message}")))?;
                let web = group.password_rules.resolve(&system_web);
                web.validate()
                    .map_err(|message| invalid(format!("{place}: passwordRules: {message}")))?;
                check_combined(&web, &sip)
                    .map_err(|message| invalid(format!("{place}: {message}")))?;
                for user in &group.users {
                    let user_id = &user.user_id;
                    if !is_valid_id(user_id) {
                        return Err(invalid(format!("{place}: invalid userId `{user_id}`")));
                    }
                    if !user_ids.insert(user_id.as_str()) {
                        return Err(invalid(format!("duplicate userId `{user_id}`")));
                    }
                }
            }
        }
        devices::validate(self).map_err(invalid)?;
        Ok(())
    }
}

/// `/password/generate` hands out values good for both the web and the SIP rules, so both must
/// admit at least one common password.
fn check_combined(web: &WebPasswordRules, sip: &SipPasswordRules) -> Result<(), String> {
    if web.shape().and(sip.shape()).is_satisfiable() {
        Ok(())
    } else {
        Err("the web password rules and the SIP password rules admit no common password".to_owned())
    }
}

fn is_valid_id(id: &str) -> bool {
    !id.trim().is_empty() && !id.chars().any(char::is_control)
}

/// One credential: its current value, the ones before it (newest last) and how many changes
/// were accepted.
#[derive(Clone, Default)]
pub(crate) struct Credential {
    pub current: Option<String>,
    pub previous: Vec<String>,
    pub changes: u64,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Credential")
            .field("current", &redact(&self.current))
            .field("previous", &self.previous.len())
            .field("changes", &self.changes)
            .finish()
    }
}

impl Credential {
    fn initial(value: Option<String>) -> Self {
        Credential {
            current: value,
            previous: Vec::new(),
            changes: 0,
        }
    }

    pub(crate) fn set(&mut self, value: String) {
        if let Some(old) = self.current.replace(value) {
            if self.previous.len() == MAX_HISTORY {
                self.previous.remove(0);
            }
            self.previous.push(old);
        }
        self.changes += 1;
    }

    /// The current value then the older ones, newest first.
    pub(crate) fn history(&self) -> Vec<&str> {
        self.current
            .iter()
            .chain(self.previous.iter().rev())
            .map(String::as_str)
            .collect()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
    pub extension: Option<String>,
    pub group: usize,
    pub services: Vec<String>,
    pub sip_user_name: Option<SipUserName>,
    /// How many times the SIP authentication user name was changed.
    pub sip_user_name_changes: u64,
    pub sip_password: Credential,
    pub portal_passcode: Credential,
    pub web_password: Credential,
}

impl User {
    pub(crate) fn has_service(&self, service: &str) -> bool {
        self.services.iter().any(|assigned| assigned == service)
    }

    /// Counts changes of either half of the SIP credential (the authentication user name, the
    /// password): a device's file holds the current pair when it was built at this count.
    pub(crate) fn sip_generation(&self) -> u64 {
        self.sip_password.changes + self.sip_user_name_changes
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub service_provider: usize,
    pub group_id: String,
    pub passcode_rules: PasscodeRules,
    pub web_rules: WebPasswordRules,
    pub group_services: Vec<String>,
    pub users: Vec<usize>,
}

#[derive(Clone, Debug)]
pub(crate) struct ServiceProvider {
    pub service_provider_id: String,
    pub sip_rules: SipPasswordRules,
    pub groups: HashMap<String, usize>,
}

/// The rules that apply where a generator was asked: a group, or the system when no group was
/// named.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScopeRules {
    pub sip: SipPasswordRules,
    pub passcode: PasscodeRules,
    pub web: WebPasswordRules,
}

/// Why a group could not be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ScopeError {
    UnknownServiceProvider,
    UnknownGroup,
}

/// The live world.
#[derive(Debug)]
pub(crate) struct World {
    pub system: ScopeRules,
    pub service_providers: Vec<ServiceProvider>,
    pub service_provider_index: HashMap<String, usize>,
    pub groups: Vec<Group>,
    pub users: Vec<User>,
    pub user_index: HashMap<String, usize>,
    /// How many users hold each SIP authentication user name (as text): names are unique
    /// across the system, so a change to a name held by another user is refused. A fixture may
    /// still give two users one name; the count keeps the check right then too.
    pub sip_user_names: HashMap<String, usize>,
    pub devices: Devices,
}

impl World {
    /// Builds the world from a checked spec; credentials the spec leaves out are generated with
    /// `rng` so that they pass the rules.
    pub(crate) fn build(spec: &WorldSpec, rng: &mut impl Rng) -> Result<World, Error> {
        spec.validate()?;
        let system = ScopeRules {
            sip: spec
                .sip_password_rules
                .resolve(&SipPasswordRules::default()),
            passcode: spec.passcode_rules.resolve(&PasscodeRules::default()),
            web: spec.password_rules.resolve(&WebPasswordRules::default()),
        };
        let mut world = World {
            system,
            service_providers: Vec::new(),
            service_provider_index: HashMap::new(),
            groups: Vec::new(),
            users: Vec::new(),
            user_index: HashMap::new(),
            sip_user_names: HashMap::new(),
            devices: Devices::default(),
        };
        for sp_spec in &spec.service_providers {
            let sp_index = world.service_providers.len();
            let sip_rules = sp_spec.sip_password_rules.resolve(&system.sip);
            let mut groups = HashMap::new();
            for group_spec in &sp_spec.groups {
                let group_index = world.groups.len();
                groups.insert(group_spec.group_id.clone(), group_index);
                let mut group = Group {
                    service_provider: sp_index,
                    group_id: group_spec.group_id.clone(),
                    passcode_rules: group_spec.passcode_rules.resolve(&system.passcode),
                    web_rules: group_spec.password_rules.resolve(&system.web),
                    group_services: group_spec.group_services.clone().unwrap_or_else(|| {
                        DEFAULT_GROUP_SERVICES
                            .iter()
                            .map(|&s| s.to_owned())
                            .collect()
                    }),
                    users: Vec::with_capacity(group_spec.users.len()),
                };
                for user_spec in &group_spec.users {
                    let user = build_user(user_spec, group_index, &group, &sip_rules, rng);
                    group.users.push(world.users.len());
                    world
                        .user_index
                        .insert(user.user_id.clone(), world.users.len());
                    if let Some(name) = &user.sip_user_name {
                        *world.sip_user_names.entry(name.as_text()).or_default() += 1;
                    }
                    world.users.push(user);
                }
                world.groups.push(group);
            }
            world
                .service_provider_index
                .insert(sp_spec.service_provider_id.clone(), sp_index);
            world.service_providers.push(ServiceProvider {
                service_provider_id: sp_spec.service_provider_id.clone(),
                sip_rules,
                groups,
            });
        }
        world.devices = Devices::build(spec, &world);
        Ok(world)
    }

    pub(crate) fn user(&self, user_id: &str) -> Option<usize> {
        self.user_index.get(user_id).copied()
    }

    pub(crate) fn group(
        &self,
        service_provider_id: &str,
        group_id: &str,
    ) -> Result<usize, ScopeError> {
        let sp = self
            .service_provider_index
            .get(service_provider_id)
            .ok_or(ScopeError::UnknownServiceProvider)?;
        self.service_providers[*sp]
            .groups
            .get(group_id)
            .copied()
            .ok_or(ScopeError::UnknownGroup)
    }

    pub(crate) fn group_rules(&self, group: usize) -> ScopeRules {
        let group = &self.groups[group];
        ScopeRules {
            sip: self.service_providers[group.service_provider].sip_rules,
            passcode: group.passcode_rules,
            web: group.web_rules,
        }
    }

    pub(crate) fn service_provider_id_of(&self, user: &User) -> &str {
        &self.service_providers[self.groups[user.group].service_provider].service_provider_id
    }

    pub(crate) fn group_id_of(&self, user: &User) -> &str {
        &self.groups[user.group].group_id
    }

    /// The SIP rules that apply to a user: those of the user's service provider.
    pub(crate) fn sip_rules_of(&self, user: &User) -> SipPasswordRules {
        self.service_providers[self.groups[user.group].service_provider].sip_rules
    }
}

fn build_user(
    spec: &UserSpec,
    group_index: usize,
    group: &Group,
    sip_rules: &SipPasswordRules,
    rng: &mut impl Rng,
) -> User {
    let services: Vec<String> = spec.services.clone().unwrap_or_else(|| {
        DEFAULT_USER_SERVICES
            .iter()
            .map(|&s| s.to_owned())
            .collect()
    });
    let has_authentication = services.iter().any(|service| service == AUTHENTICATION);
    let local_part = spec.user_id.split('@').next().unwrap_or(&spec.user_id);
    let sip_user_name = spec
        .sip_user_name
        .clone()
        .or_else(|| has_authentication.then(|| SipUserName::Text(local_part.to_owned())));
    let sip_password = spec.sip_password.clone().or_else(|| {
        has_authentication
            .then(|| generate::password(rng, &sip_rules.shape(), generate::SIP_PASSWORD_LENGTH))
    });
    let web_shape: PasswordShape = group.web_rules.shape();
    let web_password = spec
        .web_password
        .clone()
        .unwrap_or_else(|| generate::password(rng, &web_shape, generate::WEB_PASSWORD_LENGTH));
    let portal_passcode = spec
        .portal_passcode
        .clone()
        .unwrap_or_else(|| generate::passcode(rng, &group.passcode_rules));
    User {
        user_id: spec.user_id.clone(),
        first_name: spec.first_name.clone().unwrap_or_else(|| "Demo".to_owned()),
        last_name: spec
            .last_name
            .clone()
            .unwrap_or_else(|| local_part.to_owned()),
        phone_number: spec.phone_number.clone(),
        extension: spec.extension.clone(),
        group: group_index,
        services,
        sip_user_name,
        sip_user_name_changes: 0,
        sip_password: Credential::initial(sip_password),
        portal_passcode: Credential::initial(Some(portal_passcode)),
        web_password: Credential::initial(Some(web_password)),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn seeded_world_has_padded_ids_and_distinct_numbers() {
        let spec = WorldSpec::seeded("demo-sp", "demo-group", 12);
        let users = &spec.service_providers[0].groups[0].users;
        assert_eq!(users[0].user_id, "user0001@demo.example");
        assert_eq!(users[11].user_id, "user0012@demo.example");
        let extensions: std::collections::HashSet<_> =
            users.iter().map(|user| user.extension.clone()).collect();
        assert_eq!(extensions.len(), 12);
        let wide = WorldSpec::seeded("sp", "g", 12_345);
        assert_eq!(
            wide.service_providers[0].groups[0].users[0].user_id,
            "user00001@demo.example"
        );
    }

    #[test]
    fn fixture_defaults_and_errors() {
        let spec = WorldSpec::from_json(
            r#"{"serviceProviders": [{"serviceProviderId": "sp", "groups": [{"groupId": "g",
                "passcodeRules": {"minCodeLength": 6},
                "users": [{"userId": "a@x", "extension": 1001}, {"userId": "b@x", "services": []}]}]}]}"#,
        )
        .unwrap();
        let world = World::build(&spec, &mut StdRng::seed_from_u64(1)).unwrap();
        let a = &world.users[world.user("a@x").unwrap()];
        assert_eq!(a.extension.as_deref(), Some("1001"));
        assert!(a.has_service(AUTHENTICATION));
        assert_eq!(a.sip_user_name, Some(SipUserName::Text("a".to_owned())));
        assert!(a.sip_password.current.is_some());
        let b = &world.users[world.user("b@x").unwrap()];
        assert!(b.sip_user_name.is_none());
        assert!(b.sip_password.current.is_none());
        assert_eq!(world.groups[0].passcode_rules.min_code_length, 6);

        let bad = [
            r#"{"serviceProviders": [{"groups": []}]}"#,
            r#"{"serviceProvider": []}"#,
            r#"{"passcodeRules": {"minCodeLength": 1}}"#,
            r#"{"serviceProviders": [{"serviceProviderId": "sp", "groups": [{"groupId": "g",
                "users": [{"userId": "a"}, {"userId": "a"}]}]}]}"#,
            r#"{"serviceProviders": [{"serviceProviderId": "sp", "groups": [{"groupId": "g",
                "passwordRules": {"maxLength": 5}}]}]}"#,
        ];
        for text in bad {
            assert!(WorldSpec::from_json(text).is_err(), "{text}");
        }
    }

    #[test]
    fn credential_history_is_newest_first() {
        let mut credential = Credential::initial(Some("1".to_owned()));
        credential.set("2".to_owned());
        credential.set("3".to_owned());
        assert_eq!(credential.history(), ["3", "2", "1"]);
        assert_eq!(credential.changes, 2);
    }
}
