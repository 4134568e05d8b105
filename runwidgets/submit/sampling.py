"""Parameter spaces and their sampling, with Azure ML HyperDrive's names and meanings.

As in HyperDrive, ``loguniform(a, b)`` is ``exp(uniform(a, b))``: its bounds are
exponents. Every parameter set is drawn when the sweep is submitted, so a seed
reproduces a sweep exactly.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any


class Distribution:
    def sample(self, rng: random.Random) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(repr(v) for v in self.__dict__.values())
        return f"{type(self).__name__}({args})"


class choice(Distribution):  # noqa: N801 - HyperDrive's name
    """One of the given values: ``choice(0.1, 0.2)`` or ``choice([0.1, 0.2])``."""

    def __init__(self, *options: Any) -> None:
        if len(options) == 1 and isinstance(options[0], (list, tuple, range)):
            options = tuple(options[0])
        if not options:
            raise ValueError("choice() needs at least one value")
        self.options = list(options)

    def sample(self, rng):
        return rng.choice(self.options)


class randint(Distribution):  # noqa: N801
    """A whole number in ``[0, upper)``."""

    def __init__(self, upper: int) -> None:
        if not isinstance(upper, int) or upper < 1:
            raise ValueError(f"randint(upper) needs a whole number >= 1, got {upper!r}")
        self.upper = upper

    def sample(self, rng):
        return rng.randrange(self.upper)


class _Range(Distribution):
    def __init__(self, min_value: float, max_value: float) -> None:
        if not (isinstance(min_value, (int, float)) and isinstance(max_value, (int, float))):
            raise TypeError(f"{type(self).__name__} needs two numbers")
        if not min_value < max_value:
            raise ValueError(f"{type(self).__name__}({min_value}, {max_value}): min must be below max")
        self.min_value, self.max_value = float(min_value), float(max_value)


class uniform(_Range):  # noqa: N801
    def sample(self, rng):
        return rng.uniform(self.min_value, self.max_value)


class loguniform(_Range):  # noqa: N801
    """``exp(uniform(min_value, max_value))``: the bounds are natural-log exponents, as in HyperDrive."""

    def sample(self, rng):
        return math.exp(rng.uniform(self.min_value, self.max_value))


class quniform(_Range):  # noqa: N801
    def __init__(self, min_value: float, max_value: float, q: float) -> None:
        super().__init__(min_value, max_value)
        if q <= 0:
            raise ValueError("q must be positive")
        self.q = q

    def sample(self, rng):
        return round(rng.uniform(self.min_value, self.max_value) / self.q) * self.q


class qloguniform(quniform):  # noqa: N801
    def sample(self, rng):
        return round(math.exp(rng.uniform(self.min_value, self.max_value)) / self.q) * self.q


class normal(Distribution):  # noqa: N801
    def __init__(self, mu: float, sigma: float) -> None:
        if sigma <= 0:
            raise ValueError("sigma must be positive")
        self.mu, self.sigma = float(mu), float(sigma)

    def sample(self, rng):
        return rng.gauss(self.mu, self.sigma)


class lognormal(normal):  # noqa: N801
    def sample(self, rng):
        return math.exp(rng.gauss(self.mu, self.sigma))


def _check_space(space: Any) -> dict[str, Distribution]:
    if not isinstance(space, dict) or not space:
        raise TypeError("a parameter space is a non-empty dict like {'--alpha': choice(0.1, 0.2)}")
    for name, dist in space.items():
        if not isinstance(name, str) or not name.strip("-"):
            raise ValueError(f"parameter name {name!r} must be a non-empty str")
        if not isinstance(dist, Distribution):
            raise TypeError(f"parameter {name!r}: {dist!r} is not a distribution (use choice, uniform, ...)")
    return space


class ParameterSampling:
    def __init__(self, parameter_space: dict) -> None:
        self.parameter_space = _check_space(parameter_space)

    def draw(self, n: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"kind": type(self).__name__, "space": {k: repr(v) for k, v in self.parameter_space.items()}}


class GridParameterSampling(ParameterSampling):
    """Every combination of ``choice`` values, in the order the space lists them."""

    def __init__(self, parameter_space: dict) -> None:
        super().__init__(parameter_space)
        for name, dist in self.parameter_space.items():
            if not isinstance(dist, choice):
                raise TypeError(f"grid sampling takes choice() values only; {name!r} is {dist!r}")

    def _choices(self) -> list[choice]:
        return [d for d in self.parameter_space.values() if isinstance(d, choice)]  # all are: see __init__

    @property
    def size(self) -> int:
        return math.prod(len(d.options) for d in self._choices())

    def draw(self, n: int) -> list[dict[str, Any]]:
        names = list(self.parameter_space)
        combos = itertools.product(*(d.options for d in self._choices()))
        return [dict(zip(names, c)) for c in itertools.islice(combos, n)]


class RandomParameterSampling(ParameterSampling):
    """Independent draws; ``seed=`` (or HyperDrive's ``properties={'rngSeed': n}``) makes them repeatable."""

    def __init__(self, parameter_space: dict, properties: dict | None = None, seed: int | None = None) -> None:
        super().__init__(parameter_space)
        if seed is None and properties:
            seed = properties.get("rngSeed")
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed

    def draw(self, n: int) -> list[dict[str, Any]]:
        rng = random.Random(self.seed)
        return [{k: d.sample(rng) for k, d in self.parameter_space.items()} for _ in range(n)]

    def to_dict(self) -> dict:
        return {**super().to_dict(), "seed": self.seed}


class BayesianParameterSampling(ParameterSampling):
    """Each next parameter set chosen from the results so far (Optuna's TPE sampler, ask and tell).

    As in Azure: ``choice``, ``uniform`` and ``quniform`` only, and no early-termination
    policy. Sets are drawn while the sweep runs, so ``max_concurrent_runs`` bounds how
    many are chosen without the latest results. Needs ``pip install 'runwidgets[optuna]'``.
    """

    def __init__(self, parameter_space: dict, seed: int | None = None) -> None:
        super().__init__(parameter_space)
        for name, dist in self.parameter_space.items():
            if type(dist) not in (choice, uniform, quniform):
                raise ValueError(
                    f"BayesianParameterSampling takes choice, uniform and quniform only (as Azure's);"
                    f" {name!r} is {dist!r}"
                )
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed

    def draw(self, n: int) -> list[dict[str, Any]]:
        return []  # chosen one at a time by the sweep's driver (see bayesian.py)

    def to_dict(self) -> dict:
        space: dict[str, list] = {}
        for name, d in self.parameter_space.items():
            if isinstance(d, choice):
                space[name] = ["choice", d.options]
            elif isinstance(d, quniform):
                space[name] = ["quniform", d.min_value, d.max_value, d.q]
            elif isinstance(d, uniform):
                space[name] = ["uniform", d.min_value, d.max_value]
        return {**super().to_dict(), "bayesian": space, "seed": self.seed}


def as_arguments(params: dict[str, Any]) -> list[str]:
    """``{'alpha': 0.5}`` or ``{'--alpha': 0.5}`` -> ``['--alpha', '0.5']``."""
    out = []
    for name, value in params.items():
        out += [name if name.startswith("-") else f"--{name}", repr(value) if isinstance(value, float) else str(value)]
    return out
