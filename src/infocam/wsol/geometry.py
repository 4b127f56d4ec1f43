"""The side of a network's class maps for a given input crop, known before any model is built.

Configuration checks use it (infoCAM's region R must fit on the map) while Snakemake parses
the workflow, so it imports no torch. tests/wsol/test_models.py holds it to the networks'
real feature maps.
"""

BACKBONES = ("vgg16", "resnet50")


def class_map_side(backbone: str, crop: int, output_stride: int) -> int:
    """Cells per side of the class maps of `backbone` (models.build_model) on crop x crop inputs.

    VGG16-GAP halves the side with each 2x2 max pool (rounding down): pool1-pool3, and pool4 at
    output stride 16. ResNet50 halves it, rounding up, at the stem's stride-2 conv, the max pool,
    layer2, and layer3 at output stride 16.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone '{backbone}', expected one of: {', '.join(BACKBONES)}")
    halvings = 4 if output_stride == 16 else 3
    side = crop
    for _ in range(halvings):
        side = side // 2 if backbone == "vgg16" else (side + 1) // 2
    return side
