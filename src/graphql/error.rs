//! The one place a domain error becomes a GraphQL error.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ErrorExtensions, ServerError, ServerResult, ValidationResult, Variables};

use crate::domain::DomainError;

impl From<DomainError> for async_graphql::Error {
    fn from(error: DomainError) -> Self {
        let (code, message) = match error {
            DomainError::Unauthenticated(message) => ("UNAUTHENTICATED", message.to_owned()),
            DomainError::MissingPermission(permission) => {
                let message = format!("this requires the {} permission", permission.name());
                return async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", "FORBIDDEN");
                    e.set("permission", permission.name());
                });
            }
            DomainError::Forbidden(message) => ("FORBIDDEN", message),
            DomainError::NotFound(what) => ("NOT_FOUND", format!("{what} not found")),
            DomainError::Conflict(message) => ("CONFLICT", message),
            DomainError::BadInput(message) => ("BAD_USER_INPUT", message),
            DomainError::LimitExceeded(message) => ("LIMIT_EXCEEDED", message),
            DomainError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                ("INTERNAL_SERVER_ERROR", "internal server error".to_owned())
            }
        };
        async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
    }
}

/// The error for a request that needs a session and has none.
pub fn unauthenticated() -> async_graphql::Error {
    DomainError::Unauthenticated("sign in first: send Authorization: Bearer <token>").into()
}

/// An error about the request as a whole, which has no place in the query
/// text to point at.
pub fn request_error(error: async_graphql::Error) -> async_graphql::ServerError {
    let mut error = error.into_server_error(Default::default());
    error.locations.clear();
    error
}

/// A request refused for exceeding one of the server's limits.
pub fn limit_exceeded(message: String) -> async_graphql::ServerError {
    request_error(
        async_graphql::Error::new(message).extend_with(|_, e| e.set("code", "LIMIT_EXCEEDED")),
    )
}

/// async-graphql leaves parse and validation errors without a code; they
/// are the client's, BAD_USER_INPUT, as the contract wants every error coded.
pub struct CodeRequestErrors;

impl ExtensionFactory for CodeRequestErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CodeRequestErrors)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for CodeRequestErrors {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(bad_user_input)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(bad_user_input).collect())
    }
}

fn bad_user_input(mut error: ServerError) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", "BAD_USER_INPUT");
    }
    error
}
