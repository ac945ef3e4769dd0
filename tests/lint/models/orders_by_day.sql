select order_id, status, cast(created_at as date) as order_date
from orders
