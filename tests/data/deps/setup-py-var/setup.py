import os

import setuptools

HERE = os.path.dirname(__file__)

BASE = ["numpy>=1.21", "pyyaml"]
REQUIRED = BASE + [
    "torch>=2.6",
]
EXTRAS = {"dev": ["pytest"], "onnx": ["onnx>=1.14"]}


def read_long_description():
    with open(os.path.join(HERE, "README.md")) as handle:
        return handle.read()


if __name__ == "__main__":
    setuptools.setup(
        name="var-proj",
        long_description=read_long_description(),
        install_requires=REQUIRED,
        extras_require=EXTRAS,
        tests_require=[line.strip() for line in open("test-requirements.txt")],
    )
