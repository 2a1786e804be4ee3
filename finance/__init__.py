"""The vendor's finance area: attainment, and (growing) margin, revenue and what-if.

Read-only figures over the other apps' rollups and ledgers, for vendor staff holding
``finance.read`` (vendor finance, vendor operators, the vendor's API key); customers never see
them. The rightmost app: it reads accounts, metering, billing and disputes, and nothing reads it.
Every figure is defined once here and in ``docs/finance.md``; the pages, their CSV and the API
show the same numbers.
"""
