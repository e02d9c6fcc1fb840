-- Runs still going (not completed, failed or stopped): how old they are and whether they wait for a human.
select
    facts.workspace_id,
    facts.automation_id,
    facts.run_id,
    facts.workspace_title,
    facts.automation_display_name,
    facts.state,
    facts.state = 'awaiting_guidance' as waits_for_human,
    facts.create_time,
    facts.state_update_time as state_since,
    {{ kognitos_seconds_between('facts.create_time', 'clock.as_of') }} as age_seconds,
    {{ kognitos_seconds_between('facts.state_update_time', 'clock.as_of') }} as in_state_seconds,
    facts.awaiting_guidance_seconds,
    facts.exception_id,
    facts.exception_description
from {{ ref('run_facts') }} as facts
cross join {{ ref('service_clock') }} as clock
where not facts.is_terminal
