//! Snapshot tests of what the operator reads: the `--help` of every command, the confirmation,
//! the summary, and the error of each exit code, each kept as a reviewed file under
//! `snapshots/`. A change of wording fails here until its new snapshot is reviewed and accepted
//! (`cargo insta review`, or `INSTA_UPDATE=always` and a read of the diff).
//!
//! The real binary runs against a simulator, as in `tests/cli`; what changes from run to run
//! (the temporary directory, the simulator's port, times) is replaced before the comparison.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

#[path = "../cli/common.rs"]
mod common;
mod ocip;
mod screens;
mod terminal;
