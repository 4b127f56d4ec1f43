"""Print the package sources pip is configured with (index-url, extra-index-url, find-links, from
pip's config files and PIP_* variables) as uv options, so that `uv pip install` takes each
package from where `pip install` would. Prints nothing where pip has none configured."""

import ast
import subprocess
import sys

UV_OPTIONS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links"}


def configured_sources(listing):
    """(uv option, source) for each source in `pip config list` output, lines `scope.key='value'`."""
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        option = UV_OPTIONS.get(key.rsplit(".", 1)[-1])
        if option:
            for source in ast.literal_eval(value).split():
                yield option, source


def main():
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             check=True).stdout
    for option, source in dict.fromkeys(configured_sources(listing)):  # each once, in pip's order
        print(option, source)


if __name__ == "__main__":
    main()
