"""Reading a prepared folder for torch: split tables, boxes, classes, the Dataset and transforms."""

import numpy as np
import pytest
import torch
from PIL import Image

from infocam.data import images, prepare_dataset
from infocam.data.errors import DataFormatError
from infocam.data.synthetic import write_cub_archive


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    archive = folder / "cub.tgz"
    md5 = write_cub_archive(archive, n_classes=2, train_per_class=3, test_per_class=4, seed=3, min_size=40, max_size=56)
    prepare_dataset(archive, "cub", md5, folder / "cub")
    return folder / "cub"


def test_load_split_reads_ids_as_strings(prepared):
    table = images.load_split(prepared, "val")
    assert len(table) == 4 and table["image_id"].map(type).eq(str).all()
    assert table["label"].tolist() == sorted(table["label"].tolist())
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        images.load_split(prepared, "dev")


def test_load_boxes_groups_rows_by_image(tmp_path):
    (tmp_path / "boxes.csv").write_text("image_id,x0,y0,x1,y1\n7,1,2,3,4\n8,0,0,5,5\n7,10,10,20,30.5\n")
    boxes = images.load_boxes(tmp_path)
    assert set(boxes) == {"7", "8"}
    assert boxes["7"].dtype == float and boxes["7"].shape == (2, 4)
    np.testing.assert_array_equal(boxes["7"], [[1, 2, 3, 4], [10, 10, 20, 30.5]])


def test_load_classes_and_bad_tables(prepared, tmp_path):
    assert images.load_classes(prepared) == ["001.Red_headed_White_eyed_Bird", "002.Orange_headed_White_eyed_Bird"]
    (tmp_path / "classes.csv").write_text("label,name\n1,a\n0,b\n")
    with pytest.raises(DataFormatError, match="classes.csv: labels must be 0, 1, 2"):
        images.load_classes(tmp_path)
    (tmp_path / "boxes.csv").write_text("image_id,x0,y0\n1,2,3\n")
    with pytest.raises(DataFormatError, match="boxes.csv: missing columns x1, y1"):
        images.load_boxes(tmp_path)
    with pytest.raises(FileNotFoundError, match="train.csv"):
        images.load_split(tmp_path, "train")


def test_dataset_items_match_the_table(prepared):
    dataset = images.PreparedImages(prepared, "test")
    table = images.load_split(prepared, "test")
    assert len(dataset) == len(table) == 4
    tensor, label, index = dataset[1]
    assert (label, index) == (int(table["label"].iat[1]), 1)
    assert tensor.shape == (3, int(table["height"].iat[1]), int(table["width"].iat[1]))
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0


def test_eval_transform_gives_the_crop_size_and_imagenet_normalisation(prepared):
    test = images.PreparedImages(prepared, "test", images.eval_transform(40, 32))
    assert test[0][0].shape == (3, 32, 32)

    white = Image.new("RGB", (50, 30), (255, 255, 255))
    normalised = images.eval_transform(40, 32)(white)
    expected = (1 - torch.tensor(images.IMAGENET_MEAN)) / torch.tensor(images.IMAGENET_STD)
    torch.testing.assert_close(normalised[:, 0, 0], expected)


@pytest.mark.parametrize("size", [(50, 30), (257, 311), (128, 128), (64, 64), (17, 90)])
@pytest.mark.parametrize("resize, crop", [(256, 224), (128, 112), (64, 64), (41, 32)])
def test_eval_transform_equals_torchvisions_compose(size, resize, crop):
    from torchvision import transforms

    pixels = np.random.default_rng(sum(size) + resize).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    expected = transforms.Compose([transforms.Resize((resize, resize)), transforms.CenterCrop(crop),
                                   transforms.ToTensor(), transforms.Normalize(images.IMAGENET_MEAN,
                                                                                images.IMAGENET_STD)])(image)
    assert torch.equal(images.eval_transform(resize, crop)(image), expected)
    assert torch.equal(images.to_tensor(image), transforms.ToTensor()(image))


def test_an_eval_crop_larger_than_the_resize_is_refused():
    with pytest.raises(ValueError, match="expected 0 < crop <= resize, got resize=32, crop=40"):
        images.eval_transform(32, 40)


def test_a_truncated_image_is_one_line_naming_the_file(prepared, tmp_path):
    import shutil

    copy = tmp_path / "cub"
    shutil.copytree(prepared, copy)
    dataset = images.PreparedImages(copy, "train")
    path = copy / dataset.table["path"].iat[0]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataFormatError, match=rf"^{path}: cannot decode \("):
        dataset[0]
