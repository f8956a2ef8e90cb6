//! A generational lookup table: slot index + generation keys for memory tokens, QP numbers and
//! listener ports.
//!
//! Owns slot reuse: a key names one insertion forever. Removing bumps the slot's generation, so
//! a stale key from a reused slot misses instead of reaching the new occupant; a slot whose
//! generation is exhausted is retired, never wrapped. Pure data structure: no locking (wrap it in
//! a [`Directory`](super::Directory) for tracked objects), no waiting, and allocation only in
//! [`Table::insert`], fallibly.
#![deny(unsafe_code)]

use alloc::vec::Vec;

/// A key naming one insertion into a [`Table`].
///
/// # Example
///
/// ```
/// use softndk::lifetime::Key;
///
/// let key = Key::from_u64(0x0000_0007_0000_0003);
/// assert_eq!((key.index(), key.generation()), (3, 7));
/// assert_eq!(key.to_u64(), 0x0000_0007_0000_0003);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// Slot index.
    #[must_use]
    pub const fn index(self) -> u32 {
        self.index
    }

    /// Generation of the slot at insertion time.
    #[must_use]
    pub const fn generation(self) -> u32 {
        self.generation
    }

    /// Builds a key from its parts (e.g. decoded from a wire token).
    #[must_use]
    pub const fn from_parts(index: u32, generation: u32) -> Self {
        Self { index, generation }
    }

    /// Packs as `generation << 32 | index`.
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }

    /// Inverse of [`Key::to_u64`]; any value is accepted (an unknown key simply misses).
    #[must_use]
    pub const fn from_u64(raw: u64) -> Self {
        Self {
            index: (raw & 0xFFFF_FFFF) as u32,
            generation: (raw >> 32) as u32,
        }
    }
}

/// Why [`Table::insert`] failed; the value is handed back.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertError<V> {
    /// The allocator refused to grow the table.
    OutOfMemory(V),
    /// The table holds as many slots as its limit allows.
    Full(V),
}

impl<V> InsertError<V> {
    /// The value that was not inserted.
    pub fn into_value(self) -> V {
        match self {
            Self::OutOfMemory(v) | Self::Full(v) => v,
        }
    }
}

#[derive(Debug)]
enum Slot<V> {
    Occupied {
        generation: u32,
        value: V,
    },
    Free {
        generation: u32,
        next: Option<u32>,
    },
    /// Generation exhausted: never reused, so no key can ever alias.
    Retired,
}

/// Generational slab keyed by [`Key`].
///
/// # Example
///
/// ```
/// use softndk::lifetime::Table;
///
/// let mut table = Table::new();
/// let old = table.insert("first").unwrap();
/// assert_eq!(table.remove(old), Some("first"));
/// let new = table.insert("second").unwrap(); // reuses the slot...
/// assert_eq!(new.index(), old.index());
/// assert_eq!(table.get(old), None); // ...but the stale key misses
/// assert_eq!(table.get(new), Some(&"second"));
/// ```
#[derive(Debug)]
pub struct Table<V> {
    slots: Vec<Slot<V>>,
    free_head: Option<u32>,
    len: usize,
    max_slots: u32,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Table<V> {
    /// An empty table with room for `u32::MAX` slots. Does not allocate.
    #[must_use]
    pub const fn new() -> Self {
        Self::with_max_slots(u32::MAX)
    }

    /// An empty table whose indices stay below `max_slots` (e.g. `1 << 24` for QP numbers).
    #[must_use]
    pub const fn with_max_slots(max_slots: u32) -> Self {
        Self {
            slots: Vec::new(),
            free_head: None,
            len: 0,
            max_slots,
        }
    }

    /// Number of values present.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is present.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts `value`, reusing a freed slot if any.
    ///
    /// # Errors
    ///
    /// [`InsertError::OutOfMemory`] if growing failed, [`InsertError::Full`] at the slot limit;
    /// never panics.
    pub fn insert(&mut self, value: V) -> Result<Key, InsertError<V>> {
        if let Some(index) = self.free_head {
            let slot = &mut self.slots[index as usize];
            let Slot::Free { generation, next } = *slot else {
                unreachable!("free list points at a free slot");
            };
            self.free_head = next;
            *slot = Slot::Occupied { generation, value };
            self.len += 1;
            return Ok(Key { index, generation });
        }
        let Ok(index) = u32::try_from(self.slots.len()) else {
            return Err(InsertError::Full(value));
        };
        if index >= self.max_slots {
            return Err(InsertError::Full(value));
        }
        if self.slots.try_reserve(1).is_err() {
            return Err(InsertError::OutOfMemory(value));
        }
        self.slots.push(Slot::Occupied {
            generation: 0,
            value,
        });
        self.len += 1;
        Ok(Key {
            index,
            generation: 0,
        })
    }

    /// The value named by `key`, or `None` if it was removed (stale key) or never existed.
    #[must_use]
    pub fn get(&self, key: Key) -> Option<&V> {
        match self.slots.get(key.index as usize)? {
            Slot::Occupied { generation, value } if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    /// Removes the value named by `key`, bumping the slot's generation so `key` misses forever.
    pub fn remove(&mut self, key: Key) -> Option<V> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Occupied { generation, .. } if *generation == key.generation => {}
            _ => return None,
        }
        let next_slot = match key.generation.checked_add(1) {
            Some(generation) => Slot::Free {
                generation,
                next: self.free_head,
            },
            None => Slot::Retired,
        };
        let Slot::Occupied { value, .. } = core::mem::replace(slot, next_slot) else {
            unreachable!("checked occupied above");
        };
        if matches!(self.slots[key.index as usize], Slot::Free { .. }) {
            self.free_head = Some(key.index);
        }
        self.len -= 1;
        Some(value)
    }

    /// Iterates over present values with their keys.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &V)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| match slot {
                Slot::Occupied { generation, value } => Some((
                    Key {
                        index: u32::try_from(index).ok()?,
                        generation: *generation,
                    },
                    value,
                )),
                _ => None,
            })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stale_key_misses_after_reuse() {
        let mut t = Table::new();
        let a = t.insert(1).unwrap();
        assert_eq!(t.remove(a), Some(1));
        assert_eq!(t.remove(a), None);
        let b = t.insert(2).unwrap();
        assert_eq!(b.index(), a.index());
        assert_ne!(b.generation(), a.generation());
        assert_eq!(t.get(a), None);
        assert_eq!(t.remove(a), None);
        assert_eq!(t.get(b), Some(&2));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn unknown_keys_miss() {
        let mut t: Table<u8> = Table::new();
        assert_eq!(t.get(Key::from_u64(u64::MAX)), None);
        assert_eq!(t.remove(Key::from_parts(5, 0)), None);
        let k = t.insert(9).unwrap();
        assert_eq!(t.get(Key::from_parts(k.index(), k.generation() + 1)), None);
    }

    #[test]
    fn exhausted_generation_retires_slot() {
        let mut t = Table::new();
        let k = t.insert('a').unwrap();
        // Forge the slot to its last generation to exercise retirement cheaply.
        t.slots[0] = Slot::Occupied {
            generation: u32::MAX,
            value: 'b',
        };
        assert_eq!(t.remove(Key::from_parts(k.index(), u32::MAX)), Some('b'));
        let next = t.insert('c').unwrap();
        assert_ne!(next.index(), k.index(), "retired slot must not be reused");
        assert!(t.get(Key::from_parts(k.index(), 0)).is_none());
    }

    #[test]
    fn slot_limit_reports_full_and_returns_value() {
        let mut t = Table::with_max_slots(2);
        t.insert(1).unwrap();
        t.insert(2).unwrap();
        assert_eq!(t.insert(3), Err(InsertError::Full(3)));
        assert_eq!(t.insert(4).unwrap_err().into_value(), 4);
    }

    #[test]
    fn free_list_reuses_lifo_and_iter_sees_present_values() {
        let mut t = Table::new();
        let keys: Vec<Key> = (0..4).map(|v| t.insert(v).unwrap()).collect();
        t.remove(keys[1]).unwrap();
        t.remove(keys[2]).unwrap();
        assert_eq!(t.insert(10).unwrap().index(), 2);
        assert_eq!(t.insert(11).unwrap().index(), 1);
        let mut present: Vec<i32> = t.iter().map(|(_, v)| *v).collect();
        present.sort_unstable();
        assert_eq!(present, [0, 3, 10, 11]);
        for (k, v) in t.iter() {
            assert_eq!(t.get(k), Some(v));
        }
    }
}
