"""The custom messages between a view's Python side and its JS (``js/common.js`` names the same in ``MSG``)."""

# kernel -> browser
LOG_APPEND = "log_append"  # new text of one log
LOG_RESET = "log_reset"  # the whole kept tail of one log (after the view asked)
SPLICE = "splice"  # a chart line's tail from an index: only what changed crosses the wire

# browser -> kernel
LOG_SYNC = "log_sync"  # a view wants a log's whole kept tail
OPEN_CHILD = "open_child"  # a child run's row was clicked
RESYNC = "resync"  # a page's copy of a line does not match what a splice expects: send it whole
TICK_CHILDREN = "tick_children"  # the children ticked in the table, for the overlay chart
