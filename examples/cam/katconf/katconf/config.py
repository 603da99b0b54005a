"""The system description: which receptors exist, where they are, which subarrays they form."""

import dataclasses
import pathlib

import yaml


class ConfigError(ValueError):
    """A configuration file that does not describe a valid system."""


@dataclasses.dataclass(frozen=True)
class Receptor:
    name: str
    latitude: float
    longitude: float
    altitude: float
    diameter: float = 13.5


@dataclasses.dataclass(frozen=True)
class SystemConfig:
    site: str
    receptors: tuple
    subarrays: dict
    nodes: dict

    def receptor(self, name):
        for receptor in self.receptors:
            if receptor.name == name:
                return receptor
        raise KeyError(name)


def _require(mapping, key, where):
    if key not in mapping:
        raise ConfigError(f"{where}: missing {key!r}")
    return mapping[key]


def parse_system(data, where="<config>"):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: top level must be a mapping")
    receptors = []
    for entry in _require(data, "receptors", where):
        receptors.append(Receptor(
            name=_require(entry, "name", where),
            latitude=float(_require(entry, "latitude", where)),
            longitude=float(_require(entry, "longitude", where)),
            altitude=float(_require(entry, "altitude", where)),
            diameter=float(entry.get("diameter", 13.5)),
        ))
    names = {r.name for r in receptors}
    if len(names) != len(receptors):
        raise ConfigError(f"{where}: duplicate receptor names")
    subarrays = {}
    for sub, members in (data.get("subarrays") or {}).items():
        unknown = sorted(set(members) - names)
        if unknown:
            raise ConfigError(f"{where}: subarray {sub} uses unknown receptors {unknown}")
        subarrays[int(sub)] = tuple(members)
    return SystemConfig(
        site=_require(data, "site", where),
        receptors=tuple(receptors),
        subarrays=subarrays,
        nodes=dict(data.get("nodes") or {}),
    )


def load_system(path):
    path = pathlib.Path(path)
    with path.open(encoding="utf-8") as handle:
        return parse_system(yaml.safe_load(handle), str(path))


def bundled_system(name="karoo"):
    return load_system(pathlib.Path(__file__).parent / "data" / f"{name}.yaml")
