{#- SQL that DuckDB and PostgreSQL both run, written once for every model. -#}

{% macro kognitos_seconds_between(start_time, end_time) -%}
    cast(extract(epoch from ({{ end_time }} - {{ start_time }})) as double precision)
{%- endmacro %}

{% macro kognitos_local_date(timestamp, time_zone) -%}
    cast({{ timestamp }} at time zone {{ time_zone }} as date)
{%- endmacro %}

{% macro kognitos_ratio(numerator, denominator) -%}
    cast({{ numerator }} as double precision) / nullif({{ denominator }}, 0)
{%- endmacro %}

{% macro kognitos_time_zones() -%}
    {#- The zones of `daily_runs`: the `kognitos_time_zones` var, else those the source loaded aggregates for. -#}
    {%- set zones = var('kognitos_time_zones') -%}
    {%- if zones is string -%}{%- set zones = zones.split(',') -%}{%- endif -%}
    {%- if zones -%}
        select time_zone from (values {% for zone in zones -%}
            ('{{ zone | trim | replace("'", "''") }}'){% if not loop.last %}, {% endif %}
        {%- endfor %}) as zones (time_zone)
    {%- else -%}
        select distinct time_zone from {{ ref('stg_kognitos__daily_run_aggregates') }}
        union
        select 'UTC' where not exists (select 1 from {{ ref('stg_kognitos__daily_run_aggregates') }})
    {%- endif -%}
{%- endmacro %}
