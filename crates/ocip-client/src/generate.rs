//! Values made on this side, for a server without `PasswordGenerateRequest` (release 21): from
//! the effective rules the server reports, with the operating system's random source, to the
//! strictest reading of the specification.

use secrecy::SecretString;

use crate::error::Error;
use crate::xml::Element;

/// The rules values are made under, as read from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rules {
    Password(PasswordRules),
    Passcode(PasscodeRules),
}

/// What a password must hold (web or SIP): a length and the least of each kind of character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PasswordRules {
    pub(crate) min_length: usize,
    pub(crate) min_digits: usize,
    pub(crate) min_upper: usize,
    pub(crate) min_lower: usize,
    pub(crate) min_symbols: usize,
}

impl PasswordRules {
    /// Bwreset's strict built-in rules, for when the server's cannot be read.
    pub(crate) const STRICT: PasswordRules = PasswordRules {
        min_length: 16,
        min_digits: 2,
        min_upper: 2,
        min_lower: 2,
        min_symbols: 2,
    };

    /// Reads a web or SIP password rules reply: a `min…` counts only when its `restrict…` flag
    /// is true.
    pub(crate) fn from_reply(reply: &Element) -> PasswordRules {
        let least = |flag: &str, value: &str| {
            if reply.flag(flag) == Some(true) {
                reply.number(value).unwrap_or(1) as usize
            } else {
                0
            }
        };
        PasswordRules {
            min_length: reply.number("minLength").unwrap_or(8) as usize,
            min_digits: least("restrictMinDigits", "minDigits"),
            min_upper: least("restrictMinUpperCaseLetters", "minUpperCaseLetters"),
            min_lower: least("restrictMinLowerCaseLetters", "minLowerCaseLetters"),
            min_symbols: least(
                "restrictMinNonAlphanumericCharacters",
                "minNonAlphanumericCharacters",
            ),
        }
    }
}

/// What a passcode must hold: its length range (the pattern rules are always met).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PasscodeRules {
    pub(crate) min_length: usize,
    pub(crate) max_length: usize,
}

impl PasscodeRules {
    pub(crate) const STRICT: PasscodeRules = PasscodeRules {
        min_length: 8,
        max_length: 8,
    };

    pub(crate) fn from_reply(reply: &Element) -> PasscodeRules {
        let min_length = reply.number("minCodeLength").unwrap_or(6) as usize;
        let max_length = reply.number("maxCodeLength").unwrap_or(30) as usize;
        PasscodeRules {
            min_length,
            max_length: max_length.max(min_length),
        }
    }
}

const DIGITS: &[u8] = b"0123456789";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
/// Symbols that need no escaping in XML and are no `xs:token` whitespace.
const SYMBOLS: &[u8] = b"!#$%*+-=?@^_";

/// A password meeting `rules`: at least 16 characters (at most 60), at least two of each kind
/// (more where the rules ask), the rest drawn from all kinds, in random order.
pub(crate) fn password(rules: PasswordRules) -> Result<SecretString, Error> {
    let mut random = Random::new()?;
    let counts = [
        (DIGITS, rules.min_digits.max(2)),
        (UPPER, rules.min_upper.max(2)),
        (LOWER, rules.min_lower.max(2)),
        (SYMBOLS, rules.min_symbols.max(2)),
    ];
    let required: usize = counts.iter().map(|(_, count)| count).sum();
    let length = rules.min_length.max(16).max(required).min(60);
    let mut characters = Vec::with_capacity(length);
    for (alphabet, count) in counts {
        for _ in 0..count {
            characters.push(alphabet[random.below(alphabet.len())?]);
        }
    }
    let all: Vec<u8> = [DIGITS, UPPER, LOWER, SYMBOLS].concat();
    while characters.len() < length {
        characters.push(all[random.below(all.len())?]);
    }
    characters.truncate(60);
    // Fisher-Yates, so that the required characters are not all in front.
    for index in (1..characters.len()).rev() {
        let other = random.below(index + 1)?;
        characters.swap(index, other);
    }
    Ok(SecretString::from(
        String::from_utf8_lossy(&characters).into_owned(),
    ))
}

/// A passcode meeting `rules` under the strictest reading: digits only, no two equal adjacent
/// digits, no adjacent steps of +1 or -1, no immediately repeated group of digits.
pub(crate) fn passcode(rules: PasscodeRules) -> Result<SecretString, Error> {
    let mut random = Random::new()?;
    let length = rules.min_length.max(6).min(rules.max_length).clamp(2, 30);
    let mut digits: Vec<u8> = Vec::with_capacity(length);
    let mut tries = 0;
    while digits.len() < length {
        tries += 1;
        if tries > 10_000 {
            // Cannot happen with ten digits to choose from; start again rather than loop.
            digits.clear();
            tries = 0;
        }
        let digit = random.below(10)? as u8;
        if let Some(&last) = digits.last()
            && (digit == last || digit.abs_diff(last) == 1)
        {
            continue;
        }
        digits.push(digit);
        if has_immediate_repeat(&digits) {
            digits.pop();
        }
    }
    Ok(SecretString::from(
        digits
            .iter()
            .map(|digit| char::from(b'0' + digit))
            .collect::<String>(),
    ))
}

/// Whether the digits end with a group repeated at once (`1212`, `357357`).
fn has_immediate_repeat(digits: &[u8]) -> bool {
    (1..=digits.len() / 2).any(|size| {
        let end = digits.len();
        digits[end - size..] == digits[end - 2 * size..end - size]
    })
}

/// Uniform choices from the operating system's random source, drawn in blocks.
struct Random {
    block: [u8; 64],
    used: usize,
}

impl Random {
    fn new() -> Result<Random, Error> {
        Ok(Random {
            block: [0; 64],
            used: 64,
        })
    }

    fn byte(&mut self) -> Result<u8, Error> {
        if self.used == self.block.len() {
            getrandom::fill(&mut self.block).map_err(|error| Error::Config {
                message: format!("the operating system's random source failed: {error}"),
            })?;
            self.used = 0;
        }
        self.used += 1;
        Ok(self.block[self.used - 1])
    }

    /// A uniform number below `bound` (at most 256), by rejection: no bias.
    fn below(&mut self, bound: usize) -> Result<usize, Error> {
        let bound = bound.clamp(1, 256);
        let limit = 256 - 256 % bound;
        loop {
            let byte = usize::from(self.byte()?);
            if byte < limit {
                return Ok(byte % bound);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn passwords_meet_the_rules_and_vary() {
        let rules = PasswordRules {
            min_length: 20,
            min_digits: 3,
            min_upper: 1,
            min_lower: 1,
            min_symbols: 4,
        };
        let first = password(rules).expect("random");
        for _ in 0..200 {
            let value = password(rules).expect("random");
            let value = value.expose_secret();
            assert_eq!(value.len(), 20);
            assert!(value.bytes().filter(u8::is_ascii_digit).count() >= 3);
            assert!(value.bytes().filter(|byte| SYMBOLS.contains(byte)).count() >= 4);
            assert!(value.bytes().any(|byte| byte.is_ascii_uppercase()));
            assert!(!value.contains(char::is_whitespace));
            assert_ne!(value, first.expose_secret());
        }
        let long = password(PasswordRules {
            min_length: 90,
            ..rules
        })
        .expect("random");
        assert_eq!(long.expose_secret().len(), 60);
    }

    #[test]
    fn passcodes_meet_the_strictest_reading() {
        let rules = PasscodeRules {
            min_length: 4,
            max_length: 10,
        };
        for _ in 0..500 {
            let value = passcode(rules).expect("random");
            let digits: Vec<u8> = value
                .expose_secret()
                .bytes()
                .map(|byte| byte - b'0')
                .collect();
            assert_eq!(digits.len(), 6);
            for pair in digits.windows(2) {
                assert!(pair[0].abs_diff(pair[1]) > 1, "{digits:?}");
            }
            for end in 2..=digits.len() {
                assert!(!has_immediate_repeat(&digits[..end]), "{digits:?}");
            }
        }
        let short = passcode(PasscodeRules {
            min_length: 2,
            max_length: 3,
        })
        .expect("random");
        assert_eq!(short.expose_secret().len(), 3);
        assert!(has_immediate_repeat(&[1, 3, 1, 3]));
        assert!(!has_immediate_repeat(&[1, 3, 1, 4]));
    }
}
