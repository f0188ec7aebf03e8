"""Published datasets, one module each; importing this package registers them all."""

from tasks.datasets.corpora import (  # noqa: F401
    audioset_instruments,
    ave,
    cityscapes,
    esc50,
    sonyc_ust,
    soundnet_flickr,
    tau2020_mobile,
    urbansound8k,
)
