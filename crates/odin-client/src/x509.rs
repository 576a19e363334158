//! What an operator needs to see of a server's certificate: subject, issuer, validity and the
//! DNS names and addresses it is issued for, read with `x509-parser`. Nothing here decides trust
//! (rustls does); a certificate that cannot be read gives `None`, never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_X509_COMMON_NAME, OID_X509_COUNTRY_NAME, OID_X509_LOCALITY_NAME,
    OID_X509_ORGANIZATION_NAME, OID_X509_ORGANIZATIONAL_UNIT, OID_X509_STATE_OR_PROVINCE_NAME,
};
use x509_parser::prelude::FromDer as _;
use x509_parser::time::ASN1Time;
use x509_parser::x509::X509Name;

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

/// Summarises a DER certificate; `None` if it cannot be read.
pub(crate) fn summarise(der: &[u8]) -> Option<CertificateSummary> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    let validity = certificate.validity();
    let names = match certificate.subject_alternative_name() {
        Ok(Some(extension)) => extension
            .value
            .general_names
            .iter()
            .filter_map(general_name)
            .collect(),
        Ok(None) | Err(_) => Vec::new(),
    };
    Some(CertificateSummary {
        subject: name(certificate.subject()),
        issuer: name(certificate.issuer()),
        not_before: system_time(validity.not_before),
        not_after: system_time(validity.not_after),
        names,
    })
}

/// A distinguished name as `CN=..., O=...`, in the order of the certificate, with the
/// attributes an operator recognises (others, and values that are not text, are left out).
fn name(name: &X509Name<'_>) -> String {
    let labels = [
        (&OID_X509_COMMON_NAME, "CN"),
        (&OID_X509_COUNTRY_NAME, "C"),
        (&OID_X509_LOCALITY_NAME, "L"),
        (&OID_X509_STATE_OR_PROVINCE_NAME, "ST"),
        (&OID_X509_ORGANIZATION_NAME, "O"),
        (&OID_X509_ORGANIZATIONAL_UNIT, "OU"),
    ];
    let parts: Vec<String> = name
        .iter_attributes()
        .filter_map(|attribute| {
            let (_, label) = labels
                .iter()
                .find(|(oid, _)| *oid == attribute.attr_type())?;
            let value = attribute.as_str().ok()?;
            Some(format!("{label}={}", wire::sanitise(value, 200)))
        })
        .collect();
    parts.join(", ")
}

/// A DNS name or IP address of the subject alternative names.
fn general_name(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(dns) => Some(wire::sanitise(dns, 200)),
        GeneralName::IPAddress(octets) => match octets.len() {
            4 => <[u8; 4]>::try_from(*octets)
                .ok()
                .map(|octets| std::net::Ipv4Addr::from(octets).to_string()),
            16 => <[u8; 16]>::try_from(*octets)
                .ok()
                .map(|octets| std::net::Ipv6Addr::from(octets).to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn system_time(time: ASN1Time) -> SystemTime {
    let seconds = time.timestamp();
    match u64::try_from(seconds) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after),
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()),
    }
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC`, for messages (times before 1970 read as 1970).
pub fn format_utc(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    });
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(utc) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second()
        ),
        Err(_) => "a date beyond the year 9999".to_owned(),
    }
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
    }
}
