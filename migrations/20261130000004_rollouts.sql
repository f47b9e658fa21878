-- Rollout sessions: a plan of steps moving one endpoint from its live deployment to a new one,
-- executed by whichever Greenlight process holds it (issue 11).

create table rollouts (
    id             uuid primary key,
    workspace      text not null,
    endpoint       text not null,
    old_deployment text not null,
    new_deployment text not null,
    -- shared::api::CreateDeploymentRequest of the new deployment, as submitted.
    deployment     jsonb not null,
    -- shared::rollout::Plan
    plan           jsonb not null,
    -- The split before the rollout: abort and rollback return to it, without approval.
    known_good     jsonb not null,
    state          text not null check (state in ('pending', 'running', 'waiting_for_approval',
                       'paused', 'aborting', 'rolling_back', 'succeeded', 'failed', 'aborted',
                       'rolled_back')),
    current_step   integer not null default 0,
    started_by     text not null,
    reason         text,
    created_at     timestamptz not null default now(),
    finished_at    timestamptz,
    -- The executor looks at it again at this time.
    due_at         timestamptz not null default now(),
    -- The app instance (`app_instances`) executing it; another takes it over once that
    -- instance's heartbeat lapses.
    owner          uuid,
    -- The operation restoring the known-good split (abort, rollback).
    restore_operation_id uuid references operations (id)
);

-- At most one active rollout per endpoint.
create unique index rollouts_one_active_per_endpoint on rollouts (workspace, lower(endpoint))
    where state not in ('succeeded', 'failed', 'aborted', 'rolled_back');
create index rollouts_due on rollouts (due_at)
    where state in ('pending', 'running', 'waiting_for_approval', 'aborting', 'rolling_back');
create index rollouts_by_endpoint on rollouts (workspace, lower(endpoint), created_at desc);

create table rollout_steps (
    rollout_id        uuid not null references rollouts (id),
    index             integer not null,
    state             text not null check (state in ('pending', 'running', 'waiting_for_approval',
                          'succeeded', 'failed', 'skipped')),
    started_at        timestamptz,
    finished_at       timestamptz,
    -- The step's latest change request, and the operation of its own write (deploy, mirror off).
    change_request_id uuid references change_requests (id),
    operation_id      uuid references operations (id),
    -- When the step's change took effect (a mirror's clock starts then).
    applied_at        timestamptz,
    error             text,
    primary key (rollout_id, index)
);

create table rollout_timeline (
    id                bigint generated always as identity primary key,
    rollout_id        uuid not null references rollouts (id),
    at                timestamptz not null default now(),
    actor             text,
    -- shared::api::rollouts::Transition
    transition        jsonb not null,
    reason            text,
    change_request_id uuid
);
create index rollout_timeline_by_rollout on rollout_timeline (rollout_id, id);
