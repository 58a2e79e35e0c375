//! Addresses stored before they had one form ([`text::fold`]): at start,
//! each account's address and each pending invitation's that is not in
//! that form is rewritten in it, unless another row holds that form
//! already. Such rows are two accounts, or two invitations, for what reads
//! as one address: which one is the person's is not ours to guess, so they
//! are logged, one warning per group, and left as they are.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::invitations::InvitationState;
use super::{DomainError, text};
use crate::db::schema::{invitations, memberships, users};
use crate::db::{Conn, Db, with_conn};

// Only an address with a character past ASCII can be out of normal form
// (ASCII ones have always been stored lower-cased; users' CHECK says so):
// those are the ones whose length in characters is not their length in
// bytes, which both backends can tell.
diesel::define_sql_function!(fn length(text: diesel::sql_types::Text) -> diesel::sql_types::Integer);
diesel::define_sql_function!(fn octet_length(text: diesel::sql_types::Text) -> diesel::sql_types::Integer);

/// A stored address, and the organization it must be unique in (None: the
/// users table, where it must be unique everywhere).
struct Stored {
    id: i64,
    organization_id: Option<i64>,
    email: String,
}

/// What to do with the rows not in normal form.
#[derive(Default)]
struct Plan {
    /// (id, the address in normal form): no other row has that form.
    rewrite: Vec<(i64, String)>,
    /// Rows whose addresses share a normal form, one group per form.
    collisions: Vec<(String, Vec<Stored>)>,
}

impl Plan {
    /// Groups the candidates not in normal form by the form they would take
    /// (in their organization), with the holders of that form (the rows
    /// looked up by [`Plan::forms`]): a group of one is rewritten, a larger
    /// one is a collision.
    fn of(candidates: Vec<Stored>, holders: Vec<Stored>) -> Plan {
        let mut groups: BTreeMap<(Option<i64>, String), Vec<Stored>> = BTreeMap::new();
        for row in candidates {
            let normal = text::fold(&row.email);
            if normal != row.email {
                groups
                    .entry((row.organization_id, normal))
                    .or_default()
                    .push(row);
            }
        }
        for row in holders {
            if let Some(group) = groups.get_mut(&(row.organization_id, row.email.clone())) {
                group.push(row);
            }
        }
        let mut plan = Plan::default();
        for ((_, normal), mut rows) in groups {
            match rows.len() {
                1 => plan.rewrite.push((rows[0].id, normal)),
                _ => {
                    rows.sort_by_key(|row| row.id);
                    plan.collisions.push((normal, rows));
                }
            }
        }
        plan
    }

    /// The normal forms of the candidates not in normal form.
    fn forms(candidates: &[Stored]) -> Vec<String> {
        let mut forms: Vec<String> = candidates
            .iter()
            .map(|row| text::fold(&row.email))
            .zip(candidates)
            .filter(|(normal, row)| *normal != row.email)
            .map(|(normal, _)| normal)
            .collect();
        forms.sort();
        forms.dedup();
        forms
    }

    fn warn(&self, table: &'static str) {
        for (normal, rows) in &self.collisions {
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            let stored: Vec<&str> = rows.iter().map(|row| row.email.as_str()).collect();
            tracing::warn!(
                table,
                organization_id = rows[0].organization_id,
                address = %normal,
                ?ids,
                ?stored,
                "stored addresses that are one address in normal form: left as they are, nothing merged"
            );
        }
    }
}

/// Rewrites the stored addresses that are not in normal form and collide
/// with nothing; logs those that collide. Run at start, after migrations.
pub async fn put_in_normal_form(db: &Db) -> Result<(), DomainError> {
    let (users, invitations) = db
        .write(|tx| {
            async move { Ok::<_, DomainError>((accounts(tx).await?, pending(tx).await?)) }.boxed()
        })
        .await?;
    if users + invitations > 0 {
        tracing::info!(
            users,
            invitations,
            "stored addresses rewritten in normal form (NFC, lower-case)"
        );
    }
    Ok(())
}

/// Accounts: one per address, and their memberships' copies of it.
async fn accounts(tx: &mut Conn<'_>) -> Result<usize, DomainError> {
    let query = users::table
        .filter(length(users::email).ne(octet_length(users::email)))
        .select((users::id, users::email));
    let candidates: Vec<(i64, String)> = with_conn!(tx, |c| query.load(c).await)?;
    let stored = |(id, email): (i64, String)| Stored {
        id,
        organization_id: None,
        email,
    };
    let candidates: Vec<Stored> = candidates.into_iter().map(stored).collect();
    let holders = users::table
        .filter(users::email.eq_any(Plan::forms(&candidates)))
        .select((users::id, users::email));
    let holders: Vec<(i64, String)> = with_conn!(tx, |c| holders.load(c).await)?;
    let plan = Plan::of(candidates, holders.into_iter().map(stored).collect());
    plan.warn("users");
    for (id, normal) in &plan.rewrite {
        let user = diesel::update(users::table.find(id)).set(users::email.eq(normal));
        with_conn!(tx, |c| user.execute(c).await)?;
        let copies = diesel::update(memberships::table)
            .filter(memberships::user_id.eq(id))
            .set(memberships::user_email.eq(normal));
        with_conn!(tx, |c| copies.execute(c).await)?;
    }
    Ok(plan.rewrite.len())
}

/// Pending invitations: one per address in an organization. Accepted and
/// revoked ones are history, kept as they were.
async fn pending(tx: &mut Conn<'_>) -> Result<usize, DomainError> {
    let columns = (
        invitations::id,
        invitations::organization_id,
        invitations::email,
    );
    let query = invitations::table
        .filter(invitations::status.eq(InvitationState::Pending))
        .filter(length(invitations::email).ne(octet_length(invitations::email)))
        .select(columns);
    let candidates: Vec<(i64, i64, String)> = with_conn!(tx, |c| query.load(c).await)?;
    let stored = |(id, organization_id, email): (i64, i64, String)| Stored {
        id,
        organization_id: Some(organization_id),
        email,
    };
    let candidates: Vec<Stored> = candidates.into_iter().map(stored).collect();
    let holders = invitations::table
        .filter(invitations::status.eq(InvitationState::Pending))
        .filter(invitations::email.eq_any(Plan::forms(&candidates)))
        .select(columns);
    let holders: Vec<(i64, i64, String)> = with_conn!(tx, |c| holders.load(c).await)?;
    let plan = Plan::of(candidates, holders.into_iter().map(stored).collect());
    plan.warn("invitations");
    for (id, normal) in &plan.rewrite {
        let update = diesel::update(invitations::table.find(id)).set(invitations::email.eq(normal));
        with_conn!(tx, |c| update.execute(c).await)?;
    }
    Ok(plan.rewrite.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, organization_id: Option<i64>, email: &str) -> Stored {
        Stored {
            id,
            organization_id,
            email: email.to_owned(),
        }
    }

    #[test]
    fn a_lone_address_is_rewritten_and_a_collision_left_alone() {
        let candidates = vec![
            row(1, None, "zoe\u{0308}@example.com"),
            row(2, None, "re\u{0301}my@example.com"),
            row(3, None, "r\u{00E9}my@example.com"),
            row(4, None, "jos\u{00E9}@example.com"),
        ];
        let forms = Plan::forms(&candidates);
        assert_eq!(forms, ["r\u{00E9}my@example.com", "zo\u{00EB}@example.com"]);
        // Looked up by those forms: Rémy's row in normal form, and no Zoë.
        let holders = vec![row(3, None, "r\u{00E9}my@example.com")];
        let plan = Plan::of(candidates, holders);
        assert_eq!(plan.rewrite, [(1, "zo\u{00EB}@example.com".to_owned())]);
        assert_eq!(plan.collisions.len(), 1);
        let (normal, rows) = &plan.collisions[0];
        assert_eq!(normal, "r\u{00E9}my@example.com");
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn invitations_collide_within_their_organization_only() {
        let candidates = vec![
            row(1, Some(10), "ine\u{0300}s@example.com"),
            row(2, Some(11), "ine\u{0300}s@example.com"),
        ];
        let holders = vec![row(3, Some(10), "in\u{00E8}s@example.com")];
        let plan = Plan::of(candidates, holders);
        assert_eq!(plan.rewrite, [(2, "in\u{00E8}s@example.com".to_owned())]);
        assert_eq!(
            plan.collisions[0]
                .1
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>(),
            [1, 3]
        );
    }
}
