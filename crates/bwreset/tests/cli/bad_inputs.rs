//! A table of bad inputs: each must end with its exit code and a message naming the problem,
//! and none may change anything on the server.

use std::path::{Path, PathBuf};

use crate::common::{Fixture, text};

struct Case {
    name: &'static str,
    arguments: Vec<String>,
    /// Environment changes: a value to set, or `None` to remove the variable.
    environment: Vec<(&'static str, Option<String>)>,
    code: i32,
    words: &'static [&'static str],
}

fn case(name: &'static str, arguments: &[&str], code: i32, words: &'static [&'static str]) -> Case {
    Case {
        name,
        arguments: arguments
            .iter()
            .map(|argument| (*argument).to_owned())
            .collect(),
        environment: Vec::new(),
        code,
        words,
    }
}

impl Case {
    fn env(mut self, name: &'static str, value: Option<&str>) -> Self {
        self.environment.push((name, value.map(str::to_owned)));
        self
    }
}

/// `reset --type sip --service-provider demo-sp --group demo-group` followed by `rest`.
fn reset(rest: &[&str]) -> Vec<String> {
    let mut arguments: Vec<String> = [
        "reset",
        "--type",
        "sip",
        "--service-provider",
        "demo-sp",
        "--group",
        "demo-group",
    ]
    .map(str::to_owned)
    .to_vec();
    arguments.extend(rest.iter().map(|argument| (*argument).to_owned()));
    arguments
}

fn reset_case(
    name: &'static str,
    rest: &[&str],
    code: i32,
    words: &'static [&'static str],
) -> Case {
    Case {
        name,
        arguments: reset(rest),
        environment: Vec::new(),
        code,
        words,
    }
}

fn show(path: &Path) -> &str {
    path.to_str().expect("UTF-8 test path")
}

/// What the cases point at, made once in the test's directory.
struct Inputs {
    /// Where every case would write its output; no case may leave it behind.
    out: String,
    users: Vec<String>,
    nul: PathBuf,
    latin1: PathBuf,
    overlong: PathBuf,
    no_column: PathBuf,
    empty: PathBuf,
    comments: PathBuf,
    huge: PathBuf,
    directory: PathBuf,
    /// The journal of `taken_out`, already there.
    existing_journal: PathBuf,
    taken_out: PathBuf,
    password_config: PathBuf,
    profiles_config: PathBuf,
    not_a_journal: PathBuf,
    unreachable: String,
}

impl Inputs {
    fn prepare(fixture: &Fixture) -> Self {
        let huge = fixture.path("huge.txt");
        std::fs::File::create(&huge)
            .expect("create")
            .set_len(65 * 1024 * 1024)
            .expect("sparse file");
        let closed_port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        Inputs {
            out: show(&fixture.path("out.json")).to_owned(),
            users: fixture.user_ids(),
            nul: fixture.write("nul.txt", b"user0001@demo.example\nuser\x00\x01\x02\n"),
            latin1: fixture.write("latin1.txt", b"a@x\nb@x\nj\xe9r\xf4me@x\n"),
            overlong: fixture.write("overlong.txt", "x".repeat(2000)),
            no_column: fixture.write("no-column.csv", "name,phone\nalice,100\n"),
            empty: fixture.write("empty.txt", ""),
            comments: fixture.write("comments.txt", "# nobody\n\n   \n"),
            huge,
            directory: fixture.directory.path().to_owned(),
            existing_journal: fixture.write("taken.json.journal", "not mine\n"),
            taken_out: fixture.path("taken.json"),
            password_config: fixture.write(
                "password.toml",
                "base_url = \"x\"\npassword = \"hunter2\"\n",
            ),
            profiles_config: fixture
                .write("profiles.toml", "[profiles.lab]\nusername = \"admin\"\n"),
            not_a_journal: fixture.write("random.journal", "hello\n"),
            unreachable: format!("http://127.0.0.1:{closed_port}/api/v2"),
        }
    }
}

/// Mistakes on the command line itself: clap and the checks of `reset`'s options.
fn command_line_cases(inputs: &Inputs) -> Vec<Case> {
    let out = inputs.out.as_str();
    vec![
        case(
            "unknown type",
            &[
                "reset",
                "--type",
                "portal",
                "--service-provider",
                "sp",
                "--group",
                "g",
                "--all-users",
                "--out",
                out,
            ],
            2,
            &["invalid value", "portal"],
        ),
        case(
            "missing group",
            &[
                "reset",
                "--type",
                "sip",
                "--service-provider",
                "sp",
                "--all-users",
                "--out",
                out,
            ],
            2,
            &["--group"],
        ),
        reset_case("no users named", &["--out", out], 2, &["required"]),
        reset_case(
            "two ways of naming users",
            &["--all-users", "--user", "a", "--out", out],
            2,
            &["cannot be used with"],
        ),
        reset_case("no output", &["--all-users"], 2, &["--out"]),
        reset_case(
            "control character in --user",
            &["--user", "bad\u{1b}id", "--out", out],
            2,
            &["control"],
        ),
        reset_case(
            "bad --format",
            &["--all-users", "--out", out, "--format", "xml"],
            2,
            &["xml"],
        ),
        reset_case(
            "zero concurrency",
            &["--all-users", "--out", out, "--concurrency", "0"],
            2,
            &["--concurrency"],
        ),
        reset_case(
            "non-positive rate",
            &["--all-users", "--out", out, "--max-rate=0"],
            2,
            &["positive"],
        ),
        case(
            "unknown subcommand",
            &["rest"],
            2,
            &["unrecognized subcommand"],
        ),
        case(
            "unknown shell",
            &["completions", "tcsh"],
            2,
            &["invalid value"],
        ),
    ]
}

/// Users files that cannot be read or name nobody.
fn users_file_cases(inputs: &Inputs) -> Vec<Case> {
    let out = inputs.out.as_str();
    vec![
        reset_case(
            "missing users file",
            &["--users-file", "/nonexistent/users.txt", "--out", out],
            2,
            &["cannot read users file"],
        ),
        reset_case(
            "binary users file",
            &["--users-file", show(&inputs.nul), "--out", out],
            2,
            &["NUL", "line 2"],
        ),
        reset_case(
            "invalid UTF-8",
            &["--users-file", show(&inputs.latin1), "--out", out],
            2,
            &["UTF-8", "line 3"],
        ),
        reset_case(
            "overlong line",
            &["--users-file", show(&inputs.overlong), "--out", out],
            2,
            &["line 1", "1024"],
        ),
        reset_case(
            "CSV without userId",
            &["--users-file", show(&inputs.no_column), "--out", out],
            2,
            &["`userId` column"],
        ),
        reset_case(
            "empty users file",
            &["--users-file", show(&inputs.empty), "--out", out],
            2,
            &["no user IDs"],
        ),
        reset_case(
            "only comments",
            &["--users-file", show(&inputs.comments), "--out", out],
            2,
            &["no user IDs"],
        ),
        reset_case(
            "huge users file",
            &["--users-file", show(&inputs.huge), "--out", out],
            2,
            &["larger than"],
        ),
        reset_case(
            "users file is a directory",
            &["--users-file", show(&inputs.directory), "--out", out],
            2,
            &["directory"],
        ),
    ]
}

/// Where the run's files would go, and journals `resume` cannot use.
fn output_and_journal_cases(inputs: &Inputs) -> Vec<Case> {
    let out = inputs.out.as_str();
    vec![
        reset_case(
            "output in a missing directory",
            &["--all-users", "--out", "/nonexistent/dir/out.json"],
            2,
            &["does not exist"],
        ),
        reset_case(
            "stdout without a journal",
            &["--all-users", "--out", "-"],
            2,
            &["--journal"],
        ),
        reset_case(
            "journal exists",
            &["--all-users", "--out", show(&inputs.taken_out)],
            2,
            &["already exists", "resume"],
        ),
        reset_case(
            "not an age recipient",
            &[
                "--all-users",
                "--out",
                out,
                "--encrypt-to",
                "age1-not-a-key",
            ],
            2,
            if cfg!(feature = "encrypt") {
                &["age1-not-a-key", "not an age X25519 recipient", "hint:"]
            } else {
                &["--encrypt-to", "built without", "--features encrypt"]
            },
        ),
        reset_case(
            "one path for the output and the journal",
            &["--all-users", "--out", out, "--journal", out],
            2,
            &["two of the run's files"],
        ),
        case(
            "resume without a journal file",
            &["resume", "--journal", "/nonexistent/x.journal", "--yes"],
            2,
            &["x.journal"],
        ),
        case(
            "resume from something else",
            &["resume", "--journal", show(&inputs.not_a_journal), "--yes"],
            2,
            &["random.journal"],
        ),
    ]
}

/// Connection settings missing or wrong in the environment, options or config file.
fn settings_cases(inputs: &Inputs) -> Vec<Case> {
    let out = inputs.out.as_str();
    vec![
        reset_case(
            "no base URL",
            &["--all-users", "--out", out],
            2,
            &["base URL", "ODIN_BASE_URL"],
        )
        .env("ODIN_BASE_URL", None),
        reset_case(
            "base URL without scheme",
            &[
                "--all-users",
                "--out",
                out,
                "--base-url",
                "odin.example/api/v2",
            ],
            2,
            &["https://"],
        ),
        reset_case(
            "no user name",
            &["--all-users", "--out", out],
            2,
            &["user name", "ODIN_USERNAME"],
        )
        .env("ODIN_USERNAME", None),
        reset_case(
            "no password and no terminal",
            &["--all-users", "--out", out],
            2,
            &["ODIN_PASSWORD"],
        )
        .env("ODIN_PASSWORD", None),
        reset_case(
            "missing CA certificate",
            &[
                "--all-users",
                "--out",
                out,
                "--ca-cert",
                "/nonexistent/ca.pem",
            ],
            2,
            &["CA certificate"],
        ),
        reset_case(
            "password in the config file",
            &[
                "--all-users",
                "--out",
                out,
                "--config",
                show(&inputs.password_config),
            ],
            2,
            &["holds a password"],
        ),
        reset_case(
            "missing config file",
            &[
                "--all-users",
                "--out",
                out,
                "--config",
                "/nonexistent/config.toml",
            ],
            2,
            &["cannot read config file"],
        ),
        reset_case(
            "unknown profile",
            &[
                "--all-users",
                "--out",
                out,
                "--config",
                show(&inputs.profiles_config),
                "--profile",
                "prod",
            ],
            2,
            &["no profile `prod`", "lab"],
        ),
    ]
}

/// Inputs only the server (or the lack of one) can turn down.
fn server_cases(inputs: &Inputs) -> Vec<Case> {
    let out = inputs.out.as_str();
    vec![
        reset_case(
            "wrong password",
            &["--all-users", "--out", out, "--yes"],
            3,
            &["refused", "hint:"],
        )
        .env("ODIN_PASSWORD", Some("wrong")),
        reset_case(
            "server unreachable",
            &[
                "--all-users",
                "--out",
                out,
                "--yes",
                "--base-url",
                &inputs.unreachable,
            ],
            3,
            &["cannot reach"],
        ),
        reset_case(
            "plain http to another host",
            &[
                "--all-users",
                "--out",
                out,
                "--yes",
                "--base-url",
                "http://odin.example.invalid/api/v2",
            ],
            2,
            &["http"],
        ),
        case(
            "unknown group",
            &[
                "reset",
                "--type",
                "web",
                "--service-provider",
                "demo-sp",
                "--group",
                "nogroup",
                "--all-users",
                "--dry-run",
            ],
            2,
            &["nogroup", "--group"],
        ),
        reset_case(
            "user IDs with URL-special characters are sent, not mangled",
            &[
                "--user",
                "a&b?c#d%e+f g@demo.example",
                "--user",
                &inputs.users[0],
                "--out",
                out,
                "--dry-run",
            ],
            1,
            &["1 rejected"],
        ),
    ]
}

#[test]
fn bad_inputs_end_with_the_right_code_and_a_clear_message() {
    let fixture = Fixture::new(3);
    let inputs = Inputs::prepare(&fixture);
    let cases: Vec<Case> = [
        command_line_cases(&inputs),
        users_file_cases(&inputs),
        output_and_journal_cases(&inputs),
        settings_cases(&inputs),
        server_cases(&inputs),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(cases.len() >= 30);
    assert!(inputs.existing_journal.exists());

    let mut problems = Vec::new();
    for case in &cases {
        let mut command = fixture.bwreset();
        command.args(&case.arguments);
        for (name, value) in &case.environment {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let output = command.output().expect("runs");
        let stderr = text(&output.stderr);
        if output.status.code() != Some(case.code) {
            problems.push(format!(
                "{}: exit {:?}, expected {}\n{stderr}",
                case.name,
                output.status.code(),
                case.code
            ));
            continue;
        }
        for word in case.words {
            if !stderr.contains(word) {
                problems.push(format!("{}: message lacks `{word}`\n{stderr}", case.name));
            }
        }
        if case.code == 2 && !stderr.contains("rror") {
            problems.push(format!("{}: no error message\n{stderr}", case.name));
        }
        if stderr.contains("panicked") {
            problems.push(format!("{}: panic\n{stderr}", case.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert_eq!(fixture.total_changes(), 0, "no bad input changed anything");
    assert!(
        !Path::new(&inputs.out).exists(),
        "no bad input left an output file"
    );
}
