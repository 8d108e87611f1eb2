//! Small sets kept sorted by key in a boxed slice.

use serde::{Deserialize, Deserializer, Serialize};

/// An item of a [`Sorted`] set, found by its key.
pub(crate) trait Keyed {
    /// What the set is ordered and searched by.
    type Key: Ord + ?Sized;

    /// This item's key.
    fn key(&self) -> &Self::Key;
}

/// Items with distinct keys, sorted by key in a boxed slice: no spare
/// capacity (16 bytes and no allocation when empty, exactly the items
/// otherwise), searched by bisection. A change reallocates, which suits the
/// few items a patient has, changed rarely and read on every decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Sorted<T>(Box<[T]>);

impl<T> Default for Sorted<T> {
    fn default() -> Self {
        Self(Box::default())
    }
}

impl<T: Keyed> Sorted<T> {
    /// Where the item with `key` is (`Ok`), or would go (`Err`).
    fn find(&self, key: &T::Key) -> Result<usize, usize> {
        self.0.binary_search_by(|item| item.key().cmp(key))
    }

    /// The item with `key`, if any.
    pub(crate) fn get(&self, key: &T::Key) -> Option<&T> {
        self.find(key).ok().map(|index| &self.0[index])
    }

    /// Adds `item`, replacing the item with the same key if there is one.
    pub(crate) fn put(&mut self, item: T) {
        match self.find(item.key()) {
            Ok(index) => self.0[index] = item,
            Err(index) => {
                let mut items = std::mem::take(&mut self.0).into_vec();
                items.reserve_exact(1);
                items.insert(index, item);
                self.0 = items.into_boxed_slice();
            }
        }
    }

    /// Removes the item with `key`, if any.
    pub(crate) fn remove(&mut self, key: &T::Key) {
        if let Ok(index) = self.find(key) {
            let mut items = std::mem::take(&mut self.0).into_vec();
            items.remove(index);
            self.0 = items.into_boxed_slice();
        }
    }
}

impl<T> Sorted<T> {
    /// The items in key order.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// Whether there are no items.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Read back only in strictly increasing key order, the order [`Sorted::put`]
/// keeps: a set out of order would be searched wrongly (an objection missed).
impl<'de, T: Keyed + Deserialize<'de>> Deserialize<'de> for Sorted<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Box::<[T]>::deserialize(deserializer)?;
        if items.windows(2).all(|pair| pair[0].key() < pair[1].key()) {
            Ok(Self(items))
        } else {
            Err(serde::de::Error::custom(
                "set items are out of key order or repeated",
            ))
        }
    }
}

/// Objections: scope number, and the log position of the event recording it.
impl Keyed for (i32, u64) {
    type Key = i32;

    fn key(&self) -> &i32 {
        &self.0
    }
}

/// Items named by a string (an attorney id, an ODS code).
impl<V> Keyed for (String, V) {
    type Key = str;

    fn key(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(set: &Sorted<(i32, u64)>) -> Vec<i32> {
        set.as_slice().iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn put_keeps_key_order_replaces_and_remove_forgets() {
        let mut set = Sorted::default();
        for (key, value) in [(3, 30), (1, 10), (2, 20), (1, 11)] {
            set.put((key, value));
        }
        assert_eq!(keys(&set), [1, 2, 3]);
        assert_eq!(set.get(&1), Some(&(1, 11)));
        set.remove(&2);
        set.remove(&7);
        assert_eq!(keys(&set), [1, 3]);
        assert_eq!(set.get(&2), None);
        set.remove(&1);
        set.remove(&3);
        assert!(set.is_empty());
    }

    #[test]
    fn reads_back_only_in_strict_key_order() {
        let set: Sorted<(i32, u64)> = serde_json::from_str("[[1,5],[4,2]]").expect("sorted");
        assert_eq!(keys(&set), [1, 4]);
        assert!(serde_json::from_str::<Sorted<(i32, u64)>>("[[4,2],[1,5]]").is_err());
        assert!(serde_json::from_str::<Sorted<(i32, u64)>>("[[1,2],[1,5]]").is_err());
    }
}
