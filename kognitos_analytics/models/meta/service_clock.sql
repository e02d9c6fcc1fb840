-- The service's time of the last load: the end of every age and "last N days" window. Not the machine's clock: a
-- pipeline that stopped a week ago still answers about its last month, and the simulator's clock is in the past.
-- Each load keeps the service's clock (its `Date` header) in automation_run_aggregates.snapshot_time; the newest
-- run update stands in when that table is not loaded.
select greatest(
    (select max(snapshot_time) from {{ ref('stg_kognitos__automation_run_aggregates') }}),
    (select max(update_time) from {{ ref('stg_kognitos__runs') }})
) as as_of
