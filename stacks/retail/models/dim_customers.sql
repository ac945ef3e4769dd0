-- One row per customer, latest snapshot of the shop database.
with latest as (
    select c.*, row_number() over (partition by customer_id order by ingest_date desc) as rn
    from customers c
)
select
    customer_id as customer_key,
    customer_id,
    email,
    first_name,
    last_name,
    country,
    created_at
from latest
where rn = 1
