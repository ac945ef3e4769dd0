-- Revenue, orders and customers per month and country.
select
    f.month,
    c.country,
    count(*) as orders,
    count(distinct f.customer_key) as customers,
    sum(f.revenue) as revenue
from fact_sales f
join dim_customers c on c.customer_key = f.customer_key
group by f.month, c.country
