//! The values the generators hand out: passwords of a given shape, passcodes that pass a group's
//! rules, and the deliberately broken ones of the `bad_value_rate` fault.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

use crate::rules::{
    PASSWORD_MAX_LENGTH, PasscodeRules, PasswordShape, longest_repeat, longest_sequence,
};

const DIGITS: &[u8] = b"0123456789";
const UPPER_CASE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER_CASE: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
/// Symbols that survive shells, CSV files and JSON without quoting surprises.
const SYMBOLS: &[u8] = b"!#$%*-.=@^_";
const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The length of web passwords in the public examples.
pub const WEB_PASSWORD_LENGTH: usize = 18;
/// The length of SIP passwords in the public examples.
pub const SIP_PASSWORD_LENGTH: usize = 12;
/// The length of generated passcodes. The public examples show 8 digits, but the published
/// Python client refuses any passcode outside 4 to 6 digits before sending it, so a simulator
/// generating 8 would stop that real client's voicemail reset; 6 satisfies both it and the
/// default BroadWorks rules (4 to 8).
pub const PASSCODE_LENGTH: usize = 6;

fn pick(rng: &mut impl Rng, alphabet: &[u8]) -> u8 {
    alphabet[rng.random_range(0..alphabet.len())]
}

/// A random password of `shape`, `preferred_length` long where the shape allows it. Like the
/// public examples it mixes digits, upper and lower case even when no rule asks for them.
pub fn password(rng: &mut impl Rng, shape: &PasswordShape, preferred_length: usize) -> String {
    let longest = shape.max_length.min(PASSWORD_MAX_LENGTH);
    let shortest = shape.shortest().min(longest);
    let length = preferred_length.clamp(shortest, longest);
    let mut wanted = [
        (shape.min_digits.max(1), DIGITS),
        (shape.min_upper_case.max(1), UPPER_CASE),
        (shape.min_lower_case.max(1), LOWER_CASE),
        (shape.min_non_alphanumeric, SYMBOLS),
    ];
    if wanted.iter().map(|(count, _)| count).sum::<usize>() > length {
        wanted[0].0 = shape.min_digits;
        wanted[1].0 = shape.min_upper_case;
        wanted[2].0 = shape.min_lower_case;
    }
    let mut characters = Vec::with_capacity(length);
    for (count, alphabet) in wanted {
        characters.extend((0..count).map(|_| pick(rng, alphabet)));
    }
    while characters.len() < length {
        characters.push(pick(rng, ALPHANUMERIC));
    }
    characters.shuffle(rng);
    characters.into_iter().map(char::from).collect()
}

/// A random passcode that passes every rule of `rules` that does not depend on the user.
pub fn passcode(rng: &mut impl Rng, rules: &PasscodeRules) -> String {
    let length = PASSCODE_LENGTH.clamp(rules.min_code_length, rules.max_code_length);
    let mut digits = Vec::with_capacity(length);
    // Each digit is drawn among those that keep runs and repeats within the limits, so only the
    // rare whole-value pattern (e.g. 1919) can fail the final check and cost another draw.
    for _ in 0..1000 {
        digits.clear();
        while digits.len() < length {
            let candidates: Vec<u8> = DIGITS
                .iter()
                .copied()
                .filter(|&digit| {
                    digits.push(digit);
                    let allowed = (rules.max_repeated_digits == 0
                        || longest_repeat(&digits) <= rules.max_repeated_digits)
                        && (rules.max_sequence_length == 0
                            || longest_sequence(&digits) <= rules.max_sequence_length);
                    digits.pop();
                    allowed
                })
                .collect();
            let Some(&digit) = candidates.choose(rng) else {
                break;
            };
            digits.push(digit);
        }
        let value: String = digits.iter().copied().map(char::from).collect();
        if rules.check_shape(&value).is_ok() {
            return value;
        }
    }
    // Unreachable with rules that pass validation: a run limit of 2 or more always leaves
    // candidates and patterns are rare. Return a plain value rather than loop forever.
    "0".repeat(length)
}

/// A password that breaks every one of `shapes`: too long, too short, or missing a class of
/// characters that every shape asks for.
pub fn bad_password(rng: &mut impl Rng, shapes: &[PasswordShape]) -> String {
    let random_of = |rng: &mut _, length: usize, alphabet: &[u8]| -> String {
        (0..length)
            .map(|_| char::from(pick(rng, alphabet)))
            .collect()
    };
    let mut choices: Vec<u8> = vec![0];
    let shortest_minimum = shapes
        .iter()
        .map(|shape| shape.min_length)
        .min()
        .unwrap_or(0);
    if shortest_minimum >= 2 {
        choices.push(1);
    }
    if shapes.iter().all(|shape| shape.min_digits > 0) {
        choices.push(2);
    }
    match choices.choose(rng).copied().unwrap_or(0) {
        1 => random_of(rng, shortest_minimum - 1, ALPHANUMERIC),
        2 => random_of(rng, WEB_PASSWORD_LENGTH, LETTERS),
        _ => random_of(rng, PASSWORD_MAX_LENGTH + 1, ALPHANUMERIC),
    }
}

/// A passcode that breaks one of the rules of `rules` that do not depend on the user.
pub fn bad_passcode(rng: &mut impl Rng, rules: &PasscodeRules) -> String {
    let random_digits = |rng: &mut _, length: usize| -> String {
        (0..length).map(|_| char::from(pick(rng, DIGITS))).collect()
    };
    let (min, max) = (rules.min_code_length, rules.max_code_length);
    let mut choices: Vec<u8> = vec![0, 1];
    if rules.max_repeated_digits > 0 && rules.max_repeated_digits < max {
        choices.push(2);
    }
    if rules.max_sequence_length > 0 && rules.max_sequence_length < max.min(10) {
        choices.push(3);
    }
    if rules.disallow_repeated_patterns && (min..=max).any(|length| length % 2 == 0) {
        choices.push(4);
    }
    match choices.choose(rng).copied().unwrap_or(0) {
        1 => random_digits(rng, max + 1),
        2 => {
            let length = PASSCODE_LENGTH.clamp(min.max(rules.max_repeated_digits + 1), max);
            let digit = char::from(pick(rng, DIGITS));
            std::iter::repeat_n(digit, length).collect()
        }
        3 => {
            let run = rules.max_sequence_length + 1;
            let length = PASSCODE_LENGTH.clamp(min.max(run), max);
            let start = rng.random_range(0..=10 - run);
            let mut value: String = DIGITS[start..start + run]
                .iter()
                .map(|&d| char::from(d))
                .collect();
            value.push_str(&random_digits(rng, length - run));
            value
        }
        4 => {
            let length = (min..=max)
                .filter(|length| length % 2 == 0)
                .min_by_key(|length| length.abs_diff(PASSCODE_LENGTH))
                .unwrap_or(max);
            let block = random_digits(rng, length / 2);
            block.repeat(2)
        }
        _ => random_digits(rng, min - 1),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::rules::{SipPasswordRules, WebPasswordRules};

    fn passcode_rule_sets() -> Vec<PasscodeRules> {
        vec![
            PasscodeRules::default(),
            PasscodeRules {
                min_code_length: 2,
                max_code_length: 3,
                ..PasscodeRules::default()
            },
            PasscodeRules {
                min_code_length: 12,
                max_code_length: 30,
                max_repeated_digits: 1,
                max_sequence_length: 2,
                ..PasscodeRules::default()
            },
            PasscodeRules {
                max_repeated_digits: 0,
                max_sequence_length: 0,
                disallow_repeated_patterns: false,
                ..PasscodeRules::default()
            },
        ]
    }

    #[test]
    fn passcodes_pass_the_rules_and_bad_ones_do_not() {
        let mut rng = StdRng::seed_from_u64(7);
        for rules in passcode_rule_sets() {
            for _ in 0..500 {
                let good = passcode(&mut rng, &rules);
                assert!(rules.check_shape(&good).is_ok(), "{good} under {rules:?}");
                let bad = bad_passcode(&mut rng, &rules);
                assert!(rules.check_shape(&bad).is_err(), "{bad} under {rules:?}");
            }
        }
        let default_length = passcode(&mut rng, &PasscodeRules::default()).len();
        assert_eq!(default_length, PASSCODE_LENGTH);
    }

    #[test]
    fn passwords_pass_both_rule_sets_and_bad_ones_do_not() {
        let mut rng = StdRng::seed_from_u64(11);
        let web = WebPasswordRules {
            min_non_alphanumeric: 2,
            ..WebPasswordRules::default()
        };
        let sip = SipPasswordRules {
            min_digits: 3,
            ..SipPasswordRules::default()
        };
        let shape = web.shape().and(sip.shape());
        for _ in 0..500 {
            let good = password(&mut rng, &shape, WEB_PASSWORD_LENGTH);
            assert_eq!(good.len(), WEB_PASSWORD_LENGTH);
            assert!(web.check(&good, "user0001@demo.example").is_ok(), "{good}");
            assert!(sip.check(&good, Some("user0001"), None).is_ok(), "{good}");
            let bad = bad_password(&mut rng, &[web.shape(), sip.shape()]);
            assert!(web.check(&bad, "u").is_err(), "{bad}");
            assert!(sip.check(&bad, None, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_windows_are_respected() {
        let mut rng = StdRng::seed_from_u64(3);
        let shape = PasswordShape {
            min_length: 3,
            max_length: 4,
            min_digits: 0,
            min_upper_case: 0,
            min_lower_case: 0,
            min_non_alphanumeric: 2,
        };
        let value = password(&mut rng, &shape, WEB_PASSWORD_LENGTH);
        assert_eq!(value.len(), 4);
    }
}
