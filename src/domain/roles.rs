//! Roles, permissions, seat tiers, and the one table that says which role
//! has which permission.

use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use super::text_enum::text_enum;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow, Serialize, Deserialize,
)]
#[diesel(sql_type = Text)]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Member,
}
text_enum!(Role { Owner = "OWNER", Admin = "ADMIN", Manager = "MANAGER", Member = "MEMBER" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ManageOrganization,
    ManageBilling,
    ViewBilling,
    ManageMembers,
    UpdateMembers,
    ViewMembers,
    ManageResources,
    TransferOwnership,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow, Serialize, Deserialize,
)]
#[diesel(sql_type = Text)]
pub enum SeatTier {
    None,
    Standard,
    Pro,
}
text_enum!(SeatTier { None = "NONE", Standard = "STANDARD", Pro = "PRO" });

/// The permission table: what each permission is for, and the roles that
/// hold it. Guards, `permissions` fields and the README all read this.
pub const PERMISSION_TABLE: &[(Permission, &str, &[Role])] = {
    use Role::*;
    &[
        (
            Permission::ManageOrganization,
            "rename, settings",
            &[Owner, Admin],
        ),
        (
            Permission::ManageBilling,
            "top up the credit pool, seat limits",
            &[Owner, Admin],
        ),
        (
            Permission::ViewBilling,
            "pool balance, seat inventory, others' credits and seats",
            &[Owner, Admin, Manager],
        ),
        (
            Permission::ManageMembers,
            "invite, bulk invite, revoke/resend invitations, edit roles, remove",
            &[Owner, Admin],
        ),
        (
            Permission::UpdateMembers,
            "per-member overrides: distribute/reclaim credits, assign seats",
            &[Owner, Admin, Manager],
        ),
        (
            Permission::ViewMembers,
            "member directory",
            &[Owner, Admin, Manager, Member],
        ),
        (
            Permission::ManageResources,
            "devices, jobs, projects",
            &[Owner, Admin, Manager],
        ),
        (
            Permission::TransferOwnership,
            "hand the organization to another member",
            &[Owner],
        ),
    ]
};

impl Role {
    pub fn can(self, permission: Permission) -> bool {
        PERMISSION_TABLE
            .iter()
            .any(|(p, _, roles)| *p == permission && roles.contains(&self))
    }

    /// The role's permissions, in the table's order.
    pub fn permissions(self) -> Vec<Permission> {
        PERMISSION_TABLE
            .iter()
            .filter(|(_, _, roles)| roles.contains(&self))
            .map(|(p, _, _)| *p)
            .collect()
    }
}

impl Permission {
    /// The name clients see (the contract's enum value).
    pub fn name(self) -> &'static str {
        match self {
            Permission::ManageOrganization => "MANAGE_ORGANIZATION",
            Permission::ManageBilling => "MANAGE_BILLING",
            Permission::ViewBilling => "VIEW_BILLING",
            Permission::ManageMembers => "MANAGE_MEMBERS",
            Permission::UpdateMembers => "UPDATE_MEMBERS",
            Permission::ViewMembers => "VIEW_MEMBERS",
            Permission::ManageResources => "MANAGE_RESOURCES",
            Permission::TransferOwnership => "TRANSFER_OWNERSHIP",
        }
    }
}

/// The permission table as the README prints it (a test keeps them equal).
pub fn permission_table_markdown() -> String {
    let mut out = String::from("| Permission | Allows | OWNER | ADMIN | MANAGER | MEMBER |\n");
    out.push_str("|---|---|:-:|:-:|:-:|:-:|\n");
    for (permission, allows, _) in PERMISSION_TABLE {
        out.push_str(&format!("| `{}` | {allows} |", permission.name()));
        for role in Role::ALL {
            out.push_str(if role.can(*permission) {
                " ✓ |"
            } else {
                " |"
            });
        }
        out.push('\n');
    }
    out
}
