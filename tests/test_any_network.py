"""Tests for infocam.any_network: InfoCAM and InfoCAMPlus on any GAP + Linear network, called like pytorch-grad-cam."""

import numpy as np
import pytest
import torch
import torchvision
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from torch import nn

from infocam import InfoCAM, InfoCAMPlus
from infocam.wsol.cam import compute_cams
from infocam.wsol.models import build_model
from infocam.wsol.train import load_checkpoint_model


class TinyGAPNet(nn.Module):
    """Two convs, global average pooling, one Linear: the head InfoCAM needs."""

    def __init__(self, num_classes: int = 4, pool: nn.Module | None = None):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 6, 3, stride=2, padding=1), nn.ReLU())
        self.pool = pool if pool is not None else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


def targets_for(classes):
    return [ClassifierOutputTarget(c) for c in classes]


def hooked_features_and_logits(model, layer, x):
    caught = []
    hook = layer.register_forward_hook(lambda module, inputs, output: caught.append(output))
    with torch.no_grad():
        logits = model.eval()(x)
    hook.remove()
    return caught[0], logits


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # These models are tiny; several threads only contend with each other on a busy CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return TinyGAPNet(), torch.randn(2, 3, 16, 16)


@pytest.mark.parametrize("geometry", ["same", "full"])
def test_region_one_infocam_is_the_target_map_minus_the_mean_of_the_others(tiny, geometry):
    model, x = tiny
    classes = [1, 3]
    features, _ = hooked_features_and_logits(model, model.features, x)
    maps = torch.einsum("bkhw,mk->bmhw", features, model.fc.weight.detach())
    target = maps[[0, 1], classes]
    expected = target - (maps.sum(dim=1) - target) / 3
    with InfoCAM(model, target_layers=[model.features], region=1, geometry=geometry) as cam:
        raw = cam.raw_maps(x, classes)
    assert raw.shape == (2, 8, 8)
    assert torch.allclose(raw, expected, atol=1e-6)


def test_cam_is_the_target_class_map_by_hand(tiny):
    model, x = tiny
    features, logits = hooked_features_and_logits(model, model.features, x)
    weight = model.fc.weight.detach()
    cam = compute_cams(features, weight, logits, torch.tensor([2, 0]), 1, "same")["cam"]
    maps = torch.einsum("bkhw,mk->bmhw", features, weight)
    assert torch.allclose(cam, torch.stack([maps[0, 2], maps[1, 0]]), atol=1e-6)


def test_grad_cam_is_relu_of_cam_up_to_scale_on_a_gap_network(tiny):
    # A logit's gradient wrt A_k is W[c, k] / (h w), so Grad-CAM's map is ReLU(CAM) / (h w).
    # Grad-CAM normalises, resizes, then normalises again (its layer aggregation); the 1 / (h w)
    # shows at the 1e-5 level through scale_cam_image's 1e-7 in the denominator.
    model, x = tiny
    classes = [2, 0]
    features, logits = hooked_features_and_logits(model, model.features, x)
    cam_raw = compute_cams(features, model.fc.weight.detach(), logits, torch.tensor(classes), 1, "same")["cam"]
    cells = cam_raw.shape[-2] * cam_raw.shape[-1]
    expected = scale_cam_image(scale_cam_image(np.maximum(cam_raw.numpy(), 0) / cells, (16, 16)))
    with GradCAM(model, target_layers=[model.features]) as grad_cam:
        grad_cam_maps = grad_cam(input_tensor=x, targets=targets_for(classes))
    assert (cam_raw < 0).any() and (cam_raw > 0).any()
    np.testing.assert_allclose(grad_cam_maps, expected, atol=1e-5)


def test_no_targets_means_each_images_top_class(tiny):
    model, x = tiny
    with torch.no_grad():
        top = model.eval()(x).argmax(dim=1).tolist()
    with InfoCAMPlus(model, target_layers=[model.features], region=2) as cam:
        np.testing.assert_array_equal(cam(input_tensor=x), cam(input_tensor=x, targets=targets_for(top)))


def test_a_constant_map_becomes_zeros_not_nan(tiny):
    model, x = tiny
    nn.init.zeros_(model.fc.weight)
    with InfoCAM(model, target_layers=[model.features], region=2) as cam:
        maps = cam(input_tensor=x, targets=targets_for([0, 1]))
    assert np.array_equal(maps, np.zeros((2, 16, 16), dtype=np.float32))


def test_model_goes_to_eval_and_the_hook_is_released_on_exit(tiny):
    model, x = tiny
    model.train()
    with InfoCAM(model, target_layers=[model.features], region=2) as cam:
        assert not model.training
        assert len(model.features._forward_hooks) == 1
    assert len(model.features._forward_hooks) == 0
    with pytest.raises(RuntimeError, match="released"):
        cam(input_tensor=x)


@pytest.mark.parametrize("cam_class", [InfoCAM, InfoCAMPlus])
def test_torchvision_resnet50_gives_input_sized_maps_in_zero_one(cam_class):
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None, num_classes=10)
    x = torch.randn(2, 3, 64, 64)
    with cam_class(model, target_layers=[model.layer4[-1]], region=3) as cam:
        maps = cam(input_tensor=x, targets=targets_for([3, 7]))
    assert maps.shape == (2, 64, 64)
    assert maps.dtype == np.float32
    assert 0.0 <= maps.min() and maps.max() <= 1.0 and maps.max() - maps.min() > 0.5


@pytest.mark.parametrize("backbone, layer_name, settings", [
    ("resnet50", "layer4", {}),
    ("vgg16", "conv6", {"output_stride": 8}),
])
@pytest.mark.parametrize("geometry", ["full", "same"])
def test_raw_maps_match_the_pipelines_compute_cams(backbone, layer_name, settings, geometry):
    torch.manual_seed(0)
    model = build_model(backbone, 5, width=0.125, **settings).eval()
    layer = model.layer4[-1] if layer_name == "layer4" else model.conv6
    x = torch.randn(2, 3, 64, 64)
    y = torch.tensor([4, 1])
    with torch.no_grad():
        features, logits = model.features_and_logits(x)
        expected = compute_cams(features, model.classifier.weight, logits, y, 3, geometry)
    for cam_class, key in ((InfoCAM, "infocam"), (InfoCAMPlus, "infocam_plus")):
        with cam_class(model, target_layers=[layer], region=3, geometry=geometry) as cam:
            raw = cam.raw_maps(x, y.tolist())
        assert raw.shape == expected[key].shape
        assert torch.allclose(raw, expected[key], atol=1e-6)


def assert_one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as error:
        call()
    assert "\n" not in str(error.value)


def test_a_head_without_global_average_pooling_is_refused():
    torch.manual_seed(0)
    flatten_net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    cam = InfoCAM(flatten_net, target_layers=[flatten_net[0]], region=2)
    assert_one_line_value_error(lambda: cam(input_tensor=torch.randn(1, 3, 8, 8)),
                                "found no Linear layer with in_features=4")

    max_pool_net = TinyGAPNet(pool=nn.AdaptiveMaxPool2d(1))
    cam = InfoCAM(max_pool_net, target_layers=[max_pool_net.features], region=2)
    assert_one_line_value_error(lambda: cam(input_tensor=torch.randn(2, 3, 16, 16)),
                                r"found Linear\(in_features=6.*not fc\(mean of the target layer's output\) "
                                r"\(largest difference")


def test_a_given_fc_layer_that_does_not_fit_is_refused(tiny):
    model, x = tiny
    cam = InfoCAM(model, target_layers=[model.features], region=2, fc_layer=nn.Linear(6, 4))
    assert_one_line_value_error(lambda: cam(input_tensor=x), "logits are not fc")


def test_only_classifier_output_targets_are_accepted(tiny):
    model, x = tiny
    cam = InfoCAM(model, target_layers=[model.features], region=2)
    assert_one_line_value_error(lambda: cam(input_tensor=x, targets=[ClassifierOutputSoftmaxTarget(0)] * 2),
                                "only ClassifierOutputTarget")


def test_exactly_one_target_layer(tiny):
    model, _ = tiny
    assert_one_line_value_error(lambda: InfoCAM(model, target_layers=[model.features[0], model.features[2]], region=2),
                                "exactly one target layer")


def test_a_model_saved_as_a_pipeline_checkpoint_gives_the_same_maps(tmp_path):
    torch.manual_seed(0)
    settings = {"backbone": "vgg16", "width": 0.125, "adl": False, "adl_drop_rate": 0.75, "output_stride": 8}
    model = build_model("vgg16", 5, width=0.125, output_stride=8)
    path = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "settings": settings, "classes": list("abcde")}, path)
    loaded, _ = load_checkpoint_model(path, "cpu")
    x = torch.randn(2, 3, 64, 64)
    maps = []
    for network in (model, loaded):
        with InfoCAM(network, target_layers=[network.conv6], region=3) as cam:
            maps.append(cam(input_tensor=x, targets=targets_for([0, 4])))
    assert maps[0].shape == (2, 64, 64)
    np.testing.assert_array_equal(maps[0], maps[1])
