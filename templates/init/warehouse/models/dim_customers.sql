-- One row per customer: the latest load of each.
with latest as (
    select c.*, row_number() over (partition by customer_id order by ingest_date desc) as rn
    from customers c
)
select
    customer_id as customer_key,
    name,
    email,
    country,
    signed_up_at
from latest
where rn = 1
