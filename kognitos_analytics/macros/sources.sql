{#- A loaded table that may not exist yet: dlt creates a table with its first row, and an organization whose runs
    never waited for a human has no exception. Reads as no rows of these columns ({name: type}) until it exists; the
    builder does not wait for it (its list is of the literal source() calls). -#}
{% macro kognitos_source_or_empty(table, columns) -%}
    {%- set relation = source('kognitos', table) -%}
    {%- if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        select {% for name, type in columns.items() %}cast(null as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
        where 1 = 0
    {%- else -%}
        select {{ columns.keys() | join(', ') }} from {{ relation }}
    {%- endif -%}
{%- endmacro %}
