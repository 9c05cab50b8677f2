"""The jobs: what a command does, from end to end, between the core and the command line.

::

    jobs/
     ├── sync.py        every mailbox of every source: thread pool per source, breaker,
     │                  page + token saved together, 410 -> full round, one run-log row
     ├── figures.py     configuration + store -> pipeline parameters and frames -> figures
     ├── report_all.py  every manager's and director's report into a folder, and by email
     ├── nightly.py     sync, then report all, under the run lock, as one run
     ├── cluster.py     the nightly's syncs as batches on a Dask cluster
     ├── run_log.py     one row of the run log per run: ok, or failed with its step
     ├── org.py         the org chart from a CSV or a directory, checked, then stored
     └── status.py      where each mailbox's sync stands, and how the last run went

A job is where the layers meet: connectors read, the store saves and loads, the pipeline
computes, the reports render. The CLI parses its options, calls one job and prints what the job
returns; the demo calls the same jobs.
"""
