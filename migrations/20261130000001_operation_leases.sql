-- Operations survive the process that ran them. Each app process registers itself in
-- `app_instances` and renews `heartbeat_at` while it lives (a lease, as River's rescuer uses); an
-- operation names the process that runs it in `owner`. A running operation whose owner's lease
-- has expired (or that has no owner: it predates this migration) is taken up by a live process,
-- which follows its ARM operation to the end and records the end and the audit event.

create table app_instances (
    id           uuid primary key,
    started_at   timestamptz not null default now(),
    heartbeat_at timestamptz not null default now()
);

alter table operations
    add column owner uuid,
    -- Where the workspace's long-running operation is polled: the `Azure-AsyncOperation` status
    -- URL ('status') or the `Location` result URL ('result').
    add column arm_poll_url text,
    add column arm_poll_kind text check (arm_poll_kind in ('status', 'result')),
    -- What the audit event records besides the outcome: the state before, and the request.
    add column audit_before jsonb not null default 'null'::jsonb,
    add column audit_request jsonb not null default 'null'::jsonb;

create index operations_running_by_owner on operations (owner) where status = 'running';
