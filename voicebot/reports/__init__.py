"""Reports: the measures (pure), the report tables, the queue events recorder."""
