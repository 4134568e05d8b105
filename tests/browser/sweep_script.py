import argparse

from runwidgets import Run

p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float)
a = p.parse_args()
run = Run.get_context()
run.log("score", 1.0 - (a.alpha - 0.4) ** 2)
print("alpha", a.alpha)
