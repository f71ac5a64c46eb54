"""The capacity model: measured behaviour, extrapolated to the production topology.

Calibration (utilisation law, U = X·D): the CPU-seconds each service spent per request in a
measured run are its service demand D. Each pod is a multi-server queue whose servers are its
worker processes; Erlang C gives the probability of waiting and the tail of the wait, so p95 at
a target load = the measured no-queue p95 + the modelled p95 wait. The model then sizes each
service for SPEC.md's throughput phases within the HPA CPU target and the SLA, and checks the
pods' CPU requests against the application pool (at its maximum size and after losing a zone).
"""
