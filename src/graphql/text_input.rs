//! Text a client sends, in variables or written into the query, carries no
//! control characters: NUL (which PostgreSQL refuses, and SQLite stores)
//! and the others have no place in a name, an address or a search. Tab,
//! line feed and carriage return are let through: a CSV file has lines.
//! Checked before anything runs, the same on both backends.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerError, Value, Variables};

use super::error::request_error;

fn is_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

/// Where the first control character is, if there is one.
pub fn check(document: &ExecutableDocument, variables: &Variables) -> Result<(), ServerError> {
    for (name, value) in variables.iter() {
        in_value(value, &mut name.to_string())?;
    }
    let sets = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| &fragment.node.selection_set.node),
        );
    for set in sets {
        in_selections(set)?;
    }
    Ok(())
}

fn in_selections(set: &SelectionSet) -> Result<(), ServerError> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    let value = value.node.clone().into_const().unwrap_or_default();
                    in_value(
                        &value,
                        &mut format!("{}({})", field.node.name.node, name.node),
                    )?;
                }
                in_selections(&field.node.selection_set.node)?;
            }
            Selection::InlineFragment(fragment) => {
                in_selections(&fragment.node.selection_set.node)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

fn in_value(value: &Value, path: &mut String) -> Result<(), ServerError> {
    match value {
        Value::String(text) => match text.chars().find(|c| is_control(*c)) {
            Some(c) => Err(refusal(path, c)),
            None => Ok(()),
        },
        Value::List(items) => items.iter().try_for_each(|item| in_value(item, path)),
        Value::Object(fields) => {
            for (name, value) in fields {
                let length = path.len();
                path.push('.');
                path.push_str(name);
                in_value(value, path)?;
                path.truncate(length);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn refusal(path: &str, c: char) -> ServerError {
    let message = format!(
        "{path} contains the control character U+{:04X}: text may not",
        u32::from(c)
    );
    request_error(async_graphql::Error::new(message).extend_with(|_, e| {
        e.set("code", "BAD_USER_INPUT");
        e.set("field", path);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(query: &str, variables: serde_json::Value) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        check(&document, &Variables::from_json(variables)).map_err(|e| e.message)
    }

    #[test]
    fn control_characters_are_refused_wherever_they_are() {
        let ok = "mutation($i: SignUpInput!) { signUp(input: $i) { token } }";
        assert!(checked(ok, serde_json::json!({ "i": { "name": "Ada\tL" } })).is_ok());
        let refused = checked(ok, serde_json::json!({ "i": { "name": "Ada\u{0}" } })).unwrap_err();
        assert!(
            refused.starts_with("i.name contains the control character U+0000"),
            "{refused}"
        );
        let inline = checked(
            "{ organization(slug: \"a\\u0000b\") { id } }",
            serde_json::json!({}),
        );
        assert!(inline.unwrap_err().starts_with("organization(slug)"));
        assert!(
            checked(
                "{ organization(slug: \"a\\u001bb\") { id } }",
                serde_json::json!({})
            )
            .is_err()
        );
        let csv = "mutation { bulkInviteMembers(input: {organizationId: \"x\", csv: \"email,role\\r\\na@b.c,member\"}) { sent } }";
        assert!(
            checked(csv, serde_json::json!({})).is_ok(),
            "a file has lines"
        );
    }
}
