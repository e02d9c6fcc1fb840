-- One row per executed node (patched re-executions included): when it started, when it ended, what it called.
-- A node can run more than once in an execution (a loop body): its n-th end pairs with its n-th start.
with node_events as (
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
    from {{ source('kognitos', 'run_events') }}
    where journal_type in ('node_started', 'node_executed', 'patched_node_started', 'patched_node_executed')
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
    executed.event_index
from node_events as executed
left join node_events as started
    on executed.workspace_id = started.workspace_id
    and executed.automation_id = started.automation_id
    and executed.run_id = started.run_id
    and executed.execution_id = started.execution_id
    and executed.node_id = started.node_id
    and executed.occurrence = started.occurrence
    and started.journal_type = case when executed.is_patched then 'patched_node_started' else 'node_started' end
where executed.journal_type in ('node_executed', 'patched_node_executed')
