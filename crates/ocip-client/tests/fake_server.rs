//! The OCI-P client against small fake servers on loopback that behave as a third party's might:
//! one that answers every document with a `sessionId` of its own, one that answers the login
//! with an endless reply.

use bwreset_backend::{Backend, GroupScope, SecretString};
use ocip_client::{Error, OcipClient, OcipConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const GROUP: GroupScope<'static> = GroupScope {
    service_provider_id: "sp",
    group_id: "grp",
};

/// The `sessionId` the fake server writes in every answer, whatever was sent.
const ITS_OWN_SESSION: &str = "server-chosen-session-0001";

fn config(port: u16) -> OcipConfig {
    OcipConfig::new(
        format!("ocip://127.0.0.1:{port}"),
        "admin",
        SecretString::from("admin"),
    )
}

/// Reads one request document (up to its closing root tag); `None` at the end of the stream.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<String> {
    const END: &[u8] = b"</BroadsoftDocument>";
    loop {
        if let Some(at) = buffer.windows(END.len()).position(|window| window == END) {
            let document: Vec<u8> = buffer.drain(..at + END.len()).collect();
            return Some(String::from_utf8_lossy(&document).into_owned());
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// The text between `<name>` and `</name>` in a document.
fn element<'a>(document: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let start = document.find(&open)?;
    let start = start + document[start..].find('>')? + 1;
    let end = start + document[start..].find(&format!("</{name}>"))?;
    Some(&document[start..end])
}

/// The request's command type (`xsi:type="..."`).
fn command_type(document: &str) -> &str {
    let start = document.find("xsi:type=\"").map_or(0, |at| at + 10);
    let end = start + document[start..].find('"').unwrap_or(0);
    &document[start..end]
}

fn answer(session: &str, command: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><sessionId xmlns=\"\">{session}</sessionId>{command}</BroadsoftDocument>\n"
    )
    .into_bytes()
}

/// A server that logs anyone in, lists two users, and writes its own `sessionId` in every
/// answer. Sends the `sessionId`s it received.
async fn own_session_server(
    listener: TcpListener,
    seen: tokio::sync::mpsc::UnboundedSender<String>,
) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            while let Some(request) = read_request(&mut stream, &mut buffer).await {
                let _ = seen.send(
                    element(&request, "sessionId")
                        .unwrap_or_default()
                        .to_owned(),
                );
                let command = match command_type(&request) {
                    "AuthenticationRequest" => "<command echo=\"\" xsi:type=\"AuthenticationResponse\" xmlns=\"\"><userId>admin</userId><nonce>1234567890123</nonce><passwordAlgorithm>MD5</passwordAlgorithm></command>".to_owned(),
                    "LoginRequest14sp4" => "<command echo=\"\" xsi:type=\"LoginResponse14sp4\" xmlns=\"\"><loginType>System</loginType><locale>en_US</locale><encoding>ISO-8859-1</encoding><isEnterprise>false</isEnterprise><userDomain>x</userDomain></command>".to_owned(),
                    "UserGetListInGroupRequest" => "<command echo=\"\" xsi:type=\"UserGetListInGroupResponse\" xmlns=\"\"><userTable><colHeading>User Id</colHeading><colHeading>Last Name</colHeading><row><col>u1@x</col><col>One</col></row><row><col>u2@x</col><col>Two</col></row></userTable></command>".to_owned(),
                    _ => "<command echo=\"\" xsi:type=\"c:SuccessResponse\" xmlns:c=\"C\" xmlns=\"\"/>".to_owned(),
                };
                if stream
                    .write_all(&answer(ITS_OWN_SESSION, &command))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

#[tokio::test]
async fn a_server_that_answers_with_its_own_session_id_is_served() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (sender, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(own_session_server(listener, sender));

    // The login and the command follow one rule: both get through.
    let client = OcipClient::login(config(port))
        .await
        .expect("the login is accepted");
    let users = Backend::group_user_ids(&client, GROUP)
        .await
        .expect("the listing is accepted");
    assert_eq!(users.iter().collect::<Vec<_>>(), ["u1@x", "u2@x"]);

    // The client sent its own sessionId every time, never the server's.
    let mut sent = Vec::new();
    while let Ok(session) = seen.try_recv() {
        sent.push(session);
    }
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.iter().all(|session| session == &sent[0]), "{sent:?}");
    assert_ne!(sent[0], ITS_OWN_SESSION);
}

/// A server that answers the login's first step with a document that never ends (up to 200 MiB
/// per connection), on every connection.
async fn endless_login_server(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            if read_request(&mut stream, &mut buffer).await.is_none() {
                return;
            }
            let start = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><sessionId xmlns=\"\">s</sessionId><command echo=\"\" xsi:type=\"AuthenticationResponse\" xmlns=\"\"><nonce>";
            if stream.write_all(start.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'7'; 1 << 20];
            for _ in 0..200 {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[tokio::test]
async fn an_endless_answer_to_the_login_is_refused_at_a_logins_size() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(endless_login_server(listener));
    let mut config = config(port);
    // As the CLI does: every connection opens and makes the login's first step at once.
    config.connections = 8;
    config.warm_up = true;
    let error = OcipClient::login(config)
        .await
        .expect_err("the login is refused");
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    let message = error.to_string();
    for words in [
        "AuthenticationRequest",
        "larger than 65536 bytes",
        "a login's answer",
        "OCI-P server",
    ] {
        assert!(message.contains(words), "{message}");
    }
}
