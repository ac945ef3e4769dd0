-- Functions and constructs only one engine has.
select
    order_id,
    to_char(order_ts, '%Y-%m') as month,
    if(status = 'shipped', 1, 0) as shipped,
    order_id::varchar as id_text
from orders
where status ilike 'ship%'
