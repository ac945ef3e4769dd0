select order_id, status from orders
