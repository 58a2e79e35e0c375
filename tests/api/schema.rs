//! schema.graphql is what the server prints, and it keeps the contract
//! (tests/contract.graphql, a copy of the one clients are written against).

use std::collections::{BTreeMap, BTreeSet};

use async_graphql_parser::parse_schema;
use async_graphql_parser::types::{InputValueDefinition, TypeKind, TypeSystemDefinition};

#[test]
fn schema_file_is_what_the_server_prints() {
    let printed = orgql::graphql::print_schema();
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        file == printed,
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql`"
    );
}

#[test]
fn schema_keeps_the_contract() {
    let contract = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/contract.graphql"
    ))
    .unwrap();
    let contract = shapes(&contract);
    let schema = shapes(&orgql::graphql::print_schema());

    let mut broken = BTreeSet::new();
    for (path, expected) in &contract {
        match schema.get(path) {
            // Under a missing type or field, only the outermost is reported.
            None if owner(path).is_some_and(|owner| !schema.contains_key(owner)) => {}
            None => {
                broken.insert(format!("{path}: missing"));
            }
            Some(found) if found != expected => {
                broken.insert(format!(
                    "{path}: contract has {expected}, schema has {found}"
                ));
            }
            Some(_) => {}
        }
    }
    // What the server adds must not break a contract operation: a new
    // argument or input field must be optional.
    for (path, found) in &schema {
        let added_to_contract_item = owner(path).is_some_and(|owner| {
            contract.get(owner).is_some_and(|shape| shape == "input")
                || (path.contains('(') && contract.contains_key(owner))
        });
        if !contract.contains_key(path)
            && added_to_contract_item
            && found.ends_with('!')
            && !found.contains('=')
        {
            broken.insert(format!(
                "{path}: a required {found} that the contract does not send"
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "the schema breaks the contract:\n{broken:#?}"
    );
}

/// What a path belongs to: "T.f(a)" -> "T.f", "T.f" -> "T".
fn owner(path: &str) -> Option<&str> {
    match path.split_once('(') {
        Some((field, _)) => Some(field),
        None => path.split_once('.').map(|(ty, _)| ty),
    }
}

/// Every type, field, argument, input field and enum value of an SDL
/// document, by path, with what a client relies on.
fn shapes(sdl: &str) -> BTreeMap<String, String> {
    let document = parse_schema(sdl).expect("SDL parses");
    let mut shapes = BTreeMap::new();
    let input =
        |shapes: &mut BTreeMap<String, String>, path: String, value: &InputValueDefinition| {
            let default = value
                .default_value
                .as_ref()
                .map(|d| format!(" = {}", d.node))
                .unwrap_or_default();
            shapes.insert(path, format!("{}{default}", value.ty.node));
        };
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        match ty.kind {
            TypeKind::Scalar => {
                shapes.insert(name, "scalar".into());
            }
            TypeKind::Object(object) => {
                shapes.insert(name.clone(), "type".into());
                for interface in object.implements {
                    shapes.insert(
                        format!("{name}.<implements {}>", interface.node),
                        "implements".into(),
                    );
                }
                for field in object.fields {
                    let field = field.node;
                    let path = format!("{name}.{}", field.name.node);
                    shapes.insert(path.clone(), field.ty.node.to_string());
                    for argument in field.arguments {
                        input(
                            &mut shapes,
                            format!("{path}({})", argument.node.name.node),
                            &argument.node,
                        );
                    }
                }
            }
            TypeKind::Interface(interface) => {
                shapes.insert(name.clone(), "interface".into());
                for field in interface.fields {
                    shapes.insert(
                        format!("{name}.{}", field.node.name.node),
                        field.node.ty.node.to_string(),
                    );
                }
            }
            TypeKind::Enum(enumeration) => {
                shapes.insert(name.clone(), "enum".into());
                for value in enumeration.values {
                    shapes.insert(format!("{name}.{}", value.node.value.node), "value".into());
                }
            }
            TypeKind::InputObject(object) => {
                shapes.insert(name.clone(), "input".into());
                for field in object.fields {
                    input(
                        &mut shapes,
                        format!("{name}.{}", field.node.name.node),
                        &field.node,
                    );
                }
            }
            TypeKind::Union(_) => {
                shapes.insert(name, "union".into());
            }
        }
    }
    shapes
}
