select order_id,
from orders
where
