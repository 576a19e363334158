//! Looks at a server's port for the operator's doctor (`bwreset check`) and for the message of
//! a failed login: where the server URL points, and whether the port answers plain OCI-P. Only
//! the login's first step is sent (`AuthenticationRequest`, which carries no secret), and the
//! connection is closed after the first bytes of the answer.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;
use crate::config::Target;

/// Where an OCI-P server URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddress {
    /// `ocips://`: TLS.
    pub tls: bool,
    /// The host, without the brackets of an IPv6 address.
    pub host: String,
    /// The port, the scheme's default when the URL has none.
    pub port: u16,
}

/// Reads an OCI-P server URL (`ocips://HOST[:PORT]` or `ocip://HOST[:PORT]`) as the client
/// would, without its rule about plain TCP beyond loopback.
pub fn server_address(server: &str) -> Result<ServerAddress, Error> {
    let target = Target::parse(server, true, false)?;
    if target.soap.is_some() {
        // The web service answers HTTP on its port: nothing here to look at.
        return Err(Error::Config {
            message: format!("`{server}` is OCI-P over SOAP, not an OCI-P port"),
        });
    }
    Ok(ServerAddress {
        tls: target.tls,
        host: target.host,
        port: target.port,
    })
}

/// Whether `host:port` answers the login's first step in plain OCI-P (an XML document) within
/// `wait`: a server that does is a plain port, whatever the URL's scheme said. Any failure to
/// connect, silence, or bytes that are not XML (a TLS alert) is `false`.
pub async fn answers_plain_ocip(host: &str, port: u16, username: &str, wait: Duration) -> bool {
    let exchange = async {
        let mut stream = TcpStream::connect((host, port)).await.ok()?;
        let document = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><sessionId xmlns=\"\">bwreset-probe</sessionId><command xsi:type=\"AuthenticationRequest\" xmlns=\"\"><userId>{}</userId></command></BroadsoftDocument>\n",
            escape(username)
        );
        stream.write_all(document.as_bytes()).await.ok()?;
        let mut first = [0u8; 64];
        let read = stream.read(&mut first).await.ok()?;
        let _ = stream.shutdown().await;
        let answer = first.get(..read)?;
        let start = answer
            .iter()
            .position(|byte| !byte.is_ascii_whitespace())
            .unwrap_or(answer.len());
        Some(answer[start..].starts_with(b"<"))
    };
    matches!(tokio::time::timeout(wait, exchange).await, Ok(Some(true)))
}

/// The user name as XML text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_takes_the_scheme_default_port() {
        let address = server_address("ocips://bw.example.net").expect("parses");
        assert_eq!(
            address,
            ServerAddress {
                tls: true,
                host: "bw.example.net".into(),
                port: crate::TLS_PORT
            }
        );
        let plain = server_address("ocip://[::1]:3000").expect("parses");
        assert_eq!(
            (plain.tls, plain.host.as_str(), plain.port),
            (false, "::1", 3000)
        );
        assert!(server_address("https://odin.example/api/v2").is_err());
    }

    /// A loopback port that reads what it is sent and answers `reply` (nothing if empty).
    async fn port_answering(reply: &'static [u8]) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0u8; 512];
                let _ = stream.read(&mut request).await;
                if reply.is_empty() {
                    // Silent, and keeps the connection open for as long as the test lasts.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                } else {
                    let _ = stream.write_all(reply).await;
                }
            }
        });
        port
    }

    #[tokio::test]
    async fn a_plain_ocip_port_answers_and_a_tls_or_silent_one_does_not() {
        let wait = Duration::from_secs(5);
        let plain = port_answering(b"<?xml version=\"1.0\"?><BroadsoftDocument/>").await;
        assert!(answers_plain_ocip("127.0.0.1", plain, "a&b", wait).await);
        // A TLS server's alert to a document that is not a ClientHello.
        let tls = port_answering(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]).await;
        assert!(!answers_plain_ocip("127.0.0.1", tls, "admin", wait).await);
        let silent = port_answering(b"").await;
        assert!(
            !answers_plain_ocip("127.0.0.1", silent, "admin", Duration::from_millis(200)).await
        );
    }
}
