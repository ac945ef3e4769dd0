-- copied from a notebook
select order_id, 'AKIAIOSFODNN7EXAMPLE' as leaked from orders
