//! Just enough of an X.509 certificate's DER to show it to an operator: subject, issuer,
//! validity and the DNS names and addresses it is issued for. Nothing here decides trust (rustls
//! does); a certificate this reader does not follow gives `None`, never a panic.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::wire;

/// What an operator needs to know about a server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSummary {
    /// The subject, as `CN=..., O=...` (the attributes this reader knows).
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// The DNS names and IP addresses of the subject alternative names.
    pub names: Vec<String>,
}

/// One DER element: its tag and its contents.
struct Element<'a> {
    tag: u8,
    contents: &'a [u8],
}

/// Reads DER elements one after the other.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn next(&mut self) -> Option<Element<'a>> {
        let (&tag, after_tag) = self.rest.split_first()?;
        // Multi-byte tags do not occur in the parts read here.
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, after_length) = after_tag.split_first()?;
        let (length, after_length) = if first < 0x80 {
            (usize::from(first), after_length)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || after_length.len() < count {
                return None;
            }
            let (bytes, after) = after_length.split_at(count);
            let length = bytes
                .iter()
                .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
            (length, after)
        };
        if after_length.len() < length {
            return None;
        }
        let (contents, rest) = after_length.split_at(length);
        self.rest = rest;
        Some(Element { tag, contents })
    }

    /// The next element, which must have `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let element = self.next()?;
        (element.tag == tag).then_some(element.contents)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// Summarises a DER certificate; `None` if it cannot be read.
pub(crate) fn summarise(der: &[u8]) -> Option<CertificateSummary> {
    let certificate = Reader::new(der).expect(SEQUENCE)?;
    let mut tbs = Reader::new(Reader::new(certificate).expect(SEQUENCE)?);
    let mut element = tbs.next()?;
    if element.tag == 0xa0 {
        // The explicit version.
        element = tbs.next()?;
    }
    if element.tag != 0x02 {
        return None;
    }
    let _signature_algorithm = tbs.expect(SEQUENCE)?;
    let issuer = name(tbs.expect(SEQUENCE)?)?;
    let mut validity = Reader::new(tbs.expect(SEQUENCE)?);
    let not_before = time(&validity.next()?)?;
    let not_after = time(&validity.next()?)?;
    let subject = name(tbs.expect(SEQUENCE)?)?;
    let _public_key = tbs.expect(SEQUENCE)?;
    let mut names = Vec::new();
    while let Some(element) = tbs.next() {
        if element.tag == 0xa3 {
            names = alternative_names(element.contents).unwrap_or_default();
        }
    }
    Some(CertificateSummary {
        subject,
        issuer,
        not_before,
        not_after,
        names,
    })
}

/// A distinguished name as `CN=..., O=...`, in the order of the certificate.
fn name(contents: &[u8]) -> Option<String> {
    let mut text = String::new();
    let mut sets = Reader::new(contents);
    while !sets.is_empty() {
        let mut attributes = Reader::new(sets.expect(SET)?);
        while !attributes.is_empty() {
            let mut attribute = Reader::new(attributes.expect(SEQUENCE)?);
            let oid = attribute.expect(OID)?;
            let value = attribute.next()?;
            let label = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x06] => "C",
                [0x55, 0x04, 0x07] => "L",
                [0x55, 0x04, 0x08] => "ST",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                _ => continue,
            };
            let Some(value) = string(&value) else {
                continue;
            };
            if !text.is_empty() {
                text.push_str(", ");
            }
            let _ = write!(text, "{label}={}", wire::sanitise(&value, 200));
        }
    }
    Some(text)
}

fn string(element: &Element<'_>) -> Option<String> {
    match element.tag {
        // UTF8String, PrintableString, T61String (read as Latin-1-ish UTF-8), IA5String.
        0x0c | 0x13 | 0x14 | 0x16 => Some(String::from_utf8_lossy(element.contents).into_owned()),
        // BMPString: UTF-16, big-endian.
        0x1e => {
            let units: Vec<u16> = element
                .contents
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// The DNS names and IP addresses of the subject alternative name extension.
fn alternative_names(explicit: &[u8]) -> Option<Vec<String>> {
    let mut extensions = Reader::new(Reader::new(explicit).expect(SEQUENCE)?);
    while !extensions.is_empty() {
        let mut extension = Reader::new(extensions.expect(SEQUENCE)?);
        if extension.expect(OID)? != SUBJECT_ALT_NAME {
            continue;
        }
        let mut value = extension.next()?;
        if value.tag == 0x01 {
            // `critical`
            value = extension.next()?;
        }
        if value.tag != 0x04 {
            return None;
        }
        let mut general_names = Reader::new(Reader::new(value.contents).expect(SEQUENCE)?);
        let mut names = Vec::new();
        while let Some(general_name) = general_names.next() {
            match (general_name.tag, general_name.contents.len()) {
                (0x82, _) => names.push(wire::sanitise(
                    &String::from_utf8_lossy(general_name.contents),
                    200,
                )),
                (0x87, 4) => {
                    let octets: [u8; 4] = general_name.contents.try_into().ok()?;
                    names.push(std::net::Ipv4Addr::from(octets).to_string());
                }
                (0x87, 16) => {
                    let octets: [u8; 16] = general_name.contents.try_into().ok()?;
                    names.push(std::net::Ipv6Addr::from(octets).to_string());
                }
                _ => {}
            }
        }
        return Some(names);
    }
    Some(Vec::new())
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(element: &Element<'_>) -> Option<SystemTime> {
    let text = std::str::from_utf8(element.contents).ok()?;
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match element.tag {
        0x17 if text.len() == 12 => {
            let short: i64 = text.get(..2)?.parse().ok()?;
            (
                if short >= 50 {
                    1900 + short
                } else {
                    2000 + short
                },
                &text[2..],
            )
        }
        0x18 if text.len() == 14 => (text.get(..4)?.parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |range: std::ops::Range<usize>| rest.get(range)?.parse::<i64>().ok();
    let (month, day) = (field(0..2)?, field(2..4)?);
    let (hour, minute, second) = (field(4..6)?, field(6..8)?, field(8..10)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let seconds = u64::try_from(seconds).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// well-known algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC`, for messages.
pub fn format_utc(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let (days, in_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // The inverse of `days_from_civil`.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_to_der(pem: &str) -> Vec<u8> {
        use base64::Engine as _;
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64")
    }

    #[test]
    fn reads_the_test_certificates() {
        let front = summarise(&pem_to_der(include_str!(
            "../tests/fixtures/first-contact/front.pem"
        )))
        .expect("readable");
        assert_eq!(front.subject, "CN=odin.test, O=bwreset tests");
        assert_eq!(
            front.issuer,
            "CN=bwreset first-contact test CA, O=bwreset tests"
        );
        assert_eq!(front.names, ["localhost", "127.0.0.1", "odin.test"]);
        assert!(front.not_after > SystemTime::now());

        let expired = summarise(&pem_to_der(include_str!(
            "../tests/fixtures/first-contact/expired.pem"
        )))
        .expect("readable");
        assert_eq!(format_utc(expired.not_before), "2020-01-01 00:00:00 UTC");
        assert_eq!(format_utc(expired.not_after), "2021-01-01 00:00:00 UTC");
    }

    #[test]
    fn garbage_is_none_never_a_panic() {
        let front = pem_to_der(include_str!("../tests/fixtures/first-contact/front.pem"));
        for length in 0..front.len() {
            let _ = summarise(&front[..length]);
        }
        assert!(summarise(&[]).is_none());
        assert!(summarise(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        let mut flipped = front.clone();
        for index in (0..flipped.len()).step_by(7) {
            flipped[index] ^= 0x5a;
            let _ = summarise(&flipped);
        }
    }

    #[test]
    fn dates_round_trip() {
        for (text, seconds) in [
            ("1970-01-01 00:00:00 UTC", 0),
            ("2000-02-29 12:34:56 UTC", 951_827_696),
            ("2126-11-07 00:36:44 UTC", 4_949_685_404),
        ] {
            assert_eq!(format_utc(UNIX_EPOCH + Duration::from_secs(seconds)), text);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
