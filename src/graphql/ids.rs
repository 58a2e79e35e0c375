//! Opaque global IDs (see `crate::ids`) as the schema's `ID`, so clients
//! treat them as strings and `node(id)` knows what each names.

use async_graphql::ID;

use crate::domain::DomainError;
pub use crate::ids::Kind;

pub fn encode(kind: Kind, id: i64) -> ID {
    ID(crate::ids::encode(kind, id))
}

/// Any global ID: its kind and database id.
pub fn decode_any(id: &ID) -> Result<(Kind, i64), DomainError> {
    crate::ids::decode(id.as_str())
        .ok_or_else(|| DomainError::bad_input(format!("{:?} is not a valid ID", id.as_str())))
}

/// A global ID that must name a `kind`.
pub fn decode(id: &ID, kind: Kind) -> Result<i64, DomainError> {
    match decode_any(id)? {
        (found, number) if found == kind => Ok(number),
        _ => Err(DomainError::bad_input(format!(
            "{:?} is not the ID of a {}",
            id.as_str(),
            kind.name()
        ))),
    }
}
