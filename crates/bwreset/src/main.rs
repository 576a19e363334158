//! `bwreset`: reset SIP passwords, voicemail passcodes or web passwords in bulk on Cisco
//! BroadWorks through the Odin API or OCI-P. The command line lives in the library (`lib.rs`), so
//! that the Python package's console script runs the same code.

fn main() -> std::process::ExitCode {
    bwreset::main()
}
