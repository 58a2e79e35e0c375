//! The live payloads rendered lately, each once per (event, operation, what
//! the subscriber may see), for every subscription alike to share.

use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::recent::Recent;
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
pub struct Renders(Mutex<Recent<RenderKey, Arc<OnceCell<Arc<str>>>>>);

impl Default for Renders {
    fn default() -> Self {
        Renders(Mutex::new(Recent::new(RENDERS_KEPT)))
    }
}

impl Renders {
    pub(super) fn cell(&self, key: RenderKey) -> Arc<OnceCell<Arc<str>>> {
        let mut renders = self.0.lock().expect("not poisoned");
        renders.get_or_insert_with(key, Default::default).clone()
    }
}
