-- Minimum and maximum temperature and mean humidity per station and day.
select
    r.station_id,
    s.city,
    date_format(r.measured_at, '%Y-%m-%d') as day,
    count(*) as readings,
    min(r.temperature_c) as min_temperature_c,
    max(r.temperature_c) as max_temperature_c,
    avg(cast(r.humidity_pct as double)) as avg_humidity_pct
from readings r
join stations s on s.station_id = r.station_id
group by r.station_id, s.city, date_format(r.measured_at, '%Y-%m-%d')
