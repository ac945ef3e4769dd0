-- Pages by views over the whole history.
select page, sum(views) as views
from page_views_daily
group by page
