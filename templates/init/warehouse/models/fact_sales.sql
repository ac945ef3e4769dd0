-- One row per order that was not cancelled: the grain of the star schema.
select
    o.order_id,
    o.customer_id as customer_key,
    o.product_id as product_key,
    date_format(o.ordered_at, '%Y-%m') as month,
    o.quantity,
    o.quantity * p.price as revenue
from orders o
join dim_products p on p.product_key = o.product_id
where o.status <> 'cancelled'
