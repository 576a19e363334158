//! Creating and replacing the files that hold credentials: private (0600), never through a
//! symlink, never over an existing file, and durable before we say they are written. Also the
//! one file bwreset reads for the connection, the CA certificate of `--ca-cert`.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::errors::Failure;
use crate::zeroizing_writer::ZeroizingBufWriter;

const PRIVATE_MODE: u32 = 0o600;

/// Creates a new file readable and writable by its owner only.
///
/// `create_new` (O_EXCL) refuses an existing file and a symlink planted at the path, dangling
/// or not; O_NOFOLLOW says the same once more. The mode is set again after creation because the
/// one given to `open` is reduced by the umask, and a umask such as 0277 would leave the owner
/// unable to write.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(PRIVATE_MODE))?;
    Ok(file)
}

/// Writes `contents` to a new private file and makes it durable.
#[cfg(any(test, feature = "demo"))]
pub(crate) fn write_new_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_new_private_with(path, |writer| writer.write_all(contents))
}

/// Creates a new private file, has `write` write its contents as they are produced, and makes
/// it durable: a large file never sits in memory whole. The writer given to `write` is buffered
/// through a [`ZeroizingBufWriter`], so the contents may be secret.
///
/// If `write` fails (or the process dies) part-way, the file is left as far as it got: a run's
/// files are written after its journal is complete, and `resume` replaces them.
pub(crate) fn write_new_private_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = create_private(path)?;
    let file = write_buffered(file, write)?;
    file.sync_all()?;
    sync_parent_directory(path)
}

/// Replaces `path` atomically with the contents `write` writes as they are produced (see
/// [`write_new_private_with`]): a private temporary file beside it is written and synced,
/// renamed over the old one, and the directory synced, so that a crash leaves either the old
/// file or the new one, never a mix. A symlink at `path` is replaced, not followed.
pub(crate) fn replace_private_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let temporary = temporary_sibling(path)?;
    let result = (|| {
        let file = create_private(&temporary)?;
        let file = write_buffered(file, write)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        sync_parent_directory(path)
    })();
    if result.is_err() {
        // Best effort: the temporary file may not exist, and the original error matters more.
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Runs `write` on a wiped-on-drop buffered writer over `file`, writes out what is buffered,
/// and gives the file back.
fn write_buffered(
    file: File,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<File> {
    let mut writer = ZeroizingBufWriter::new(file);
    write(&mut writer)?;
    writer.into_inner()
}

/// Removes a file if it exists; a missing file is not an error.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn temporary_sibling(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(temporary_name))
}

fn sync_parent_directory(path: &Path) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)?.sync_all()
}

/// Refuses a path that already exists (a symlink included) or whose directory does not exist:
/// checked before anything is changed, so that the run cannot end unable to write its output.
pub(crate) fn ensure_creatable(path: &Path, what: &str) -> Result<(), Failure> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(_) => {
            return Err(Failure::usage(format!("{what} `{shown}` already exists"))
                .with_hint("bwreset never overwrites a file: choose another `--out`, or move the old file away"));
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(Failure::usage(format!(
                "cannot check {what} `{shown}`: {error}"
            )));
        }
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match std::fs::metadata(directory) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(Failure::usage(format!(
            "cannot create {what} `{shown}`: `{}` is not a directory",
            directory.display()
        ))),
        Err(_) => Err(Failure::usage(format!(
            "cannot create {what} `{shown}`: directory `{}` does not exist",
            directory.display()
        ))),
    }
}

/// Reads the CA certificate file of `--ca-cert` (or `ca_cert`): a file that cannot be read,
/// or holds no PEM certificate, is a usage error (exit 2) that names it and says what it must
/// hold, found before any connection.
pub(crate) fn read_ca_cert(path: &Path) -> Result<Vec<u8>, Failure> {
    let shown = path.display();
    let fix = "give the CA certificate (PEM, with a `-----BEGIN CERTIFICATE-----` line) of the authority that signed the server's certificate with `--ca-cert FILE` (or `ca_cert` in the config file)";
    let pem = std::fs::read(path).map_err(|error| {
        Failure::usage(format!("cannot read CA certificate `{shown}`: {error}")).with_hint(fix)
    })?;
    let holds_certificate = pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|window| window == b"-----BEGIN CERTIFICATE-----");
    if !holds_certificate {
        let what = if pem.iter().all(u8::is_ascii_whitespace) {
            "is empty"
        } else {
            "holds no PEM certificate"
        };
        return Err(Failure::usage(format!("CA certificate file `{shown}` {what}")).with_hint(fix));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("metadata").mode() & 0o777
    }

    #[test]
    fn new_files_are_private_and_never_overwrite() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("out.json");
        write_new_private(&path, b"[]").expect("written");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).expect("read"), b"[]");

        let error = write_new_private(&path, b"other").expect_err("exists");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).expect("read"), b"[]");
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let target = directory.path().join("target");
        let link = directory.path().join("out.json");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(write_new_private(&link, b"secret").is_err());
        assert!(!target.exists(), "the symlink's target must not be created");
        assert!(ensure_creatable(&link, "output file").is_err());
    }

    #[test]
    fn replacing_keeps_the_file_private_and_leaves_no_temporary_file() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("out.json");
        std::fs::write(&path, b"old").expect("write");
        replace_private_with(&path, |writer| writer.write_all(b"new")).expect("replaced");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        assert_eq!(mode(&path), 0o600);
        let names: Vec<_> = std::fs::read_dir(directory.path()).expect("list").collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_replacement_that_fails_part_way_leaves_the_old_file_whole() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("out.json");
        std::fs::write(&path, b"old").expect("write");
        let error = replace_private_with(&path, |writer| {
            // More than the buffer holds, so that part of it reaches the temporary file.
            writer.write_all(&[b'x'; 100_000])?;
            Err(io::Error::other("serialisation failed"))
        })
        .expect_err("failed");
        assert_eq!(error.to_string(), "serialisation failed");
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
        let names: Vec<_> = std::fs::read_dir(directory.path()).expect("list").collect();
        assert_eq!(names.len(), 1, "the temporary file is removed");
    }

    #[test]
    fn a_symlink_in_place_of_a_replaced_file_is_replaced_not_followed() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let target = directory.path().join("target");
        std::fs::write(&target, b"theirs").expect("write");
        let link = directory.path().join("out.json");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        replace_private_with(&link, |writer| writer.write_all(b"new")).expect("replaced");
        assert_eq!(std::fs::read(&target).expect("read"), b"theirs");
        assert!(
            !std::fs::symlink_metadata(&link)
                .expect("metadata")
                .is_symlink()
        );
        assert_eq!(std::fs::read(&link).expect("read"), b"new");
    }

    #[test]
    fn creatable_paths_need_an_existing_directory_and_no_file() {
        let directory = tempfile::tempdir().expect("temporary directory");
        assert!(ensure_creatable(&directory.path().join("new.json"), "output file").is_ok());
        let message = ensure_creatable(&directory.path().join("missing/new.json"), "output file")
            .expect_err("missing directory")
            .to_string();
        assert!(message.contains("does not exist"), "{message}");
        let existing = directory.path().join("old.json");
        std::fs::write(&existing, b"").expect("write");
        let message = ensure_creatable(&existing, "output file")
            .expect_err("exists")
            .to_string();
        assert!(message.contains("already exists"), "{message}");
    }

    #[test]
    fn a_ca_file_that_is_missing_empty_or_not_pem_is_named_with_the_fix() {
        let directory = tempfile::tempdir().expect("directory");
        let empty = directory.path().join("empty.pem");
        std::fs::write(&empty, "\n").expect("write");
        let der = directory.path().join("ca.der");
        std::fs::write(&der, [0x30, 0x82, 0x01]).expect("write");
        let good = directory.path().join("ca.pem");
        std::fs::write(
            &good,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        for (path, words) in [
            (
                directory.path().join("missing.pem"),
                "cannot read CA certificate",
            ),
            (empty, "is empty"),
            (der, "holds no PEM certificate"),
        ] {
            let error = read_ca_cert(&path).expect_err("refused");
            assert_eq!(error.kind(), crate::errors::FailureKind::Usage);
            assert!(
                error.to_string().contains(&path.display().to_string()),
                "{error}"
            );
            assert!(error.to_string().contains(words), "{error}");
            assert!(error.hint().is_some_and(|hint| hint.contains("--ca-cert")));
        }
        assert!(read_ca_cert(&good).is_ok());
    }
}
