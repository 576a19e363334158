//! SOAP 1.1 envelopes: reading a `processOCIMessage` call in either argument style, and writing
//! its answer, a SOAP Fault, or a hostile front's empty answer. Calls are read with quick-xml
//! (the argument's text found with memchr and unescaped in one pass), answers written by hand
//! and Faults with quick-xml's writer; the OCI-P document travels as the text of one element,
//! escaped when written and unescaped when read, never spliced into markup.

use std::io;

use quick_xml::events::{BytesDecl, BytesStart, BytesText, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, Writer};

/// SOAP 1.1's envelope namespace.
const ENVELOPE_NAMESPACE: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2's: an envelope in it gets a `VersionMismatch` Fault.
const ENVELOPE_12_NAMESPACE: &[u8] = b"http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1's encoding, named by rpc/encoded calls and answers.
const ENCODING_STYLE: &str = "http://schemas.xmlsoap.org/soap/encoding/";
/// The service's namespace.
pub(crate) const SERVICE_NAMESPACE: &str = "urn:com:broadsoft:webservice";
const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XSD_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema";

/// How a call spelled its argument; the answer is written in the same style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// document/literal: `<processOCIMessage xmlns="urn:com:broadsoft:webservice"><in0>`.
    Document,
    /// rpc/encoded: an `encodingStyle` on the operation, `<arg0 xsi:type="soapenc:string">`.
    Rpc,
}

/// Which of the WSDL's two operations a call names. Both carry one OCI-P document and are
/// served alike; the answer's elements are named after the operation
/// (`processOCIMessageResponse`/`processOCIMessageReturn`, `processMessageResponse`/
/// `processMessageReturn`), as the WSDL declares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    ProcessOciMessage,
    ProcessMessage,
}

impl Operation {
    fn of(local_name: &[u8]) -> Option<Operation> {
        match local_name {
            b"processOCIMessage" => Some(Operation::ProcessOciMessage),
            b"processMessage" => Some(Operation::ProcessMessage),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Operation::ProcessOciMessage => "processOCIMessage",
            Operation::ProcessMessage => "processMessage",
        }
    }
}

/// A call of `processOCIMessage` (or `processMessage`): its style, its operation and the OCI-P
/// document it carries, unescaped.
#[derive(Debug)]
pub(crate) struct Call {
    pub style: Style,
    pub operation: Operation,
    pub document: String,
}

/// An envelope that cannot be served, as the SOAP Fault that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    /// `VersionMismatch`, `Client` or `Server` (written with the `soapenv:` prefix).
    pub code: &'static str,
    pub reason: String,
}

impl Fault {
    pub(crate) fn client(reason: impl Into<String>) -> Self {
        Fault {
            code: "Client",
            reason: reason.into(),
        }
    }
}

/// Reads a request envelope. The reasons never quote the envelope: it may hold a secret.
pub(crate) fn read_call(body: &[u8]) -> Result<Call, Fault> {
    let text = std::str::from_utf8(body).map_err(|_| Fault::client("the envelope is not UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    let mut depth = 0usize;
    loop {
        let position = reader.buffer_position();
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|_| malformed(position))?;
        match event {
            Event::Start(start) => {
                let local = start.local_name();
                let local = local.as_ref();
                match (depth, local) {
                    (0, b"Envelope") => check_envelope_namespace(&namespace)?,
                    (0, _) => return Err(Fault::client("the root element is not a SOAP Envelope")),
                    (1, b"Body") if in_namespace(&namespace, ENVELOPE_NAMESPACE.as_bytes()) => {}
                    (1, _) => {
                        // A Header (or anything else beside the Body) is skipped.
                        reader
                            .read_to_end(start.name())
                            .map_err(|_| malformed(position))?;
                        continue;
                    }
                    (2, name) if Operation::of(name).is_some() => {
                        let rpc = start.attributes().flatten().any(|attribute| {
                            attribute.key.local_name().as_ref() == b"encodingStyle"
                        });
                        let operation = Operation::of(name).unwrap_or(Operation::ProcessOciMessage);
                        return read_argument(&mut reader, text, rpc, operation);
                    }
                    (2, _) => {
                        return Err(Fault::client(
                            "the Body holds no processOCIMessage (the one operation served)",
                        ));
                    }
                    _ => {}
                }
                depth += 1;
            }
            Event::Empty(start)
                if depth == 2 && Operation::of(start.local_name().as_ref()).is_some() =>
            {
                return Err(Fault::client("processOCIMessage carries no argument"));
            }
            Event::Empty(_) if depth == 0 => {
                return Err(Fault::client("the root element is not a SOAP Envelope"));
            }
            Event::End(_) => {
                return Err(Fault::client("the Body holds no processOCIMessage"));
            }
            Event::Eof => return Err(Fault::client("the request holds no SOAP envelope")),
            _ => {}
        }
    }
}

fn in_namespace(namespace: &ResolveResult<'_>, uri: &[u8]) -> bool {
    matches!(namespace, ResolveResult::Bound(Namespace(bound)) if *bound == uri)
}

fn check_envelope_namespace(namespace: &ResolveResult<'_>) -> Result<(), Fault> {
    if in_namespace(namespace, ENVELOPE_NAMESPACE.as_bytes()) {
        Ok(())
    } else if in_namespace(namespace, ENVELOPE_12_NAMESPACE) {
        Err(Fault {
            code: "VersionMismatch",
            reason: "SOAP 1.2 envelopes are not served: send SOAP 1.1".to_owned(),
        })
    } else {
        Err(Fault::client(
            "the Envelope is not in SOAP 1.1's namespace (http://schemas.xmlsoap.org/soap/envelope/)",
        ))
    }
}

fn malformed(position: u64) -> Fault {
    // The parser's own message is not used: it can quote the envelope.
    Fault::client(format!("malformed XML after byte {position}"))
}

/// Reads the argument of `processOCIMessage` (its start tag just read): `in0` or `arg0`, whose
/// text is the document.
fn read_argument(
    reader: &mut NsReader<&[u8]>,
    envelope: &str,
    rpc_operation: bool,
    operation: Operation,
) -> Result<Call, Fault> {
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|_| malformed(position))?;
        match event {
            Event::Start(start) => {
                let local = start.local_name();
                if !matches!(local.as_ref(), b"in0" | b"arg0") {
                    return Err(Fault::client(
                        "the argument of processOCIMessage must be in0 or arg0",
                    ));
                }
                let typed = start
                    .attributes()
                    .flatten()
                    .any(|attribute| attribute.key.local_name().as_ref() == b"type");
                let document = match whole_text(reader, envelope, &start) {
                    Some(document) => document,
                    None => read_text(reader)?,
                };
                if document.trim().is_empty() {
                    return Err(Fault::client("the argument of processOCIMessage is empty"));
                }
                let style = if rpc_operation || typed {
                    Style::Rpc
                } else {
                    Style::Document
                };
                return Ok(Call {
                    style,
                    operation,
                    document,
                });
            }
            Event::Empty(_) | Event::End(_) => {
                return Err(Fault::client("processOCIMessage carries no argument"));
            }
            Event::Eof => return Err(malformed(position)),
            _ => {}
        }
    }
}

/// The text of the element whose start tag was just read, read in one piece and unescaped at
/// once (not reference by reference: a document of 15 commands carries hundreds). The text
/// runs to the first `<`, found with memchr, which must open the element's own end tag (read
/// event by event, quick-xml would give an event per reference). Nothing after it is read: the
/// call is served from here. `None` when the text holds markup (CDATA, elements) or a reference
/// that does not resolve: [`read_text`] then reads it event by event and names what is wrong.
fn whole_text(reader: &NsReader<&[u8]>, envelope: &str, start: &BytesStart<'_>) -> Option<String> {
    // What the reader has yet to read, as text: the envelope's tail (not its position, which
    // leaves out a byte order mark the reader skipped).
    let unread: &[u8] = reader.get_ref();
    let rest = envelope.get(envelope.len().checked_sub(unread.len())?..)?;
    let length = memchr::memchr(b'<', rest.as_bytes())?;
    let closes = rest.as_bytes()[length..]
        .strip_prefix(b"</")
        .and_then(|tag| tag.strip_prefix(start.name().as_ref()))
        .is_some_and(|tag| tag.trim_ascii_start().starts_with(b">"));
    if !closes {
        return None;
    }
    // `<` is ASCII: the text ends on a character boundary.
    unescape(rest.get(..length)?)
}

/// `text` with its references resolved: the five named ones and numeric ones; `None` for one
/// that does not resolve. The runs between references are copied whole (a document has a
/// reference every few bytes: quick-xml's own unescaping searches for both `&` and `;` at each).
fn unescape(text: &str) -> Option<String> {
    let mut unescaped = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = memchr::memchr(b'&', rest.as_bytes()) {
        unescaped.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        // The longest reference resolved, `&#1114111;`, has 8 characters before its `;`.
        let end = after.bytes().take(12).position(|byte| byte == b';')?;
        unescaped.push(match &after[..end] {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            number => {
                let number = number.strip_prefix('#')?;
                let code = match number.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code).filter(|character| *character != '\0')?
            }
        });
        rest = &after[end + 1..];
    }
    unescaped.push_str(rest);
    Some(unescaped)
}

/// The text of an element whose start tag was just read, entities resolved.
fn read_text(reader: &mut NsReader<&[u8]>) -> Result<String, Fault> {
    let mut text = String::new();
    loop {
        let position = reader.buffer_position();
        match reader.read_event().map_err(|_| malformed(position))? {
            Event::Text(part) => {
                text.push_str(&part.decode().map_err(|_| malformed(position))?);
            }
            Event::CData(part) => {
                text.push_str(&part.decode().map_err(|_| malformed(position))?);
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|_| malformed(position))?
                {
                    Some(character) => character,
                    None => match reference.as_ref() {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => {
                            return Err(Fault::client(
                                "an unknown entity reference in the argument",
                            ));
                        }
                    },
                };
                text.push(resolved);
            }
            Event::End(_) => return Ok(text),
            Event::Start(_) | Event::Empty(_) => {
                return Err(Fault::client(
                    "the argument must be text: the OCI-P document, escaped",
                ));
            }
            Event::Eof => return Err(malformed(position)),
            _ => {}
        }
    }
}

/// What the answer's body holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Return<'a> {
    /// The answer document, escaped once as the return element's text.
    Document(&'a str),
    /// No return element at all (a hostile front's answer).
    Missing,
}

/// The answer to a call, in the call's style, named after its operation. Written by hand in one
/// pass into one buffer: the document (a listing is megabytes) is escaped straight into it,
/// with no string in between.
pub(crate) fn answer(style: Style, operation: Operation, returned: Return<'_>) -> Vec<u8> {
    let name = operation.name();
    let document = match returned {
        Return::Document(document) => Some(document),
        Return::Missing => None,
    };
    let room = document.map_or(0, |document| document.len() + document.len() / 4);
    let mut body = Vec::with_capacity(512 + room);
    put(
        &mut body,
        &[
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"",
            ENVELOPE_NAMESPACE,
            "\" xmlns:xsd=\"",
            XSD_NAMESPACE,
            "\" xmlns:xsi=\"",
            XSI_NAMESPACE,
            "\"><soapenv:Body>",
        ],
    );
    let (response_prefix, return_prefix) = match style {
        Style::Document => {
            put(&mut body, &["<", name, "Response xmlns=\"\">"]);
            ("", "ns1:")
        }
        Style::Rpc => {
            put(
                &mut body,
                &[
                    "<ns1:",
                    name,
                    "Response soapenv:encodingStyle=\"",
                    ENCODING_STYLE,
                    "\" xmlns:ns1=\"",
                    SERVICE_NAMESPACE,
                    "\">",
                ],
            );
            ("ns1:", "")
        }
    };
    if let Some(document) = document {
        match style {
            Style::Document => put(
                &mut body,
                &[
                    "<ns1:",
                    name,
                    "Return xmlns:ns1=\"",
                    SERVICE_NAMESPACE,
                    "\">",
                ],
            ),
            Style::Rpc => put(&mut body, &["<", name, "Return xsi:type=\"xsd:string\">"]),
        }
        escape_into(&mut body, document);
        put(&mut body, &["</", return_prefix, name, "Return>"]);
    }
    put(
        &mut body,
        &[
            "</",
            response_prefix,
            name,
            "Response></soapenv:Body></soapenv:Envelope>",
        ],
    );
    body
}

/// Appends the parts, one after the other (no string is formatted per answer).
fn put(body: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        body.extend_from_slice(part.as_bytes());
    }
}

/// Appends `text` with `<`, `>` and `&` escaped; quotes stay as they are, as in the answers on
/// record. The three are ASCII, so the UTF-8 bytes are scanned as they are, in one plain loop
/// that copies the runs between them whole (an answer is markup every few bytes: a search that
/// starts over at each costs more).
fn escape_into(body: &mut Vec<u8>, text: &str) {
    let text = text.as_bytes();
    let mut copied = 0;
    for (at, byte) in text.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            _ => continue,
        };
        body.extend_from_slice(&text[copied..at]);
        body.extend_from_slice(escaped);
        copied = at + 1;
    }
    body.extend_from_slice(&text[copied..]);
}

/// A SOAP Fault envelope.
pub(crate) fn fault(fault: &Fault) -> Vec<u8> {
    let code = format!("soapenv:{}", fault.code);
    write_envelope(|writer| {
        writer
            .create_element("soapenv:Fault")
            .write_inner_content(|writer| {
                writer
                    .create_element("faultcode")
                    .write_text_content(BytesText::new(&code))?;
                writer
                    .create_element("faultstring")
                    .write_text_content(BytesText::new(&fault.reason))?;
                Ok(())
            })
            .map(|_| ())
    })
}

/// `<?xml ...?><soapenv:Envelope ...><soapenv:Body>` around what `body` writes.
fn write_envelope<F>(body: F) -> Vec<u8>
where
    F: FnOnce(&mut Writer<Vec<u8>>) -> io::Result<()>,
{
    let mut writer = Writer::new(Vec::with_capacity(1024));
    // Writing into a Vec cannot fail; the results are io::Results only by signature.
    let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let _ = writer
        .create_element("soapenv:Envelope")
        .with_attribute(("xmlns:soapenv", ENVELOPE_NAMESPACE))
        .with_attribute(("xmlns:xsd", XSD_NAMESPACE))
        .with_attribute(("xmlns:xsi", XSI_NAMESPACE))
        .write_inner_content(|writer| {
            writer
                .create_element("soapenv:Body")
                .write_inner_content(body)
                .map(|_| ())
        });
    writer.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\"><sessionId xmlns=\"\">s</sessionId></BroadsoftDocument>";

    fn document_call(argument: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><soapenv:Envelope xmlns:soapenv=\"{ENVELOPE_NAMESPACE}\">\
             <soapenv:Header><x>ignored</x></soapenv:Header><soapenv:Body>\
             <processOCIMessage xmlns=\"{SERVICE_NAMESPACE}\"><in0>{argument}</in0></processOCIMessage>\
             </soapenv:Body></soapenv:Envelope>"
        )
    }

    #[test]
    fn references_resolve_once_and_unknown_ones_fall_back_to_the_event_reader() {
        assert_eq!(
            unescape("&lt;a x=&quot;1&quot;&gt;&amp;amp;\u{e9}&#233;&#xE9;&#8364;&apos;")
                .as_deref(),
            Some("<a x=\"1\">&amp;\u{e9}\u{e9}\u{e9}\u{20ac}'")
        );
        for unresolved in ["&nbsp;", "&#0;", "&#xZZ;", "a & b", "&#1114112;"] {
            assert_eq!(unescape(unresolved), None, "{unresolved}");
        }
        // Read whole, with space before the end tag's `>`, and after a byte order mark; an
        // unknown reference is a Fault.
        let spaced = document_call("&lt;a/&gt;").replace("</in0>", "</in0 >");
        assert_eq!(read_call(spaced.as_bytes()).unwrap().document, "<a/>");
        let marked = format!("\u{feff}{}", document_call("&lt;a/&gt;"));
        assert_eq!(read_call(marked.as_bytes()).unwrap().document, "<a/>");
        assert!(read_call(document_call("&nbsp;").as_bytes()).is_err());
    }

    #[test]
    fn both_styles_are_read_and_the_document_unescaped() {
        let escaped = quick_xml::escape::escape(DOCUMENT);
        let call = read_call(document_call(&escaped).as_bytes()).unwrap();
        assert_eq!(call.style, Style::Document);
        assert_eq!(call.document, DOCUMENT);

        let rpc = format!(
            "<s:Envelope xmlns:s=\"{ENVELOPE_NAMESPACE}\" xmlns:xsi=\"{XSI_NAMESPACE}\" \
             xmlns:soapenc=\"{ENCODING_STYLE}\"><s:Body><ns1:processOCIMessage \
             s:encodingStyle=\"{ENCODING_STYLE}\" xmlns:ns1=\"{SERVICE_NAMESPACE}\">\
             <arg0 xsi:type=\"soapenc:string\"><![CDATA[{DOCUMENT}]]></arg0>\
             </ns1:processOCIMessage></s:Body></s:Envelope>"
        );
        let call = read_call(rpc.as_bytes()).unwrap();
        assert_eq!(call.style, Style::Rpc);
        assert_eq!(call.document, DOCUMENT);
    }

    #[test]
    fn unreadable_envelopes_are_faults_that_quote_nothing() {
        let v12 = "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body/></e:Envelope>";
        assert_eq!(
            read_call(v12.as_bytes()).unwrap_err().code,
            "VersionMismatch"
        );
        for (bad, words) in [
            ("not xml at all Secret-1", "no SOAP envelope"),
            ("<html>Secret-1</html>", "not a SOAP Envelope"),
            (&document_call("<b>Secret-1</b>"), "must be text"),
            (&document_call("")[..], "empty"),
            (&document_call("&bogus;Secret-1")[..], "unknown entity"),
            (
                &document_call("x").replace("in0>", "in1>")[..],
                "in0 or arg0",
            ),
            (&document_call("x")[..80], "malformed XML"),
        ] {
            let fault = read_call(bad.as_bytes()).unwrap_err();
            assert_eq!(fault.code, "Client", "{bad}");
            assert!(fault.reason.contains(words), "{bad}: {}", fault.reason);
            assert!(!fault.reason.contains("Secret-1"));
        }
    }

    #[test]
    fn answers_escape_the_document_once_in_the_call_style() {
        let text = String::from_utf8(answer(
            Style::Document,
            Operation::ProcessOciMessage,
            Return::Document("<a b=\"1\">&amp;</a>"),
        ))
        .unwrap();
        assert!(text.contains(
            "<processOCIMessageResponse xmlns=\"\"><ns1:processOCIMessageReturn xmlns:ns1=\"urn:com:broadsoft:webservice\">&lt;a b=\"1\"&gt;&amp;amp;&lt;/a&gt;</ns1:processOCIMessageReturn></processOCIMessageResponse>"
        ), "{text}");
        let text = String::from_utf8(answer(
            Style::Rpc,
            Operation::ProcessOciMessage,
            Return::Missing,
        ))
        .unwrap();
        assert!(text.contains("<ns1:processOCIMessageResponse soapenv:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:ns1=\"urn:com:broadsoft:webservice\"></ns1:processOCIMessageResponse>"), "{text}");
        let text = String::from_utf8(answer(
            Style::Rpc,
            Operation::ProcessMessage,
            Return::Document("<a/>"),
        ))
        .unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><ns1:processMessageResponse soapenv:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:ns1=\"urn:com:broadsoft:webservice\"><processMessageReturn xsi:type=\"xsd:string\">&lt;a/&gt;</processMessageReturn></ns1:processMessageResponse></soapenv:Body></soapenv:Envelope>"
        );
        let text = String::from_utf8(fault(&Fault::client("a < b"))).unwrap();
        assert!(text.contains("<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>a &lt; b</faultstring></soapenv:Fault>"), "{text}");
    }
}
