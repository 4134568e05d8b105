# The "manage runs" tour, inside a submitted script: five child runs, tags, properties.
import sys
import time

from runwidgets import Run

run = Run.get_context()
mode = sys.argv[1] if len(sys.argv) > 1 else "children"
if mode == "children":
    for i in range(5):
        with run.child_run(f"child {i}") as child:
            child.log("i", i)
    run.tag("phase", "done")
    print("made five children")
elif mode == "sleep":
    i = 0
    while True:
        run.log("tick", i)
        run.flush()
        print("tick", i, flush=True)
        i += 1
        time.sleep(0.2)
elif mode == "raise":
    run.log("before", 1.5)
    run.log("before", 2.5)
    print("about to fail")
    raise ValueError("the data had a hole in it")
elif mode == "fail":
    run.log("x", 1)
    run.fail("gave up on purpose")
