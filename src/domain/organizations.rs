use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::members::{self, Membership};
use super::recorder::{self, Action, Change};
use super::users::normalize_name;
use super::{DomainError, Permission, Role, access};
use crate::db::schema::{memberships, organizations};
use crate::db::{Conn, Db, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub created_at: NaiveDateTime,
    pub credits_available: i32,
    pub credits_distributed: i32,
    pub credits_held: i32,
    pub credits_spent: i32,
    pub standard_seat_limit: i32,
    pub pro_seat_limit: i32,
    pub standard_seats_used: i32,
    pub pro_seats_used: i32,
    pub member_count: i32,
    pub admin_count: i32,
    pub manager_count: i32,
    pub basic_member_count: i32,
}

impl Organization {
    /// Members holding `role`, from the counters (no rows are counted).
    pub fn members_with_role(&self, role: Role) -> i32 {
        match role {
            Role::Owner => 1,
            Role::Admin => self.admin_count,
            Role::Manager => self.manager_count,
            Role::Member => self.basic_member_count,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = organizations)]
struct NewOrganization<'a> {
    name: &'a str,
    slug: &'a str,
    created_at: NaiveDateTime,
}

/// Creates an organization whose owner is `owner_id`.
pub async fn create(
    db: &Db,
    owner_id: i64,
    name: &str,
    slug: Option<&str>,
) -> Result<(Organization, Membership), DomainError> {
    let name = normalize_name(name, "organization name")?;
    let requested_slug = slug.map(validate_slug).transpose()?;
    db.write(move |tx| {
        async move {
            let slug = match requested_slug {
                Some(slug) => slug,
                None => free_slug(tx, &slug_from_name(&name)).await?,
            };
            let now = super::now();
            let new = NewOrganization {
                name: &name,
                slug: &slug,
                created_at: now,
            };
            let insert = diesel::insert_into(organizations::table)
                .values(&new)
                .returning(organizations::id);
            let id: i64 = with_conn!(tx, |c| insert.get_result(c).await)?;
            let owner = members::add(tx, id, owner_id, Role::Owner).await?;
            let change = Change::new(id, owner_id, Action::OrganizationCreated)
                .details(serde_json::json!({ "name": name, "slug": slug }));
            recorder::record(tx, change).await?;
            let organization = get(tx, id).await?;
            Ok((organization, owner))
        }
        .boxed()
    })
    .await
}

/// Renames an organization (its slug stays, so links keep working).
pub async fn rename(
    db: &Db,
    actor_id: i64,
    organization_id: i64,
    name: &str,
) -> Result<Organization, DomainError> {
    let name = normalize_name(name, "organization name")?;
    db.write(move |tx| {
        async move {
            access::authorize(
                tx,
                organization_id,
                actor_id,
                Permission::ManageOrganization,
            )
            .await?;
            let before = get(tx, organization_id).await?;
            let update = diesel::update(organizations::table.find(organization_id))
                .set(organizations::name.eq(&name));
            with_conn!(tx, |c| update.execute(c).await)?;
            let change = Change::new(organization_id, actor_id, Action::OrganizationUpdated)
                .details(serde_json::json!({ "from": before.name, "to": name }));
            recorder::record(tx, change).await?;
            Ok(Organization { name, ..before })
        }
        .boxed()
    })
    .await
}

pub async fn by_id(conn: &mut Conn<'_>, id: i64) -> Result<Option<Organization>, DomainError> {
    let query = organizations::table.find(id);
    Ok(with_conn!(conn, |c| query
        .select(Organization::as_select())
        .first(c)
        .await
        .optional())?)
}

/// The organization `id`, which the caller knows exists.
pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Organization, DomainError> {
    by_id(conn, id)
        .await?
        .ok_or(DomainError::NotFound("organization"))
}

pub async fn by_slug(conn: &mut Conn<'_>, slug: &str) -> Result<Option<Organization>, DomainError> {
    let query = organizations::table.filter(organizations::slug.eq(slug));
    Ok(with_conn!(conn, |c| query
        .select(Organization::as_select())
        .first(c)
        .await
        .optional())?)
}

/// How a client names an organization.
#[derive(Debug, Clone)]
pub enum OrganizationKey {
    Id(i64),
    Slug(String),
}

/// The organization and, in the same statement, `user_id`'s membership
/// there: a page's first two questions in one round trip.
pub async fn with_membership_of(
    conn: &mut Conn<'_>,
    key: &OrganizationKey,
    user_id: Option<i64>,
) -> Result<Option<(Organization, Option<Membership>)>, DomainError> {
    let joined = organizations::table.left_join(
        memberships::table.on(memberships::organization_id
            .eq(organizations::id)
            .and(memberships::user_id.nullable().eq(user_id))),
    );
    macro_rules! first {
        ($query:expr) => {
            with_conn!(conn, |c| $query
                .select((Organization::as_select(), Option::<Membership>::as_select()))
                .first(c)
                .await
                .optional())?
        };
    }
    Ok(match key {
        OrganizationKey::Id(id) => first!(joined.filter(organizations::id.eq(*id))),
        OrganizationKey::Slug(slug) => first!(joined.filter(organizations::slug.eq(slug))),
    })
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<Organization>, DomainError> {
    let query = organizations::table.filter(organizations::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(Organization::as_select())
        .load(c)
        .await)?)
}

const SLUG_RULE: &str =
    "a slug is 2 to 48 characters: lower-case letters, digits, and single hyphens between them";

fn validate_slug(slug: &str) -> Result<String, DomainError> {
    let slug = slug.trim();
    let well_formed = (2..=48).contains(&slug.len())
        && slug.split('-').all(|part| !part.is_empty())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if well_formed {
        Ok(slug.to_owned())
    } else {
        Err(DomainError::bad_input(SLUG_RULE))
    }
}

/// "Acme Corp." -> "acme-corp"; names with nothing usable get "org".
fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(40);
    let slug = slug.trim_end_matches('-');
    if slug.len() < 2 {
        format!("org-{slug}").trim_end_matches('-').to_owned()
    } else {
        slug.to_owned()
    }
}

/// The derived slug itself if free, else the first free "slug-N".
async fn free_slug(tx: &mut Conn<'_>, base: &str) -> Result<String, DomainError> {
    let pattern = format!("{base}-%");
    let query = organizations::table
        .filter(
            organizations::slug
                .eq(base)
                .or(organizations::slug.like(pattern)),
        )
        .select(organizations::slug);
    let taken: Vec<String> = with_conn!(tx, |c| query.load(c).await)?;
    if !taken.iter().any(|s| s == base) {
        return Ok(base.to_owned());
    }
    let free = (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|s| !taken.contains(s));
    Ok(free.expect("some suffix is free"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_from_name("Acme Corp."), "acme-corp");
        assert_eq!(slug_from_name("  Ünïcode -- Labs "), "n-code-labs");
        assert_eq!(slug_from_name("!!!"), "org");
        assert_eq!(slug_from_name("X"), "org-x");
        assert!(validate_slug(&slug_from_name(&"long name ".repeat(20))).is_ok());
    }

    #[test]
    fn slugs_are_validated() {
        assert!(validate_slug("acme-2").is_ok());
        assert!(validate_slug("Acme").is_err());
        assert!(validate_slug("a--b").is_err());
        assert!(validate_slug("-ab").is_err());
        assert!(validate_slug("a").is_err());
    }
}
