//! Crash-safety tests of the `bwreset` binary: it is killed with SIGKILL at chosen points, or
//! run against a simulator with every fault on, then finished with `resume`; the simulator's
//! truth must equal the output for every user. One test binary, so that the crate links once.

#![expect(
    clippy::print_stderr,
    reason = "a crash test says on stderr which step it is at"
)]
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod devices;
mod faults;
mod harness;
mod interrupt;
mod kill;
mod ocip;
mod soap;
mod user_names;
