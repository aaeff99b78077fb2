"""Project-wide models built from the per-file facts, once per run, shared by every family.

- `modules`: the module graph (which file an import means, which definition a dotted name means);
- `entrypoints`: where runs start (main guards, Hydra/click/typer commands, LightningCLI,
  `[project.scripts]`, `dvc.yaml` stage commands, plain top-level scripts);
- `callgraph`: which repo function a call site calls, and what an entry point reaches;
- `trace`: what an entry point runs, in order, for the randomness rules;
- `config_index`: every config key (YAML/Hydra, DVC params, argparse/click/typer options,
  dataclass fields) with where it is defined and where code reads it.

Each is memoised on the `ProjectModel`: `model.analysis(build_module_graph)` (or the
`module_graph(model)`, `entry_points(model)`, `call_graph(model)`, `traces(model)` shortcuts).
"""
