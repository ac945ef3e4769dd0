-- Users with at least one event, per day.
select
    date_format(event_ts, '%Y-%m-%d') as day,
    count(distinct user_id) as active_users,
    count(*) as events
from app_events
group by date_format(event_ts, '%Y-%m-%d')
