-- One row per executed node (patched re-executions included): when it started, when it ended, what it called.
-- A node can run more than once in an execution (a loop body): its n-th end pairs with its n-th start.
-- A table, not a view: pairing every journal entry is slow to read (docs/design.md). Events are only
-- ever appended, so each build redoes only the runs whose event stream grew since the last one (`kognitos-elt run`
-- builds it after every load that wrote run_events).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['workspace_id', 'automation_id', 'run_id', 'execution_id', 'node_id', 'is_patched', 'occurrence'],
    on_schema_change='fail'
) }}

with run_extents as (
    -- How far each run's event stream reaches now (event_index numbers it from 0, append-only).
    select workspace_id, automation_id, run_id, max(event_index) as last_event_index
    from {{ ref('stg_kognitos__run_events') }}
    group by workspace_id, automation_id, run_id
),

{% if is_incremental() %}
changed_runs as (
    -- Runs whose stream grew since their rows were built, and runs with no row yet.
    select run_extents.workspace_id, run_extents.automation_id, run_extents.run_id
    from run_extents
    left join (
        select workspace_id, automation_id, run_id, max(run_last_event_index) as built_through
        from {{ this }}
        group by workspace_id, automation_id, run_id
    ) as built
        on run_extents.workspace_id = built.workspace_id
        and run_extents.automation_id = built.automation_id
        and run_extents.run_id = built.run_id
    where built.built_through is null or run_extents.last_event_index > built.built_through
),
{% endif %}

node_events as (
    select
        workspace_id,
        automation_id,
        run_id,
        execution_id,
        node_id,
        node_kind,
        journal_type,
        event_index,
        event_time,
        error_id,
        error_description,
        payload,
        journal_type in ('patched_node_started', 'patched_node_executed') as is_patched,
        row_number() over (
            partition by workspace_id, automation_id, run_id, execution_id, node_id, journal_type
            order by event_index
        ) as occurrence
    from {{ ref('stg_kognitos__run_events') }}
    where journal_type in ('node_started', 'node_executed', 'patched_node_started', 'patched_node_executed')
    {% if is_incremental() %}
        and (workspace_id, automation_id, run_id) in (select workspace_id, automation_id, run_id from changed_runs)
    {% endif %}
)

select
    executed.workspace_id,
    executed.automation_id,
    executed.run_id,
    executed.execution_id,
    executed.node_id,
    executed.is_patched,
    executed.occurrence,
    executed.node_kind,
    executed.payload -> 'book_function_call' -> 'book_function' ->> 'connection_spy_identifier' as connection,
    executed.payload -> 'book_function_call' -> 'book_function' ->> 'book_name' as book_name,
    executed.payload -> 'book_function_call' -> 'book_function' ->> 'function_name' as function_name,
    started.event_time as started_time,
    executed.event_time as executed_time,
    1000 * {{ kognitos_seconds_between('started.event_time', 'executed.event_time') }} as duration_ms,
    executed.error_id,
    executed.error_description,
    executed.event_index,
    run_extents.last_event_index as run_last_event_index
from node_events as executed
inner join run_extents
    on executed.workspace_id = run_extents.workspace_id
    and executed.automation_id = run_extents.automation_id
    and executed.run_id = run_extents.run_id
left join node_events as started
    on executed.workspace_id = started.workspace_id
    and executed.automation_id = started.automation_id
    and executed.run_id = started.run_id
    and executed.execution_id = started.execution_id
    and executed.node_id = started.node_id
    and executed.occurrence = started.occurrence
    and started.journal_type = case when executed.is_patched then 'patched_node_started' else 'node_started' end
where executed.journal_type in ('node_executed', 'patched_node_executed')
