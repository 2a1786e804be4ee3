"""Plans: named, versioned price books that many accounts follow (Eximius's 300 / 1,000 / 2,500-credit
plans), each member with its own overrides.

A plan version holds a contract document without ``effective_from``; an account on the plan gets
its contract versions from it — the plan's document with the member's overrides laid over it
(:func:`billing.plans.documents.document_merged`). Moving an account onto a plan, changing its
overrides and publishing a plan version each create, for every account concerned, a contract version
taking effect on the first day of the account's next period (an account is never priced under two
versions in one month: :func:`billing.pricing.terms.version_for_period`). Contract versions stay the
one thing invoices are priced from; a plan only writes them.
"""
