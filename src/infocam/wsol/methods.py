"""The CAM methods: one registry from which evaluation, tables, comparisons, figures and the
claims ledger take their lists.

Every method here starts from the target class's map M_y of a GAP network and differs in
two choices: what it subtracts (its `contrast`: nothing, the mean of the other classes' maps
(infoCAM), or the map of the class with the lowest logit (infoCAM+)) and whether it sums the
result over infoCAM's R x R region. Region methods are evaluated under the configured region
geometry and, under their name with the other geometry as suffix (infocam_same), under the
other one too; cam_full_placement is the geometry-only control (infocam.wsol.cam).

Adding a method: an entry in METHODS (and its contrast in infocam.wsol.cam if it is a new
one); docs/extending.md lists what follows from it.
"""

from dataclasses import dataclass

GEOMETRIES = ("full", "same")
GEOMETRY_CONTROL = "cam_full_placement"  # plain CAM placed on the canvas as a `full` map places its cells
CONTRASTS = ("none", "mean_of_others", "lowest_class")


@dataclass(frozen=True)
class CamMethod:
    name: str  # its key: per_image.csv.gz column prefix, summary.json key
    label: str  # how tables and figures show it
    contrast: str  # what is subtracted from M_y (CONTRASTS)
    region: bool  # summed over infoCAM's R x R region
    headline: bool  # a row of Tables 1, 3 and 4, a panel of the figures, a claim against CAM
    ablation: bool  # a row of Table 5 (the region and the subtraction switched on and off)

    def __post_init__(self):
        if self.contrast not in CONTRASTS:
            raise ValueError(f"CAM method '{self.name}': contrast must be one of {', '.join(CONTRASTS)}, "
                             f"got '{self.contrast}'")

    @property
    def subtraction(self) -> bool:
        return self.contrast != "none"


METHODS = (
    CamMethod("cam", "CAM", "none", region=False, headline=True, ablation=True),
    CamMethod("infocam", "infoCAM", "mean_of_others", region=True, headline=True, ablation=True),
    CamMethod("infocam_plus", "infoCAM+", "lowest_class", region=True, headline=True, ablation=False),
    CamMethod("ablation_region_only", "R only", "none", region=True, headline=False, ablation=True),
    CamMethod("ablation_subtraction_only", "subtraction only", "mean_of_others", region=False, headline=False,
              ablation=True),
)
BASELINE = "cam"


def by_name(name: str) -> CamMethod:
    for method in METHODS:
        if method.name == name:
            return method
    raise KeyError(f"no CAM method '{name}' (known: {', '.join(m.name for m in METHODS)})")


def other_geometry(geometry: str) -> str:
    if geometry not in GEOMETRIES:
        raise ValueError(f"region geometry must be one of {', '.join(GEOMETRIES)}, got '{geometry}'")
    (other,) = set(GEOMETRIES) - {geometry}
    return other


def headline_methods() -> dict[str, str]:
    """{name: label} of the methods Tables 1, 3 and 4 show, in the paper's order."""
    return {method.name: method.label for method in METHODS if method.headline}


def evaluated_names(geometry: str) -> list[str]:
    """Every map an evaluation under `geometry` scores, in a fixed order: each method, the region
    methods under the other geometry, and the geometry-only control."""
    other = other_geometry(geometry)
    return [*(m.name for m in METHODS), *(f"{m.name}_{other}" for m in METHODS if m.region), GEOMETRY_CONTROL]


def layout(name: str, geometry: str) -> tuple[str, bool, bool, str]:
    """(method, region on, subtraction on, geometry) of an evaluated map's name under `geometry`;
    geometry 'none' where no region sum is taken. The control is CAM laid out as `full`."""
    if name == GEOMETRY_CONTROL:
        return BASELINE, False, False, "full"
    other = other_geometry(geometry)
    base, used = (name[: -len(other) - 1], other) if name.endswith(f"_{other}") else (name, geometry)
    method = by_name(base)
    return base, method.region, method.subtraction, used if method.region else "none"


def ablation_names(geometry: str) -> list[str]:
    """The evaluated maps that are rows of Table 5 under `geometry`."""
    return [name for name in evaluated_names(geometry)
            if name == GEOMETRY_CONTROL or by_name(layout(name, geometry)[0]).ablation]
