-- Calendar dimension over the days that have orders.
select distinct
    cast(date_format(order_ts, '%Y%m%d') as integer) as date_key,
    cast(order_ts as date) as calendar_date,
    year(order_ts) as year,
    month(order_ts) as month,
    day_of_week(order_ts) as day_of_week
from orders
