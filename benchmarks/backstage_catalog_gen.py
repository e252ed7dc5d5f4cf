#!/usr/bin/env python3
# The generator of the Backstage-shaped catalog Runway is compared on, kept here unchanged so the
# benchmark runs from a clone on its own; tests/benchmarks/test_backstage_generator.py checks that
# it writes what the shared original writes, where that is present.
"""Deterministic generator of a Backstage-style software catalog for benchmarks.

Writes multi-document catalog-info YAML files (stdlib only, no PyYAML needed):
  groups.yaml                 -- N_GROUPS  Group entities  (team-0 .. team-199)
  systems.yaml                -- N_SYSTEMS System entities (system-0 .. system-499)
  components-NN.yaml          -- N_COMPONENTS Component entities, PER_FILE per file
  locations.txt               -- absolute paths of all files (one per line)
  app-config.locations.yaml   -- ready-to-paste `catalog.locations` block (type: file)
  manifest.json               -- parameters + a few handy lookup values for benchmarks

Data shape (seed 42 by default, same output every run):
  Component name  : svc-<word>-<NNNNN>, <word> drawn uniformly from 100 distinct
                    words, so `fullTextFilterTerm=<word>` (matched with LIKE %word%
                    against metadata.name) hits ~1% of components.
  spec.type       : service 60% / website 20% / library 20%
  spec.lifecycle  : production 50% / experimental 30% / deprecated 20%
  spec.owner      : group:default/team-<k>, k uniform over the groups (full ref, so a
                    filter spec.owner=group:default/team-7 matches)
  spec.system     : system-<j>, j uniform over the systems
  metadata.tags   : 1-3 distinct tags out of 30
  spec.dependsOn  : randint(0, 10) (mean 5) distinct other components, as
                    component:default/<name>
  Groups          : spec.type team, spec.children [], profile.displayName
  Systems         : spec.owner group:default/team-<k>

Usage: python3 backstage-gen.py OUT_DIR [--components 10000] [--groups 200]
       [--systems 500] [--per-file 500] [--seed 42] [--no-systems]
"""
import argparse
import json
import os
import random

WORDS = """
falcon badger otter heron lynx marten osprey puffin quokka raven
salmon tapir urchin vulture walrus yak zebra alpaca bison cobra
dingo egret ferret gecko hyena ibex jackal koala lemur mongoose
narwhal ocelot pelican quail rhino skunk toucan viper wombat beaver
cougar dolphin eland flamingo gopher hornet iguana jaguar kiwi llama
magpie newt orca panda python2x robin sloth turtle unicorn vole
weasel xerus yeti zorilla amber basalt cobalt diamond emerald flint
garnet jasper kyanite lapis marble nickel onyx pearl quartz ruby
sapphire topaz umber velvet walnut xenon yarrow zinnia acorn birch
cedar daisy elm fern ginkgo hazel iris juniper kelp lotus
""".split()
assert len(WORDS) == 100 and len(set(WORDS)) == 100
# no word may be a substring of another word or of the fixed name parts
for w in WORDS:
    for o in WORDS:
        assert w == o or w not in o, (w, o)
    assert w not in "svc-", w

TAGS = """
java python go node typescript rust kotlin scala ruby php
grpc rest graphql kafka postgres mysql redis elastic s3 k8s
frontend backend batch streaming ml payments auth search infra internal
""".split()
assert len(TAGS) == 30

TYPES = [("service", 60), ("website", 20), ("library", 20)]
LIFECYCLES = [("production", 50), ("experimental", 30), ("deprecated", 20)]


def weighted(rng, pairs):
    r = rng.randrange(100)
    acc = 0
    for v, w in pairs:
        acc += w
        if r < acc:
            return v
    return pairs[-1][0]


def q(s):
    # JSON string == valid YAML double-quoted scalar
    return json.dumps(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--components", type=int, default=10000)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--systems", type=int, default=500)
    ap.add_argument("--per-file", type=int, default=500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-systems", action="store_true",
                    help="do not emit System entities (components still reference them)")
    a = ap.parse_args()

    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    rng = random.Random(a.seed)
    files = []

    # Groups
    p = os.path.join(out, "groups.yaml")
    with open(p, "w") as f:
        for k in range(a.groups):
            f.write("---\napiVersion: backstage.io/v1alpha1\nkind: Group\n")
            f.write(f"metadata:\n  name: team-{k}\n  description: {q(f'Team number {k}')}\n")
            f.write(f"spec:\n  type: team\n  profile:\n    displayName: {q(f'Team {k}')}\n  children: []\n")
    files.append(p)

    # Systems
    system_owner = [rng.randrange(a.groups) for _ in range(a.systems)]
    if not a.no_systems:
        p = os.path.join(out, "systems.yaml")
        with open(p, "w") as f:
            for j in range(a.systems):
                f.write("---\napiVersion: backstage.io/v1alpha1\nkind: System\n")
                f.write(f"metadata:\n  name: system-{j}\n  description: {q(f'System number {j}')}\n")
                f.write(f"spec:\n  owner: group:default/team-{system_owner[j]}\n")
        files.append(p)

    # Components: decide names first so dependsOn can reference real components
    words = [rng.choice(WORDS) for _ in range(a.components)]
    names = [f"svc-{words[i]}-{i:05d}" for i in range(a.components)]
    stats = {"lifecycle": {}, "type": {}, "dependsOn_total": 0}
    owner_of = []
    per_word = {}
    for i in range(a.components):
        per_word[words[i]] = per_word.get(words[i], 0) + 1

    nfiles = (a.components + a.per_file - 1) // a.per_file
    for fi in range(nfiles):
        p = os.path.join(out, f"components-{fi:02d}.yaml")
        with open(p, "w") as f:
            for i in range(fi * a.per_file, min(a.components, (fi + 1) * a.per_file)):
                name = names[i]
                ctype = weighted(rng, TYPES)
                life = weighted(rng, LIFECYCLES)
                owner = rng.randrange(a.groups)
                owner_of.append(owner)
                system = rng.randrange(a.systems)
                tags = rng.sample(TAGS, rng.randint(1, 3))
                ndeps = rng.randint(0, 10)
                deps = set()
                while len(deps) < ndeps:
                    d = rng.randrange(a.components)
                    if d != i:
                        deps.add(d)
                deps = sorted(deps)
                stats["lifecycle"][life] = stats["lifecycle"].get(life, 0) + 1
                stats["type"][ctype] = stats["type"].get(ctype, 0) + 1
                stats["dependsOn_total"] += ndeps
                f.write("---\napiVersion: backstage.io/v1alpha1\nkind: Component\n")
                f.write("metadata:\n")
                f.write(f"  name: {name}\n")
                f.write(f"  title: {q(f'{words[i].capitalize()} {ctype} {i}')}\n")
                f.write(f"  description: {q(f'The {words[i]} {ctype} number {i}, owned by team-{owner}, part of system-{system}.')}\n")
                f.write("  tags:\n")
                for t in tags:
                    f.write(f"    - {t}\n")
                f.write("spec:\n")
                f.write(f"  type: {ctype}\n")
                f.write(f"  lifecycle: {life}\n")
                f.write(f"  owner: group:default/team-{owner}\n")
                f.write(f"  system: system-{system}\n")
                if deps:
                    f.write("  dependsOn:\n")
                    for d in deps:
                        f.write(f"    - component:default/{names[d]}\n")
                else:
                    f.write("  dependsOn: []\n")
        files.append(p)

    with open(os.path.join(out, "locations.txt"), "w") as f:
        f.write("\n".join(files) + "\n")
    with open(os.path.join(out, "app-config.locations.yaml"), "w") as f:
        f.write("catalog:\n  locations:\n")
        for p in files:
            f.write(f"    - type: file\n      target: {p}\n")
    manifest = {
        "args": vars(a),
        "files": files,
        "counts": {"components": a.components, "groups": a.groups,
                   "systems": 0 if a.no_systems else a.systems},
        "stats": stats,
        "avg_dependsOn": stats["dependsOn_total"] / max(1, a.components),
        "word_counts_min_max": [min(per_word.values()), max(per_word.values())],
        "fulltext_term_example": "falcon",
        "fulltext_term_example_count": per_word.get("falcon", 0),
        "team7_components": sum(1 for o in owner_of if o == 7),
        "example_name": names[4242 % a.components],
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps({k: manifest[k] for k in manifest if k not in ("files",)}, indent=2))


if __name__ == "__main__":
    main()
