-- Product features for the recommender: popularity, conversion and price.
select
    p.product_key,
    p.category,
    p.price,
    coalesce(i.views, 0) as views,
    coalesce(i.add_to_carts, 0) as add_to_carts,
    coalesce(s.units_sold, 0) as units_sold,
    coalesce(s.buyers, 0) as buyers,
    case when coalesce(i.views, 0) = 0 then 0.0
         else cast(coalesce(s.units_sold, 0) as double) / i.views end as conversion_rate
from dim_products p
left join product_interactions i on i.product_id = p.product_id
left join (
    select product_key, sum(quantity) as units_sold, count(distinct customer_key) as buyers
    from fact_orders
    group by product_key
) s on s.product_key = p.product_key
