"""The capacity simulation's discrete-event engine: the cluster over time (engine, dataplane,
state, results) and the local platform request by request (requests)."""
