//! New SIP authentication user names from a template (issue 26): a random part that makes each
//! name unguessable, and optionally the user ID's parts around it. A template is checked once,
//! before anything changes; each name it makes is checked against the rules for names.

use std::fmt;

use rand::Rng;

/// The characters of a random part: lowercase letters and digits (36, about 5.2 bits each).
const RANDOM_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The length of `{random}` without a length.
pub const DEFAULT_RANDOM_LENGTH: usize = 12;

/// The shortest random part a template may have: fewer characters would let a name be guessed.
pub const MIN_RANDOM_LENGTH: usize = 8;

/// The longest SIP authentication user name (the OCI-P schema's cap, which Odin shares).
pub const MAX_USER_NAME_LENGTH: usize = 80;

/// Characters a name may hold besides ASCII letters and digits (inferred: the schema caps only
/// the length; these are safe in a SIP URI's user part and in a phone's configuration file).
const OTHER_NAME_CHARACTERS: &[char] = &['.', '-', '_'];

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Random(usize),
    /// The user ID before its `@` (all of it when it has none).
    LocalPart,
    /// The user ID after its `@` (nothing when it has none).
    Domain,
}

/// A checked template for new SIP authentication user names: `{random}` or `{random:N}` (one
/// random part of `N` lowercase letters and digits, 12 by default, at least 8), `{local}` (the
/// user ID before `@`), `{domain}` (the user ID after `@`), and literal letters, digits, `.`, `-`
/// and `_`. The default is `{random}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserNameTemplate {
    pieces: Vec<Piece>,
    text: String,
}

/// Why a template cannot be used, or why a name it made for one user is not a valid name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserNameTemplateError {
    /// The template has no `{random}` part: its names could be guessed.
    #[error("the user name template `{template}` has no random part (`{{random}}`)")]
    NoRandomPart {
        /// The template as given.
        template: String,
    },
    /// More than one random part: one is enough, and its length says how strong names are.
    #[error("the user name template `{template}` has more than one random part")]
    SeveralRandomParts {
        /// The template as given.
        template: String,
    },
    /// The random part is too short to be unguessable.
    #[error(
        "the random part of the user name template `{template}` has {length} characters; at least {MIN_RANDOM_LENGTH} are needed"
    )]
    RandomPartTooShort {
        /// The template as given.
        template: String,
        /// The random part's length.
        length: usize,
    },
    /// A placeholder the template language does not have, or a malformed one.
    #[error(
        "the user name template `{template}` has an unknown placeholder `{placeholder}` (known: `{{random}}`, `{{random:N}}`, `{{local}}`, `{{domain}}`)"
    )]
    UnknownPlaceholder {
        /// The template as given.
        template: String,
        /// The placeholder as written.
        placeholder: String,
    },
    /// Literal text a user name may not hold, or a `{` or `}` out of place.
    #[error(
        "the user name template `{template}` has `{character}`, which a user name may not hold (letters, digits, `.`, `-` and `_` only)"
    )]
    BadCharacter {
        /// The template as given.
        template: String,
        /// The character refused.
        character: char,
    },
    /// Names from this template would always be longer than the servers take.
    #[error(
        "names from the user name template `{template}` have at least {length} characters; at most {MAX_USER_NAME_LENGTH} are allowed"
    )]
    TooLong {
        /// The template as given.
        template: String,
        /// The fewest characters its names have.
        length: usize,
    },
    /// For one user: the user ID's parts make a name the rules would refuse.
    #[error(
        "the user name template `{template}` makes no valid name for user `{user_id}`: {reason}"
    )]
    NoValidName {
        /// The template as given.
        template: String,
        /// The user.
        user_id: String,
        /// Which rule the name breaks.
        reason: &'static str,
    },
}

impl Default for UserNameTemplate {
    fn default() -> Self {
        UserNameTemplate {
            pieces: vec![Piece::Random(DEFAULT_RANDOM_LENGTH)],
            text: "{random}".to_owned(),
        }
    }
}

impl fmt::Display for UserNameTemplate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl std::str::FromStr for UserNameTemplate {
    type Err = UserNameTemplateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        UserNameTemplate::parse(text)
    }
}

impl UserNameTemplate {
    /// Reads and checks a template: exactly one random part of at least
    /// [`MIN_RANDOM_LENGTH`] characters, known placeholders, allowed literal characters, and
    /// names no longer than [`MAX_USER_NAME_LENGTH`] before the user ID's parts are added.
    pub fn parse(text: &str) -> Result<UserNameTemplate, UserNameTemplateError> {
        let template = text.to_owned();
        let mut pieces = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after_brace) = rest.strip_prefix('{') {
                let Some(end) = after_brace.find('}') else {
                    return Err(UserNameTemplateError::BadCharacter {
                        template,
                        character: '{',
                    });
                };
                pieces.push(placeholder(&after_brace[..end], &template)?);
                rest = &after_brace[end + 1..];
                continue;
            }
            let end = rest.find('{').unwrap_or(rest.len());
            let literal = &rest[..end];
            if let Some(character) = literal
                .chars()
                .find(|&character| !is_name_character(character))
            {
                return Err(UserNameTemplateError::BadCharacter {
                    template,
                    character,
                });
            }
            pieces.push(Piece::Text(literal.to_owned()));
            rest = &rest[end..];
        }
        let random: Vec<usize> = pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Random(length) => Some(*length),
                _ => None,
            })
            .collect();
        match random[..] {
            [] => return Err(UserNameTemplateError::NoRandomPart { template }),
            [length] if length < MIN_RANDOM_LENGTH => {
                return Err(UserNameTemplateError::RandomPartTooShort { template, length });
            }
            [_] => {}
            _ => return Err(UserNameTemplateError::SeveralRandomParts { template }),
        }
        let fixed_length: usize = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.len(),
                Piece::Random(length) => *length,
                Piece::LocalPart | Piece::Domain => 0,
            })
            .fold(0, usize::saturating_add);
        if fixed_length > MAX_USER_NAME_LENGTH {
            return Err(UserNameTemplateError::TooLong {
                template,
                length: fixed_length,
            });
        }
        Ok(UserNameTemplate {
            pieces,
            text: template,
        })
    }

    /// A fresh name for `user_id`, its random part drawn from `rng` (the caller passes a
    /// cryptographically secure one, such as `rand::rng()`). Refused when the user ID's parts make
    /// a name longer than [`MAX_USER_NAME_LENGTH`], empty, or with a character a name may not
    /// hold: the template cannot serve that user.
    pub fn name_for(
        &self,
        user_id: &str,
        rng: &mut impl Rng,
    ) -> Result<String, UserNameTemplateError> {
        let (local_part, domain) = user_id.split_once('@').unwrap_or((user_id, ""));
        let mut name = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => name.push_str(text),
                Piece::Random(length) => name.extend((0..*length).map(|_| {
                    char::from(RANDOM_ALPHABET[rng.random_range(0..RANDOM_ALPHABET.len())])
                })),
                Piece::LocalPart => name.push_str(local_part),
                Piece::Domain => name.push_str(domain),
            }
        }
        let refuse = |reason| UserNameTemplateError::NoValidName {
            template: self.text.clone(),
            user_id: user_id.to_owned(),
            reason,
        };
        if name.chars().count() > MAX_USER_NAME_LENGTH {
            // The reason is a static text: the assertion keeps its number the limit's.
            const _: () = assert!(MAX_USER_NAME_LENGTH == 80);
            return Err(refuse("it would be longer than 80 characters"));
        }
        if !name.chars().all(is_name_character) {
            return Err(refuse(
                "the user ID holds characters a user name may not hold",
            ));
        }
        Ok(name)
    }
}

impl UserNameTemplate {
    /// Whether the template makes a valid name for `user_id` (its parts neither too long nor
    /// holding characters a name may not hold): checked before anything changes, for the users
    /// a caller knows up front.
    pub fn check_user_id(&self, user_id: &str) -> Result<(), UserNameTemplateError> {
        self.name_for(user_id, &mut rand::rng()).map(drop)
    }
}

fn is_name_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || OTHER_NAME_CHARACTERS.contains(&character)
}

/// One `{...}` placeholder, its braces taken off.
fn placeholder(inside: &str, template: &str) -> Result<Piece, UserNameTemplateError> {
    let unknown = || UserNameTemplateError::UnknownPlaceholder {
        template: template.to_owned(),
        placeholder: format!("{{{inside}}}"),
    };
    match inside {
        "random" => Ok(Piece::Random(DEFAULT_RANDOM_LENGTH)),
        "local" => Ok(Piece::LocalPart),
        "domain" => Ok(Piece::Domain),
        _ => {
            let length = inside.strip_prefix("random:").ok_or_else(unknown)?;
            if length.is_empty() || !length.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(unknown());
            }
            // A length too large for `usize` is longer than any name anyway.
            Ok(Piece::Random(length.parse().unwrap_or(usize::MAX)))
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn the_default_is_twelve_random_lowercase_letters_and_digits() {
        let template = UserNameTemplate::default();
        assert_eq!(template.to_string(), "{random}");
        assert_eq!(UserNameTemplate::parse("{random}").unwrap(), template);
        let mut rng = rng();
        let first = template.name_for("u1@x.example", &mut rng).unwrap();
        let second = template.name_for("u1@x.example", &mut rng).unwrap();
        for name in [&first, &second] {
            assert_eq!(name.len(), 12, "{name}");
            assert!(
                name.bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit()),
                "{name}"
            );
        }
        assert_ne!(first, second);
    }

    #[test]
    fn the_user_ids_parts_go_where_the_template_says() {
        let template = UserNameTemplate::parse("{local}.{random:8}-{domain}").unwrap();
        let name = template.name_for("ann@acme.example", &mut rng()).unwrap();
        let (head, tail) = name.split_at(4);
        assert_eq!(head, "ann.");
        assert_eq!(&tail[8..], "-acme.example");
        assert!(
            tail[..8]
                .bytes()
                .all(|byte| RANDOM_ALPHABET.contains(&byte))
        );
        // A user ID without `@`: all of it is the local part, the domain is empty.
        let name = template.name_for("4155550100", &mut rng()).unwrap();
        assert!(
            name.starts_with("4155550100.") && name.ends_with('-'),
            "{name}"
        );
    }

    #[test]
    fn bad_templates_are_refused_before_anything_changes() {
        let refused = |text: &str| UserNameTemplate::parse(text).unwrap_err();
        assert!(matches!(
            refused("sip-{local}"),
            UserNameTemplateError::NoRandomPart { .. }
        ));
        assert!(matches!(
            refused(""),
            UserNameTemplateError::NoRandomPart { .. }
        ));
        assert_eq!(
            refused("{random:7}"),
            UserNameTemplateError::RandomPartTooShort {
                template: "{random:7}".into(),
                length: 7
            }
        );
        assert!(UserNameTemplate::parse("{random:8}").is_ok());
        assert!(matches!(
            refused("{random}{random}"),
            UserNameTemplateError::SeveralRandomParts { .. }
        ));
        for unknown in ["{user}", "{random:}", "{random:x}", "{Random}"] {
            assert!(
                matches!(
                    refused(unknown),
                    UserNameTemplateError::UnknownPlaceholder { .. }
                ),
                "{unknown}"
            );
        }
        for bad in ["{random} x", "a@{random}", "{random", "{random}}"] {
            assert!(
                matches!(refused(bad), UserNameTemplateError::BadCharacter { .. }),
                "{bad}"
            );
        }
        assert!(matches!(
            refused("{random:81}"),
            UserNameTemplateError::TooLong { length: 81, .. }
        ));
        assert!(matches!(
            refused("{random:99999999999999999999999}"),
            UserNameTemplateError::TooLong { .. }
        ));
        let message = refused("{who}").to_string();
        assert!(message.contains("`{who}`"), "{message}");
    }

    #[test]
    fn a_user_id_that_makes_no_valid_name_is_refused_for_that_user() {
        let template = UserNameTemplate::parse("{local}{random:70}").unwrap();
        assert!(template.name_for("0123456789@x", &mut rng()).is_ok());
        let long = template.name_for("0123456789a@x", &mut rng()).unwrap_err();
        assert!(matches!(long, UserNameTemplateError::NoValidName { .. }));
        let template = UserNameTemplate::parse("{local}-{random}").unwrap();
        let odd = template.name_for("ann+1@x", &mut rng()).unwrap_err();
        assert!(odd.to_string().contains("`ann+1@x`"), "{odd}");
    }
}
