//! A list of user IDs kept compactly: one string holding them all, and where each one ends.
//!
//! A group of a million users is a million short IDs. As a `Vec<String>` each costs its text,
//! a 24-byte `String` and an allocation of its own (about 60 bytes for a 24-character ID); here
//! it costs its text and one offset (about 32 bytes), in two allocations for the whole list.

use std::fmt;

/// User IDs in order, kept as one text and the offset where each ends.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserIdList {
    text: String,
    ends: Vec<usize>,
}

impl UserIdList {
    /// An empty list.
    pub fn new() -> Self {
        UserIdList::default()
    }

    /// An empty list with room for `ids` IDs of `bytes` bytes in all.
    pub fn with_capacity(ids: usize, bytes: usize) -> Self {
        UserIdList {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(ids),
        }
    }

    /// Adds an ID at the end.
    pub fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    /// How many IDs there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The ID at `index`.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1],
        };
        self.text.get(start..end)
    }

    /// The IDs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        (0..self.len()).map(|index| self.get(index).unwrap_or_default())
    }
}

impl<S: AsRef<str>> FromIterator<S> for UserIdList {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> Self {
        let mut list = UserIdList::new();
        list.extend(ids);
        list
    }
}

impl<S: AsRef<str>> Extend<S> for UserIdList {
    fn extend<I: IntoIterator<Item = S>>(&mut self, ids: I) {
        for id in ids {
            self.push(id.as_ref());
        }
    }
}

/// Lists the IDs (they are not secret), as a `Vec<&str>` would.
impl fmt::Debug for UserIdList {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for UserIdList {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other)
                .all(|(id, other)| id == other.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for UserIdList {
    fn eq(&self, other: &[S; N]) -> bool {
        self == other.as_slice()
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for UserIdList {
    fn eq(&self, other: &Vec<S>) -> bool {
        self == other.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_back_in_order_and_whole() {
        let mut list = UserIdList::new();
        assert!(list.is_empty());
        assert_eq!(list.get(0), None);
        for id in ["a@x", "", "ünïcode@x", "b@x"] {
            list.push(id);
        }
        assert_eq!(list.len(), 4);
        assert_eq!(list.get(0), Some("a@x"));
        assert_eq!(list.get(1), Some(""));
        assert_eq!(list.get(2), Some("ünïcode@x"));
        assert_eq!(list.get(3), Some("b@x"));
        assert_eq!(list.get(4), None);
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            ["a@x", "", "ünïcode@x", "b@x"]
        );
        assert_eq!(list.iter().next_back(), Some("b@x"));
        assert_eq!(list, ["a@x", "", "ünïcode@x", "b@x"]);
        assert_eq!(format!("{list:?}"), r#"["a@x", "", "ünïcode@x", "b@x"]"#);
        let collected: UserIdList = ["a@x", "", "ünïcode@x", "b@x"].into_iter().collect();
        assert_eq!(collected, list);
    }
}
