"""The decoded-image cache and the batch augmentation: same bytes as the JPEG path, checked against
its prepared folder, written atomically; crops, flips and centre crops as torchvision makes them."""

import shutil

import pytest
import torch
from PIL import Image
from torchvision.transforms import functional as TF

from infocam.data import images, prepare_dataset
from infocam.data.decoded import (ResizedImages, augment_batch, check_decoded_cache, draw_crops,
                                  write_decoded_cache)
from infocam.data.errors import DataFormatError
from infocam.data.synthetic import write_cub_archive

RESIZE, CROP = 40, 32


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    archive = folder / "cub.tgz"
    md5 = write_cub_archive(archive, n_classes=2, train_per_class=3, test_per_class=4, seed=3, min_size=40, max_size=70)
    prepare_dataset(archive, "cub", md5, folder / "cub")
    write_decoded_cache(folder / "cub", RESIZE, folder / "decoded")
    return folder / "cub", folder / "decoded"


def test_the_cache_holds_the_bytes_the_jpeg_path_decodes(prepared):
    prepared_dir, cache = prepared
    for split in ("train", "val"):
        from_jpeg = ResizedImages(prepared_dir, split, RESIZE)
        from_cache = ResizedImages(prepared_dir, split, RESIZE, cache)
        assert len(from_cache) == len(from_jpeg) > 0
        for index in range(len(from_jpeg)):
            jpeg_image, label, _ = from_jpeg[index]
            cached_image, cached_label, _ = from_cache[index]
            assert jpeg_image.dtype == torch.uint8 and jpeg_image.shape == (3, RESIZE, RESIZE)
            assert torch.equal(jpeg_image, cached_image) and label == cached_label


def test_the_centre_crop_is_the_evaluation_transform(prepared):
    prepared_dir, cache = prepared
    dataset = ResizedImages(prepared_dir, "val", RESIZE, cache)
    batch = torch.stack([dataset[i][0] for i in range(len(dataset))])
    evaluated = images.PreparedImages(prepared_dir, "val", images.eval_transform(RESIZE, CROP))
    expected = torch.stack([evaluated[i][0] for i in range(len(evaluated))])
    torch.testing.assert_close(augment_batch(batch, CROP), expected, rtol=0, atol=1e-6)


def test_training_crops_and_flips_are_torchvisions(prepared):
    prepared_dir, cache = prepared
    dataset = ResizedImages(prepared_dir, "train", RESIZE, cache)
    batch = torch.stack([dataset[i][0] for i in range(len(dataset))])
    corners, flips = draw_crops(len(batch), RESIZE, CROP, torch.Generator().manual_seed(0))
    assert flips.any() and not flips.all() and len(set(map(tuple, corners.tolist()))) > 1
    augmented = augment_batch(batch, CROP, corners, flips)
    for image, (top, left), flip, result in zip(batch, corners.tolist(), flips, augmented):
        expected = TF.crop(image, top, left, CROP, CROP)
        expected = TF.hflip(expected) if flip else expected
        expected = TF.normalize(expected.float() / 255, images.IMAGENET_MEAN, images.IMAGENET_STD)
        torch.testing.assert_close(result, expected, rtol=0, atol=1e-6)


def test_a_cache_of_another_preparation_or_size_is_refused(prepared, tmp_path):
    prepared_dir, cache = prepared
    with pytest.raises(DataFormatError, match=r"cache.json: images resized to 40, training asks for 48"):
        check_decoded_cache(cache, prepared_dir, 48)
    changed = tmp_path / "cub"
    shutil.copytree(prepared_dir, changed)
    (changed / "manifest.csv").write_text((changed / "manifest.csv").read_text() + "extra.jpg,0\n")
    with pytest.raises(DataFormatError, match=r"cache.json: made from another version of"):
        check_decoded_cache(cache, changed, RESIZE)
    with pytest.raises(FileNotFoundError, match="build the decoded-image cache first"):
        check_decoded_cache(tmp_path / "none", prepared_dir, RESIZE)


def test_an_undecodable_image_leaves_no_cache_behind(prepared, tmp_path):
    prepared_dir, _ = prepared
    broken = tmp_path / "cub"
    shutil.copytree(prepared_dir, broken)
    first = broken / images.load_split(broken, "val")["path"].iat[0]
    first.write_bytes(first.read_bytes()[:100])
    with pytest.raises(DataFormatError, match=rf"^{first}: cannot decode"):
        write_decoded_cache(broken, RESIZE, tmp_path / "decoded")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cub"]


def test_decoding_uses_pils_bilinear_resize(tmp_path):
    path = tmp_path / "x.png"
    Image.radial_gradient("L").convert("RGB").save(path)
    from infocam.data.decoded import decode_resized

    expected = TF.pil_to_tensor(TF.resize(Image.open(path).convert("RGB"), [RESIZE, RESIZE]))
    assert torch.equal(torch.from_numpy(decode_resized(path, RESIZE)).permute(2, 0, 1), expected)
