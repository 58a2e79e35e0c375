//! How deeply a request may nest, checked before anything recursive reads
//! it. async-graphql's parser bounds selection sets (64) and pest stops
//! short of the end of the stack, but the parser's conversion of argument
//! values and list types into the syntax tree recurses without a bound, as
//! do validation, coercion and dropping the tree: a few kilobytes of
//! `[[[[…]]]]` overflowed a worker's stack and aborted the process. So the
//! brackets of a query's text are counted by a flat scan before it is
//! parsed, and variables (already bounded at 128 by serde_json) are
//! measured before they are read.

use async_graphql::{ErrorExtensions, Pos, ServerError, Value, Variables};

use super::error::request_error;

/// Deepest nesting of brackets (`{`, `[`, `(`) in a query's text, and of
/// lists and objects in its variables: far beyond any real query (GraphiQL's
/// introspection nests 13, `--max-query-depth` defaults to 10) and far below
/// what a worker's stack holds.
pub const MAX_NESTING: usize = 64;

/// Refuses a query whose brackets nest deeper than [`MAX_NESTING`], naming
/// the bracket that went past it. Brackets in strings, block strings and
/// comments do not count; a text that does not lex is left to the parser.
pub fn check_text(query: &str) -> Result<(), ServerError> {
    let mut depth = 0usize;
    let mut scan = Scan::new(query);
    while let Some((offset, byte)) = scan.next_token_byte() {
        match byte {
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    let what = match byte {
                        b'[' => "a list",
                        b'{' => "a selection set or an object",
                        _ => "arguments",
                    };
                    let message = format!(
                        "the query nests deeper than {MAX_NESTING} brackets: {what} opens too deep"
                    );
                    return Err(too_deep(message, Some(position(query, offset))));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Refuses variables whose lists and objects nest deeper than [`MAX_NESTING`],
/// naming the variable.
pub fn check_variables(variables: &Variables) -> Result<(), ServerError> {
    for (name, value) in variables.iter() {
        if depth(value) > MAX_NESTING {
            let message = format!("the variable ${name} nests deeper than {MAX_NESTING} levels");
            return Err(too_deep(message, None));
        }
    }
    Ok(())
}

/// How deeply lists and objects nest in `value`, walked without recursion.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0usize)];
    while let Some((value, level)) = pending.pop() {
        deepest = deepest.max(level);
        match value {
            Value::List(items) => pending.extend(items.iter().map(|v| (v, level + 1))),
            Value::Object(fields) => pending.extend(fields.values().map(|v| (v, level + 1))),
            _ => {}
        }
    }
    deepest
}

fn too_deep(message: String, at: Option<Pos>) -> ServerError {
    let mut error = request_error(async_graphql::Error::new(message).extend_with(|_, e| {
        e.set("code", "BAD_USER_INPUT");
        e.set("limit", MAX_NESTING as u64);
    }));
    error.locations.extend(at);
    error
}

/// The line and column (both from 1, in characters) of a byte offset.
fn position(text: &str, offset: usize) -> Pos {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos {
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

/// The bytes of a query's text outside strings, block strings and comments.
struct Scan<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        Scan {
            text: text.as_bytes(),
            at: 0,
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.text[self.at..]
    }

    fn next_token_byte(&mut self) -> Option<(usize, u8)> {
        loop {
            let offset = self.at;
            let byte = *self.text.get(offset)?;
            match byte {
                b'#' => self.skip_past(|rest| rest.iter().position(|b| matches!(b, b'\n' | b'\r'))),
                b'"' if self.rest().starts_with(b"\"\"\"") => {
                    self.at += 3;
                    self.skip_past(|rest| block_string_end(rest).map(|end| end + 2));
                }
                b'"' => {
                    self.at += 1;
                    self.skip_past(string_end);
                }
                _ => {
                    self.at += 1;
                    return Some((offset, byte));
                }
            }
        }
    }

    /// Moves past the byte `find` points at in the rest of the text, or to
    /// the end when it finds none (an unterminated string or comment).
    fn skip_past(&mut self, find: impl FnOnce(&[u8]) -> Option<usize>) {
        self.at = match find(self.rest()) {
            Some(end) => self.at + end + 1,
            None => self.text.len(),
        };
    }
}

/// Where the `"` that closes a string is (`\"` and `\\` are escapes).
fn string_end(rest: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Where the `"""` that closes a block string starts (`\"""` is an escape).
fn block_string_end(rest: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 3 <= rest.len() {
        if rest[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if rest[i..].starts_with(b"\"\"\"") {
            return Some(i);
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, inner: &str, close: &str, depth: usize) -> String {
        format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
    }

    #[test]
    fn brackets_up_to_the_limit_pass_and_one_more_is_refused() {
        let query = |depth| {
            format!(
                "{{ viewer(x: {}) {{ id }} }}",
                nested("[", "1", "]", depth - 2)
            )
        };
        assert!(check_text(&query(MAX_NESTING)).is_ok());
        let refused = check_text(&query(MAX_NESTING + 1)).unwrap_err();
        assert!(
            refused.message.contains("a list opens too deep"),
            "{refused:?}"
        );
        // `{ viewer(x: ` is 12 characters, then the 63rd `[` is the 65th bracket.
        assert_eq!(
            refused.locations,
            [Pos {
                line: 1,
                column: 12 + 63
            }]
        );
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let deep = "[".repeat(1000);
        for query in [
            format!("{{ a(s: \"{deep}\") }}"),
            format!("{{ a(s: \"\\\"{deep}\") }}"),
            format!("{{ a(s: \"\"\"{deep} \\\"\"\" {deep}\"\"\") }}"),
            format!("# {deep}\n{{ a }}"),
        ] {
            assert!(check_text(&query).is_ok(), "{query}");
        }
        assert!(check_text(&format!("{{ a }} {deep}")).is_err());
    }

    #[test]
    fn objects_selections_and_list_types_are_counted_alike() {
        let object = format!("{{ a(o: {}) }}", nested("{x: ", "1", "}", 100));
        let selections = nested("{ a ", "", "}", 100);
        let list_type = format!("query($v: {}) {{ a }}", nested("[", "Int", "]", 100));
        for query in [object, selections, list_type] {
            assert!(check_text(&query).is_err(), "{query}");
        }
    }

    #[test]
    fn deep_variables_are_refused_by_name() {
        let deep = |depth| {
            let json: serde_json::Value =
                serde_json::from_str(&nested("[", "1", "]", depth)).unwrap();
            Variables::from_json(serde_json::json!({ "ok": 1, "input": json }))
        };
        assert!(check_variables(&deep(MAX_NESTING)).is_ok());
        let refused = check_variables(&deep(MAX_NESTING + 1)).unwrap_err();
        assert!(refused.message.contains("$input"), "{refused:?}");
    }
}
