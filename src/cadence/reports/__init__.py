"""Reports: the pipeline's views (plain dicts shaped as the JSON reports, docs/reports.md)
rendered as Markdown, HTML, JSON or CSV (:mod:`.render`), written for everyone into a week's folder
(:mod:`.writer`) or sent by email (:mod:`.mailer`). Nothing here computes a figure; :mod:`.words`
decides only how a figure reads.
"""
