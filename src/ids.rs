//! Public IDs: base64url of "Type:id", the opaque strings clients and
//! webhook receivers know objects by. (A leaf: the API and the webhooks'
//! payloads both name objects this way.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The kinds of object a global ID can name, each named as in the schema.
macro_rules! kinds {
    ($($kind:ident),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($kind),+
        }

        impl Kind {
            pub fn name(self) -> &'static str {
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
    ServiceKey,
    WebhookEndpoint,
    WebhookDelivery,
    CreditLedgerEntry,
    CreditHold,
    CreditRequest,
);

pub fn encode(kind: Kind, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name()))
}

/// The kind and database id a public ID names, if it is one.
pub fn decode(id: &str) -> Option<(Kind, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (name, number) = text.split_once(':')?;
    Some((Kind::named(name)?, number.parse().ok()?))
}
