from setuptools import find_packages, setup

setup(
    name="literal-proj",
    version="0.1.0",
    packages=find_packages(),
    install_requires=[
        "numpy>=1.21",
        "torch==2.0.1",
        "tqdm",
    ],
    extras_require={
        "viz": ["matplotlib>=3.5"],
    },
)
