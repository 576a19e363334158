//! Tests of the `bwreset` binary against a simulator started by each test. One test binary, so
//! that the crate links once.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod bad_inputs;
mod common;
mod demo;
mod devices;
mod encrypt;
mod first_contact;
mod groups;
mod hostile;
mod ocip;
mod reset;
mod resume;
mod soap;
mod user_names;
