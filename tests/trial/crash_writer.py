"""Writer process of the crash and conflict tests (run as a script, not collected).

``writer URL STUDY USER SUBJECT...``: one thread per subject saves a new repeating form again
and again through the services and prints ``saved SUBJECT N`` (flushed) after each save
returned, i.e. was acknowledged. ``conflict URL STUDY USER SUBJECT VERSION VALUE``: prints
``ready``, waits for a line on stdin, saves MBI feeding = VALUE at VERSION and prints ``ok``
or ``conflict``.
"""

from __future__ import annotations

import sys
import threading

from strokecell.errors import ConflictError
from strokecell.store import make_engine
from strokecell.trial import context_for, save_form


def writer(url: str, study: str, user: str, subjects: list[str]) -> None:
    engine = make_engine(url)
    ctx = context_for(engine, user, study_code=study, role="coordinator")
    out = threading.Lock()

    def run(code: str) -> None:
        i = 0
        while True:
            i += 1
            save_form(engine, ctx, code, "concomitant_medication",
                      {"drug_name": f"Drug {i}", "indication": "crash test", "route": "oral",
                       "start_date": "2026-05-01", "ongoing": True}, repeat_index=i)
            with out:
                print(f"saved {code} {i}", flush=True)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in subjects]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def conflict(url: str, study: str, user: str, code: str, version: str, value: str) -> None:
    engine = make_engine(url)
    ctx = context_for(engine, user, study_code=study, role="coordinator")
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        save_form(engine, ctx, code, "mbi", {"feeding": int(value)}, visit_code="baseline",
                  version=int(version), reason="re-rated")
        print("ok", flush=True)
    except ConflictError:
        print("conflict", flush=True)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "writer":
        writer(args[0], args[1], args[2], args[3:])
    else:
        conflict(*args)
