//! Running operations over WebSocket, and above all the live membership
//! subscriptions: thousands of sessions may follow one organization, and
//! each event must reach them all at once.
//!
//! A subscription's resolver checks who may subscribe and hands its feed
//! here (the [`LiveSlot`]). Each event the feed yields is then rendered, by
//! the schema, once per (event, operation, what the subscriber may see), and
//! the rendered payload is shared by every subscription with the same three
//! (the [`Renders`] cache). What a subscriber may see of a membership event
//! depends only on its standing in the event's organization and on whether
//! the event is about itself: that is its [`Class`].

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, Variables};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::OrgSchema;
use super::context::{RequestContext, Services};
use super::renders::{Class, RenderKey};
use crate::db::Db;
use crate::domain::access;
use crate::domain::live_events::{self, LiveEvent, MembershipEvent, Replay};
use crate::domain::principal::Principal;
use crate::domain::{DomainError, Role};
use crate::events::Delivered;

/// Events read back per query when replaying.
const REPLAY_BATCH: i64 = 256;

/// What one operation over WebSocket sends.
pub enum Reply {
    /// A response as the schema gave it (a query's, or a refusal).
    Response(Box<Response>),
    /// A live event's payload (`{"data": …}`), rendered once and shared.
    Shared(Arc<str>),
}

/// Where a subscription's resolver leaves its live feed.
#[derive(Default)]
pub(super) struct LiveSlot(Mutex<Option<Live>>);

impl LiveSlot {
    pub(super) fn fill(&self, live: Live) {
        *self.0.lock().expect("not poisoned") = Some(live);
    }
}

/// The one event a render resolves.
pub(super) struct RenderOne(pub Arc<Delivered>);

/// Runs an operation over WebSocket for `principal`.
pub fn run(
    schema: &OrgSchema,
    services: &Arc<Services>,
    principal: Principal,
    client_ip: IpAddr,
    mut request: Request,
) -> BoxStream<'static, Reply> {
    let operation = Operation::of(&mut request);
    let slot = Arc::new(LiveSlot::default());
    let context = RequestContext::new(services, Some(principal), Some(client_ip));
    let responses = schema.execute_stream(request.data(context).data(slot.clone()));
    let renderer = Renderer {
        schema: schema.clone(),
        services: services.clone(),
        principal,
        client_ip,
        operation,
    };
    // What the schema answers first (a refusal, or a query's result); then,
    // if the operation is a live subscription, its events.
    let live = stream::once(async move { slot.0.lock().expect("not poisoned").take() })
        .filter_map(|live| async move { live })
        .flat_map(move |live| renderer.clone().events(live));
    responses
        .map(|response| Reply::Response(Box::new(response)))
        .chain(live)
        .boxed()
}

/// An operation as sent, to render again for each event.
#[derive(Clone)]
struct Operation {
    query: Arc<str>,
    document: Option<Arc<ExecutableDocument>>,
    variables: Variables,
    name: Option<String>,
    /// Identifies the operation with its variables, for sharing renders.
    key: u64,
}

impl Operation {
    fn of(request: &mut Request) -> Operation {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        request.query.hash(&mut hasher);
        request.operation_name.hash(&mut hasher);
        serde_json::to_string(&request.variables)
            .unwrap_or_default()
            .hash(&mut hasher);
        Operation {
            query: request.query.as_str().into(),
            document: request.parsed_query().ok().map(|d| Arc::new(d.clone())),
            variables: request.variables.clone(),
            name: request.operation_name.clone(),
            key: hasher.finish(),
        }
    }

    fn request(&self) -> Request {
        let mut request = Request::new(&*self.query).variables(self.variables.clone());
        if let Some(name) = &self.name {
            request = request.operation_name(name);
        }
        if let Some(document) = &self.document {
            request.set_parsed_query((**document).clone());
        }
        request
    }
}

/// Renders the events of one subscription.
#[derive(Clone)]
struct Renderer {
    schema: OrgSchema,
    services: Arc<Services>,
    principal: Principal,
    client_ip: IpAddr,
    operation: Operation,
}

impl Renderer {
    fn events(self, live: Live) -> BoxStream<'static, Reply> {
        stream::unfold(
            (self, live, false),
            |(renderer, mut live, ended)| async move {
                if ended {
                    return None;
                }
                let (reply, end) = match live.next().await {
                    Ok(Some((event, class, end))) => (renderer.render(event, class).await, end),
                    Ok(None) => return None,
                    Err(error) => {
                        let error =
                            async_graphql::Error::from(error).into_server_error(Default::default());
                        let response = Response::from_errors(vec![error]);
                        (Reply::Response(Box::new(response)), true)
                    }
                };
                Some((reply, (renderer, live, end)))
            },
        )
        .boxed()
    }

    /// The event's payload for this subscription's class: rendered by the
    /// first subscription that needs it, shared by the others.
    async fn render(&self, event: Arc<Delivered>, class: Class) -> Reply {
        let key = RenderKey {
            seq: event.seq,
            operation: self.operation.key,
            class,
        };
        let cell = self.services.renders.cell(key);
        let payload = cell
            .get_or_init(|| async {
                let context =
                    RequestContext::new(&self.services, Some(self.principal), Some(self.client_ip));
                let request = self
                    .operation
                    .request()
                    .data(context)
                    .data(RenderOne(event));
                let response = self.schema.execute_stream(request).next().await;
                let payload = response.map(|r| serde_json::to_string(&r));
                match payload {
                    Some(Ok(payload)) => payload.into(),
                    _ => r#"{"data":null}"#.into(),
                }
            })
            .await;
        Reply::Shared(payload.clone())
    }
}

/// Which events a subscription follows.
pub(super) enum Watch {
    /// The principal's own memberships.
    Own { user_id: i64 },
    /// One organization's, for as long as the principal may see it.
    Organization {
        organization_id: i64,
        principal: Principal,
        /// The principal's role there as the stream saw it last (a key's: None).
        role: Option<Role>,
    },
}

/// A subscription's events: those recorded after its cursor, then those
/// the bus publishes, each once, in order, filtered for its principal.
pub(super) struct Live {
    feed: Feed,
    watch: Watch,
}

impl Live {
    /// Follows `watch`, replaying what was committed after `after` first.
    pub(super) fn new(
        db: &Db,
        live: broadcast::Receiver<Arc<Delivered>>,
        watch: Watch,
        after: Option<i64>,
    ) -> Live {
        let replay = match watch {
            Watch::Own { user_id } => Replay::User(user_id),
            Watch::Organization {
                organization_id, ..
            } => Replay::Organization(organization_id),
        };
        Live {
            feed: Feed {
                db: db.clone(),
                live,
                replay: after.map(|after| (replay, after)),
                replayed: VecDeque::new(),
                last: after.unwrap_or(0),
            },
            watch,
        }
    }

    /// The next event this subscription sends, its class, and whether the
    /// subscription ends with it (its principal lost access).
    async fn next(&mut self) -> Result<Option<(Arc<Delivered>, Class, bool)>, DomainError> {
        loop {
            let Some(event) = self.feed.next().await? else {
                return Ok(None);
            };
            if let Some((class, end)) = self.watch.step(&event.event) {
                return Ok(Some((event, class, end)));
            }
        }
    }
}

impl Watch {
    /// Whether `event` is sent, as what class, and whether the stream ends.
    fn step(&mut self, event: &MembershipEvent) -> Option<(Class, bool)> {
        match self {
            Watch::Own { user_id } => (event.user_id == *user_id).then_some((Class::Own, false)),
            Watch::Organization {
                organization_id,
                principal,
                role,
            } => {
                if event.organization_id != *organization_id {
                    return None;
                }
                let is_subject = principal.user_id() == Some(event.user_id);
                if is_subject {
                    *role = event.role();
                }
                let end = !access::keeps_watching(principal, event);
                let class = match (principal, *role) {
                    (Principal::ServiceKey { .. }, _) => Class::Service,
                    (Principal::User { .. }, Some(role)) => Class::Member { role, is_subject },
                    // The event that ended the principal's access is its own.
                    (Principal::User { .. }, None) => Class::Own,
                };
                Some((class, end))
            }
        }
    }
}

/// The events of one subscription, in order and each once: first those
/// recorded after its cursor, then those the bus publishes.
struct Feed {
    db: Db,
    /// Subscribed before the replay is read, so nothing falls in between.
    live: broadcast::Receiver<Arc<Delivered>>,
    /// What is left to replay, and the number to read after; None: live.
    replay: Option<(Replay, i64)>,
    replayed: VecDeque<Arc<Delivered>>,
    /// The number of the last event handed out.
    last: i64,
}

impl Feed {
    async fn next(&mut self) -> Result<Option<Arc<Delivered>>, DomainError> {
        loop {
            if let Some(event) = self.replayed.pop_front() {
                self.last = event.seq;
                return Ok(Some(event));
            }
            if let Some((replay, after)) = self.replay {
                let page = live_events::since(&self.db, replay, after, REPLAY_BATCH).await?;
                self.replay = match page.last() {
                    Some(last) if page.len() as i64 == REPLAY_BATCH => Some((replay, last.seq)),
                    _ => None,
                };
                self.replayed =
                    page.into_iter()
                        .filter_map(|numbered| match numbered.event {
                            LiveEvent::Membership(event) => Some(Arc::new(Delivered {
                                seq: numbered.seq,
                                event,
                            })),
                            LiveEvent::SessionEnded { .. }
                            | LiveEvent::ServiceKeyRevoked { .. } => None,
                        })
                        .collect();
                continue;
            }
            match self.live.recv().await {
                Ok(event) if event.seq <= self.last => continue,
                Ok(event) => {
                    self.last = event.seq;
                    return Ok(Some(event));
                }
                Err(RecvError::Closed) => return Ok(None),
                Err(RecvError::Lagged(missed)) => {
                    return Err(DomainError::LimitExceeded(format!(
                        "this subscription fell {missed} events behind and was ended; \
                         subscribe again with the last cursor received"
                    )));
                }
            }
        }
    }
}
