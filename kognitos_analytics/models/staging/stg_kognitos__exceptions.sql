-- One row per exception raised when a run stopped to await guidance, as loaded; none before the first one is.
{{ kognitos_source_or_empty('exceptions', {
    'workspace_id': 'varchar',
    'exception_id': 'varchar',
    'automation_id': 'varchar',
    'run_id': 'varchar',
    'execution_id': 'varchar',
    'state': 'varchar',
    'message': 'varchar',
    'description': 'varchar',
    'exception_group': 'varchar',
    'assignee': 'varchar',
    'resolver': 'varchar',
    'resolved_by_agent': 'boolean',
    'resolution_guide_entry': 'varchar',
    'stage': 'varchar',
    'create_time': 'timestamp with time zone',
    'update_time': 'timestamp with time zone',
}) }}
