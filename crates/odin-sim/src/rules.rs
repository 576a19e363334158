//! BroadWorks' rules for SIP passwords, voice portal passcodes and web passwords: their settings,
//! their defaults, and the checks a setter runs before it changes anything.
//!
//! Each rule set comes twice: the resolved form (`SipPasswordRules`, ...) that the checks use, and
//! a partial form (`SipPasswordRulesSpec`, ...) as written in a fixture, where every field left out
//! is taken from the level above (group from system, system from the built-in defaults).

use serde::{Deserialize, Serialize};

/// The longest password BroadWorks stores, whatever a rule set says.
pub const PASSWORD_MAX_LENGTH: usize = 60;

/// A rule a value broke: the BroadWorks-style error code and the sentence that names the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    /// The number shown as `[Error N]`: 43xx for SIP passwords, 44xx for passcodes, 45xx for
    /// web passwords.
    pub code: u16,
    /// What was wrong with the value, e.g. `Invalid passcode: must be digits only`.
    pub message: String,
}

impl RuleViolation {
    fn new(code: u16, subject: &str, rule: impl std::fmt::Display) -> Self {
        RuleViolation {
            code,
            message: format!("Invalid {subject}: {rule}"),
        }
    }

    /// The `details` text of the error answer, e.g. `[Error 4420] Invalid passcode: must be digits only`.
    pub fn details(&self) -> String {
        format!("[Error {}] {}", self.code, self.message)
    }
}

/// Generates a partial rule set whose fields are all optional, and its `resolve` over a full one.
macro_rules! partial_rules {
    ($(#[$meta:meta])* $spec:ident => $rules:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
        pub struct $spec {
            $(
                #[expect(missing_docs)]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl $spec {
            /// The full rule set: the fields given here, the others from `base`.
            pub fn resolve(&self, base: &$rules) -> $rules {
                $rules { $( $field: self.$field.unwrap_or(base.$field), )* }
            }
        }
    };
}

/// Rules for SIP authentication passwords (system or service provider level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SipPasswordRules {
    pub min_length: usize,
    pub max_length: usize,
    pub min_digits: usize,
    pub min_upper_case: usize,
    pub min_lower_case: usize,
    pub min_non_alphanumeric: usize,
    /// The password must not contain the authentication user name (case-insensitive).
    pub disallow_user_name: bool,
    /// The password must not be the current one.
    pub disallow_old_password: bool,
    /// The password must not be the current one reversed.
    pub disallow_reversed_old_password: bool,
}

impl Default for SipPasswordRules {
    fn default() -> Self {
        SipPasswordRules {
            min_length: 6,
            max_length: PASSWORD_MAX_LENGTH,
            min_digits: 1,
            min_upper_case: 1,
            min_lower_case: 1,
            min_non_alphanumeric: 0,
            disallow_user_name: true,
            disallow_old_password: true,
            disallow_reversed_old_password: false,
        }
    }
}

partial_rules! {
    /// SIP password rules as written in a fixture: fields left out come from the level above.
    SipPasswordRulesSpec => SipPasswordRules {
        min_length: usize,
        max_length: usize,
        min_digits: usize,
        min_upper_case: usize,
        min_lower_case: usize,
        min_non_alphanumeric: usize,
        disallow_user_name: bool,
        disallow_old_password: bool,
        disallow_reversed_old_password: bool,
    }
}

/// Rules for web (portal login) passwords, per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebPasswordRules {
    pub min_length: usize,
    pub max_length: usize,
    pub min_digits: usize,
    pub min_upper_case: usize,
    pub min_lower_case: usize,
    pub min_non_alphanumeric: usize,
    /// The password must not contain the user ID (case-insensitive).
    pub disallow_user_id: bool,
}

impl Default for WebPasswordRules {
    fn default() -> Self {
        WebPasswordRules {
            min_length: 8,
            max_length: PASSWORD_MAX_LENGTH,
            min_digits: 1,
            min_upper_case: 1,
            min_lower_case: 1,
            min_non_alphanumeric: 0,
            disallow_user_id: true,
        }
    }
}

partial_rules! {
    /// Web password rules as written in a fixture: fields left out come from the level above.
    WebPasswordRulesSpec => WebPasswordRules {
        min_length: usize,
        max_length: usize,
        min_digits: usize,
        min_upper_case: usize,
        min_lower_case: usize,
        min_non_alphanumeric: usize,
        disallow_user_id: bool,
    }
}

/// Rules for voice portal passcodes, per group. A limit of 0 turns its rule off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasscodeRules {
    pub min_code_length: usize,
    pub max_code_length: usize,
    /// At most this many equal digits in a row (0: no limit).
    pub max_repeated_digits: usize,
    /// The passcode must not be one block repeated (1212, 123123, 4444).
    pub disallow_repeated_patterns: bool,
    /// At most this many digits in an ascending (1234) or descending (4321) run (0: no limit).
    pub max_sequence_length: usize,
    /// The passcode must not be the user's phone number or extension, nor their reverse.
    pub disallow_user_number: bool,
    /// The passcode must not be one of this many most recent passcodes, the current one
    /// included (0: off).
    pub disallow_last_passcodes: usize,
    /// The passcode must not be the current one reversed.
    pub disallow_reversed_old_passcode: bool,
}

impl Default for PasscodeRules {
    fn default() -> Self {
        PasscodeRules {
            min_code_length: 4,
            max_code_length: 8,
            max_repeated_digits: 2,
            disallow_repeated_patterns: true,
            max_sequence_length: 3,
            disallow_user_number: true,
            disallow_last_passcodes: 3,
            disallow_reversed_old_passcode: true,
        }
    }
}

partial_rules! {
    /// Passcode rules as written in a fixture: fields left out come from the level above.
    PasscodeRulesSpec => PasscodeRules {
        min_code_length: usize,
        max_code_length: usize,
        max_repeated_digits: usize,
        disallow_repeated_patterns: bool,
        max_sequence_length: usize,
        disallow_user_number: bool,
        disallow_last_passcodes: usize,
        disallow_reversed_old_passcode: bool,
    }
}

/// How many previous values a credential keeps: enough for the longest history rule allowed.
pub const MAX_HISTORY: usize = 24;

/// What a password must look like, whichever rule set it comes from: the length window and the
/// minimum count of each character class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordShape {
    pub min_length: usize,
    pub max_length: usize,
    pub min_digits: usize,
    pub min_upper_case: usize,
    pub min_lower_case: usize,
    pub min_non_alphanumeric: usize,
}

impl PasswordShape {
    /// The shape that satisfies both `self` and `other`.
    pub fn and(self, other: PasswordShape) -> PasswordShape {
        PasswordShape {
            min_length: self.min_length.max(other.min_length),
            max_length: self.max_length.min(other.max_length),
            min_digits: self.min_digits.max(other.min_digits),
            min_upper_case: self.min_upper_case.max(other.min_upper_case),
            min_lower_case: self.min_lower_case.max(other.min_lower_case),
            min_non_alphanumeric: self.min_non_alphanumeric.max(other.min_non_alphanumeric),
        }
    }

    fn required_characters(&self) -> usize {
        self.min_digits + self.min_upper_case + self.min_lower_case + self.min_non_alphanumeric
    }

    /// The shortest length a password of this shape can have.
    pub fn shortest(&self) -> usize {
        self.min_length.max(self.required_characters())
    }

    /// Whether any password has this shape.
    pub fn is_satisfiable(&self) -> bool {
        self.shortest() <= self.max_length.min(PASSWORD_MAX_LENGTH)
    }

    /// The checks that depend only on the value: characters, length, classes. `base` is the
    /// first error code of the family (4300 SIP, 4500 web).
    fn check(&self, value: &str, base: u16) -> Result<(), RuleViolation> {
        let subject = "password";
        if value.chars().any(char::is_control) {
            return Err(RuleViolation::new(
                base + 8,
                subject,
                "must not contain control characters",
            ));
        }
        let length = value.chars().count();
        if length < self.min_length {
            return Err(RuleViolation::new(
                base + 2,
                subject,
                format_args!("must be at least {} characters", self.min_length),
            ));
        }
        let max_length = self.max_length.min(PASSWORD_MAX_LENGTH);
        if length > max_length {
            return Err(RuleViolation::new(
                base + 1,
                subject,
                format_args!("must be at most {max_length} characters"),
            ));
        }
        let counts = CharacterCounts::of(value);
        let classes = [
            (counts.digits, self.min_digits, 4, "digit", "digits"),
            (
                counts.upper_case,
                self.min_upper_case,
                5,
                "upper-case letter",
                "upper-case letters",
            ),
            (
                counts.lower_case,
                self.min_lower_case,
                6,
                "lower-case letter",
                "lower-case letters",
            ),
            (
                counts.non_alphanumeric,
                self.min_non_alphanumeric,
                7,
                "non-alphanumeric character",
                "non-alphanumeric characters",
            ),
        ];
        for (found, wanted, offset, singular, plural) in classes {
            if found < wanted {
                let noun = if wanted == 1 { singular } else { plural };
                return Err(RuleViolation::new(
                    base + offset,
                    subject,
                    format_args!("must contain at least {wanted} {noun}"),
                ));
            }
        }
        Ok(())
    }
}

/// How many characters of each class a value holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CharacterCounts {
    pub digits: usize,
    pub upper_case: usize,
    pub lower_case: usize,
    pub non_alphanumeric: usize,
}

impl CharacterCounts {
    pub fn of(value: &str) -> Self {
        let mut counts = CharacterCounts::default();
        for character in value.chars() {
            if character.is_ascii_digit() {
                counts.digits += 1;
            } else if character.is_uppercase() {
                counts.upper_case += 1;
            } else if character.is_lowercase() {
                counts.lower_case += 1;
            } else if !character.is_alphanumeric() {
                counts.non_alphanumeric += 1;
            }
        }
        counts
    }
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    !needle.is_empty() && haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn reversed(value: &str) -> String {
    value.chars().rev().collect()
}

impl SipPasswordRules {
    pub fn shape(&self) -> PasswordShape {
        PasswordShape {
            min_length: self.min_length,
            max_length: self.max_length,
            min_digits: self.min_digits,
            min_upper_case: self.min_upper_case,
            min_lower_case: self.min_lower_case,
            min_non_alphanumeric: self.min_non_alphanumeric,
        }
    }

    /// Checks a new SIP password for a user whose authentication name is `user_name` and whose
    /// current password is `old`. The first rule broken is reported.
    pub fn check(
        &self,
        value: &str,
        user_name: Option<&str>,
        old: Option<&str>,
    ) -> Result<(), RuleViolation> {
        self.shape().check(value, 4300)?;
        if self.disallow_user_name
            && let Some(user_name) = user_name
            && contains_ignoring_case(value, user_name)
        {
            return Err(RuleViolation::new(
                4303,
                "password",
                "must not contain the authentication user name",
            ));
        }
        if let Some(old) = old {
            if self.disallow_old_password && value == old {
                return Err(RuleViolation::new(
                    4310,
                    "password",
                    "must not be the same as the old password",
                ));
            }
            if self.disallow_reversed_old_password && value == reversed(old) {
                return Err(RuleViolation::new(
                    4311,
                    "password",
                    "must not be the reverse of the old password",
                ));
            }
        }
        Ok(())
    }

    /// Whether the settings make sense; the error names the first one that does not.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=PASSWORD_MAX_LENGTH).contains(&self.min_length) {
            return Err(format!(
                "minLength must be between 1 and {PASSWORD_MAX_LENGTH}, not {}",
                self.min_length
            ));
        }
        if !(self.min_length..=PASSWORD_MAX_LENGTH).contains(&self.max_length) {
            return Err(format!(
                "maxLength must be between minLength and {PASSWORD_MAX_LENGTH}, not {}",
                self.max_length
            ));
        }
        if !self.shape().is_satisfiable() {
            return Err("the minimum character counts add up to more than maxLength".to_owned());
        }
        Ok(())
    }
}

impl WebPasswordRules {
    pub fn shape(&self) -> PasswordShape {
        PasswordShape {
            min_length: self.min_length,
            max_length: self.max_length,
            min_digits: self.min_digits,
            min_upper_case: self.min_upper_case,
            min_lower_case: self.min_lower_case,
            min_non_alphanumeric: self.min_non_alphanumeric,
        }
    }

    /// Checks a new web password for `user_id`. No rule looks at the old password: an
    /// administrator resetting a password does not supply it, and BroadWorks skips those rules.
    pub fn check(&self, value: &str, user_id: &str) -> Result<(), RuleViolation> {
        self.shape().check(value, 4500)?;
        if self.disallow_user_id && contains_ignoring_case(value, user_id) {
            return Err(RuleViolation::new(
                4503,
                "password",
                "must not contain the user ID",
            ));
        }
        Ok(())
    }

    /// Whether the settings make sense; the error names the first one that does not.
    pub fn validate(&self) -> Result<(), String> {
        if !(3..=40).contains(&self.min_length) {
            return Err(format!(
                "minLength must be between 3 and 40, not {}",
                self.min_length
            ));
        }
        if !(self.min_length..=PASSWORD_MAX_LENGTH).contains(&self.max_length) {
            return Err(format!(
                "maxLength must be between minLength and {PASSWORD_MAX_LENGTH}, not {}",
                self.max_length
            ));
        }
        if !self.shape().is_satisfiable() {
            return Err("the minimum character counts add up to more than maxLength".to_owned());
        }
        Ok(())
    }
}

/// What a passcode check needs to know about the user.
#[derive(Clone, Copy, Debug, Default)]
pub struct PasscodeOwner<'a> {
    pub phone_number: Option<&'a str>,
    pub extension: Option<&'a str>,
    /// The current passcode first, then older ones, newest first.
    pub history: &'a [&'a str],
}

impl PasscodeRules {
    /// The checks that depend only on the value (no user, no history). The first rule broken is
    /// reported.
    pub fn check_shape(&self, value: &str) -> Result<(), RuleViolation> {
        let subject = "passcode";
        if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(RuleViolation::new(4420, subject, "must be digits only"));
        }
        let digits = value.as_bytes();
        if digits.len() < self.min_code_length {
            return Err(RuleViolation::new(
                4421,
                subject,
                format_args!("must be at least {} digits long", self.min_code_length),
            ));
        }
        if digits.len() > self.max_code_length {
            return Err(RuleViolation::new(
                4422,
                subject,
                format_args!("must be at most {} digits long", self.max_code_length),
            ));
        }
        if self.max_repeated_digits > 0 && longest_repeat(digits) > self.max_repeated_digits {
            return Err(RuleViolation::new(
                4423,
                subject,
                format_args!(
                    "must not contain more than {} repeated digits",
                    self.max_repeated_digits
                ),
            ));
        }
        if self.disallow_repeated_patterns && is_repeated_pattern(digits) {
            return Err(RuleViolation::new(
                4424,
                subject,
                "must not contain a repeated pattern",
            ));
        }
        if self.max_sequence_length > 0 && longest_sequence(digits) > self.max_sequence_length {
            return Err(RuleViolation::new(
                4425,
                subject,
                format_args!(
                    "must not contain an ascending or descending sequence of more than {} digits",
                    self.max_sequence_length
                ),
            ));
        }
        Ok(())
    }

    /// Checks a new passcode for a user. The first rule broken is reported.
    pub fn check(&self, value: &str, owner: &PasscodeOwner<'_>) -> Result<(), RuleViolation> {
        self.check_shape(value)?;
        let subject = "passcode";
        if self.disallow_user_number {
            let numbers = [
                owner.phone_number.map(digits_of),
                owner.extension.map(digits_of),
            ];
            let numbers = numbers.iter().flatten().filter(|number| !number.is_empty());
            for number in numbers.clone() {
                if value == number {
                    return Err(RuleViolation::new(
                        4426,
                        subject,
                        "must not be the user's phone number or extension",
                    ));
                }
            }
            for number in numbers {
                if value == reversed(number) {
                    return Err(RuleViolation::new(
                        4427,
                        subject,
                        "must not be the reverse of the user's phone number or extension",
                    ));
                }
            }
        }
        let remembered = self.disallow_last_passcodes.min(owner.history.len());
        if owner.history[..remembered].contains(&value) {
            let rule = if self.disallow_last_passcodes == 1 {
                "must not be the same as the old passcode".to_owned()
            } else {
                format!(
                    "must not be one of the last {} passcodes",
                    self.disallow_last_passcodes
                )
            };
            return Err(RuleViolation::new(4430, subject, rule));
        }
        if self.disallow_reversed_old_passcode
            && let Some(current) = owner.history.first()
            && value == reversed(current)
        {
            return Err(RuleViolation::new(
                4431,
                subject,
                "must not be the reverse of the old passcode",
            ));
        }
        Ok(())
    }

    /// Whether the settings make sense; the error names the first one that does not.
    pub fn validate(&self) -> Result<(), String> {
        if !(2..=15).contains(&self.min_code_length) {
            return Err(format!(
                "minCodeLength must be between 2 and 15, not {}",
                self.min_code_length
            ));
        }
        if !(3..=30).contains(&self.max_code_length) || self.max_code_length < self.min_code_length
        {
            return Err(format!(
                "maxCodeLength must be between 3 and 30 and at least minCodeLength, not {}",
                self.max_code_length
            ));
        }
        if self.max_sequence_length == 1 {
            return Err("maxSequenceLength must be 0 (off) or at least 2".to_owned());
        }
        if self.disallow_last_passcodes > MAX_HISTORY {
            return Err(format!(
                "disallowLastPasscodes must be at most {MAX_HISTORY}, not {}",
                self.disallow_last_passcodes
            ));
        }
        Ok(())
    }
}

/// The digits of a phone number or extension, without `+`, `-`, spaces or brackets.
fn digits_of(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// The length of the longest run of equal digits.
pub(crate) fn longest_repeat(digits: &[u8]) -> usize {
    longest_run(digits, |previous, next| previous == next)
}

/// The length of the longest ascending (1234) or descending (4321) run of digits.
pub(crate) fn longest_sequence(digits: &[u8]) -> usize {
    let ascending = longest_run(digits, |previous, next| next == previous.wrapping_add(1));
    let descending = longest_run(digits, |previous, next| previous == next.wrapping_add(1));
    ascending.max(descending)
}

fn longest_run(digits: &[u8], continues: impl Fn(u8, u8) -> bool) -> usize {
    let mut longest = usize::from(!digits.is_empty());
    let mut current = longest;
    for pair in digits.windows(2) {
        if continues(pair[0], pair[1]) {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 1;
        }
    }
    longest
}

/// Whether the whole value is one shorter block written at least twice (1212, 123123, 7777).
pub(crate) fn is_repeated_pattern(digits: &[u8]) -> bool {
    let length = digits.len();
    (1..=length / 2).any(|block| {
        length.is_multiple_of(block) && digits.chunks(block).all(|chunk| chunk == &digits[..block])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passcode_error(rules: &PasscodeRules, value: &str, owner: &PasscodeOwner<'_>) -> u16 {
        match rules.check(value, owner) {
            Err(violation) => violation.code,
            Ok(()) => 0,
        }
    }

    #[test]
    fn passcode_rules_report_the_first_rule_broken() {
        let rules = PasscodeRules::default();
        let owner = PasscodeOwner {
            phone_number: Some("+1-202-555-0147"),
            extension: Some("4071"),
            history: &["80531794", "29640185", "61820573", "70319462"],
        };
        let cases = [
            ("59173064", 0),
            ("5917a064", 4420),
            ("", 4420),
            ("591", 4421),
            ("591730641", 4422),
            ("59117730", 0),
            ("59111730", 4423),
            ("5917", 0),
            ("59175917", 4424),
            ("59123430", 4425),
            ("59876730", 4425),
            ("4071", 4426),
            ("1704", 4427),
            ("80531794", 4430),
            ("29640185", 4430),
            ("61820573", 4430),
            ("70319462", 0),
            ("49713508", 4431),
        ];
        for (value, code) in cases {
            assert_eq!(passcode_error(&rules, value, &owner), code, "value {value}");
        }
    }

    #[test]
    fn passcode_history_of_one_speaks_of_the_old_passcode() {
        let rules = PasscodeRules {
            disallow_last_passcodes: 1,
            ..PasscodeRules::default()
        };
        let owner = PasscodeOwner {
            history: &["80531794", "29640185"],
            ..PasscodeOwner::default()
        };
        let violation = rules.check("80531794", &owner).unwrap_err();
        assert_eq!(
            violation.details(),
            "[Error 4430] Invalid passcode: must not be the same as the old passcode"
        );
        assert!(rules.check("29640185", &owner).is_ok());
    }

    #[test]
    fn sip_rules_report_each_rule() {
        let rules = SipPasswordRules {
            min_length: 8,
            min_non_alphanumeric: 1,
            disallow_reversed_old_password: true,
            ..SipPasswordRules::default()
        };
        let too_long = "Abcdef1!".repeat(8);
        let cases = [
            ("Abcdef1!", 0),
            ("Abc1!", 4302),
            (too_long.as_str(), 4301),
            ("Abcdefg!", 4304),
            ("abcdef1!", 4305),
            ("ABCDEF1!", 4306),
            ("Abcdef12", 4307),
            ("Abc\ndef1!", 4308),
            ("xJohn.Doe1!", 4303),
            ("Old-Pass1", 4310),
            ("1ssaP-dlO", 4311),
        ];
        for (value, code) in cases {
            let found = match rules.check(value, Some("john.doe"), Some("Old-Pass1")) {
                Err(violation) => violation.code,
                Ok(()) => 0,
            };
            assert_eq!(found, code, "value {value:?}");
        }
    }

    #[test]
    fn web_rules_report_each_rule() {
        let rules = WebPasswordRules::default();
        assert!(rules.check("Secret-2024", "u1@example.com").is_ok());
        let violation = rules
            .check("xU1@example.comX", "u1@example.com")
            .unwrap_err();
        assert_eq!(
            violation.details(),
            "[Error 4503] Invalid password: must not contain the user ID"
        );
        assert_eq!(
            rules.check("Short1", "u1").unwrap_err().details(),
            "[Error 4502] Invalid password: must be at least 8 characters"
        );
        assert_eq!(rules.check("nouppercase1", "u1").unwrap_err().code, 4505);
    }

    #[test]
    fn partial_rules_take_the_missing_fields_from_the_base() {
        let spec: PasscodeRulesSpec =
            serde_json::from_str(r#"{"minCodeLength": 6, "maxRepeatedDigits": 0}"#).unwrap();
        let rules = spec.resolve(&PasscodeRules::default());
        assert_eq!(rules.min_code_length, 6);
        assert_eq!(rules.max_repeated_digits, 0);
        assert_eq!(rules.max_code_length, 8);
        assert!(serde_json::from_str::<PasscodeRulesSpec>(r#"{"minLenght": 6}"#).is_err());
    }

    #[test]
    fn run_helpers_measure_runs() {
        assert_eq!(longest_repeat(b"1222334"), 3);
        assert_eq!(longest_sequence(b"9012345"), 6);
        assert_eq!(longest_sequence(b"7654"), 4);
        assert_eq!(longest_sequence(b"5"), 1);
        assert!(is_repeated_pattern(b"123123"));
        assert!(is_repeated_pattern(b"7777"));
        assert!(!is_repeated_pattern(b"12312"));
    }
}
