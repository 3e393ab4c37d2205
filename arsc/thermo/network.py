"""Reaction networks of the computational hydrogen electrode, read from ``reactions.yaml``.

A reaction is data: a ``path`` (a linear sequence of states, e.g. the 4 e-
ORR), a ``network`` (a tree of states whose branches compete; the most
favourable step is taken at each branch, which decides the product) or a
``sum`` of other reactions' overpotentials (the bifunctional metric). States
are strings such as ``"*OH + H2O"``; see the header of
``arsc/data/reactions.yaml`` for the notation.

Examples
--------
>>> from arsc.thermo.network import load_network
>>> net = load_network()
>>> net.reactions["orr"].states[:2]
['O2', '*OOH']
>>> round(net.equilibrium_potential(net.state("O2"), net.state("2 H2O")), 2)
1.23
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

from ase.formula import Formula
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from arsc.adsorbates import adsorbates
from arsc.errors import unknown
from arsc.yamlio import read_yaml, validate

#: The bare site in a state string.
BARE = "*"
#: Molecule that carries the (H+ + e-) pairs: one pair is 1/2 H2 at U = 0 V_RHE.
PROTON_ELECTRON = "H2"
#: Tolerance on composition balances (moles).
_TOL = 1e-9


@dataclass(frozen=True)
class State:
    """A parsed state: adsorbates on the site plus molecules off it.

    Attributes
    ----------
    text
        The state as written (``"*OH + H2O"``).
    adsorbates
        Names of the adsorbed intermediates (empty for the bare site).
    molecules
        (molecule, count) pairs of the gas or solution species.
    """

    text: str
    adsorbates: tuple[str, ...]
    molecules: tuple[tuple[str, int], ...]


@lru_cache(maxsize=1024)
def parse_state(text: str) -> State:
    """Parse a state string (``"*O + H2O"``, ``"2 NH3"``, ``"*"``); syntax only.

    Raises
    ------
    ValueError
        If a term is empty or its count is not a positive integer.
    """
    ads: list[str] = []
    mols: list[tuple[str, int]] = []
    for raw in text.split(" + "):
        term = raw.strip()
        if term == BARE:
            continue
        if term.startswith(BARE):
            ads.append(term[1:])
            continue
        count, _, name = term.rpartition(" ")
        if not name:
            raise ValueError(f"empty term in state {text!r}")
        if count and not (count.isdigit() and int(count) > 0):
            raise ValueError(f"bad count {count!r} in state {text!r}")
        mols.append((name, int(count) if count else 1))
    return State(text=text, adsorbates=tuple(ads), molecules=tuple(mols))


def _elements(composition: Mapping[str, float]) -> dict[str, float]:
    out: defaultdict[str, float] = defaultdict(float)
    for formula, n in composition.items():
        for el, k in Formula(formula).count().items():
            out[el] += n * k
    return out


def _balanced(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) < _TOL for k in set(a) | set(b))


class Molecule(BaseModel):
    """A gas or solution species placed relative to the base references."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    composition: dict[str, float] = Field(
        description="Moles of each base reference molecule that make one molecule (mol)."
    )
    free_energy: float = Field(
        description="Formation free energy from the base references, eV, 298.15 K, "
        "1 bar, U = 0 V vs RHE (experimental thermochemistry)."
    )
    source: str = Field(description="Where the free energy comes from.")


Selectivity = dict[str, str]
"""Competing steps: label -> step ``"A -> B"``; the lowest step free energy wins."""


class Node(BaseModel):
    """A branch of a reaction network: a run of states, then further branches or a product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str | None = Field(None, description="Name of the branch (mechanism), if any.")
    path: list[str] = Field(min_length=1, description="States in order (state strings).")
    mode_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Binding mode of the first state's adsorbate -> label replacing `label`.",
    )
    product: str | None = Field(None, description="Product molecule, for a leaf.")
    equilibrium_state: str | None = Field(
        None,
        description="Product state for the equilibrium potential when the leaf's last state "
        "still holds an adsorbate (the path stops at the last computed intermediate).",
    )
    next: list[Node] = Field(default_factory=list, description="Competing branches after it.")

    @model_validator(mode="after")
    def _leaf_has_product(self) -> Node:
        if not self.next and self.product is None:
            raise ValueError(f"branch {self.path} ends without a product")
        if self.next and self.product is not None:
            raise ValueError(f"branch {self.path} has both a product and further branches")
        return self


class PathReaction(BaseModel):
    """A linear sequence of states (ORR, OER, HER)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["path"]
    title: str = Field(description="What the reaction is.")
    source: str = Field(description="Where the mechanism comes from.")
    states: list[str] = Field(min_length=2, description="States in order (state strings).")
    selectivity: dict[str, Selectivity] = Field(
        default_factory=dict, description="Named step competitions reported per site."
    )


class NetworkReaction(BaseModel):
    """A tree of competing branches (CRR, NRR); the product follows the greedy path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["network"]
    title: str = Field(description="What the reaction is.")
    source: str = Field(description="Where the mechanism comes from.")
    start: str = Field(description="Initial state (state string, no adsorbate).")
    next: list[Node] = Field(min_length=1, description="Competing first branches.")
    selection_potential: float = Field(
        0.0, description="V vs RHE at which competing steps are compared."
    )
    selectivity: dict[str, Selectivity] = Field(
        default_factory=dict, description="Named step competitions reported per site."
    )


class SumReaction(BaseModel):
    """The sum of other reactions' overpotentials (bifunctional ORR + OER)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sum"]
    title: str = Field(description="What the metric is.")
    source: str = Field(description="Where the metric comes from.")
    of: list[str] = Field(min_length=1, description="Names of the reactions summed.")


Reaction = Annotated[PathReaction | NetworkReaction | SumReaction, Field(discriminator="kind")]


def iter_nodes(nodes: list[Node]) -> Iterator[Node]:
    """Yield every node of a list of trees, depth first."""
    for node in nodes:
        yield node
        yield from iter_nodes(node.next)


def split_step(step: str) -> tuple[str, str]:
    """Split ``"A -> B"`` into its two state strings."""
    a, sep, b = step.partition(" -> ")
    if not sep or not a.strip() or not b.strip():
        raise ValueError(f"step {step!r} is not of the form 'A -> B'")
    return a.strip(), b.strip()


class ReactionNetwork(BaseModel):
    """The parsed ``reactions.yaml``: molecules, intermediates and reactions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(description="Format version of the file.")
    references: list[str] = Field(description="Molecules a references file gives energies for.")
    molecules: dict[str, Molecule] = Field(description="Gas and solution species.")
    intermediates: dict[str, dict[str, float]] = Field(
        description="Reference composition of *X - * (moles of reference molecules)."
    )
    reactions: dict[str, Reaction] = Field(description="Reactions by name.")
    _electrons: dict[tuple[str, str], float] = PrivateAttr(default_factory=dict)

    # ---- checks -----------------------------------------------------------------------
    @model_validator(mode="after")
    def _check(self) -> ReactionNetwork:
        self._check_molecules()
        self._check_intermediates()
        for name, reaction in self.reactions.items():
            self._check_reaction(name, reaction)
        return self

    def _check_molecules(self) -> None:
        for ref in self.references:
            if ref not in self.molecules:
                raise ValueError(f"reference {ref!r} is not among the molecules")
        base = self.base_references
        for name, mol in self.molecules.items():
            for key in mol.composition:
                if key not in base:
                    raise unknown(f"base reference in molecule {name}", key, base)
            if not _balanced(_elements({name: 1.0}), _elements(mol.composition)):
                raise ValueError(f"molecule {name}: composition {mol.composition} is not {name}")

    def _check_intermediates(self) -> None:
        registry = adsorbates()
        for name, comp in self.intermediates.items():
            if name not in registry:
                raise unknown("intermediate", name, registry)
            for key in comp:
                if key not in self.references:
                    raise unknown(
                        f"reference molecule in intermediate {name}", key, self.references
                    )
            atoms = Counter(registry[name].symbols)
            if not _balanced({k: float(v) for k, v in atoms.items()}, _elements(comp)):
                raise ValueError(f"intermediate {name}: composition {comp} is not {name}")

    def _check_state(self, text: str) -> State:
        state = parse_state(text)
        for ads in state.adsorbates:
            if ads not in self.intermediates:
                raise unknown(f"intermediate in state {text!r}", ads, self.intermediates)
        for mol, _ in state.molecules:
            if mol not in self.molecules:
                raise unknown(f"molecule in state {text!r}", mol, self.molecules)
        return state

    def _check_sequence(self, name: str, texts: list[str]) -> None:
        states = [self._check_state(t) for t in texts]
        heavy = self._heavy(states[0])
        signs = set()
        for a, b in itertools.pairwise(states):
            if not _balanced(heavy, self._heavy(b)):
                raise ValueError(
                    f"reaction {name}: state {b.text!r} is not balanced with {a.text!r}"
                )
            n = self.electrons(a, b)
            if abs(n) > _TOL:
                signs.add(n > 0)
        if len(signs) > 1:
            raise ValueError(f"reaction {name}: mixes reduction and oxidation steps")

    def _check_reaction(
        self, name: str, reaction: PathReaction | NetworkReaction | SumReaction
    ) -> None:
        if isinstance(reaction, SumReaction):
            for part in reaction.of:
                if part not in self.reactions or isinstance(self.reactions[part], SumReaction):
                    allowed = [
                        k for k, r in self.reactions.items() if not isinstance(r, SumReaction)
                    ]
                    raise unknown(f"reaction summed by {name}", part, allowed)
            return
        for label, steps in reaction.selectivity.items():
            for step in steps.values():
                a, b = split_step(step)
                self._check_sequence(f"{name} selectivity {label}", [a, b])
        if isinstance(reaction, PathReaction):
            self._check_sequence(name, reaction.states)
            for end in (reaction.states[0], reaction.states[-1]):
                if parse_state(end).adsorbates:
                    raise ValueError(f"reaction {name}: end state {end!r} holds an adsorbate")
            return
        if parse_state(reaction.start).adsorbates:
            raise ValueError(f"reaction {name}: start state {reaction.start!r} holds an adsorbate")
        for path in self.branch_paths(reaction):
            texts = [reaction.start] + [t for node in path for t in node.path]
            leaf = path[-1]
            if leaf.equilibrium_state is not None:
                texts.append(leaf.equilibrium_state)
            self._check_sequence(name, texts)
            if parse_state(texts[-1]).adsorbates:
                raise ValueError(
                    f"reaction {name}: branch ending in {texts[-1]!r} needs an equilibrium_state"
                )

    # ---- queries ----------------------------------------------------------------------
    @property
    def base_references(self) -> list[str]:
        """Molecules with free energy 0 by definition (composition: themselves)."""
        return [k for k, m in self.molecules.items() if m.composition == {k: 1.0}]

    def state(self, text: str) -> State:
        """Parse a state string and check its species."""
        return self._check_state(text)

    def composition(self, state: State) -> dict[str, float]:
        """Composition of a state in base references (moles), including H2."""
        out: defaultdict[str, float] = defaultdict(float)
        for ads in state.adsorbates:
            for ref, n in self.intermediates[ads].items():
                for base, m in self.molecules[ref].composition.items():
                    out[base] += n * m
        for mol, count in state.molecules:
            for base, m in self.molecules[mol].composition.items():
                out[base] += count * m
        return dict(out)

    def _heavy(self, state: State) -> dict[str, float]:
        comp = self.composition(state)
        comp.pop(PROTON_ELECTRON, None)
        return comp

    def electrons(self, a: State, b: State) -> float:
        """(H+ + e-) pairs consumed going from a to b (negative: released)."""
        key = (a.text, b.text)
        if key not in self._electrons:
            ca, cb = self.composition(a), self.composition(b)
            n = 2.0 * (cb.get(PROTON_ELECTRON, 0.0) - ca.get(PROTON_ELECTRON, 0.0))
            self._electrons[key] = n
        return self._electrons[key]

    def offset(self, intermediate: str) -> float:
        """Free energy (eV) of *X's reference molecules relative to the base references."""
        return sum(
            n * self.molecules[ref].free_energy
            for ref, n in self.intermediates[intermediate].items()
        )

    def state_energy(self, state: State, dg: Mapping[str, float]) -> float:
        """Free energy of a state relative to the base references, eV, U = 0 V_RHE.

        Parameters
        ----------
        state
            The state.
        dg
            Adsorption free energy of each intermediate (eV, relative to its own
            reference molecules); a missing one gives NaN.
        """
        g = sum(count * self.molecules[mol].free_energy for mol, count in state.molecules)
        for ads in state.adsorbates:
            g += dg.get(ads, float("nan")) + self.offset(ads)
        return g

    def equilibrium_potential(self, start: State, end: State) -> float:
        """Equilibrium potential (V vs RHE) of start -> end, both without adsorbates."""
        n = self.electrons(start, end)
        if abs(n) < _TOL:
            return float("nan")
        return -(self.state_energy(end, {}) - self.state_energy(start, {})) / n

    def branch_paths(self, reaction: NetworkReaction) -> list[list[Node]]:
        """Every root-to-leaf list of nodes of a network."""
        out: list[list[Node]] = []

        def walk(nodes: list[Node], prefix: list[Node]) -> None:
            for node in nodes:
                if node.next:
                    walk(node.next, [*prefix, node])
                else:
                    out.append([*prefix, node])

        walk(reaction.next, [])
        return out

    def reaction_intermediates(self, name: str) -> tuple[str, ...]:
        """Intermediates a reaction's states mention, in first-seen order."""
        reaction = self.get(name)
        texts: list[str] = []
        if isinstance(reaction, SumReaction):
            seen: dict[str, None] = {}
            for part in reaction.of:
                seen.update(dict.fromkeys(self.reaction_intermediates(part)))
            return tuple(seen)
        if isinstance(reaction, PathReaction):
            texts = list(reaction.states)
        else:
            texts = [reaction.start] + [t for n in iter_nodes(reaction.next) for t in n.path]
        for steps in reaction.selectivity.values():
            for step in steps.values():
                texts.extend(split_step(step))
        found: dict[str, None] = {}
        for t in texts:
            found.update(dict.fromkeys(parse_state(t).adsorbates))
        return tuple(found)

    def get(self, name: str) -> PathReaction | NetworkReaction | SumReaction:
        """Look a reaction up by name; ArscInputError naming the allowed ones."""
        key = name.strip().lower()
        if key not in self.reactions:
            raise unknown("reaction", name, self.reactions)
        return self.reactions[key]


def network_path() -> Path:
    """Path of the packaged ``reactions.yaml``."""
    return Path(str(files("arsc.data").joinpath("reactions.yaml")))


def read_network(path: str | Path) -> ReactionNetwork:
    """Read and check a reactions file (the packaged one or a user's).

    Raises
    ------
    ArscInputError
        One line naming the file, the key and the problem.
    """
    p = Path(path)
    return validate(ReactionNetwork, read_yaml(p, "reactions file"), f"reactions file {str(p)!r}")


@cache
def load_network() -> ReactionNetwork:
    """Return the packaged reaction networks (parsed once)."""
    return read_network(network_path())


def reaction_names() -> tuple[str, ...]:
    """Names of the packaged reactions."""
    return tuple(load_network().reactions)
