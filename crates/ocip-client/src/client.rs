//! The client: a pool of logged-in connections, documents of up to 15 commands, the gathering
//! of concurrent single commands into shared documents, retries of what the server certainly
//! did not process. The commands themselves are typed in `commands.rs`; this file only carries
//! them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bwreset_backend::{Credential, GroupScope};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use crate::commands::Command;
use crate::config::{OcipConfig, Target};
use crate::connection::{self, Connection, Dialer, ReplyBudget};
use crate::error::{Error, ErrorResponse};
use crate::generate::Rules;
use crate::xml::{self, Element, Request};

/// A typed async OCI-P client. Cheap to clone: clones share the pool, the batcher and the
/// counters.
#[derive(Clone, Debug)]
pub struct OcipClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: OcipConfig,
    target: Target,
    dialer: Dialer,
    /// The sessionId of every TCP connection (the login lives on the connection); each SOAP
    /// session has its own, kept with its cookie.
    session_id: String,
    /// What every connection may hold together of answers being read.
    reply_budget: ReplyBudget,
    idle: Mutex<Vec<Connection>>,
    /// Connections open or being opened: at most `config.connections`.
    open: AtomicUsize,
    /// Woken when a connection goes back to the pool or one fewer is open.
    returned: Notify,
    /// One permit per document in flight: the pool's bound.
    slots: Arc<Semaphore>,
    /// Where single commands wait to share a document; started on first use.
    batcher: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    /// Whether values come from the server's `PasswordGenerateRequest` (cleared at its first
    /// refusal, and from the start with [`OcipConfig::local_generation`]).
    server_generates: AtomicBool,
    /// The rules read for local generation, per credential and group: read once per run.
    rules: Mutex<HashMap<(Credential, String, String), Rules>>,
    documents: AtomicU64,
    commands: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OcipClient")
            .field("server", &self.target.server)
            .field("username", &self.config.username)
            .finish_non_exhaustive()
    }
}

/// A command waiting for a document, and where its answer goes.
struct Pending {
    request: Request,
    answer: oneshot::Sender<Result<Element, Error>>,
}

/// What a client has sent so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Documents sent (logins included).
    pub documents: u64,
    /// Commands sent (logins included).
    pub commands: u64,
}

/// Connections whose `LogoutRequest` is sent and whose answers are still to be read (over
/// SOAP: whose logout's exchange is still to be made); dropped, they close unread.
#[derive(Debug)]
pub struct LogoutAnswers {
    connections: Vec<Connection>,
    username: String,
}

impl LogoutAnswers {
    /// Reads every answer (over SOAP: makes every exchange), each waiting briefly at most, all
    /// at once, and closes the connections.
    pub async fn wait(self) {
        let mut answers = tokio::task::JoinSet::new();
        for connection in self.connections {
            let username = self.username.clone();
            answers.spawn(async move { connection.end_logout(&username).await });
        }
        while answers.join_next().await.is_some() {}
    }

    /// Whether the logins outlive the connections (OCI-P over SOAP: the server keeps each
    /// under its session's cookie), so that only [`LogoutAnswers::wait`] ends them: dropped
    /// unwaited, the sessions stay open on the server until they expire.
    pub fn must_be_waited_for(&self) -> bool {
        self.connections
            .iter()
            .any(Connection::login_outlives_connection)
    }
}

impl OcipClient {
    /// Checks the configuration, connects and logs in once (so that a wrong password or an
    /// unreachable server shows at once); that connection joins the pool.
    pub async fn login(config: OcipConfig) -> Result<OcipClient, Error> {
        let target = Target::parse(&config.server, config.allow_plaintext, config.soap)?;
        let dialer = if let Some(url) = &target.soap {
            Dialer::Soap(crate::soap::Service::new(
                &config,
                url.clone(),
                &target.server,
            )?)
        } else if target.tls {
            Dialer::Tcp {
                tls: Some(connection::tls_connector(config.ca_cert_pem.as_deref())?),
            }
        } else {
            if config.ca_cert_pem.is_some() {
                tracing::debug!("a CA certificate was given for plain TCP: it is not used");
            }
            Dialer::Tcp { tls: None }
        };
        let connections = config.connections.max(1);
        let client = OcipClient {
            inner: Arc::new(Inner {
                session_id: session_id()?,
                reply_budget: ReplyBudget::new(config.max_reply_bytes),
                slots: Arc::new(Semaphore::new(connections)),
                idle: Mutex::new(Vec::with_capacity(connections)),
                open: AtomicUsize::new(1),
                returned: Notify::new(),
                batcher: Mutex::new(None),
                server_generates: AtomicBool::new(!config.local_generation),
                rules: Mutex::new(HashMap::new()),
                documents: AtomicU64::new(0),
                commands: AtomicU64::new(0),
                target,
                dialer,
                config,
            }),
        };
        // With warm-up the other connections open and make the login's first step (no secret)
        // at once; the second, with the password, only once the first connection's login
        // worked: a wrong password is refused once, not once per connection.
        let (verdict, proceed) = tokio::sync::watch::channel(None::<bool>);
        if client.inner.config.warm_up {
            while client.inner.reserve() {
                let inner = Arc::clone(&client.inner);
                let proceed = proceed.clone();
                tokio::spawn(async move {
                    match inner.connect_when(Some(proceed)).await {
                        Ok(connection) => inner.put_back(connection),
                        Err(error) => {
                            tracing::debug!(%error, "an extra OCI-P connection failed to open");
                            inner.release();
                        }
                    }
                });
            }
        }
        match client.inner.connect().await {
            Ok(connection) => {
                verdict.send_replace(Some(true));
                client.inner.put_back(connection);
            }
            Err(error) => {
                verdict.send_replace(Some(false));
                return Err(error);
            }
        }
        Ok(client)
    }

    /// The server as recorded in a journal: `ocips://host:port` or `ocip://host:port`.
    pub fn server(&self) -> &str {
        &self.inner.target.server
    }

    /// The administrator logged in.
    pub fn username(&self) -> &str {
        &self.inner.config.username
    }

    /// Documents and commands sent so far.
    pub fn counts(&self) -> Counts {
        Counts {
            documents: self.inner.documents.load(Ordering::Relaxed),
            commands: self.inner.commands.load(Ordering::Relaxed),
        }
    }

    /// The most connections the pool keeps.
    pub fn connections(&self) -> usize {
        self.inner.config.connections.max(1)
    }

    /// Whether `PasswordGenerateRequest` is still to be used.
    pub(crate) fn server_generates(&self) -> bool {
        self.inner.server_generates.load(Ordering::Relaxed)
    }

    /// From now on, values are generated here (said once, however many callers saw the
    /// refusal).
    pub(crate) fn fall_back_to_local_values(&self) {
        if self.inner.server_generates.swap(false, Ordering::Relaxed) {
            tracing::info!(
                "the server refused PasswordGenerateRequest: values are generated here from its rules for the rest of the run"
            );
        }
    }

    /// The rules read before for `credential` in `group`.
    pub(crate) fn cached_rules(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
    ) -> Option<Rules> {
        let rules = self.inner.rules.lock().ok()?;
        rules
            .get(&(
                credential,
                group.service_provider_id.to_owned(),
                group.group_id.to_owned(),
            ))
            .copied()
    }

    /// Keeps the rules read for `credential` in `group` for the rest of the run.
    pub(crate) fn keep_rules(&self, credential: Credential, group: GroupScope<'_>, rules: Rules) {
        if let Ok(mut kept) = self.inner.rules.lock() {
            kept.insert(
                (
                    credential,
                    group.service_provider_id.to_owned(),
                    group.group_id.to_owned(),
                ),
                rules,
            );
        }
    }

    /// Logs out on every idle connection and closes it: [`OcipClient::send_logout`], then the
    /// answers.
    pub async fn logout(&self) {
        self.send_logout().await.wait().await;
    }

    /// Sends `LogoutRequest` on every idle connection at once (one round trip for all) and
    /// returns when they are written; [`LogoutAnswers::wait`] then reads the answers. Over TCP
    /// the login lives on the connection, so dropping the answers unread (closing the
    /// connections) ends the session all the same: a caller with better things to do need not
    /// wait. Over SOAP nothing is sent until [`LogoutAnswers::wait`], which must then be waited
    /// for ([`LogoutAnswers::must_be_waited_for`]).
    pub async fn send_logout(&self) -> LogoutAnswers {
        let counts = self.counts();
        // Read by the benchmark (`RUST_LOG=ocip_client=debug`): what the session cost.
        tracing::debug!(
            documents = counts.documents,
            commands = counts.commands,
            "OCI-P session totals"
        );
        let connections: Vec<Connection> = match self.inner.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        let mut sending = tokio::task::JoinSet::new();
        for mut connection in connections {
            let inner = Arc::clone(&self.inner);
            sending.spawn(async move {
                let sent = connection.send_logout(&inner.config).await;
                inner.release();
                sent.then_some(connection)
            });
        }
        let mut sent = Vec::new();
        while let Some(joined) = sending.join_next().await {
            if let Ok(Some(connection)) = joined {
                sent.push(connection);
            }
        }
        LogoutAnswers {
            connections: sent,
            username: self.inner.config.username.clone(),
        }
    }

    /// Sends read commands (generator requests, registration reads) all at once through the
    /// batcher, so that they fill documents of up to 15 on every free connection; each is asked
    /// again by the read rule ([`is_retryable_read`]). One answer per command, in order.
    pub(crate) async fn read_many<A>(&self, commands: &[Command<A>]) -> Vec<Result<A, Error>> {
        let mut results: Vec<Option<Result<A, Error>>> = std::iter::repeat_with(|| None)
            .take(commands.len())
            .collect();
        let mut waiting: Vec<usize> = (0..commands.len()).collect();
        let mut attempt = 0;
        while !waiting.is_empty() {
            attempt += 1;
            // Every command is queued before any answer is awaited.
            let queued: Vec<(usize, Result<oneshot::Receiver<_>, Error>)> = waiting
                .iter()
                .map(|&index| (index, self.enqueue(commands[index].request.clone())))
                .collect();
            let mut retry = Vec::new();
            for (index, receiver) in queued {
                let result = match receiver {
                    Ok(receiver) => receiver.await.unwrap_or_else(|_| Err(abandoned())),
                    Err(error) => Err(error),
                };
                let again = result.as_ref().err().is_some_and(|error| {
                    attempt < self.inner.config.max_attempts && is_retryable_read(error)
                });
                if again {
                    retry.push(index);
                }
                results[index] = Some(result.and_then(|reply| commands[index].answer(&reply)));
            }
            if !retry.is_empty() {
                tokio::time::sleep(self.inner.config.backoff.delay(attempt)).await;
            }
            waiting = retry;
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(abandoned())))
            .collect()
    }

    /// Sends one command that must not be applied twice (a setter, a device rebuild or reset),
    /// sharing a document with whatever other commands are waiting. It is sent again only when
    /// the server certainly did not process it and asking again may pass
    /// ([`Error::may_have_been_processed`], [`Error::is_lasting`]).
    pub(crate) async fn modify<A>(&self, command: &Command<A>) -> Result<A, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.submit(command.request.clone()).await {
                Err(error)
                    if attempt < self.inner.config.max_attempts
                        && !error.may_have_been_processed()
                        && !error.is_lasting() =>
                {
                    tokio::time::sleep(self.inner.config.backoff.delay(attempt)).await;
                }
                Err(error) => return Err(error),
                Ok(reply) => return command.answer(&reply),
            }
        }
    }

    /// Sends one read, sharing a document with whatever other commands are waiting, asked again
    /// by the read rule ([`is_retryable_read`]).
    pub(crate) async fn read<A>(&self, command: &Command<A>) -> Result<A, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.submit(command.request.clone()).await {
                Err(error)
                    if attempt < self.inner.config.max_attempts && is_retryable_read(&error) =>
                {
                    tokio::time::sleep(self.inner.config.backoff.delay(attempt)).await;
                }
                Err(error) => return Err(error),
                Ok(reply) => return command.answer(&reply),
            }
        }
    }

    /// Hands one command to the batcher and waits for its own answer.
    async fn submit(&self, request: Request) -> Result<Element, Error> {
        let receiver = self.enqueue(request)?;
        receiver.await.map_err(|_| abandoned())?
    }

    /// Queues one command in the batcher; the receiver gets its answer.
    fn enqueue(
        &self,
        request: Request,
    ) -> Result<oneshot::Receiver<Result<Element, Error>>, Error> {
        let (answer, receiver) = oneshot::channel();
        let pending = Pending { request, answer };
        let mut batcher = self.inner.batcher.lock().map_err(|_| stopped())?;
        let sender = batcher.get_or_insert_with(|| start_batcher(Arc::clone(&self.inner)));
        match sender.send(pending) {
            Ok(()) => Ok(receiver),
            Err(mpsc::error::SendError(pending)) => {
                // The batcher's runtime is gone (a new one is running now): start another.
                let sender = start_batcher(Arc::clone(&self.inner));
                let result = sender.send(pending).map_err(|_| stopped());
                *batcher = Some(sender);
                result.map(|()| receiver)
            }
        }
    }
}

/// The document carrying a command was dropped without an answer: it may have been sent.
fn abandoned() -> Error {
    Error::Transport {
        message: "the document carrying the command was abandoned".into(),
    }
}

fn stopped() -> Error {
    Error::Connect {
        server: String::new(),
        message: "the client's batcher has stopped".into(),
    }
}

/// Whether a read may be asked again (the read rule): any failure of the exchange, a busy
/// server, a lost session, a failure inside the server (`[Error 5xxx]`: asking again changes
/// nothing); never a refusal in the server's words, a bad configuration, a refused login or an
/// answer that could not be read.
fn is_retryable_read(error: &Error) -> bool {
    match error {
        Error::Refused { .. } => {
            error.is_busy() || error.is_session_lost() || error.is_server_failure()
        }
        Error::Config { .. } | Error::LoginRefused { .. } | Error::Decode { .. } => false,
        Error::Front { lasting, .. } => !lasting,
        Error::Connect { .. }
        | Error::Tls { .. }
        | Error::Timeout { .. }
        | Error::Transport { .. } => true,
    }
}

/// The batcher: takes a waiting command, waits for a free connection, then takes every other
/// command waiting by then (up to 15 in all) into the same document. So commands share
/// documents exactly when the connections are busy, and a lone command never waits.
fn start_batcher(inner: Arc<Inner>) -> mpsc::UnboundedSender<Pending> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<Pending>();
    let per_document = inner.max_per_document();
    tokio::spawn(async move {
        while let Some(first) = receiver.recv().await {
            let Ok(permit) = Arc::clone(&inner.slots).acquire_owned().await else {
                return;
            };
            let mut batch = vec![first];
            // What is waiting now; then, twice, whatever the tasks that are ready to run add
            // (callers whose journal sync just ended, say): fuller documents, no timer.
            for round in 0..3 {
                if round > 0 {
                    tokio::task::yield_now().await;
                }
                while batch.len() < per_document {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                if batch.len() == per_document {
                    break;
                }
            }
            let inner = Arc::clone(&inner);
            tokio::spawn(async move {
                let (requests, answers): (Vec<Request>, Vec<_>) = batch
                    .into_iter()
                    .map(|pending| (pending.request, pending.answer))
                    .unzip();
                let references: Vec<&Request> = requests.iter().collect();
                match inner.send_with_permit(&references, permit).await {
                    // One reply per command (checked when the answer was read), each moved to
                    // its caller.
                    Ok(replies) => {
                        for (answer, reply) in answers.into_iter().zip(replies) {
                            let _ = answer.send(reply);
                        }
                    }
                    // A document whose answer is lost leaves every command in it open.
                    Err(error) => {
                        for answer in answers {
                            let _ = answer.send(Err(error.clone()));
                        }
                    }
                }
            });
        }
    });
    sender
}

impl Inner {
    fn max_per_document(&self) -> usize {
        self.config
            .max_commands_per_document
            .clamp(1, crate::config::MAX_COMMANDS_PER_DOCUMENT)
    }

    async fn connect(&self) -> Result<Connection, Error> {
        self.connect_when(None).await
    }

    /// Opens a connection and logs in. With `proceed`, the login's first step (no secret) is
    /// made at once and the second, with the password, waits until `proceed` says the first
    /// connection's login worked; when it failed, this connection closes without trying.
    async fn connect_when(
        &self,
        proceed: Option<tokio::sync::watch::Receiver<Option<bool>>>,
    ) -> Result<Connection, Error> {
        let session_id = match self.dialer {
            Dialer::Tcp { .. } => self.session_id.clone(),
            // A SOAP session is its cookie and its sessionId together: a sessionId shared by
            // two sessions would end the first one's login at the second one's.
            Dialer::Soap(_) => session_id()?,
        };
        let mut connection = Connection::open(
            &self.target,
            &self.dialer,
            session_id,
            self.config.connect_timeout,
            self.reply_budget.clone(),
        )
        .await?;
        let (config, server) = (&self.config, &self.target.server);
        if !(self.target.tls && config.plaintext_login) {
            self.documents.fetch_add(1, Ordering::Relaxed);
            self.commands.fetch_add(1, Ordering::Relaxed);
        }
        let nonce = connection
            .authenticate(config, self.target.tls, server)
            .await?;
        if let Some(mut proceed) = proceed {
            let first_logged_in = proceed
                .wait_for(Option::is_some)
                .await
                .is_ok_and(|verdict| *verdict == Some(true));
            if !first_logged_in {
                return Err(Error::Connect {
                    server: server.clone(),
                    message: "the first connection's login failed".into(),
                });
            }
        }
        self.documents.fetch_add(1, Ordering::Relaxed);
        self.commands.fetch_add(1, Ordering::Relaxed);
        connection.finish_login(config, nonce, server).await?;
        tracing::debug!(server = %server, "logged in on a new OCI-P session");
        Ok(connection)
    }

    fn put_back(&self, connection: Connection) {
        match self.idle.lock() {
            Ok(mut idle) => {
                idle.push(connection);
                self.returned.notify_waiters();
            }
            Err(_) => self.release(),
        }
    }

    /// Counts one more connection open, if the pool has room for it.
    fn reserve(&self) -> bool {
        let most = self.config.connections.max(1);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < most).then_some(open + 1)
            })
            .is_ok()
    }

    /// One connection fewer (closed, failed, or never opened).
    fn release(&self) {
        let _ = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                Some(open.saturating_sub(1))
            });
        self.returned.notify_waiters();
    }

    /// An idle connection, or a new one (logged in) when the pool has room; otherwise waits for
    /// one to come back (or to be closed, leaving room).
    async fn take_connection(&self) -> Result<Connection, Error> {
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(connection) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                return Ok(connection);
            }
            if self.reserve() {
                return self.connect().await.inspect_err(|_| self.release());
            }
            returned.await;
        }
    }

    /// Sends one document on an idle connection (or a new one, logged in) and reads its answer:
    /// one result per command. An `Err` is a failure of the whole document.
    async fn send_with_permit(
        &self,
        requests: &[&Request],
        _permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<Vec<Result<Element, Error>>, Error> {
        let mut connection = self.take_connection().await?;
        match self.exchange_on(&mut connection, requests).await {
            Ok((results, session_lost)) => {
                // A connection whose login is gone is closed; the next one logs in.
                if session_lost {
                    self.release();
                } else {
                    self.put_back(connection);
                }
                Ok(results)
            }
            // On any failure the connection is dropped: its state is unknown.
            Err(error) => {
                self.release();
                Err(error)
            }
        }
    }

    /// One document's exchange on `connection`: one result per command, and whether the server
    /// said the session is lost.
    async fn exchange_on(
        &self,
        connection: &mut Connection,
        requests: &[&Request],
    ) -> Result<(Vec<Result<Element, Error>>, bool), Error> {
        let session_id = connection.session_id().to_owned();
        if tracing::enabled!(tracing::Level::TRACE) {
            let redacted = xml::request_document(&session_id, requests, true);
            tracing::trace!(document = %String::from_utf8_lossy(&redacted).trim_end(), "OCI-P request");
        }
        let document = xml::request_document(&session_id, requests, false);
        self.documents.fetch_add(1, Ordering::Relaxed);
        self.commands
            .fetch_add(requests.len() as u64, Ordering::Relaxed);
        let reply = connection
            .exchange(
                &document,
                self.config.reply_timeout,
                self.config.max_reply_bytes,
            )
            .await
            .map_err(|error| scrub_error(error, requests))?;
        let reply = {
            let answer = reply;
            answer.parse()?
        };
        if reply.commands.len() != requests.len() {
            return Err(Error::Decode {
                message: format!(
                    "{} commands sent, {} answered",
                    requests.len(),
                    reply.commands.len()
                ),
            });
        }
        let answering = requests.first().map_or("", |request| request.type_name);
        reply.accept_session(&session_id, answering);
        let mut session_lost = false;
        let results: Vec<Result<Element, Error>> = reply
            .commands
            .into_iter()
            .zip(requests)
            .map(|(reply, request)| {
                if tracing::enabled!(tracing::Level::TRACE) {
                    // Secret elements are hidden by name; a value echoed in other text (a
                    // refusal quoting it) is replaced too.
                    let mut shown = reply.body.redacted();
                    for secret in request.secrets().iter().filter(|secret| !secret.is_empty()) {
                        shown = shown.replace(secret, "[redacted]");
                    }
                    tracing::trace!(command = %reply.type_name, answer = %shown, "OCI-P answer");
                }
                reply.into_result().map_err(|response| {
                    let error = Error::Refused {
                        command: request.type_name,
                        response: scrub(response, &request.secrets()),
                    };
                    session_lost |= error.is_session_lost();
                    error
                })
            })
            .collect();
        Ok((results, session_lost))
    }
}

/// The server's text with every value the request carried replaced by `[redacted]`.
fn scrub(mut response: ErrorResponse, secrets: &[&str]) -> ErrorResponse {
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        response.summary = response.summary.replace(secret, "[redacted]");
        if let Some(detail) = &mut response.detail {
            *detail = detail.replace(secret, "[redacted]");
        }
    }
    response
}

/// A front's words (a SOAP Fault's text, say) with every value the document carried replaced.
fn scrub_error(error: Error, requests: &[&Request]) -> Error {
    match error {
        Error::Front {
            mut message,
            sent,
            lasting,
        } => {
            for request in requests {
                for secret in request.secrets().iter().filter(|secret| !secret.is_empty()) {
                    message = message.replace(secret, "[redacted]");
                }
            }
            Error::Front {
                message,
                sent,
                lasting,
            }
        }
        other => other,
    }
}

/// A fresh UUID v4 (from the operating system's random source) to identify the session.
fn session_id() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| Error::Config {
        message: format!("the operating system's random source failed: {error}"),
    })?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_removes_the_value_sent() {
        let response = ErrorResponse {
            code: Some(5000),
            summary: "[Error 5000] Injected failure: could not confirm `S3cret!`".into(),
            detail: Some("S3cret!".into()),
        };
        let scrubbed = scrub(response, &["S3cret!"]);
        assert!(!scrubbed.text().contains("S3cret"), "{}", scrubbed.text());
    }

    #[test]
    fn session_ids_are_uuid_v4() {
        let id = session_id().expect("random");
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, session_id().expect("random"));
    }
}
