//! `--new-user-names` and `--user-name-template` (config file keys `new_user_names` and
//! `user_name_template`): whether a SIP reset gives each user a new SIP authentication user
//! name, and from which template, decided and checked before anything changes.

use std::path::Path;

use bwreset_core::{
    DeviceReport, DeviceResult, JournalReport, PasswordType, Targets, UserNameTemplate,
};

use crate::errors::Failure;
use crate::settings::FileSettings;

/// What the flags say about new user names.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserNameArgs<'a> {
    /// `--new-user-names` (`Some(true)`), `--no-new-user-names` (`Some(false)`; the last of the
    /// two given wins), or neither (`None`: the config file decides).
    pub new_user_names: Option<bool>,
    pub template: Option<&'a str>,
}

/// The template of a reset's new user names, or `None` for a reset of the password alone. The
/// flags beat the config file, whose keys apply to SIP resets only (as `devices` does). Refused
/// (exit 2): `--new-user-names` for a type other than SIP, `--user-name-template` without new
/// user names, a template that cannot be used, and a listed user whose ID makes no valid name.
pub(crate) fn for_reset(
    arguments: &UserNameArgs<'_>,
    file: &FileSettings,
    password_type: PasswordType,
    targets: &Targets,
) -> Result<Option<UserNameTemplate>, Failure> {
    let sip = password_type == PasswordType::Sip;
    if arguments.new_user_names == Some(true) && !sip {
        return Err(Failure::usage(format!(
            "`--new-user-names` is for SIP resets only: a {password_type} credential has no user name"
        ))
        .with_hint("leave out `--new-user-names`, or reset with `--type sip`"));
    }
    let wanted = arguments
        .new_user_names
        .unwrap_or(sip && file.new_user_names == Some(true));
    if !wanted {
        if arguments.template.is_some() {
            return Err(Failure::usage(
                "`--user-name-template` is given without `--new-user-names`",
            )
            .with_hint(
                "add `--new-user-names` to give the users new SIP user names, or leave out `--user-name-template`",
            ));
        }
        return Ok(None);
    }
    let (text, source) = match (arguments.template, file.user_name_template.as_deref()) {
        (Some(text), _) => (text, "`--user-name-template`"),
        (None, Some(text)) => (text, "the config file's `user_name_template`"),
        (None, None) => return Ok(Some(UserNameTemplate::default())),
    };
    let template = UserNameTemplate::parse(text)
        .map_err(|error| Failure::usage(format!("{source}: {error}")).with_hint(TEMPLATE_HINT))?;
    if let Targets::Users {
        users: user_ids, ..
    } = targets
    {
        for user_id in user_ids.iter() {
            template.check_user_id(user_id).map_err(|error| {
                Failure::usage(format!("{source}: {error}")).with_hint(TEMPLATE_HINT)
            })?;
        }
    }
    Ok(Some(template))
}

const TEMPLATE_HINT: &str = "a template holds one `{random}` (12 lowercase letters and digits) or `{random:N}` (N of them, at least 8), and may add `{local}` and `{domain}` (the user ID's parts) and letters, digits, `.`, `-` and `_`; names have at most 80 characters";

/// The words of the confirmation and the summary: what new user names do to the phones.
pub(crate) fn phones_warning(template: &str) -> String {
    format!(
        "new SIP user names from `{template}`: every phone of these users stops registering until its configuration is rebuilt and it is reset"
    )
}

/// Whether a run gave users new names and their phones were not all rebuilt and reset after
/// (no phone follow-up, or `--devices rebuild` only): those phones stop registering, so the job
/// is not done (exit 1).
pub(crate) fn phones_left_behind(report: &JournalReport, devices: Option<&DeviceReport>) -> bool {
    report.gives_new_user_names()
        && report.counts().set > 0
        && devices.is_none_or(|devices| devices.count(DeviceResult::Rebuilt) > 0)
}

/// The summary's words about new user names, when phones were left behind
/// ([`phones_left_behind`]): what new names do to the phones, that the job is not done and how
/// to finish it. Nothing once the phones were rebuilt and reset (the devices line tells how
/// they came back).
pub(crate) fn summary_lines(
    report: &JournalReport,
    devices: Option<&DeviceReport>,
    journal: &Path,
    resumable: bool,
) -> String {
    if !phones_left_behind(report, devices) {
        return String::new();
    }
    let mut text = "new SIP user names: every phone of these users stops registering until its configuration is rebuilt and it is reset\n".to_owned();
    text.push_str(if devices.is_none() {
        "the job is not done: the phones were not rebuilt and reset\n"
    } else {
        "the job is not done: the phones were rebuilt, not reset\n"
    });
    if resumable {
        text.push_str(&format!(
            "hint: finish it with `bwreset resume --journal {} --devices reset`\n",
            journal.display()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(ids: &[&str]) -> Targets {
        Targets::Users {
            group: bwreset_core::GroupRef::new("sp", "g"),
            users: ids.iter().copied().collect(),
        }
    }

    fn chosen(
        new_user_names: Option<bool>,
        template: Option<&str>,
        file: &FileSettings,
        password_type: PasswordType,
    ) -> Result<Option<String>, String> {
        for_reset(
            &UserNameArgs {
                new_user_names,
                template,
            },
            file,
            password_type,
            &users(&["ann@x.example"]),
        )
        .map(|template| template.map(|template| template.to_string()))
        .map_err(|failure| format!("{failure:?}"))
    }

    #[test]
    fn the_flags_beat_the_config_file_whose_keys_apply_to_sip_only() {
        let none = FileSettings::default();
        assert_eq!(chosen(None, None, &none, PasswordType::Sip), Ok(None));
        assert_eq!(
            chosen(Some(true), None, &none, PasswordType::Sip),
            Ok(Some("{random}".into()))
        );
        assert_eq!(
            chosen(
                Some(true),
                Some("{local}-{random:8}"),
                &none,
                PasswordType::Sip
            ),
            Ok(Some("{local}-{random:8}".into()))
        );
        let mut file = FileSettings::default();
        file.new_user_names = Some(true);
        file.user_name_template = Some("sip-{random:9}".into());
        assert_eq!(
            chosen(None, None, &file, PasswordType::Sip),
            Ok(Some("sip-{random:9}".into()))
        );
        assert_eq!(
            chosen(None, Some("{random:10}"), &file, PasswordType::Sip),
            Ok(Some("{random:10}".into()))
        );
        // The file's keys do not turn a voicemail reset into one with names.
        assert_eq!(chosen(None, None, &file, PasswordType::Vm), Ok(None));
        // `--no-new-user-names` switches the file's key off (its template is then unused), but
        // a template given with it is refused.
        assert_eq!(
            chosen(Some(false), None, &file, PasswordType::Sip),
            Ok(None)
        );
        assert!(
            chosen(Some(false), Some("{random}"), &file, PasswordType::Sip)
                .is_err_and(|refusal| refusal.contains("without `--new-user-names`"))
        );
    }

    #[test]
    fn bad_requests_are_refused_with_what_to_do() {
        let none = FileSettings::default();
        for (new_user_names, template, password_type, words) in [
            (true, None, PasswordType::Vm, "SIP resets only"),
            (true, None, PasswordType::Web, "SIP resets only"),
            (
                false,
                Some("{random}"),
                PasswordType::Sip,
                "without `--new-user-names`",
            ),
            (
                true,
                Some("sip-{local}"),
                PasswordType::Sip,
                "no random part",
            ),
            (true, Some("{random:7}"), PasswordType::Sip, "at least 8"),
            (
                true,
                Some("{user}"),
                PasswordType::Sip,
                "unknown placeholder",
            ),
            (true, Some("a b{random}"), PasswordType::Sip, "may not hold"),
            (true, Some("{random:81}"), PasswordType::Sip, "at most 80"),
            (
                true,
                Some("{local}{random:78}"),
                PasswordType::Sip,
                "longer than 80",
            ),
        ] {
            let refusal = chosen(Some(new_user_names), template, &none, password_type).unwrap_err();
            assert!(refusal.contains(words), "{template:?}: {refusal}");
        }
        let refusal = for_reset(
            &UserNameArgs {
                new_user_names: Some(true),
                template: Some("{local}-{random}"),
            },
            &none,
            PasswordType::Sip,
            &users(&["ann@x.example", "bob+1@x.example"]),
        )
        .unwrap_err();
        let refusal = format!("{refusal:?}");
        assert!(refusal.contains("`bob+1@x.example`"), "{refusal}");
    }
}
