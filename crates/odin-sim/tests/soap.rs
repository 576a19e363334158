//! The SOAP front against docs/ocip.md ("OCI-P over SOAP"), over real HTTP: both envelope
//! styles, the WSDL, the cookie and sessionId that go together, SOAP Faults, the OCI-P front's
//! faults, hostile fronts, and HTTPS with the simulator's private CA; the truth endpoints agree
//! with what SOAP set.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly where its precondition breaks"
)]

mod ocip_client;

use ocip_client::{
    ALICE, BOB, GROUP, SP, between, command, fields, reply_types, signed, summaries,
};
use odin_sim::{Faults, FrontFault, OcipFaults, OcipFrontConfig, SimConfig, SimHandle, SoapFaults};
use reqwest::StatusCode;

const PATH: &str = "/webservice/services/ProvisioningService";
const ENVELOPE: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SERVICE: &str = "urn:com:broadsoft:webservice";

/// The argument styles of published clients.
#[derive(Clone, Copy, Debug)]
enum Style {
    /// document/literal, `in0`.
    Document,
    /// rpc/encoded, `arg0` with `xsi:type`.
    Rpc,
}

/// What came back from one call.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    /// The returned OCI-P document, unescaped once.
    fn document(&self) -> String {
        let mut reader = quick_xml::Reader::from_str(&self.body);
        let mut inside = false;
        let mut text = String::new();
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Start(start)
                    if start.local_name().as_ref() == b"processOCIMessageReturn" =>
                {
                    inside = true;
                }
                quick_xml::events::Event::Text(part) if inside => {
                    text.push_str(&part.decode().unwrap());
                }
                quick_xml::events::Event::GeneralRef(reference) if inside => {
                    text.push(match reference.as_ref() {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"quot" => '"',
                        b"apos" => '\'',
                        other => panic!("entity {other:?}"),
                    });
                }
                quick_xml::events::Event::End(end)
                    if end.local_name().as_ref() == b"processOCIMessageReturn" =>
                {
                    return text;
                }
                quick_xml::events::Event::Eof => panic!("no return in {}", self.body),
                _ => {}
            }
        }
    }

    fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .map(|value| value.to_str().unwrap().to_owned())
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// One SOAP session as a client keeps it: its sessionId and the cookie the server set.
struct Session {
    http: reqwest::Client,
    url: String,
    session_id: String,
    cookie: Option<String>,
    style: Style,
}

fn http_client(ca_pem: Option<&str>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_pem {
        builder =
            builder.tls_certs_only(reqwest::Certificate::from_pem_bundle(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

impl Session {
    fn new(sim: &SimHandle, session_id: &str, style: Style) -> Session {
        Session {
            http: http_client(sim.ca_pem()),
            url: sim.soap_url(),
            session_id: session_id.to_owned(),
            cookie: None,
            style,
        }
    }

    /// Posts `body` as it is, with the session's cookie, and keeps a cookie the server sets.
    async fn post(&mut self, body: String) -> Answer {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"")
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("JSESSIONID={cookie}"));
        }
        let response = request.send().await.unwrap();
        let answer = Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        };
        if let Some(set) = answer.set_cookie() {
            let value = set.split(';').next().unwrap();
            self.cookie = Some(value.strip_prefix("JSESSIONID=").unwrap().to_owned());
        }
        answer
    }

    async fn call(&mut self, commands: &[String]) -> Answer {
        let document = oci_document(&self.session_id, commands);
        self.post(envelope(self.style, &document)).await
    }

    /// One document with these commands; its returned document.
    async fn returned(&mut self, commands: &[String]) -> String {
        let answer = self.call(commands).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.document()
    }

    async fn login(&mut self) {
        let reply = self
            .returned(&[command("AuthenticationRequest", "<userId>admin</userId>")])
            .await;
        let nonce = between(&reply, "<nonce>", "</nonce>").unwrap().to_owned();
        let reply = self
            .returned(&[command(
                "LoginRequest14sp4",
                &fields(&[
                    ("userId", "admin"),
                    ("signedPassword", &signed(&nonce, "admin")),
                ]),
            )])
            .await;
        assert!(reply.contains("LoginResponse14sp4"), "{reply}");
    }
}

fn oci_document(session_id: &str, commands: &[String]) -> String {
    let mut text = format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument protocol=\"OCI\" \
         xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <sessionId xmlns=\"\">{session_id}</sessionId>"
    );
    for command in commands {
        text.push_str(command);
    }
    text.push_str("</BroadsoftDocument>");
    text
}

/// A call of `processOCIMessage` carrying `document`, escaped, in either style.
fn envelope(style: Style, document: &str) -> String {
    let escaped = quick_xml::escape::escape(document);
    match style {
        Style::Document => format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap-env:Envelope xmlns:soap-env=\"{ENVELOPE}\">\
             <soap-env:Body><ns0:processOCIMessage xmlns:ns0=\"{SERVICE}\"><ns0:in0>{escaped}</ns0:in0>\
             </ns0:processOCIMessage></soap-env:Body></soap-env:Envelope>"
        ),
        Style::Rpc => format!(
            "<soapenv:Envelope xmlns:soapenv=\"{ENVELOPE}\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\"><soapenv:Body>\
             <processOCIMessage soapenv:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">\
             <arg0 xsi:type=\"soapenc:string\">{escaped}</arg0></processOCIMessage></soapenv:Body></soapenv:Envelope>"
        ),
    }
}

fn modify_sip(user: &str, password: &str) -> String {
    command(
        "UserAuthenticationModifyRequest",
        &fields(&[("userId", user), ("newPassword", password)]),
    )
}

fn modify_passcode(user: &str, passcode: &str) -> String {
    command(
        "UserPortalPasscodeModifyRequest",
        &fields(&[("userId", user), ("newPasscode", passcode)]),
    )
}

async fn start(config: SimConfig) -> SimHandle {
    odin_sim::spawn(config).await.unwrap()
}

fn sip_of(sim: &SimHandle, user: &str) -> String {
    sim.credentials(user)
        .unwrap()
        .sip_password
        .unwrap_or_default()
}

#[tokio::test]
async fn both_envelope_styles_log_in_list_and_set_credentials() {
    let sim = start(SimConfig::with_users(3).with_seed(1)).await;
    let mut literal = Session::new(&sim, "literal-1", Style::Document);
    literal.login().await;
    let cookie = literal.cookie.clone().unwrap();
    assert_eq!(cookie.len(), 32);

    let listing = literal
        .returned(&[command(
            "UserGetListInGroupRequest",
            &fields(&[("serviceProviderId", SP), ("GroupId", GROUP)]),
        )])
        .await;
    assert!(
        listing.starts_with("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument"),
        "{listing}"
    );
    assert!(listing.contains("<sessionId xmlns=\"\">literal-1</sessionId>"));
    assert!(
        listing.contains(&format!("<col>{ALICE}</col>")),
        "{listing}"
    );
    assert!(!listing.ends_with('\n'));

    // Several commands in one document, each answered in order.
    let answer = literal
        .call(&[
            modify_sip(ALICE, "Soap-Literal-1x"),
            modify_sip(BOB, "Soap-Literal-2x"),
        ])
        .await;
    assert!(answer.body.contains("<processOCIMessageResponse xmlns=\"\"><ns1:processOCIMessageReturn xmlns:ns1=\"urn:com:broadsoft:webservice\">&lt;?xml"), "{}", answer.body);
    assert_eq!(answer.header("content-type"), "text/xml; charset=utf-8");
    assert_eq!(answer.set_cookie(), None, "the cookie is set once");
    assert_eq!(
        reply_types(&answer.document()),
        ["c:SuccessResponse", "c:SuccessResponse"]
    );
    assert_eq!(sip_of(&sim, ALICE), "Soap-Literal-1x");
    assert_eq!(sip_of(&sim, BOB), "Soap-Literal-2x");

    let mut rpc = Session::new(&sim, "rpc-1", Style::Rpc);
    rpc.login().await;
    assert_ne!(rpc.cookie, literal.cookie);
    let answer = rpc.call(&[modify_passcode(ALICE, "80531794")]).await;
    assert!(answer.body.contains("<ns1:processOCIMessageResponse soapenv:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:ns1=\"urn:com:broadsoft:webservice\"><processOCIMessageReturn xsi:type=\"xsd:string\">"), "{}", answer.body);
    assert_eq!(reply_types(&answer.document()), ["c:SuccessResponse"]);
    let truth = sim.credentials(ALICE).unwrap();
    assert_eq!(truth.portal_passcode.as_deref(), Some("80531794"));
    assert_eq!(truth.changes.sip, 1);
    assert_eq!(truth.changes.vm, 1);

    // The commands count as OCI-P commands, and the calls as HTTP requests.
    let stats = sim.stats();
    assert_eq!(
        stats.count_with_status("OCIP", "UserAuthenticationModifyRequest", 200),
        2
    );
    assert_eq!(stats.count_with_status("OCIP", "LoginRequest14sp4", 200), 2);
    assert_eq!(stats.count_with_status("POST", PATH, 200), 7);
}

#[tokio::test]
async fn the_wsdl_names_the_address_the_client_reached() {
    let sim = start(SimConfig::with_users(1)).await;
    let http = http_client(None);
    let wsdl = http
        .get(format!("{}?wsdl", sim.soap_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wsdl.status(), StatusCode::OK);
    assert_eq!(wsdl.headers()["content-type"], "text/xml; charset=utf-8");
    let text = wsdl.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "<wsdlsoap:address location=\"{}\"/>",
            sim.soap_url()
        )),
        "{text}"
    );
    for part in [
        "targetNamespace=\"urn:com:broadsoft:webservice\"",
        "<xsd:element name=\"in0\" type=\"xsd:string\"/>",
        "<xsd:element name=\"processOCIMessageReturn\" type=\"xsd:string\"/>",
        "<wsdl:operation name=\"processOCIMessage\">",
        "<wsdl:operation name=\"processMessage\">",
        "<wsdlsoap:binding style=\"document\" transport=\"http://schemas.xmlsoap.org/soap/http\"/>",
        "<wsdlsoap:operation soapAction=\"\"/>",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    let upper = http
        .get(format!("{}?WSDL", sim.soap_url()))
        .send()
        .await
        .unwrap();
    assert!(upper.text().await.unwrap().contains("wsdl:definitions"));
    let page = http.get(sim.soap_url()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("?wsdl"));
}

#[tokio::test]
async fn the_cookie_and_the_session_id_go_together() {
    let sim = start(SimConfig::with_users(3).with_seed(2)).await;
    let before = sip_of(&sim, ALICE);
    let mut session = Session::new(&sim, "pair-1", Style::Document);
    // Before any login: refused, and the session exists from here on.
    let reply = session
        .returned(&[modify_sip(ALICE, "Never-Applied-1")])
        .await;
    assert!(
        summaries(&reply)[0].starts_with("[Error 4911] Not logged in"),
        "{reply}"
    );
    let first_cookie = session.cookie.clone().unwrap();
    let set = session
        .call(&[command("AuthenticationRequest", "<userId>admin</userId>")])
        .await;
    assert_eq!(set.set_cookie(), None);
    session.cookie = None;
    session.login().await;
    let cookie = session.cookie.clone().unwrap();
    assert_ne!(
        cookie, first_cookie,
        "a login begun without the cookie starts a new session"
    );

    // The cookie with another sessionId: refused, nothing applied.
    let mut other_id = Session::new(&sim, "pair-2", Style::Document);
    other_id.cookie = Some(cookie.clone());
    let reply = other_id
        .returned(&[modify_sip(ALICE, "Never-Applied-2")])
        .await;
    assert!(
        summaries(&reply)[0]
            .contains("JSESSIONID cookie belongs to a session with another sessionId"),
        "{reply}"
    );
    // The sessionId without its cookie: refused, nothing applied, no new cookie.
    let mut no_cookie = Session::new(&sim, "pair-1", Style::Rpc);
    let answer = no_cookie
        .call(&[
            modify_sip(ALICE, "Never-Applied-3"),
            modify_sip(BOB, "Never-Applied-4"),
        ])
        .await;
    assert_eq!(answer.set_cookie(), None);
    let summaries_seen = summaries(&answer.document());
    assert_eq!(summaries_seen.len(), 2);
    assert!(
        summaries_seen[1].contains("does not carry"),
        "{summaries_seen:?}"
    );
    assert_eq!(sip_of(&sim, ALICE), before);
    assert_eq!(
        sim.stats()
            .count_with_status("OCIP", "UserAuthenticationModifyRequest", 401),
        4
    );

    // Both together: served.
    let reply = session
        .returned(&[modify_sip(ALICE, "Both-Together-5")])
        .await;
    assert_eq!(reply_types(&reply), ["c:SuccessResponse"]);
    assert_eq!(sip_of(&sim, ALICE), "Both-Together-5");

    // The logout ends the session: its cookie no longer logs anything in.
    let reply = session
        .returned(&[command("LogoutRequest", "<userId>admin</userId>")])
        .await;
    assert_eq!(reply_types(&reply), ["c:SuccessResponse"]);
    let reply = session
        .returned(&[modify_sip(ALICE, "After-Logout-6")])
        .await;
    assert!(
        summaries(&reply)[0].starts_with("[Error 4911] Not logged in: send"),
        "{reply}"
    );
    assert_eq!(sip_of(&sim, ALICE), "Both-Together-5");

    // The login of revoked sessions expires, as over TCP.
    let mut again = Session::new(&sim, "pair-3", Style::Document);
    again.login().await;
    sim.revoke_all_tokens();
    let reply = again.returned(&[modify_sip(ALICE, "Revoked-7")]).await;
    assert!(
        summaries(&reply)[0].starts_with("[Error 4912] Session expired"),
        "{reply}"
    );
    again.login().await;
    let reply = again.returned(&[modify_sip(ALICE, "Revoked-7")]).await;
    assert_eq!(reply_types(&reply), ["c:SuccessResponse"]);

    // LoginRequest22V5 sends the password in clear: never over plain HTTP.
    let mut clear = Session::new(&sim, "pair-4", Style::Document);
    let reply = clear
        .returned(&[command(
            "LoginRequest22V5",
            &fields(&[("userId", "admin"), ("password", "admin")]),
        )])
        .await;
    assert!(summaries(&reply)[0].contains("without TLS"), "{reply}");
}

#[tokio::test]
async fn envelopes_it_cannot_read_get_soap_faults_and_bad_documents_error_responses() {
    let sim = start(SimConfig::with_users(1)).await;
    let mut session = Session::new(&sim, "bad-1", Style::Document);
    for (body, code, words) in [
        ("not XML at all".to_owned(), "soapenv:Client", "no SOAP envelope"),
        ("<html><body>hello</body></html>".to_owned(), "soapenv:Client", "not a SOAP Envelope"),
        (
            "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body/></e:Envelope>".to_owned(),
            "soapenv:VersionMismatch",
            "SOAP 1.1",
        ),
        (
            envelope(Style::Document, "x").replace("in0>", "in7>"),
            "soapenv:Client",
            "in0 or arg0",
        ),
    ] {
        let answer = session.post(body.clone()).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert!(answer.body.contains(&format!("<faultcode>{code}</faultcode>")), "{}", answer.body);
        assert!(answer.body.contains(words), "{words}: {}", answer.body);
        assert_eq!(answer.set_cookie(), None);
    }
    // A readable envelope around a bad document: the OCI-P front's own ErrorResponse.
    let answer = session.post(envelope(Style::Document, "<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\"><sessionId xmlns=\"\">bad-1</sessionId>")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(summaries(&answer.document())[0].starts_with("[Error 4001] Invalid document"));
    let sixteen: Vec<String> = (0..16)
        .map(|_| command("LogoutRequest", "<userId>admin</userId>"))
        .collect();
    let reply = session.returned(&sixteen).await;
    assert!(
        summaries(&reply)[0].contains("carries 16 commands, not 1 to 15"),
        "{reply}"
    );
    let fifteen = &sixteen[..15];
    let reply = session.returned(fifteen).await;
    assert_eq!(reply_types(&reply).len(), 15);
    assert_eq!(sim.stats().count_with_status("POST", PATH, 500), 4);

    // A body over the 2 MiB the routed POST allowed is refused whole, and counted.
    let answer = session.post("x".repeat(2 * 1024 * 1024 + 1)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(sim.stats().count_with_status("POST", PATH, 413), 1);
}

#[tokio::test]
async fn the_ocip_fronts_faults_act_over_soap() {
    let sim = start(SimConfig::with_users(3).with_seed(3)).await;
    let mut session = Session::new(&sim, "faults-1", Style::Document);
    session.login().await;
    sim.set_ocip_faults(OcipFaults {
        fail_nth: Some(("UserAuthenticationModifyRequest".to_owned(), 2)),
        error_code: true,
        ..OcipFaults::default()
    });
    let reply = session
        .returned(&[
            modify_sip(ALICE, "Fault-First-1"),
            modify_sip(BOB, "Fault-Second-2"),
        ])
        .await;
    assert_eq!(
        reply_types(&reply),
        ["c:SuccessResponse", "c:ErrorResponse"]
    );
    assert!(reply.contains("<errorCode>5000</errorCode>"), "{reply}");
    assert_eq!(sip_of(&sim, ALICE), "Fault-First-1");

    // Applied, then the connection closed without an answer: the in-doubt case.
    sim.set_ocip_faults(OcipFaults {
        drop_after_apply: Some("UserAuthenticationModifyRequest".to_owned()),
        ..OcipFaults::default()
    });
    let document = oci_document("faults-1", &[modify_sip(BOB, "Dropped-After-3")]);
    let sent = session
        .http
        .post(&session.url)
        .header(
            "cookie",
            format!("JSESSIONID={}", session.cookie.clone().unwrap()),
        )
        .body(envelope(Style::Document, &document))
        .send()
        .await;
    assert!(sent.is_err(), "{sent:?}");
    assert_eq!(sip_of(&sim, BOB), "Dropped-After-3");
    sim.set_ocip_faults(OcipFaults::default());

    // The shared faults: a rate limit is OCI-P's busy answer, a truncated answer is cut.
    sim.set_faults(Faults {
        truncated_json_rate: 1.0,
        ..Faults::default()
    });
    let answer = session.call(&[modify_sip(ALICE, "Truncated-4")]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        !answer.body.contains("</soapenv:Envelope>"),
        "{}",
        answer.body
    );
    assert_eq!(sip_of(&sim, ALICE), "Truncated-4");
    sim.set_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    });
    let reply = session.returned(&[modify_sip(ALICE, "Failed-5")]).await;
    assert!(summaries(&reply)[0].starts_with("[Error 5000]"), "{reply}");
    assert_eq!(sip_of(&sim, ALICE), "Truncated-4");
}

/// A hostile front, and what its answer must look like.
struct FrontCase {
    fault: FrontFault,
    status: StatusCode,
    content_type: &'static str,
    /// A header that must be there, and words it or the body must hold.
    header: Option<(&'static str, &'static str)>,
    body: &'static str,
}

#[tokio::test]
async fn hostile_fronts_answer_as_documented_before_or_after_the_service() {
    let sim = start(SimConfig::with_users(3).with_seed(4)).await;
    let mut session = Session::new(&sim, "front-1", Style::Document);
    session.login().await;
    let cases = [
        FrontCase {
            fault: FrontFault::SoapFault,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: "text/xml",
            header: None,
            body: "<faultcode>soapenv:Server</faultcode>",
        },
        FrontCase {
            fault: FrontFault::BadGateway,
            status: StatusCode::BAD_GATEWAY,
            content_type: "text/html",
            header: None,
            body: "502 Bad Gateway",
        },
        FrontCase {
            fault: FrontFault::Unavailable,
            status: StatusCode::SERVICE_UNAVAILABLE,
            content_type: "text/html",
            header: Some(("retry-after", "1")),
            body: "503",
        },
        FrontCase {
            fault: FrontFault::Unauthorized,
            status: StatusCode::UNAUTHORIZED,
            content_type: "text/html",
            header: Some(("www-authenticate", "Basic")),
            body: "401",
        },
        FrontCase {
            fault: FrontFault::Forbidden,
            status: StatusCode::FORBIDDEN,
            content_type: "text/html",
            header: None,
            body: "403",
        },
        FrontCase {
            fault: FrontFault::LoginRedirect,
            status: StatusCode::FOUND,
            content_type: "text/html",
            header: Some(("location", "/sso/login?goto=")),
            body: "302",
        },
        FrontCase {
            fault: FrontFault::NoReturn,
            status: StatusCode::OK,
            content_type: "text/xml",
            header: None,
            body: "<processOCIMessageResponse xmlns=\"\"></processOCIMessageResponse>",
        },
        FrontCase {
            fault: FrontFault::UnparsableReturn,
            status: StatusCode::OK,
            content_type: "text/xml",
            header: None,
            body: "processOCIMessageReturn",
        },
    ];
    for (number, case) in cases.iter().enumerate() {
        for after_apply in [false, true] {
            let value = format!("Front-{number}-{after_apply}-x");
            let old = sip_of(&sim, ALICE);
            sim.set_soap_faults(SoapFaults {
                front: Some(case.fault),
                only_for: Some("UserAuthenticationModifyRequest".to_owned()),
                after_apply,
                times: Some(1),
            });
            // Requests without the named command pass untouched.
            let reply = session
                .returned(&[command(
                    "UserAuthenticationGetRequest",
                    &fields(&[("userId", ALICE)]),
                )])
                .await;
            assert!(reply.contains("UserAuthenticationGetResponse"), "{reply}");
            let answer = session.call(&[modify_sip(ALICE, &value)]).await;
            let label = format!("{:?} after_apply={after_apply}", case.fault);
            assert_eq!(answer.status, case.status, "{label}");
            assert!(
                answer.header("content-type").starts_with(case.content_type),
                "{label}"
            );
            if let Some((name, words)) = case.header {
                assert!(answer.header(name).contains(words), "{label}: {name}");
            }
            assert!(answer.body.contains(case.body), "{label}: {}", answer.body);
            let expected = if after_apply { value.clone() } else { old };
            assert_eq!(sip_of(&sim, ALICE), expected, "{label}");
            if case.fault == FrontFault::UnparsableReturn {
                let returned = answer.document();
                assert!(
                    returned.starts_with("<?xml") && !returned.contains("</BroadsoftDocument>"),
                    "{label}: {returned}"
                );
            }
            // Spent after one request: the next goes through.
            let reply = session
                .returned(&[modify_sip(ALICE, &format!("{value}-again"))])
                .await;
            assert_eq!(reply_types(&reply), ["c:SuccessResponse"], "{label}");
        }
    }
    // The login page a redirect leads to answers HTML to whoever follows it.
    let page = session
        .http
        .get(format!("{}/sso/login?goto=x", sim.root_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<form"));
}

#[tokio::test]
async fn a_front_that_drops_the_cookie_leaves_no_login_standing() {
    let sim = start(SimConfig::with_users(1)).await;
    sim.set_soap_faults(SoapFaults {
        front: Some(FrontFault::DropCookie),
        ..SoapFaults::default()
    });
    let mut session = Session::new(&sim, "crumbs-1", Style::Document);
    let answer = session
        .call(&[command("AuthenticationRequest", "<userId>admin</userId>")])
        .await;
    assert_eq!(answer.set_cookie(), None);
    let nonce = between(&answer.document(), "<nonce>", "</nonce>")
        .unwrap()
        .to_owned();
    let reply = session
        .returned(&[command(
            "LoginRequest14sp4",
            &fields(&[
                ("userId", "admin"),
                ("signedPassword", &signed(&nonce, "admin")),
            ]),
        )])
        .await;
    assert!(summaries(&reply)[0].contains("does not carry"), "{reply}");

    // A cookie the client holds does not get through either.
    sim.set_soap_faults(SoapFaults::default());
    let mut session = Session::new(&sim, "crumbs-2", Style::Document);
    session.login().await;
    sim.set_soap_faults(SoapFaults {
        front: Some(FrontFault::DropCookie),
        ..SoapFaults::default()
    });
    let reply = session
        .returned(&[modify_sip(ALICE, "Never-Applied-1")])
        .await;
    assert!(summaries(&reply)[0].starts_with("[Error 4911]"), "{reply}");
    assert_ne!(sip_of(&sim, ALICE), "Never-Applied-1");
}

#[tokio::test]
async fn https_with_the_private_ca_serves_the_wsdl_and_both_logins() {
    let directory = tempfile::tempdir().unwrap();
    let ca_file = directory.path().join("ca.pem");
    let sim = start(SimConfig {
        cert_out: Some(ca_file.clone()),
        ..SimConfig::with_users(2)
            .with_seed(5)
            .with_tls()
            .with_ocip(OcipFrontConfig {
                tls: true,
                ..OcipFrontConfig::default()
            })
    })
    .await;
    assert!(sim.soap_url().starts_with("https://127.0.0.1:"));
    assert!(sim.base_url().starts_with("https://"));
    let ca_pem = sim.ca_pem().unwrap();
    assert_eq!(std::fs::read_to_string(&ca_file).unwrap(), ca_pem);
    assert_eq!(sim.ocip_ca_pem(), Some(ca_pem), "one CA for both listeners");

    // Without the CA the certificate is not trusted.
    let untrusted = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    assert!(
        untrusted
            .get(format!("{}?wsdl", sim.soap_url()))
            .send()
            .await
            .is_err()
    );

    let http = http_client(Some(ca_pem));
    let wsdl = http
        .get(format!("{}?wsdl", sim.soap_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        wsdl.contains(&format!("location=\"{}\"", sim.soap_url())),
        "{wsdl}"
    );

    let mut signed_in = Session::new(&sim, "tls-1", Style::Rpc);
    signed_in.login().await;
    let reply = signed_in
        .returned(&[modify_sip(ALICE, "Over-Https-1")])
        .await;
    assert_eq!(reply_types(&reply), ["c:SuccessResponse"]);

    let mut clear = Session::new(&sim, "tls-2", Style::Document);
    let answer = clear
        .call(&[command(
            "LoginRequest22V5",
            &fields(&[("userId", "admin"), ("password", "admin")]),
        )])
        .await;
    assert!(
        answer.set_cookie().unwrap().ends_with("; Secure"),
        "{:?}",
        answer.set_cookie()
    );
    assert!(
        answer.document().contains("LoginResponse22V5"),
        "{}",
        answer.document()
    );
    let reply = clear.returned(&[modify_sip(BOB, "Over-Https-2")]).await;
    assert_eq!(reply_types(&reply), ["c:SuccessResponse"]);
    assert_eq!(sip_of(&sim, ALICE), "Over-Https-1");
    assert_eq!(sip_of(&sim, BOB), "Over-Https-2");

    // The Odin API and the truth endpoints are served over HTTPS too.
    let truth = http
        .get(format!("{}/_sim/credentials", sim.root_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(truth.status(), StatusCode::OK);
}

/// The SOAP front shares the OCI-P document processor: a new SIP user name goes with the
/// password, and a name another user holds is refused in the same words.
#[tokio::test]
async fn a_new_user_name_over_soap_is_unique_as_over_tcp() {
    let sim = start(SimConfig::with_users(3).with_seed(1)).await;
    let mut session = Session::new(&sim, "names-1", Style::Document);
    session.login().await;
    let with_name = |user: &str, name: &str, password: &str| {
        command(
            "UserAuthenticationModifyRequest",
            &fields(&[
                ("userId", user),
                ("userName", name),
                ("newPassword", password),
            ]),
        )
    };
    let reply = session
        .returned(&[
            with_name(ALICE, "k3v9x2m4q8w1", "Soap-Name-Pass-1"),
            with_name(BOB, "k3v9x2m4q8w1", "Soap-Name-Pass-2"),
        ])
        .await;
    assert_eq!(
        reply_types(&reply),
        ["c:SuccessResponse", "c:ErrorResponse"]
    );
    assert!(
        reply.contains("[Error 4420] User name already in use: k3v9x2m4q8w1"),
        "{reply}"
    );
    let alice = sim.credentials(ALICE).unwrap();
    assert_eq!(alice.sip_user_name.as_deref(), Some("k3v9x2m4q8w1"));
    assert_eq!(alice.sip_password.as_deref(), Some("Soap-Name-Pass-1"));
    let bob = sim.credentials(BOB).unwrap();
    assert_eq!(bob.sip_user_name.as_deref(), Some("user0002"));
    assert_ne!(bob.sip_password.as_deref(), Some("Soap-Name-Pass-2"));
}

/// `processMessage`, the WSDL's second operation, is served as `processOCIMessage` is, in both
/// styles; its answer's elements carry its own name, as the WSDL declares them.
#[tokio::test]
async fn process_message_is_served_as_the_wsdl_declares_it() {
    let sim = start(SimConfig::with_users(2).with_seed(6)).await;
    for (style, session_id, value, wrapper) in [
        (
            Style::Document,
            "pm-literal",
            "Process-Msg-1x",
            "<processMessageResponse xmlns=\"\"><ns1:processMessageReturn xmlns:ns1=\"urn:com:broadsoft:webservice\">&lt;?xml",
        ),
        (
            Style::Rpc,
            "pm-rpc",
            "Process-Msg-2x",
            "<ns1:processMessageResponse soapenv:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:ns1=\"urn:com:broadsoft:webservice\"><processMessageReturn xsi:type=\"xsd:string\">&lt;?xml",
        ),
    ] {
        let mut session = Session::new(&sim, session_id, style);
        session.login().await;
        let document = oci_document(session_id, &[modify_sip(ALICE, value)]);
        let body = envelope(style, &document).replace("processOCIMessage", "processMessage");
        let answer = session.post(body).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(answer.body.contains(wrapper), "{}", answer.body);
        assert!(
            !answer.body.contains("processOCIMessage"),
            "{}",
            answer.body
        );
        assert!(answer.body.contains("c:SuccessResponse"), "{}", answer.body);
        assert_eq!(sip_of(&sim, ALICE), value);
    }
    assert_eq!(sim.credentials(ALICE).unwrap().changes.sip, 2);
}

/// `/_sim/soap-faults` switches the hostile fronts from outside the process, as
/// `SimHandle::set_soap_faults` does inside it: read back, spent after `times`, cleared by `{}`,
/// and a body it cannot read refused with 400, nothing switched.
#[tokio::test]
async fn sim_soap_faults_endpoint_switches_the_hostile_fronts() {
    let sim = start(SimConfig::with_users(2).with_seed(7)).await;
    let http = http_client(None);
    let endpoint = format!("{}/_sim/soap-faults", sim.root_url());
    let put = |body: &'static str| http.put(&endpoint).body(body).send();
    let answer =
        put(r#"{"front": "badGateway", "onlyFor": "UserAuthenticationModifyRequest", "times": 1}"#)
            .await
            .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let shown: serde_json::Value = http
        .get(&endpoint)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown,
        serde_json::json!({
            "front": "bad_gateway",
            "only_for": "UserAuthenticationModifyRequest",
            "after_apply": false,
            "times": 1
        })
    );

    let mut session = Session::new(&sim, "control-1", Style::Document);
    // The login carries no setter: not hit.
    session.login().await;
    let answer = session.call(&[modify_sip(ALICE, "Control-Front-1")]).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.body);
    assert_eq!(sim.credentials(ALICE).unwrap().changes.sip, 0);
    // Spent after one hit.
    let reply = session
        .returned(&[modify_sip(ALICE, "Control-Front-2")])
        .await;
    assert_eq!(reply_types(&reply), ["c:SuccessResponse"]);

    for bad in [
        r#"{"front": "teapot"}"#,
        r#"{"fornt": "bad_gateway"}"#,
        "not json",
    ] {
        let answer = put(bad).await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{bad}");
        let text = answer.text().await.unwrap();
        assert!(text.contains("Invalid value for SOAP faults"), "{text}");
    }
    assert_eq!(
        sim.soap_faults().times,
        Some(1),
        "a refused body switches nothing"
    );
    let answer = put(r#"{"front": "forbidden"}"#).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        session
            .call(&[modify_sip(BOB, "Control-Front-3")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(put("{}").await.unwrap().status(), StatusCode::OK);
    assert_eq!(sim.soap_faults(), SoapFaults::default());
    let reply = session
        .returned(&[modify_sip(BOB, "Control-Front-4")])
        .await;
    assert_eq!(reply_types(&reply), ["c:SuccessResponse"]);
    assert_eq!(sip_of(&sim, BOB), "Control-Front-4");
}
