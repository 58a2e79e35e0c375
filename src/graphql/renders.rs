//! The live payloads rendered lately, each once per (event, operation, what
//! the subscriber may see), for every subscription alike to share.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::domain::Role;

/// Renders kept: those of the last few events (a fan-out uses its event's).
const RENDERS_KEPT: usize = 4096;

/// What a subscriber may see of an event: everything a membership event's
/// fields read of their principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Class {
    /// The event is the subscriber's own (its viewer stream).
    Own,
    /// A member of the event's organization, with this role; `is_subject`
    /// when the event is about them.
    Member { role: Role, is_subject: bool },
    /// A service key of the event's organization.
    Service,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct RenderKey {
    pub seq: i64,
    pub operation: u64,
    pub class: Class,
}

/// The payloads rendered lately, each once.
#[derive(Default)]
pub struct Renders(Mutex<RenderMap>);

#[derive(Default)]
struct RenderMap {
    cells: HashMap<RenderKey, Arc<OnceCell<Arc<str>>>>,
    order: VecDeque<RenderKey>,
}

impl Renders {
    pub(super) fn cell(&self, key: RenderKey) -> Arc<OnceCell<Arc<str>>> {
        let mut map = self.0.lock().expect("not poisoned");
        if let Some(cell) = map.cells.get(&key) {
            return cell.clone();
        }
        if map.order.len() == RENDERS_KEPT
            && let Some(oldest) = map.order.pop_front()
        {
            map.cells.remove(&oldest);
        }
        let cell = Arc::new(OnceCell::new());
        map.cells.insert(key, cell.clone());
        map.order.push_back(key);
        cell
    }
}
