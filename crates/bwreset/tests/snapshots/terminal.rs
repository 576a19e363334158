//! A terminal for the binary's stdin, so that it asks its question as it would an operator: a
//! pseudo-terminal whose other end the test writes the answer to. stderr stays a pipe, so the
//! screen is read back without a terminal's escapes (and without the progress bar).

use std::fs::File;
use std::io::Write as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::process::{Output, Stdio};

/// Runs `command` with a terminal as stdin, answers `answer` to its question, and waits.
pub(crate) fn run_answering(mut command: std::process::Command, answer: &str) -> Output {
    let (controller, terminal) = open_pseudo_terminal();
    command
        .stdin(Stdio::from(terminal))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("the binary starts");
    let mut controller = File::from(controller);
    // The terminal holds the answer until the binary reads it: no wait for the question.
    controller
        .write_all(format!("{answer}\n").as_bytes())
        .expect("answer written");
    let output = child.wait_with_output().expect("the binary ends");
    drop(controller);
    output
}

/// The two ends of a new pseudo-terminal: (controller, terminal).
#[expect(
    unsafe_code,
    reason = "openpty is the one way to get a terminal; both descriptors are owned at once"
)]
fn open_pseudo_terminal() -> (OwnedFd, OwnedFd) {
    let mut controller: libc::c_int = -1;
    let mut terminal: libc::c_int = -1;
    // SAFETY: openpty writes two new descriptors into the two integers and reads nothing else
    // (no name, default terminal settings and size); on success each is owned here alone.
    let result = unsafe {
        libc::openpty(
            &raw mut controller,
            &raw mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(result, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned by nobody else.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}
