# A sweep child: its score climbs over 6 epochs towards 1 - 2 (alpha - 0.4)^2, so a Bandit policy stops the
# children far from 0.4 after a few reports.
import argparse
import time

from runwidgets import Run

p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float)
a = p.parse_args()
run = Run.get_context()
top = max(0.05, 1.0 - 2 * (a.alpha - 0.4) ** 2)
for epoch in range(6):
    run.log("score", top * (epoch + 1) / 6)
    run.flush()
    time.sleep(0.4)
print("alpha", a.alpha)
