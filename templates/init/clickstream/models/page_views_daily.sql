-- Views and distinct visitors per day and page.
select
    date_format(event_ts, '%Y-%m-%d') as day,
    page,
    count(*) as views,
    count(distinct user_id) as visitors
from app_events
where event_type = 'page_view'
group by date_format(event_ts, '%Y-%m-%d'), page
