//! Keyset pagination: a cursor is the sort key of an edge, so a page costs
//! the same wherever it starts (never OFFSET).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::DomainError;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// The Relay arguments as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// What to fetch: at most `limit` items strictly between the keys `after`
/// and `before` of the listing's order, from the end nearest `after` unless
/// `backward` (a `last` page is taken from the end nearest `before`).
#[derive(Debug, Clone)]
pub struct Window<K> {
    pub limit: i64,
    pub backward: bool,
    pub after: Option<K>,
    pub before: Option<K>,
}

impl PageArgs {
    /// A connection field's arguments (one that pages only forward passes
    /// None for `last` and `before`).
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> PageArgs {
        PageArgs {
            first,
            after,
            last,
            before,
        }
    }

    pub fn window<K: DeserializeOwned>(&self) -> Result<Window<K>, DomainError> {
        let (size, backward) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(DomainError::bad_input("give first or last, not both"));
            }
            (Some(n), None) => (n, false),
            (None, Some(n)) => (n, true),
            (None, None) => (
                DEFAULT_PAGE_SIZE,
                self.before.is_some() && self.after.is_none(),
            ),
        };
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(DomainError::bad_input(format!(
                "page size must be between 1 and {MAX_PAGE_SIZE}, got {size}"
            )));
        }
        Ok(Window {
            limit: i64::from(size),
            backward,
            after: self.after.as_deref().map(decode_cursor).transpose()?,
            before: self.before.as_deref().map(decode_cursor).transpose()?,
        })
    }
}

/// One page of a listing, each item with its cursor.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub edges: Vec<(String, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// The same page with each item turned into something else.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        let mut f = f;
        Page {
            edges: self
                .edges
                .into_iter()
                .map(|(cursor, item)| (cursor, f(item)))
                .collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

impl<K> Window<K> {
    /// Turns the rows a query fetched (up to `limit + 1`, in the query's
    /// order, which is reversed for a backward window) into a page.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T>
    where
        K: Serialize,
    {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.backward {
            rows.reverse();
        }
        let (has_next_page, has_previous_page) = if self.backward {
            (self.before.is_some(), more)
        } else {
            (more, self.after.is_some())
        };
        Page {
            edges: rows
                .into_iter()
                .map(|row| (encode_cursor(&key(&row)), row))
                .collect(),
            has_next_page,
            has_previous_page,
        }
    }

    /// Whether the SQL should scan in ascending key order, given the order
    /// the client asked for.
    pub fn scan_ascending(&self, ascending: bool) -> bool {
        ascending != self.backward
    }
}

/// Narrows a boxed query to a window of a listing keyed by its id column,
/// in the listing's order (`newest_first`: descending ids), with one row
/// more than the page so that the page knows whether another follows.
macro_rules! id_window {
    ($query:expr, $column:expr, $window:expr, newest_first = $newest_first:expr) => {{
        let window = &$window;
        let newest_first: bool = $newest_first;
        let mut query = $query;
        if let Some(after) = window.after {
            query = match newest_first {
                true => query.filter($column.lt(after)),
                false => query.filter($column.gt(after)),
            };
        }
        if let Some(before) = window.before {
            query = match newest_first {
                true => query.filter($column.gt(before)),
                false => query.filter($column.lt(before)),
            };
        }
        query = match window.scan_ascending(!newest_first) {
            true => query.order($column.asc()),
            false => query.order($column.desc()),
        };
        query.limit(window.limit + 1)
    }};
}
pub(crate) use id_window;

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys serialize"))
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, DomainError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| DomainError::bad_input(format!("invalid cursor {cursor:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(first: Option<i32>, last: Option<i32>) -> PageArgs {
        PageArgs {
            first,
            last,
            ..PageArgs::default()
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(args(Some(0), None).window::<i64>().is_err());
        assert!(args(Some(101), None).window::<i64>().is_err());
        assert!(args(None, Some(-1)).window::<i64>().is_err());
        assert!(args(Some(1), Some(1)).window::<i64>().is_err());
        assert_eq!(args(None, None).window::<i64>().unwrap().limit, 20);
        assert_eq!(args(Some(100), None).window::<i64>().unwrap().limit, 100);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = encode_cursor(&("a@b.c", 7));
        let page = PageArgs {
            after: Some(cursor),
            ..PageArgs::default()
        };
        assert_eq!(
            page.window::<(String, i64)>().unwrap().after,
            Some(("a@b.c".to_owned(), 7))
        );
        let bad = PageArgs {
            after: Some("%%%".into()),
            ..PageArgs::default()
        };
        assert!(bad.window::<(String, i64)>().is_err());
    }
}
