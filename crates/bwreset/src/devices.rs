//! The phones after a SIP reset, as the command line runs them: choosing the follow-up (flag,
//! config file, the journal's record), describing the device plan, the devices report
//! `<out>.devices.csv`, the summary line, and the advice when phones are left alone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bwreset_core::{DeviceAction, DeviceOptions, DevicePlan, DeviceReport, DeviceResult};
use serde::{Deserialize, Serialize};

use crate::cli::{DeviceArgs, DevicesArg};
use crate::errors::Failure;
use crate::files;
use crate::output::WriteMode;
use bwreset_core::PasswordType;

/// The device follow-up of a run, as kept in the journal's `meta` for `resume`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceSettings {
    pub(crate) action: DeviceAction,
    pub(crate) reset_rate: f64,
    pub(crate) registration_timeout: u64,
}

const DEFAULT_RESET_RATE: f64 = 10.0;
const DEFAULT_REGISTRATION_TIMEOUT: u64 = 180;

/// The follow-up of a new reset: the flag, else the config file's `devices`, else none. `None`
/// when phones are left alone. `--devices` other than `none` is refused for VM and WEB (their
/// credentials are in no phone); the config file's default is not, so that a site default does
/// not break them.
pub(crate) fn for_reset(
    arguments: &DeviceArgs,
    file_default: Option<DevicesArg>,
    password_type: PasswordType,
) -> Result<Option<DeviceSettings>, Failure> {
    let sip = password_type == PasswordType::Sip;
    if !sip
        && matches!(
            arguments.devices,
            Some(DevicesArg::Rebuild | DevicesArg::Reset)
        )
    {
        return Err(Failure::usage(format!(
            "`--devices` is for SIP resets only: a {password_type} credential is in no phone's configuration"
        ))
        .with_hint("leave out `--devices` (or give `--devices none`)"));
    }
    let chosen = arguments
        .devices
        .or(if sip { file_default } else { None })
        .unwrap_or(DevicesArg::None);
    settings(arguments, chosen)
}

/// The follow-up of a resume: the flags where given, else what the run recorded.
pub(crate) fn for_resume(
    arguments: &DeviceArgs,
    recorded: Option<DeviceSettings>,
    password_type: PasswordType,
) -> Result<Option<DeviceSettings>, Failure> {
    if password_type != PasswordType::Sip
        && matches!(
            arguments.devices,
            Some(DevicesArg::Rebuild | DevicesArg::Reset)
        )
    {
        return Err(Failure::usage(format!(
            "`--devices` is for SIP resets only: this journal is a {password_type} reset"
        )));
    }
    let chosen = match (arguments.devices, recorded) {
        (Some(chosen), _) => chosen,
        (None, Some(recorded)) => match recorded.action {
            DeviceAction::Rebuild => DevicesArg::Rebuild,
            DeviceAction::Reset => DevicesArg::Reset,
        },
        (None, None) => DevicesArg::None,
    };
    let mut arguments = arguments.clone();
    if let Some(recorded) = recorded
        && chosen == DevicesArg::Reset
    {
        arguments.reset_rate = arguments.reset_rate.or(Some(recorded.reset_rate));
        arguments.registration_timeout = arguments
            .registration_timeout
            .or(Some(recorded.registration_timeout));
    }
    settings(&arguments, chosen)
}

fn settings(arguments: &DeviceArgs, chosen: DevicesArg) -> Result<Option<DeviceSettings>, Failure> {
    let action = match chosen {
        DevicesArg::None => None,
        DevicesArg::Rebuild => Some(DeviceAction::Rebuild),
        DevicesArg::Reset => Some(DeviceAction::Reset),
    };
    if action != Some(DeviceAction::Reset)
        && (arguments.reset_rate.is_some() || arguments.registration_timeout.is_some())
    {
        return Err(Failure::usage(
            "`--reset-rate` and `--registration-timeout` apply to `--devices reset` only",
        ));
    }
    Ok(action.map(|action| DeviceSettings {
        action,
        reset_rate: arguments.reset_rate.unwrap_or(DEFAULT_RESET_RATE),
        registration_timeout: arguments
            .registration_timeout
            .unwrap_or(DEFAULT_REGISTRATION_TIMEOUT),
    }))
}

/// The engine's options.
pub(crate) fn options(settings: DeviceSettings, concurrency: usize) -> DeviceOptions {
    DeviceOptions {
        reset_rate: settings.reset_rate,
        registration_timeout: Duration::from_secs(settings.registration_timeout),
        concurrency: concurrency.clamp(1, 16),
        ..DeviceOptions::new(settings.action)
    }
}

/// The device plan in one line, for the confirmation and the dry run.
pub(crate) fn describe_plan(plan: &DevicePlan, settings: DeviceSettings) -> String {
    let what = match settings.action {
        DeviceAction::Rebuild => "to rebuild".to_owned(),
        DeviceAction::Reset => format!(
            "to rebuild and reset ({} per second at most, then up to {} s for them to register again)",
            settings.reset_rate, settings.registration_timeout
        ),
    };
    let mut text = format!(
        "{} {what}, {} skipped (their own credentials), {} carrying several of the users",
        plan.to_touch(),
        plan.own_credentials(),
        plan.shared()
    );
    if !plan.unread_users.is_empty() {
        text.push_str(&format!(
            "; the devices of {} user(s) could not be read (read again after the reset)",
            plan.unread_users.len()
        ));
    }
    text
}

/// `<out>.devices.csv`, beside the failures file.
pub(crate) fn report_path(failures: &Path) -> PathBuf {
    let text = failures.as_os_str().to_string_lossy();
    match text.strip_suffix(".failed.csv") {
        Some(base) => PathBuf::from(format!("{base}.devices.csv")),
        None => PathBuf::from(format!("{text}.devices.csv")),
    }
}

/// Writes the devices report: one row per device, no secret.
pub(crate) fn write_report(
    path: &Path,
    report: &DeviceReport,
    mode: WriteMode,
) -> anyhow::Result<()> {
    let write = |writer: &mut dyn Write| -> std::io::Result<()> {
        let mut csv = csv::Writer::from_writer(writer);
        let mut write_all = || -> Result<(), csv::Error> {
            csv.write_record([
                "deviceName",
                "deviceLevel",
                "deviceType",
                "users",
                "action",
                "result",
                "reason",
            ])?;
            for entry in &report.entries {
                let users: Vec<&str> = entry.users.iter().map(|user| user.as_str()).collect();
                csv.write_record([
                    entry.device.name.as_str(),
                    entry.device.level().as_str(),
                    entry.device_type.as_deref().unwrap_or(""),
                    &users.join(" "),
                    match entry.action {
                        None => "skip",
                        Some(DeviceAction::Rebuild) => "rebuild",
                        Some(DeviceAction::Reset) => "reset",
                    },
                    entry.result.as_str(),
                    entry.reason.as_deref().unwrap_or(""),
                ])?;
            }
            csv.flush()?;
            Ok(())
        };
        write_all().map_err(std::io::Error::other)
    };
    match mode {
        WriteMode::New => files::write_new_private_with(path, write),
        WriteMode::Again => files::replace_private_with(path, write),
    }
    .map_err(|error| anyhow::anyhow!("cannot write devices report `{}`: {error}", path.display()))
}

/// The summary's line about the phones.
pub(crate) fn summary_line(report: &DeviceReport, path: &Path, journal: &Path) -> String {
    let mut text = format!(
        "devices:  `{}` ({} rebuilt only, {} registered again, {} reset and not checked, {} not registered, {} failed, {} uncertain, {} not attempted, {} skipped with their own credentials)",
        path.display(),
        report.count(DeviceResult::Rebuilt),
        report.count(DeviceResult::Registered),
        report.count(DeviceResult::Reset),
        report.count(DeviceResult::NotRegistered),
        report.count(DeviceResult::Failed),
        report.count(DeviceResult::Uncertain),
        report.count(DeviceResult::NotAttempted),
        report.count(DeviceResult::Skipped),
    );
    if !report.unread_users.is_empty() {
        text.push_str(&format!(
            "; the devices of {} user(s) could not be read",
            report.unread_users.len()
        ));
    }
    if let Some(reason) = &report.stop_reason {
        text.push_str(&format!("; the device phase stopped: {reason}"));
    }
    text.push('\n');
    text.push_str(&not_registered_lines(report, path, journal));
    text
}

/// How many phones are named one by one when they did not register again.
const PHONES_SHOWN: usize = 5;

/// The phones reset that did not register again, named (the first few; the devices report has
/// all), and what can be done about them.
fn not_registered_lines(report: &DeviceReport, path: &Path, journal: &Path) -> String {
    let names: Vec<&str> = report
        .entries
        .iter()
        .filter(|entry| entry.result == DeviceResult::NotRegistered)
        .map(|entry| entry.device.name.as_str())
        .collect();
    if names.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = names
        .iter()
        .take(PHONES_SHOWN)
        .map(|name| format!("`{name}`"))
        .collect();
    let more = match names.len().saturating_sub(shown.len()) {
        0 => String::new(),
        more => format!(" and {more} more (all in `{}`)", path.display()),
    };
    format!(
        "not registered again: {}{more}\nhint: check these phones on site (powered, connected); then `bwreset resume --journal {journal}` confirms those that registered since, or `bwreset resume --journal {journal} --reset-unregistered` resets them once more and waits for them\n",
        shown.join(", "),
        journal = journal.display(),
    )
}

/// The one line for a SIP resume without a device phase, of a run whose phones were already
/// found (and maybe rebuilt and reset) by an earlier pass.
pub(crate) fn advice_after_phones(journal: &Path) -> String {
    format!(
        "phones: an earlier pass of this run did the phones, this one left them alone; `bwreset resume --journal {} --devices reset` finishes them (it never resets a phone twice) and checks that they register again\n",
        journal.display()
    )
}

/// The one line for a SIP run that left the phones alone.
pub(crate) fn advice(journal: &Path) -> String {
    format!(
        "phones that register with these users' SIP credentials keep the old password until their configuration is rebuilt and they are reset: `bwreset resume --journal {} --devices reset` does both and checks that they register again\n",
        journal.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(devices: Option<DevicesArg>) -> DeviceArgs {
        DeviceArgs {
            devices,
            reset_rate: None,
            registration_timeout: None,
        }
    }

    #[test]
    fn the_flag_beats_the_config_file_which_applies_to_sip_only() {
        let chosen = |flag, file, password_type| {
            for_reset(&arguments(flag), file, password_type)
                .map(|settings| settings.map(|settings| settings.action))
        };
        assert_eq!(
            chosen(None, Some(DevicesArg::Reset), PasswordType::Sip).ok(),
            Some(Some(DeviceAction::Reset))
        );
        assert_eq!(
            chosen(
                Some(DevicesArg::None),
                Some(DevicesArg::Reset),
                PasswordType::Sip
            )
            .ok(),
            Some(None)
        );
        // A site default does not break a voicemail run; the flag is refused with the reason.
        assert_eq!(
            chosen(None, Some(DevicesArg::Reset), PasswordType::Vm).ok(),
            Some(None)
        );
        let refusal = chosen(Some(DevicesArg::Rebuild), None, PasswordType::Web)
            .expect_err("refused")
            .to_string();
        assert!(refusal.contains("SIP resets only"), "{refusal}");
    }

    #[test]
    fn pacing_flags_need_a_reset_and_resume_keeps_the_runs_own() {
        let mut given = arguments(Some(DevicesArg::Rebuild));
        given.reset_rate = Some(2.0);
        assert!(for_reset(&given, None, PasswordType::Sip).is_err());
        let recorded = DeviceSettings {
            action: DeviceAction::Reset,
            reset_rate: 3.0,
            registration_timeout: 30,
        };
        let resumed = for_resume(&arguments(None), Some(recorded), PasswordType::Sip)
            .expect("accepted")
            .expect("devices");
        assert_eq!(resumed, recorded);
        // A rebuild asked on resume does not inherit the recorded reset's pacing.
        let rebuilt = for_resume(
            &arguments(Some(DevicesArg::Rebuild)),
            Some(recorded),
            PasswordType::Sip,
        )
        .expect("accepted")
        .expect("devices");
        assert_eq!(rebuilt.action, DeviceAction::Rebuild);
    }

    #[test]
    fn the_report_goes_beside_the_output() {
        assert_eq!(
            report_path(Path::new("/x/sip.json.failed.csv")),
            Path::new("/x/sip.json.devices.csv")
        );
    }
}
