-- Each city's coldest day (by its lowest reading).
select city, day, min_temperature_c
from (
    select city, day, min_temperature_c,
           row_number() over (partition by city order by min_temperature_c, day) as rn
    from daily_readings
) ranked
where rn = 1
