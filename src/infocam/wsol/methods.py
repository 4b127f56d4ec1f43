"""The CAM methods: one registry from which evaluation, tables, comparisons, figures and the
claims ledger take their lists.

Two kinds of method are registered. The class-map methods start from the target class's map
M_y of a GAP network (one forward pass gives them all; infocam.wsol.cam) and differ in two
choices: what it subtracts (its `contrast`: nothing, the mean of the other classes' maps
(infoCAM), or the map of the class with the lowest logit (infoCAM+)) and whether it sums the
result over infoCAM's R x R region. Region methods are evaluated under the configured region
geometry and, under their name with the other geometry as suffix (infocam_same), under the
other one too; cam_full_placement is the geometry-only control (infocam.wsol.cam).
The CAM family (Grad-CAM and its successors) is computed by pytorch-grad-cam's classes, named
in `library`, at the layer CAM uses (infocam.wsol.family); the config's evaluation.family
says which of them an evaluation runs.

Adding a method: an entry in METHODS (and its contrast in infocam.wsol.cam if it is a new
one, or its class in pytorch-grad-cam); docs/extending.md lists what follows from it.
"""

from dataclasses import dataclass

GEOMETRIES = ("full", "same")
GEOMETRY_CONTROL = "cam_full_placement"  # plain CAM placed on the canvas as a `full` map places its cells
CONTRASTS = ("none", "mean_of_others", "lowest_class")
# What a method takes beyond the forward pass that gives the feature maps and logits: the class
# maps alone, the logits too, the feature maps alone (class-agnostic), a backward pass per
# batch, or one more forward pass per feature channel and image.
NEEDS = ("class_maps", "logits", "activations", "gradients", "forward_passes")


@dataclass(frozen=True)
class CamMethod:
    name: str  # its key: per_image.csv.gz column prefix, summary.json key
    label: str  # how tables and figures show it
    needs: str  # what computing it takes (NEEDS)
    contrast: str = "none"  # what is subtracted from M_y (CONTRASTS)
    region: bool = False  # summed over infoCAM's R x R region
    headline: bool = False  # a row of Tables 1, 3 and 4, a panel of the figures, a claim against CAM
    ablation: bool = False  # a row of Table 5 (the region and the subtraction switched on and off)
    library: str | None = None  # the pytorch-grad-cam class that computes it: a CAM family member

    def __post_init__(self):
        if self.contrast not in CONTRASTS:
            raise ValueError(f"CAM method '{self.name}': contrast must be one of {', '.join(CONTRASTS)}, "
                             f"got '{self.contrast}'")
        if self.needs not in NEEDS:
            raise ValueError(f"CAM method '{self.name}': needs must be one of {', '.join(NEEDS)}, got '{self.needs}'")

    @property
    def subtraction(self) -> bool:
        return self.contrast != "none"

    @property
    def family(self) -> bool:
        return self.library is not None


METHODS = (
    CamMethod("cam", "CAM", "class_maps", headline=True, ablation=True),
    CamMethod("infocam", "infoCAM", "class_maps", "mean_of_others", region=True, headline=True, ablation=True),
    CamMethod("infocam_plus", "infoCAM+", "logits", "lowest_class", region=True, headline=True),
    CamMethod("ablation_region_only", "R only", "class_maps", region=True, ablation=True),
    CamMethod("ablation_subtraction_only", "subtraction only", "class_maps", "mean_of_others", ablation=True),
    # The CAM family. Each map is the library's weighting of the layer's activations, then the
    # ReLU pytorch-grad-cam applies to every method's map (part of Grad-CAM's definition).
    CamMethod("gradcam", "Grad-CAM", "gradients", library="GradCAM"),
    CamMethod("gradcam_pp", "Grad-CAM++", "gradients", library="GradCAMPlusPlus"),
    CamMethod("xgradcam", "XGrad-CAM", "gradients", library="XGradCAM"),
    CamMethod("layercam", "LayerCAM", "gradients", library="LayerCAM"),
    CamMethod("hirescam", "HiResCAM", "gradients", library="HiResCAM"),
    CamMethod("finercam", "FinerCAM", "gradients", library="FinerCAM"),  # minus its most similar classes
    CamMethod("eigencam", "EigenCAM", "activations", library="EigenCAM"),  # class-agnostic
    CamMethod("scorecam", "Score-CAM", "forward_passes", library="ScoreCAM"),
)
BASELINE = "cam"
FAMILY = tuple(method.name for method in METHODS if method.family)


def class_map_methods() -> list[CamMethod]:
    """The methods computed from the class maps of one forward pass (infocam.wsol.cam)."""
    return [method for method in METHODS if not method.family]


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


def checked_family(names) -> tuple[str, ...]:
    """The family members `names` asks for, in the registry's order; an unknown name is an error."""
    unknown = sorted(set(names) - set(FAMILY))
    if unknown:
        raise ValueError(f"no CAM family method '{unknown[0]}' (known: {', '.join(FAMILY)})")
    return tuple(name for name in FAMILY if name in names)


def evaluated_names(geometry: str, family=()) -> list[str]:
    """Every map an evaluation under `geometry` scores, in a fixed order: each class-map method,
    the region methods under the other geometry, the geometry-only control, then the members of
    the CAM family asked for."""
    other = other_geometry(geometry)
    own = class_map_methods()
    return [*(m.name for m in own), *(f"{m.name}_{other}" for m in own if m.region), GEOMETRY_CONTROL,
            *checked_family(family)]


def layout(name: str, geometry: str) -> tuple[str, bool, bool, str]:
    """(method, region on, subtraction on, geometry) of an evaluated map's name under `geometry`;
    geometry 'none' where no region sum is taken. The control is CAM laid out as `full`."""
    if name == GEOMETRY_CONTROL:
        return BASELINE, False, False, "full"
    if name in FAMILY:
        return name, False, False, "none"
    other = other_geometry(geometry)
    base, used = (name[: -len(other) - 1], other) if name.endswith(f"_{other}") else (name, geometry)
    method = by_name(base)
    return base, method.region, method.subtraction, used if method.region else "none"


def ablation_names(geometry: str) -> list[str]:
    """The evaluated maps that are rows of Table 5 under `geometry`."""
    return [name for name in evaluated_names(geometry)
            if name == GEOMETRY_CONTROL or by_name(layout(name, geometry)[0]).ablation]


def table6_methods(family) -> dict[str, str]:
    """{name: label} of Table 6's rows: the headline methods, then the family members evaluated."""
    return {**headline_methods(), **{name: by_name(name).label for name in checked_family(family)}}
