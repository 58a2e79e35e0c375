//! The name of the operation a request runs, as resolved from its document
//! (a client need not send `operationName` for a single named operation),
//! handed back to the transport for logs and metrics.

use std::sync::{Arc, OnceLock};

use async_graphql::Response;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};

/// Put in a request's data; filled in when the operation starts.
#[derive(Clone, Default)]
pub struct OperationName(Arc<OnceLock<String>>);

impl OperationName {
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

pub struct RecordOperationName;

impl ExtensionFactory for RecordOperationName {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RecordOperationName)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RecordOperationName {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let (Some(name), Some(cell)) = (operation_name, ctx.data_opt::<OperationName>()) {
            let _ = cell.0.set(name.to_owned());
        }
        next.run(ctx, operation_name).await
    }
}
