//! A load program for odin-sim's OCI-P front: how many modify commands a second it answers.
//!
//! Start the simulator on one core, then point this at its OCI-P address (docs/ocip.md):
//!
//! ```sh
//! cargo build --release -p odin-sim --example ocip_load
//! taskset -c 0 target/release/odin-sim --users 1000 --ocip-listen 127.0.0.1:2208 &
//! taskset -c 1 target/release/examples/ocip_load 127.0.0.1:2208 --connections 16 --batch 1
//! ```
//!
//! Each connection logs in (signed), then sends documents of `--batch` modify commands (SIP
//! and web passwords in turn, each value new) and waits for each reply, for `--seconds`. Every
//! reply is checked: a command that did not succeed stops the run.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example prints what it did"
)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use md5::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    addr: SocketAddr,
    connections: usize,
    batch: usize,
    seconds: u64,
    users: usize,
    password: String,
}

fn parse() -> Result<Options, String> {
    let mut arguments = std::env::args().skip(1);
    let addr = arguments
        .next()
        .ok_or("usage: ocip_load ADDR [--connections N] [--batch N] [--seconds N] [--users N] [--password P]")?
        .parse()
        .map_err(|error| format!("bad ADDR: {error}"))?;
    let mut options = Options {
        addr,
        connections: 16,
        batch: 1,
        seconds: 5,
        users: 1000,
        password: "admin".to_owned(),
    };
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|number| *number >= 1)
                .ok_or_else(|| format!("{flag} needs a whole number of at least 1"))
        };
        match flag.as_str() {
            "--connections" => options.connections = number()?,
            "--batch" => options.batch = number()?.min(15),
            "--seconds" => options.seconds = number()? as u64,
            "--users" => options.users = number()?,
            "--password" => options.password = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn document(session: &str, commands: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><sessionId xmlns=\"\">{session}</sessionId>\
         {commands}</BroadsoftDocument>\n"
    )
    .into_bytes()
}

struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    session: String,
}

impl Connection {
    async fn exchange(&mut self, commands: &str) -> std::io::Result<String> {
        const END: &[u8] = b"</BroadsoftDocument>\n";
        self.stream
            .write_all(&document(&self.session, commands))
            .await?;
        loop {
            if let Some(at) = self.buffer.windows(END.len()).position(|w| w == END) {
                let reply: String = self.buffer[..at + END.len()]
                    .iter()
                    .map(|&byte| char::from(byte))
                    .collect();
                self.buffer.drain(..at + END.len());
                return Ok(reply);
            }
            let mut chunk = [0u8; 16 * 1024];
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                return Err(std::io::Error::other("the server closed the connection"));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

async fn run_connection(
    options: Arc<Options>,
    number: usize,
    done: Arc<AtomicU64>,
    deadline: Instant,
) -> Result<(), String> {
    let stream = TcpStream::connect(options.addr)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    stream
        .set_nodelay(true)
        .map_err(|error| error.to_string())?;
    let mut connection = Connection {
        stream,
        buffer: Vec::new(),
        session: format!("load-{number}"),
    };
    let io = |error: std::io::Error| error.to_string();
    let reply = connection
        .exchange("<command xsi:type=\"AuthenticationRequest\" xmlns=\"\"><userId>admin</userId></command>")
        .await
        .map_err(io)?;
    let nonce = reply
        .split("<nonce>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .ok_or("no nonce")?;
    let password_hash = hex(&sha1::Sha1::digest(options.password.as_bytes()));
    let signed = hex(&md5::Md5::digest(
        format!("{nonce}:{password_hash}").as_bytes(),
    ));
    let reply = connection
        .exchange(&format!(
            "<command xsi:type=\"LoginRequest14sp4\" xmlns=\"\"><userId>admin</userId><signedPassword>{signed}</signedPassword></command>"
        ))
        .await
        .map_err(io)?;
    if !reply.contains("LoginResponse14sp4") {
        return Err("login refused".to_owned());
    }
    let digits = options.users.to_string().len().max(4);
    let mut sequence: u64 = 0;
    let mut commands = String::new();
    while Instant::now() < deadline {
        commands.clear();
        for _ in 0..options.batch {
            sequence += 1;
            let user = (number * 7919 + sequence as usize) % options.users + 1;
            let user_id = format!("user{user:0digits$}@demo.example");
            if sequence.is_multiple_of(2) {
                let _ = write!(
                    commands,
                    "<command xsi:type=\"UserAuthenticationModifyRequest\" xmlns=\"\"><userId>{user_id}</userId><newPassword>Load{number}x{sequence}Pw</newPassword></command>"
                );
            } else {
                let _ = write!(
                    commands,
                    "<command xsi:type=\"PasswordModifyRequest\" xmlns=\"\"><userId>{user_id}</userId><newPassword>Web{number}x{sequence}Pw</newPassword></command>"
                );
            }
        }
        let reply = connection.exchange(&commands).await.map_err(io)?;
        let successes = reply.matches("c:SuccessResponse").count();
        if successes != options.batch {
            return Err(format!(
                "{} of {} commands failed: {reply}",
                options.batch - successes,
                options.batch
            ));
        }
        done.fetch_add(options.batch as u64, Ordering::Relaxed);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => Arc::new(options),
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let tasks: Vec<_> = (0..options.connections)
        .map(|number| {
            tokio::spawn(run_connection(
                Arc::clone(&options),
                number,
                Arc::clone(&done),
                deadline,
            ))
        })
        .collect();
    let mut failed = false;
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(message)) => {
                eprintln!("error: {message}");
                failed = true;
            }
            Err(error) => {
                eprintln!("error: {error}");
                failed = true;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let commands = done.load(Ordering::Relaxed);
    println!(
        "{commands} modify commands in {elapsed:.2} s over {} connections, {} per document: {:.0} commands/s",
        options.connections,
        options.batch,
        commands as f64 / elapsed
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
