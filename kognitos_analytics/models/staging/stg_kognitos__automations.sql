-- One row per automation, deleted ones included, as loaded.
select
    workspace_id,
    automation_id,
    organization_id,
    name,
    display_name,
    description,
    activation_state,
    version,
    latest_published_version,
    create_time,
    update_time,
    publish_time,
    delete_time
from {{ source('kognitos', 'automations') }}
