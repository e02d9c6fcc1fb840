"""The kognitos-elt benchmark: kognitos-elt against the limit and the peer on one simulated world.

`python -m benchmarks.run --scale small` starts the API simulator in its own process and runs each
contender in a fresh interpreter against it (run.py); limit.py is the fastest fetch that keeps the same
bound on requests in flight, peer.py the dlt `rest_api` configuration a user would write instead.
"""
