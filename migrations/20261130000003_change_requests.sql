-- Change requests: every change of live or mirror traffic and every deletion waits for the
-- approvals of people other than its requester (issue 11). Rows name the workspace as well as
-- the endpoint: one database serves consoles for several workspaces.

create table endpoint_policies (
    workspace          text not null,
    endpoint           text not null,
    required_approvals integer not null check (required_approvals between 1 and 5),
    updated_by         text not null,
    updated_at         timestamptz not null default now(),
    primary key (workspace, endpoint)
);

create table change_requests (
    id                 uuid primary key,
    workspace          text not null,
    endpoint           text not null,
    -- shared::rollout::Change: traffic {after} | delete_deployment {deployment} | delete_endpoint
    change             jsonb not null,
    -- The live split when it was asked for; applied only while that is still the live split.
    before             jsonb not null,
    state              text not null check (state in ('pending', 'approved', 'applied', 'failed',
                                                      'rejected', 'expired', 'stale', 'cancelled')),
    requester          text not null,
    reason             text not null,
    required_approvals integer not null check (required_approvals between 1 and 5),
    created_at         timestamptz not null default now(),
    expires_at         timestamptz not null,
    decided_at         timestamptz,
    -- The operation that applies it, once approved.
    operation_id       uuid references operations (id),
    -- The live split found instead of `before` when it went stale.
    stale_found        jsonb,
    -- An admin applied it without approvals: who, when and why.
    break_glass_by     text,
    break_glass_reason text,
    rollout_id         uuid,
    rollout_step       integer
);

create index change_requests_by_endpoint on change_requests (workspace, lower(endpoint), created_at desc);
create index change_requests_open on change_requests (expires_at) where state = 'pending';
create index change_requests_newest on change_requests (created_at desc, id desc);
create unique index change_requests_operation on change_requests (operation_id)
    where operation_id is not null;

-- One row per approval or rejection; a person approves a request at most once.
create table change_request_decisions (
    request_id uuid not null references change_requests (id),
    actor      text not null,
    decision   text not null check (decision in ('approve', 'reject')),
    comment    text,
    at         timestamptz not null default now(),
    primary key (request_id, actor, decision)
);
