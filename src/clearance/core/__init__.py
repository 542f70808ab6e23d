"""The pure core of Clearance: plan model, evaluators, decision, digests. It cannot do any I/O.

Time, identities and parsed evidence come in as arguments, so every function here is
deterministic and tested without files, databases or clocks.
"""
