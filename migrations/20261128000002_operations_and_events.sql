-- Long-running workspace operations (create, scale, delete, traffic) and the event feed the
-- console follows live.

create table operations (
    id               uuid primary key,
    kind             text not null,
    endpoint         text not null,
    deployment       text,
    status           text not null check (status in ('running', 'succeeded', 'failed')),
    requested_by     text not null,
    -- [{"at": ..., "message": ...}], appended as the workspace reports steps.
    progress         jsonb not null default '[]'::jsonb,
    -- {"code": ..., "message": ...}: the workspace's own error, unchanged.
    error            jsonb,
    arm_operation_id text,
    created_at       timestamptz not null default now(),
    -- Touched by the runner while it works; a running row left untouched for long belonged to a
    -- process that died, and is failed by the next one that looks.
    updated_at       timestamptz not null default now(),
    finished_at      timestamptz
);

create index operations_recent on operations (created_at desc);
create index operations_by_endpoint on operations (lower(endpoint), created_at desc);

-- One traffic change at a time per endpoint, across every replica: a second one is refused
-- rather than queued behind a split its author never saw.
create unique index operations_one_traffic_change_per_endpoint
    on operations (lower(endpoint)) where status = 'running' and kind = 'traffic.change';

-- What browsers are told, in order; `id` is the SSE event id they resume from.
create table events (
    id      bigint generated always as identity primary key,
    at      timestamptz not null default now(),
    topic   text not null,
    payload jsonb not null
);
