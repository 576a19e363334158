//! A buffered writer for output that holds secrets: its buffer never grows and is wiped when
//! dropped.
//!
//! `std::io::BufWriter` would do the buffering, but leaves the last bytes it held (new
//! passwords, in the middle of a JSON or CSV output) in freed memory. Here the buffer is a
//! `Zeroizing<Vec<u8>>` whose capacity is fixed when it is made: bytes are copied into it only
//! while they fit, so it is never reallocated (which would leave an unwiped copy behind), and
//! all of it is zeroed on drop. Writes larger than the buffer go straight to the inner writer.

use std::fmt;
use std::io::{self, Write};

use zeroize::Zeroizing;

/// What the output files are written through: large enough that a file is written in a few
/// system calls, small next to the memory a run needs.
pub(crate) const CAPACITY: usize = 64 * 1024;

/// A buffered writer whose buffer is wiped on drop. Dropping it without
/// [`ZeroizingBufWriter::into_inner`] discards (and wipes) what is still buffered: unlike
/// `BufWriter`, it never writes from `drop`, where an error could not be reported.
pub(crate) struct ZeroizingBufWriter<W: Write> {
    inner: W,
    buffer: Zeroizing<Vec<u8>>,
}

impl<W: Write> ZeroizingBufWriter<W> {
    /// A writer over `inner` with a buffer of [`CAPACITY`] bytes.
    pub(crate) fn new(inner: W) -> Self {
        Self::with_capacity(CAPACITY, inner)
    }

    /// A writer over `inner` with a buffer of `capacity` bytes (at least 1).
    pub(crate) fn with_capacity(capacity: usize, inner: W) -> Self {
        ZeroizingBufWriter {
            inner,
            buffer: Zeroizing::new(Vec::with_capacity(capacity.max(1))),
        }
    }

    /// Writes what is buffered and gives the inner writer back (without flushing it).
    pub(crate) fn into_inner(mut self) -> io::Result<W> {
        self.write_buffer()?;
        let ZeroizingBufWriter { inner, buffer } = self;
        drop(buffer);
        Ok(inner)
    }

    /// Writes the buffered bytes to the inner writer. What could not be written stays at the
    /// front of the buffer, moved within its capacity.
    fn write_buffer(&mut self) -> io::Result<()> {
        let mut written = 0;
        let result = loop {
            if written == self.buffer.len() {
                break Ok(());
            }
            match self.inner.write(&self.buffer[written..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => break Err(error),
            }
        };
        self.buffer.drain(..written);
        result
    }

    fn capacity(&self) -> usize {
        self.buffer.capacity()
    }
}

impl<W: Write> Write for ZeroizingBufWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + bytes.len() > self.capacity() {
            self.write_buffer()?;
        }
        if bytes.len() >= self.capacity() {
            // Nothing is buffered now; copying would only add a copy.
            return self.inner.write(bytes);
        }
        // Fits in the spare capacity: no reallocation.
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_buffer()?;
        self.inner.flush()
    }
}

impl<W: Write> fmt::Debug for ZeroizingBufWriter<W> {
    /// Never the buffered bytes: they may be secret.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ZeroizingBufWriter")
            .field("buffered", &self.buffer.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts at most `step` bytes per write, and fails once `fail_after` bytes were taken.
    struct Stingy {
        taken: Vec<u8>,
        step: usize,
        fail_after: usize,
    }

    impl Write for Stingy {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.taken.len() >= self.fail_after {
                return Err(io::Error::other("disk full"));
            }
            let count = bytes.len().min(self.step);
            self.taken.extend_from_slice(&bytes[..count]);
            Ok(count)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pieces() -> Vec<Vec<u8>> {
        // Sizes below, at and above the capacity used in the tests (16).
        [0usize, 1, 5, 15, 16, 17, 3, 40, 2, 16, 9]
            .iter()
            .enumerate()
            .map(|(index, &length)| vec![b'a' + index as u8; length])
            .collect()
    }

    #[test]
    fn writes_arrive_whole_and_in_order_and_the_buffer_never_grows() {
        for step in [1, 3, 16, 1000] {
            let inner = Stingy {
                taken: Vec::new(),
                step,
                fail_after: usize::MAX,
            };
            let mut writer = ZeroizingBufWriter::with_capacity(16, inner);
            let mut expected = Vec::new();
            for piece in pieces() {
                writer.write_all(&piece).expect("written");
                expected.extend_from_slice(&piece);
                assert_eq!(writer.capacity(), 16, "the buffer was reallocated");
                assert!(writer.buffer.len() < 16);
            }
            let inner = writer.into_inner().expect("written");
            assert_eq!(inner.taken, expected, "step {step}");
        }
    }

    #[test]
    fn dropping_without_into_inner_writes_nothing_more() {
        let mut taken = Vec::new();
        {
            let mut writer = ZeroizingBufWriter::with_capacity(16, &mut taken);
            writer.write_all(b"Secret-1").expect("buffered");
        }
        assert!(taken.is_empty());
    }

    #[test]
    fn errors_of_the_inner_writer_are_returned_and_debug_shows_no_bytes() {
        let inner = Stingy {
            taken: Vec::new(),
            step: 4,
            fail_after: 8,
        };
        let mut writer = ZeroizingBufWriter::with_capacity(16, inner);
        writer.write_all(b"Secret-12").expect("buffered");
        let shown = format!("{writer:?}");
        assert!(!shown.contains("Secret"), "{shown}");
        let error = writer.flush().expect_err("the disk is full");
        assert_eq!(error.to_string(), "disk full");
        // The 8 bytes taken are gone from the buffer; the last one waits.
        assert_eq!(writer.buffer.len(), 1);
        assert_eq!(writer.capacity(), 16);
    }
}
