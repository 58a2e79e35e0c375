//! The invitation mutations: invite one address or a CSV file of them,
//! resend, revoke, accept.

use std::io::Read;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, Upload};

use crate::domain::bulk_invitations::{self, BulkOptions, MAX_BYTES};
use crate::domain::{DomainError, invitations};
use crate::graphql::context::{actor, secret_attempt};
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::{AssignableRole, Invitation, Member};

#[derive(InputObject)]
pub struct InviteMemberInput {
    pub organization_id: ID,
    pub email: String,
    pub role: AssignableRole,
}

#[derive(SimpleObject)]
pub struct InviteMemberPayload {
    pub invitation: Invitation,
}

#[derive(InputObject)]
pub struct InvitationIdInput {
    pub invitation_id: ID,
}

#[derive(SimpleObject)]
pub struct InvitationPayload {
    pub invitation: Invitation,
}

#[derive(InputObject)]
pub struct AcceptInvitationInput {
    pub token: String,
}

#[derive(SimpleObject)]
pub struct AcceptInvitationPayload {
    pub member: Member,
}

/// CSV with the header `email,role` (role case-insensitive: admin, manager, member),
/// at most 100 data rows. Every row is checked before anything is sent: if any row
/// is flagged, no invitation is created or sent (sent = false) unless dryRun is
/// false and skipInvalid is true, in which case the valid rows are invited.
/// Give exactly one of file and csv.
#[derive(InputObject)]
pub struct BulkInviteMembersInput {
    pub organization_id: ID,
    /// The CSV file, as a GraphQL multipart upload (at most 64 KiB).
    pub file: Option<Upload>,
    /// The CSV text (at most 64 KiB).
    pub csv: Option<String>,
    #[graphql(default_with = "Some(false)")]
    pub dry_run: Option<bool>,
    #[graphql(default_with = "Some(false)")]
    pub skip_invalid: Option<bool>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::bulk_invitations::RowStatus")]
pub enum BulkInviteRowStatus {
    /// Valid; invited unless the upload was stopped.
    Ready,
    Invited,
    /// A pending invitation existed: refreshed with the new role and sent again.
    Reinvited,
    InvalidEmail,
    UnknownRole,
    /// Owner.
    RoleNotAssignable,
    DuplicateRow,
    AlreadyMember,
}

#[derive(SimpleObject)]
pub struct BulkInviteRow {
    /// The line in the file; the header is line 1.
    pub line: i32,
    pub email: String,
    pub role: String,
    pub status: BulkInviteRowStatus,
    pub message: Option<String>,
}

#[derive(SimpleObject)]
pub struct BulkInviteMembersPayload {
    pub rows: Vec<BulkInviteRow>,
    pub flagged_count: i32,
    pub invited_count: i32,
    pub sent: bool,
    pub invitations: Vec<Invitation>,
}

#[derive(Default)]
pub struct InvitationMutation;

#[Object]
impl InvitationMutation {
    /// Invites an address with a role, or refreshes its pending invitation (new token, role and expiry); the email is sent after commit. Requires MANAGE_MEMBERS.
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> Result<InviteMemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let invitation = invitations::invite(
            state.db(),
            &state.services.invitations,
            actor_id,
            organization_id,
            &input.email,
            input.role.into(),
        )
        .await?;
        Ok(InviteMemberPayload {
            invitation: Invitation(invitation),
        })
    }

    /// Invites up to 100 people from a CSV file. Requires MANAGE_MEMBERS.
    async fn bulk_invite_members(
        &self,
        ctx: &Context<'_>,
        input: BulkInviteMembersInput,
    ) -> Result<BulkInviteMembersPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let csv = match (input.file, input.csv) {
            (Some(file), None) => read_upload(ctx, &file)?,
            (None, Some(text)) => text.into_bytes(),
            _ => return Err(DomainError::bad_input("give exactly one of file and csv").into()),
        };
        let options = BulkOptions {
            dry_run: input.dry_run.unwrap_or(false),
            skip_invalid: input.skip_invalid.unwrap_or(false),
        };
        let report = bulk_invitations::bulk_invite(
            state.db(),
            &state.services.invitations,
            actor_id,
            organization_id,
            csv,
            options,
        )
        .await?;
        Ok(BulkInviteMembersPayload {
            rows: report
                .rows
                .into_iter()
                .map(|row| BulkInviteRow {
                    line: i32::try_from(row.line).unwrap_or(i32::MAX),
                    email: row.email,
                    role: row.role,
                    status: row.status.into(),
                    message: row.message,
                })
                .collect(),
            flagged_count: report.flagged_count as i32,
            invited_count: report.invited_count as i32,
            sent: report.sent,
            invitations: report.invitations.into_iter().map(Invitation).collect(),
        })
    }

    /// Sends a pending or expired invitation again with a new token and expiry; the old link stops working. Requires MANAGE_MEMBERS.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationIdInput,
    ) -> Result<InvitationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let id = ids::decode(&input.invitation_id, Kind::Invitation)?;
        let invitation =
            invitations::resend(state.db(), &state.services.invitations, actor_id, id).await?;
        Ok(InvitationPayload {
            invitation: Invitation(invitation),
        })
    }

    /// Withdraws a pending invitation: its link stops working. Requires MANAGE_MEMBERS.
    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationIdInput,
    ) -> Result<InvitationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let id = ids::decode(&input.invitation_id, Kind::Invitation)?;
        let invitation = invitations::revoke(state.db(), actor_id, id).await?;
        Ok(InvitationPayload {
            invitation: Invitation(invitation),
        })
    }

    /// The viewer's email must be the invited one.
    #[graphql(guard = "secret_attempt")]
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> Result<AcceptInvitationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let joined = state
            .change(async |db| invitations::accept(db, actor_id, &input.token).await)
            .await?;
        Ok(AcceptInvitationPayload {
            member: Member::from(joined),
        })
    }
}

/// The uploaded file, refused past the size limit without reading it all.
fn read_upload(ctx: &Context<'_>, file: &Upload) -> Result<Vec<u8>> {
    let upload = file.value(ctx)?;
    let mut bytes = Vec::new();
    upload
        .into_read()
        .take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_BYTES {
        return Err(DomainError::LimitExceeded(format!(
            "the file is larger than {} KiB",
            MAX_BYTES / 1024
        ))
        .into());
    }
    Ok(bytes)
}
