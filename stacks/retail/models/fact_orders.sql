-- One row per order line: the grain of the star schema.
select
    o.order_id,
    oi.product_id as product_key,
    o.customer_id as customer_key,
    cast(date_format(o.order_ts, '%Y%m%d') as integer) as date_key,
    o.status,
    oi.quantity,
    oi.unit_price,
    oi.quantity * oi.unit_price as revenue,
    o.order_ts
from orders o
join order_items oi on oi.order_id = o.order_id
where o.status <> 'cancelled'
