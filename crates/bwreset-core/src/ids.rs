//! Finding a user ID's position in a [`UserIdList`] without a second copy of the IDs.
//!
//! A `HashMap<UserId, usize>` beside a list of a million users holds every ID twice; this index
//! holds one `u32` per slot (two to four slots per ID), and compares against the list itself.

use std::hash::{BuildHasher, RandomState};

use bwreset_backend::UserIdList;

/// An empty slot.
const EMPTY: u32 = u32::MAX;

/// The positions of the IDs of one [`UserIdList`], by their text: an open-addressing table of
/// positions (linear probing, at most half full). It knows nothing of the list but the
/// positions; every call takes the list it indexes.
#[derive(Debug)]
pub(crate) struct IdIndex {
    slots: Vec<u32>,
    len: usize,
    hasher: RandomState,
}

/// More IDs than an index holds (four thousand million).
#[derive(Debug)]
pub(crate) struct TooManyIds;

impl IdIndex {
    /// An index with room for `ids` IDs before it grows.
    pub(crate) fn with_capacity(ids: usize) -> IdIndex {
        IdIndex {
            slots: vec![EMPTY; slots_for(ids)],
            len: 0,
            hasher: RandomState::new(),
        }
    }

    /// An index of every ID of `list`; positions of an ID listed twice: the first.
    pub(crate) fn of(list: &UserIdList) -> Result<IdIndex, TooManyIds> {
        let mut index = IdIndex::with_capacity(list.len());
        for (position, id) in list.iter().enumerate() {
            if index.find(list, id).is_none() {
                index.insert(list, position)?;
            }
        }
        Ok(index)
    }

    /// The position of `id` in `list`, if the index holds it.
    pub(crate) fn find(&self, list: &UserIdList, id: &str) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut slot = self.hasher.hash_one(id) as usize & mask;
        loop {
            let position = self.slots[slot];
            if position == EMPTY {
                return None;
            }
            if list.get(position as usize) == Some(id) {
                return Some(position as usize);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Adds the ID at `position` of `list`, which the index must not hold yet.
    pub(crate) fn insert(&mut self, list: &UserIdList, position: usize) -> Result<(), TooManyIds> {
        let stored = u32::try_from(position)
            .ok()
            .filter(|&stored| stored != EMPTY)
            .ok_or(TooManyIds)?;
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow(list);
        }
        let id = list.get(position).unwrap_or_default();
        self.place(id, stored);
        self.len += 1;
        Ok(())
    }

    fn place(&mut self, id: &str, stored: u32) {
        let mask = self.slots.len() - 1;
        let mut slot = self.hasher.hash_one(id) as usize & mask;
        while self.slots[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = stored;
    }

    fn grow(&mut self, list: &UserIdList) {
        // Twice the slots: still at most half full with the ID about to be added.
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; slots_for(self.len + 1)]);
        for stored in old.into_iter().filter(|&stored| stored != EMPTY) {
            let id = list.get(stored as usize).unwrap_or_default();
            self.place(id, stored);
        }
    }
}

/// A power of two at least twice `ids` (and at least 16).
fn slots_for(ids: usize) -> usize {
    ids.saturating_mul(2).max(16).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_and_nothing_else_as_it_grows() {
        let mut list = UserIdList::new();
        let mut index = IdIndex::with_capacity(0);
        for number in 0..5_000 {
            let id = format!("user{number}@x");
            assert_eq!(index.find(&list, &id), None);
            list.push(&id);
            index.insert(&list, number).unwrap();
        }
        for number in 0..5_000 {
            assert_eq!(index.find(&list, &format!("user{number}@x")), Some(number));
        }
        assert_eq!(index.find(&list, "user5000@x"), None);
        assert_eq!(index.find(&list, ""), None);

        let twice: UserIdList = ["a", "b", "a"].into_iter().collect();
        let index = IdIndex::of(&twice).unwrap();
        assert_eq!(index.find(&twice, "a"), Some(0));
        assert_eq!(index.find(&twice, "b"), Some(1));
    }
}
