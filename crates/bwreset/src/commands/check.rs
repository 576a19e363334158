//! `bwreset check`, the doctor: resolves the settings as `reset` would, connects, shows the
//! server's TLS certificate, logs in, lists one group if asked, logs out, and says on one screen
//! what works and what to fix. It changes nothing and generates no value.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use odin_client::{ClientConfig, OdinClient};

use crate::cli::CheckArgs;
use crate::commands::{self, login_failure};
use crate::errors::{self, Failure, exit};
use crate::settings::{self, ConnectionSettings, Environment, Recorded};

/// Resolves the settings (a problem there is a usage error, exit 2, as for `reset`), then runs
/// the checks and prints the screen on stdout.
#[expect(
    clippy::print_stdout,
    reason = "the doctor's report is its output, on stdout"
)]
pub(crate) fn run(arguments: CheckArgs, mut environment: Environment) -> anyhow::Result<ExitCode> {
    let file_settings = settings::load_config_file(&arguments.connection, &environment)?;
    let connection = settings::resolve_connection(
        &arguments.connection,
        &environment,
        &file_settings,
        Recorded::default(),
    )?;
    let password_source = if environment.password_from_caller {
        "given by the caller (`password=`)"
    } else if environment.password.is_some() {
        "from the environment"
    } else {
        "asked on the terminal"
    };
    let password = settings::obtain_password(&mut environment, &connection)?;
    let group = arguments.service_provider.zip(arguments.group);
    let mut screen = Screen::default();
    if crate::backend::speaks_ocip(&connection) {
        let mut config = commands::ocip_config(&connection, password)?;
        // One connection is all a check uses.
        config.warm_up = false;
        let timeouts = format!(
            "connect {} s, each answer {} s",
            config.connect_timeout.as_secs(),
            config.reply_timeout.as_secs()
        );
        describe_settings(&mut screen, &connection, &timeouts, password_source);
        if config.soap {
            commands::insecure_warning(&connection);
        }
        commands::runtime()?.block_on(unless_interrupted(check_ocip(
            &mut screen,
            &connection,
            config,
            group,
        )))?;
    } else {
        let config = commands::client_config(&connection, password)?;
        let timeouts = format!(
            "connect {} s, first answer {} s",
            config.connect_timeout.as_secs(),
            config.first_answer_timeout.as_secs()
        );
        describe_settings(&mut screen, &connection, &timeouts, password_source);
        commands::insecure_warning(&connection);
        commands::runtime()?.block_on(unless_interrupted(check(
            &mut screen,
            &connection,
            config,
            group,
        )))?;
    }
    let failures = screen.failures;
    screen.line("");
    if failures == 0 {
        screen.line("everything works; nothing was changed");
    } else {
        screen.line(&format!(
            "{failures} problem(s) to fix (marked FAIL above); nothing was changed"
        ));
    }
    print!("{}", screen.text);
    Ok(ExitCode::from(if failures == 0 {
        exit::SUCCESS
    } else {
        exit::COULD_NOT_START
    }))
}

/// The screen being written, and how many checks failed.
#[derive(Debug, Default)]
struct Screen {
    text: String,
    failures: usize,
}

impl Screen {
    fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
    }

    fn ok(&mut self, step: &str, detail: &str) {
        self.line(&format!("ok    {step:<12} {detail}"));
    }

    fn info(&mut self, step: &str, detail: &str) {
        self.line(&format!("      {step:<12} {detail}"));
    }

    fn skipped(&mut self, step: &str, why: &str) {
        self.line(&format!("--    {step:<12} not tried: {why}"));
    }

    /// A failed check, with the message, causes and hint `bwreset reset` would print.
    fn fail(&mut self, step: &str, error: &anyhow::Error) {
        self.failures += 1;
        let (_, rendered) = errors::render(error);
        let mut lines = rendered.lines();
        let first = lines
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ")
            .to_owned();
        self.line(&format!("FAIL  {step:<12} {first}"));
        for line in lines {
            let line = line.trim_start();
            let line = match line.strip_prefix("hint: ") {
                Some(hint) => format!("fix: {hint}"),
                None => line.to_owned(),
            };
            self.line(&format!("      {:<12} {line}", ""));
        }
    }
}

/// The settings in use and where they came from; the same lines over Odin and OCI-P.
fn describe_settings(
    screen: &mut Screen,
    connection: &ConnectionSettings,
    timeouts: &str,
    password_source: &str,
) {
    use crate::backend::Protocol;
    // OCI-P over TCP connects directly; Odin and OCI-P over SOAP speak HTTP(S), proxies included.
    let protocol_kind = crate::backend::protocol_of(connection);
    let ocip = protocol_kind == Protocol::Ocip;
    screen.line("bwreset check: the settings and the server, changing nothing");
    screen.line("");
    let sources = &connection.sources;
    let protocol = match protocol_kind {
        Protocol::Odin => "Odin API",
        Protocol::Ocip => "OCI-P",
        Protocol::OcipSoap => "OCI-P over SOAP",
    };
    screen.info(
        "server",
        &format!(
            "`{}` ({protocol}, from {})",
            connection.base_url, sources.server
        ),
    );
    screen.info(
        "login",
        &format!(
            "`{}` (from {}), password {password_source}",
            connection.username, sources.username
        ),
    );
    screen.info("config file", &sources.config_phrase());
    for sentence in &sources.overrides {
        screen.line(&format!("WARN  {:<12} {sentence}", "variable"));
    }
    let proxy = match (&connection.proxy, ocip) {
        (_, true) => "none (OCI-P connects directly)".to_owned(),
        (Some(proxy), false) => format!("`{}` (from the proxy variables)", proxy.shown()),
        (None, false) => "none (direct connection)".to_owned(),
    };
    screen.info("proxy", &proxy);
    let plain_ocip = ocip
        && connection
            .base_url
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("ocip://");
    let trust = match (&connection.ca_cert, connection.insecure) {
        _ if plain_ocip => {
            "none: plain `ocip://` is not encrypted (`ocips://` is OCI-P over TLS)".to_owned()
        }
        (Some(path), false) if ocip => format!("only `{}` (it replaces the system's authorities over OCI-P)", path.display()),
        (_, true) => "OFF (`--insecure`): anyone on the path can read the login password and every new credential".to_owned(),
        (Some(path), false) => format!("the system's authorities and `{}`", path.display()),
        (None, false) => "the system's authorities (`--ca-cert FILE` adds a private CA)".to_owned(),
    };
    screen.info("trust", &trust);
    screen.info("timeouts", timeouts);
    screen.line("");
}

/// The checks, abandoned when the program that runs the command asks it to stop (the Python
/// caller's Ctrl-C): a check changes nothing, so there is nothing to finish.
async fn unless_interrupted(checks: impl Future<Output = ()>) -> anyhow::Result<()> {
    tokio::select! {
        () = checks => Ok(()),
        () = crate::interrupt::requested() => {
            Err(Failure::could_not_start("interrupted; nothing was changed").into())
        }
    }
}

/// Over OCI-P, the same steps as over Odin: over TLS (or SOAP on https) the connection and the
/// certificate, then the login, the group listing if asked, and the logout.
async fn check_ocip(
    screen: &mut Screen,
    connection: &ConnectionSettings,
    config: ocip_client::OcipConfig,
    group: Option<(String, String)>,
) {
    use bwreset_core::{Backend, GroupScope};
    if config.soap {
        if !inspect_soap_certificate(screen, connection).await {
            skip_after_no_connection(screen);
            return;
        }
    } else if let Ok(address) = ocip_client::server_address(&connection.base_url)
        && address.tls
    {
        match inspect_tls_port(&address, &connection.username, config.connect_timeout).await {
            Ok(server) => {
                show_handshake(screen, &server);
            }
            Err(error) => {
                screen.fail("connection", &error);
                skip_after_no_connection(screen);
                return;
            }
        }
    }
    let client = match ocip_client::OcipClient::login(config).await {
        Ok(client) => {
            screen.ok("login", &format!("as `{}`", connection.username));
            client
        }
        Err(error) => {
            screen.fail(
                "login",
                &explain_ocip_login_failure(connection, error).await,
            );
            for step in ["group", "logout"] {
                screen.skipped(step, "not logged in");
            }
            return;
        }
    };
    match group {
        Some((service_provider_id, group_id)) => {
            let scope = GroupScope {
                service_provider_id: &service_provider_id,
                group_id: &group_id,
            };
            match client.group_user_ids(scope).await {
                Ok(users) => screen.ok(
                    "group",
                    &format!(
                        "`{group_id}` of service provider `{service_provider_id}`: {} user(s) listed",
                        users.len()
                    ),
                ),
                Err(error) => screen.fail("group", &anyhow::Error::new(error)),
            }
        }
        None => screen.skipped("group", "no `--service-provider` and `--group` given"),
    }
    client.logout().await;
    screen.ok("logout", "the session is closed");
}

/// Over SOAP to an `https://` service, the TLS handshake and the certificate, as for Odin
/// (the same probe; the login then judges the certificate). Whether the steps after it can be
/// tried: not when no handshake was made.
async fn inspect_soap_certificate(screen: &mut Screen, connection: &ConnectionSettings) -> bool {
    if !is_https(&connection.base_url) {
        return true;
    }
    let config =
        match commands::client_config(connection, secrecy::SecretString::from(String::new())) {
            Ok(config) => config,
            Err(error) => {
                screen.fail("connection", &error);
                return false;
            }
        };
    match odin_client::inspect_certificate(&config).await {
        Ok(server) => {
            show_handshake(screen, &server);
            true
        }
        Err(error) => {
            let failure = Failure::could_not_start(format!(
                "no TLS handshake with `{}`; nothing was changed",
                connection.base_url
            ))
            .with_hint("check the host and port in `--server`, and that this machine may reach the web service (a proxy in `HTTPS_PROXY`, or the host in `NO_PROXY`)");
            screen.fail("connection", &anyhow::Error::new(error).context(failure));
            false
        }
    }
}

/// The certificate of an `ocips://` server, read by a TLS handshake that accepts any (the
/// login judges it); nothing is sent. A port that does not complete the handshake but answers
/// plain OCI-P is named as such, with the fix.
async fn inspect_tls_port(
    address: &ocip_client::ServerAddress,
    username: &str,
    connect_timeout: std::time::Duration,
) -> anyhow::Result<odin_client::ServerCertificate> {
    let host = if address.host.contains(':') {
        format!("[{}]", address.host)
    } else {
        address.host.clone()
    };
    let mut config = ClientConfig::new(
        format!("https://{host}:{}/", address.port),
        username.to_owned(),
        secrecy::SecretString::from(String::new()),
    );
    config.connect_timeout = connect_timeout;
    match odin_client::inspect_certificate(&config).await {
        Ok(server) => Ok(server),
        Err(error) => {
            let server = format!("ocips://{host}:{}", address.port);
            let failure = if ocip_client::answers_plain_ocip(
                &address.host,
                address.port,
                username,
                PROBE_WAIT,
            )
            .await
            {
                plain_port_failure(&server, &host, address.port)
            } else {
                Failure::could_not_start(format!(
                    "no TLS handshake with `{server}`; nothing was changed"
                ))
                .with_hint("check the host and port in `--server` (OCI-P over TLS listens on 2209 unless the server says otherwise) and that this machine is on the server's OCI-P access list")
            };
            Err(anyhow::Error::new(error).context(failure))
        }
    }
}

/// How long a probe of a port waits for its answer.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn plain_port_failure(server: &str, host: &str, port: u16) -> Failure {
    Failure::could_not_start(format!(
        "`{server}` reached a port that speaks plain OCI-P, not TLS; nothing was changed"
    ))
    .with_hint(format!(
        "give the server's TLS port (`ocips://{host}`, 2209 by default), or, knowing that the login and every new value then cross the network in clear, `ocip://{host}:{port}` (with `--allow-plaintext` beyond loopback)"
    ))
}

/// What a failed OCI-P login tells the operator (`commands::ocip_login_failure`), except when
/// the port speaks the other protocol than the URL's scheme says: a TLS port named with
/// `ocip://`, or a plain one with `ocips://`. That is found by asking the port once more, and
/// named with the fix.
pub(crate) async fn explain_ocip_login_failure(
    connection: &ConnectionSettings,
    error: ocip_client::Error,
) -> anyhow::Error {
    let reached_the_port = matches!(
        error,
        ocip_client::Error::Connect { .. }
            | ocip_client::Error::Tls { .. }
            | ocip_client::Error::Timeout { .. }
            | ocip_client::Error::Transport { .. }
            | ocip_client::Error::Decode { .. }
    );
    let address = ocip_client::server_address(&connection.base_url).ok();
    let Some(address) = address.filter(|_| reached_the_port) else {
        return commands::ocip_login_failure(connection, error);
    };
    let host = if address.host.contains(':') {
        format!("[{}]", address.host)
    } else {
        address.host.clone()
    };
    let mismatch = if address.tls {
        ocip_client::answers_plain_ocip(
            &address.host,
            address.port,
            &connection.username,
            PROBE_WAIT,
        )
        .await
        .then(|| plain_port_failure(&connection.base_url, &host, address.port))
    } else {
        let plain = ocip_client::ServerAddress {
            tls: true,
            ..address.clone()
        };
        inspect_tls_port(&plain, &connection.username, PROBE_WAIT)
            .await
            .is_ok()
            .then(|| {
                Failure::could_not_start(format!(
                    "`{}` reached a port that speaks TLS, not plain OCI-P; nothing was changed",
                    connection.base_url
                ))
                .with_hint(format!(
                    "use `ocips://{host}:{}` (OCI-P over TLS)",
                    address.port
                ))
            })
    };
    match mismatch {
        Some(failure) => anyhow::Error::new(error).context(failure),
        None => commands::ocip_login_failure(connection, error),
    }
}

/// Whether a server URL is `https://` (its scheme in any case): a check then shows the TLS
/// handshake and the certificate.
fn is_https(url: &str) -> bool {
    url.trim_start()
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

async fn check(
    screen: &mut Screen,
    connection: &ConnectionSettings,
    config: ClientConfig,
    group: Option<(String, String)>,
) {
    if is_https(&connection.base_url) {
        match odin_client::inspect_certificate(&config).await {
            Ok(server) => {
                show_handshake(screen, &server);
            }
            Err(error) => {
                let connection_lost = !matches!(error, odin_client::Error::Config { .. });
                screen.fail("connection", &login_failure(connection, error));
                if connection_lost {
                    skip_after_no_connection(screen);
                    return;
                }
            }
        }
    }
    let client = match OdinClient::login(config).await {
        Ok(client) => {
            screen.ok("login", &format!("as `{}`", connection.username));
            client
        }
        Err(error) => {
            screen.fail("login", &login_failure(connection, error));
            for step in ["group", "logout"] {
                screen.skipped(step, "not logged in");
            }
            return;
        }
    };
    match &group {
        None => screen.skipped("group", "no `--service-provider` and `--group` given"),
        Some((service_provider, group_id)) => {
            match client.group_user_ids(service_provider, group_id).await {
                Ok(users) => screen.ok(
                    "group",
                    &format!(
                        "`{group_id}` of service provider `{service_provider}`: {} user(s) listed",
                        users.len()
                    ),
                ),
                Err(error) => {
                    let failure = match &error {
                        odin_client::Error::Api {
                            status: 400..=404, ..
                        } => Failure::could_not_start(format!(
                            "the server refused to list group `{group_id}` of service provider `{service_provider}`"
                        ))
                        .with_hint("check `--service-provider` and `--group`, and that this login may read them"),
                        _ => Failure::could_not_start(format!(
                            "group `{group_id}` of service provider `{service_provider}` could not be listed"
                        )),
                    };
                    screen.fail("group", &anyhow::Error::new(error).context(failure));
                }
            }
        }
    }
    match client.logout().await {
        Ok(()) => screen.ok("logout", "the session's token is dead"),
        Err(error) => screen.fail(
            "logout",
            &anyhow::Error::new(error).context(Failure::could_not_start(
                "the server refused the logout (the token dies when it expires)",
            )),
        ),
    }
}

/// A TLS handshake made: its version, then the certificate the server showed.
fn show_handshake(screen: &mut Screen, server: &odin_client::ServerCertificate) {
    screen.ok(
        "connection",
        &format!("TLS handshake done ({})", server.tls_version),
    );
    describe_certificate(screen, server.certificate.as_ref());
}

/// The steps that need a connection, skipped when none was made.
fn skip_after_no_connection(screen: &mut Screen) {
    for step in ["login", "group", "logout"] {
        screen.skipped(step, "no connection");
    }
}

/// The certificate's subject, issuer, names and validity, with a warning when it is close to
/// its end. Whether it is trusted is the login's verdict.
fn describe_certificate(
    screen: &mut Screen,
    certificate: Option<&odin_client::CertificateSummary>,
) {
    let Some(certificate) = certificate else {
        screen.info("certificate", "(could not be read)");
        return;
    };
    screen.info("certificate", &format!("subject `{}`", certificate.subject));
    screen.info("", &format!("issuer  `{}`", certificate.issuer));
    if !certificate.names.is_empty() {
        screen.info("", &format!("names   {}", certificate.names.join(", ")));
    }
    let mut validity = format!(
        "valid   {} to {}",
        odin_client::format_utc(certificate.not_before),
        odin_client::format_utc(certificate.not_after)
    );
    let now = SystemTime::now();
    match certificate.not_after.duration_since(now) {
        Ok(left) => {
            let days = left.as_secs() / 86_400;
            let _ = write!(validity, " ({days} day(s) left)");
        }
        Err(_) => validity.push_str(" (EXPIRED)"),
    }
    if certificate.not_before > now {
        validity.push_str(" (NOT VALID YET)");
    }
    screen.info("", &validity);
}
