//! Users of the product's identity provider: found by (issuer, subject) and
//! created on first sight from their claims. An address is trusted only
//! when the provider says it is verified: only then may it link to an
//! existing account that has proven the same address (and accept
//! invitations to it); an unverified address never takes over an account or
//! an invitation, and neither does an account whose address is unproven
//! (anyone may sign up a password account with any address).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use sha2::{Digest, Sha256};

use super::users::{holders, normalize_email, normalize_name};
use super::{DomainError, now};
use crate::db::schema::{identities, memberships, users};
use crate::db::{Conn, Db, with_conn};

/// What a verified provider token says about its holder.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// The account as the identity last left it.
#[derive(Debug, Clone, Queryable)]
struct Known {
    user_id: i64,
    email: String,
    email_verified: bool,
    name: String,
    /// A password account the identity was linked to.
    has_password: bool,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    email: &'a str,
    email_verified: bool,
    name: &'a str,
    /// No password: such a user signs in only at the provider.
    password_hash: &'a str,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = identities)]
struct NewIdentity<'a> {
    user_id: i64,
    issuer: &'a str,
    subject: &'a str,
    created_at: NaiveDateTime,
}

impl ProviderUser {
    /// The address the claims give, if it is one.
    fn address(&self) -> Option<String> {
        normalize_email(self.email.as_deref()?).ok()
    }

    /// The address orgql may trust.
    fn verified_address(&self) -> Option<String> {
        self.address().filter(|_| self.email_verified)
    }

    fn display_name(&self) -> String {
        self.name
            .as_deref()
            .and_then(|name| normalize_name(name, "name").ok())
            .unwrap_or_else(|| "Unnamed user".to_owned())
    }

    /// An address for a user whose provider gives none (or an invalid one):
    /// in the `.invalid` domain, reserved for exactly this, so it can reach
    /// no one and match no invitation.
    fn placeholder_address(&self) -> String {
        let digest = Sha256::digest(format!("{}\n{}", self.issuer, self.subject));
        let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("user-{tag}@identity.invalid")
    }
}

/// The user a provider identity stands for: the one it signed in as before
/// (following a new verified address or name the provider now reports), or,
/// on first sight, the account with its verified address, or a new user.
pub async fn sign_in(db: &Db, who: &ProviderUser) -> Result<i64, DomainError> {
    if let Some(known) = find(db, who).await? {
        if needs_update(&known, who) {
            let (user_id, who) = (known.user_id, who.clone());
            db.write(move |tx| async move { update(tx, &known, &who).await }.boxed())
                .await?;
            return Ok(user_id);
        }
        return Ok(known.user_id);
    }
    let owned = who.clone();
    let first_sight = db
        .write(move |tx| async move { first_sight(tx, &owned).await }.boxed())
        .await;
    match first_sight {
        Ok(user_id) => Ok(user_id),
        // Two first requests at once: the other one created it.
        Err(DomainError::Conflict(_)) => find(db, who)
            .await?
            .map(|known| known.user_id)
            .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("an identity vanished"))),
        Err(error) => Err(error),
    }
}

async fn find(db: &Db, who: &ProviderUser) -> Result<Option<Known>, DomainError> {
    let (issuer, subject) = (who.issuer.clone(), who.subject.clone());
    db.read(move |c| {
        async move {
            let query = identities::table
                .inner_join(users::table)
                .filter(identities::issuer.eq(issuer))
                .filter(identities::subject.eq(subject))
                .select((
                    users::id,
                    users::email,
                    users::email_verified,
                    users::name,
                    users::password_hash.ne(""),
                ));
            Ok(with_conn!(c, |c| query.first::<Known>(c).await.optional())?)
        }
        .boxed()
    })
    .await
}

fn needs_update(known: &Known, who: &ProviderUser) -> bool {
    let new_address = who
        .verified_address()
        .is_some_and(|address| address != known.email || !known.email_verified);
    let new_name = who.name.is_some() && who.display_name() != known.name;
    new_address || new_name
}

/// Follows the provider: a newly verified address (unless another account
/// has proven it, or it is another password account's login and this is a
/// password account too) and a new name, on the user and on their
/// memberships (whose copies order the member lists).
async fn update(tx: &mut Conn<'_>, known: &Known, who: &ProviderUser) -> Result<(), DomainError> {
    let new_address = who
        .verified_address()
        .filter(|address| *address != known.email || !known.email_verified);
    if let Some(address) = new_address {
        let taken = holders(tx, &address).await?.iter().any(|holder| {
            holder.user_id != known.user_id
                && (holder.proven || (holder.has_password && known.has_password))
        });
        if taken {
            tracing::warn!(
                user_id = known.user_id,
                "the provider reports a verified address another account holds; keeping the old one"
            );
        } else {
            let user = diesel::update(users::table.find(known.user_id))
                .set((users::email.eq(&address), users::email_verified.eq(true)));
            with_conn!(tx, |c| user.execute(c).await)?;
            let copies = diesel::update(memberships::table)
                .filter(memberships::user_id.eq(known.user_id))
                .set(memberships::user_email.eq(&address));
            with_conn!(tx, |c| copies.execute(c).await)?;
        }
    }
    let name = who.display_name();
    if who.name.is_some() && name != known.name {
        let user = diesel::update(users::table.find(known.user_id)).set(users::name.eq(&name));
        with_conn!(tx, |c| user.execute(c).await)?;
        let copies = diesel::update(memberships::table)
            .filter(memberships::user_id.eq(known.user_id))
            .set(memberships::user_name.eq(&name));
        with_conn!(tx, |c| copies.execute(c).await)?;
    }
    Ok(())
}

/// Links the identity to the account that has proven its verified address,
/// or creates a user for it. A password account that has not proven the
/// address is not linked: whoever signed it up may not be the person the
/// provider vouches for, who gets an account of their own.
async fn first_sight(tx: &mut Conn<'_>, who: &ProviderUser) -> Result<i64, DomainError> {
    let verified = who.verified_address();
    let linked = match &verified {
        Some(address) => verified_owner(tx, address).await?,
        None => None,
    };
    let user_id = match linked {
        Some(user_id) => user_id,
        None => {
            let (email, email_verified) = match (verified, who.address()) {
                (Some(address), _) => (address, true),
                (None, Some(unverified)) => (unverified, false),
                (None, None) => (who.placeholder_address(), false),
            };
            let name = who.display_name();
            let new = NewUser {
                email: &email,
                email_verified,
                name: &name,
                password_hash: "",
                created_at: now(),
            };
            let insert = diesel::insert_into(users::table)
                .values(&new)
                .returning(users::id);
            with_conn!(tx, |c| insert.get_result(c).await)?
        }
    };
    let identity = NewIdentity {
        user_id,
        issuer: &who.issuer,
        subject: &who.subject,
        created_at: now(),
    };
    let insert = diesel::insert_into(identities::table).values(&identity);
    with_conn!(tx, |c| insert.execute(c).await)?;
    Ok(user_id)
}

/// The account that has proven `address`.
async fn verified_owner(tx: &mut Conn<'_>, address: &str) -> Result<Option<i64>, DomainError> {
    let held = holders(tx, address).await?;
    Ok(held.iter().find(|h| h.proven).map(|h| h.user_id))
}

/// The user ids of the provider's subjects, where they have signed in.
pub async fn users_of_subjects(
    conn: &mut Conn<'_>,
    issuer: &str,
    subjects: &[String],
) -> Result<Vec<(String, i64)>, DomainError> {
    let query = identities::table
        .filter(identities::issuer.eq(issuer))
        .filter(identities::subject.eq_any(subjects))
        .select((identities::subject, identities::user_id));
    Ok(with_conn!(conn, |c| query.load(c).await)?)
}
