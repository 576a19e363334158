//! OCI-P documents: requests written with quick-xml and encoded as ISO-8859-1, replies read
//! with namespaces resolved by URI (never by the literal prefix) into a small tree.

use quick_xml::NsReader;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::{Namespace, ResolveResult};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorResponse};

/// The namespace of `BroadsoftDocument`: literally the one-letter URI `C`.
const ROOT_NAMESPACE: &[u8] = b"C";
const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// What a request element holds: plain text, a secret, or child elements.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Text(&'static str, String),
    /// Written in clear on the wire, `[redacted]` in every log.
    Secret(&'static str, SecretString),
    Group(&'static str, Vec<Node>),
}

/// One request command: its type and its children in schema order.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) type_name: &'static str,
    pub(crate) body: Vec<Node>,
}

impl Request {
    pub(crate) fn new(type_name: &'static str, body: Vec<Node>) -> Self {
        Request { type_name, body }
    }

    /// The secrets this request carries, to scrub from the server's answer to it.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        fn collect<'a>(nodes: &'a [Node], into: &mut Vec<&'a str>) {
            for node in nodes {
                match node {
                    Node::Secret(_, value) => into.push(value.expose_secret()),
                    Node::Group(_, children) => collect(children, into),
                    Node::Text(..) => {}
                }
            }
        }
        let mut secrets = Vec::new();
        collect(&self.body, &mut secrets);
        secrets
    }
}

/// Writes a request document: the declaration, the root in namespace `C`, `sessionId` and the
/// commands, each in no namespace. With `redact`, secrets are written as `[redacted]` (for the
/// trace log); otherwise the bytes are the ones to send, ending in `\n`.
pub(crate) fn request_document(session_id: &str, requests: &[&Request], redact: bool) -> Vec<u8> {
    let mut writer = Writer::new(Vec::with_capacity(256 + 160 * requests.len()));
    // Writing into a Vec cannot fail; a failure would only be an allocation panic.
    let _ = write_request_document(&mut writer, session_id, requests, redact);
    let written = writer.into_inner();
    // ASCII is the same bytes in ISO-8859-1: the usual document is sent as written.
    let mut bytes = if written.is_ascii() {
        written
    } else {
        to_latin1(&written)
    };
    bytes.push(b'\n');
    bytes
}

fn write_request_document(
    writer: &mut Writer<Vec<u8>>,
    session_id: &str,
    requests: &[&Request],
    redact: bool,
) -> std::io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("ISO-8859-1"), None)))?;
    writer.get_mut().push(b'\n');
    let root = BytesStart::new("BroadsoftDocument").with_attributes([
        ("protocol", "OCI"),
        ("xmlns", "C"),
        ("xmlns:xsi", XSI_NAMESPACE),
    ]);
    writer.write_event(Event::Start(root))?;
    let session = BytesStart::new("sessionId").with_attributes([("xmlns", "")]);
    writer.write_event(Event::Start(session))?;
    writer.write_event(Event::Text(BytesText::new(session_id)))?;
    writer.write_event(Event::End(BytesEnd::new("sessionId")))?;
    for request in requests {
        let command = BytesStart::new("command")
            .with_attributes([("xsi:type", request.type_name), ("xmlns", "")]);
        writer.write_event(Event::Start(command))?;
        write_nodes(writer, &request.body, redact)?;
        writer.write_event(Event::End(BytesEnd::new("command")))?;
    }
    writer.write_event(Event::End(BytesEnd::new("BroadsoftDocument")))
}

fn write_nodes(writer: &mut Writer<Vec<u8>>, nodes: &[Node], redact: bool) -> std::io::Result<()> {
    for node in nodes {
        match node {
            Node::Text(name, text) => write_leaf(writer, name, text)?,
            Node::Secret(name, _) if redact => write_leaf(writer, name, "[redacted]")?,
            Node::Secret(name, value) => write_leaf(writer, name, value.expose_secret())?,
            Node::Group(name, children) => {
                writer.write_event(Event::Start(BytesStart::new(*name)))?;
                write_nodes(writer, children, redact)?;
                writer.write_event(Event::End(BytesEnd::new(*name)))?;
            }
        }
    }
    Ok(())
}

fn write_leaf(writer: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(text)))?;
    writer.write_event(Event::End(BytesEnd::new(name)))
}

/// UTF-8 text as ISO-8859-1 bytes; a character beyond it becomes a character reference (valid
/// in text and attribute values alike, and the writer has already escaped markup).
pub(crate) fn to_latin1(utf8: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(utf8);
    let mut bytes = Vec::with_capacity(text.len());
    for character in text.chars() {
        match u8::try_from(u32::from(character)) {
            Ok(byte) => bytes.push(byte),
            Err(_) => bytes.extend_from_slice(format!("&#{};", u32::from(character)).as_bytes()),
        }
    }
    bytes
}

/// An element of a reply: its local name, its text (entities resolved) and its children.
/// `Debug` shows it with its secret elements redacted.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Element {
    /// Borrowed for the names every table repeats (see [`local_name`]): a listing of a
    /// thousand rows is thousands of them.
    pub(crate) name: std::borrow::Cow<'static, str>,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
    /// The `row`s of an `OCITable`, held flat (see [`Rows`]); its `colHeading`s are children.
    pub(crate) rows: Rows,
}

/// The rows of an `OCITable`, held flat: every cell's text in one string, so that a listing of
/// thousands of rows is a few allocations, not one per cell and row.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Rows {
    text: String,
    /// Where each cell ends in `text` (an answer is read up to 4 GiB at most, and 64 MiB by
    /// default).
    cell_ends: Vec<u32>,
    /// Where each row ends in `cell_ends`.
    row_ends: Vec<u32>,
}

impl Rows {
    /// Adds a row of these cells.
    #[cfg(test)]
    pub(crate) fn push_row(&mut self, cells: &[&str]) {
        for cell in cells {
            self.text.push_str(cell);
            self.end_cell();
        }
        self.end_row();
    }

    fn end_cell(&mut self) {
        self.cell_ends.push(offset(self.text.len()));
    }

    fn end_row(&mut self) {
        self.row_ends.push(offset(self.cell_ends.len()));
    }

    /// The rows, each as its cells' trimmed texts.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Vec<&str>> + '_ {
        let mut first_cell = 0usize;
        self.row_ends.iter().map(move |&row_end| {
            let row_end = row_end as usize;
            let cells = (first_cell..row_end)
                .map(|cell| {
                    let start = match cell {
                        0 => 0,
                        _ => self.cell_ends[cell - 1] as usize,
                    };
                    self.text
                        .get(start..self.cell_ends[cell] as usize)
                        .unwrap_or_default()
                        .trim()
                })
                .collect();
            first_cell = row_end;
            cells
        })
    }
}

/// A position within a table's text or cells as stored (answers are read up to 4 GiB at most,
/// so it fits; were it not to, the cell would read empty rather than wrap).
fn offset(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
}

/// Elements whose text is a secret: never shown in a log.
const SECRET_ELEMENTS: &[&str] = &[
    "userPassword",
    "userPasscode",
    "userSIPAuthenticationPassword",
    "passcode",
    "newPassword",
    "newPasscode",
    "password",
    "signedPassword",
    "defaultPasscode",
    "defaultPassword",
    "nonce",
];

impl std::fmt::Debug for Element {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

impl Element {
    /// The first child called `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    /// The trimmed text of the first child called `name`.
    pub(crate) fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| child.text.trim())
    }

    /// A boolean child (`true` / `false`).
    pub(crate) fn flag(&self, name: &str) -> Option<bool> {
        match self.text_of(name)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// A whole-number child.
    pub(crate) fn number(&self, name: &str) -> Option<u32> {
        self.text_of(name)?.parse().ok()
    }

    /// The headings of an `OCITable` child called `table`, in order, and the table.
    fn table(&self, table: &str) -> Option<(Vec<&str>, &Element)> {
        let table = self.child(table)?;
        let headings = table
            .children
            .iter()
            .filter(|child| child.name == "colHeading")
            .map(|child| child.text.trim())
            .collect();
        Some((headings, table))
    }

    /// The rows of an `OCITable` child called `table`, each read by heading text (never by
    /// position: releases add and move columns): the values of the column `heading`.
    pub(crate) fn table_column(&self, table: &str, heading: &str) -> Option<Vec<String>> {
        let (headings, table) = self.table(table)?;
        let column = headings.iter().position(|found| *found == heading)?;
        Some(
            table
                .rows
                .iter()
                .map(|cells| cells.get(column).copied().unwrap_or_default().to_owned())
                .collect(),
        )
    }

    /// The rows of an `OCITable` child called `table`, each as the cells under `headings` (in
    /// that order, found by heading text); a heading the table lacks gives empty cells.
    pub(crate) fn table_rows(&self, table: &str, headings: &[&str]) -> Option<Vec<Vec<String>>> {
        let (present, table) = self.table(table)?;
        let positions: Vec<Option<usize>> = headings
            .iter()
            .map(|heading| present.iter().position(|found| found == heading))
            .collect();
        Some(
            table
                .rows
                .iter()
                .map(|cells| {
                    positions
                        .iter()
                        .map(|position| {
                            position
                                .and_then(|position| cells.get(position))
                                .copied()
                                .unwrap_or_default()
                                .to_owned()
                        })
                        .collect()
                })
                .collect(),
        )
    }

    /// The element as XML-like text for the trace log, with every secret replaced.
    pub(crate) fn redacted(&self) -> String {
        let mut out = String::new();
        self.redacted_into(&mut out);
        out
    }

    fn redacted_into(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        out.push('>');
        if SECRET_ELEMENTS.contains(&&*self.name) {
            if !self.text.is_empty() {
                out.push_str("[redacted]");
            }
        } else {
            out.push_str(self.text.trim());
        }
        for child in &self.children {
            child.redacted_into(out);
        }
        for cells in self.rows.iter() {
            out.push_str("<row>");
            for cell in cells {
                out.push_str("<col>");
                out.push_str(cell);
                out.push_str("</col>");
            }
            out.push_str("</row>");
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// One reply command: its type (local name, prefix dropped) and body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) type_name: String,
    pub(crate) body: Element,
}

impl Reply {
    /// The command's answer: its body, or the `ErrorResponse` it is.
    pub(crate) fn into_result(self) -> Result<Element, ErrorResponse> {
        if self.type_name != "ErrorResponse" {
            return Ok(self.body);
        }
        let summary = self
            .body
            .text_of("summaryEnglish")
            .filter(|text| !text.is_empty())
            .or_else(|| self.body.text_of("summary"))
            .unwrap_or_default()
            .to_owned();
        let code = self
            .body
            .number("errorCode")
            .or_else(|| leading_error_code(&summary));
        let detail = self.body.text_of("detail").map(str::to_owned);
        Err(ErrorResponse {
            code,
            summary,
            detail,
        })
    }
}

/// The digits of a leading `[Error NNNN]`.
pub(crate) fn leading_error_code(summary: &str) -> Option<u32> {
    let rest = summary.trim_start().strip_prefix("[Error ")?;
    let end = rest.find(']')?;
    rest[..end].trim().parse().ok()
}

/// A reply document: its session and commands.
#[derive(Debug)]
pub(crate) struct ReplyDocument {
    pub(crate) session_id: String,
    pub(crate) commands: Vec<Reply>,
}

/// The text of a document: ISO-8859-1 unless its declaration says UTF-8.
impl ReplyDocument {
    /// The one `sessionId` rule, for the login's answers and every command's alike: an answer
    /// whose `sessionId` is not the one sent is accepted, with a debug line (never the IDs).
    /// Documents go one at a time on a connection and the login lives on the connection, so
    /// the answer read is the answer to the document sent whatever it says; some servers answer
    /// every document with a `sessionId` of their own (docs/ocip.md says why it is accepted).
    pub(crate) fn accept_session(&self, session_id: &str, answering: &str) {
        if self.session_id != session_id {
            tracing::debug!(
                answering,
                "the answer carries another sessionId than the one sent: accepted (one document at a time on a connection)"
            );
        }
    }
}

fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, Error> {
    // ASCII reads the same in either encoding: the usual answer is read in place.
    if bytes.is_ascii() {
        return std::str::from_utf8(bytes)
            .map(std::borrow::Cow::Borrowed)
            .map_err(|_| Error::Decode {
                message: "the answer is not text".into(),
            });
    }
    let head = &bytes[..bytes.len().min(100)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let declaration = head.split("?>").next().unwrap_or_default();
    if head.starts_with("<?xml") && declaration.contains("utf-8") {
        std::str::from_utf8(bytes)
            .map(std::borrow::Cow::Borrowed)
            .map_err(|_| Error::Decode {
                message: "the answer is declared UTF-8 but is not".into(),
            })
    } else {
        Ok(std::borrow::Cow::Owned(
            bytes.iter().map(|&byte| char::from(byte)).collect(),
        ))
    }
}

/// Reads a reply document. Error messages give a byte position, never the document's text
/// (which may hold a secret).
pub(crate) fn parse_reply(bytes: &[u8]) -> Result<ReplyDocument, Error> {
    let text = decode(bytes)?;
    let malformed = |position: u64| Error::Decode {
        message: format!("malformed XML after byte {position}"),
    };
    let mut reader = NsReader::from_str(&text);
    let mut root_seen = false;
    let mut document = ReplyDocument {
        session_id: String::new(),
        commands: Vec::new(),
    };
    loop {
        let position = reader.buffer_position();
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|_| malformed(position))?;
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) if !root_seen => {
                let in_root = matches!(namespace, ResolveResult::Bound(Namespace(uri)) if uri == ROOT_NAMESPACE);
                if start.local_name().as_ref() != b"BroadsoftDocument" || !in_root {
                    return Err(Error::Decode {
                        message: "the answer is not a BroadsoftDocument in namespace `C`".into(),
                    });
                }
                root_seen = true;
                if is_empty {
                    break;
                }
            }
            Event::Start(start) => {
                let name = local_name(&start);
                let type_name = (name == "command")
                    .then(|| command_type(&reader, &start))
                    .transpose()?;
                let body = read_element(&mut reader, name.clone())?;
                match (&*name, type_name) {
                    ("sessionId", _) => document.session_id = body.text.trim().to_owned(),
                    ("command", Some(type_name)) => {
                        document.commands.push(Reply { type_name, body });
                    }
                    _ => {}
                }
            }
            Event::Empty(start) => {
                let name = local_name(&start);
                if name == "command" {
                    let type_name = command_type(&reader, &start)?;
                    document.commands.push(Reply {
                        type_name,
                        body: Element {
                            name,
                            ..Element::default()
                        },
                    });
                }
            }
            Event::End(_) => break,
            Event::Eof => {
                return Err(Error::Decode {
                    message: "the answer ends before its root element closes".into(),
                });
            }
            _ => {}
        }
    }
    Ok(document)
}

/// The element's local name; the names of `OCITable`s and replies' envelope are not copied.
fn local_name(start: &BytesStart<'_>) -> std::borrow::Cow<'static, str> {
    const COMMON: &[&str] = &["col", "row", "colHeading", "command", "sessionId"];
    let local = start.local_name();
    let bytes = local.as_ref();
    match COMMON.iter().find(|name| name.as_bytes() == bytes) {
        Some(name) => std::borrow::Cow::Borrowed(name),
        None => std::borrow::Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// The `type` attribute in the XSI namespace, resolved by URI whatever its prefix, with any
/// prefix of the value dropped (`c:SuccessResponse`).
fn command_type(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Result<String, Error> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|_| Error::Decode {
            message: "a malformed attribute in a reply command".into(),
        })?;
        let (namespace, local) = reader.resolve_attribute(attribute.key);
        let is_xsi_type = matches!(namespace, ResolveResult::Bound(Namespace(uri)) if uri == XSI_NAMESPACE.as_bytes())
            && local.as_ref() == b"type";
        if is_xsi_type {
            let value = attribute.unescape_value().map_err(|_| Error::Decode {
                message: "a malformed type in a reply command".into(),
            })?;
            let local_value = value.rsplit(':').next().unwrap_or(&value).trim();
            return Ok(local_value.to_owned());
        }
    }
    Err(Error::Decode {
        message: "a reply command without an xsi:type".into(),
    })
}

fn read_element(
    reader: &mut NsReader<&[u8]>,
    name: std::borrow::Cow<'static, str>,
) -> Result<Element, Error> {
    let malformed = |position: u64| Error::Decode {
        message: format!("malformed XML after byte {position}"),
    };
    let mut stack = vec![Element {
        name,
        ..Element::default()
    }];
    loop {
        let position = reader.buffer_position();
        match reader.read_event().map_err(|_| malformed(position))? {
            Event::Start(start) if start.local_name().as_ref() == b"row" => {
                if let Some(table) = stack.last_mut() {
                    read_row(reader, &mut table.rows)?;
                }
            }
            Event::Empty(start) if start.local_name().as_ref() == b"row" => {
                if let Some(table) = stack.last_mut() {
                    table.rows.end_row();
                }
            }
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
                    return Err(malformed(position));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => {
                return Err(Error::Decode {
                    message: "the answer ends inside an element".into(),
                });
            }
            event => {
                if let Some(current) = stack.last_mut() {
                    push_text(&event, &mut current.text, position)?;
                }
            }
        }
    }
}

/// Reads one `row` of a table (its start tag read) into `rows`: the text of each `col` a cell,
/// anything else inside skipped.
fn read_row(reader: &mut NsReader<&[u8]>, rows: &mut Rows) -> Result<(), Error> {
    let malformed = |position: u64| Error::Decode {
        message: format!("malformed XML after byte {position}"),
    };
    // 0: between cells; 1: inside a `col`; more: inside something within it.
    let mut depth = 0u32;
    loop {
        let position = reader.buffer_position();
        match reader.read_event().map_err(|_| malformed(position))? {
            Event::Start(start) => {
                if depth == 0 && start.local_name().as_ref() != b"col" {
                    // Not a cell: skipped whole.
                    reader
                        .read_to_end(start.name())
                        .map_err(|_| malformed(position))?;
                } else {
                    depth += 1;
                }
            }
            Event::Empty(start) if depth == 0 && start.local_name().as_ref() == b"col" => {
                rows.end_cell();
            }
            Event::End(_) => match depth {
                0 => {
                    rows.end_row();
                    return Ok(());
                }
                1 => {
                    rows.end_cell();
                    depth = 0;
                }
                _ => depth -= 1,
            },
            Event::Eof => {
                return Err(Error::Decode {
                    message: "the answer ends inside a table row".into(),
                });
            }
            event if depth > 0 => push_text(&event, &mut rows.text, position)?,
            _ => {}
        }
    }
}

/// Adds the text an event carries (text, CDATA, a character or entity reference) to `out`.
pub(crate) fn push_text(event: &Event<'_>, out: &mut String, position: u64) -> Result<(), Error> {
    let malformed = || Error::Decode {
        message: format!("malformed XML after byte {position}"),
    };
    match event {
        Event::Text(text) => out.push_str(&text.decode().map_err(|_| malformed())?),
        Event::CData(data) => out.push_str(&String::from_utf8_lossy(data)),
        Event::GeneralRef(reference) => {
            let character = match reference.resolve_char_ref().map_err(|_| malformed())? {
                Some(character) => character,
                None => match reference.as_ref() {
                    b"amp" => '&',
                    b"lt" => '<',
                    b"gt" => '>',
                    b"quot" => '"',
                    b"apos" => '\'',
                    _ => return Err(malformed()),
                },
            };
            out.push(character);
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_latin1_with_escaped_secrets_and_redactable() {
        let request = Request::new(
            "UserAuthenticationModifyRequest",
            vec![
                Node::Text("userId", "zoë@example.com".into()),
                Node::Secret("newPassword", SecretString::from("Xy7!ab<cd&")),
            ],
        );
        let bytes = request_document("s1", &[&request], false);
        assert!(bytes.ends_with(b"</BroadsoftDocument>\n"));
        assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"));
        let text: String = bytes.iter().map(|&byte| char::from(byte)).collect();
        assert!(
            text.contains("<userId>zo\u{eb}@example.com</userId>"),
            "{text}"
        );
        assert!(text.contains("Xy7!ab&lt;cd&amp;"), "{text}");
        assert!(text.contains(r#"<command xsi:type="UserAuthenticationModifyRequest" xmlns="">"#));
        let redacted = request_document("s1", &[&request], true);
        let redacted = String::from_utf8_lossy(&redacted);
        assert!(!redacted.contains("Xy7"), "{redacted}");
        assert!(redacted.contains("<newPassword>[redacted]</newPassword>"));
        assert_eq!(request.secrets(), vec!["Xy7!ab<cd&"]);
    }

    #[test]
    fn replies_resolve_the_type_by_namespace_and_read_errors() {
        let reply = concat!(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n",
            "<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
            "<sessionId xmlns=\"\">s1</sessionId>",
            "<command echo=\"\" xsi:type=\"UserAuthenticationGetResponse\" xmlns=\"\"><userName>u1 &amp; co</userName></command>",
            "<command echo=\"\" xsi:type=\"c:SuccessResponse\" xmlns:c=\"C\" xmlns=\"\"/>",
            "<command type=\"Error\" echo=\"\" xsi:type=\"c:ErrorResponse\" xmlns:c=\"C\" xmlns=\"\"><summary>[Error 4008] User not found: u9</summary><summaryEnglish>[Error 4008] User not found: u9</summaryEnglish></command>",
            "<command C:type=\"SuccessResponse\" xmlns:C=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"\"/>",
            "</BroadsoftDocument>\n"
        );
        let document = parse_reply(reply.as_bytes()).expect("parses");
        assert_eq!(document.session_id, "s1");
        let types: Vec<&str> = document
            .commands
            .iter()
            .map(|reply| reply.type_name.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "UserAuthenticationGetResponse",
                "SuccessResponse",
                "ErrorResponse",
                "SuccessResponse"
            ]
        );
        let mut commands = document.commands.into_iter();
        let first = commands.next().expect("one").into_result().expect("data");
        assert_eq!(first.text_of("userName"), Some("u1 & co"));
        commands.next();
        let error = commands
            .next()
            .expect("three")
            .into_result()
            .expect_err("error");
        assert_eq!(error.code, Some(4008));
        assert_eq!(error.summary, "[Error 4008] User not found: u9");
    }

    #[test]
    fn tables_are_read_by_heading_and_errors_never_quote_the_document() {
        let body = Element {
            name: "command".into(),
            text: String::new(),
            children: vec![Element {
                name: "userTable".into(),
                text: String::new(),
                children: vec![
                    leaf("colHeading", "Last Name"),
                    leaf("colHeading", "User Id"),
                ],
                rows: {
                    let mut rows = Rows::default();
                    rows.push_row(&["Doe", "u1@x"]);
                    rows
                },
            }],
            rows: Rows::default(),
        };
        assert_eq!(
            body.table_column("userTable", "User Id"),
            Some(vec!["u1@x".to_owned()])
        );
        let error = parse_reply(b"<BroadsoftDocument xmlns=\"C\"><command>s3cret&bogus;</command>")
            .expect_err("malformed");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn table_rows_are_read_from_the_wire_cell_by_cell() {
        let document = concat!(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n",
            "<BroadsoftDocument protocol=\"OCI\" xmlns=\"C\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
            "<sessionId xmlns=\"\">s</sessionId>",
            "<command echo=\"\" xsi:type=\"UserGetListInGroupResponse\" xmlns=\"\"><userTable>",
            "<colHeading>User Id</colHeading><colHeading>Last Name</colHeading><colHeading>Dept</colHeading>",
            "<row><col>u1@x</col><col>D&amp;oe &#233;</col><col/></row>",
            "<row/>",
            "<row>\n  <col> u2@x </col>\n  <col><![CDATA[<Lee>]]></col><col>a<b>b</b>c</col></row>",
            "<row><col>u3@x</col></row>",
            "</userTable></command></BroadsoftDocument>\n"
        );
        let mut reply = parse_reply(document.as_bytes()).expect("parsed");
        let body = reply.commands.remove(0).into_result().expect("data");
        assert_eq!(
            body.table_column("userTable", "User Id"),
            Some(vec![
                "u1@x".to_owned(),
                String::new(),
                "u2@x".to_owned(),
                "u3@x".to_owned()
            ])
        );
        assert_eq!(
            body.table_rows("userTable", &["Dept", "Last Name", "Missing"]),
            Some(vec![
                vec![String::new(), "D&oe é".to_owned(), String::new()],
                vec![String::new(), String::new(), String::new()],
                vec!["abc".to_owned(), "<Lee>".to_owned(), String::new()],
                vec![String::new(), String::new(), String::new()],
            ])
        );
        assert_eq!(body.table_column("userTable", "Nope"), None);
        let shown = body.redacted();
        assert!(
            shown.contains("<row><col>u1@x</col><col>D&oe é</col><col></col></row><row></row>"),
            "{shown}"
        );
        let cut = document.replace("</col></row><row><col>u3@x</col></row>", "");
        assert!(parse_reply(cut.as_bytes()).is_err());
    }

    fn leaf(name: &str, text: &str) -> Element {
        Element {
            name: name.to_owned().into(),
            text: text.into(),
            ..Element::default()
        }
    }
}
