"""Sharing: agreements, release decisions, keys, audit and the exchange between nodes.

Release is a pure function (``mista.share.release``) of a record, a partner and the
agreements (``mista.share.agreements``); everything that leaves the node is signed
(``mista.share.keys``, ``mista.wire``) and audited (``mista.share.audit``). See
docs/sharing.md for the whole flow.
"""
