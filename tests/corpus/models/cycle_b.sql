select * from cycle_a join orders using (order_id)
