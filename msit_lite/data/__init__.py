"""Data: image I/O, dataset folders (DIV2K, Flickr2K, benchmark sets), the ASSR patch sampler,
resizing (PyTorch bicubic and MATLAB-compatible imresize) and downloads with checksums."""
