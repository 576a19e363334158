//! OCI-P framing: a message is one XML document ending at its `</BroadsoftDocument>` closing
//! tag. There is no length prefix, so the reader searches for the tag across partial reads and
//! keeps whatever follows it for the next message.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest document the simulator reads. A real request is a few kilobytes (15 commands at
/// most); a peer that sends more without a closing tag is not speaking OCI-P.
pub(crate) const MAX_DOCUMENT: usize = 1024 * 1024;

const CLOSING_NAME: &[u8] = b"BroadsoftDocument";

/// Why no further document can be read from a connection.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// More than [`MAX_DOCUMENT`] bytes without a closing tag.
    TooLong,
    Io(std::io::Error),
}

/// Reads documents off a byte stream, one at a time.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    buffer: Vec<u8>,
    /// How far `buffer` has been searched without finding a closing tag.
    searched: usize,
}

impl FrameReader {
    /// The next whole document (leading whitespace removed, the closing tag included), or
    /// `None` at a clean end of stream. Bytes after the document stay for the next call; bytes
    /// of an unfinished document at end of stream are dropped (the peer hung up mid-request).
    pub(super) async fn next_document<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            if let Some(document) = self.take_document() {
                return Ok(Some(document));
            }
            if self.buffer.len() > MAX_DOCUMENT {
                return Err(FrameError::TooLong);
            }
            self.buffer.reserve(8 * 1024);
            let read = stream
                .read_buf(&mut self.buffer)
                .await
                .map_err(FrameError::Io)?;
            if read == 0 {
                return Ok(None);
            }
        }
    }

    /// Cuts the first complete document out of the buffer, if there is one.
    fn take_document(&mut self) -> Option<Vec<u8>> {
        let start = self
            .buffer
            .iter()
            .position(|byte| !byte.is_ascii_whitespace());
        let Some(start) = start else {
            // Only whitespace (the newline after the previous document): nothing to keep.
            self.buffer.clear();
            self.searched = 0;
            return None;
        };
        if start > 0 {
            self.buffer.drain(..start);
            self.searched = self.searched.saturating_sub(start);
        }
        match find_closing_tag(&self.buffer, self.searched) {
            Some(end) => {
                let rest = self.buffer.split_off(end);
                let document = std::mem::replace(&mut self.buffer, rest);
                self.searched = 0;
                Some(document)
            }
            None => {
                // The tag may be cut by the end of the buffer: search again from a little
                // before the end next time.
                self.searched = self.buffer.len().saturating_sub(CLOSING_NAME.len() + 64);
                None
            }
        }
    }
}

/// The end (one past `>`) of the first `</BroadsoftDocument>` at or after `from`, also in the
/// prefixed form `</p:BroadsoftDocument >` that a namespace-aware writer may produce.
fn find_closing_tag(buffer: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at + CLOSING_NAME.len() <= buffer.len() {
        let found = buffer[at..]
            .windows(CLOSING_NAME.len())
            .position(|window| window == CLOSING_NAME)?;
        let name_start = at + found;
        let name_end = name_start + CLOSING_NAME.len();
        at = name_end;
        if !is_closing_start(&buffer[..name_start]) {
            continue;
        }
        let mut end = name_end;
        while end < buffer.len() && buffer[end].is_ascii_whitespace() {
            end += 1;
        }
        match buffer.get(end) {
            Some(b'>') => return Some(end + 1),
            // Cut off after the name: wait for more bytes.
            None => return None,
            Some(_) => continue,
        }
    }
    None
}

/// Whether `before` ends in `</` or `</prefix:`.
fn is_closing_start(before: &[u8]) -> bool {
    if before.ends_with(b"</") {
        return true;
    }
    let Some(before_colon) = before.strip_suffix(b":") else {
        return false;
    };
    let prefix_length = before_colon
        .iter()
        .rev()
        .take_while(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
        .count();
    prefix_length > 0 && before_colon[..before_colon.len() - prefix_length].ends_with(b"</")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_all(reader: &mut FrameReader) -> Vec<String> {
        let mut documents = Vec::new();
        while let Some(document) = reader.take_document() {
            documents.push(String::from_utf8(document).unwrap());
        }
        documents
    }

    #[test]
    fn documents_are_cut_at_the_closing_tag_and_leftovers_kept() {
        let mut reader = FrameReader::default();
        reader.buffer.extend_from_slice(
            b"\n <a:BroadsoftDocument>1</a:BroadsoftDocument >\n<BroadsoftDocument>2</Broadsoft",
        );
        assert_eq!(
            take_all(&mut reader),
            ["<a:BroadsoftDocument>1</a:BroadsoftDocument >"]
        );
        reader.buffer.extend_from_slice(b"Document>\n<Broad");
        assert_eq!(
            take_all(&mut reader),
            ["<BroadsoftDocument>2</BroadsoftDocument>"]
        );
        assert_eq!(reader.buffer, b"<Broad");
    }

    #[test]
    fn the_name_inside_text_or_an_opening_tag_does_not_end_a_document() {
        let mut reader = FrameReader::default();
        reader
            .buffer
            .extend_from_slice(b"<BroadsoftDocument><x>BroadsoftDocument></x>");
        assert!(take_all(&mut reader).is_empty());
        reader.buffer.extend_from_slice(b"</BroadsoftDocument>");
        assert_eq!(take_all(&mut reader).len(), 1);
        assert!(reader.buffer.is_empty());
    }

    #[test]
    fn whitespace_alone_is_dropped() {
        let mut reader = FrameReader::default();
        reader.buffer.extend_from_slice(b"\n\r\n  ");
        assert!(take_all(&mut reader).is_empty());
        assert!(reader.buffer.is_empty());
    }
}
