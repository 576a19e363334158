//! Reading request documents (ISO-8859-1, namespaces resolved by URI, `xsi:type` under any
//! prefix) and writing reply documents byte for byte in the envelopes real servers send.

use std::fmt::Write as _;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

/// The namespace of the root element: literally the one-letter URI `C`.
const ROOT_NAMESPACE: &[u8] = b"C";
const XSI_NAMESPACE: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";

/// The most commands one document may carry.
pub(crate) const MAX_COMMANDS: usize = 15;

/// An element of a command, namespaces dropped: its local name, its text and its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    /// The text of child `name` as an `xs:token`: whitespace runs collapsed to one space,
    /// trimmed.
    pub(super) fn token(&self, name: &str) -> Option<String> {
        self.child(name).map(|child| collapse(&child.text))
    }
}

/// `xs:token` normalisation.
pub(crate) fn collapse(text: &str) -> String {
    text.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// One `command` of a request.
#[derive(Debug)]
pub(crate) struct RequestCommand {
    /// The local name of the `xsi:type` value, e.g. `UserAuthenticationModifyRequest`; `None`
    /// when the command has no type.
    pub type_name: Option<String>,
    pub echo: Option<String>,
    pub body: Element,
}

/// A parsed request document.
#[derive(Debug)]
pub(crate) struct RequestDocument {
    pub session_id: String,
    pub tracking_id: Option<String>,
    pub commands: Vec<RequestCommand>,
}

/// A document that could not be read; whatever identified the session so far, for the reply.
#[derive(Debug)]
pub(crate) struct BadDocument {
    pub session_id: String,
    pub tracking_id: Option<String>,
    pub reason: String,
}

/// The document's text: ISO-8859-1 (every known client) unless the declaration says UTF-8.
pub(crate) fn decode(bytes: &[u8]) -> Result<String, String> {
    let declaration_end = bytes
        .windows(2)
        .position(|pair| pair == b"?>")
        .filter(|_| bytes.starts_with(b"<?xml"))
        .unwrap_or(0);
    let declaration = String::from_utf8_lossy(&bytes[..declaration_end]).to_ascii_lowercase();
    if declaration.contains("utf-8") || declaration.contains("utf8") {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| "the document is declared UTF-8 but is not valid UTF-8".to_owned())
    } else {
        Ok(bytes.iter().map(|&byte| char::from(byte)).collect())
    }
}

/// Parses a request document.
pub(crate) fn parse(bytes: &[u8]) -> Result<RequestDocument, BadDocument> {
    let mut partial = BadDocument {
        session_id: String::new(),
        tracking_id: None,
        reason: String::new(),
    };
    let text = match decode(bytes) {
        Ok(text) => text,
        Err(reason) => return Err(BadDocument { reason, ..partial }),
    };
    match parse_text(&text, &mut partial) {
        Ok(document) => Ok(document),
        Err(reason) => Err(BadDocument { reason, ..partial }),
    }
}

/// Parses a request document that arrived as text (unwrapped from a SOAP envelope): the encoding
/// its declaration names no longer matters.
pub(crate) fn parse_str(text: &str) -> Result<RequestDocument, BadDocument> {
    let mut partial = BadDocument {
        session_id: String::new(),
        tracking_id: None,
        reason: String::new(),
    };
    match parse_text(text, &mut partial) {
        Ok(document) => Ok(document),
        Err(reason) => Err(BadDocument { reason, ..partial }),
    }
}

fn parse_text(text: &str, partial: &mut BadDocument) -> Result<RequestDocument, String> {
    let mut reader = NsReader::from_str(text);
    let mut root_seen = false;
    let mut commands = Vec::new();
    loop {
        let position = reader.buffer_position();
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|_| malformed(position))?;
        let is_empty_root = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) if !root_seen => {
                let in_root_namespace = matches!(
                    namespace,
                    ResolveResult::Bound(Namespace(uri)) if uri == ROOT_NAMESPACE
                );
                if start.local_name().as_ref() != b"BroadsoftDocument" || !in_root_namespace {
                    return Err(
                        "the root element must be BroadsoftDocument in namespace `C`".to_owned(),
                    );
                }
                root_seen = true;
                if is_empty_root {
                    break;
                }
            }
            Event::Start(start) => {
                let name = local_name(&start);
                // The command's attributes are resolved while its own namespace declarations
                // are in scope, before its content is read.
                let header = (name == "command")
                    .then(|| command_of(&reader, &start, Element::default()))
                    .transpose()?;
                let element = read_element(&mut reader, name.clone())?;
                match (name.as_str(), header) {
                    ("sessionId", _) => partial.session_id = collapse(&element.text),
                    ("trackingId", _) => partial.tracking_id = Some(collapse(&element.text)),
                    ("command", Some(header)) => commands.push(RequestCommand {
                        body: element,
                        ..header
                    }),
                    _ => {}
                }
            }
            Event::Empty(start) => {
                let name = local_name(&start);
                let element = Element {
                    name: name.clone(),
                    ..Element::default()
                };
                match name.as_str() {
                    "sessionId" => partial.session_id.clear(),
                    "trackingId" => partial.tracking_id = Some(String::new()),
                    "command" => commands.push(command_of(&reader, &start, element)?),
                    _ => {}
                }
            }
            Event::End(_) => break,
            Event::Eof => return Err("the document ends before its root element closes".to_owned()),
            _ => {}
        }
    }
    if !root_seen {
        return Err("the document has no root element".to_owned());
    }
    Ok(RequestDocument {
        session_id: partial.session_id.clone(),
        tracking_id: partial.tracking_id.clone(),
        commands,
    })
}

/// Where the XML stopped making sense. The parser's own message is not used: it can quote the
/// document (a tag name made of half a password, for one), and a reply must never carry a
/// secret back.
fn malformed(position: u64) -> String {
    format!("malformed XML after byte {position}")
}

fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

/// The type and echo of a `command` element whose start tag is `start`.
fn command_of(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    body: Element,
) -> Result<RequestCommand, String> {
    let mut type_name = None;
    let mut echo = None;
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|_| "a malformed attribute".to_owned())?;
        let value = attribute
            .unescape_value()
            .map_err(|_| "a malformed attribute value".to_owned())?
            .into_owned();
        let (namespace, local) = reader.resolve_attribute(attribute.key);
        match namespace {
            ResolveResult::Bound(Namespace(uri))
                if uri == XSI_NAMESPACE && local.as_ref() == b"type" =>
            {
                // The value may carry a prefix of its own (`c:SuccessResponse`).
                let local_value = value.rsplit(':').next().unwrap_or(&value).trim();
                type_name = Some(local_value.to_owned());
            }
            ResolveResult::Unbound if local.as_ref() == b"echo" => echo = Some(value),
            _ => {}
        }
    }
    Ok(RequestCommand {
        type_name,
        echo,
        body,
    })
}

/// Reads the rest of an element whose start tag was just read, into a tree.
fn read_element(reader: &mut NsReader<&[u8]>, name: String) -> Result<Element, String> {
    let mut stack = vec![Element {
        name,
        ..Element::default()
    }];
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|_| malformed(position))?;
        match event {
            Event::Start(start) => stack.push(Element {
                name: local_name(&start),
                ..Element::default()
            }),
            Event::Empty(start) => {
                let child = Element {
                    name: local_name(&start),
                    ..Element::default()
                };
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(child);
                }
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err("malformed XML: unbalanced end tag".to_owned());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => {
                let text = text.decode().map_err(|_| "malformed text".to_owned())?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|_| "a malformed character reference".to_owned())?
                {
                    Some(character) => character,
                    None => match reference.as_ref() {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        // The name is not quoted: an unescaped `&` in a password would put
                        // part of the secret into the error.
                        _ => {
                            return Err(
                                "an unknown entity reference (escape `&` as `&amp;`)".to_owned()
                            );
                        }
                    },
                };
                if let Some(current) = stack.last_mut() {
                    current.text.push(resolved);
                }
            }
            Event::Eof => return Err("the document ends inside an element".to_owned()),
            _ => {}
        }
    }
}

/// Escapes text for an element or a double-quoted attribute, and writes characters beyond
/// ISO-8859-1 as character references.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    // Most text needs no escaping: copied whole.
    if !text
        .bytes()
        .any(|byte| matches!(byte, b'&' | b'<' | b'>' | b'"') || !byte.is_ascii())
    {
        out.push_str(text);
        return;
    }
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            character if u32::from(character) > 0xFF => {
                let _ = write!(out, "&#{};", u32::from(character));
            }
            character => out.push(character),
        }
    }
}

/// `<name>text</name>`, escaped.
pub(crate) fn field(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `<name>true</name>` or `<name>false</name>`.
pub(crate) fn flag(out: &mut String, name: &str, value: bool) {
    field(out, name, if value { "true" } else { "false" });
}

/// `<name>N</name>`.
pub(crate) fn number(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "<{name}>{value}</{name}>");
}

/// An `OCITable`: headings, then rows of cells (an empty cell is `<col/>`).
pub(crate) fn table<R: AsRef<[String]>>(
    out: &mut String,
    name: &str,
    headings: &[&str],
    rows: &[R],
) {
    let _ = write!(out, "<{name}>");
    for heading in headings {
        field(out, "colHeading", heading);
    }
    for row in rows {
        out.push_str("<row>");
        for cell in row.as_ref() {
            if cell.is_empty() {
                out.push_str("<col/>");
            } else {
                field(out, "col", cell);
            }
        }
        out.push_str("</row>");
    }
    let _ = write!(out, "</{name}>");
}

/// What a reply command says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReplyBody {
    /// A data response: its type (e.g. `UserAuthenticationGetResponse`) and children.
    Data {
        type_name: String,
        children: String,
    },
    Success,
    Error {
        error_code: Option<u32>,
        summary: String,
        detail: Option<String>,
    },
}

/// Writes one reply document: the declaration, `\n`, the document without whitespace between
/// elements, `\n`; ISO-8859-1.
pub(crate) fn reply_document(
    session_id: &str,
    tracking_id: Option<&str>,
    commands: &[(Option<&str>, &ReplyBody)],
) -> Vec<u8> {
    let mut out = String::with_capacity(256 + 128 * commands.len());
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n",
        "<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" ",
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
        "<sessionId xmlns=\"\">"
    ));
    escape_into(&mut out, session_id);
    out.push_str("</sessionId>");
    if let Some(tracking_id) = tracking_id {
        out.push_str("<trackingId xmlns=\"\">");
        escape_into(&mut out, tracking_id);
        out.push_str("</trackingId>");
    }
    for (echo, body) in commands {
        write_command(&mut out, echo.unwrap_or(""), body);
    }
    out.push_str("</BroadsoftDocument>\n");
    // Every character is within ISO-8859-1 here: markup is ASCII and `escape_into` wrote
    // anything beyond as a character reference. ASCII is the same bytes in both.
    if out.is_ascii() {
        return out.into_bytes();
    }
    out.chars()
        .map(|character| u8::try_from(u32::from(character)).unwrap_or(b'?'))
        .collect()
}

fn write_command(out: &mut String, echo: &str, body: &ReplyBody) {
    match body {
        ReplyBody::Data {
            type_name,
            children,
        } => {
            out.push_str("<command echo=\"");
            escape_into(out, echo);
            out.push_str("\" xsi:type=\"");
            escape_into(out, type_name);
            out.push_str("\" xmlns=\"\">");
            out.push_str(children);
            out.push_str("</command>");
        }
        ReplyBody::Success => {
            out.push_str("<command echo=\"");
            escape_into(out, echo);
            out.push_str("\" xsi:type=\"c:SuccessResponse\" xmlns:c=\"C\" xmlns=\"\"/>");
        }
        ReplyBody::Error {
            error_code,
            summary,
            detail,
        } => {
            out.push_str("<command type=\"Error\" echo=\"");
            escape_into(out, echo);
            out.push_str("\" xsi:type=\"c:ErrorResponse\" xmlns:c=\"C\" xmlns=\"\">");
            if let Some(code) = error_code {
                number(out, "errorCode", code);
            }
            field(out, "summary", summary);
            field(out, "summaryEnglish", summary);
            if let Some(detail) = detail {
                field(out, "detail", detail);
            }
            out.push_str("</command>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "<?xml version='1.0' encoding='ISO-8859-1'?>\n\
        <BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:x=\"http://www.w3.org/2001/XMLSchema-instance\">\
        <sessionId xmlns=\"\"> s-1 </sessionId>\
        <command echo=\"e1\" x:type=\"UserAuthenticationModifyRequest\" xmlns=\"\">\
        <userId>u1@example.com</userId><newPassword>Xy7!ab&lt;cd&amp;&#233;</newPassword></command>\
        <command xmlns:C=\"http://www.w3.org/2001/XMLSchema-instance\" C:type=\"LogoutRequest\" xmlns=\"\"/>\
        </BroadsoftDocument>";

    #[test]
    fn requests_resolve_the_type_by_namespace_and_unescape_text() {
        let document = parse(REQUEST.as_bytes()).unwrap();
        assert_eq!(document.session_id, "s-1");
        assert_eq!(document.commands.len(), 2);
        let first = &document.commands[0];
        assert_eq!(
            first.type_name.as_deref(),
            Some("UserAuthenticationModifyRequest")
        );
        assert_eq!(first.echo.as_deref(), Some("e1"));
        assert_eq!(
            first.body.token("userId").as_deref(),
            Some("u1@example.com")
        );
        assert_eq!(
            first.body.token("newPassword").as_deref(),
            Some("Xy7!ab<cd&\u{e9}")
        );
        assert_eq!(
            document.commands[1].type_name.as_deref(),
            Some("LogoutRequest")
        );
    }

    #[test]
    fn iso_8859_1_bytes_are_read_as_such() {
        let mut bytes = REQUEST.replace("&#233;", "").into_bytes();
        let at = bytes.windows(4).position(|w| w == b"&amp").unwrap();
        bytes.insert(at, 0xE9);
        let document = parse(&bytes).unwrap();
        assert_eq!(
            document.commands[0].body.token("newPassword").as_deref(),
            Some("Xy7!ab<cd\u{e9}&")
        );
    }

    #[test]
    fn a_root_outside_namespace_c_is_refused_and_the_session_kept() {
        let bad = REQUEST.replace("xmlns=\"C\"", "xmlns=\"D\"");
        assert!(
            parse(bad.as_bytes())
                .unwrap_err()
                .reason
                .contains("namespace `C`")
        );
        let cut = &REQUEST[..REQUEST.len() - 30];
        let error = parse(cut.as_bytes()).unwrap_err();
        assert_eq!(error.session_id, "s-1");
    }

    #[test]
    fn errors_about_a_badly_escaped_value_do_not_quote_it() {
        for value in ["Se&cret7x;", "Se&cret7x", "Se&#xZZcret7x;", "Se<cret7x"] {
            let bad = REQUEST.replace("Xy7!ab&lt;cd&amp;&#233;", value);
            let error = parse(bad.as_bytes()).unwrap_err();
            assert_eq!(error.session_id, "s-1");
            assert!(
                !error.reason.contains("cret7x"),
                "{value}: {}",
                error.reason
            );
        }
    }

    #[test]
    fn replies_are_byte_exact() {
        let data = ReplyBody::Data {
            type_name: "UserAuthenticationGetResponse".to_owned(),
            children: "<userName>u1</userName>".to_owned(),
        };
        let error = ReplyBody::Error {
            error_code: None,
            summary: "[Error 4008] User not found: u1@example.com".to_owned(),
            detail: None,
        };
        let bytes = reply_document(
            "7d1e",
            None,
            &[
                (None, &data),
                (Some("x"), &ReplyBody::Success),
                (None, &error),
            ],
        );
        let expected = concat!(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n",
            "<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
            "<sessionId xmlns=\"\">7d1e</sessionId>",
            "<command echo=\"\" xsi:type=\"UserAuthenticationGetResponse\" xmlns=\"\"><userName>u1</userName></command>",
            "<command echo=\"x\" xsi:type=\"c:SuccessResponse\" xmlns:c=\"C\" xmlns=\"\"/>",
            "<command type=\"Error\" echo=\"\" xsi:type=\"c:ErrorResponse\" xmlns:c=\"C\" xmlns=\"\">",
            "<summary>[Error 4008] User not found: u1@example.com</summary>",
            "<summaryEnglish>[Error 4008] User not found: u1@example.com</summaryEnglish></command>",
            "</BroadsoftDocument>\n"
        );
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn replies_are_iso_8859_1_with_references_beyond_it() {
        let mut children = String::new();
        field(&mut children, "lastName", "Müller € <&>");
        let data = ReplyBody::Data {
            type_name: "T".to_owned(),
            children,
        };
        let bytes = reply_document("s", Some("t"), &[(None, &data)]);
        let needle: Vec<u8> = b"M\xFCller &#8364; &lt;&amp;&gt;".to_vec();
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        assert!(
            bytes
                .windows(35)
                .any(|w| w == b"<trackingId xmlns=\"\">t</trackingId>")
        );
    }
}
