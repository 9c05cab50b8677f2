"""``cadence serve``: the reports as a web app, for the people they are for.

The figures are those ``report all`` and the nightly saved for each week (a page is one read of
the store, never a pipeline run, except once for a week nobody saved); sign-in is the company's
OpenID Connect issuer; who may see which page is one rule (:mod:`cadence.web.access`), checked on
the server for every route and every format.

    app.py       the routes, the security headers and the access log
    signin.py    OpenID Connect sign-in (Authlib) and sign-out
    sessions.py  server-side sessions behind a signed cookie
    access.py    who may see what
    pages.py     a week's figures, saved or computed once, and the pages drawn from them
"""
