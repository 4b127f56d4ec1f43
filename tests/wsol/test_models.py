"""Tests for infocam.wsol.models: shapes, width scaling, ADL, heads, parameter groups, weights loading."""

import hashlib

import pytest
import torch
import torchvision

from infocam.wsol import models
from infocam.wsol.geometry import class_map_side
from infocam.wsol.models import ADL, build_model, scaled_channels, sha256_matches_name

BACKBONES = ("vgg16", "resnet50")
SMALL = 0.125


def last_channels(backbone: str, width: float) -> int:
    return scaled_channels(1024, width) if backbone == "vgg16" else scaled_channels(512, width) * 4


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize(("size", "map_size"), [(224, 14), (64, 4)])
def test_feature_maps_have_output_stride_16(backbone, size, map_size):
    model = build_model(backbone, 7, width=SMALL).eval()
    with torch.no_grad():
        features, logits = model.features_and_logits(torch.randn(2, 3, size, size))
    assert features.shape == (2, last_channels(backbone, SMALL), map_size, map_size)
    assert logits.shape == (2, 7)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("output_stride", [16, 8])
def test_class_map_side_known_before_building_equals_the_networks(backbone, output_stride):
    """config.py checks infoCAM's region against class_map_side: it must be the real map's side."""
    model = build_model(backbone, 3, width=0.0625, output_stride=output_stride).eval()
    sides = {}
    with torch.no_grad():
        for crop in (32, 33, 40, 47, 64, 100, 112, 224):
            features, _ = model.features_and_logits(torch.zeros(1, 3, crop, crop))
            assert features.shape[-1] == features.shape[-2]
            sides[crop] = features.shape[-1]
    assert sides == {crop: class_map_side(backbone, crop, output_stride) for crop in sides}


def test_the_torch_free_geometry_knows_every_registered_backbone():
    from infocam.wsol import geometry, models

    assert set(geometry.BACKBONES) == set(models.BACKBONES)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_output_stride_8_doubles_the_map_with_the_same_weights(backbone):
    coarse = build_model(backbone, 7, width=SMALL).eval()
    fine = build_model(backbone, 7, width=SMALL, output_stride=8).eval()
    assert {k: v.shape for k, v in fine.state_dict().items()} == {k: v.shape for k, v in coarse.state_dict().items()}
    fine.load_state_dict(coarse.state_dict())
    with torch.no_grad():
        features = fine.feature_maps(torch.randn(1, 3, 112, 112))
    assert features.shape[-2:] == (14, 14)


def test_output_stride_other_than_16_or_8_is_refused():
    with pytest.raises(ValueError, match="output_stride must be one of 16, 8, got 4"):
        build_model("vgg16", 3, width=SMALL, output_stride=4)


def test_scaled_channels_rounds_to_multiples_of_8_with_a_floor():
    assert scaled_channels(512, 1.0) == 512
    assert scaled_channels(512, 0.125) == 64
    assert scaled_channels(64, 0.3) == 16  # 19.2 -> nearest multiple of 8
    assert scaled_channels(64, 0.01) == 8


def test_vgg_width_scales_every_conv():
    full = build_model("vgg16", 3)
    half = build_model("vgg16", 3, width=0.5)
    full_convs = [m.out_channels for m in full.modules() if isinstance(m, torch.nn.Conv2d)]
    half_convs = [m.out_channels for m in half.modules() if isinstance(m, torch.nn.Conv2d)]
    assert full_convs == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 1024]
    assert half_convs == [c // 2 for c in full_convs]
    assert (full.classifier.in_features, half.classifier.in_features) == (1024, 512)


def test_resnet_width_scales_and_full_width_matches_torchvision_layout():
    full = build_model("resnet50", 1000)
    half = build_model("resnet50", 1000, width=0.5)
    reference = torchvision.models.resnet50(weights=None).state_dict()
    assert {k: v.shape for k, v in full.state_dict().items()} == {k: v.shape for k, v in reference.items()}
    assert half.conv1.out_channels == 32
    assert half.layer4[0].conv1.out_channels == 256
    assert half.classifier.in_features == 1024
    assert full.layer4[0].conv2.stride == (1, 1)


@pytest.mark.parametrize("stride, downsampled", [(1, False), (2, True), (1, True)])
def test_our_bottleneck_is_torchvisions_weights_and_outputs(stride, downsampled):
    from torchvision.models.resnet import Bottleneck as TorchvisionBottleneck

    in_channels = 16 if downsampled else 32

    def block(kind):
        torch.manual_seed(0)
        downsample = torch.nn.Sequential(torch.nn.Conv2d(in_channels, 32, 1, stride=stride, bias=False),
                                         torch.nn.BatchNorm2d(32)) if downsampled else None
        return kind(in_channels, 8, stride, downsample).eval()

    ours, theirs = block(models.Bottleneck), block(TorchvisionBottleneck)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    x = torch.randn(2, in_channels, 12, 12)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_adl_is_identity_in_eval_mode():
    adl = ADL(drop_rate=1.0, threshold=0.5).eval()
    x = torch.rand(2, 3, 5, 5)
    assert torch.equal(adl(x), x)


def ramp() -> torch.Tensor:
    """4x4 map holding 0, 1/16, ..., 14/16 and then 1 (all exact in binary floating point)."""
    values = torch.arange(16, dtype=torch.float32) / 16
    values[15] = 1.0
    return values.reshape(4, 4)


def attention_ramp() -> torch.Tensor:
    """Two samples, 2 channels, 4x4, whose channel mean is ramp() (sample 0) and 3 * ramp() (sample 1)."""
    channels = torch.stack([ramp() * 0.5, ramp() * 1.5])
    return torch.stack([channels, channels * 3])


def test_adl_drop_mask_removes_exactly_the_positions_at_or_above_threshold_times_max():
    x = attention_ramp()
    out = ADL(drop_rate=1.0, threshold=0.5).train()(x)
    # Per-sample max of the mean is 1 (and 3), so the cells from 8/16 = 0.5 x max onwards go.
    keep = torch.ones(16)
    keep[8:] = 0
    keep = keep.reshape(1, 1, 4, 4)
    assert torch.equal(out, x * keep)


def test_adl_importance_map_multiplies_by_sigmoid_of_channel_mean():
    x = attention_ramp()
    out = ADL(drop_rate=0.0, threshold=0.5).train()(x)
    importance = torch.stack([torch.sigmoid(ramp()), torch.sigmoid(3 * ramp())]).unsqueeze(1)
    torch.testing.assert_close(out, x * importance)


def test_adl_draws_are_reproducible_from_torch_seed_and_use_both_branches():
    adl = ADL(drop_rate=0.5, threshold=0.75).train()
    x = attention_ramp()

    def draws():
        torch.manual_seed(3)
        return [bool(adl(x)[0, 0, 3, 3] == 0) for _ in range(30)]  # the peak is zeroed only by the drop mask

    first = draws()
    assert first == draws()
    assert 0 < sum(first) < 30


@pytest.mark.parametrize("backbone", BACKBONES)
def test_adl_model_in_eval_equals_model_without_adl(backbone):
    with_adl = build_model(backbone, 4, width=SMALL, adl=True).eval()
    without = build_model(backbone, 4, width=SMALL).eval()
    without.load_state_dict(with_adl.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(with_adl(x), without(x))
    with_adl.train()
    torch.manual_seed(0)
    with torch.no_grad():
        assert not torch.allclose(with_adl(x), without(x))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_logits_are_gap_of_feature_maps_through_the_classifier(backbone):
    model = build_model(backbone, 5, width=SMALL).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        features, logits = model.features_and_logits(x)
        pooled = features.mean(dim=(2, 3))
        expected = pooled @ model.classifier.weight.T + model.classifier.bias
        torch.testing.assert_close(logits, expected)
        torch.testing.assert_close(model(x), logits)
    assert isinstance(model.classifier, torch.nn.Linear)
    assert model.classifier.weight.shape == (5, features.shape[1])


@pytest.mark.parametrize("backbone", BACKBONES)
def test_parameter_groups_are_disjoint_and_cover_everything(backbone):
    model = build_model(backbone, 5, width=SMALL)
    backbone_params, classifier_params = model.parameter_groups()
    backbone_ids = {id(p) for p in backbone_params}
    classifier_ids = {id(p) for p in classifier_params}
    assert not backbone_ids & classifier_ids
    assert backbone_ids | classifier_ids == {id(p) for p in model.parameters()}
    assert len(backbone_ids) + len(classifier_ids) == len(list(model.parameters()))
    assert id(model.classifier.weight) in classifier_ids
    if backbone == "vgg16":
        assert id(model.conv6[0].weight) in classifier_ids
        assert all(id(p) in backbone_ids for p in model.features.parameters())
    else:
        assert all(id(p) in classifier_ids for p in model.layer4.parameters())
        assert all(id(p) in backbone_ids for p in model.layer3.parameters())


@pytest.mark.parametrize("backbone", BACKBONES)
def test_channels_last_and_bfloat16_autocast_forward_backward(backbone):
    torch.manual_seed(0)
    model = build_model(backbone, 5, width=SMALL, adl=True).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64).to(memory_format=torch.channels_last)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        features, logits = model.features_and_logits(x)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3]))
    loss.backward()
    assert logits.dtype == torch.bfloat16
    assert features.shape[-2:] == (4, 4)
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.classifier.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("backbone", BACKBONES)
def test_channels_last_input_gives_the_same_logits(backbone):
    model = build_model(backbone, 5, width=SMALL).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x.to(memory_format=torch.channels_last)), model(x), rtol=1e-4, atol=1e-5)


def test_pretrained_vgg16_loads_the_13_conv_layers(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    reference = torchvision.models.vgg16(weights=None)
    weights_file = checkpoints / "vgg16-397923af.pth"
    torch.save(reference.state_dict(), weights_file)

    model = build_model("vgg16", 11, pretrained=True)
    weights_file.unlink()  # 528 MB; do not keep it in pytest's retained tmp dirs

    reference_convs = [m for m in reference.features if isinstance(m, torch.nn.Conv2d)]
    model_convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert len(model_convs) == 13
    for ours, theirs in zip(model_convs, reference_convs):
        assert torch.equal(ours.weight, theirs.weight)
        assert torch.equal(ours.bias, theirs.bias)
    assert model.classifier.weight.shape == (11, 1024)
    # 13 convs x (weight, bias); a file saved here is not torchvision's, so its SHA-256 does not match its name
    assert model.imagenet_weights == {"file": str(weights_file), "tensors": 26, "sha256_matches": False}


def test_pretrained_resnet50_loads_everything_but_fc(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    reference = torchvision.models.resnet50(weights=None)
    with torch.no_grad():
        reference.bn1.running_mean.uniform_()  # a buffer that differs from a fresh model's
    torch.save(reference.state_dict(), checkpoints / "resnet50-0676ba61.pth")

    model = build_model("resnet50", 6, pretrained=True)

    ours, theirs = model.state_dict(), reference.state_dict()
    for key, value in theirs.items():
        if not key.startswith("fc."):
            assert torch.equal(ours[key], value), key
    assert ours["fc.weight"].shape == (6, 2048)
    assert model.imagenet_weights["tensors"] == len(theirs) - 2  # all but fc.weight and fc.bias


def test_pretrained_file_of_the_wrong_network_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    weights_file = checkpoints / "resnet50-0676ba61.pth"
    torch.save(build_model("vgg16", 3, width=SMALL).state_dict(), weights_file)
    with pytest.raises(ValueError, match="resnet50-0676ba61.pth: not a torchvision resnet50"):
        build_model("resnet50", 6, pretrained=True)


def test_unreadable_weights_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "vgg16-397923af.pth").write_bytes(b"truncated download")
    with pytest.raises(ValueError, match="vgg16-397923af.pth: not a readable PyTorch weights file"):
        build_model("vgg16", 3, pretrained=True)


@pytest.mark.parametrize(("backbone", "file_name"), [("vgg16", "vgg16-397923af.pth"),
                                                     ("resnet50", "resnet50-0676ba61.pth")])
def test_missing_weights_say_what_to_fetch_and_where(tmp_path, monkeypatch, backbone, file_name):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        build_model(backbone, 3, pretrained=True)
    message = str(error.value)
    assert "\n" not in message
    assert file_name in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert f"https://download.pytorch.org/models/{file_name}" in message
    assert "TORCH_HOME" in message


def test_a_weight_file_is_checked_against_the_sha256_digits_in_its_name(tmp_path):
    content = b"weights"
    digits = hashlib.sha256(content).hexdigest()[:8]
    named_right, named_wrong = tmp_path / f"net-{digits}.pth", tmp_path / "net-00000000.pth"
    named_right.write_bytes(content)
    named_wrong.write_bytes(content)
    assert sha256_matches_name(str(named_right))
    assert not sha256_matches_name(str(named_wrong))
    assert models.BACKBONES["vgg16"].imagenet_sha256_prefix == "397923af"
    assert models.BACKBONES["resnet50"].imagenet_url == "https://download.pytorch.org/models/resnet50-0676ba61.pth"


def test_pretrained_needs_full_width():
    with pytest.raises(ValueError, match="pretrained weights need width 1.0"):
        build_model("resnet50", 3, width=0.5, pretrained=True)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"backbone": "alexnet", "num_classes": 3}, "backbone must be one of vgg16, resnet50"),
    ({"backbone": "vgg16", "num_classes": 0}, "num_classes"),
    ({"backbone": "vgg16", "num_classes": 3, "width": 0}, "width"),
    ({"backbone": "vgg16", "num_classes": 3, "adl": True, "adl_drop_rate": 1.5}, "drop_rate"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(**kwargs)
