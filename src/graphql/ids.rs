//! Opaque global IDs: base64url of "Type:id", so clients treat them as
//! strings and `node(id)` knows what each names.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::DomainError;

/// The kinds of object a global ID can name, each named as in the schema.
macro_rules! kinds {
    ($($kind:ident),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($kind),+
        }

        impl Kind {
            fn name(self) -> &'static str {
                match self {
                    $(Kind::$kind => stringify!($kind)),+
                }
            }

            fn named(name: &str) -> Option<Kind> {
                match name {
                    $(stringify!($kind) => Some(Kind::$kind),)+
                    _ => None,
                }
            }
        }
    };
}

kinds!(
    User,
    Organization,
    Member,
    AuditEvent,
    Invitation,
    ServiceKey
);

pub fn encode(kind: Kind, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Any global ID: its kind and database id.
pub fn decode_any(id: &ID) -> Result<(Kind, i64), DomainError> {
    let invalid = || DomainError::bad_input(format!("{:?} is not a valid ID", id.as_str()));
    let bytes = URL_SAFE_NO_PAD.decode(id.as_str()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (name, number) = text.split_once(':').ok_or_else(invalid)?;
    let kind = Kind::named(name).ok_or_else(invalid)?;
    Ok((kind, number.parse().map_err(|_| invalid())?))
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
