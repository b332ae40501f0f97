"""The local ledger: what Fyno acknowledged, kept in one SQLite file (standard library only).

Fyno cannot say which type a property has and silently drops values of another type, and an
interrupted notebook cannot ask what already landed. The ledger remembers, per `Scope`
(endpoint, workspace, version; every `Ledger` method that reads or writes a destination's rows
takes it as its first argument):

* each property's Fyno type: claimed by a push before it sends the value that fixes it (the
  first claim wins, across threads and processes; ``claims``), fixed once Fyno accepted that
  value (or by the first acknowledged value of a type named in ``schema=``), when, and by which
  push; later acks never change it;
* for each (distinct_id, property) a 64-bit hash of the last value Fyno acknowledged (202) and the
  request that carried it (``value_hash`` 0 records an acknowledged unset);
* each push: start, end, counts and plan options, and the fingerprint of its adds and appends;
  the API key is never stored;
* each row's adds and appends, per push: in flight before they are sent, then acknowledged or
  failed (``adds``, ``inflight``); left in flight they are in doubt (`fyno_pandas.pipeline.resume`);
* the request rate Fyno was found to accept, learnt from its 429 answers (``rates``).

Files: ``store`` (the `Ledger`: pushes, types and values), ``schema`` (the migrations),
``database`` (opening, checking and migrating the file; transactions), ``adds`` and
``inflight`` (adds and appends in flight; `AddJournal`), ``scope`` (`Scope`), ``values``
(the per-user value rows, read in bulk), ``acktable`` (what each row's ack records, as arrays)
and ``writes`` (groups of acks written in one statement), ``claims`` (types claimed before
seeding), ``rates`` (the request rate learnt per scope), ``reports`` (pushes and properties as
frames), ``groupcommit`` (`AckWriter`), ``check`` (`unchanged_mask`, `latest_acks`,
`compare_states`: pure numpy and pandas) and ``bridge`` (how `plan` and `push` use the ledger).

Durability and concurrency: WAL journal, ``synchronous=NORMAL`` (a killed process loses nothing
committed; a power cut may lose the last commits, never consistency), a busy timeout, and every
write one transaction (``BEGIN IMMEDIATE``, or one statement that is its own transaction), so
several processes can write at once and a killed writer leaves whole transactions only. Within
a process one connection per `Ledger` is shared by all threads under a lock; `AckWriter`
batches the acks of concurrent workers into shared commits.
"""

from __future__ import annotations

from .check import latest_acks, unchanged_mask
from .groupcommit import AckWriter
from .scope import Scope
from .store import FYNO_TYPES, SCHEMA_VERSION, Ledger, default_path

__all__ = [
    "FYNO_TYPES",
    "SCHEMA_VERSION",
    "AckWriter",
    "Ledger",
    "Scope",
    "default_path",
    "latest_acks",
    "unchanged_mask",
]
