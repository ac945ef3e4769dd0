select customer_id as customer_key from orders
