drop table orders
