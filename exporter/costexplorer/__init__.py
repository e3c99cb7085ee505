"""Cost Explorer as a source: every RI and Savings Plan of the organization,
with its utilization, read from the management (payer) account.

``catalog``: the services and their Cost Explorer names; ``parse``: one answer
row to a ``Reservation`` (a missing attribute key is an error naming it, never
a guessed date); ``source``: the paged calls; ``merge``: how its rows meet the
per-account listings. The refresher reads it at most every
``cost_explorer.refresh_interval`` (each request costs $0.01).
"""
