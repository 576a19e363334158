//! Where the body of a successful answer goes as it arrives: whole into a buffer (most answers),
//! or, for a group listing, one user at a time into compact records, so that a listing of a
//! hundred thousand users never sits in memory as text.

use secrecy::zeroize::Zeroizing;
use serde::de::DeserializeOwned;

use crate::wire;

/// Why a body could not be taken in.
#[derive(Debug)]
pub(crate) enum SinkError {
    /// More bytes than the limit (in bytes).
    TooLarge { limit: usize },
    /// The body is not what was expected; the text completes "the answer to `GET /x` ...", and
    /// never quotes the data.
    Decode(String),
}

/// Takes in the body of a 2xx answer, chunk by chunk.
pub(crate) trait AnswerSink: Send {
    /// A new body begins (every attempt starts afresh); `content_length` when announced.
    fn start(&mut self, content_length: Option<u64>) -> Result<(), SinkError>;
    /// The next piece of the body.
    fn push(&mut self, chunk: &[u8]) -> Result<(), SinkError>;
    /// The body is complete: the status and details of an error object sent with a 2xx status,
    /// if that is what it is.
    fn embedded_error(&self) -> Option<(u16, String)>;
}

/// The whole body in one buffer, up to a limit. The buffer is zeroized on drop since answers can
/// hold generated secrets.
pub(crate) struct Buffered {
    limit: usize,
    body: Zeroizing<Vec<u8>>,
}

impl Buffered {
    pub(crate) fn new(limit: usize) -> Self {
        Buffered {
            limit,
            body: Zeroizing::new(Vec::new()),
        }
    }

    pub(crate) fn into_body(self) -> Zeroizing<Vec<u8>> {
        self.body
    }
}

impl AnswerSink for Buffered {
    fn start(&mut self, content_length: Option<u64>) -> Result<(), SinkError> {
        if content_length.is_some_and(|length| length > self.limit as u64) {
            return Err(SinkError::TooLarge { limit: self.limit });
        }
        let expected = content_length.map_or(0, |length| length as usize);
        self.body = Zeroizing::new(Vec::with_capacity(expected));
        Ok(())
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        let body = &mut self.body;
        if body.len() + chunk.len() > self.limit {
            return Err(SinkError::TooLarge { limit: self.limit });
        }
        if body.capacity() < body.len() + chunk.len() {
            // Grow by hand so that the old buffer is zeroized rather than freed with its content.
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (body.len() + chunk.len())
                    .max(body.capacity() * 2)
                    .min(self.limit),
            ));
            bigger.extend_from_slice(body);
            *body = bigger;
        }
        body.extend_from_slice(chunk);
        Ok(())
    }

    fn embedded_error(&self) -> Option<(u16, String)> {
        wire::embedded_error(&self.body)
    }
}

/// Where a listing's elements go as they are decoded: a `Vec` of them, or something more
/// compact that keeps only what it needs of each.
pub(crate) trait Collect<T>: Default + Send {
    /// Takes the next element.
    fn add(&mut self, item: T);
    /// How many elements were taken.
    fn count(&self) -> usize;
}

impl<T: Send> Collect<T> for Vec<T> {
    fn add(&mut self, item: T) {
        self.push(item);
    }

    fn count(&self) -> usize {
        self.len()
    }
}

/// A JSON array decoded element by element as its bytes arrive: each element is gathered alone
/// (at most `element_limit` bytes) and decoded into a `T` at once, so memory holds the `T`s and
/// one element, never the whole text. An answer that is not an array (one object, an error
/// object) is gathered whole, up to `element_limit`, and decoded as one `T`.
pub(crate) struct Listing<T, C = Vec<T>> {
    element_limit: usize,
    total_limit: usize,
    received: usize,
    shape: Shape,
    /// The bytes of the element being gathered (or of the whole answer when it is no array).
    element: Vec<u8>,
    /// Nesting inside the current element: 0 is the level of the array itself.
    nesting: u32,
    in_string: bool,
    escaped: bool,
    /// A `,` was seen: another element must follow.
    expecting_element: bool,
    items: C,
    element_type: std::marker::PhantomData<fn() -> T>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Nothing but blanks so far.
    Start,
    /// Inside the top-level array.
    Array,
    /// After the closing `]`: only blanks may follow.
    Done,
    /// Not an array: gathered whole.
    Whole,
}

impl<T: DeserializeOwned + Send, C: Collect<T>> Listing<T, C> {
    pub(crate) fn new(element_limit: usize, total_limit: usize) -> Self {
        Listing {
            element_limit,
            total_limit,
            received: 0,
            shape: Shape::Start,
            element: Vec::new(),
            nesting: 0,
            in_string: false,
            escaped: false,
            expecting_element: false,
            items: C::default(),
            element_type: std::marker::PhantomData,
        }
    }

    /// The decoded elements, once the whole body has been pushed.
    pub(crate) fn finish(self) -> Result<C, SinkError> {
        match self.shape {
            Shape::Done => Ok(self.items),
            Shape::Whole => serde_json::from_slice::<T>(&self.element)
                .map(|item| {
                    let mut items = C::default();
                    items.add(item);
                    items
                })
                .map_err(|error| SinkError::Decode(describe(&error))),
            Shape::Start | Shape::Array => Err(SinkError::Decode("is truncated JSON".to_owned())),
        }
    }

    fn end_element(&mut self, closing: bool) -> Result<(), SinkError> {
        let blank = self.element.iter().all(u8::is_ascii_whitespace);
        if blank {
            // `[]` is an empty listing; `[,` `[1,]` and `[1,,2]` are not JSON.
            if closing && !self.expecting_element {
                return Ok(());
            }
            return Err(SinkError::Decode(format!(
                "is not valid JSON (element {} of the list is empty)",
                self.items.count() + 1
            )));
        }
        let item = serde_json::from_slice::<T>(&self.element).map_err(|error| {
            SinkError::Decode(format!(
                "{} in element {} of the list",
                describe(&error),
                self.items.count() + 1
            ))
        })?;
        self.items.add(item);
        self.element.clear();
        if self.element.capacity() > 64 * 1024 {
            // One odd element must not keep a large buffer for the rest.
            self.element.shrink_to(4096);
        }
        Ok(())
    }

    fn gather(&mut self, byte: u8) -> Result<(), SinkError> {
        if self.element.len() >= self.element_limit {
            return Err(SinkError::TooLarge {
                limit: self.element_limit,
            });
        }
        self.element.push(byte);
        Ok(())
    }

    fn push_array_byte(&mut self, byte: u8) -> Result<(), SinkError> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
            return self.gather(byte);
        }
        match byte {
            b'"' => {
                self.in_string = true;
                self.gather(byte)
            }
            b'{' | b'[' => {
                self.nesting += 1;
                self.gather(byte)
            }
            b'}' | b']' if self.nesting > 0 => {
                self.nesting -= 1;
                self.gather(byte)
            }
            b']' => {
                self.end_element(true)?;
                self.shape = Shape::Done;
                Ok(())
            }
            b'}' => Err(SinkError::Decode(
                "is not valid JSON (an unmatched `}` in the list)".to_owned(),
            )),
            b',' if self.nesting == 0 => {
                self.end_element(false)?;
                self.expecting_element = true;
                Ok(())
            }
            _ if self.nesting == 0 && byte.is_ascii_whitespace() && self.element.is_empty() => {
                Ok(())
            }
            _ => self.gather(byte),
        }
    }
}

impl<T: DeserializeOwned + Send, C: Collect<T>> AnswerSink for Listing<T, C> {
    fn start(&mut self, content_length: Option<u64>) -> Result<(), SinkError> {
        if content_length.is_some_and(|length| length > self.total_limit as u64) {
            return Err(SinkError::TooLarge {
                limit: self.total_limit,
            });
        }
        *self = Listing::new(self.element_limit, self.total_limit);
        Ok(())
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        self.received += chunk.len();
        if self.received > self.total_limit {
            return Err(SinkError::TooLarge {
                limit: self.total_limit,
            });
        }
        for &byte in chunk {
            match self.shape {
                Shape::Start if byte.is_ascii_whitespace() => {}
                Shape::Start if byte == b'[' => self.shape = Shape::Array,
                Shape::Start => {
                    self.shape = Shape::Whole;
                    self.gather(byte)?;
                }
                Shape::Array => self.push_array_byte(byte)?,
                Shape::Done if byte.is_ascii_whitespace() => {}
                Shape::Done => {
                    return Err(SinkError::Decode(
                        "is not valid JSON (trailing characters after the list)".to_owned(),
                    ));
                }
                Shape::Whole => self.gather(byte)?,
            }
        }
        Ok(())
    }

    fn embedded_error(&self) -> Option<(u16, String)> {
        match self.shape {
            Shape::Whole => wire::embedded_error(&self.element),
            Shape::Start | Shape::Array | Shape::Done => None,
        }
    }
}

/// The category of a decoding failure, never quoting the data.
fn describe(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not valid JSON",
        Category::Data => "does not have the expected shape",
        Category::Eof => "is truncated JSON",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Item {
        #[serde(rename = "userId")]
        user_id: String,
    }

    /// Feeds `text` in pieces of `step` bytes.
    fn feed(text: &str, step: usize, element_limit: usize) -> Result<Vec<Item>, SinkError> {
        let mut listing = Listing::<Item>::new(element_limit, 1 << 20);
        listing.start(None)?;
        for piece in text.as_bytes().chunks(step.max(1)) {
            listing.push(piece)?;
        }
        listing.finish()
    }

    fn ids(items: Vec<Item>) -> Vec<String> {
        items.into_iter().map(|item| item.user_id).collect()
    }

    #[test]
    fn arrays_decode_whatever_the_chunking() {
        let text = r#" [ {"userId":"a","x":{"y":[1,2,"]}"]},"n":null},
            {"firstName":"Q\"uote}]","userId":"b\\"} ,{"userId":"c"}] "#;
        for step in 1..=text.len() {
            let items = feed(text, step, 1024).unwrap_or_else(|error| panic!("{step}: {error:?}"));
            assert_eq!(ids(items), ["a", "b\\", "c"], "step {step}");
        }
        assert!(feed("[]", 1, 16).unwrap().is_empty());
        assert!(feed(" [ \n ] \n", 3, 16).unwrap().is_empty());
    }

    #[test]
    fn one_object_is_one_element() {
        assert_eq!(
            ids(feed(r#" {"userId":"solo"} "#, 2, 1024).unwrap()),
            ["solo"]
        );
        let mut listing = Listing::<Item>::new(1024, 1 << 20);
        listing.start(None).unwrap();
        listing
            .push(br#"{"status":400,"error":"Bad Request","details":"[Error 4008] nope"}"#)
            .unwrap();
        let (status, details) = listing.embedded_error().unwrap();
        assert_eq!(status, 400);
        assert!(details.contains("4008"), "{details}");
    }

    #[test]
    fn broken_lists_are_decode_errors() {
        for bad in [
            "",
            "[",
            r#"[{"userId":"a"}"#,
            r#"[{"userId":"a"},]"#,
            r#"[,{"userId":"a"}]"#,
            r#"[{"userId":"a"},,{"userId":"b"}]"#,
            r#"[{"userId":"a"}] x"#,
            r#"[{"userId":"a"}}]"#,
            r#"[{"name":"no id"}]"#,
            r#"[1]"#,
            "not json",
        ] {
            for step in [1, 4, 1000] {
                assert!(
                    matches!(feed(bad, step, 1024), Err(SinkError::Decode(_))),
                    "{bad:?} in pieces of {step}"
                );
            }
        }
    }

    #[test]
    fn limits_hold_per_element_and_in_total() {
        let long = format!(r#"[{{"userId":"{}"}}]"#, "a".repeat(100));
        assert!(matches!(
            feed(&long, 7, 64),
            Err(SinkError::TooLarge { limit: 64 })
        ));
        assert_eq!(ids(feed(&long, 7, 1024).unwrap())[0].len(), 100);
        let mut listing = Listing::<Item>::new(1024, 10);
        assert!(matches!(
            listing.start(Some(11)),
            Err(SinkError::TooLarge { limit: 10 })
        ));
        listing.start(None).unwrap();
        assert!(listing.push(b"[{\"userId\":").is_err());
    }

    #[test]
    fn a_new_attempt_starts_afresh() {
        let mut listing = Listing::<Item>::new(1024, 1 << 20);
        listing.start(None).unwrap();
        listing.push(br#"[{"userId":"a"},{"us"#).unwrap();
        listing.start(None).unwrap();
        listing.push(br#"[{"userId":"b"}]"#).unwrap();
        assert_eq!(ids(listing.finish().unwrap()), ["b"]);
    }

    #[test]
    fn buffered_keeps_the_limit() {
        let mut buffered = Buffered::new(8);
        assert!(matches!(
            buffered.start(Some(9)),
            Err(SinkError::TooLarge { limit: 8 })
        ));
        buffered.start(None).unwrap();
        buffered.push(b"12345").unwrap();
        assert!(buffered.push(b"6789").is_err());
        let mut buffered = Buffered::new(8);
        buffered.start(Some(4)).unwrap();
        buffered.push(b"[1,2").unwrap();
        buffered.push(b"]").unwrap();
        assert_eq!(&buffered.into_body()[..], b"[1,2]");
    }
}
