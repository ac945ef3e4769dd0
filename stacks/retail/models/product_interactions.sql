-- Clicks per product and event type, from the clickstream.
select
    product_id,
    count(*) filter (where event_type = 'view') as views,
    count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
    count(distinct customer_id) as unique_visitors
from clickstream_events
where product_id is not null
group by product_id
