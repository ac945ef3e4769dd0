select order_id
from ordrs
