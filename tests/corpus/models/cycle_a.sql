select * from cycle_b
