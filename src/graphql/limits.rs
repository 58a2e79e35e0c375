//! Query limits: the size of the query text and its nesting (see
//! `nesting`), then depth, complexity,
//! aliases and root fields of the parsed document (and that its text holds
//! no control characters, see `text_input`), all checked by the
//! transport before the schema validates or runs anything, so an abusive
//! query costs a parse and one walk of its syntax tree. (Not an async-graphql
//! extension: any extension wraps the resolution of every field, a cost
//! every page would pay.)
//!
//! Complexity counts each field as 1, and a connection (a field with a
//! `first` or `last` argument, or one selecting `edges` or `nodes`) as its
//! page size times what each of its nodes selects. Introspection's
//! `ofType` chains, which GraphiQL nests eight deep to unwrap a type, do not
//! count towards depth.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Request, ServerError, Value, Variables};

use super::documents::{Documents, Unparsed};
use super::error::limit_exceeded;
use crate::domain::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// The limits a request must fit (their defaults are the configuration's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub max_query_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
}

/// What a document would cost, the most expensive of its operations.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueryCost {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub root_fields: usize,
}

impl QueryLimits {
    /// Checks a request against the limits and names the operation it runs
    /// (a client need not send `operationName` for a lone named operation).
    /// The parsed document (from `documents`, if sent lately) stays in the
    /// request, so the schema does not parse it again; a query that does not
    /// parse is left to the schema, which reports why.
    pub fn admit(
        &self,
        request: &mut Request,
        documents: &Documents,
    ) -> Result<Option<String>, ServerError> {
        if request.query.len() > self.max_query_bytes {
            return Err(limit_exceeded(format!(
                "the query is {} bytes; the limit is {}",
                request.query.len(),
                self.max_query_bytes
            )));
        }
        super::nesting::check_variables(&request.variables)?;
        let document = match documents.parse(&request.query) {
            Ok(document) => document,
            Err(Unparsed::TooDeep(refusal)) => return Err(refusal),
            Err(Unparsed::Invalid(_)) => return Ok(request.operation_name.clone()),
        };
        self.check(measure(&document, &request.variables))?;
        super::text_input::check(&document, &request.variables)?;
        let name = request
            .operation_name
            .clone()
            .or_else(|| match &document.operations {
                DocumentOperations::Multiple(operations) if operations.len() == 1 => {
                    operations.keys().next().map(ToString::to_string)
                }
                _ => None,
            });
        request.set_parsed_query(document);
        Ok(name)
    }

    fn check(&self, cost: QueryCost) -> Result<(), ServerError> {
        let checks = [
            ("depth", cost.depth, self.max_depth),
            ("complexity", cost.complexity, self.max_complexity),
            ("aliases", cost.aliases, self.max_aliases),
            ("root fields", cost.root_fields, self.max_root_fields),
        ];
        match checks
            .into_iter()
            .find(|(_, measured, limit)| measured > limit)
        {
            Some((what, measured, limit)) => Err(limit_exceeded(format!(
                "the query's {what} is {measured}; the limit is {limit}"
            ))),
            None => Ok(()),
        }
    }
}

/// The cost of the costliest operation in the document.
pub fn measure(document: &ExecutableDocument, variables: &Variables) -> QueryCost {
    let mut walk = Walk {
        document,
        variables,
        fragments: HashMap::new(),
        nesting: 0,
    };
    let aliases = count_aliases(document);
    document
        .operations
        .iter()
        .map(|(_, operation)| {
            let Cost { depth, complexity } =
                walk.selections(&operation.node.selection_set.node, false);
            QueryCost {
                depth,
                complexity,
                aliases,
                root_fields: walk.root_fields(&operation.node),
            }
        })
        .fold(QueryCost::default(), |worst, cost| QueryCost {
            depth: worst.depth.max(cost.depth),
            complexity: worst.complexity.max(cost.complexity),
            aliases,
            root_fields: worst.root_fields.max(cost.root_fields),
        })
}

#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    depth: usize,
    complexity: usize,
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Each fragment's cost, computed once: a fragment spread a thousand
    /// times is walked once, and a cycle (which validation rejects later)
    /// ends at its second visit.
    fragments: HashMap<(&'a str, bool), Option<Cost>>,
    /// Selection sets being walked, fragment hops included.
    nesting: usize,
}

/// How deep the walk goes before it gives up on a document.
const MAX_NESTING: usize = 128;

impl<'a> Walk<'a> {
    fn selections(&mut self, set: &'a SelectionSet, introspection: bool) -> Cost {
        if self.nesting == MAX_NESTING {
            // Deeper than any limit allows (fragments spread in fragments):
            // stop walking, and the depth refuses it.
            return Cost {
                depth: usize::MAX / 2,
                complexity: 0,
            };
        }
        self.nesting += 1;
        let mut total = Cost::default();
        for selection in &set.items {
            let cost = match &selection.node {
                Selection::Field(field) => self.field(&field.node, introspection),
                Selection::InlineFragment(fragment) => {
                    self.selections(&fragment.node.selection_set.node, introspection)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node, introspection)
                }
            };
            total.depth = total.depth.max(cost.depth);
            total.complexity = total.complexity.saturating_add(cost.complexity);
        }
        self.nesting -= 1;
        total
    }

    fn fragment(&mut self, name: &'a str, introspection: bool) -> Cost {
        let key = (name, introspection);
        if let Some(known) = self.fragments.get(&key) {
            return known.unwrap_or_default();
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Cost::default();
        };
        self.fragments.insert(key, None);
        let cost = self.selections(&fragment.node.selection_set.node, introspection);
        self.fragments.insert(key, Some(cost));
        cost
    }

    fn field(&mut self, field: &'a Field, introspection: bool) -> Cost {
        let name = field.name.node.as_str();
        let introspection = introspection || name.starts_with("__");
        let children = self.selections(&field.selection_set.node, introspection);
        let level = usize::from(!(introspection && name == "ofType"));
        let items = if introspection {
            1
        } else {
            self.page_size(field)
        };
        Cost {
            depth: level + children.depth,
            complexity: items.saturating_mul(children.complexity).saturating_add(1),
        }
    }

    /// How many items a field returns at most: a connection its page size,
    /// anything else one.
    fn page_size(&self, field: &Field) -> usize {
        let requested = field
            .arguments
            .iter()
            .filter(|(name, _)| matches!(name.node.as_str(), "first" | "last"))
            .map(|(_, value)| {
                let value = value
                    .node
                    .clone()
                    .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()));
                match value {
                    Ok(Value::Number(n)) => n.as_i64(),
                    _ => None,
                }
            })
            .map(|size| {
                size.map_or(MAX_PAGE_SIZE as usize, |n| {
                    n.clamp(0, MAX_PAGE_SIZE.into()) as usize
                })
            })
            .max();
        let is_connection = || {
            field.selection_set.node.items.iter().any(|s| {
                let Selection::Field(f) = &s.node else {
                    return false;
                };
                matches!(f.node.name.node.as_str(), "edges" | "nodes")
            })
        };
        match requested {
            Some(size) => size,
            None if is_connection() => DEFAULT_PAGE_SIZE as usize,
            None => 1,
        }
    }

    fn root_fields(&mut self, operation: &'a OperationDefinition) -> usize {
        fn count<'a>(walk: &Walk<'a>, set: &'a SelectionSet, seen: &mut Vec<&'a str>) -> usize {
            set.items
                .iter()
                .map(|selection| match &selection.node {
                    Selection::Field(_) => 1,
                    Selection::InlineFragment(f) => count(walk, &f.node.selection_set.node, seen),
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        match walk.document.fragments.get(name) {
                            Some(f) if !seen.contains(&name) && seen.len() < MAX_NESTING => {
                                seen.push(name);
                                count(walk, &f.node.selection_set.node, seen)
                            }
                            _ => 0,
                        }
                    }
                })
                .sum()
        }
        count(self, &operation.selection_set.node, &mut Vec::new())
    }
}

/// Aliases written anywhere in the document.
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn count(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + count(&field.node.selection_set.node)
                }
                Selection::InlineFragment(f) => count(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations = document
        .operations
        .iter()
        .map(|(_, o)| count(&o.node.selection_set.node));
    let fragments = document
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node));
    operations.chain(fragments).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str) -> QueryCost {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        measure(&document, &Variables::default())
    }

    #[test]
    fn a_connection_costs_its_page_size_times_its_nodes() {
        let page = cost(
            "{ organization(id: \"x\") { members(first: 50) { totalCount edges { node { role user { email } } } } } }",
        );
        // members: 1 + 50 × (totalCount 1 + edges (1 + node (1 + role 1 + user (1 + email 1))))
        assert_eq!(page.complexity, 1 + 1 + 50 * (1 + 1 + 1 + 1 + 2));
        assert_eq!(page.depth, 6);
        let default_page =
            cost("{ organization(id: \"x\") { members { edges { node { role } } } } }");
        assert_eq!(default_page.complexity, 2 + 20 * 3);
    }

    #[test]
    fn a_fragment_spread_many_times_is_walked_once_and_cycles_end() {
        let spreads = "...F ".repeat(500);
        let bomb = format!(
            "{{ viewer {{ ...A }} }} fragment A on Viewer {{ {spreads} }} fragment F on Viewer {{ id ...A }}"
        );
        let measured = cost(&bomb);
        assert!(measured.complexity > 500, "{measured:?}");
    }

    #[test]
    fn a_long_chain_of_fragments_is_refused_not_followed() {
        let chain: String = (0..2000)
            .map(|n| format!("fragment F{n} on Query {{ ...F{} }} ", n + 1))
            .collect();
        let query = format!("{{ ...F0 }} {chain} fragment F2000 on Query {{ __typename }}");
        let measured = cost(&query);
        assert!(measured.depth > 1000, "{measured:?}");
    }

    #[test]
    fn introspection_type_chains_do_not_count_as_depth() {
        let query = "{ __schema { types { fields { type { kind ofType { kind ofType { kind ofType { kind ofType { name } } } } } } } } }";
        assert_eq!(cost(query).depth, 5);
    }

    #[test]
    fn aliases_and_root_fields_are_counted() {
        let measured = cost(
            "{ a: viewer { id } b: viewer { id } ...R } fragment R on Query { viewer { x: id } }",
        );
        assert_eq!(measured.aliases, 3);
        assert_eq!(measured.root_fields, 3);
    }
}
