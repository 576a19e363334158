//! `reset --encrypt-to` and `resume --identity`: no new credential touches the disk in clear.
//!
//! Given one or more age X25519 recipients (`age1...`), a run encrypts
//!
//! - the output (JSON or CSV) as one ASCII-armored age file, which `age -d -i key.txt FILE`
//!   decrypts, encrypted as it is written (age's STREAM, in chunks of 64 KiB);
//! - each value in the journal (the `value` of an `intent` record) on its own, as a binary age
//!   file in standard base64, marked `"sealed": "age"` (the engine's [`ValueSealer`] hook).
//!
//! The recipients are kept in the journal's header (`meta.files.encryptTo`), so that `resume`
//! encrypts what it writes to the same ones; it needs an identity (`--identity key.txt`) to
//! open the values already in the journal. The failures file and the audit record hold no
//! values and stay in clear.
//!
//! The age crate is behind the `encrypt` feature. Without it the flags still parse, and say
//! clearly that this binary cannot encrypt.

use std::path::Path;
use std::sync::Arc;

use bwreset_core::ValueSealer;

use crate::errors::Failure;

/// Whether this binary was built with the `encrypt` feature.
pub(crate) const AVAILABLE: bool = cfg!(feature = "encrypt");

/// The refusal of a binary built without the `encrypt` feature.
pub(crate) fn not_built(what: &str) -> Failure {
    Failure::usage(format!(
        "{what} needs encryption, and this bwreset was built without it (the `encrypt` feature); nothing was changed"
    ))
    .with_hint("build bwreset with encryption: `cargo build --release -p bwreset --features encrypt`")
}

#[cfg(feature = "encrypt")]
pub(crate) use with_age::{check_recipients, output_encryptor, sealer};

#[cfg(not(feature = "encrypt"))]
pub(crate) use without_age::{check_recipients, output_encryptor, sealer};

#[cfg(not(feature = "encrypt"))]
mod without_age {
    use super::*;

    /// Without the feature, any recipient is refused.
    pub(crate) fn check_recipients(given: &[String]) -> Result<Vec<String>, Failure> {
        if given.is_empty() {
            Ok(Vec::new())
        } else {
            Err(not_built("`--encrypt-to`"))
        }
    }

    pub(crate) fn sealer(
        _recipients: &[String],
        _identity: Option<&Path>,
    ) -> Result<Arc<dyn ValueSealer>, Failure> {
        Err(not_built("an encrypted journal"))
    }

    /// Without the feature there is none to be had.
    #[derive(Debug)]
    pub(crate) enum OutputEncryptor {}

    impl OutputEncryptor {
        pub(crate) fn encrypt(
            self,
            _out: &mut dyn std::io::Write,
            _write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
        ) -> std::io::Result<()> {
            match self {}
        }
    }

    pub(crate) fn output_encryptor(_recipients: &[String]) -> anyhow::Result<OutputEncryptor> {
        Err(not_built("an encrypted output").into())
    }
}

#[cfg(feature = "encrypt")]
mod with_age {
    use std::collections::HashSet;
    use std::fmt;
    use std::io::{self, Read, Write};
    use std::str::FromStr;
    use std::sync::Mutex;

    use age::x25519;
    use age_core::format::{FileKey, Stanza};
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD as BASE64, STANDARD_NO_PAD as BASE64_NO_PAD};
    use bwreset_core::{ExposeSecret, SealError, SecretString};
    use zeroize::{Zeroize, Zeroizing};

    use super::*;

    /// The scheme written beside each sealed journal value.
    const SCHEME: &str = "age";

    /// The largest identity file read.
    const MAX_IDENTITY_FILE: u64 = 1 << 20;

    /// Checks the recipients of `--encrypt-to` and gives them back in their canonical form,
    /// without duplicates, in the order given.
    pub(crate) fn check_recipients(given: &[String]) -> Result<Vec<String>, Failure> {
        let mut recipients: Vec<String> = Vec::new();
        for text in given {
            let recipient = parse_recipient(text.trim())?;
            let canonical = recipient.to_string();
            if !recipients.contains(&canonical) {
                recipients.push(canonical);
            }
        }
        Ok(recipients)
    }

    fn parse_recipient(text: &str) -> Result<x25519::Recipient, Failure> {
        x25519::Recipient::from_str(text).map_err(|reason| {
            Failure::usage(format!(
                "`--encrypt-to {text}` is not an age X25519 recipient: {reason}"
            ))
            .with_hint(
                "a recipient is a public key starting with `age1`; `age-keygen -y key.txt` prints the one of a key",
            )
        })
    }

    fn parse_recipients(recipients: &[String]) -> Result<Vec<x25519::Recipient>, Failure> {
        if recipients.is_empty() {
            return Err(Failure::usage("encryption needs at least one recipient"));
        }
        recipients
            .iter()
            .map(|text| parse_recipient(text))
            .collect()
    }

    /// The journal's sealer: seals to `recipients`; with an identity file, also opens the values
    /// an earlier run sealed (and refuses an identity that is none of the recipients).
    pub(crate) fn sealer(
        recipients: &[String],
        identity: Option<&Path>,
    ) -> Result<Arc<dyn ValueSealer>, Failure> {
        let recipients = parse_recipients(recipients)?;
        let identities = match identity {
            Some(path) => {
                let identities = read_identities(path)?;
                let publics: Vec<String> = identities
                    .iter()
                    .map(|identity| identity.to_public().to_string())
                    .collect();
                let known: Vec<String> = recipients.iter().map(ToString::to_string).collect();
                if !publics.iter().any(|public| known.contains(public)) {
                    return Err(Failure::usage(format!(
                        "the identity in `{}` is none of the recipients the journal was encrypted to ({})",
                        path.display(),
                        known.join(", ")
                    ))
                    .with_hint("give the key file of one of these recipients with `--identity`"));
                }
                identities
            }
            None => Vec::new(),
        };
        Ok(Arc::new(AgeSealer {
            recipients,
            identities,
            known: Mutex::new(KnownFileKeys::default()),
        }))
    }

    /// Reads an age identity file: `AGE-SECRET-KEY-1...` lines, `#` comments and blank lines,
    /// as `age-keygen` writes it. No line of it is ever printed.
    fn read_identities(path: &Path) -> Result<Vec<x25519::Identity>, Failure> {
        let shown = path.display();
        let cannot = |reason: String| {
            Failure::usage(format!("cannot use identity file `{shown}`: {reason}"))
        };
        let file = std::fs::File::open(path).map_err(|error| cannot(error.to_string()))?;
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_IDENTITY_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|error| cannot(error.to_string()))?;
        if text.len() as u64 > MAX_IDENTITY_FILE {
            return Err(cannot("larger than 1 MiB: not an identity file".into()));
        }
        let mut identities = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match x25519::Identity::from_str(line) {
                Ok(identity) => identities.push(identity),
                Err(_)
                    if line.starts_with("age-encryption.org/")
                        || line.starts_with("-----BEGIN AGE") =>
                {
                    return Err(cannot(
                        "it is encrypted with a passphrase, which bwreset does not read".into(),
                    )
                    .with_hint("decrypt it to a private file first: `age -d -o key.txt key.age`"));
                }
                Err(_) => {
                    return Err(cannot(format!(
                        "line {} is not an age X25519 identity (`AGE-SECRET-KEY-1...`)",
                        index + 1
                    )));
                }
            }
        }
        if identities.is_empty() {
            return Err(cannot("it holds no identity".into()));
        }
        Ok(identities)
    }

    /// Encrypts the output to the run's recipients, once they are checked (before any file is
    /// created).
    pub(crate) struct OutputEncryptor {
        encryptor: age::Encryptor,
    }

    impl fmt::Debug for OutputEncryptor {
        fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter
                .debug_struct("OutputEncryptor")
                .finish_non_exhaustive()
        }
    }

    /// The encryptor of the output, for `recipients`.
    pub(crate) fn output_encryptor(recipients: &[String]) -> anyhow::Result<OutputEncryptor> {
        let recipients = parse_recipients(recipients)?;
        let encryptor = age::Encryptor::with_recipients(
            recipients
                .iter()
                .map(|recipient| recipient as &dyn age::Recipient),
        )
        .map_err(|error| anyhow::anyhow!("cannot encrypt the output: {error}"))?;
        Ok(OutputEncryptor { encryptor })
    }

    impl OutputEncryptor {
        /// Writes to `out`, as one ASCII-armored age file, what `write` writes, encrypted as it
        /// comes: the plaintext never sits in memory whole. (age keeps up to one 64 KiB chunk
        /// of it in a buffer of its own until the chunk is encrypted; that buffer is not
        /// wiped.)
        pub(crate) fn encrypt(
            self,
            out: &mut dyn Write,
            write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
        ) -> io::Result<()> {
            let armored =
                age::armor::ArmoredWriter::wrap_output(out, age::armor::Format::AsciiArmor)?;
            let mut writer = self.encryptor.wrap_output(armored)?;
            write(&mut writer)?;
            writer.finish()?.finish()?;
            Ok(())
        }
    }

    /// Seals each journal value as its own binary age file, in base64.
    struct AgeSealer {
        recipients: Vec<x25519::Recipient>,
        identities: Vec<x25519::Identity>,
        /// The file keys of the values this process sealed or opened: the report at the end of
        /// a run replays the journal, and a `reset` has no identity to open what it sealed (nor
        /// should it pay for opening it again). About 32 bytes per value, whatever its length.
        known: Mutex<KnownFileKeys>,
    }

    impl fmt::Debug for AgeSealer {
        fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter
                .debug_struct("AgeSealer")
                .field("recipients", &self.recipients.len())
                .field("identities", &self.identities.len())
                .finish_non_exhaustive()
        }
    }

    impl AgeSealer {
        fn known(&self) -> std::sync::MutexGuard<'_, KnownFileKeys> {
            self.known
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
        }
    }

    impl ValueSealer for AgeSealer {
        fn scheme(&self) -> &str {
            SCHEME
        }

        fn seal(&self, value: &SecretString) -> Result<String, SealError> {
            let failed = |error: &dyn fmt::Display| SealError::new(format!("age: {error}"));
            // The first recipient's stanza is made through a wrapper that keeps the file key
            // age draws for this value; the stanzas are the ones age itself writes.
            let first = Keeping {
                recipient: self
                    .recipients
                    .first()
                    .ok_or_else(|| SealError::new("no recipient"))?,
                kept: Mutex::new(None),
            };
            let encryptor = age::Encryptor::with_recipients(
                std::iter::once(&first as &dyn age::Recipient).chain(
                    self.recipients[1..]
                        .iter()
                        .map(|recipient| recipient as &dyn age::Recipient),
                ),
            )
            .map_err(|error| failed(&error))?;
            let mut encrypted = Vec::with_capacity(256);
            let mut writer = encryptor
                .wrap_output(&mut encrypted)
                .map_err(|error| failed(&error))?;
            writer
                .write_all(value.expose_secret().as_bytes())
                .and_then(|()| writer.finish().map(drop))
                .map_err(|error| failed(&error))?;
            if let Some((tag, file_key)) = first.kept.into_inner().ok().flatten() {
                self.known().insert(tag, &file_key);
            }
            Ok(BASE64.encode(&encrypted))
        }

        fn open(&self, sealed: &str) -> Result<SecretString, SealError> {
            let encrypted = BASE64
                .decode(sealed)
                .map_err(|_| SealError::new("the sealed value is not base64"))?;
            let tags = header_tags(&encrypted)?;
            let candidates: Vec<FileKey> = {
                let known = self.known();
                tags.iter().flat_map(|&tag| known.find(tag)).collect()
            };
            // Nearly always one candidate; two values whose first stanzas share 8 bytes of their
            // ephemeral key are told apart by the header's MAC.
            for file_key in candidates {
                if let Ok(value) = decrypt(&encrypted, &[&Known(Mutex::new(Some(file_key)))]) {
                    return Ok(value);
                }
            }
            if self.identities.is_empty() {
                return Err(SealError::new(
                    "the value is encrypted with age and no identity was given",
                ));
            }
            let keeping: Vec<KeepingIdentity<'_>> = self
                .identities
                .iter()
                .map(|identity| KeepingIdentity {
                    identity,
                    kept: Mutex::new(None),
                })
                .collect();
            let identities: Vec<&dyn age::Identity> = keeping
                .iter()
                .map(|identity| identity as &dyn age::Identity)
                .collect();
            let value = decrypt(&encrypted, &identities)?;
            let kept = keeping
                .into_iter()
                .find_map(|identity| identity.kept.into_inner().ok().flatten());
            if let Some((tag, file_key)) = kept {
                self.known().insert(tag, &file_key);
            }
            Ok(value)
        }
    }

    /// Opens one binary age file with `identities`: the value in it.
    fn decrypt(
        encrypted: &[u8],
        identities: &[&dyn age::Identity],
    ) -> Result<SecretString, SealError> {
        let decryptor = age::Decryptor::new_buffered(encrypted)
            .map_err(|error| SealError::new(format!("not an age file: {error}")))?;
        let mut reader =
            decryptor
                .decrypt(identities.iter().copied())
                .map_err(|error| match error {
                    age::DecryptError::NoMatchingKeys => SealError::new(
                        "the identity given is none of the recipients this value was encrypted to",
                    ),
                    other => SealError::new(format!("age: {other}")),
                })?;
        let mut plaintext = Zeroizing::new(Vec::with_capacity(64));
        reader
            .read_to_end(&mut plaintext)
            .map_err(|error| SealError::new(format!("age: {error}")))?;
        let text = std::str::from_utf8(&plaintext)
            .map_err(|_| SealError::new("the opened value is not UTF-8"))?;
        Ok(SecretString::from(text))
    }

    /// The tag of an X25519 stanza: the first 8 bytes of its ephemeral public key, which age
    /// draws at random for each value.
    fn stanza_tag(stanza: &Stanza) -> Option<u64> {
        if stanza.tag != "X25519" {
            return None;
        }
        let key = BASE64_NO_PAD.decode(stanza.args.first()?).ok()?;
        let first: [u8; 8] = key.get(..8)?.try_into().ok()?;
        Some(u64::from_le_bytes(first))
    }

    /// The tags of the X25519 stanzas of a binary age file's header (read with age's own
    /// parser, through an identity that unwraps nothing).
    fn header_tags(encrypted: &[u8]) -> Result<Vec<u64>, SealError> {
        let decryptor = age::Decryptor::new_buffered(encrypted)
            .map_err(|error| SealError::new(format!("not an age file: {error}")))?;
        let looking = Looking(Mutex::new(Vec::new()));
        // Unwrapping nothing, the decryption ends with "no matching keys", as it must.
        let _ = decryptor.decrypt(std::iter::once(&looking as &dyn age::Identity));
        Ok(looking
            .0
            .into_inner()
            .unwrap_or_else(|poison| poison.into_inner()))
    }

    /// Notes the tags of the stanzas it is shown, and unwraps none.
    struct Looking(Mutex<Vec<u64>>);

    impl age::Identity for Looking {
        fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
            if let Some(tag) = stanza_tag(stanza) {
                self.0
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .push(tag);
            }
            None
        }
    }

    /// Gives age a file key already known, once.
    struct Known(Mutex<Option<FileKey>>);

    impl age::Identity for Known {
        fn unwrap_stanza(&self, _stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
            self.0
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .take()
                .map(Ok)
        }
    }

    /// An X25519 recipient that keeps the file key it wraps, with the tag of its stanza.
    struct Keeping<'a> {
        recipient: &'a x25519::Recipient,
        kept: Mutex<Option<(u64, Zeroizing<[u8; 16]>)>>,
    }

    impl age::Recipient for Keeping<'_> {
        fn wrap_file_key(
            &self,
            file_key: &FileKey,
        ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
            let (stanzas, labels) = self.recipient.wrap_file_key(file_key)?;
            if let Some(tag) = stanzas.first().and_then(stanza_tag) {
                *self
                    .kept
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner()) =
                    Some((tag, Zeroizing::new(*file_key.expose_secret())));
            }
            Ok((stanzas, labels))
        }
    }

    /// An X25519 identity that keeps the file key it unwraps, with the tag of the stanza.
    struct KeepingIdentity<'a> {
        identity: &'a x25519::Identity,
        kept: Mutex<Option<(u64, Zeroizing<[u8; 16]>)>>,
    }

    impl age::Identity for KeepingIdentity<'_> {
        fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
            let unwrapped = self.identity.unwrap_stanza(stanza)?;
            if let (Ok(file_key), Some(tag)) = (&unwrapped, stanza_tag(stanza)) {
                *self
                    .kept
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner()) =
                    Some((tag, Zeroizing::new(*file_key.expose_secret())));
            }
            Some(unwrapped)
        }
    }

    /// One known file key: the tag of its value's stanza and the key.
    #[derive(Clone, Copy, Default)]
    struct Entry {
        tag: u64,
        file_key: [u8; 16],
    }

    impl Zeroize for Entry {
        fn zeroize(&mut self) {
            self.tag.zeroize();
            self.file_key.zeroize();
        }
    }

    /// The file keys of the values a process sealed or opened, found by their stanza's tag:
    /// a list of entries (24 bytes each), and an open-addressing index of their positions
    /// (`u32`, at most half full: 4 to 8 bytes per entry). The list grows by copying into a
    /// list twice as large and wiping the old one, so no file key is left in freed memory.
    #[derive(Default)]
    struct KnownFileKeys {
        entries: Zeroizing<Vec<Entry>>,
        /// Positions in `entries` plus one; 0 is an empty slot. Its length is a power of two.
        slots: Vec<u32>,
    }

    impl KnownFileKeys {
        fn insert(&mut self, tag: u64, file_key: &[u8; 16]) {
            if self
                .find(tag)
                .any(|known| known.expose_secret() == file_key)
            {
                return;
            }
            if self.entries.len() == self.entries.capacity() {
                let mut larger = Vec::with_capacity((self.entries.len() * 2).max(64));
                larger.extend_from_slice(&self.entries);
                // The old list is wiped as it is dropped.
                self.entries = Zeroizing::new(larger);
            }
            let Ok(position) = u32::try_from(self.entries.len() + 1) else {
                // Past four billion values nothing more is kept: they are opened again.
                return;
            };
            self.entries.push(Entry {
                tag,
                file_key: *file_key,
            });
            if self.slots.len() < 2 * self.entries.len() {
                self.slots = vec![0; (self.slots.len() * 2).max(128)];
                for (index, entry) in self.entries.iter().enumerate() {
                    Self::place(&mut self.slots, entry.tag, index as u32 + 1);
                }
            } else {
                Self::place(&mut self.slots, tag, position);
            }
        }

        fn place(slots: &mut [u32], tag: u64, position: u32) {
            let mask = slots.len() - 1;
            let mut slot = tag as usize & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = position;
        }

        /// The file keys kept under `tag` (nearly always none or one).
        fn find(&self, tag: u64) -> impl Iterator<Item = FileKey> + '_ {
            let mask = self.slots.len().wrapping_sub(1);
            let mut slot = tag as usize & mask;
            std::iter::from_fn(move || {
                loop {
                    let position = *self.slots.get(slot)?;
                    if position == 0 {
                        return None;
                    }
                    slot = (slot + 1) & mask;
                    let entry = self.entries.get(position as usize - 1)?;
                    if entry.tag == tag {
                        return Some(FileKey::new(Box::new(entry.file_key)));
                    }
                }
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn key() -> (x25519::Identity, String) {
            let identity = x25519::Identity::generate();
            let recipient = identity.to_public().to_string();
            (identity, recipient)
        }

        fn identity_file(directory: &Path, identity: &x25519::Identity) -> std::path::PathBuf {
            let path = directory.join("key.txt");
            std::fs::write(
                &path,
                format!(
                    "# created: now\n# public key: {}\n{}\n",
                    identity.to_public(),
                    identity.to_string().expose_secret()
                ),
            )
            .unwrap();
            path
        }

        #[test]
        fn values_sealed_by_one_process_open_in_another_with_the_identity() {
            let directory = tempfile::tempdir().unwrap();
            let (identity, recipient) = key();
            let (_, other) = key();
            let recipients = vec![recipient, other];
            let writer = sealer(&recipients, None).unwrap();
            let value = SecretString::from("Sealed-Value-7");
            let sealed = writer.seal(&value).unwrap();
            assert!(!sealed.contains("Sealed"));
            assert_eq!(
                writer.open(&sealed).unwrap().expose_secret(),
                "Sealed-Value-7",
                "the writer remembers what it sealed"
            );

            let path = identity_file(directory.path(), &identity);
            let reader = sealer(&recipients, Some(&path)).unwrap();
            assert_eq!(
                reader.open(&sealed).unwrap().expose_secret(),
                "Sealed-Value-7"
            );

            let without = sealer(&recipients, None).unwrap();
            let message = without.open(&sealed).expect_err("no identity").to_string();
            assert!(message.contains("no identity"), "{message}");
        }

        fn age_sealer(recipients: &[String], identities: Vec<x25519::Identity>) -> AgeSealer {
            AgeSealer {
                recipients: parse_recipients(recipients).unwrap(),
                identities,
                known: Mutex::new(KnownFileKeys::default()),
            }
        }

        #[test]
        fn a_sealer_keeps_one_file_key_per_value_and_opens_what_it_sealed() {
            let (identity, recipient) = key();
            let (_, other) = key();
            let recipients = vec![recipient, other];
            let writer = age_sealer(&recipients, Vec::new());
            // Past the first sizes of the list and of its index, so both grow.
            let sealed: Vec<(String, String)> = (0..300)
                .map(|number| {
                    let value = format!("Value-{number}-of-300");
                    let sealed = writer.seal(&SecretString::from(value.as_str())).unwrap();
                    (value, sealed)
                })
                .collect();
            assert_eq!(writer.known().entries.len(), 300);
            for (value, sealed) in sealed.iter().rev() {
                assert_eq!(writer.open(sealed).unwrap().expose_secret(), value);
            }
            assert_eq!(writer.known().entries.len(), 300, "opening adds nothing");

            // Another process opens them with the identity, once each: the second time from
            // the file key it kept.
            let reader = age_sealer(&recipients, vec![identity]);
            let (value, first) = &sealed[7];
            assert_eq!(reader.open(first).unwrap().expose_secret(), value);
            assert_eq!(reader.known().entries.len(), 1);
            assert_eq!(reader.open(first).unwrap().expose_secret(), value);
            assert_eq!(reader.known().entries.len(), 1);
            // A process without the identity has no file key to open it with.
            let stranger = age_sealer(&recipients, Vec::new());
            assert!(stranger.open(first).is_err());
        }

        #[test]
        fn file_keys_under_the_same_tag_are_all_kept_and_told_apart() {
            let (_, recipient) = key();
            let writer = age_sealer(&[recipient], Vec::new());
            let sealed = writer.seal(&SecretString::from("Right-Value-1")).unwrap();
            let (tag, right) = {
                let known = writer.known();
                (known.entries[0].tag, known.entries[0].file_key)
            };
            // A file key of another value under the same tag, found first.
            let mut known = KnownFileKeys::default();
            known.insert(tag, &[7; 16]);
            known.insert(tag, &right);
            known.insert(tag, &right);
            assert_eq!(known.find(tag).count(), 2, "a key kept twice is kept once");
            *writer.known() = known;
            assert_eq!(
                writer.open(&sealed).unwrap().expose_secret(),
                "Right-Value-1"
            );
        }

        #[test]
        fn a_foreign_or_malformed_identity_is_refused_clearly() {
            let directory = tempfile::tempdir().unwrap();
            let (_, recipient) = key();
            let (stranger, _) = key();
            let path = identity_file(directory.path(), &stranger);
            let message = sealer(std::slice::from_ref(&recipient), Some(&path))
                .expect_err("not a recipient")
                .to_string();
            assert!(message.contains("none of the recipients"), "{message}");

            let garbage = directory.path().join("garbage.txt");
            std::fs::write(&garbage, "AGE-SECRET-KEY-1NOTAKEY\n").unwrap();
            let message = sealer(std::slice::from_ref(&recipient), Some(&garbage))
                .expect_err("garbage")
                .to_string();
            assert!(
                message.contains("line 1") && !message.contains("NOTAKEY"),
                "{message}"
            );

            let passphrase = directory.path().join("key.age");
            std::fs::write(&passphrase, "age-encryption.org/v1\n-> scrypt x 18\n").unwrap();
            let message = sealer(std::slice::from_ref(&recipient), Some(&passphrase))
                .expect_err("passphrase")
                .to_string();
            assert!(message.contains("passphrase"), "{message}");
        }

        #[test]
        fn recipients_are_checked_and_deduplicated() {
            let (_, recipient) = key();
            let given = vec![recipient.clone(), format!(" {recipient} ")];
            assert_eq!(check_recipients(&given).unwrap(), vec![recipient]);
            let message = check_recipients(&["age1nope".to_owned()])
                .expect_err("invalid")
                .to_string();
            assert!(message.contains("age1nope"), "{message}");
        }

        fn decrypt_armored(identity: &x25519::Identity, encrypted: &[u8]) -> Vec<u8> {
            let decryptor =
                age::Decryptor::new_buffered(age::armor::ArmoredReader::new(encrypted)).unwrap();
            let mut plaintext = Vec::new();
            decryptor
                .decrypt(std::iter::once(identity as &dyn age::Identity))
                .unwrap()
                .read_to_end(&mut plaintext)
                .unwrap();
            plaintext
        }

        #[test]
        fn the_output_is_one_armored_age_file() {
            let (identity, recipient) = key();
            let mut encrypted = Vec::new();
            output_encryptor(&[recipient])
                .unwrap()
                .encrypt(&mut encrypted, |writer| {
                    writer.write_all(b"[{\"userId\":")?;
                    writer.write_all(b"\"a\"}]\n")
                })
                .unwrap();
            let text = String::from_utf8(encrypted.clone()).unwrap();
            assert!(
                text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
                "{text}"
            );
            assert_eq!(
                decrypt_armored(&identity, &encrypted),
                b"[{\"userId\":\"a\"}]\n"
            );
        }

        #[test]
        fn output_of_several_chunks_is_encrypted_as_it_is_written() {
            let (identity, recipient) = key();
            // Three and a half of age's 64 KiB chunks, written in small pieces as serde does.
            let plaintext: Vec<u8> = (0..229_376u32).map(|index| (index % 251) as u8).collect();
            let mut encrypted = Vec::new();
            output_encryptor(&[recipient])
                .unwrap()
                .encrypt(&mut encrypted, |writer| {
                    plaintext
                        .chunks(7)
                        .try_for_each(|piece| writer.write_all(piece))
                })
                .unwrap();
            assert_eq!(decrypt_armored(&identity, &encrypted), plaintext);
        }
    }
}
