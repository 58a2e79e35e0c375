//! Parsed documents by their text. Clients send the same few documents
//! over and over, and parsing one costs many times what copying its syntax
//! tree does; each request still gets its own copy, measured and validated
//! afresh with its own variables. Every text is parsed here, and only once
//! its brackets are known not to nest too deep (see `nesting`).

use std::sync::{Arc, Mutex};

use async_graphql::ServerError;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::parser::{Error, parse_query};

use super::nesting;
use super::recent::Recent;

/// Why a text gave no document.
#[derive(Debug)]
pub enum Unparsed {
    /// Nested too deep to be parsed at all: the refusal says where.
    TooDeep(ServerError),
    /// Not GraphQL: the parser says why.
    Invalid(Error),
}

/// Parses a query's text, refusing it first if it nests too deep for the
/// parser and what follows it to walk.
pub fn parse(query: &str) -> Result<ExecutableDocument, Unparsed> {
    nesting::check_text(query).map_err(Unparsed::TooDeep)?;
    parse_query(query).map_err(Unparsed::Invalid)
}

/// Documents kept: far more than a product's clients send.
const DOCUMENTS_KEPT: usize = 128;
/// Longer texts are parsed each time, so what is kept stays bounded: at
/// most 128 texts of 8 KiB and their syntax trees.
const MAX_KEPT_TEXT: usize = 8 * 1024;

pub struct Documents(Mutex<Recent<Arc<str>, Arc<ExecutableDocument>>>);

impl Default for Documents {
    fn default() -> Self {
        Documents(Mutex::new(Recent::new(DOCUMENTS_KEPT)))
    }
}

impl Documents {
    /// The document `query` parses to (a document that does not parse is
    /// not kept: its error is the parser's each time).
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, Unparsed> {
        if query.len() > MAX_KEPT_TEXT {
            return parse(query);
        }
        let kept = self.0.lock().expect("not poisoned").get(query).cloned();
        if let Some(document) = kept {
            return Ok((*document).clone());
        }
        let document = parse(query)?;
        self.0
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(query.into(), || Arc::new(document.clone()));
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_sent_again_is_the_one_parsed_before() {
        let documents = Documents::default();
        let query = "query Q($id: ID!) { node(id: $id) { id } }";
        let first = documents.parse(query).expect("parses");
        let again = documents.parse(query).expect("parses");
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
        assert!(documents.0.lock().unwrap().get(query).is_some());
    }

    #[test]
    fn invalid_and_long_documents_are_not_kept() {
        let documents = Documents::default();
        assert!(documents.parse("{ viewer { ").is_err());
        assert!(documents.0.lock().unwrap().get("{ viewer { ").is_none());
        let long = format!("{{ viewer {{ id }} }} #{}", "x".repeat(MAX_KEPT_TEXT));
        assert!(documents.parse(&long).is_ok());
        assert!(documents.0.lock().unwrap().get(long.as_str()).is_none());
    }
}
