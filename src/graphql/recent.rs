//! A map that keeps only the entries inserted last: a cache that no client
//! can grow past its capacity, however many different keys it sends.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

pub(super) struct Recent<K, V> {
    entries: HashMap<K, V>,
    /// Keys oldest first; each key in `entries` once.
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Recent<K, V> {
    pub(super) fn new(capacity: usize) -> Self {
        Recent {
            entries: HashMap::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    pub(super) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    /// The value of `key`, inserted from `value` if absent (forgetting the
    /// oldest entry when full); a value already there is kept.
    pub(super) fn get_or_insert_with(&mut self, key: K, value: impl FnOnce() -> V) -> &V {
        if !self.entries.contains_key(&key) {
            if self.order.len() >= self.capacity
                && let Some(oldest) = self.order.pop_front()
            {
                self.entries.remove(&oldest);
            }
            self.order.push_back(key.clone());
        }
        self.entries.entry(key).or_insert_with(value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    #[test]
    fn keeps_the_last_entries_inserted_and_the_first_value_of_each() {
        let mut recent = Recent::new(2);
        assert_eq!(*recent.get_or_insert_with("a", || 1), 1);
        assert_eq!(*recent.get_or_insert_with("a", || 2), 1);
        recent.get_or_insert_with("b", || 3);
        recent.get_or_insert_with("c", || 4);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent.get("a"), None);
        assert_eq!(recent.get("b"), Some(&3));
        assert_eq!(recent.get("c"), Some(&4));
    }
}
