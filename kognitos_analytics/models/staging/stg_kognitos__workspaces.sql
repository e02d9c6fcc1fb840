-- One row per workspace, as loaded.
select
    workspace_id,
    organization_id,
    name,
    title,
    create_time,
    update_time
from {{ source('kognitos', 'workspaces') }}
