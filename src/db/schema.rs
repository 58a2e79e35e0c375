//! One schema for both backends: only column types that SQLite and
//! PostgreSQL share (see migrations/sqlite and migrations/postgres).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        email_verified -> Bool,
    }
}

diesel::table! {
    identities (id) {
        id -> BigInt,
        user_id -> BigInt,
        issuer -> Text,
        subject -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    organizations (id) {
        id -> BigInt,
        name -> Text,
        slug -> Text,
        created_at -> Timestamp,
        credits_available -> Integer,
        credits_distributed -> Integer,
        /// Of distributed, what members hold for work under way.
        credits_held -> Integer,
        /// Spent since the organization began: what was ever added is
        /// available + distributed + spent.
        credits_spent -> Integer,
        standard_seat_limit -> Integer,
        pro_seat_limit -> Integer,
        standard_seats_used -> Integer,
        pro_seats_used -> Integer,
        member_count -> Integer,
        admin_count -> Integer,
        manager_count -> Integer,
        basic_member_count -> Integer,
    }
}

diesel::table! {
    memberships (id) {
        id -> BigInt,
        organization_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        /// Generated from role by the database; never written.
        role_rank -> Integer,
        credits -> Integer,
        /// Of credits, what is held for work under way.
        credits_held -> Integer,
        credits_spent -> Integer,
        seat -> Text,
        joined_at -> Timestamp,
        /// The member's users.email and users.name, for keyset ordering.
        user_email -> Text,
        user_name -> Text,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        organization_id -> BigInt,
        email -> Text,
        role -> Text,
        status -> Text,
        token_hash -> Text,
        invited_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    credit_ledger (id) {
        id -> BigInt,
        organization_id -> BigInt,
        user_id -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        kind -> Text,
        amount -> Integer,
        created_at -> Timestamp,
        member_credits_after -> Nullable<Integer>,
        pool_available_after -> Integer,
        hold_id -> Nullable<BigInt>,
        idempotency_key -> Nullable<Text>,
        description -> Nullable<Text>,
        service_key_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    credit_holds (id) {
        id -> BigInt,
        organization_id -> BigInt,
        user_id -> BigInt,
        amount -> Integer,
        settled_amount -> Nullable<Integer>,
        status -> Text,
        description -> Nullable<Text>,
        idempotency_key -> Text,
        service_key_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    credit_spending_keys (organization_id, idempotency_key) {
        organization_id -> BigInt,
        idempotency_key -> Text,
        request -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    credit_requests (id) {
        id -> BigInt,
        organization_id -> BigInt,
        user_id -> BigInt,
        amount -> Integer,
        reason -> Nullable<Text>,
        status -> Text,
        approved_amount -> Nullable<Integer>,
        decided_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        organization_id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        target_user_id -> Nullable<BigInt>,
        target_email -> Nullable<Text>,
        details -> Nullable<Text>,
        created_at -> Timestamp,
        service_key_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> BigInt,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        failed_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
    }
}

diesel::table! {
    live_event_sequence (id) {
        id -> Integer,
        last_seq -> BigInt,
        pruned_through -> BigInt,
    }
}

diesel::table! {
    live_events (seq) {
        seq -> BigInt,
        organization_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    service_keys (id) {
        id -> BigInt,
        organization_id -> BigInt,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        organization_id -> BigInt,
        url -> Text,
        secret -> Text,
        event_types -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        message_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_response_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(webhook_endpoints -> organizations (organization_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(service_keys -> organizations (organization_id));
diesel::joinable!(identities -> users (user_id));
diesel::joinable!(memberships -> organizations (organization_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(invitations -> organizations (organization_id));
diesel::joinable!(audit_events -> organizations (organization_id));
diesel::joinable!(credit_ledger -> organizations (organization_id));
diesel::joinable!(credit_holds -> organizations (organization_id));
diesel::joinable!(credit_requests -> organizations (organization_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    identities,
    sessions,
    organizations,
    memberships,
    invitations,
    credit_ledger,
    credit_holds,
    credit_spending_keys,
    credit_requests,
    audit_events,
    email_outbox,
    live_event_sequence,
    live_events,
    service_keys,
    webhook_endpoints,
    webhook_deliveries,
);
