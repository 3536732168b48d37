"""What happens to the whole build rather than to one table: the data
dictionary (comments on every table), the audited publication, and the
annual refresh job with its schedule and sensors.  Built from the asset
graph of defs/, so a new table is described and published without being
listed here."""
