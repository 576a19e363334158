//! The first five minutes against a real server (issue 17): a TLS front with a private CA in
//! front of the simulator, a server that accepts and never answers, one that refuses every TLS
//! version, and an HTTP proxy. Each counts the connections it is offered, so that "tried once"
//! is a count, and each run's stderr is read line by line: bwreset's own message, once, with
//! its fix, and no library log line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Fixture, GROUP, SERVICE_PROVIDER, text};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../odin-client/tests/fixtures/first-contact"
);

fn tls_file(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// A loopback server run by its own runtime; it stops when dropped (with the runtime).
struct Server {
    _runtime: tokio::runtime::Runtime,
    address: SocketAddr,
    /// Connections accepted (for a TLS front: handshakes attempted).
    connections: Arc<AtomicUsize>,
    /// `CONNECT` targets and `Proxy-Authorization` seen by a proxy.
    tunnels: Arc<Mutex<Vec<(String, bool)>>>,
}

impl Server {
    fn start<F, Fut>(serve: F) -> Server
    where
        F: Fn(TcpStream, Arc<Mutex<Vec<(String, bool)>>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let connections = Arc::new(AtomicUsize::new(0));
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let (counted, seen) = (connections.clone(), tunnels.clone());
        let serve = Arc::new(serve);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, seen.clone()));
            }
        });
        Server {
            _runtime: runtime,
            address,
            connections,
            tunnels,
        }
    }

    /// A TLS front with the certificate `name` (`front`, `other-name`, `expired`) that relays
    /// every request to `upstream` (the simulator's plain-http address).
    fn tls_front(name: &str, upstream: SocketAddr) -> Server {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certificates: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(tls_file(&format!("{name}.pem")))
                .expect("certificate file")
                .collect::<Result<_, _>>()
                .expect("certificate");
        let key = PrivateKeyDer::from_pem_file(tls_file(&format!("{name}.key"))).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Server::start(move |stream, _| {
            let acceptor = acceptor.clone();
            async move {
                // A refused handshake just ends the connection, as with nginx.
                let Ok(mut secure) = acceptor.accept(stream).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut secure, &mut plain).await;
                }
            }
        })
    }

    /// Accepts, reads whatever comes, and never answers.
    fn silent() -> Server {
        Server::start(|mut stream, _| async move {
            let mut buffer = [0u8; 4096];
            while matches!(stream.read(&mut buffer).await, Ok(read) if read > 0) {}
        })
    }

    /// Answers every TLS ClientHello with the fatal alert `protocol_version`, as a server that
    /// only speaks TLS 1.0 does.
    fn old_tls_only() -> Server {
        Server::start(|mut stream, _| async move {
            let mut buffer = [0u8; 4096];
            if stream.read(&mut buffer).await.is_ok() {
                let _ = stream
                    .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
                    .await;
                let _ = stream.shutdown().await;
            }
        })
    }

    /// An HTTP proxy that opens every `CONNECT` tunnel to `upstream`, whatever host it names,
    /// and records the target and whether credentials came with it.
    fn proxy(upstream: SocketAddr) -> Server {
        Server::start(move |mut stream, tunnels| async move {
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                match stream.read_u8().await {
                    Ok(byte) => head.push(byte),
                    Err(_) => return,
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let mut words = head.split_whitespace();
            let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            if method != "CONNECT" {
                let _ = stream
                    .write_all(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
                    .await;
                return;
            }
            let authorised = head
                .to_ascii_lowercase()
                .contains("proxy-authorization: basic ");
            tunnels
                .lock()
                .unwrap()
                .push((target.to_owned(), authorised));
            let Ok(mut upstream) = TcpStream::connect(upstream).await else {
                return;
            };
            if stream
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_ok()
            {
                let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
            }
        })
    }

    fn port(&self) -> u16 {
        self.address.port()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn tunnels(&self) -> Vec<(String, bool)> {
        self.tunnels.lock().unwrap().clone()
    }
}

/// The simulator's address, for a front to relay to.
fn upstream(fixture: &Fixture) -> SocketAddr {
    let base = fixture.simulator.base_url();
    let authority = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("authority");
    authority.parse().expect("socket address")
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn run(command: &mut assert_cmd::Command) -> Outcome {
    let started = Instant::now();
    let output = command.output().expect("runs");
    Outcome {
        code: output.status.code(),
        stdout: text(&output.stdout),
        stderr: text(&output.stderr),
        elapsed: started.elapsed(),
    }
}

/// `reset --type vm --all-users --out OUT --yes --base-url URL` and `extra`.
fn reset_at(fixture: &Fixture, base_url: &str, extra: &[&str]) -> assert_cmd::Command {
    // A new output file for every run of a test (bwreset never overwrites one).
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let out = fixture.path(&format!("out-{}.json", RUNS.fetch_add(1, Ordering::SeqCst)));
    let mut command = fixture.reset(
        "vm",
        &[
            "--all-users",
            "--out",
            out.to_str().unwrap(),
            "--yes",
            "--base-url",
            base_url,
        ],
    );
    command.args(extra);
    command
}

/// stderr holds bwreset's own lines only: no log line (level words, timestamps) from a library.
fn assert_quiet(stderr: &str) {
    for line in stderr.lines() {
        for level in ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"] {
            assert!(
                !line.contains(level),
                "a log line on stderr: {line}\n{stderr}"
            );
        }
        assert!(
            !line.starts_with("20") && !line.contains("Z "),
            "a timestamp on stderr: {line}\n{stderr}"
        );
    }
    assert_eq!(stderr.matches("error:").count(), 1, "said once:\n{stderr}");
}

fn https(server: &Server) -> String {
    format!("https://127.0.0.1:{}/api/v2", server.port())
}

#[test]
fn an_untrusted_certificate_is_tried_once_and_the_fix_is_ca_cert() {
    let fixture = Fixture::new(3);
    let front = Server::tls_front("front", upstream(&fixture));
    let outcome = run(&mut reset_at(&fixture, &https(&front), &[]));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert_eq!(front.connections(), 1, "one handshake:\n{}", outcome.stderr);
    assert_quiet(&outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("is not signed by an authority bwreset trusts; nothing was changed"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("hint:") && outcome.stderr.contains("`--ca-cert FILE`"),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("cannot reach"),
        "{}",
        outcome.stderr
    );
    assert_eq!(fixture.total_changes(), 0);
}

#[test]
fn with_the_private_ca_the_reset_runs_through_the_front() {
    let fixture = Fixture::new(3);
    let front = Server::tls_front("front", upstream(&fixture));
    let outcome = run(&mut reset_at(
        &fixture,
        &https(&front),
        &["--ca-cert", &tls_file("ca.pem")],
    ));
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(fixture.total_changes(), 3);
    assert!(!outcome.stderr.contains("error:"), "{}", outcome.stderr);
}

#[test]
fn a_certificate_for_another_host_name_says_so() {
    let fixture = Fixture::new(2);
    let front = Server::tls_front("other-name", upstream(&fixture));
    let outcome = run(&mut reset_at(
        &fixture,
        &https(&front),
        &["--ca-cert", &tls_file("ca.pem")],
    ));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert_eq!(front.connections(), 1, "{}", outcome.stderr);
    assert_quiet(&outcome.stderr);
    assert!(
        outcome.stderr.contains("is issued for another host name")
            && outcome.stderr.contains("`--base-url`"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn an_expired_certificate_says_so() {
    let fixture = Fixture::new(2);
    let front = Server::tls_front("expired", upstream(&fixture));
    let outcome = run(&mut reset_at(
        &fixture,
        &https(&front),
        &["--ca-cert", &tls_file("ca.pem")],
    ));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert_eq!(front.connections(), 1, "{}", outcome.stderr);
    assert_quiet(&outcome.stderr);
    assert!(outcome.stderr.contains("has expired"), "{}", outcome.stderr);
}

#[test]
fn a_refused_tls_version_says_so_after_one_attempt() {
    let fixture = Fixture::new(2);
    let old = Server::old_tls_only();
    let outcome = run(&mut reset_at(&fixture, &https(&old), &[]));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert_eq!(old.connections(), 1, "{}", outcome.stderr);
    assert_quiet(&outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("refused the TLS versions bwreset speaks"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn insecure_warns_once_and_goes_ahead() {
    let fixture = Fixture::new(2);
    let front = Server::tls_front("front", upstream(&fixture));
    let outcome = run(&mut reset_at(&fixture, &https(&front), &["--insecure"]));
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr.matches("warning:").count(),
        1,
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("warning: `--insecure`"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("WARN"), "{}", outcome.stderr);
    assert_eq!(fixture.total_changes(), 2);
}

#[test]
fn a_server_that_never_answers_is_named_within_the_configured_time() {
    let fixture = Fixture::new(2);
    let silent = Server::silent();
    let base_url = format!("http://127.0.0.1:{}/api/v2", silent.port());
    let outcome = run(&mut reset_at(
        &fixture,
        &base_url,
        &["--first-answer-timeout", "2", "--connect-timeout", "2"],
    ));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert_quiet(&outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("accepted the connection and did not answer in 2 s"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("--first-answer-timeout"));
    assert_eq!(silent.connections(), 1, "given up, not retried");
    // A loose bound: it took 120 s before; 2 s are configured.
    assert!(
        outcome.elapsed < Duration::from_secs(60),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn a_silent_tls_server_is_a_connection_that_never_completes() {
    let fixture = Fixture::new(2);
    let silent = Server::silent();
    let outcome = run(&mut reset_at(
        &fixture,
        &https(&silent),
        &["--connect-timeout", "2"],
    ));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert_quiet(&outcome.stderr);
    assert!(
        outcome.stderr.contains("no connection to") && outcome.stderr.contains("within 2 s"),
        "{}",
        outcome.stderr
    );
    assert_eq!(silent.connections(), 1);
    assert!(
        outcome.elapsed < Duration::from_secs(60),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn https_proxy_is_used_for_a_remote_host_and_shown() {
    let fixture = Fixture::new(3);
    let front = Server::tls_front("front", upstream(&fixture));
    let proxy = Server::proxy(front.address);
    // `odin.test` is never resolved here: the proxy opens the tunnel (to the front).
    let base_url = format!("https://odin.test:{}/api/v2", front.port());
    let proxy_url = format!("http://ops:Proxy-Secret-7@127.0.0.1:{}", proxy.port());
    let outcome = run(
        reset_at(&fixture, &base_url, &["--ca-cert", &tls_file("ca.pem")])
            .env("HTTPS_PROXY", &proxy_url),
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(fixture.total_changes(), 3);
    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty());
    for (target, authorised) in &tunnels {
        assert_eq!(target, &format!("odin.test:{}", front.port()));
        assert!(authorised, "the proxy's credentials are sent to the proxy");
    }
    assert!(
        outcome.stderr.contains(&format!(
            "through the proxy `http://[redacted]@127.0.0.1:{}`",
            proxy.port()
        )),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("Proxy-Secret-7"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn loopback_and_no_proxy_hosts_never_go_through_the_proxy() {
    let fixture = Fixture::new(2);
    let front = Server::tls_front("front", upstream(&fixture));
    let proxy = Server::proxy(front.address);
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
    let outcome = run(reset_at(
        &fixture,
        &https(&front),
        &["--ca-cert", &tls_file("ca.pem")],
    )
    .env("HTTPS_PROXY", &proxy_url)
    .env("ALL_PROXY", &proxy_url));
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(proxy.connections(), 0);
    assert!(!outcome.stderr.contains("proxy"), "{}", outcome.stderr);

    // A name listed in NO_PROXY is reached directly: here that fails (it does not resolve),
    // and the proxy still sees nothing.
    let base_url = format!("https://odin.test:{}/api/v2", front.port());
    let outcome = run(reset_at(&fixture, &base_url, &["--connect-timeout", "5"])
        .env("HTTPS_PROXY", &proxy_url)
        .env("NO_PROXY", "example.com,.test"));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert_eq!(proxy.connections(), 0, "{}", outcome.stderr);
}

#[test]
fn a_socks_proxy_is_refused_with_a_fix() {
    let fixture = Fixture::new(1);
    let outcome = run(
        reset_at(&fixture, "https://odin.example.net/api/v2", &[]).env(
            "HTTPS_PROXY",
            "socks5://user:Socks-Secret@proxy.example:1080",
        ),
    );
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("socks5"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("hint:"), "{}", outcome.stderr);
    assert!(
        !outcome.stderr.contains("Socks-Secret"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn verbose_shows_library_detail_without_secrets() {
    let fixture = Fixture::new(2);
    let front = Server::tls_front("front", upstream(&fixture));
    let outcome =
        run(reset_at(&fixture, &https(&front), &["--verbose"]).env("ODIN_PASSWORD", "admin"));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("DEBUG"), "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr.matches("error:").count(),
        1,
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("\"admin\""), "{}", outcome.stderr);
}

fn check_at(fixture: &Fixture, base_url: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut command = fixture.bwreset();
    command.args(["check", "--base-url", base_url]);
    command.args(extra);
    command
}

#[test]
fn check_shows_the_certificate_logs_in_lists_the_group_and_changes_nothing() {
    let fixture = Fixture::new(4);
    let front = Server::tls_front("front", upstream(&fixture));
    let outcome = run(&mut check_at(
        &fixture,
        &https(&front),
        &[
            "--ca-cert",
            &tls_file("ca.pem"),
            "--service-provider",
            SERVICE_PROVIDER,
            "--group",
            GROUP,
        ],
    ));
    assert_eq!(
        outcome.code,
        Some(0),
        "{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    let screen = &outcome.stdout;
    for expected in [
        "subject `CN=odin.test, O=bwreset tests`",
        "issuer  `CN=bwreset first-contact test CA, O=bwreset tests`",
        "names   localhost, 127.0.0.1, odin.test",
        "ok    connection",
        "ok    login",
        "ok    group        `demo-group` of service provider `demo-sp`: 4 user(s) listed",
        "ok    logout",
        "everything works; nothing was changed",
    ] {
        assert!(screen.contains(expected), "`{expected}` missing:\n{screen}");
    }
    assert!(!screen.contains("FAIL"), "{screen}");
    assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    assert_eq!(fixture.total_changes(), 0);
}

#[test]
fn check_names_an_untrusted_certificate_and_its_fix() {
    let fixture = Fixture::new(2);
    let front = Server::tls_front("front", upstream(&fixture));
    let outcome = run(&mut check_at(&fixture, &https(&front), &[]));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stdout);
    let screen = &outcome.stdout;
    assert!(
        screen.contains("issuer  `CN=bwreset first-contact test CA"),
        "{screen}"
    );
    assert!(screen.contains("FAIL  login"), "{screen}");
    assert!(
        screen.contains("fix: ") && screen.contains("--ca-cert FILE"),
        "{screen}"
    );
    assert!(screen.contains("1 problem(s) to fix"), "{screen}");
    assert_eq!(fixture.total_changes(), 0);
}

#[test]
fn check_of_a_silent_server_fails_within_the_configured_time() {
    let fixture = Fixture::new(1);
    let silent = Server::silent();
    let base_url = format!("http://127.0.0.1:{}/api/v2", silent.port());
    let outcome = run(&mut check_at(
        &fixture,
        &base_url,
        &["--first-answer-timeout", "2", "--connect-timeout", "2"],
    ));
    assert_eq!(outcome.code, Some(3), "{}", outcome.stdout);
    assert!(
        outcome
            .stdout
            .contains("accepted the connection and did not answer in 2 s"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("--    group"), "{}", outcome.stdout);
    assert!(outcome.elapsed < Duration::from_secs(60));
}
