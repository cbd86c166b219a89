"""`make bench`: figures for cost, calls, capacity, cold starts and hot partitions."""
