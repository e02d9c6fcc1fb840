{#- Every row's key of several columns is a row of `to` (dbt's own `relationships` takes one column). -#}
{% test related_combination(model, columns, to) %}
select {% for column in columns %}child.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
from {{ model }} as child
left join {{ to }} as parent
    on {% for column in columns %}child.{{ column }} = parent.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
where parent.{{ columns[0] }} is null
{% endtest %}
