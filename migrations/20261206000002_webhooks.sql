-- Outgoing webhooks (issue 13, notifications). A notifier follows the audit log by id from a
-- durable cursor and enqueues one delivery per matching webhook in the transaction that moves
-- the cursor, so no event is lost across a crash and replicas never enqueue one twice.

create table webhooks (
    id             uuid primary key,
    url            text not null,
    -- WebhookEvent names (shared::webhooks), checked by the API.
    events         text[] not null,
    format         text not null check (format in ('json', 'slack', 'teams')),
    -- The HMAC-SHA256 key. Signing needs it in clear; it is never returned, logged or audited.
    secret         text not null,
    secret_set_at  timestamptz not null default now(),
    enabled        boolean not null default true,
    created_by     text not null,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);

-- How far the notifier has read the audit log: one row, locked by whichever replica reads.
-- It starts at the current end, so an upgrade does not replay history to new webhooks.
create table webhook_cursor (
    singleton      boolean primary key default true check (singleton),
    last_audit_id  bigint not null
);
insert into webhook_cursor (last_audit_id) select coalesce(max(id), 0) from audit_events;

create table webhook_deliveries (
    id               bigint generated always as identity primary key,
    webhook_id       uuid not null references webhooks (id) on delete cascade,
    -- A WebhookEvent name, or 'ping' for a test delivery.
    event            text not null,
    -- The audit event reported (none for a ping). No foreign key: audit_events is append-only,
    -- so the id cannot dangle, and a reference would change how the table refuses TRUNCATE.
    audit_event_id   bigint,
    -- The workspace and endpoint the event is about, when it is about one.
    workspace        text,
    endpoint         text,
    -- Greenlight's JSON document of the event; chat formats are rendered from it when sent.
    payload          jsonb not null,
    state            text not null default 'pending'
                     check (state in ('pending', 'delivered', 'failed')),
    attempts         integer not null default 0,
    last_status      integer,
    last_error       text,
    -- When a pending delivery is due. A claimed one is pushed out by its lease, so a worker
    -- that dies mid-send leaves it to be tried again after the lease.
    next_attempt_at  timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    check ((state = 'pending') = (next_attempt_at is not null)),
    unique (webhook_id, audit_event_id)
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_by_webhook on webhook_deliveries (webhook_id, id);
