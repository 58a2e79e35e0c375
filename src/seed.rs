//! Development data: an organization with many members, made with batched
//! inserts so that 100,000 members take seconds (`orgql seed`).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde::Serialize;

use crate::db::schema::{memberships, users};
use crate::db::{Db, insert_all, with_conn};
use crate::domain::members::{NewMembership, adjust_counters};
use crate::domain::{DomainError, Role, hash_password, now, organizations, sessions, tokens};

/// Every seeded user's password.
pub const SEED_PASSWORD: &str = "seed-password";

/// Rows per INSERT: well under both backends' limits on bound parameters.
const BATCH: usize = 1000;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seeded {
    pub organization_id: String,
    pub slug: String,
    pub owner_email: String,
    pub owner_token: String,
}

/// Creates an organization with `members` members, the owner included.
/// Members are `member-N@<slug>.example` with roles cycling through admin,
/// manager and member (mostly member).
pub async fn seed_organization(
    db: &Db,
    members: usize,
    name: &str,
    slug: Option<&str>,
) -> Result<Seeded, DomainError> {
    let password_hash = hash_password(SEED_PASSWORD.to_owned()).await?;
    let tag = tokens::new_token()[..8].to_lowercase();
    let owner_email = format!("owner-{tag}@seed.example");
    let owner = SeedUser {
        email: owner_email.clone(),
        email_verified: true,
        name: "Seed Owner".to_owned(),
        password_hash: password_hash.clone(),
        created_at: now(),
    };
    let owner_id = db
        .write(move |tx| {
            async move {
                let insert = diesel::insert_into(users::table)
                    .values(owner)
                    .returning(users::id);
                Ok::<_, DomainError>(with_conn!(tx, |c| insert.get_result::<i64>(c).await)?)
            }
            .boxed()
        })
        .await?;
    let (organization, _) = organizations::create(db, owner_id, name, slug).await?;
    let emails: Vec<(String, String, Role)> = (1..members)
        .map(|n| {
            let role = match n % 20 {
                0 => Role::Admin,
                1 | 2 => Role::Manager,
                _ => Role::Member,
            };
            (
                format!("member-{n}@{}-{tag}.example", organization.slug),
                format!("Member {n}"),
                role,
            )
        })
        .collect();
    add_members(db, organization.id, &emails, &password_hash).await?;
    let token = db
        .write(move |tx| {
            async move {
                let owner = crate::domain::users::by_ids(tx, &[owner_id])
                    .await?
                    .remove(0);
                Ok::<_, DomainError>(sessions::start(tx, owner).await?.token)
            }
            .boxed()
        })
        .await?;
    Ok(Seeded {
        organization_id: crate::ids::encode(crate::ids::Kind::Organization, organization.id),
        slug: organization.slug,
        owner_email,
        owner_token: token,
    })
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct SeedUser {
    email: String,
    /// Made by the operator, at addresses the operator chose: proven.
    email_verified: bool,
    name: String,
    password_hash: String,
    created_at: chrono::NaiveDateTime,
}

/// Creates users (email, name, role) and makes them members, in batches,
/// one transaction per batch.
pub async fn add_members(
    db: &Db,
    organization_id: i64,
    people: &[(String, String, Role)],
    password_hash: &str,
) -> Result<(), DomainError> {
    for chunk in people.chunks(BATCH) {
        let created_at = now();
        let roles: Vec<Role> = chunk.iter().map(|(_, _, role)| *role).collect();
        let new_users: Vec<SeedUser> = chunk
            .iter()
            .map(|(email, name, _)| SeedUser {
                email: email.clone(),
                email_verified: true,
                name: name.clone(),
                password_hash: password_hash.to_owned(),
                created_at,
            })
            .collect();
        db.write(move |tx| {
            async move {
                let created: Vec<(i64, String, String)> = insert_all!(
                    tx,
                    users::table,
                    new_users,
                    returning(users::id, users::email, users::name)
                )?;
                // Roles pair with users in returned order: whatever that order,
                // the chunk gets the roles it asked for, which is all seeding needs.
                let new_memberships: Vec<NewMembership> = created
                    .into_iter()
                    .zip(&roles)
                    .map(|((user_id, user_email, user_name), &role)| NewMembership {
                        organization_id,
                        user_id,
                        role,
                        joined_at: created_at,
                        user_email,
                        user_name,
                    })
                    .collect();
                insert_all!(tx, memberships::table, new_memberships)?;
                let per_role: Vec<(Role, i32)> = roles.iter().map(|role| (*role, 1)).collect();
                adjust_counters(tx, organization_id, &per_role).await
            }
            .boxed()
        })
        .await?;
    }
    Ok(())
}
