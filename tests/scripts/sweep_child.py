import argparse
import time

from runwidgets import Run

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--depth", type=int, required=True)
args = p.parse_args()
run = Run.get_context()
for epoch in range(3):
    run.log("accuracy", 1 - abs(args.lr - 0.05) - 0.01 * abs(args.depth - 4) - 0.1 / (epoch + 1), step=epoch)
    time.sleep(0.1)
print(f"lr={args.lr} depth={args.depth}")
