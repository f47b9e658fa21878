-- Gates (issue 12): the latest judgement of each gated step of a rollout, green against blue
-- over the step's window so far. The executor rewrites it every few seconds while the window
-- runs (the console draws it live); `decided` marks the judgement the executor acted on.
create table rollout_gate_checks (
    rollout_id        uuid not null references rollouts (id),
    step_index        integer not null,
    -- The workspace and endpoint the judged deployments belong to (one console, several
    -- workspaces).
    workspace         text not null,
    endpoint          text not null,
    judged_at         timestamptz not null,
    -- shared::gates::Outcome
    outcome           text not null
                      check (outcome in ('pass', 'marginal', 'fail', 'inconclusive')),
    score             double precision,
    decided           boolean not null default false,
    -- The approver's request to continue past a gate that did not pass by itself.
    change_request_id uuid references change_requests (id),
    -- shared::gates::GateReport
    report            jsonb not null,
    primary key (rollout_id, step_index),
    foreign key (rollout_id, step_index) references rollout_steps (rollout_id, index)
);

create index rollout_gate_checks_by_endpoint on rollout_gate_checks (workspace, endpoint);
