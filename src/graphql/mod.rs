//! The GraphQL API: schema assembly, the root types and the object types.
//! Resolvers parse IDs, ask the domain, and wrap its answer.

mod context;
mod documents;
mod error;
mod ids;
mod limits;
pub mod live;
mod loaders;
mod mutation;
mod nesting;
mod query;
mod recent;
mod renders;
mod subscription;
mod text_input;
mod types;

use async_graphql::Schema;

pub use context::{RequestContext, Services};
pub use documents::parse as parse_document;
pub use error::{code_uncoded, limit_exceeded, request_error};
pub use limits::QueryLimits;
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

pub type OrgSchema = Schema<Query, Mutation, Subscription>;

/// The schema; without introspection (production), no `__schema`/`__type`
/// and no "did you mean" hints.
pub fn build_schema(introspection: bool) -> OrgSchema {
    let builder = Schema::build(Query, Mutation::default(), Subscription);
    match introspection {
        true => builder.finish(),
        false => builder
            .disable_introspection()
            .disable_suggestions()
            .finish(),
    }
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn print_schema() -> String {
    build_schema(true).sdl()
}
