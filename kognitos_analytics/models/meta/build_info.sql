{{ config(materialized='table') }}
-- What these models were last built from: `kognitos-elt run` rebuilds them only when this fingerprint changes.
select
    cast('{{ var("kognitos_build_fingerprint") }}' as varchar(64)) as fingerprint,
    cast('{{ run_started_at.isoformat() }}' as timestamp) as built_at
