-- Revenue and orders per month and country, for BI.
select
    d.year,
    d.month,
    c.country,
    count(distinct f.order_id) as orders,
    sum(f.revenue) as revenue
from fact_orders f
join dim_customers c on c.customer_key = f.customer_key
join dim_date d on d.date_key = f.date_key
group by d.year, d.month, c.country
