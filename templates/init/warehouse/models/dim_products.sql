-- One row per product: the latest load of each.
with latest as (
    select p.*, row_number() over (partition by product_id order by ingest_date desc) as rn
    from products p
)
select product_id as product_key, name, category, price
from latest
where rn = 1
